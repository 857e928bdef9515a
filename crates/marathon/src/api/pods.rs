//! `/v2/pods`: create, list, get, replace, delete, `::status`, `::versions` and killing
//! instances (`::instances`). Pod ids end before the first `::`; what follows names the
//! sub-resource. Every write goes through the same deployment path as apps.

use super::{Params, deployment_result, flag, json_response, path_id};
use crate::Marathon;
use crate::deploy::{Change, version_now};
use crate::error::HttpError;
use crate::events::render::frame;
use crate::pod::{PodRecord, combined_view};
use crate::pod_views::{instance_json, pod_status};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use keel_api::marathon::{ApiErrorBody, Instance, PathId, parse_json, parse_pod};
use keel_deploy::Goal;
use serde_json::{Value, json};

/// What a `/v2/pods/<rest>` path names.
enum Target {
    AllStatus,
    Pod(PathId),
    Status(PathId),
    Versions(PathId),
    Version(PathId, String),
    Instances(PathId),
    Instance(PathId, String),
}

fn target(rest: &str) -> Result<Target, HttpError> {
    let (id, suffix) = match rest.split_once("::") {
        Some((id, s)) => (id.trim_end_matches('/'), Some(s)),
        None => (rest.trim_end_matches('/'), None),
    };
    if id.trim_matches('/').is_empty() {
        return match suffix {
            Some("status") => Ok(Target::AllStatus),
            _ => Err(HttpError(ApiErrorBody::new(404, "URI not found"))),
        };
    }
    let id = path_id(id)?;
    let Some(suffix) = suffix else {
        return Ok(Target::Pod(id));
    };
    match suffix.split_once('/') {
        None if suffix == "status" => Ok(Target::Status(id)),
        None if suffix == "versions" => Ok(Target::Versions(id)),
        None if suffix == "instances" => Ok(Target::Instances(id)),
        Some(("versions", v)) => Ok(Target::Version(id, v.to_string())),
        Some(("instances", i)) => Ok(Target::Instance(id, i.to_string())),
        _ => Err(HttpError(ApiErrorBody::new(404, "URI not found"))),
    }
}

fn not_found(id: &PathId) -> HttpError {
    HttpError(ApiErrorBody::pod_not_found(id))
}

pub(crate) fn pod_json(p: &PodRecord) -> Value {
    serde_json::to_value(&p.pod).unwrap_or(Value::Null)
}

fn pod_event(m: &Marathon, kind: &str, uri: &Uri) {
    m.emit(frame(
        kind,
        m.now(),
        json!({"clientIp": "127.0.0.1", "uri": uri.path()}),
    ));
}

/// `HEAD /v2/pods`: pods are supported.
pub(crate) async fn head() -> StatusCode {
    StatusCode::OK
}

/// `GET /v2/pods`.
pub(crate) async fn list(State(m): State<Marathon>) -> Response {
    let st = m.lock();
    let pods: Vec<Value> = st.pods.values().map(pod_json).collect();
    json_response(StatusCode::OK, &Value::Array(pods))
}

/// `POST /v2/pods`.
pub(crate) async fn create(
    State(m): State<Marathon>,
    Query(q): Query<Params>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, HttpError> {
    let pod = parse_pod(&body)?.normalize()?;
    let id = pod.path_id();
    let mut st = m.lock();
    if st.pods.contains_key(&id) || st.apps.contains_key(&id) {
        return Err(HttpError(ApiErrorBody::pod_exists(&id)));
    }
    if st.groups.contains_key(&id) {
        return Err(HttpError(ApiErrorBody::app_at_group_path(&id)));
    }
    let rec = PodRecord::new(pod, version_now(&m), None);
    let mut change = Change::from(&st, flag(&q, "force", false));
    change.pods.insert(id.clone(), rec.clone());
    let p = m.deploy(&mut st, change)?;
    pod_event(&m, "pod_created_event", &uri);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("{}{id}", uri.path().trim_end_matches('/'))) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&p.id) {
        headers.insert("Marathon-Deployment-Id", v);
    }
    Ok((StatusCode::CREATED, headers, axum::Json(pod_json(&rec))).into_response())
}

/// `GET /v2/pods/<rest>`.
pub(crate) async fn get_rest(
    State(m): State<Marathon>,
    Path(rest): Path<String>,
) -> Result<Response, HttpError> {
    let now = m.now();
    match target(&rest)? {
        Target::AllStatus => {
            let tasks = m.tasks();
            let st = m.lock();
            let all: Vec<Value> = st
                .pods
                .values()
                .map(|p| serde_json::to_value(pod_status(&st, p, &tasks, now)).unwrap_or_default())
                .collect();
            Ok(json_response(StatusCode::OK, &Value::Array(all)))
        }
        Target::Pod(id) => {
            let st = m.lock();
            let p = st.pods.get(&id).ok_or_else(|| not_found(&id))?;
            Ok(json_response(StatusCode::OK, &pod_json(p)))
        }
        Target::Status(id) => {
            let tasks = m.tasks();
            let st = m.lock();
            let p = st.pods.get(&id).ok_or_else(|| not_found(&id))?;
            let s = serde_json::to_value(pod_status(&st, p, &tasks, now)).unwrap_or_default();
            Ok(json_response(StatusCode::OK, &s))
        }
        Target::Versions(id) => {
            if !m.lock().pods.contains_key(&id) {
                return Err(not_found(&id));
            }
            let versions: Vec<String> = crate::state::pod_versions(&*m.inner.store, &id)?
                .iter()
                .map(|p| p.version().to_string())
                .collect();
            Ok(json_response(StatusCode::OK, &json!(versions)))
        }
        Target::Version(id, v) => {
            let versions = crate::state::pod_versions(&*m.inner.store, &id)?;
            let p = versions
                .iter()
                .find(|p| p.version().to_string() == v)
                .ok_or_else(|| {
                    HttpError(ApiErrorBody::new(
                        404,
                        format!("Pod '{id}' does not exist in version {v}"),
                    ))
                })?;
            Ok(json_response(StatusCode::OK, &pod_json(p)))
        }
        Target::Instances(_) | Target::Instance(..) => {
            Err(HttpError(ApiErrorBody::new(405, "method not allowed")))
        }
    }
}

/// `PUT /v2/pods/<id>`: replace (or create) a pod.
pub(crate) async fn put_rest(
    State(m): State<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, HttpError> {
    let Target::Pod(id) = target(&rest)? else {
        return Err(HttpError(ApiErrorBody::new(405, "method not allowed")));
    };
    let mut pod = parse_pod(&body)?;
    if pod.id.is_empty() {
        pod.id = id.to_string();
    }
    pod.check_id(&id)?;
    let pod = pod.normalize()?;
    let mut st = m.lock();
    if st.apps.contains_key(&id) {
        return Err(HttpError(ApiErrorBody::new(
            409,
            format!("An app with id [{id}] already exists."),
        )));
    }
    let current = st.pods.get(&id).cloned();
    let rec = PodRecord::new(pod, version_now(&m), current.as_ref());
    let mut change = Change::from(&st, flag(&q, "force", false));
    change.pods.insert(id, rec.clone());
    let p = m.deploy(&mut st, change)?;
    let (code, kind) = match current {
        Some(_) => (StatusCode::OK, "pod_updated_event"),
        None => (StatusCode::CREATED, "pod_created_event"),
    };
    pod_event(&m, kind, &uri);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&p.id) {
        headers.insert("Marathon-Deployment-Id", v);
    }
    Ok((code, headers, axum::Json(pod_json(&rec))).into_response())
}

/// `DELETE /v2/pods/<id>` and `DELETE /v2/pods/<id>::instances[/<instance>]`.
pub(crate) async fn delete_rest(
    State(m): State<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, HttpError> {
    match target(&rest)? {
        Target::Pod(id) => {
            let mut st = m.lock();
            if !st.pods.contains_key(&id) {
                return Err(not_found(&id));
            }
            let mut change = Change::from(&st, flag(&q, "force", false));
            change.pods.remove(&id);
            let p = m.deploy(&mut st, change)?;
            pod_event(&m, "pod_deleted_event", &uri);
            Ok(deployment_result(StatusCode::ACCEPTED, &p.id, &p.version))
        }
        Target::Instance(id, instance) => {
            let killed = kill_instances(&m, &id, &[instance], flag(&q, "wipe", false))?;
            let one = killed.into_iter().next().ok_or_else(|| {
                HttpError(ApiErrorBody::new(404, "instance not found".to_string()))
            })?;
            Ok(json_response(StatusCode::OK, &json!(one)))
        }
        Target::Instances(id) => {
            let ids: Vec<String> = parse_json(&body)?;
            let killed = kill_instances(&m, &id, &ids, flag(&q, "wipe", false))?;
            Ok(json_response(StatusCode::OK, &json!(killed)))
        }
        _ => Err(HttpError(ApiErrorBody::new(405, "method not allowed"))),
    }
}

/// Kills every task of the named instances of pod `id`. Without `wipe` the goal stays
/// Running, so each instance is replaced; with `wipe` it is decommissioned (and, since
/// the pod's instance count is unchanged, a new instance takes its place).
fn kill_instances(
    m: &Marathon,
    id: &PathId,
    instances: &[String],
    wipe: bool,
) -> Result<Vec<Instance>, HttpError> {
    let tasks = m.tasks();
    let mut st = m.lock();
    if !st.pods.contains_key(id) {
        return Err(not_found(id));
    }
    let checked = st.pods.get(id).map_or(0, |p| {
        p.pod
            .containers
            .iter()
            .filter(|c| c.health_check.is_some())
            .count()
    });
    let mut w = crate::state::Writes::default();
    let mut out = Vec::new();
    for iid in instances {
        let Some(rec) = st.instances.get_mut(iid).filter(|r| &r.run_spec == id) else {
            continue;
        };
        if wipe {
            rec.goal = Goal::Decommissioned;
            w.instance(rec)?;
        }
        for t in rec.all_tasks() {
            if let Err(e) = m.inner.cluster.kill_task(t, None) {
                tracing::debug!(task = %t, "kill: {e}");
            }
        }
        let views: Vec<_> = rec
            .all_tasks()
            .iter()
            .filter_map(|t| tasks.get(t))
            .collect();
        let combined = combined_view(&views, checked);
        let rec = rec.clone();
        out.push(instance_json(st.pods.get(id), &rec, combined.as_ref()));
    }
    w.commit(&*m.inner.store)?;
    m.inner.wake.notify_one();
    Ok(out)
}
