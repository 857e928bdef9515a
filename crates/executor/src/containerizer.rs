//! The `Containerizer` trait: what the supervisor needs from a container runtime (a forked
//! process tree, Keel's own runtime or the Docker Engine) to launch a task, watch it, kill
//! it and clean up after it. The supervisor (`supervise.rs`) owns what every runtime shares:
//! statuses, health checks and kill deadlines.

use crate::outcome::{Ending, OomReport};
use crate::status::StatusUpdate;
use keel_api::executor::ExecutorConfig;
use keel_model::{Reason, TaskState};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A running container, as its runtime drives it.
pub(crate) trait Containerizer: Sized {
    /// What the runtime needs besides the executor's config to launch the task.
    type Spec: ?Sized;
    /// How often the supervisor polls the container between events.
    const TICK: Duration;

    /// Prepares and starts the task's container (TASK_STARTING is reported and the URIs
    /// are fetched). On failure nothing is left behind and the TASK_FAILED update to
    /// report is returned.
    fn launch(config: &ExecutorConfig, spec: &Self::Spec) -> Result<Self, StatusUpdate>;

    /// Where the task's command health checks run.
    fn health_scope(&self, _config: &ExecutorConfig) -> HealthScope {
        HealthScope::default()
    }

    /// The container's own addresses (bridge and user networks), read once it started;
    /// empty when it shares the host's network.
    fn container_ips(&self) -> Vec<std::net::IpAddr> {
        Vec::new()
    }

    /// How the container ended, once it has; `None` while it runs.
    fn try_wait(&mut self) -> Option<Ending>;

    /// Housekeeping between events while the container runs (reaping, memory watch).
    fn tick(&mut self) {}

    /// The first kill request: a graceful stop (SIGTERM, `docker stop -t grace`).
    fn terminate(&mut self, grace: Duration);

    /// The grace period is over: kill at once. Called on every poll past the deadline.
    fn force_kill(&mut self);

    /// Once the container ended: whether it was killed for exceeding its memory limit.
    fn oom(&mut self) -> Option<OomReport>;

    /// Once the container ended: stops what is left of it (leftovers get the rest of the
    /// grace period up to `kill_deadline`), drains its output and removes it.
    fn clean_up(self, kill_deadline: Option<Instant>);
}

/// Where a task's command health checks run: in its cgroups (their `cgroup.procs` files)
/// and, for a container with its own root file system, in its mount namespace.
#[derive(Debug, Default)]
pub(crate) struct HealthScope {
    pub cgroup_procs: Vec<PathBuf>,
    pub mount_ns: Option<PathBuf>,
}

/// TASK_FAILED: the container could not be set up or its program not started.
pub(crate) fn launch_failed(why: &dyn std::fmt::Display) -> StatusUpdate {
    StatusUpdate::new(TaskState::Failed)
        .reason(Reason::ReasonContainerLaunchFailed)
        .message(format!("Failed to launch container: {why}"))
}
