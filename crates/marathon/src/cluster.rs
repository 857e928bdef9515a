//! The narrow seam between Marathon and the cluster: launch tasks and task groups, kill a
//! task, follow the tasks' views and statuses, and count the agents the allocator could
//! place on. [`Master`] implements it for real; unit tests use a recording double
//! (`testing.rs`).

use keel_api::internal::LaunchResponse;
use keel_master::{Master, MasterError, StatusReader, TaskChangeSet, TaskLaunch, TaskView};
use keel_model::TaskId;
use std::net::SocketAddr;

/// The cluster as Marathon's scheduler and API see it.
pub trait Cluster: Send + Sync + 'static {
    /// Launches a batch of tasks; per task its placement, or why no agent took it
    /// ([`MasterError::Unplaceable`] with the rejections: the launch queue's reasons).
    fn launch_tasks(&self, batch: Vec<TaskLaunch>) -> Vec<Result<LaunchResponse, MasterError>>;
    /// Launches task groups, each on one agent; per group its tasks' placements.
    fn launch_groups(
        &self,
        groups: Vec<Vec<TaskLaunch>>,
    ) -> Vec<Result<Vec<LaunchResponse>, MasterError>>;
    /// Asks the task's agent to kill it.
    fn kill_task(&self, id: &TaskId, grace: Option<f64>) -> Result<(), MasterError>;
    /// The current views of the tasks, in order (`None`: unknown).
    fn task_views(&self, ids: &[TaskId]) -> Vec<Option<TaskView>>;
    /// The views of `framework`'s tasks that changed since cursor `since` (see
    /// [`Master::task_changes`]).
    fn task_changes(&self, framework: &str, since: Option<u64>) -> TaskChangeSet;
    /// A reader of every task status recorded from now on.
    fn status_reader(&self) -> StatusReader;
    /// How many agents the allocator may place on now (for the launch queue's reasons).
    fn active_agents(&self) -> u32;
    /// The address the master advertises (`/v2/info`, `/v2/leader`).
    fn advertise(&self) -> SocketAddr;
    /// The id of the framework registered as `name`, if any.
    fn framework_id(&self, name: &str) -> Option<String>;
}

impl Cluster for Master {
    fn launch_tasks(&self, batch: Vec<TaskLaunch>) -> Vec<Result<LaunchResponse, MasterError>> {
        Master::launch_tasks(self, batch)
    }

    fn launch_groups(
        &self,
        groups: Vec<Vec<TaskLaunch>>,
    ) -> Vec<Result<Vec<LaunchResponse>, MasterError>> {
        Master::launch_groups(self, groups)
    }

    fn kill_task(&self, id: &TaskId, grace: Option<f64>) -> Result<(), MasterError> {
        Master::kill_task(self, id, grace)
    }

    fn task_views(&self, ids: &[TaskId]) -> Vec<Option<TaskView>> {
        Master::task_views(self, ids)
    }

    fn task_changes(&self, framework: &str, since: Option<u64>) -> TaskChangeSet {
        Master::task_changes(self, framework, since)
    }

    fn status_reader(&self) -> StatusReader {
        Master::status_reader(self)
    }

    fn active_agents(&self) -> u32 {
        self.agents_view().iter().filter(|a| a.active).count() as u32
    }

    fn advertise(&self) -> SocketAddr {
        Master::advertise(self)
    }

    fn framework_id(&self, name: &str) -> Option<String> {
        Master::framework_id(self, name)
    }
}
