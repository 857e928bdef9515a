//! Steady state outside deployments: keep exactly `instances` instances that count,
//! replacing the ones that ended (subject to backoff) or were replaced as unreachable,
//! and killing extras in kill order.

use crate::advance::split_kills;
use crate::census::Census;
use crate::scaling::propose;
use crate::unreachable::handle_unreachable;
use crate::{BackoffState, Goal, Instance, RunSpec};
use serde::{Deserialize, Serialize};

/// What to do now for one run spec that no running deployment holds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Reconcile {
    /// New instances of the run spec's `config_version` to create now, as Provisioned.
    pub launch: u32,
    /// Kill now, with goal Decommissioned.
    pub kill: Vec<String>,
    /// Forget now: ended instances, and unreachable ones past `expunge_after` or told to go.
    pub expunge: Vec<String>,
    /// Set the condition to UnreachableInactive.
    pub mark_inactive: Vec<String>,
    /// Call again at this time (backoff ends, an unreachable deadline), if needed.
    pub next_wakeup: Option<f64>,
}

/// The steady-state moves for `spec` (call it on every instance change and on a timer,
/// and at `next_wakeup`). Idempotent once the service has applied the previous answer.
///
/// Counted instances (goal Running, not ended, not being killed, not replaced as
/// unreachable) are brought to `spec.instances`: extras are killed in kill order, a
/// shortfall is launched when `backoff.ready(now)`. Ended instances are expunged, except
/// a resident run spec's instances whose goal is not Decommissioned (they keep their
/// reservation). Unreachable handling is [`handle_unreachable`]'s.
pub fn reconcile(
    spec: &RunSpec,
    instances: &[Instance],
    backoff: &BackoffState,
    now: f64,
) -> Reconcile {
    let c = Census::new(spec, now);
    let mine: Vec<&Instance> = instances.iter().filter(|i| i.run_spec == spec.id).collect();
    let unreachable = handle_unreachable(spec, instances, now);
    let counted: Vec<&Instance> = mine.iter().copied().filter(|i| c.counts(i)).collect();
    let proposal = propose(&counted, &[], spec.instances, spec.kill_selection);
    let (mut kill, surplus_expunge) = split_kills(proposal.kill);
    kill.extend(unreachable.kill);

    let mut expunge = unreachable.expunge;
    expunge.extend(surplus_expunge);
    expunge.extend(ended(spec, &mine));

    let held_back = proposal.start > 0 && !backoff.ready(now);
    let launch = if held_back { 0 } else { proposal.start };
    let backoff_wakeup = held_back.then_some(backoff.next_launch_at);
    Reconcile {
        launch,
        kill,
        expunge,
        mark_inactive: unreachable.mark_inactive,
        next_wakeup: earliest(unreachable.next_wakeup, backoff_wakeup),
    }
}

fn ended(spec: &RunSpec, mine: &[&Instance]) -> Vec<String> {
    mine.iter()
        .filter(|i| i.condition.is_terminal())
        .filter(|i| !spec.resident || i.goal == Goal::Decommissioned)
        .map(|i| i.id.clone())
        .collect()
}

fn earliest(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}
