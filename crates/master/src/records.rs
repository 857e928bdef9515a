//! Records the master persists in the store, and the keys they live under.

use keel_model::{AgentId, ContainerId, FrameworkId, Reason, Source, TaskSpec, TaskState};
use keel_resources::{Attributes, Resources};
use serde::{Deserialize, Serialize};

/// Store key of the master's identity record.
pub const INFO_KEY: &str = "/keel/master/info";
/// Prefix of agent records.
pub const AGENTS: &str = "/keel/agents/";
/// Prefix of task records.
pub const TASKS: &str = "/keel/tasks/";
/// Prefix of framework records.
pub const FRAMEWORKS: &str = "/keel/frameworks/";

/// The cluster's identity and id counters; written before an id is handed out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MasterInfo {
    pub master_id: String,
    pub cluster_id: String,
    pub next_agent: u64,
    pub next_framework: u64,
}

/// A framework (a scheduler such as Keel's own task runner, later Marathon or Metronome).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrameworkRecord {
    pub id: FrameworkId,
    pub name: String,
    pub role: String,
    pub registered_time: f64,
}

/// Whether an agent is reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Registered and heard from within the timeout.
    Active,
    /// Silent past the timeout; its tasks are TASK_UNREACHABLE until it re-registers.
    Unreachable,
}

/// A registered agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentRecord {
    pub id: AgentId,
    pub hostname: String,
    pub endpoint: String,
    pub resources: Resources,
    pub attributes: Attributes,
    pub version: String,
    pub registered_time: f64,
    #[serde(default)]
    pub reregistered_time: Option<f64>,
    pub status: AgentStatus,
    #[serde(default)]
    pub unreachable_time: Option<f64>,
}

impl AgentRecord {
    /// The agent's IP address: that of its endpoint unless it listens on every address,
    /// else its hostname if that is an address.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        let hostport = self
            .endpoint
            .trim_start_matches("http://")
            .trim_start_matches("https://");
        let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        [host, self.hostname.as_str()]
            .into_iter()
            .filter_map(|h| h.parse::<std::net::IpAddr>().ok())
            .find(|ip| !ip.is_unspecified())
    }
}

/// One entry of a task's status history (a new entry per new state).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusEntry {
    pub state: TaskState,
    pub timestamp: f64,
    #[serde(default)]
    pub container_id: Option<ContainerId>,
    #[serde(default)]
    pub healthy: Option<bool>,
    /// Who sent the status (absent in records written before it was kept, and for the
    /// master's own STAGING entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The container's own addresses when the status was sent (Mesos's
    /// `container_status.network_infos`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_ips: Vec<std::net::IpAddr>,
}

/// A task the master launched.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    pub spec: TaskSpec,
    pub framework_name: String,
    pub agent_id: AgentId,
    pub state: TaskState,
    pub statuses: Vec<StatusEntry>,
    #[serde(default)]
    pub container_id: Option<ContainerId>,
    #[serde(default)]
    pub reason: Option<Reason>,
    #[serde(default)]
    pub message: Option<String>,
    /// Set once a kill was requested: the grace period to use when (re)sending it.
    #[serde(default)]
    pub kill_grace_secs: Option<f64>,
    /// The latest health verdict, if the task has health checks.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// The container's own addresses (bridge and user networks) from its latest status
    /// that had any: Marathon's `ipAddresses`, DNS `containerip` names, VIP backends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_ips: Vec<std::net::IpAddr>,
    /// uuids of the most recent acknowledged updates, to drop duplicates.
    #[serde(default)]
    pub recent_uuids: Vec<String>,
    pub launched_time: f64,
}

impl TaskRecord {
    /// Time of the latest status.
    pub fn last_timestamp(&self) -> f64 {
        self.statuses
            .last()
            .map(|s| s.timestamp)
            .unwrap_or(self.launched_time)
    }
}
