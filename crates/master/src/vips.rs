//! The VIP service beside the master: computes the VIP table (`keel-routing::vips`) from
//! the master's running tasks whenever a task changes, persists the addresses of new named
//! VIPs (`/keel/vips/<framework>/<name>`) before publishing, and serves the table at
//! `GET /internal/v1/vips`, a long poll (`?after=<version>`) that agents' load balancers
//! and `keel vip list` read.

use crate::Master;
use crate::error::MasterError;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use keel_api::vips as wire;
use keel_model::TaskState;
use keel_routing::vips::{NameKey, VipRange, VipTable, VipTask, plan};
use keel_store::Expect;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Where named-VIP allocations live in the master's store.
pub const VIPS: &str = "/keel/vips/";

/// How often the service looks at the master's change counter.
const POLL: Duration = Duration::from_millis(100);

/// The longest a long poll waits for a change.
const LONG_POLL: Duration = Duration::from_secs(20);

/// One persisted named-VIP address.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct VipAllocation {
    framework: String,
    name: String,
    address: Ipv4Addr,
}

/// The running VIP service: a handle to the latest table.
#[derive(Clone)]
pub struct Vips {
    master: Master,
    range: VipRange,
    held: Arc<Mutex<BTreeMap<NameKey, Ipv4Addr>>>,
    table: Arc<watch::Sender<Arc<wire::VipTable>>>,
}

impl Vips {
    /// Opens the service over `master`, loading the named-VIP allocations from its store.
    pub fn open(master: &Master, range: VipRange) -> Result<Vips, MasterError> {
        let store = master.with_core(|c| c.io.store.clone());
        let mut held = BTreeMap::new();
        for kv in store.list(VIPS)? {
            match serde_json::from_slice::<VipAllocation>(&kv.value) {
                Ok(a) => {
                    held.insert((a.framework, a.name), a.address);
                }
                Err(e) => tracing::warn!("ignoring VIP allocation {}: {e}", kv.key),
            }
        }
        let (tx, _) = watch::channel(Arc::new(wire::VipTable::default()));
        let vips = Vips {
            master: master.clone(),
            range,
            held: Arc::new(Mutex::new(held)),
            table: Arc::new(tx),
        };
        vips.refresh()?;
        Ok(vips)
    }

    /// The latest table; `changed()` on the receiver wakes on every new version.
    pub fn subscribe(&self) -> watch::Receiver<Arc<wire::VipTable>> {
        self.table.subscribe()
    }

    /// Recomputes the table whenever a task changed (checked every 100 ms). Runs forever.
    pub async fn run(self) {
        let mut seen = u64::MAX;
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let head = self.master.with_core(|c| c.changes.head());
            if head == seen {
                continue;
            }
            seen = head;
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.refresh()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!("VIP table: {e}");
                    seen = u64::MAX;
                }
                Err(e) => tracing::error!("VIP table: {e}"),
            }
        }
    }

    /// Computes the table, persists new allocations, publishes it if it changed.
    fn refresh(&self) -> Result<(), MasterError> {
        let (tasks, store) = self
            .master
            .with_core(|c| (vip_tasks(c), c.io.store.clone()));
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let p = plan(&tasks, &held, self.range);
        for ((framework, name), address) in &p.allocate {
            let rec = VipAllocation {
                framework: framework.clone(),
                name: name.clone(),
                address: *address,
            };
            let key = format!("{VIPS}{framework}/{name}");
            let value = serde_json::to_vec(&rec).map_err(|e| MasterError::Corrupt {
                key: key.clone(),
                reason: e.to_string(),
            })?;
            store.put(&key, &value, Expect::Any)?;
            held.insert((framework.clone(), name.clone()), *address);
        }
        drop(held);
        let current = self.table.borrow().clone();
        let mut next = to_wire(&p.table, current.version);
        if next.vips != current.vips || next.problems != current.problems {
            next.version = current.version + 1;
            self.table.send_replace(Arc::new(next));
        }
        Ok(())
    }

    /// `GET /internal/v1/vips[?after=<version>]`.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/internal/v1/vips", axum::routing::get(list))
            .with_state(self.clone())
    }
}

/// The table now, or (with `after`) as soon as its version passes `after`, at most 20 s on.
async fn list(State(v): State<Vips>, Query(q): Query<HashMap<String, String>>) -> Response {
    let after = q.get("after").and_then(|a| a.parse::<u64>().ok());
    let mut rx = v.subscribe();
    if let Some(after) = after {
        let _ = tokio::time::timeout(LONG_POLL, rx.wait_for(|t| t.version > after)).await;
    }
    let table = rx.borrow().clone();
    axum::Json(table.as_ref().clone()).into_response()
}

/// The inputs of the table: every running task, with its agent's IP.
fn vip_tasks(c: &crate::Core) -> Vec<VipTask> {
    c.tasks
        .values()
        .filter(|t| t.state == TaskState::Running)
        .filter(|t| {
            t.spec.discovery.is_some()
                || t.spec
                    .labels
                    .keys()
                    .any(|k| k.to_ascii_uppercase().starts_with("VIP_PORT"))
        })
        .map(|t| VipTask {
            id: t.spec.id.to_string(),
            framework: t.framework_name.clone(),
            running: true,
            has_health_checks: !t.spec.health_checks.is_empty(),
            healthy: t.healthy,
            agent_ip: c.agents.get(&t.agent_id).and_then(|a| a.rec.ip()),
            container_ips: t.container_ips.clone(),
            host_ports: t.spec.host_ports(),
            discovery: t.spec.discovery.clone(),
            labels: t.spec.labels.clone(),
        })
        .collect()
}

fn to_wire(t: &VipTable, version: u64) -> wire::VipTable {
    wire::VipTable {
        version,
        vips: t
            .vips
            .iter()
            .map(|v| wire::Vip {
                label: v.name.clone().unwrap_or_else(|| v.address.to_string()),
                framework: v.framework.clone().unwrap_or_default(),
                dns_name: v.dns_name.clone().unwrap_or_default(),
                ip: v.address.to_string(),
                port: v.port,
                protocol: v.protocol.as_str().to_string(),
                backends: v
                    .backends
                    .iter()
                    .map(|b| wire::VipBackend {
                        task_id: b.task.clone(),
                        ip: b.ip.to_string(),
                        port: b.port,
                        healthy: b.healthy,
                        weight: b.weight(),
                    })
                    .collect(),
            })
            .collect(),
        problems: t
            .problems
            .iter()
            .map(|p| wire::VipProblem {
                task_id: p.task.clone(),
                key: p.label.clone(),
                value: p.value.clone(),
                message: p.message.clone(),
            })
            .collect(),
    }
}
