//! Status records: `StatusUpdate` (what happened), the wall clock that stamps it, and
//! `StatusLog`, the fsync'ed `status.jsonl` that outlives the executor.

use crate::ExecutorError;
use keel_api::executor::ExecutorStatus;
use keel_model::{Reason, TaskState};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Seconds since the Unix epoch: the only place the executor reads the wall clock.
pub(crate) fn now_secs() -> f64 {
    keel_clock::wall()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A status before it gets its sequence number and timestamp.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusUpdate {
    pub state: TaskState,
    pub reason: Option<Reason>,
    pub message: Option<String>,
    pub exit_code: Option<i32>,
    pub healthy: Option<bool>,
    pub container_ips: Vec<std::net::IpAddr>,
}

impl StatusUpdate {
    pub fn new(state: TaskState) -> Self {
        Self {
            state,
            reason: None,
            message: None,
            exit_code: None,
            healthy: None,
            container_ips: Vec::new(),
        }
    }

    pub fn reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn exit_code(mut self, code: Option<i32>) -> Self {
        self.exit_code = code;
        self
    }

    pub fn healthy(mut self, healthy: bool) -> Self {
        self.healthy = Some(healthy);
        self
    }

    /// The container's own addresses (reported on the statuses of a running container).
    pub fn container_ips(mut self, ips: &[std::net::IpAddr]) -> Self {
        self.container_ips = ips.to_vec();
        self
    }

    /// The wire status with sequence number `seq`, stamped with `timestamp`.
    pub fn stamp(self, seq: u64, timestamp: f64) -> ExecutorStatus {
        ExecutorStatus {
            seq,
            state: self.state,
            reason: self.reason,
            message: self.message,
            exit_code: self.exit_code,
            timestamp,
            healthy: self.healthy,
            container_ips: self.container_ips,
        }
    }
}

/// `<meta_dir>/status.jsonl`: one `ExecutorStatus` per line, each fsync'ed when appended.
#[derive(Debug)]
pub(crate) struct StatusLog {
    path: PathBuf,
    file: File,
}

impl StatusLog {
    /// Creates (or empties) the log at `path`.
    pub fn create(path: &Path) -> Result<Self, ExecutorError> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| ExecutorError::io("create", path, e))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir);
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends `status` as one line and waits until it is on disk.
    pub fn append(&mut self, status: &ExecutorStatus) -> Result<(), ExecutorError> {
        let mut line = serde_json::to_vec(status).map_err(ExecutorError::Encode)?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| ExecutorError::io("append to", &self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| ExecutorError::io("fsync", &self.path, e))
    }
}

/// Makes a new directory entry durable; failures only weaken durability, so they are logged.
fn sync_dir(dir: &Path) {
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot fsync directory");
    }
}

/// Reads a `status.jsonl` written by an executor (e.g. by an agent recovering after the
/// executor is gone). A torn last line (the executor died mid-write) is ignored.
pub fn read_statuses(path: &Path) -> Result<Vec<ExecutorStatus>, ExecutorError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExecutorError::io("read", path, e))?;
    parse_statuses(&text, path)
}

fn parse_statuses(text: &str, path: &Path) -> Result<Vec<ExecutorStatus>, ExecutorError> {
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut statuses = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(status) => statuses.push(status),
            Err(_) if i + 1 == lines.len() && !complete => break,
            Err(source) => {
                return Err(ExecutorError::StatusLine {
                    path: path.into(),
                    line: i + 1,
                    source,
                });
            }
        }
    }
    Ok(statuses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, state: TaskState) -> String {
        let status = StatusUpdate::new(state).stamp(seq, 1.5);
        serde_json::to_string(&status).unwrap_or_default()
    }

    #[test]
    fn log_round_trips_and_ignores_a_torn_tail() -> Result<(), ExecutorError> {
        let dir = tempfile::tempdir().map_err(|e| ExecutorError::io("mk", "tmp", e))?;
        let path = dir.path().join("status.jsonl");
        let mut log = StatusLog::create(&path)?;
        log.append(&StatusUpdate::new(TaskState::Starting).stamp(1, 1.0))?;
        log.append(&StatusUpdate::new(TaskState::Running).stamp(2, 2.0))?;
        let read: Vec<_> = read_statuses(&path)?
            .iter()
            .map(|s| (s.seq, s.state))
            .collect();
        assert_eq!(read, [(1, TaskState::Starting), (2, TaskState::Running)]);

        let torn = format!("{}\n{{\"seq\":2,\"sta", line(1, TaskState::Starting));
        assert_eq!(parse_statuses(&torn, &path)?.len(), 1);
        Ok(())
    }

    #[test]
    fn a_bad_middle_line_is_an_error() {
        let text = format!("garbage\n{}\n", line(1, TaskState::Running));
        let err = parse_statuses(&text, Path::new("/m/status.jsonl")).err();
        assert!(
            matches!(err, Some(ExecutorError::StatusLine { line: 1, .. })),
            "{err:?}"
        );
    }
}
