//! dcos-diagnostics for Keel: each node's units (one per Keel role and dependency) checked
//! on request, the master's aggregate over every node, and diagnostics bundles (zips of
//! health, state, metrics, component logs and redacted configuration) under
//! `/system/health/v1`.

#![forbid(unsafe_code)]

mod bundle;
mod checks;
mod http;
mod node;
pub mod report;
pub mod signal;
mod time;

pub use checks::{dns_probe, docker_ping, http_probe};
pub use http::{AgentRef, DiagConfig, Diagnostics};
pub use node::{CheckFn, NodeHealth, UnitCheck};
pub use time::utc;

/// Errors of the diagnostics service.
#[derive(Debug, thiserror::Error)]
pub enum DiagError {
    #[error("diagnostics bundle directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("writing bundle {name}: {reason}")]
    Bundle { name: String, reason: String },
}
