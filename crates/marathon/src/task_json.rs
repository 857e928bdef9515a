//! One task in Marathon's shape: the borrowed `keel-api` [`TaskRef`] filled from an
//! instance and the master's view of its task, written straight to bytes in lists (no
//! intermediate `serde_json::Value` per task).

use crate::instance::InstanceRecord;
use keel_api::marathon::task::{HealthRef, IpRef, TaskRef};
use keel_api::marathon::{AppDefinition, format_ts};
use keel_master::TaskView;
use keel_model::TaskState;

/// A task of `/v2/tasks`, `/v2/apps/{id}/tasks` and AppInfo `tasks`.
pub type TaskJson<'a> = TaskRef<'a>;

/// `ipAddresses` of a task with addresses `ips` (the container's, else the agent's: see
/// [`TaskView::ip_addresses`]), in tasks and events.
pub(crate) fn ip_addresses(ips: &[std::net::IpAddr]) -> Vec<IpRef> {
    ips.iter()
        .map(|ip| IpRef {
            ip_address: ip.to_string(),
            protocol: if ip.is_ipv4() { "IPv4" } else { "IPv6" },
        })
        .collect()
}

fn ts(secs: f64) -> String {
    format_ts((secs * 1000.0) as i64)
}

/// The task of instance `rec`, with its view `t` if the master knows it; ports, stage and
/// start times only while it is active.
pub fn task_ref<'a>(
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
        Some(alive) => vec![HealthRef {
            alive,
            consecutive_failures: if alive { 0 } else { 1 },
            instance_id: &rec.id,
            task_id: rec.task_id.as_str(),
        }],
        None => Vec::new(),
    };
    TaskRef {
        app_id: rec.run_spec.to_string(),
        health_check_results,
        host: &rec.hostname,
        id: rec.task_id.as_str(),
        ip_addresses: ip_addresses(&t.map(TaskView::ip_addresses).unwrap_or_default()),
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
