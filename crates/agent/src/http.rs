//! The agent's HTTP endpoint: `/state` (also `/slave(1)/state`), `/files/*`, `/health`,
//! `/version`, `/metrics/snapshot`, Keel's `POST /images/load`, dcos-log's task routes
//! (`keel_logs::http`) over the sandboxes and its component routes over the node's journal
//! (`keel_logs::component`).

use crate::Agent;
use crate::files::{self, FilesError};
use axum::Router;
use axum::extract::{Query, State};
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
    let m = agent.with_core(|c| {
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
    axum::Json(m).into_response()
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
