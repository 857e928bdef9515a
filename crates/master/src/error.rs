//! Typed errors of the master, each mapping to an HTTP status.

use keel_model::{AgentId, TaskId};
use std::collections::BTreeMap;

/// What went wrong serving a master request.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("store: {0}")]
    Store(#[from] keel_store::StoreError),
    #[error("record {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    #[error("unknown task {0}")]
    UnknownTask(TaskId),
    #[error("agent {id} is already connected from {endpoint}")]
    AgentConnected { id: AgentId, endpoint: String },
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("no agent can run this task")]
    Unplaceable { rejections: BTreeMap<String, u32> },
    #[error("task {id} is already {state}")]
    TaskTerminal { id: TaskId, state: String },
    #[error("task {task} does not run on agent {agent}")]
    WrongAgent { task: TaskId, agent: AgentId },
    #[error("the master is stopping")]
    Stopped,
}

impl MasterError {
    /// Shorthand for a validation failure.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
