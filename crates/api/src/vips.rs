//! The VIP table on the wire: `GET /internal/v1/vips` on the master, which agents' L4 load
//! balancers long-poll and `keel vip list` prints.

use serde::{Deserialize, Serialize};

/// Every VIP of the cluster with its backends, and the VIP labels that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VipTable {
    /// Changes whenever anything in the table changes; pass it back as `?after=` to wait
    /// for the next change.
    pub version: u64,
    pub vips: Vec<Vip>,
    #[serde(default)]
    pub problems: Vec<VipProblem>,
}

/// One VIP: an address, port and protocol with the tasks that serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vip {
    /// The label's left part: `/myapp` for a named VIP, the address for an IP VIP.
    pub label: String,
    /// The framework a named VIP belongs to (named VIPs are keyed by name and framework).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub framework: String,
    /// `myapp.marathon.l4lb.thisdcos.directory` for a named VIP; empty for an IP VIP.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dns_name: String,
    /// The address clients connect to (allocated from `--vip-range` for named VIPs).
    pub ip: String,
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    pub backends: Vec<VipBackend>,
}

/// A task behind a VIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipBackend {
    pub task_id: String,
    pub ip: String,
    pub port: u16,
    /// Running, and healthy if the task has health checks.
    pub healthy: bool,
    /// 1 when healthy, 0 otherwise (dcos-l4lb's weights).
    pub weight: u32,
}

/// A VIP label that was stored but cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipProblem {
    pub task_id: String,
    /// The label's key (`VIP_0`, `VIP_PORT1`).
    pub key: String,
    pub value: String,
    pub message: String,
}
