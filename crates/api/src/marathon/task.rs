//! Task JSON (`{"tasks":[...]}`, `{"task":{...}}`, app `tasks`) with exactly the keys
//! marathon-python 0.13.0 accepts, health check results, and the app's `lastTaskFailure`.

use super::path_id::PathId;
use super::time::Timestamp;
use keel_model::TaskState;
use serde::{Deserialize, Serialize, Serializer};

/// `{"ipAddress": "10.0.0.1", "protocol": "IPv4"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddress {
    pub ip_address: String,
    pub protocol: String,
}

impl IpAddress {
    /// Picks `IPv6` for addresses with a colon, else `IPv4`.
    pub fn new(ip: &str) -> IpAddress {
        let protocol = if ip.contains(':') { "IPv6" } else { "IPv4" };
        IpAddress {
            ip_address: ip.to_owned(),
            protocol: protocol.to_owned(),
        }
    }
}

/// A persistent volume of a resident task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalVolume {
    pub container_path: String,
    pub persistence_id: String,
}

/// One health check's state for one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthResult {
    pub alive: bool,
    pub consecutive_failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_success: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_cause: Option<String>,
    pub instance_id: String,
}

/// A task as Marathon shows it. Serializes exactly the keys of marathon-python's
/// `MarathonTask`; `servicePorts` is padded with zeros to at least the length of `ports`
/// (the client indexes it by port position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarathonTask {
    pub id: String,
    pub app_id: PathId,
    pub host: String,
    pub slave_id: String,
    pub state: TaskState,
    /// Left out while the task is not active.
    pub staged_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    /// The app version the task runs.
    pub version: Timestamp,
    pub ports: Vec<u32>,
    pub service_ports: Vec<u32>,
    pub ip_addresses: Vec<IpAddress>,
    pub health_check_results: Vec<HealthResult>,
    pub local_volumes: Vec<LocalVolume>,
    pub region: Option<String>,
    pub zone: Option<String>,
    pub role: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskWire<'a> {
    id: &'a str,
    app_id: &'a PathId,
    host: &'a str,
    slave_id: &'a str,
    state: TaskState,
    #[serde(skip_serializing_if = "Option::is_none")]
    staged_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<Timestamp>,
    version: Timestamp,
    ports: &'a [u32],
    service_ports: Vec<u32>,
    ip_addresses: &'a [IpAddress],
    health_check_results: &'a [HealthResult],
    local_volumes: &'a [LocalVolume],
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zone: Option<&'a str>,
    role: &'a str,
}

impl Serialize for MarathonTask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut service_ports = self.service_ports.clone();
        if service_ports.len() < self.ports.len() {
            service_ports.resize(self.ports.len(), 0);
        }
        TaskWire {
            id: &self.id,
            app_id: &self.app_id,
            host: &self.host,
            slave_id: &self.slave_id,
            state: self.state,
            staged_at: self.staged_at,
            started_at: self.started_at,
            version: self.version,
            ports: &self.ports,
            service_ports,
            ip_addresses: &self.ip_addresses,
            health_check_results: &self.health_check_results,
            local_volumes: &self.local_volumes,
            region: self.region.as_deref(),
            zone: self.zone.as_deref(),
            role: &self.role,
        }
        .serialize(s)
    }
}

/// The app's `lastTaskFailure`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskFailure {
    pub app_id: PathId,
    pub host: String,
    pub message: String,
    pub state: TaskState,
    pub task_id: String,
    pub timestamp: Timestamp,
    pub version: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slave_id: Option<String>,
}

/// A task as Keel's Marathon shows it in `/v2/tasks`, `/v2/apps/{id}/tasks` and AppInfo
/// `tasks`, borrowed from its state (fields in the order of their JSON names); stage and
/// start times are left out while the task is not active.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRef<'a> {
    pub app_id: String,
    pub health_check_results: Vec<HealthRef<'a>>,
    pub host: &'a str,
    pub id: &'a str,
    pub ip_addresses: Vec<IpRef>,
    pub local_volumes: [LocalVolume; 0],
    pub ports: &'a [u64],
    pub role: &'a str,
    pub service_ports: Vec<i64>,
    pub slave_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staged_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    pub state: &'static str,
    pub version: &'a str,
}

/// A task's health as Keel knows it: alive or not, one failure when not.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthRef<'a> {
    pub alive: bool,
    pub consecutive_failures: u32,
    pub instance_id: &'a str,
    pub task_id: &'a str,
}

/// An `ipAddresses` entry (host networking: the agent's address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpRef {
    pub ip_address: String,
    pub protocol: &'static str,
}
