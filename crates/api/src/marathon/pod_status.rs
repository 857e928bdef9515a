//! Pod status (`/v2/pods/{id}::status`) and the instance records returned when pod
//! instances are killed (`DELETE /v2/pods/{id}::instances[/{instanceId}]`).

use super::pod::{Pod, PodResources};
use super::spec::UnreachableStrategy;
use super::task::LocalVolume;
use super::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The state of the whole pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PodState {
    Degraded,
    Stable,
    Terminal,
}

/// The state of one pod instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PodInstanceState {
    Pending,
    Staging,
    Stable,
    Degraded,
    Terminal,
}

/// `GET /v2/pods/{id}::status` and items of `/v2/pods/::status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub id: String,
    pub spec: Pod,
    pub status: PodState,
    pub status_since: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub instances: Vec<PodInstanceStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub termination_history: Vec<serde_json::Value>,
    pub last_updated: Timestamp,
    pub last_changed: Timestamp,
}

/// One instance of a pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodInstanceStatus {
    pub id: String,
    pub status: PodInstanceState,
    pub status_since: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<PodResources>,
    #[serde(default)]
    pub networks: Vec<NetworkStatus>,
    #[serde(default)]
    pub containers: Vec<ContainerStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_reference: Option<String>,
    #[serde(default)]
    pub local_volumes: Vec<LocalVolume>,
    pub last_updated: Timestamp,
    pub last_changed: Timestamp,
    pub role: String,
}

/// Addresses of an instance on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// One container of an instance (`status` is a Mesos task state such as `TASK_RUNNING`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    pub status: String,
    pub status_since: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<ContainerEndpointStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<PodResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination: Option<ContainerTermination>,
    pub last_updated: Timestamp,
    pub last_changed: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerEndpointStatus {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_host_port: Option<u32>,
    /// Present only when a health check covers the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerTermination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What the scheduler wants an instance to become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Goal {
    Running,
    Stopped,
    Decommissioned,
}

/// `state` of an [`Instance`]; `condition` is Marathon's (`Running`, `Killing`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceState {
    pub condition: String,
    pub since: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_since: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    pub goal: Goal,
}

/// Where an instance runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default)]
    pub attributes: Vec<serde_json::Value>,
}

/// A killed pod instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub instance_id: String,
    pub state: InstanceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_info: Option<AgentInfo>,
    pub run_spec_version: Timestamp,
    pub unreachable_strategy: UnreachableStrategy,
}
