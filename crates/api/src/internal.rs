//! Keel's internal master <-> agent protocol. The agent POSTs a [`RegisterAgent`] to
//! `/internal/v1/agents/register` and reads the response as a stream of newline-delimited
//! [`MasterEvent`]s for as long as it is connected. Status updates go the other way as
//! `POST /internal/v1/agents/<id>/status` ([`StatusUpdate`]); a 200 is the acknowledgement.
//! Heartbeats are `POST /internal/v1/agents/<id>/heartbeat`.

use keel_model::{AgentId, Constraint, ContainerId, TaskId, TaskSpec, TaskState, TaskStatus};
use keel_resources::{Attributes, Resources};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A task the agent knows about, reported when it (re-)registers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentTask {
    pub spec: TaskSpec,
    pub state: TaskState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<ContainerId>,
}

/// Registration (first time: no `agent_id`) or re-registration (with the id it was given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterAgent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    pub hostname: String,
    /// Base URL of the agent's HTTP endpoint, e.g. `http://127.0.0.1:5051`.
    pub endpoint: String,
    pub resources: Resources,
    #[serde(default)]
    pub attributes: Attributes,
    pub version: String,
    /// Every non-terminal task the agent runs, and terminal ones not yet acknowledged.
    #[serde(default)]
    pub tasks: Vec<AgentTask>,
}

/// Master -> agent events on the registration stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MasterEvent {
    Registered {
        agent_id: AgentId,
        master_id: String,
        heartbeat_interval_secs: f64,
    },
    Launch {
        task: Box<TaskSpec>,
        framework_name: String,
    },
    Kill {
        task_id: TaskId,
        grace_secs: f64,
    },
    Heartbeat,
    /// The master refuses this registration; the agent should not retry with the same id.
    Error {
        message: String,
    },
}

/// A status update from the agent; `status.uuid` is set and must be acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub status: TaskStatus,
}

/// `POST /internal/v1/agents/<id>/statuses`: several updates, persisted together; a 200
/// acknowledges all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdates {
    pub updates: Vec<StatusUpdate>,
}

/// `POST /internal/v1/tasks`: launch a plain command task (used by `keel task run` and,
/// later, by the service and job schedulers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// Shell command (run by `/bin/sh -c`) when `args` is empty.
    #[serde(default)]
    pub cmd: Option<String>,
    /// argv to execute directly (argv[0] is the program) when non-empty.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default = "default_cpus")]
    pub cpus: f64,
    #[serde(default = "default_mem")]
    pub mem: f64,
    #[serde(default)]
    pub disk: f64,
    /// Number of host ports to assign (exposed as PORT0, PORT1, ...).
    #[serde(default)]
    pub ports: u32,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub kill_grace_secs: Option<f64>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The task's container; with an image, `cmd` and `args` may both be empty (the image's
    /// entrypoint and cmd run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<keel_model::ContainerSpec>,
}

fn default_cpus() -> f64 {
    0.1
}
fn default_mem() -> f64 {
    32.0
}
fn default_role() -> String {
    "*".into()
}

/// Reply to a successful launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchResponse {
    pub task_id: TaskId,
    pub agent_id: AgentId,
}

/// Error body of every internal endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
    /// For placement failures: reason -> number of agents rejected for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rejections: BTreeMap<String, u32>,
}

/// `POST /internal/v1/tasks/<id>/kill` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KillRequest {
    #[serde(default)]
    pub grace_secs: Option<f64>,
}
