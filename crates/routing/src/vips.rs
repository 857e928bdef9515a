//! The VIP table (dcos-l4lb's): from the running tasks, with their discovery ports, legacy
//! `VIP_PORT<n>` labels, agent IPs, host ports, container IPs and health, which
//! `VIP:port/protocol` sends to which backends. Named VIPs take their address from the
//! allocations the service holds (and [`plan`] proposes the new ones); bad labels become
//! [`VipProblem`]s and never disturb other VIPs.

mod alloc;
mod label;

pub use alloc::{Allocation, NameKey, RangeError, VipRange, allocate};
pub use label::{Protocol, VipLabel, VipTarget, dns_name, label, parse_legacy, parse_vip};

use core::net::{IpAddr, Ipv4Addr};
use keel_model::Discovery;
use std::collections::{BTreeMap, BTreeSet};

/// What the table needs to know of one task.
#[derive(Debug, Clone, Default)]
pub struct VipTask {
    pub id: String,
    /// The framework's name (`marathon`): named VIPs are keyed by (framework, name).
    pub framework: String,
    /// TASK_RUNNING: only running tasks are backends.
    pub running: bool,
    /// Whether the task has health checks: then it counts only once healthy.
    pub has_health_checks: bool,
    /// The latest health verdict.
    pub healthy: Option<bool>,
    pub agent_ip: Option<IpAddr>,
    pub container_ips: Vec<IpAddr>,
    /// The assigned host ports, PORT0 first.
    pub host_ports: Vec<u16>,
    pub discovery: Option<Discovery>,
    pub labels: BTreeMap<String, String>,
}

/// One backend of a VIP.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Backend {
    pub ip: IpAddr,
    pub port: u16,
    pub task: String,
    pub healthy: bool,
}

impl Backend {
    /// 1 when healthy, 0 otherwise (dcos-l4lb's weights).
    pub fn weight(&self) -> u32 {
        u32::from(self.healthy)
    }
}

/// One VIP: an address, port and protocol and the backends behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub address: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
    /// For named VIPs: the name as written (`/myapp`), its framework and DNS name.
    pub name: Option<String>,
    pub framework: Option<String>,
    pub dns_name: Option<String>,
    /// Sorted, each (ip, port) once.
    pub backends: Vec<Backend>,
}

/// A label that could not become a VIP (Marathon stores it anyway).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VipProblem {
    pub task: String,
    /// The label key (`VIP_0`, `VIP_PORT1`) and value as given.
    pub label: String,
    pub value: String,
    pub message: String,
}

/// The table: VIPs sorted by (address, port, protocol), and the problems.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VipTable {
    pub vips: Vec<Vip>,
    pub problems: Vec<VipProblem>,
}

/// A [`VipTable`] and the named-VIP addresses it needed that were not held yet.
#[derive(Debug, Default)]
pub struct VipPlan {
    pub table: VipTable,
    /// New allocations: persist them before publishing the table.
    pub allocate: BTreeMap<NameKey, Ipv4Addr>,
}

/// One VIP a task port declares, before addresses are resolved.
#[derive(Debug, Clone)]
struct Claim {
    target: VipTarget,
    framework: String,
    port: u16,
    protocol: Protocol,
    backend: Backend,
}

/// Computes the table from `tasks`, with named VIPs at their `held` addresses, new names
/// allocated from `range`.
pub fn plan(tasks: &[VipTask], held: &BTreeMap<NameKey, Ipv4Addr>, range: VipRange) -> VipPlan {
    let mut claims = Vec::new();
    let mut problems = Vec::new();
    for t in tasks.iter().filter(|t| t.running) {
        claims_of(t, &mut claims, &mut problems);
    }
    let wanted: BTreeSet<NameKey> = claims
        .iter()
        .filter_map(|c| match &c.target {
            VipTarget::Named(n) => Some((c.framework.clone(), n.clone())),
            VipTarget::Ip(_) => None,
        })
        .collect();
    let taken: BTreeSet<Ipv4Addr> = claims
        .iter()
        .filter_map(|c| match c.target {
            VipTarget::Ip(IpAddr::V4(ip)) => Some(ip),
            _ => None,
        })
        .collect();
    let alloc = allocate(range, held, &taken, &wanted);
    let address = |k: &NameKey| {
        alloc
            .new
            .get(k)
            .or_else(|| held.get(k).filter(|ip| range.contains(**ip)))
            .copied()
    };
    let mut vips: BTreeMap<(IpAddr, u16, Protocol), Vip> = BTreeMap::new();
    for c in claims {
        let (addr, name) = match &c.target {
            VipTarget::Ip(ip) => (*ip, None),
            VipTarget::Named(n) => {
                let k = (c.framework.clone(), n.clone());
                match address(&k) {
                    Some(ip) => (IpAddr::V4(ip), Some(n.clone())),
                    None => {
                        problems.push(VipProblem {
                            task: c.backend.task.clone(),
                            label: String::new(),
                            value: format!("{n}:{}", c.port),
                            message: format!("VIP range {range} has no free address for {n}"),
                        });
                        continue;
                    }
                }
            }
        };
        let vip = vips
            .entry((addr, c.port, c.protocol))
            .or_insert_with(|| Vip {
                address: addr,
                port: c.port,
                protocol: c.protocol,
                dns_name: name.as_ref().map(|n| dns_name(n, &c.framework)),
                framework: name.as_ref().map(|_| c.framework.clone()),
                name,
                backends: Vec::new(),
            });
        vip.backends.push(c.backend);
    }
    let vips = vips
        .into_values()
        .map(|mut v| {
            v.backends.sort();
            v.backends.dedup_by(|a, b| a.ip == b.ip && a.port == b.port);
            v
        })
        .collect();
    problems.sort();
    VipPlan {
        table: VipTable { vips, problems },
        allocate: alloc.new,
    }
}

/// Whether a task is a healthy backend: with health checks only once healthy, without
/// them unless a verdict said unhealthy.
fn healthy(t: &VipTask) -> bool {
    if t.has_health_checks {
        t.healthy == Some(true)
    } else {
        t.healthy != Some(false)
    }
}

fn claims_of(t: &VipTask, claims: &mut Vec<Claim>, problems: &mut Vec<VipProblem>) {
    let problem = |key: &str, value: &str, message: String| VipProblem {
        task: t.id.clone(),
        label: key.to_string(),
        value: value.to_string(),
        message,
    };
    for p in t.discovery.iter().flat_map(|d| d.ports.iter()) {
        for (key, value) in p.labels.iter().filter(|(k, _)| label::is_vip_key(k)) {
            let claim = port_claim(t, p).and_then(|(protocol, backends)| {
                let v = parse_vip(value)?;
                Ok((v, protocol, backends))
            });
            match claim {
                Ok((v, protocol, backends)) => push(claims, t, v, protocol, backends),
                Err(m) => problems.push(problem(key, value, m)),
            }
        }
    }
    for (key, value) in &t.labels {
        let Some(index) = label::legacy_index(key) else {
            continue;
        };
        let claim = index.and_then(|i| {
            let (protocol, v) = parse_legacy(value)?;
            let port = t
                .host_ports
                .get(i)
                .copied()
                .ok_or_else(|| format!("task has no host port {i}"))?;
            let ip = t
                .agent_ip
                .ok_or_else(|| "the task's agent has no IP address".to_string())?;
            Ok((v, protocol, vec![(ip, port)]))
        });
        match claim {
            Ok((v, protocol, backends)) => push(claims, t, v, protocol, backends),
            Err(m) => problems.push(problem(key, value, m)),
        }
    }
}

fn push(
    claims: &mut Vec<Claim>,
    t: &VipTask,
    v: VipLabel,
    protocol: Protocol,
    backends: Vec<(IpAddr, u16)>,
) {
    for (ip, port) in backends {
        claims.push(Claim {
            target: v.target.clone(),
            framework: t.framework.clone(),
            port: v.port,
            protocol,
            backend: Backend {
                ip,
                port,
                task: t.id.clone(),
                healthy: healthy(t),
            },
        });
    }
}

/// The protocol and backends of a discovery port: (agent IP, number) for
/// `network-scope=host` (the default), (each container IP, number) for `container`.
fn port_claim(
    t: &VipTask,
    p: &keel_model::DiscoveryPort,
) -> Result<(Protocol, Vec<(IpAddr, u16)>), String> {
    let proto = if p.protocol.is_empty() {
        "tcp"
    } else {
        &p.protocol
    };
    let protocol = Protocol::parse(proto)
        .ok_or_else(|| format!("port protocol {proto:?} is neither tcp nor udp"))?;
    let port = u16::try_from(p.number)
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| format!("discovery port {} is not a usable port", p.number))?;
    let scope = p.labels.get("network-scope").map_or("host", String::as_str);
    let ips = if scope == "container" {
        if t.container_ips.is_empty() {
            return Err("container-scoped port but the task has no container IP".into());
        }
        t.container_ips.clone()
    } else {
        vec![
            t.agent_ip
                .ok_or_else(|| "the task's agent has no IP address".to_string())?,
        ]
    };
    Ok((protocol, ips.into_iter().map(|ip| (ip, port)).collect()))
}

#[cfg(test)]
mod tests;
