//! dcos-diagnostics' wire shapes (`/system/health/v1`): a node's units and their health
//! (0 healthy, 1 unhealthy), the cluster's aggregates, and the diagnostics-bundle answers
//! the DC/OS CLI reads (`status`, `extra.bundle_name`, the `list/all` map).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One unit of one node, with the check's output (`GET /system/health/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeUnit {
    pub id: String,
    pub name: String,
    /// 0 healthy, 1 unhealthy.
    pub health: u8,
    pub output: String,
    pub description: String,
    pub help: String,
}

/// `GET /system/health/v1`: this node's units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    pub units: Vec<NodeUnit>,
    pub hostname: String,
    pub ip: String,
    pub dcos_version: String,
    /// `master`, `agent` or `agent_public`.
    pub node_role: String,
    pub mesos_id: String,
    pub dcos_diagnostics_version: String,
}

/// A unit across the cluster (`/units`, `/nodes/<ip>/units`): the worst health seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub health: u8,
    pub description: String,
}

/// `{"units": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Units {
    pub units: Vec<Unit>,
}

/// A node as `/nodes` and `/units/<unit>/nodes` list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub host_ip: String,
    pub health: u8,
    pub role: String,
    /// Keel's addition: which agent (several share an address under `keel dev`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mesos_id: String,
}

/// `{"nodes": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nodes {
    pub nodes: Vec<Node>,
}

/// `/units/<unit>/nodes/<ip>`: one unit on one node, with its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitOnNode {
    pub host_ip: String,
    pub health: u8,
    pub role: String,
    pub output: String,
    pub help: String,
}

/// `POST /system/health/v1/report/diagnostics/create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateBundle {
    /// `all`, `masters`, `agents`, an IP or a Mesos agent id.
    pub nodes: Vec<String>,
}

/// The answer of create, cancel and delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleResponse {
    pub response_http_code: u16,
    pub version: u32,
    pub status: String,
    pub errors: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<BundleExtra>,
}

/// `extra` of a create answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleExtra {
    pub bundle_name: String,
}

/// One master's job status (`/report/diagnostics/status`; `status/all` maps master IPs to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleStatus {
    pub is_running: bool,
    pub status: String,
    pub errors: Option<Vec<String>>,
    pub last_bundle_dir: String,
    pub job_started: String,
    pub job_ended: String,
    pub job_duration: String,
    pub job_progress_percentage: f64,
    pub diagnostics_bundle_dir: String,
    pub diagnostics_job_timeout_min: u32,
    pub journald_logs_since_hours: String,
    pub diagnostics_job_get_since_url_timeout_min: u32,
    pub command_exec_timeout_sec: u32,
    pub diagnostics_partition_disk_usage_percent: f64,
}

/// One bundle of `list` (`list/all` maps `<master-ip>:<port>` to these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// `/system/health/v1/report/diagnostics/serve/<bundle>`.
    pub file_name: String,
    pub file_size: u64,
}

/// `list/all`.
pub type BundleList = BTreeMap<String, Vec<BundleFile>>;
