//! What the agent checkpoints in its own store: its id, its tasks, and status updates not
//! yet acknowledged by the master.

use keel_model::{ContainerId, TaskSpec, TaskState, TaskStatus};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Key of the agent id given by the master.
pub const AGENT_ID_KEY: &str = "/agent/id";
/// Prefix of task records.
pub const TASKS: &str = "/agent/tasks/";
/// Prefix of pending status updates: `/agent/updates/<seq:020>`.
pub const UPDATES: &str = "/agent/updates/";
/// Key of the next update sequence number.
pub const NEXT_UPDATE_KEY: &str = "/agent/next-update";

/// A task on this agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    pub spec: TaskSpec,
    pub framework_name: String,
    pub container_id: ContainerId,
    pub sandbox: PathBuf,
    pub meta_dir: PathBuf,
    pub state: TaskState,
    /// Highest executor status seq already turned into an update.
    pub last_seq: u64,
    pub launched_time: f64,
    /// Set when the terminal update was acknowledged by the master.
    #[serde(default)]
    pub completed: bool,
    /// The container's own addresses, from its latest status that had any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_ips: Vec<std::net::IpAddr>,
    /// The UDP port of the container's StatsD socket (named in its environment).
    #[serde(default)]
    pub statsd_port: Option<u16>,
}

/// A status update waiting for the master's acknowledgement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingUpdate {
    pub seq: u64,
    pub status: TaskStatus,
}

/// Store key of pending update `seq`.
pub fn update_key(seq: u64) -> String {
    format!("{UPDATES}{seq:020}")
}

/// Store key of a task record.
pub fn task_key(id: &keel_model::TaskId) -> String {
    format!("{TASKS}{id}")
}
