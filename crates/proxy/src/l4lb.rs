//! The VIP (L4) load balancer of every node, a userspace proxy in tokio: for each
//! `VIP:port/protocol` of the master's table it binds the VIP address (inside 127.0.0.0/8
//! any address binds without configuration) and forwards each TCP connection or UDP flow
//! to a healthy backend, round robin. A TCP connect that fails moves on to the next
//! backend, so a client never sees the failure of a backend that just died. The table
//! comes from the master's long poll (`GET /internal/v1/vips?after=`), so a killed or
//! unhealthy backend leaves the set as soon as the master publishes the change.

mod pool;
mod tcp;
mod udp;

pub use pool::Pool;

use keel_api::vips::VipTable;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// A VIP's transport and address.
type Key = (String, IpAddr, u16);

/// One bound VIP.
struct Service {
    pool: Arc<Pool>,
    task: tokio::task::JoinHandle<()>,
}

/// The VIPs this node serves.
#[derive(Default)]
pub struct L4lb {
    services: BTreeMap<Key, Service>,
}

impl Drop for L4lb {
    fn drop(&mut self) {
        for s in self.services.values() {
            s.task.abort();
        }
    }
}

impl L4lb {
    /// Brings the bound VIPs and their backends in line with `table`: new VIPs are bound,
    /// gone ones closed, the others get the table's healthy backends. Returns the VIPs
    /// that could not be bound (retried on the next table).
    pub async fn apply(&mut self, table: &VipTable) -> Vec<String> {
        let mut wanted: BTreeMap<Key, Vec<SocketAddr>> = BTreeMap::new();
        let mut errors = Vec::new();
        for v in &table.vips {
            let Ok(ip) = v.ip.parse::<IpAddr>() else {
                errors.push(format!("VIP address {:?} is not an IP address", v.ip));
                continue;
            };
            let backends = v
                .backends
                .iter()
                .filter(|b| b.weight > 0)
                .filter_map(|b| {
                    b.ip.parse::<IpAddr>()
                        .ok()
                        .map(|ip| SocketAddr::new(ip, b.port))
                })
                .collect();
            wanted.insert((v.protocol.clone(), ip, v.port), backends);
        }
        self.services.retain(|k, s| {
            let keep = wanted.contains_key(k);
            if !keep {
                s.task.abort();
            }
            keep
        });
        for (key, backends) in wanted {
            if let Some(s) = self.services.get(&key) {
                s.pool.set(backends);
                continue;
            }
            let pool = Arc::new(Pool::new(backends));
            let addr = SocketAddr::new(key.1, key.2);
            let task = match key.0.as_str() {
                "udp" => udp::bind(addr, pool.clone()).await,
                _ => tcp::bind(addr, pool.clone()).await,
            };
            match task {
                Ok(task) => {
                    self.services.insert(key, Service { pool, task });
                }
                Err(e) => errors.push(format!("binding VIP {addr}/{}: {e}", key.0)),
            }
        }
        errors
    }

    /// How many VIPs are bound.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}

/// Follows the master's VIP table at `master` (e.g. `http://127.0.0.1:5050`) and serves
/// it. Runs until dropped.
pub async fn run(master: String) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("VIP load balancer: {e}");
            return;
        }
    };
    let mut lb = L4lb::default();
    let mut version: Option<u64> = None;
    let mut last_errors = Vec::new();
    loop {
        let url = match version {
            Some(v) => format!("{master}/internal/v1/vips?after={v}"),
            None => format!("{master}/internal/v1/vips"),
        };
        let table = match fetch(&http, &url).await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!("VIP table from {url}: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        if version == Some(table.version) {
            continue;
        }
        version = Some(table.version);
        let errors = lb.apply(&table).await;
        if errors != last_errors {
            for e in &errors {
                tracing::warn!("{e}");
            }
            last_errors = errors;
        }
    }
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<VipTable, String> {
    let r = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("status {}", r.status()));
    }
    let body = r.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
