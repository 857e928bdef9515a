//! Deployment wire shapes: `GET /v2/deployments` items, the `{deploymentId, version}`
//! result of every write, the dry-run body, and the plan carried by deployment events
//! (with the stub `original`/`target` groups marathon-python 0.13.0 needs).

use super::checks::ReadinessCheckResult;
use super::path_id::PathId;
use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// `{"id": "<deployment id>"}` (app `deployments`, 409 bodies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRef {
    pub id: String,
}

/// What a deployment step does to one run spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActionName {
    StartApplication,
    StopApplication,
    ScaleApplication,
    RestartApplication,
    StartPod,
    StopPod,
    ScalePod,
    RestartPod,
    ResolveArtifacts,
}

impl ActionName {
    /// Pod actions name their run spec under `pod`, app actions under `app`.
    pub fn is_pod(self) -> bool {
        matches!(
            self,
            Self::StartPod | Self::StopPod | Self::ScalePod | Self::RestartPod
        )
    }
}

/// One action of a step: `{"action":"ScaleApplication","app":"/foo"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentAction {
    pub action: ActionName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<PathId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PathId>,
}

impl DeploymentAction {
    /// An action on `run_spec`, keyed `pod` or `app` by the action's kind.
    pub fn new(action: ActionName, run_spec: PathId) -> DeploymentAction {
        if action.is_pod() {
            DeploymentAction {
                action,
                app: None,
                pod: Some(run_spec),
            }
        } else {
            DeploymentAction {
                action,
                app: Some(run_spec),
                pod: None,
            }
        }
    }

    /// The app or pod the action is about.
    pub fn run_spec(&self) -> Option<&PathId> {
        self.app.as_ref().or(self.pod.as_ref())
    }
}

/// `{"actions": [...]}`; the actions of a step run in parallel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeploymentStep {
    pub actions: Vec<DeploymentAction>,
}

/// An action of the current step, with the readiness results of its new instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentAction {
    pub action: ActionName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<PathId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PathId>,
    pub readiness_check_results: Vec<ReadinessCheckResult>,
}

/// An item of `GET /v2/deployments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentInfo {
    pub id: String,
    pub version: Timestamp,
    pub affected_apps: Vec<PathId>,
    pub affected_pods: Vec<PathId>,
    pub steps: Vec<DeploymentStep>,
    pub current_actions: Vec<CurrentAction>,
    /// 1-based index of the running step.
    pub current_step: usize,
    pub total_steps: usize,
}

impl DeploymentInfo {
    /// The item for a plan whose step `current_step` (1-based, clamped to the steps) is
    /// running; affected run specs are derived from the steps. Readiness results start
    /// empty; fill `current_actions[i].readiness_check_results` as they come.
    pub fn new(
        id: String,
        version: Timestamp,
        steps: Vec<DeploymentStep>,
        current_step: usize,
    ) -> DeploymentInfo {
        let current_step = current_step.clamp(1, steps.len().max(1));
        let mut apps = BTreeSet::new();
        let mut pods = BTreeSet::new();
        for action in steps.iter().flat_map(|s| &s.actions) {
            apps.extend(action.app.clone());
            pods.extend(action.pod.clone());
        }
        let current_actions = steps.get(current_step - 1).map_or_else(Vec::new, |s| {
            s.actions
                .iter()
                .map(|a| CurrentAction {
                    action: a.action,
                    app: a.app.clone(),
                    pod: a.pod.clone(),
                    readiness_check_results: Vec::new(),
                })
                .collect()
        });
        DeploymentInfo {
            id,
            version,
            affected_apps: apps.into_iter().collect(),
            affected_pods: pods.into_iter().collect(),
            total_steps: steps.len(),
            steps,
            current_actions,
            current_step,
        }
    }
}

/// `{"deploymentId":"<uuid>","version":"<ts>"}`, the answer of every write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentResult {
    pub deployment_id: String,
    pub version: Timestamp,
}

/// `PUT /v2/groups?dryRun=true`: `{"steps":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DryRunPlan {
    pub steps: Vec<DeploymentStep>,
}

/// An empty root group standing in for a plan's `original` and `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanGroupStub {
    pub id: PathId,
    pub apps: Vec<serde_json::Value>,
    pub groups: Vec<serde_json::Value>,
    pub pods: Vec<serde_json::Value>,
    pub dependencies: Vec<PathId>,
    pub version: Timestamp,
}

impl PlanGroupStub {
    pub fn root(version: Timestamp) -> PlanGroupStub {
        PlanGroupStub {
            id: PathId::root(),
            apps: Vec::new(),
            groups: Vec::new(),
            pods: Vec::new(),
            dependencies: Vec::new(),
            version,
        }
    }
}

/// The `plan` of deployment events: the light format (`id`, `version`, `steps`) plus stub
/// `original`/`target` groups, which marathon-python 0.13.0 dereferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPlan {
    pub id: String,
    pub version: Timestamp,
    pub steps: Vec<DeploymentStep>,
    pub original: PlanGroupStub,
    pub target: PlanGroupStub,
}

impl EventPlan {
    pub fn new(id: String, version: Timestamp, steps: Vec<DeploymentStep>) -> EventPlan {
        let stub = PlanGroupStub::root(version);
        EventPlan {
            id,
            version,
            steps,
            original: stub.clone(),
            target: stub,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn id(s: &str) -> PathId {
        PathId::parse(s).unwrap()
    }

    #[test]
    fn deployment_info_derives_counts_and_current_actions() {
        let steps = vec![
            DeploymentStep {
                actions: vec![DeploymentAction::new(
                    ActionName::StartApplication,
                    id("/foo"),
                )],
            },
            DeploymentStep {
                actions: vec![
                    DeploymentAction::new(ActionName::ScaleApplication, id("/foo")),
                    DeploymentAction::new(ActionName::StartPod, id("/p")),
                ],
            },
        ];
        let info = DeploymentInfo::new("d1".into(), Timestamp(0), steps, 2);
        expect![[r#"{"id":"d1","version":"1970-01-01T00:00:00.000Z","affectedApps":["/foo"],"affectedPods":["/p"],"steps":[{"actions":[{"action":"StartApplication","app":"/foo"}]},{"actions":[{"action":"ScaleApplication","app":"/foo"},{"action":"StartPod","pod":"/p"}]}],"currentActions":[{"action":"ScaleApplication","app":"/foo","readinessCheckResults":[]},{"action":"StartPod","pod":"/p","readinessCheckResults":[]}],"currentStep":2,"totalSteps":2}"#]]
            .assert_eq(&serde_json::to_string(&info).unwrap());
        let empty = DeploymentInfo::new("d2".into(), Timestamp(0), Vec::new(), 0);
        assert_eq!((empty.current_step, empty.total_steps), (1, 0));
    }
}
