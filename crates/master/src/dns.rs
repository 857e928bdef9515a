//! What the DNS service reads from the master: a snapshot of agents, frameworks and tasks
//! in `keel-dns-records`' terms, and a cheap cursor that moves whenever one of them changes.

use crate::Master;
use keel_dns_records::{AgentEntry, Endpoint, FrameworkEntry, Snapshot, TaskEntry};
use keel_model::TaskState;
use std::net::{IpAddr, Ipv4Addr};

/// Moves whenever a task changes or an agent (re-)registers or leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DnsCursor {
    tasks: u64,
    generation: u64,
    agents: usize,
}

impl Master {
    /// The cursor of the state [`Master::dns_snapshot`] reads: poll it (one lock, no copy)
    /// and take a snapshot only when it moved.
    pub fn dns_cursor(&self) -> DnsCursor {
        self.with_core(|c| DnsCursor {
            tasks: c.changes.head(),
            generation: c.next_generation,
            agents: c.agents.len(),
        })
    }

    /// The cluster as the DNS records see it, with the cursor it was taken at.
    pub fn dns_snapshot(&self) -> (DnsCursor, Snapshot) {
        let leader_ip = match self.advertise.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        let leader = Endpoint {
            ip: leader_ip,
            port: self.advertise.port(),
        };
        let cursor = self.dns_cursor();
        let snap = self.with_core(|c| Snapshot {
            leader: Some(leader),
            masters: vec![leader_ip],
            agents: (c.agents.values())
                .map(|a| AgentEntry {
                    id: a.rec.id.to_string(),
                    ip: a.rec.ip(),
                    port: agent_port(&a.rec.endpoint),
                })
                .collect(),
            // The schedulers run beside the master and are served on its entry.
            frameworks: (c.frameworks.values())
                .map(|f| FrameworkEntry {
                    name: f.name.clone(),
                    ip: Some(leader_ip),
                    port: Some(leader.port),
                })
                .collect(),
            tasks: (c.tasks.values())
                .filter(|t| t.state == TaskState::Running)
                .map(|t| TaskEntry {
                    id: t.spec.id.to_string(),
                    name: t.spec.name.clone(),
                    framework: t.framework_name.clone(),
                    agent_id: t.agent_id.to_string(),
                    running: true,
                    has_health_checks: !t.spec.health_checks.is_empty(),
                    healthy: t.healthy,
                    host_ports: t.spec.host_ports(),
                    container_ips: t.container_ips.clone(),
                    discovery: t.spec.discovery.clone(),
                })
                .collect(),
            vips: Vec::new(),
            dns_ips: Vec::new(),
        });
        (cursor, snap)
    }
}

/// The port of an agent endpoint such as `http://10.0.0.2:5051` (5051 if none).
fn agent_port(endpoint: &str) -> u16 {
    endpoint
        .rsplit_once(':')
        .and_then(|(_, p)| p.trim_end_matches('/').parse().ok())
        .unwrap_or(5051)
}
