//! Typed errors of the job service; each maps to Metronome's status code and body.

use keel_api::metronome::ErrorDetail;

/// What went wrong serving a jobs request.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("Job not found")]
    UnknownJob(String),
    #[error("Schedule not found")]
    UnknownSchedule(String),
    #[error("Job Run not found")]
    UnknownRun { job: String, run: String },
    #[error("Object is not valid")]
    Invalid(Vec<ErrorDetail>),
    /// 422 with a plain message (Metronome's `ValidationError`).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("store: {0}")]
    Store(#[from] keel_store::StoreError),
    #[error("record {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
}

impl JobsError {
    /// A single-detail validation failure at `path`.
    pub fn invalid(path: &str, msg: impl Into<String>) -> Self {
        Self::Invalid(vec![ErrorDetail {
            path: path.into(),
            errors: vec![msg.into()],
        }])
    }
}
