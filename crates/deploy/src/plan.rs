//! Deployment plans: the diff of two root groups as ordered steps (Marathon's
//! `DeploymentPlan.apply`), the rollback plan of `DELETE /v2/deployments/{id}`, and the
//! lock check between plans.

use crate::graph::DependencyGraph;
use crate::{Action, ActionKind, DeployError, RootGroup, RunSpec, RunSpecKind, Step, Verb};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The steps that take the cluster from `original` to `target`. Steps run one after
/// another; the actions of a step run in parallel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentPlan {
    pub id: String,
    pub version: String,
    pub original: RootGroup,
    pub target: RootGroup,
    pub steps: Vec<Step>,
}

impl DeploymentPlan {
    /// Ids of every run spec some action touches, sorted; a run spec may be in at most
    /// one running deployment.
    pub fn affected(&self) -> Vec<String> {
        let mut ids: Vec<&str> = self.actions().map(|a| a.run_spec.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().map(str::to_string).collect()
    }

    /// True when some action touches run spec `id` (`affected` contains it).
    pub fn affects(&self, id: &str) -> bool {
        self.actions().any(|a| a.run_spec == id)
    }

    /// `affectedApps` of the deployment JSON.
    pub fn affected_apps(&self) -> Vec<String> {
        self.affected_of(RunSpecKind::App)
    }

    /// `affectedPods` of the deployment JSON.
    pub fn affected_pods(&self) -> Vec<String> {
        self.affected_of(RunSpecKind::Pod)
    }

    /// True when the two plans touch a common run spec.
    pub fn is_affected_by(&self, other: &DeploymentPlan) -> bool {
        let mine: BTreeSet<&str> = self.actions().map(|a| a.run_spec.as_str()).collect();
        other.actions().any(|a| mine.contains(a.run_spec.as_str()))
    }

    /// A plan with no steps changes nothing (Marathon still reports it as a deployment).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Names the instances each Scale action must kill whatever the count, keyed by run
    /// spec id (kill-and-scale: `/v2/tasks/delete?scale=true`, `DELETE ...?scale=true`).
    pub fn with_sentenced(mut self, kills: &BTreeMap<String, Vec<String>>) -> DeploymentPlan {
        for action in self.steps.iter_mut().flat_map(|s| s.actions.iter_mut()) {
            if action.kind.verb() == Verb::Scale
                && let Some(ids) = kills.get(&action.run_spec)
            {
                action.sentenced = ids.clone();
            }
        }
        self
    }

    /// `current` with this plan's changes undone (Marathon's `DeploymentPlanReverter`):
    /// every run spec the plan changed gets its original definition back, every run spec
    /// it added is removed. Changes made since by other deployments stay.
    pub fn revert(&self, current: &RootGroup) -> RootGroup {
        let mut reverted = current.clone();
        let ids: BTreeSet<&String> = self
            .original
            .run_specs
            .keys()
            .chain(self.target.run_specs.keys())
            .collect();
        for id in ids {
            let (old, new) = (self.original.get(id), self.target.get(id));
            match (old, new) {
                (Some(old), _) if Some(old) != new => {
                    reverted.run_specs.insert(id.clone(), old.clone());
                }
                (None, Some(_)) => {
                    reverted.run_specs.remove(id);
                }
                _ => {}
            }
        }
        reverted
    }

    fn actions(&self) -> impl Iterator<Item = &Action> {
        self.steps.iter().flat_map(|s| s.actions.iter())
    }

    fn affected_of(&self, kind: RunSpecKind) -> Vec<String> {
        self.actions()
            .filter(|a| a.kind.run_spec_kind() == kind)
            .map(|a| a.run_spec.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

impl fmt::Display for DeploymentPlan {
    /// One line per step: `<n>. <Action> <id>, <Action> <id>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, step) in self.steps.iter().enumerate() {
            let actions: Vec<String> = step.actions.iter().map(Action::to_string).collect();
            writeln!(f, "{}. {}", n + 1, actions.join(", "))?;
        }
        Ok(())
    }
}

/// The plan from `original` to `target` (Marathon's `DeploymentPlan.apply`):
///
/// 1. one step stopping every run spec missing from the target;
/// 2. one step starting every new run spec (at 0 instances);
/// 3. the added or changed run specs grouped by the length of their longest dependency
///    path in the target, shortest first, one step per length. A new run spec gets Scale
///    (to `instances`); a change of `instances` alone (same `config_version`) gets Scale;
///    another `config_version`, or an id in `restart`, gets Restart. A run spec whose
///    `config_version` and `instances` are unchanged (a version-only change) gets nothing.
///
/// Empty steps are dropped; actions within a step are sorted by run spec id. The plan's
/// `original` and `target` hold only the run specs that differ between the two.
///
/// # Errors
/// [`DeployError::DependencyCycle`] when the target's dependencies form a cycle;
/// [`DeployError::RestartWithoutNewConfig`] when `restart` names a run spec whose
/// `config_version` did not change.
pub fn plan(
    original: &RootGroup,
    target: &RootGroup,
    restart: &BTreeSet<String>,
    id: String,
    version: String,
) -> Result<DeploymentPlan, DeployError> {
    let levels = DependencyGraph::new(target).levels()?;
    check_restarts(original, target, restart)?;
    let mut steps = vec![stop_step(original, target), start_step(original, target)];
    steps.extend(dependency_steps(original, target, restart, &levels));
    steps.retain(|s| !s.actions.is_empty());
    let (original, target) = differing(original, target);
    Ok(DeploymentPlan {
        id,
        version,
        original,
        target,
        steps,
    })
}

/// The parts of `original` and `target` that differ. A run spec the two share unchanged
/// gets no action and nothing to revert, so a plan keeps only the others: a deployment
/// record stays small however many run specs the root group holds.
fn differing(original: &RootGroup, target: &RootGroup) -> (RootGroup, RootGroup) {
    let keep = |from: &RootGroup, other: &RootGroup| RootGroup {
        run_specs: from
            .run_specs
            .iter()
            .filter(|(id, spec)| other.get(id) != Some(*spec))
            .map(|(id, spec)| (id.clone(), spec.clone()))
            .collect(),
    };
    (keep(original, target), keep(target, original))
}

/// The plan that undoes `plan` from the `current` root group, for
/// `DELETE /v2/deployments/{id}` without `force`: `plan(current, plan.revert(current))`.
/// Its `target` holds the definitions to restore (a run spec it lacks but the plan
/// affects is to be removed).
///
/// # Errors
/// [`DeployError::DependencyCycle`] when the reverted root group has a cycle.
pub fn rollback(
    plan: &DeploymentPlan,
    current: &RootGroup,
    id: String,
    version: String,
) -> Result<DeploymentPlan, DeployError> {
    let reverted = plan.revert(current);
    self::plan(current, &reverted, &BTreeSet::new(), id, version)
}

/// Ids of the `running` plans (other than `plan` itself) that touch a run spec `plan`
/// touches, in the order given: a non-empty answer means 409, or cancel them first with
/// `force=true`.
pub fn conflicts<'a>(
    plan: &DeploymentPlan,
    running: impl IntoIterator<Item = &'a DeploymentPlan>,
) -> Vec<String> {
    running
        .into_iter()
        .filter(|other| other.id != plan.id && plan.is_affected_by(other))
        .map(|other| other.id.clone())
        .collect()
}

fn check_restarts(
    original: &RootGroup,
    target: &RootGroup,
    restart: &BTreeSet<String>,
) -> Result<(), DeployError> {
    for id in restart {
        if let (Some(old), Some(new)) = (original.get(id), target.get(id))
            && old.config_version == new.config_version
        {
            return Err(DeployError::RestartWithoutNewConfig {
                id: id.clone(),
                config_version: new.config_version.clone(),
            });
        }
    }
    Ok(())
}

fn stop_step(original: &RootGroup, target: &RootGroup) -> Step {
    let actions = original
        .run_specs
        .values()
        .filter(|s| target.get(&s.id).is_none())
        .map(|s| Action::new(ActionKind::new(Verb::Stop, s.kind), &s.id))
        .collect();
    Step { actions }
}

fn start_step(original: &RootGroup, target: &RootGroup) -> Step {
    let actions = target
        .run_specs
        .values()
        .filter(|s| original.get(&s.id).is_none())
        .map(|s| Action::new(ActionKind::new(Verb::Start, s.kind), &s.id))
        .collect();
    Step { actions }
}

fn dependency_steps(
    original: &RootGroup,
    target: &RootGroup,
    restart: &BTreeSet<String>,
    levels: &BTreeMap<&str, usize>,
) -> Vec<Step> {
    let mut by_level: BTreeMap<usize, Vec<Action>> = BTreeMap::new();
    for spec in target.run_specs.values() {
        let old = original.get(&spec.id);
        if let Some(verb) = change(old, spec, restart.contains(&spec.id)) {
            let level = levels.get(spec.id.as_str()).copied().unwrap_or(1);
            let action = Action::new(ActionKind::new(verb, spec.kind), &spec.id);
            by_level.entry(level).or_default().push(action);
        }
    }
    by_level
        .into_values()
        .map(|actions| Step { actions })
        .collect()
}

/// The action a run spec needs, if any.
fn change(old: Option<&RunSpec>, new: &RunSpec, restart: bool) -> Option<Verb> {
    match old {
        None => Some(Verb::Scale),
        Some(old)
            if restart || old.config_version != new.config_version || old.kind != new.kind =>
        {
            Some(Verb::Restart)
        }
        Some(old) if old.instances != new.instances => Some(Verb::Scale),
        Some(_) => None,
    }
}
