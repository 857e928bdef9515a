//! One task in Marathon's shape as a borrowed, serializable struct: written straight to
//! bytes in lists (no intermediate `serde_json::Value` per task), or turned into a `Value`.

use crate::instance::InstanceRecord;
use keel_api::marathon::{AppDefinition, format_ts};
use keel_master::TaskView;
use keel_model::TaskState;
use serde::Serialize;

/// A task of `/v2/tasks`, `/v2/apps/{id}/tasks` and AppInfo `tasks`. Fields are in the
/// order of their JSON names, as a `Value` object would list them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskJson<'a> {
    app_id: String,
    health_check_results: Vec<HealthResult<'a>>,
    host: &'a str,
    id: &'a str,
    ip_addresses: Vec<IpAddress>,
    local_volumes: [u8; 0],
    ports: &'a [u64],
    role: &'a str,
    service_ports: Vec<i64>,
    slave_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    staged_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
    state: &'static str,
    version: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HealthResult<'a> {
    alive: bool,
    consecutive_failures: u32,
    instance_id: &'a str,
    task_id: &'a str,
}

/// Marathon's `ipAddresses` entry for host networking: the agent's address.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IpAddress {
    ip_address: String,
    protocol: &'static str,
}

/// `ipAddresses` of a task on the agent at `ip` (host networking), in tasks and events.
pub(crate) fn ip_addresses(ip: Option<std::net::IpAddr>) -> Vec<IpAddress> {
    ip.map(|ip| IpAddress {
        ip_address: ip.to_string(),
        protocol: if ip.is_ipv4() { "IPv4" } else { "IPv6" },
    })
    .into_iter()
    .collect()
}

fn ts(secs: f64) -> String {
    format_ts((secs * 1000.0) as i64)
}

impl<'a> TaskJson<'a> {
    /// The task of instance `rec`, with its view `t` if the master knows it; ports, stage
    /// and start times only while it is active.
    pub fn new(
        rec: &'a InstanceRecord,
        t: Option<&'a TaskView>,
        app: Option<&'a AppDefinition>,
    ) -> TaskJson<'a> {
        let state = t.map(|t| t.state).unwrap_or(TaskState::Staging);
        let active = t.is_some_and(|t| !t.state.is_terminal());
        let mut service_ports: Vec<i64> = app.map(|a| a.service_ports()).unwrap_or_default();
        while service_ports.len() < rec.ports.len() {
            service_ports.push(0);
        }
        let health_check_results = match t.and_then(|t| t.healthy) {
            Some(alive) => vec![HealthResult {
                alive,
                consecutive_failures: if alive { 0 } else { 1 },
                instance_id: &rec.id,
                task_id: rec.task_id.as_str(),
            }],
            None => Vec::new(),
        };
        let ip_addresses = ip_addresses(t.and_then(|t| t.agent_ip));
        TaskJson {
            app_id: rec.run_spec.to_string(),
            health_check_results,
            host: &rec.hostname,
            id: rec.task_id.as_str(),
            ip_addresses,
            local_volumes: [],
            ports: if active { &rec.ports } else { &[] },
            role: app.map_or("*", |a| a.role.as_str()),
            service_ports,
            slave_id: &rec.agent_id,
            staged_at: active.then(|| ts(rec.staged_at)),
            started_at: t.and_then(|t| t.started_at).filter(|_| active).map(ts),
            state: state.as_str(),
            version: &rec.version,
        }
    }
}
