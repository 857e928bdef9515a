//! Typed errors of the agent.

use std::path::PathBuf;

/// What went wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("store: {0}")]
    Store(#[from] keel_store::StoreError),
    #[error("checkpoint {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("launching executor for task {task}: {reason}")]
    Launch { task: String, reason: String },
}

impl AgentError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
