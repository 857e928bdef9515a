//! Keel's internal domain types: identifiers, task states, task specifications and statuses.
//!
//! These types are shared by the master, the agent and the executor. Wire formats of the
//! compatible APIs live in `keel-api`; this crate only knows Keel's own vocabulary.

#![forbid(unsafe_code)]

mod container;
mod discovery;
mod env;
mod ids;
mod task;

pub use container::{
    ContainerKind, ContainerSpec, DockerNetwork, DockerSpec, GroupVolume, PortMapping,
    PortProtocol, Volume, VolumeMode,
};
pub use discovery::{Discovery, DiscoveryPort};
pub use env::env_name;
pub use ids::{AgentId, ContainerId, FrameworkId, IdError, TaskId};
pub use task::{
    CommandSpec, Constraint, ConstraintOp, FetchUri, HealthCheck, HealthProtocol, HostPort, Reason,
    Source, TaskSpec, TaskState, TaskStatus,
};
