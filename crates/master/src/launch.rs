//! The in-process scheduler API: what the service and job schedulers (and the CLI's
//! internal HTTP API) use to launch, kill and observe tasks on the cluster.

use crate::Master;
use crate::error::MasterError;
use keel_api::internal::LaunchResponse;
use keel_clock::Clock;
use keel_model::{
    AgentId, CommandSpec, Constraint, FetchUri, HealthCheck, HostPort, Reason, TaskId, TaskState,
    TaskStatus,
};
use keel_resources::{Attributes, Resources};
use keel_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::broadcast;

/// A task a scheduler wants launched. The scheduler chooses the id (e.g. Marathon's
/// `app.instance-<uuid>._app.1`); `framework` names the scheduler (registered on first use).
#[derive(Debug, Clone)]
pub struct TaskLaunch {
    pub task_id: TaskId,
    pub name: String,
    pub framework: String,
    pub role: String,
    pub command: CommandSpec,
    /// Scalar resources (cpus, mem, disk, ...).
    pub resources: Resources,
    /// The host ports wanted, in order (PORT0, PORT1, ...): each fixed or any free one
    /// of the agent's `ports` ranges.
    pub ports: Vec<HostPort>,
    pub constraints: Vec<Constraint>,
    pub kill_grace_secs: f64,
    pub labels: BTreeMap<String, String>,
    pub health_checks: Vec<HealthCheck>,
    pub fetch: Vec<FetchUri>,
    /// Names for the assigned ports, in order (`""` = unnamed): `PORT_<NAME>` in the env.
    pub port_names: Vec<String>,
    /// Where stateful constraints count this task (e.g. the Marathon app id).
    pub placement_scope: Option<String>,
    /// The task's container (Docker image, networking, volumes), if any.
    pub container: Option<keel_model::ContainerSpec>,
    /// Where DNS and VIPs publish it; host-scoped ports name their host-port index, which
    /// the master resolves when it stages the task.
    pub discovery: Option<keel_model::Discovery>,
}

/// A scheduler's view of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub id: TaskId,
    pub name: String,
    pub framework: String,
    pub agent_id: AgentId,
    pub hostname: String,
    /// The agent's IP address (Marathon's `ipAddresses` for host networking), when known.
    pub agent_ip: Option<std::net::IpAddr>,
    /// The container's own addresses (bridge and user networks); empty for host
    /// networking.
    pub container_ips: Vec<std::net::IpAddr>,
    pub state: TaskState,
    pub reason: Option<Reason>,
    pub message: Option<String>,
    /// The host ports assigned to it, in order (PORT0, PORT1, ...). Schedulers copy every
    /// view often, so the view carries only what they read.
    pub ports: Vec<u64>,
    /// Unix seconds of TASK_STAGING and of the first TASK_RUNNING, when seen.
    pub staged_at: f64,
    pub started_at: Option<f64>,
    /// Unix seconds of the latest status.
    pub updated_at: f64,
    /// The latest health verdict (None: no checks, or none ran yet).
    pub healthy: Option<bool>,
}

impl TaskView {
    /// The task's addresses as Marathon's `ipAddresses` lists them: the container's own,
    /// else the agent's (host networking).
    pub fn ip_addresses(&self) -> Vec<std::net::IpAddr> {
        if self.container_ips.is_empty() {
            self.agent_ip.into_iter().collect()
        } else {
            self.container_ips.clone()
        }
    }
}

/// What changed among the tasks of a framework since a cursor (see
/// [`Master::task_changes`]).
#[derive(Debug, Clone, Default)]
pub struct TaskChangeSet {
    /// Covers every change so far: pass it as `since` next time.
    pub cursor: u64,
    /// `views` holds every task of the framework (the caller replaces its copy): asked
    /// without a cursor, or the cursor was too old.
    pub full: bool,
    /// The views of the framework's tasks that appeared or changed (all of them if `full`).
    pub views: Vec<TaskView>,
    /// Tasks the master forgot since (of any framework; empty if `full`).
    pub removed: Vec<TaskId>,
}

/// A scheduler's view of one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentView {
    pub id: AgentId,
    pub hostname: String,
    /// The agent's HTTP endpoint (`http://host:port`).
    pub endpoint: String,
    pub attributes: Attributes,
    pub active: bool,
}

impl Master {
    /// Launches one task (see [`TaskLaunch`]).
    pub fn launch_task(&self, l: TaskLaunch) -> Result<LaunchResponse, MasterError> {
        self.launch_tasks(vec![l])
            .pop()
            .unwrap_or_else(|| Err(MasterError::invalid("request", "nothing to launch")))
    }

    /// Launches a batch in one allocation; results in request order.
    pub fn launch_tasks(&self, ls: Vec<TaskLaunch>) -> Vec<Result<LaunchResponse, MasterError>> {
        self.with_core(|c| c.launch_tasks(ls))
    }

    /// Launches task groups, each on one agent (see `Core::launch_groups`); results in
    /// request order, one per group.
    pub fn launch_groups(
        &self,
        groups: Vec<Vec<TaskLaunch>>,
    ) -> Vec<Result<Vec<LaunchResponse>, MasterError>> {
        self.with_core(|c| c.launch_groups(groups))
    }

    /// Kills a task with `grace` (or its own grace period).
    pub fn kill_task(&self, id: &TaskId, grace: Option<f64>) -> Result<(), MasterError> {
        self.with_core(|c| c.kill(id, grace))
    }

    /// Every task status the master records from now on, for an external stream (a
    /// subscriber that falls behind skips statuses).
    pub fn subscribe(&self) -> broadcast::Receiver<TaskStatus> {
        self.with_core(|c| c.subscribe())
    }

    /// A reader of every task status the master records from now on, resuming from its
    /// cursor: for the schedulers beside the master, which must not miss one.
    pub fn status_reader(&self) -> crate::StatusReader {
        self.with_core(|c| c.status_reader())
    }

    /// One task.
    pub fn task_view(&self, id: &TaskId) -> Option<TaskView> {
        self.with_core(|c| c.tasks.get(id).map(|t| c.view(t)))
    }

    /// Several tasks in one look (in `ids` order; `None` for a task the master does not
    /// know, e.g. pruned after it ended).
    pub fn task_views(&self, ids: &[TaskId]) -> Vec<Option<TaskView>> {
        self.with_core(|c| {
            ids.iter()
                .map(|id| c.tasks.get(id).map(|t| c.view(t)))
                .collect()
        })
    }

    /// What changed among the tasks of the framework called `framework` since `since` (a
    /// cursor from an earlier answer), or all of them when `since` is `None`: a scheduler
    /// keeps a copy of its task views current at the cost of the changes only.
    pub fn task_changes(&self, framework: &str, since: Option<u64>) -> TaskChangeSet {
        self.with_core(|c| {
            let mine = |t: &&crate::records::TaskRecord| t.framework_name == framework;
            let cursor = c.changes.head();
            match since.and_then(|s| c.changes.since(s)) {
                Some(d) => TaskChangeSet {
                    cursor,
                    full: false,
                    views: (d.changed.iter())
                        .filter_map(|id| c.tasks.get(*id))
                        .filter(mine)
                        .map(|t| c.view(t))
                        .collect(),
                    removed: d.removed.into_iter().cloned().collect(),
                },
                None => TaskChangeSet {
                    cursor,
                    full: true,
                    views: c.tasks.values().filter(mine).map(|t| c.view(t)).collect(),
                    removed: Vec::new(),
                },
            }
        })
    }

    /// Every task (active and recently completed) of the framework called `framework`.
    pub fn tasks_of(&self, framework: &str) -> Vec<TaskView> {
        self.with_core(|c| {
            c.tasks
                .values()
                .filter(|t| t.framework_name == framework)
                .map(|t| c.view(t))
                .collect()
        })
    }

    /// Every agent the master knows.
    pub fn agents_view(&self) -> Vec<AgentView> {
        self.with_core(|c| {
            c.agents
                .values()
                .map(|a| AgentView {
                    id: a.rec.id.clone(),
                    hostname: a.rec.hostname.clone(),
                    endpoint: a.rec.endpoint.clone(),
                    attributes: a.rec.attributes.clone(),
                    active: c.agent_active(&a.rec.id),
                })
                .collect()
        })
    }

    /// The store, for schedulers that keep their own state next to the master's.
    pub fn store(&self) -> Arc<dyn Store> {
        self.with_core(|c| c.io.store.clone())
    }

    /// The clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.with_core(|c| c.io.clock.clone())
    }

    /// The id of the framework called `name`, once it has launched anything.
    pub fn framework_id(&self, name: &str) -> Option<String> {
        self.with_core(|c| {
            c.frameworks
                .values()
                .find(|f| f.name == name)
                .map(|f| f.id.to_string())
        })
    }

    /// The master's advertised address.
    pub fn advertise(&self) -> std::net::SocketAddr {
        self.advertise
    }
}

impl crate::core::Core {
    pub(crate) fn view(&self, t: &crate::records::TaskRecord) -> TaskView {
        let agent = self.agents.get(&t.agent_id).map(|a| &a.rec);
        TaskView {
            id: t.spec.id.clone(),
            name: t.spec.name.clone(),
            framework: t.framework_name.clone(),
            agent_id: t.agent_id.clone(),
            hostname: agent.map(|a| a.hostname.clone()).unwrap_or_default(),
            agent_ip: agent.and_then(crate::records::AgentRecord::ip),
            container_ips: t.container_ips.clone(),
            state: t.state,
            reason: t.reason,
            message: t.message.clone(),
            ports: t.spec.host_ports().into_iter().map(u64::from).collect(),
            staged_at: t.launched_time,
            started_at: t
                .statuses
                .iter()
                .find(|s| s.state == TaskState::Running)
                .map(|s| s.timestamp),
            updated_at: t.last_timestamp(),
            healthy: t.healthy,
        }
    }
}
