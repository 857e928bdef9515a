//! Unreachable instances (Marathon's `unreachableStrategy`): when to replace them, when to
//! forget them, and when to kill one that came back after it was replaced.

use crate::census::Census;
use crate::{Condition, Goal, Instance, RunSpec};
use serde::{Deserialize, Serialize};

/// What unreachable handling asks for now.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UnreachableActions {
    /// Set the condition to UnreachableInactive: replaced, no longer counted.
    pub mark_inactive: Vec<String>,
    /// Forget these instances; kill their tasks if they ever report again.
    pub expunge: Vec<String>,
    /// Came back after being replaced and `expunge_after` has passed: kill (goal
    /// Decommissioned).
    pub kill: Vec<String>,
    /// When a deadline above falls due, if one is pending.
    pub next_wakeup: Option<f64>,
}

/// Unreachable handling for one run spec, to run for every run spec, inside deployments
/// too (`reconcile` includes it). With `Enabled { inactive_after, expunge_after }`, from
/// the unreachable report: after `inactive_after` mark inactive (so a replacement is
/// launched), after `expunge_after` expunge; a replaced instance that is reachable again
/// is killed once `expunge_after` has passed ("2 of 1" until then). `{0, 0}` replaces at
/// once. `Disabled` waits. Instances already told to go that are unreachable are
/// expunged, whatever the strategy.
pub fn handle_unreachable(spec: &RunSpec, instances: &[Instance], now: f64) -> UnreachableActions {
    let c = Census::new(spec, now);
    let mut out = UnreachableActions::default();
    for i in instances.iter().filter(|i| i.run_spec == spec.id) {
        if i.condition.is_terminal() {
            continue;
        }
        if i.goal != Goal::Running {
            if i.condition.is_unreachable() {
                out.expunge.push(i.id.clone());
            }
            continue;
        }
        if let Some((inactive, expunge)) = spec.unreachable.deadlines() {
            let since = c.unreachable_since(i);
            judge(&c, i, since + inactive, since + expunge, &mut out);
        }
    }
    out
}

fn judge(
    c: &Census,
    i: &Instance,
    inactive_at: f64,
    expunge_at: f64,
    out: &mut UnreachableActions,
) {
    let now = c.now;
    let id = i.id.clone();
    match i.condition {
        Condition::Unreachable if now >= expunge_at => out.expunge.push(id),
        Condition::Unreachable if now >= inactive_at => {
            out.mark_inactive.push(id);
            wake(out, expunge_at);
        }
        Condition::Unreachable => wake(out, inactive_at),
        Condition::UnreachableInactive if now >= expunge_at => out.expunge.push(id),
        Condition::UnreachableInactive => wake(out, expunge_at),
        _ if c.replaced(i) && now >= expunge_at => out.kill.push(id),
        _ if c.replaced(i) => wake(out, expunge_at),
        _ => {}
    }
}

fn wake(out: &mut UnreachableActions, at: f64) {
    out.next_wakeup = Some(out.next_wakeup.map_or(at, |w| w.min(at)));
}
