//! The rolling restart (Marathon's `TaskReplaceActor` and `computeRestartStrategy`),
//! evaluated afresh from the instances on every call.
//!
//! With `n = instances` and `H` = instances with goal Running that are healthy (new ones
//! must also be ready):
//!
//! ```text
//! minHealthy  = ceil(n * minimumHealthCapacity)
//! maxCapacity = floor(n * (1 + maximumOverCapacity))
//! killNow     = max(0, H - minHealthy)
//! if minHealthy == maxCapacity && maxCapacity <= H:
//!     resident: killNow = H - minHealthy + 1      (one below, never over capacity)
//!     else:     maxCapacity += 1                  (one extra so the roll can start)
//! ```
//!
//! Old instances (launched with another `config_version`) still counted are killed
//! unhealthy first, then healthy in kill order. Marathon kills `killNow` at the start and
//! one more per new instance that turns healthy and ready; recomputing `killNow` on every
//! call gives exactly that for healthy old instances (each new ready one raises `H` by
//! one), and since killing an unhealthy instance never lowers `H`, all unhealthy old
//! instances go as soon as `killNow > 0` — the state Marathon's own recomputation after a
//! leader change converges to. Old instances above `n` are killed as well (Marathon's
//! `currentInstances > n` rule). New instances are launched up to
//! `maxCapacity - oldAlive - startedNew`, never beyond `n`.
//!
//! With `n = 0` Marathon declares the restart done at once and leaves the old instances to
//! its periodic scale check; here they are killed by the restart itself (same end state).

use crate::advance::{Progress, split_kills, stale};
use crate::census::Census;
use crate::kill_order::sorted_for_kill;
use crate::scaling::{propose, to_u32, to_usize};
use crate::{Goal, Instance, RunSpec};

/// Marathon's restart strategy for the current healthy count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Strategy {
    max_capacity: usize,
    kill_now: usize,
}

fn strategy(spec: &RunSpec, healthy: usize) -> Strategy {
    let n = f64::from(spec.instances);
    let min_hc = spec.upgrade.minimum_health_capacity.clamp(0.0, 1.0);
    let max_oc = spec.upgrade.maximum_over_capacity.max(0.0);
    let min_healthy = (n * min_hc).ceil() as usize;
    let mut max_capacity = (n * (1.0 + max_oc)).floor() as usize;
    let mut kill_now = healthy.saturating_sub(min_healthy);
    if min_healthy == max_capacity && max_capacity <= healthy {
        if spec.resident {
            kill_now = healthy - min_healthy + 1;
        } else {
            max_capacity += 1;
        }
    }
    Strategy {
        max_capacity,
        kill_now,
    }
}

pub(crate) fn restart(spec: &RunSpec, mine: &[&Instance], now: f64) -> Progress {
    let c = Census::new(spec, now);
    let n = to_usize(spec.instances);
    let (new, old): (Vec<&Instance>, Vec<&Instance>) = mine
        .iter()
        .partition(|i| i.config_version == spec.config_version);
    let healthy = old.iter().filter(|i| c.counts(i) && c.healthy(i)).count()
        + new.iter().filter(|i| c.serving(i)).count();
    let s = strategy(spec, healthy);

    let new_counted: Vec<&Instance> = new.iter().copied().filter(|i| c.counts(i)).collect();
    let surplus_new = propose(&new_counted, &[], spec.instances, spec.kill_selection).kill;
    let started = new_counted.len() - surplus_new.len();
    let doomed = old_kills(&c, &old, s.kill_now, n)
        .into_iter()
        .chain(replaced_old(&c, &old))
        .chain(surplus_new);
    let (kill, mut expunge) = split_kills(doomed);
    expunge.extend(stale(mine));

    // Expunged instances are gone at once; killed ones hold capacity until they end.
    let old_alive = old
        .iter()
        .filter(|i| !i.is_gone() && !c.replaced(i) && !expunge.contains(&i.id))
        .count();
    let room = s.max_capacity.saturating_sub(old_alive + started);
    let launch = n.saturating_sub(started).min(room);
    let done = finished(&c, &old, &new, n);
    let mut progress = Progress::new(kill, expunge, to_u32(launch), done);
    if spec.resident {
        progress.kill_goal = Goal::Stopped;
    }
    progress
}

/// Every old instance gone, exactly `n` new ones counted, all of them serving.
fn finished(c: &Census, old: &[&Instance], new: &[&Instance], n: usize) -> bool {
    let counted: Vec<&&Instance> = new.iter().filter(|i| c.counts(i)).collect();
    old.iter().all(|i| i.is_gone())
        && counted.len() == n
        && counted.iter().all(|i| c.serving(i))
        && !new.iter().any(|i| c.lingering(i))
}

/// The counted old instances to kill now (see the module doc).
fn old_kills<'a>(c: &Census, old: &[&'a Instance], kill_now: usize, n: usize) -> Vec<&'a Instance> {
    let counted: Vec<&Instance> = old.iter().copied().filter(|i| c.counts(i)).collect();
    let over = counted.len().saturating_sub(n);
    let (healthy, unhealthy): (Vec<&Instance>, Vec<&Instance>) =
        counted.into_iter().partition(|i| c.healthy(i));
    let selection = c.spec.kill_selection;
    let healthy = sorted_for_kill(healthy, selection);
    let unhealthy = sorted_for_kill(unhealthy, selection);
    if kill_now > 0 {
        let healthy_kills = kill_now.max(healthy.len().saturating_sub(n));
        unhealthy
            .into_iter()
            .chain(healthy.into_iter().take(healthy_kills))
            .collect()
    } else {
        unhealthy.into_iter().chain(healthy).take(over).collect()
    }
}

/// Old instances replaced because they were unreachable: never needed again.
fn replaced_old<'a>(c: &Census, old: &[&'a Instance]) -> Vec<&'a Instance> {
    old.iter()
        .copied()
        .filter(|i| i.goal == Goal::Running && !i.condition.is_terminal() && c.replaced(i))
        .collect()
}
