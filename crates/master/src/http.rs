//! The master's HTTP entry: the Mesos legacy endpoints at every prefix clients use
//! (`/`, `/master`, `/mesos`, `/mesos/master`), DC/OS metadata, the agent proxy, and Keel's
//! internal agent and launch APIs.

use crate::Master;
use crate::error::MasterError;
use crate::views::{TaskQuery, version};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures_util::StreamExt;
use keel_api::internal::{ErrorBody, KillRequest, LaunchRequest, StatusUpdate};
use keel_api::mesos::{DcosVersion, Flags, Frameworks, Metadata, Slaves, Tasks};
use keel_model::{AgentId, TaskId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

type Q = Query<HashMap<String, String>>;

/// An error rendered as `{"message": ...}` with the matching status code.
pub struct ApiError(pub StatusCode, pub ErrorBody);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(self.1)).into_response()
    }
}

impl From<MasterError> for ApiError {
    fn from(e: MasterError) -> Self {
        let code = match &e {
            MasterError::Store(_) | MasterError::Corrupt { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            MasterError::UnknownAgent(_) | MasterError::UnknownTask(_) => StatusCode::NOT_FOUND,
            MasterError::AgentConnected { .. }
            | MasterError::TaskTerminal { .. }
            | MasterError::WrongAgent { .. } => StatusCode::CONFLICT,
            MasterError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            MasterError::Unplaceable { .. } | MasterError::Stopped => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let rejections = match &e {
            MasterError::Unplaceable { rejections } => rejections.clone(),
            _ => Default::default(),
        };
        if code == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("{e}");
        }
        ApiError(
            code,
            ErrorBody {
                message: e.to_string(),
                rejections,
            },
        )
    }
}

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(
        StatusCode::BAD_REQUEST,
        ErrorBody {
            message: msg.into(),
            rejections: Default::default(),
        },
    )
}

/// Parses a JSON body, answering 400 with the parser's message on failure.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

/// JSON, wrapped in `CB(...)` when the query has `jsonp=CB` (the Mesos web UI's habit).
fn json_reply<T: Serialize>(v: &T, q: &HashMap<String, String>) -> Response {
    let body = match serde_json::to_string(v) {
        Ok(b) => b,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    match q.get("jsonp").filter(|cb| is_js_identifier(cb)) {
        Some(cb) => (
            [(header::CONTENT_TYPE, "text/javascript")],
            format!("{cb}({body});"),
        )
            .into_response(),
        None => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
    }
}

fn is_js_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$')
}

/// Paths served with their trailing slash: the UI roots DC/OS's Admin Router redirects
/// the bare names to (`/mesos` -> `/mesos/`, `/marathon` -> `/marathon/`).
pub const UI_ROOTS: &[&str] = &["/mesos/", "/marathon/", "/service/marathon/"];

/// `/service/<name>/...` paths other than Keel's own Marathon and Metronome go to the
/// `/service/` proxy as they came: the app sees its own trailing slashes.
fn is_proxied_service(path: &str) -> bool {
    path.strip_prefix("/service/").is_some_and(|rest| {
        !["marathon", "metronome"]
            .iter()
            .any(|own| rest == *own || rest.starts_with(&format!("{own}/")))
    })
}

/// Collapses repeated slashes and drops a trailing slash, before routing (except on the
/// [`UI_ROOTS`]).
pub fn normalize_uri(mut req: Request) -> Request {
    let uri = req.uri();
    let path = uri.path();
    if UI_ROOTS.contains(&path) || is_proxied_service(path) {
        return req;
    }
    if !(path.contains("//") || (path.len() > 1 && path.ends_with('/'))) {
        return req;
    }
    let mut clean = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        clean.push('/');
        clean.push_str(seg);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    if let Some(q) = uri.query() {
        clean.push('?');
        clean.push_str(q);
    }
    if let Ok(new) = clean.parse::<Uri>() {
        *req.uri_mut() = new;
    }
    req
}

/// The master's own routes (no authentication layer; see [`crate::Master::entry`]).
pub fn router(m: Master) -> Router {
    let mut r = Router::new();
    for p in ["", "/master", "/mesos", "/mesos/master"] {
        r = r
            .route(&format!("{p}/state"), get(state))
            .route(&format!("{p}/state.json"), get(state))
            .route(&format!("{p}/state-summary"), get(summary))
            .route(&format!("{p}/slaves"), get(slaves))
            .route(&format!("{p}/frameworks"), get(frameworks))
            .route(&format!("{p}/tasks"), get(tasks))
            .route(&format!("{p}/tasks.json"), get(tasks))
            .route(&format!("{p}/health"), get(health))
            .route(&format!("{p}/redirect"), get(redirect))
            .route(&format!("{p}/flags"), get(flags));
    }
    for p in ["", "/mesos"] {
        r = r
            .route(&format!("{p}/metrics/snapshot"), get(metrics))
            .route(&format!("{p}/version"), get(version_handler));
    }
    r.route(
        "/mesos",
        get(|| async { ui_redirect(StatusCode::MOVED_PERMANENTLY, "/mesos/") }),
    )
    .route("/mesos/", get(mesos_index))
    .route("/metadata", get(metadata))
    .route("/dcos-metadata/dcos-version.json", get(dcos_version))
    .route("/dcos-metadata/ui-config.json", get(ui_config))
    .route("/system/v1/logs/v2/task/{id}", get(log_discovery_stdout))
    .route("/system/v1/logs/v2/task/{id}/{*rest}", get(log_discovery))
    .route("/system/v1/agent/{id}/logs/{*rest}", get(agent_logs))
    .route(
        "/system/v1/agent/{id}/metrics/v0/{*rest}",
        get(agent_metrics),
    )
    .route("/metrics/prometheus", get(crate::exposition::prometheus))
    .route("/agent/{id}/{*rest}", any(proxy))
    .route("/slave/{id}/{*rest}", any(proxy))
    .route("/mesos/agent/{id}/{*rest}", any(proxy))
    .route("/mesos/slave/{id}/{*rest}", any(proxy))
    .route(
        "/internal/v1/agents/register",
        post(crate::stream::register),
    )
    .route("/internal/v1/agents/{id}/status", post(status_update))
    .route("/internal/v1/agents/{id}/statuses", post(status_updates))
    .route("/internal/v1/agents/{id}/heartbeat", post(heartbeat))
    .route("/internal/v1/tasks", post(launch))
    .route("/internal/v1/tasks/{id}/kill", post(kill))
    .route("/internal/v1/events", get(crate::stream::events))
    .with_state(m)
    .merge(crate::dcos::router())
}

/// A redirect to a UI root, as DC/OS's Admin Router answers the bare name.
pub fn ui_redirect(code: StatusCode, to: &'static str) -> Response {
    (code, [(header::LOCATION, to)]).into_response()
}

/// `/mesos/`: where DC/OS serves the Mesos UI; Keel has none yet, so an index of the
/// Mesos endpoints.
async fn mesos_index() -> Response {
    let links = [
        "master/state",
        "master/state-summary",
        "master/slaves",
        "master/frameworks",
        "master/tasks",
        "metrics/snapshot",
        "version",
    ]
    .map(|p| format!("<li><a href=\"{p}\">/mesos/{p}</a></li>"))
    .concat();
    axum::response::Html(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Mesos (Keel)</title></head>\
         <body><h1>Mesos (Keel)</h1><p>Keel has no web UI yet. The Mesos endpoints:</p>\
         <ul>{links}</ul></body></html>\n"
    ))
    .into_response()
}

async fn state(State(m): State<Master>, Query(q): Q) -> Response {
    let s = m.with_core(|c| c.state_json());
    json_reply(&s, &q)
}

async fn summary(State(m): State<Master>, Query(q): Q) -> Response {
    json_reply(&m.with_core(|c| c.summary_json()), &q)
}

async fn slaves(State(m): State<Master>, Query(q): Q) -> Response {
    let only = q.get("slave_id").cloned();
    let s = m.with_core(|c| Slaves {
        slaves: c.slaves_json(only.as_deref()),
        recovered_slaves: Vec::new(),
    });
    json_reply(&s, &q)
}

async fn frameworks(State(m): State<Master>, Query(q): Q) -> Response {
    let only = q.get("framework_id").cloned();
    let f = m.with_core(|c| Frameworks {
        frameworks: c.frameworks_json(only.as_deref()),
        completed_frameworks: Vec::new(),
        unregistered_frameworks: Vec::new(),
    });
    json_reply(&f, &q)
}

async fn tasks(State(m): State<Master>, Query(q): Q) -> Result<Response, ApiError> {
    let limit = match q.get("limit") {
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| bad_request(format!("limit {l:?} is not an integer")))?,
        None => 100,
    };
    let offset = match q.get("offset") {
        Some(o) => o
            .parse::<usize>()
            .map_err(|_| bad_request(format!("offset {o:?} is not a non-negative integer")))?,
        None => 0,
    };
    let query = TaskQuery {
        limit,
        offset,
        ascending: q.get("order").is_none_or(|o| o == "asc"),
        framework_id: q.get("framework_id").cloned(),
        task_id: q.get("task_id").cloned(),
    };
    let t = m.with_core(|c| Tasks {
        tasks: c.tasks_json(&query),
    });
    Ok(json_reply(&t, &q))
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn redirect(State(m): State<Master>) -> Response {
    let loc = format!("//{}", m.advertise);
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, loc)]).into_response()
}

async fn flags(State(m): State<Master>, Query(q): Q) -> Response {
    json_reply(
        &Flags {
            flags: m.with_core(|c| c.flags()),
        },
        &q,
    )
}

async fn metrics(State(m): State<Master>, Query(q): Q) -> Response {
    json_reply(&m.with_core(|c| c.metrics_json()), &q)
}

async fn version_handler(Query(q): Q) -> Response {
    json_reply(&version(), &q)
}

async fn metadata(State(m): State<Master>) -> Response {
    let md = Metadata {
        public_ipv4: m.advertise.ip().to_string(),
        cluster_id: m.with_core(|c| c.cluster_id().to_string()),
    };
    json_reply(&md, &HashMap::new())
}

async fn ui_config(State(m): State<Master>) -> Response {
    let cluster = m.with_core(|c| c.cluster_id().to_string());
    json_reply(&keel_api::mesos::UiConfig::keel(cluster), &HashMap::new())
}

async fn dcos_version() -> Response {
    let v = DcosVersion {
        version: "1.11.0".into(),
        image_commit: format!("keel-{}", env!("CARGO_PKG_VERSION")),
        bootstrap_id: format!("keel-{}", env!("CARGO_PKG_VERSION")),
        variant: String::new(),
    };
    json_reply(&v, &HashMap::new())
}

async fn launch(State(m): State<Master>, body: Bytes) -> Result<Response, ApiError> {
    let req: LaunchRequest = parse_json(&body)?;
    let framework = req
        .labels
        .get("KEEL_FRAMEWORK")
        .cloned()
        .unwrap_or_else(|| "keel".into());
    let resp = m.with_core(|c| c.launch(req, &framework))?;
    Ok((StatusCode::CREATED, axum::Json(resp)).into_response())
}

async fn kill(
    State(m): State<Master>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = TaskId::new(id).map_err(|e| bad_request(e.to_string()))?;
    let req: KillRequest = if body.is_empty() {
        KillRequest::default()
    } else {
        parse_json(&body)?
    };
    m.with_core(|c| c.kill(&id, req.grace_secs))?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn status_update(
    State(m): State<Master>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let agent = AgentId::new(id).map_err(|e| bad_request(e.to_string()))?;
    let up: StatusUpdate = parse_json(&body)?;
    m.with_core(|c| c.status_update(&agent, up.status))?;
    Ok(StatusCode::OK.into_response())
}

async fn status_updates(
    State(m): State<Master>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let agent = AgentId::new(id).map_err(|e| bad_request(e.to_string()))?;
    let ups: keel_api::internal::StatusUpdates = parse_json(&body)?;
    let statuses = ups.updates.into_iter().map(|u| u.status).collect();
    m.commit_statuses(agent, statuses).await?;
    Ok(StatusCode::OK.into_response())
}

async fn heartbeat(State(m): State<Master>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let agent = AgentId::new(id).map_err(|e| bad_request(e.to_string()))?;
    m.with_core(|c| c.heartbeat(&agent))?;
    Ok(StatusCode::OK.into_response())
}

async fn log_discovery_stdout(
    State(m): State<Master>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    discover(&m, &id, "", req.uri().query())
}

async fn log_discovery(
    State(m): State<Master>,
    Path((id, rest)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    discover(&m, &id, &rest, req.uri().query())
}

/// dcos-log's discovery: `303 See Other` from `/system/v1/logs/v2/task/<id>[/file/<f>]
/// [/browse|/download]` to the agent form of the task's latest run, query kept.
fn discover(m: &Master, id: &str, rest: &str, query: Option<&str>) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError(
            StatusCode::NOT_FOUND,
            ErrorBody {
                message: format!("task {id:?} not found"),
                rejections: Default::default(),
            },
        )
    };
    let task = TaskId::new(id.to_string()).map_err(|_| not_found())?;
    let (agent, fw, container) = m
        .with_core(|c| {
            c.tasks.get(&task).map(|t| {
                (
                    t.agent_id.to_string(),
                    t.spec.framework_id.to_string(),
                    t.container_id.as_ref().map(|c| c.to_string()),
                )
            })
        })
        .ok_or_else(not_found)?;
    let container = container.ok_or_else(not_found)?;
    let rest = rest.trim_matches('/');
    let tail = match rest {
        "" => "stdout".to_string(),
        "browse" => "files/browse".to_string(),
        "download" => "stdout/download".to_string(),
        r => match r.strip_prefix("file/") {
            Some(f) if !f.is_empty() => f.to_string(),
            _ => return Err(bad_request(format!("unknown task log path {r:?}"))),
        },
    };
    let q = query.map(|q| format!("?{q}")).unwrap_or_default();
    let loc = format!(
        "/system/v1/agent/{agent}/logs/v2/task/frameworks/{fw}/executors/{id}/runs/{container}/{tail}{q}"
    );
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, loc)]).into_response())
}

/// `/system/v1/agent/<id>/logs/<rest>`: the agent's `/system/v1/logs/<rest>`, with the
/// `Accept` and `Last-Event-ID` headers that choose the format and resume a follow.
async fn agent_logs(
    State(m): State<Master>,
    Path((id, rest)): Path<(String, String)>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let forwarded = ["system/v1/logs", rest.trim_start_matches('/')].join("/");
    forward(&m, id, &forwarded, &headers, req).await
}

/// `/system/v1/agent/<id>/metrics/v0/<rest>`: the agent's dcos-metrics
/// `/system/v1/metrics/v0/<rest>`.
async fn agent_metrics(
    State(m): State<Master>,
    Path((id, rest)): Path<(String, String)>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let forwarded = ["system/v1/metrics/v0", rest.trim_start_matches('/')].join("/");
    forward(&m, id, &forwarded, &headers, req).await
}

/// Forwards `/agent/<id>/<rest>` to the agent's own endpoint (how DC/OS reaches sandboxes).
async fn proxy(
    State(m): State<Master>,
    Path((id, rest)): Path<(String, String)>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    forward(&m, id, &rest, &headers, req).await
}

async fn forward(
    m: &Master,
    id: String,
    rest: &str,
    headers: &HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let agent = AgentId::new(id).map_err(|e| bad_request(e.to_string()))?;
    let endpoint = m
        .with_core(|c| c.agents.get(&agent).map(|a| a.rec.endpoint.clone()))
        .ok_or_else(|| ApiError::from(MasterError::UnknownAgent(agent.clone())))?;
    let rest = rest.trim_start_matches('/');
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{endpoint}/{rest}{query}");
    let method = req.method().clone();
    // Streamed, not buffered: `keel image load` sends whole image archives this way.
    let body = req.into_body();
    let mut out = m.http.request(method, &url);
    if axum::body::HttpBody::size_hint(&body).exact() != Some(0) {
        out = out.body(reqwest::Body::wrap_stream(body.into_data_stream()));
    }
    for h in [header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = headers.get(&h) {
            out = out.header(h.as_str(), v.as_bytes());
        }
    }
    if let Some(v) = headers.get("last-event-id") {
        out = out.header("last-event-id", v.as_bytes());
    }
    let resp = out.send().await.map_err(|e| {
        ApiError(
            StatusCode::BAD_GATEWAY,
            ErrorBody {
                message: format!("agent {agent} at {endpoint}: {e}"),
                rejections: Default::default(),
            },
        )
    })?;
    let mut builder = Response::builder().status(resp.status().as_u16());
    for h in [
        header::CONTENT_TYPE,
        header::CONTENT_DISPOSITION,
        header::CONTENT_LENGTH,
        header::CACHE_CONTROL,
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderName::from_static("x-accel-buffering"),
    ] {
        if let Some(v) = resp
            .headers()
            .get(h.as_str())
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            builder = builder.header(h, v);
        }
    }
    let stream = resp
        .bytes_stream()
        .map(|r| r.map_err(std::io::Error::other));
    builder.body(Body::from_stream(stream)).map_err(|e| {
        ApiError(
            StatusCode::BAD_GATEWAY,
            ErrorBody {
                message: e.to_string(),
                rejections: Default::default(),
            },
        )
    })
}
