//! Marathon instances: one per launched replica of an app, persisted with its goal, the
//! current task (incarnation) and where it runs. The task's state itself lives in the
//! master; an instance's condition is read from there.

use keel_api::marathon::PathId;
use keel_deploy::Goal;
use keel_master::TaskView;
use keel_model::{TaskId, TaskState};
use serde::{Deserialize, Serialize};

/// A replica of an app or pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// `<safe path>.instance-<uuid>`.
    pub id: String,
    pub run_spec: PathId,
    /// The app version (timestamp text) it was launched from.
    pub version: String,
    /// The app's config version (lastConfigChangeAt) it was launched from.
    pub config_version: String,
    pub incarnation: u64,
    pub task_id: TaskId,
    pub goal: Goal,
    pub agent_id: String,
    pub hostname: String,
    pub ports: Vec<u64>,
    /// Unix seconds when launched.
    pub staged_at: f64,
    /// When the task was first seen unreachable (cleared when it reports again, unless
    /// the instance was replaced meanwhile).
    #[serde(default)]
    pub unreachable_since: Option<f64>,
    /// Replaced as unreachable (Marathon's UnreachableInactive).
    #[serde(default)]
    pub inactive: bool,
    /// Every task of a pod instance, in container order (`task_id` is the first); empty
    /// for an app instance, whose only task is `task_id`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskId>,
}

impl InstanceRecord {
    /// Every task of the instance (one for an app, one per container for a pod).
    pub fn all_tasks(&self) -> &[TaskId] {
        if self.tasks.is_empty() {
            std::slice::from_ref(&self.task_id)
        } else {
            &self.tasks
        }
    }

    /// The instance as `keel-deploy` sees it, given its task (if the master knows it) and
    /// its run spec's id as text.
    pub fn to_deploy(
        &self,
        run_spec: &str,
        task: Option<&TaskView>,
        ready: bool,
    ) -> keel_deploy::Instance {
        let mut cond = condition(task);
        if self.inactive && cond == keel_deploy::Condition::Unreachable {
            cond = keel_deploy::Condition::UnreachableInactive;
        }
        keel_deploy::Instance {
            id: self.id.clone(),
            run_spec: run_spec.to_string(),
            config_version: self.config_version.clone(),
            condition: cond,
            goal: self.goal,
            healthy: task.and_then(|t| t.healthy),
            ready,
            staged_at: self.staged_at,
            started_at: task.and_then(|t| t.started_at),
            unreachable_since: self.unreachable_since,
        }
    }
}

/// An instance's condition, from its task's state (Marathon's `Condition`).
pub fn condition(task: Option<&TaskView>) -> keel_deploy::Condition {
    task.map_or(keel_deploy::Condition::Unknown, |t| {
        state_condition(t.state)
    })
}

/// The condition a task state stands for.
pub fn state_condition(state: TaskState) -> keel_deploy::Condition {
    use keel_deploy::Condition as C;
    match state {
        TaskState::Staging => C::Staging,
        TaskState::Starting => C::Starting,
        TaskState::Running => C::Running,
        TaskState::Killing => C::Killing,
        TaskState::Finished => C::Finished,
        TaskState::Failed => C::Failed,
        TaskState::Killed => C::Killed,
        TaskState::Error => C::Error,
        TaskState::Lost | TaskState::Gone | TaskState::GoneByOperator => C::Gone,
        TaskState::Dropped => C::Dropped,
        TaskState::Unreachable => C::Unreachable,
        TaskState::Unknown => C::Unknown,
    }
}
