//! Errors of the allocator, each naming the input that was refused.

use keel_model::AgentId;
use keel_resources::Resources;

/// An allocator call was refused; the allocator's state is unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AllocatorError {
    #[error("unknown agent {id}")]
    UnknownAgent { id: AgentId },
    #[error("weight for role {role} must be > 0, got {weight}")]
    InvalidWeight { role: String, weight: f64 },
    #[error("allocation of {resources} on agent {agent} exceeds its free resources {free}")]
    OverCommit {
        agent: AgentId,
        resources: Box<Resources>,
        free: Box<Resources>,
    },
}
