//! Executing one deployment action: from the run spec and its current instances, what to
//! kill, expunge and launch now, and whether the action is done. Stateless and
//! idempotent, so the service can call it on every instance change and on every tick.

use crate::census::Census;
use crate::restart::restart;
use crate::scaling::propose;
use crate::{Action, DeployError, Goal, Instance, RunSpec, Verb};
use serde::{Deserialize, Serialize};

/// What to do now for one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Instances to kill now: set their goal to `kill_goal`, mark them Killing, send kills.
    pub kill: Vec<String>,
    /// Instances to forget now: unreachable instances that must go (a kill cannot reach
    /// them; Marathon expunges them). Kill their tasks if they ever report again.
    pub expunge: Vec<String>,
    /// The goal for killed instances: Decommissioned, or Stopped for the old instances of a
    /// resident run spec's restart (the reservation is kept).
    pub kill_goal: Goal,
    /// New instances of the run spec's `config_version` to create now, as Provisioned.
    pub launch: u32,
    /// The action is finished; the kills, expunges and launches above still apply.
    pub done: bool,
}

impl Progress {
    pub(crate) fn new(kill: Vec<String>, expunge: Vec<String>, launch: u32, done: bool) -> Self {
        Progress {
            kill,
            expunge,
            kill_goal: Goal::Decommissioned,
            launch,
            done,
        }
    }
}

/// The next moves of `action`.
///
/// `spec` is the action's run spec in the plan's target (`None` for Stop); `instances`
/// may hold instances of any run spec (others are ignored); the service must record a
/// kill (goal, Killing) and a launch (a Provisioned instance) before calling again, and
/// then the same inputs ask for nothing more.
///
/// * Start: done at once (the run spec starts at 0 instances).
/// * Stop: kill every instance, done when none is left.
/// * Scale: Marathon's scaling proposition towards `spec.instances`, done when exactly
///   that many count and all are running, healthy and ready.
/// * Restart: Marathon's rolling restart (see `restart.rs`), done when `spec.instances`
///   new instances are running, healthy and ready and no old one is left.
///
/// # Errors
/// [`DeployError::MissingRunSpec`] when a Scale or Restart gets no run spec.
pub fn advance(
    action: &Action,
    spec: Option<&RunSpec>,
    instances: &[Instance],
    now: f64,
) -> Result<Progress, DeployError> {
    let mine: Vec<&Instance> = instances
        .iter()
        .filter(|i| i.run_spec == action.run_spec)
        .collect();
    let need = || {
        spec.ok_or_else(|| DeployError::MissingRunSpec {
            id: action.run_spec.clone(),
            action: action.kind.as_str(),
        })
    };
    match action.kind.verb() {
        Verb::Start => Ok(Progress::new(Vec::new(), Vec::new(), 0, true)),
        Verb::Stop => Ok(stop(&mine)),
        Verb::Scale => Ok(scale(action, need()?, &mine, now)),
        Verb::Restart => Ok(restart(need()?, &mine, now)),
    }
}

fn stop(mine: &[&Instance]) -> Progress {
    let doomed = mine
        .iter()
        .copied()
        .filter(|i| i.goal == Goal::Running && !i.condition.is_terminal());
    let (kill, mut expunge) = split_kills(doomed);
    expunge.extend(stale(mine));
    let done = mine.iter().all(|i| i.is_gone());
    Progress::new(kill, expunge, 0, done)
}

fn scale(action: &Action, spec: &RunSpec, mine: &[&Instance], now: f64) -> Progress {
    let census = Census::new(spec, now);
    let counted: Vec<&Instance> = mine.iter().copied().filter(|i| census.counts(i)).collect();
    let proposal = propose(
        &counted,
        &action.sentenced,
        spec.instances,
        spec.kill_selection,
    );
    let done = proposal.kill.is_empty()
        && proposal.start == 0
        && counted.iter().all(|i| census.serving(i))
        && !mine.iter().any(|i| census.lingering(i));
    let (kill, mut expunge) = split_kills(proposal.kill);
    expunge.extend(stale(mine));
    Progress::new(kill, expunge, proposal.start, done)
}

/// Splits instances to get rid of into (kill, expunge): unreachable ones are expunged.
pub(crate) fn split_kills<'a>(
    doomed: impl IntoIterator<Item = &'a Instance>,
) -> (Vec<String>, Vec<String>) {
    let (unreachable, reachable): (Vec<&Instance>, Vec<&Instance>) = doomed
        .into_iter()
        .partition(|i| i.condition.is_unreachable());
    (ids(reachable), ids(unreachable))
}

/// Instances told to go that became unreachable: only expunging gets rid of them.
pub(crate) fn stale(mine: &[&Instance]) -> Vec<String> {
    mine.iter()
        .filter(|i| i.goal != Goal::Running && i.condition.is_unreachable())
        .map(|i| i.id.clone())
        .collect()
}

fn ids(instances: Vec<&Instance>) -> Vec<String> {
    instances.into_iter().map(|i| i.id.clone()).collect()
}
