//! `ExecutorError`: everything that can stop the executor before it reports a terminal status.

use crate::cgroups::CgroupError;
use crate::fetch::FetchError;
use std::io;
use std::path::PathBuf;

/// A failure of the executor itself (failures of the task are reported as statuses).
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("invalid executor config {path}: {source}")]
    Config {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("invalid status line {line} in {path}: {source}")]
    StatusLine {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("cannot encode a status as json: {0}")]
    Encode(serde_json::Error),
    #[error("prctl(PR_SET_CHILD_SUBREAPER) failed: {0}")]
    Subreaper(io::Error),
    #[error("cannot start the {name} thread: {source}")]
    Thread {
        name: &'static str,
        source: io::Error,
    },
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Docker(#[from] crate::docker::DockerError),
}

impl ExecutorError {
    /// An I/O failure of `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
