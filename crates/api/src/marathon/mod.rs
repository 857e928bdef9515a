//! Marathon v2 wire compatibility: path ids, timestamps, task ids, app/group/pod request
//! bodies with Marathon's normalization and validation, and the response and event shapes
//! that marathon-python 0.13.0 and dcoscli 0.6.1 parse.
//!
//! Architecture Invariant: pure. No I/O and no clock: timestamps are inputs (unix millis).

pub mod app;
pub mod app_info;
mod app_normalize;
mod app_validate;
pub mod checks;
pub mod container;
pub mod deployment;
pub mod error;
pub mod events;
pub mod group;
pub mod misc;
pub mod network;
pub mod path_id;
pub mod pod;
pub mod pod_status;
mod pod_validate;
pub mod query;
pub mod spec;
mod strict;
pub mod task;
pub mod task_id;
pub mod time;
pub mod views;

#[cfg(test)]
mod app_tests;
#[cfg(test)]
mod compat_tests;
#[cfg(test)]
mod pod_group_tests;

pub use app::{AppDefinition, AppUpdate, parse_app_update, parse_app_updates};
pub use app_info::{AppInfo, TaskCounts, TaskStatsByVersion};
pub use checks::{HealthCheck, HealthCheckProtocol, ReadinessCheck, ReadinessCheckResult};
pub use container::{Container, ContainerType, DockerContainer, PortMapping};
pub use deployment::{
    ActionName, CurrentAction, DeploymentAction, DeploymentInfo, DeploymentRef, DeploymentResult,
    DeploymentStep, DryRunPlan, EventPlan, PlanGroupStub,
};
pub use error::{ApiErrorBody, Validation, Violation, Violations, parse_json, parse_object};
pub use events::Event;
pub use group::{GroupChange, GroupInfo, GroupSpec, GroupUpdate, parse_group_update};
pub use misc::{
    HttpConfig, Info, Leader, MarathonConfig, Message, ProcessedOffersSummary, QueueDelay,
    QueueItem, QueuedRunSpec, RejectSummary, ZookeeperConfig,
};
pub use network::{Network, NetworkMode, PortDefinition};
pub use path_id::{PathId, PathIdError};
pub use pod::{Pod, parse_pod};
pub use pod_status::{Instance, PodInstanceStatus, PodStatus};
pub use query::{AppEmbeds, Embeds, GroupEmbeds, LabelSelector, parse_bool};
pub use spec::{
    Artifact, Constraint, EnvValue, KillSelection, SecretDef, UnreachableStrategy, UpgradeStrategy,
    VersionInfo,
};
pub use task::{HealthResult, IpAddress, LocalVolume, MarathonTask, TaskFailure};
pub use task_id::InvalidTaskId;
pub use time::{Timestamp, format_ts, parse_ts};
