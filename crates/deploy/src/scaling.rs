//! Marathon's `ScalingProposition`: which counted instances to kill, and how many to start,
//! to reach a target count.

use crate::Instance;
use crate::KillSelection;
use crate::kill_order::sorted_for_kill;

/// What it takes to go from the counted instances to `scale_to`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScalingProposition<'a> {
    /// In kill order: instances named for killing first (by id), then the rest.
    pub kill: Vec<&'a Instance>,
    pub start: u32,
}

/// `counted` must hold only instances that count toward `instances`; `sentenced` names
/// instances to kill whatever the count (kill-and-scale). Kills
/// `max(counted - scale_to, sentenced)` and starts `scale_to - counted + killed`.
pub(crate) fn propose<'a>(
    counted: &[&'a Instance],
    sentenced: &[String],
    scale_to: u32,
    selection: KillSelection,
) -> ScalingProposition<'a> {
    let (mut named, rest): (Vec<&Instance>, Vec<&Instance>) =
        counted.iter().partition(|i| sentenced.contains(&i.id));
    named.sort_by(|a, b| a.id.cmp(&b.id));
    let surplus = counted.len().saturating_sub(to_usize(scale_to));
    let decommission = surplus.max(named.len());
    let kill: Vec<&Instance> = named
        .into_iter()
        .chain(sorted_for_kill(rest, selection))
        .take(decommission)
        .collect();
    let start = to_usize(scale_to) + decommission - counted.len();
    ScalingProposition {
        kill,
        start: to_u32(start),
    }
}

pub(crate) fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
