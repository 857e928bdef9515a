//! The agent's HTTP endpoint: `/state` (also `/slave(1)/state`), `/files/*`, `/health`,
//! `/version`, `/metrics/snapshot`, dcos-metrics' `/system/v1/metrics/v0/...` and the
//! Prometheus text at `/metrics/prometheus`, Keel's `POST /images/load`, dcos-log's task
//! routes (`keel_logs::http`) over the sandboxes and its component routes over the node's
//! journal (`keel_logs::component`).

use crate::files::{self, FilesError};
use crate::{Agent, metrics};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keel_api::mesos::{
    AgentExecutor, AgentFramework, AgentState, ContainerStatus, IdValue, Status, Task,
    attributes_json, resources_summary,
};
use keel_resources::Resources;
use serde_json::{Map, json};
use std::collections::{BTreeMap, HashMap};

type Q = Query<HashMap<String, String>>;

/// The agent's router.
pub fn router(agent: Agent) -> Router {
    let mut r = Router::new();
    for p in ["", "/slave(1)"] {
        r = r
            .route(&format!("{p}/state"), get(state))
            .route(&format!("{p}/state.json"), get(state))
            .route(&format!("{p}/health"), get(|| async { StatusCode::OK }))
            .route(&format!("{p}/flags"), get(flags));
    }
    for suffix in ["", ".json"] {
        r = r
            .route(&format!("/files/browse{suffix}"), get(browse))
            .route(&format!("/files/read{suffix}"), get(read))
            .route(&format!("/files/download{suffix}"), get(download));
    }
    r.route(
        "/version",
        get(|| async {
            axum::Json(keel_api::mesos::Version {
                version: keel_api::mesos::MESOS_VERSION.into(),
                build_date: "2026-11-24 00:00:00".into(),
                build_time: 1_795_478_400.0,
                build_user: "keel".into(),
                git_tag: Some(format!("keel-{}", env!("CARGO_PKG_VERSION"))),
            })
        }),
    )
    .route("/metrics/snapshot", get(metrics))
    .route("/metrics/prometheus", get(prometheus))
    .route("/system/v1/metrics/v0/ping", get(ping))
    .route("/system/v1/metrics/v0/node", get(node))
    .route("/system/v1/metrics/v0/containers", get(containers))
    .route("/system/v1/metrics/v0/containers/{id}", get(container))
    .route("/system/v1/metrics/v0/containers/{id}/app", get(app))
    .route(
        "/system/v1/metrics/v0/containers/{id}/app/{metric}",
        get(app_metric),
    )
    .route("/images/load", axum::routing::post(crate::images::load))
    .with_state(agent.clone())
    .merge(match &agent.component_logs {
        Some(dir) => keel_logs::component::router(
            keel_logs::component::Components::new(dir.clone()),
            &["/system/v1/logs"],
        ),
        None => Router::new(),
    })
    .merge(keel_logs::http::router(keel_logs::http::Logs::new(
        std::sync::Arc::new(LogDirs(agent)),
    )))
}

/// The sandboxes dcos-log's task routes read.
struct LogDirs(Agent);

impl keel_logs::http::TaskDirs for LogDirs {
    fn agent_id(&self) -> Option<String> {
        self.0
            .with_core(|c| c.agent_id.clone())
            .map(|a| a.to_string())
    }

    fn run_dir(
        &self,
        framework: &str,
        executor: &str,
        container: &str,
    ) -> Option<std::path::PathBuf> {
        let agent = self.agent_id()?;
        let plain = |s: &str| !s.is_empty() && !s.contains('/') && s != ".." && s != ".";
        if !(plain(framework) && plain(executor) && plain(container)) {
            return None;
        }
        Some(
            self.0
                .settings
                .work_dir
                .join("slaves")
                .join(agent)
                .join("frameworks")
                .join(framework)
                .join("executors")
                .join(executor)
                .join("runs")
                .join(container),
        )
    }

    fn browse(&self, dir: &std::path::Path, shown: &str) -> Result<serde_json::Value, String> {
        let list = files::browse(dir, shown).map_err(|e| e.1)?;
        serde_json::to_value(list).map_err(|e| e.to_string())
    }

    fn archive_dir(&self) -> Option<std::path::PathBuf> {
        Some(archive_dir(&self.0))
    }
}

fn archive_dir(agent: &Agent) -> std::path::PathBuf {
    agent
        .settings
        .work_dir
        .join(keel_logs::archive::ARCHIVE_DIR)
}

/// A `/files` path into a collected sandbox whose logs the archive kept:
/// `/frameworks/<fw>/executors/<ex>/runs/<container|latest>[/<file>]` → (run, file).
fn archived(agent: &Agent, path: &str) -> Option<(std::path::PathBuf, Option<String>)> {
    let rest = path.trim_end_matches('/').strip_prefix("/frameworks/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let (fw, ex, cid, file) = match parts.as_slice() {
        [fw, "executors", ex, "runs", cid] => (*fw, *ex, *cid, None),
        [fw, "executors", ex, "runs", cid, file] => (*fw, *ex, *cid, Some((*file).to_string())),
        _ => return None,
    };
    let run = keel_logs::archive::find(&archive_dir(agent), fw, ex, cid)?;
    Some((run, file))
}

/// The archived file a `/files` path names, read whole (at most the archive's per-task
/// limit), or the original 404.
fn archived_bytes(agent: &Agent, path: &str, not_found: FilesError) -> Result<Vec<u8>, FilesError> {
    let Some((run, Some(file))) = archived(agent, path) else {
        return Err(not_found);
    };
    match keel_logs::archive::bytes(&run, &file) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(not_found),
        Err(e) => Err(FilesError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

fn agent_dir(agent: &Agent) -> Result<String, FilesError> {
    agent
        .with_core(|c| c.agent_id.clone())
        .map(|a| a.to_string())
        .ok_or_else(|| {
            FilesError(
                StatusCode::SERVICE_UNAVAILABLE,
                "agent is not registered yet".into(),
            )
        })
}

async fn browse(State(agent): State<Agent>, Query(q): Q) -> Result<Response, FilesError> {
    let path = q.get("path").cloned().unwrap_or_default();
    let real = match files::resolve(&agent.settings.work_dir, &agent_dir(&agent)?, &path) {
        Ok(r) => r,
        Err(e) if e.0 == StatusCode::NOT_FOUND => match archived(&agent, &path) {
            Some((run, None)) => {
                let list: Vec<keel_api::mesos::FileInfo> = keel_logs::archive::files(&run)
                    .into_iter()
                    .map(|(name, size)| keel_api::mesos::FileInfo {
                        path: format!("{}/{name}", path.trim_end_matches('/')),
                        nlink: 1,
                        size,
                        mtime: 0.0,
                        mode: "-rw-r--r--".into(),
                        uid: String::new(),
                        gid: String::new(),
                    })
                    .collect();
                return Ok(axum::Json(list).into_response());
            }
            _ => return Err(e),
        },
        Err(e) => return Err(e),
    };
    Ok(axum::Json(files::browse(&real, &path)?).into_response())
}

fn int_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, FilesError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            FilesError(
                StatusCode::BAD_REQUEST,
                format!("Failed to parse '{name}': {v:?} is not an integer"),
            )
        }),
    }
}

async fn read(State(agent): State<Agent>, Query(q): Q) -> Result<Response, FilesError> {
    let path = q.get("path").cloned().unwrap_or_default();
    let offset = int_param(&q, "offset")?.unwrap_or(-1);
    let length = int_param(&q, "length")?;
    let real = match files::resolve(&agent.settings.work_dir, &agent_dir(&agent)?, &path) {
        Ok(r) => r,
        Err(e) if e.0 == StatusCode::NOT_FOUND => {
            let bytes = archived_bytes(&agent, &path, e)?;
            return Ok(axum::Json(files::read_bytes(&bytes, offset, length)).into_response());
        }
        Err(e) => return Err(e),
    };
    Ok(axum::Json(files::read(&real, offset, length)?).into_response())
}

async fn download(State(agent): State<Agent>, Query(q): Q) -> Result<Response, FilesError> {
    let path = q.get("path").cloned().unwrap_or_default();
    let real = match files::resolve(&agent.settings.work_dir, &agent_dir(&agent)?, &path) {
        Ok(r) => r,
        Err(e) if e.0 == StatusCode::NOT_FOUND => {
            let bytes = archived_bytes(&agent, &path, e)?;
            let name = path.rsplit('/').next().unwrap_or_default().to_string();
            return Ok((
                [
                    (
                        axum::http::header::CONTENT_TYPE,
                        "application/octet-stream".to_string(),
                    ),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename={name}"),
                    ),
                ],
                bytes,
            )
                .into_response());
        }
        Err(e) => return Err(e),
    };
    files::download(real).await
}

async fn flags(State(agent): State<Agent>) -> Response {
    axum::Json(json!({ "flags": agent.flags() })).into_response()
}

async fn metrics(State(agent): State<Agent>) -> Response {
    axum::Json(snapshot(&agent)).into_response()
}

/// `/metrics/snapshot`'s numbers (Mesos's agent names, Keel's `gc/*` and `statsd/*`).
fn snapshot(agent: &Agent) -> Map<String, serde_json::Value> {
    let mut m = agent.with_core(|c| {
        let mut m = Map::new();
        m.insert(
            "slave/registered".into(),
            json!(if c.master_connected { 1 } else { 0 }),
        );
        m.insert(
            "slave/uptime_secs".into(),
            json!(c.clock.unix_secs() - agent.start_time),
        );
        let count =
            |s: keel_model::TaskState| c.tasks.values().filter(|e| e.rec.state == s).count();
        use keel_model::TaskState as S;
        for (s, k) in [
            (S::Staging, "staging"),
            (S::Starting, "starting"),
            (S::Running, "running"),
            (S::Finished, "finished"),
            (S::Failed, "failed"),
            (S::Killed, "killed"),
            (S::Lost, "lost"),
        ] {
            m.insert(format!("slave/tasks_{k}"), json!(count(s)));
        }
        for (name, value) in agent.gc_counters.snapshot() {
            m.insert(name.into(), json!(value));
        }
        let running = c.tasks.values().filter(|e| e.conn.is_some()).count();
        m.insert("slave/executors_running".into(), json!(running));
        let used = c
            .tasks
            .values()
            .filter(|e| !e.rec.state.is_terminal())
            .fold(Resources::new(), |a, e| a.add(&e.rec.spec.resources));
        for name in ["cpus", "gpus", "mem", "disk"] {
            let (t, u) = (agent.resources.scalar(name), used.scalar(name));
            m.insert(format!("slave/{name}_total"), json!(t));
            m.insert(format!("slave/{name}_used"), json!(u));
            m.insert(
                format!("slave/{name}_percent"),
                json!(if t > 0.0 { u / t } else { 0.0 }),
            );
        }
        m.insert(
            "slave/pending_status_updates".into(),
            json!(c.pending.len()),
        );
        m
    });
    let s = &agent.metrics;
    m.insert("statsd/packets".into(), json!(s.statsd_packets.get()));
    m.insert(
        "statsd/malformed_lines".into(),
        json!(s.statsd_malformed.get()),
    );
    m.insert("statsd/dropped_lines".into(), json!(s.statsd_dropped.get()));
    m
}

async fn ping(State(agent): State<Agent>) -> Response {
    axum::Json(agent.metrics.node.ping()).into_response()
}

async fn node(State(agent): State<Agent>) -> Response {
    let dims = metrics::node_dimensions(&agent);
    let a = agent.clone();
    match tokio::task::spawn_blocking(move || a.metrics.node.message(dims)).await {
        Ok(m) => axum::Json(m).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn containers(State(agent): State<Agent>) -> Response {
    let ids: Vec<String> = metrics::live_containers(&agent)
        .into_iter()
        .map(|c| c.container_id)
        .collect();
    axum::Json(ids).into_response()
}

fn live(agent: &Agent, id: &str) -> Option<metrics::LiveContainer> {
    metrics::live_containers(agent)
        .into_iter()
        .find(|c| c.container_id == id)
}

/// `/containers/<id>`: 204 when no live container has that id (dcos-metrics' answer).
async fn container(State(agent): State<Agent>, Path(id): Path<String>) -> Response {
    let Some(c) = live(&agent, &id) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    match metrics::container_messages(&agent, vec![c]).await.pop() {
        Some(m) => axum::Json(m).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

fn app_message(agent: &Agent, id: &str, only: Option<&str>) -> Response {
    let Some(c) = live(agent, id) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let mut points = agent.metrics.app(id).unwrap_or_default();
    if let Some(name) = only {
        points.retain(|p| p.name == name);
    }
    if points.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    axum::Json(keel_api::metrics::MetricsMessage {
        datapoints: points,
        dimensions: c.dimensions,
    })
    .into_response()
}

async fn app(State(agent): State<Agent>, Path(id): Path<String>) -> Response {
    app_message(&agent, &id, None)
}

async fn app_metric(
    State(agent): State<Agent>,
    Path((id, metric)): Path<(String, String)>,
) -> Response {
    app_message(&agent, &id, Some(&metric))
}

/// `/metrics/prometheus`: the agent's own numbers, the node, every live container and
/// its app metrics, in the text format.
async fn prometheus(State(agent): State<Agent>) -> Response {
    use keel_metrics::prometheus::{self as prom, Family};
    let mut fams = Vec::new();
    for (k, v) in snapshot(&agent) {
        let (Some(v), kind) = (v.as_f64(), snapshot_kind(&k)) else {
            continue;
        };
        fams.push(Family::single(
            &format!("keel_{k}"),
            &format!("agent {k}"),
            kind,
            v,
        ));
    }
    let dims = metrics::node_dimensions(&agent);
    let a = agent.clone();
    let node = tokio::task::spawn_blocking(move || a.metrics.node.message(dims))
        .await
        .ok();
    fams.extend(prom::message_families(node.as_slice(), "node"));
    let live = metrics::live_containers(&agent);
    agent.metrics.forget_disk_except(&live);
    let apps: Vec<keel_api::metrics::MetricsMessage> = live
        .iter()
        .filter_map(|c| {
            Some(keel_api::metrics::MetricsMessage {
                datapoints: agent.metrics.app(&c.container_id)?,
                dimensions: c.dimensions.clone(),
            })
        })
        .collect();
    let msgs = metrics::container_messages(&agent, live).await;
    fams.extend(prom::message_families(&msgs, "container"));
    fams.extend(prom::message_families(&apps, "app (StatsD)"));
    (
        [(axum::http::header::CONTENT_TYPE, prom::CONTENT_TYPE)],
        prom::render(&fams),
    )
        .into_response()
}

/// Counters among the snapshot's numbers (the rest are gauges).
fn snapshot_kind(key: &str) -> keel_metrics::Kind {
    let counter = key.starts_with("gc/")
        || key.starts_with("statsd/")
        || ["finished", "failed", "killed", "lost"]
            .iter()
            .any(|s| key == format!("slave/tasks_{s}"));
    if counter {
        keel_metrics::Kind::Counter
    } else {
        keel_metrics::Kind::Gauge
    }
}

async fn state(State(agent): State<Agent>) -> Response {
    axum::Json(agent_state(&agent)).into_response()
}

fn agent_state(agent: &Agent) -> AgentState {
    agent.with_core(|c| {
        let agent_id = c
            .agent_id
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let mut fws: BTreeMap<String, AgentFramework> = BTreeMap::new();
        for e in c.tasks.values() {
            let r = &e.rec;
            let fw = fws
                .entry(r.spec.framework_id.to_string())
                .or_insert_with(|| AgentFramework {
                    id: r.spec.framework_id.to_string(),
                    name: r.framework_name.clone(),
                    user: "root".into(),
                    failover_timeout: 604800.0,
                    checkpoint: true,
                    hostname: agent.settings.hostname.clone(),
                    role: r.spec.role.clone(),
                    executors: Vec::new(),
                    completed_executors: Vec::new(),
                });
            let task = Task {
                id: r.spec.id.to_string(),
                name: r.spec.name.clone(),
                framework_id: r.spec.framework_id.to_string(),
                executor_id: String::new(),
                slave_id: agent_id.clone(),
                state: r.state.to_string(),
                resources: resources_summary(&r.spec.resources),
                role: r.spec.role.clone(),
                statuses: vec![Status {
                    state: r.state.to_string(),
                    timestamp: r.launched_time,
                    container_status: Some(ContainerStatus {
                        container_id: IdValue {
                            value: r.container_id.to_string(),
                        },
                        network_infos: keel_api::mesos::NetworkInfo::of(&r.container_ips),
                    }),
                    healthy: None,
                    source: None,
                    reason: None,
                }],
                labels: None,
                container: r
                    .spec
                    .container
                    .as_ref()
                    .map(|c| keel_api::mesos::container_info(c, &r.spec.host_ports())),
                discovery: r
                    .spec
                    .discovery
                    .as_ref()
                    .map(keel_api::mesos::DiscoveryInfo::from),
                reason: None,
                message: None,
            };
            let terminal = r.state.is_terminal();
            let ex = AgentExecutor {
                id: r.spec.id.to_string(),
                name: format!(
                    "Command Executor (Task: {}) (Command: sh -c '{}')",
                    r.spec.id, r.spec.command.value
                ),
                source: r.spec.id.to_string(),
                container: r.container_id.to_string(),
                directory: r.sandbox.display().to_string(),
                resources: resources_summary(&r.spec.resources),
                tasks: if terminal {
                    Vec::new()
                } else {
                    vec![task.clone()]
                },
                queued_tasks: Vec::new(),
                completed_tasks: if terminal { vec![task] } else { Vec::new() },
            };
            if terminal {
                fw.completed_executors.push(ex)
            } else {
                fw.executors.push(ex)
            }
        }
        AgentState {
            version: keel_api::mesos::MESOS_VERSION.into(),
            build_date: "2026-11-24 00:00:00".into(),
            build_time: 1_795_478_400.0,
            build_user: "keel".into(),
            start_time: agent.start_time,
            id: agent_id,
            pid: format!("slave(1)@{}", agent.settings.endpoint_hostport),
            hostname: agent.settings.hostname.clone(),
            capabilities: vec!["MULTI_ROLE".into(), "HIERARCHICAL_ROLE".into()],
            resources: resources_summary(&agent.resources),
            reserved_resources: Map::new(),
            unreserved_resources: resources_summary(&agent.resources),
            attributes: attributes_json(&agent.attributes),
            master_hostname: agent.master.clone(),
            flags: agent.flags(),
            frameworks: fws.into_values().collect(),
            completed_frameworks: Vec::new(),
        }
    })
}
