//! The order in which instances are killed when there are too many
//! (Marathon's `ScalingProposition.sortByConditionAndDate`).

use crate::{Condition, Instance, KillSelection};
use std::cmp::Ordering;

/// Kill order: Unreachable → Staging → Starting → Running → everything else. Ties go by
/// `selection`: two Staging or two Starting instances compare `staged_at`; others compare
/// `started_at`, an instance that never started going first; then `staged_at`; then id.
pub fn kill_order(a: &Instance, b: &Instance, selection: KillSelection) -> Ordering {
    a.condition
        .kill_weight()
        .cmp(&b.condition.kill_weight())
        .then_with(|| by_date(a, b, selection))
        .then_with(|| select(a.staged_at, b.staged_at, selection))
        .then_with(|| a.id.cmp(&b.id))
}

/// `instances` sorted so the first one is the first to kill.
pub fn sorted_for_kill(mut instances: Vec<&Instance>, selection: KillSelection) -> Vec<&Instance> {
    instances.sort_by(|a, b| kill_order(a, b, selection));
    instances
}

fn by_date(a: &Instance, b: &Instance, selection: KillSelection) -> Ordering {
    let staging = |i: &Instance| matches!(i.condition, Condition::Staging | Condition::Starting);
    if staging(a) && staging(b) {
        return select(a.staged_at, b.staged_at, selection);
    }
    match (a.started_at, b.started_at) {
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => select(x, y, selection),
        (None, None) => Ordering::Equal,
    }
}

/// Youngest first puts the later time first; oldest first the earlier.
fn select(a: f64, b: f64, selection: KillSelection) -> Ordering {
    match selection {
        KillSelection::YoungestFirst => b.total_cmp(&a),
        KillSelection::OldestFirst => a.total_cmp(&b),
    }
}
