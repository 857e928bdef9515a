//! Keel's DNS service: serves the Mesos-DNS zone and the dcos-dns zone (computed by
//! `keel-dns-records`) over UDP and TCP, forwards other names to upstream resolvers, keeps
//! the records current from the master's change cursor (a rebuild within ~100 ms of a task
//! change), and serves the Mesos-DNS HTTP API. Agents run its relay (`--task-dns`), which
//! passes their tasks' queries to the master's server.
//!
//! Architecture Invariant: no decision lives here beyond wire handling: which names exist
//! and what they hold is `keel-dns-records`' answer; a packet never crashes the server.

#![forbid(unsafe_code)]

mod answer;
mod fast;
#[cfg(test)]
mod fast_tests;
mod follow;
mod http;
mod relay;
mod server;

pub use answer::{MAX_UDP_PAYLOAD, Outcome, answer};
pub use follow::{follow, named_vips};
pub use http::{root_router, router};
pub use keel_dns_records::ZoneConfig;
pub use relay::relay;
pub use server::serve;

use keel_dns_records::RecordSet;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How the DNS service runs.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// UDP and TCP address of the DNS server.
    pub listen: SocketAddr,
    /// Upstreams for names outside Keel's zones (none: REFUSED).
    pub resolvers: Vec<SocketAddr>,
    /// Per-zone upstreams (zone FQDN lower case with the trailing dot), longest match wins.
    pub zone_resolvers: Vec<(String, Vec<SocketAddr>)>,
    /// Upstream query timeout.
    pub timeout: Duration,
    pub zone: ZoneConfig,
}

impl DnsConfig {
    /// Mesos-DNS's defaults on `listen`, no upstreams.
    pub fn new(listen: SocketAddr) -> Self {
        DnsConfig {
            listen,
            resolvers: Vec::new(),
            zone_resolvers: Vec::new(),
            timeout: Duration::from_secs(5),
            zone: ZoneConfig::default(),
        }
    }
}

/// The current record set, shared by the listeners, the HTTP API and the follower.
#[derive(Clone, Default)]
pub struct Records(Arc<RwLock<Arc<RecordSet>>>);

impl Records {
    /// The record set now (a cheap clone of an `Arc`).
    pub fn current(&self) -> Arc<RecordSet> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the record set.
    pub fn replace(&self, set: RecordSet) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
    }
}

/// Parses `ip:port,ip:port` (port 53 when left out).
pub fn parse_resolvers(s: &str) -> Result<Vec<SocketAddr>, DnsError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<SocketAddr>()
                .or_else(|_| {
                    p.parse::<std::net::IpAddr>()
                        .map(|ip| SocketAddr::new(ip, 53))
                })
                .map_err(|_| DnsError::Resolver(p.to_string()))
        })
        .collect()
}

/// Parses `zone=ip:port,ip:port;zone2=ip` into per-zone upstreams.
pub fn parse_zone_resolvers(s: &str) -> Result<Vec<(String, Vec<SocketAddr>)>, DnsError> {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (zone, list) = p
                .split_once('=')
                .ok_or_else(|| DnsError::ZoneResolver(p.to_string()))?;
            let zone = format!("{}.", zone.trim().trim_matches('.').to_lowercase());
            Ok((zone, parse_resolvers(list)?))
        })
        .collect()
}

/// Errors of the DNS service's configuration.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("resolver {0:?} is not an address (ip or ip:port)")]
    Resolver(String),
    #[error("zone resolver {0:?} is not zone=ip:port,...")]
    ZoneResolver(String),
}
