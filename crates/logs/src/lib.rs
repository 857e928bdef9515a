//! dcos-log for Keel. Task logs: a sandbox's rotated `stdout`/`stderr` read as one stream
//! at stable byte offsets ([`stream`]), and the agent's `/system/v1/logs/v2/task/...`
//! routes over them ([`http`]): range reads (text, JSON), downloads and SSE follow. The
//! component journal every role writes through `tracing` ([`journal`]) and its
//! `/system/v1/logs/v2/component` routes ([`component`]). The compressed archive of the
//! logs of collected sandboxes ([`archive`]), which the task routes serve once the sandbox
//! is gone.
//!
//! Architecture Invariant: a follower never loses a line while the stream keeps it: it
//! reads by stream offset and holds the file it reads open across rotations.

#![forbid(unsafe_code)]

pub mod archive;
pub mod component;
pub mod http;
pub mod journal;
pub mod stream;

use std::path::{Path, PathBuf};

/// A failed log read.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The rotation index kept disagreeing with the files.
    #[error("{0}: the rotation index does not settle")]
    Unsettled(PathBuf),
}

impl LogsError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        LogsError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
