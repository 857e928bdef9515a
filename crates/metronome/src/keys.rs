//! Where the job service keeps its state in the master's store, and the (de)serialization
//! of records. Everything lives under `/keel/metronome/`:
//!
//! - `jobs/<job>`: the job (normalized JobSpec) and its creation time;
//! - `cursors/<job>/<schedule>`: the last decided slot of a schedule (compare-and-set);
//! - `runs/<job>/<run>`: an active run (deleted when it finishes);
//! - `history/<job>/<run>`, `summary/<job>`, `missed/<job>/<slot>.<schedule>`: history;
//! - `archive/<job>/<run>/<task>`: task output still to be copied out of the sandbox;
//! - `logs/<job>/<run>/<task>/<stdout|stderr>`: copied task output.

use crate::error::JobsError;
use keel_api::metronome::JobSpec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "/keel/metronome/";

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredJob {
    pub spec: JobSpec,
    pub created_at: f64,
}

/// A stored schedule cursor: every slot at or before it has been decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCursor {
    pub cursor: i64,
}

/// Output of a task still to be archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingArchive {
    pub job: String,
    pub run: String,
    pub task: String,
    pub since: f64,
}

pub fn job(id: &str) -> String {
    format!("{PREFIX}jobs/{id}")
}
pub fn cursor(job: &str, sched: &str) -> String {
    format!("{PREFIX}cursors/{job}/{sched}")
}
pub fn run(job: &str, run: &str) -> String {
    format!("{PREFIX}runs/{job}/{run}")
}
pub fn history(job: &str, run: &str) -> String {
    format!("{PREFIX}history/{job}/{run}")
}
pub fn summary(job: &str) -> String {
    format!("{PREFIX}summary/{job}")
}
pub fn missed(job: &str, slot: i64, sched: &str) -> String {
    format!("{PREFIX}missed/{job}/{slot:012}.{sched}")
}
pub fn archive(job: &str, run: &str, task: &str) -> String {
    format!("{PREFIX}archive/{job}/{run}/{task}")
}
pub fn log(job: &str, run: &str, task: &str, file: &str) -> String {
    format!("{PREFIX}logs/{job}/{run}/{task}/{file}")
}
pub fn logs_of_run(job: &str, run: &str) -> String {
    format!("{PREFIX}logs/{job}/{run}/")
}

/// Every per-job prefix (deleted with the job). The trailing `/` keeps `a` from matching `ab`.
pub fn per_job_prefixes(job: &str) -> Vec<String> {
    ["cursors", "runs", "history", "missed", "archive", "logs"]
        .iter()
        .map(|kind| format!("{PREFIX}{kind}/{job}/"))
        .collect()
}

pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, JobsError> {
    serde_json::to_vec(v).map_err(|e| JobsError::Corrupt {
        key: "(encoding)".into(),
        reason: e.to_string(),
    })
}

pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, JobsError> {
    serde_json::from_slice(bytes).map_err(|e| JobsError::Corrupt {
        key: key.into(),
        reason: e.to_string(),
    })
}
