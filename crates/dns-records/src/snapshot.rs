//! The inputs: what the record set is computed from (a snapshot of the master's state and
//! the VIP table), and the zone settings.

use core::net::IpAddr;
use keel_model::Discovery;

/// An address and port (the leader's, a framework's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// One agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEntry {
    pub id: String,
    pub ip: Option<IpAddr>,
    pub port: u16,
}

/// One framework (scheduler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameworkEntry {
    pub name: String,
    /// The framework's host (PID host, or hostname for HTTP frameworks).
    pub ip: Option<IpAddr>,
    /// The PID port (PID frameworks only): `_framework._tcp.<fw>.mesos`.
    pub port: Option<u16>,
}

/// One task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEntry {
    pub id: String,
    pub name: String,
    pub framework: String,
    pub agent_id: String,
    /// TASK_RUNNING: only running tasks get records.
    pub running: bool,
    pub has_health_checks: bool,
    /// The latest health verdict (None: none yet).
    pub healthy: Option<bool>,
    /// The host ports assigned to the task (its `ports` resource), PORT0 first.
    pub host_ports: Vec<u16>,
    /// Container IPs (netinfo), when the task has its own network address.
    pub container_ips: Vec<IpAddr>,
    pub discovery: Option<Discovery>,
}

/// A named VIP (from the VIP table): `<label(name)>.<label(framework)>.l4lb.thisdcos.directory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedVip {
    /// The VIP name as the label gave it (`/myapp`).
    pub name: String,
    pub framework: String,
    pub ip: IpAddr,
}

/// A snapshot of the cluster, as the DNS service reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub leader: Option<Endpoint>,
    /// Every master's address (the leader included).
    pub masters: Vec<IpAddr>,
    pub agents: Vec<AgentEntry>,
    pub frameworks: Vec<FrameworkEntry>,
    pub tasks: Vec<TaskEntry>,
    /// The hook for `l4lb.thisdcos.directory`: filled from the VIP table.
    pub vips: Vec<NamedVip>,
    /// The DNS server's own addresses (`ns1.mesos`).
    pub dns_ips: Vec<IpAddr>,
}

/// Zone settings (Mesos-DNS's config keys, §6.1 of the reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneConfig {
    /// The Mesos-DNS domain, lower case, no dots around: `mesos`.
    pub domain: String,
    /// TTL of the Mesos-DNS zone's answers (60).
    pub ttl: u32,
    /// TTL of the `thisdcos.directory` zone's answers (5).
    pub dcos_ttl: u32,
    pub enforce_rfc952: bool,
    /// Hide tasks that have health checks and no healthy verdict yet (or an unhealthy one).
    pub hide_unhealthy: bool,
    pub srv_weight: u16,
    pub soa_mname: String,
    pub soa_rname: String,
    pub soa_refresh: u32,
    pub soa_retry: u32,
    pub soa_expire: u32,
    pub soa_minttl: u32,
}

impl Default for ZoneConfig {
    fn default() -> Self {
        ZoneConfig {
            domain: "mesos".into(),
            ttl: 60,
            dcos_ttl: 5,
            enforce_rfc952: false,
            hide_unhealthy: false,
            srv_weight: 1,
            soa_mname: "ns1.mesos".into(),
            soa_rname: "root.ns1.mesos".into(),
            soa_refresh: 60,
            soa_retry: 600,
            soa_expire: 86400,
            soa_minttl: 60,
        }
    }
}
