//! `/v2/tasks` (JSON, or with `Accept: text/plain` Marathon's tab-separated endpoint list),
//! `POST /v2/tasks/delete`, and killing an app's tasks (with `scale`, `wipe`, `host`). A
//! kill without `scale` keeps the instance's goal, so it is replaced.

use super::{Params, deployment_result, flag, json_response, param, params};
use crate::Marathon;
use crate::deploy::Change;
use crate::error::HttpError;
use crate::views::task_json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keel_api::marathon::{ApiErrorBody, PathId, task_id};
use keel_deploy::Goal;
use keel_model::TaskState;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// `GET /v2/tasks` (`status=running|staging` filters).
pub(crate) async fn list(
    State(m): State<Marathon>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    if wants_text(&headers) {
        return endpoints(&m);
    }
    let wanted: Vec<String> = params(&q, "status").map(str::to_lowercase).collect();
    let tasks = m.tasks();
    let st = m.lock();
    let mut out = Vec::new();
    for app in st.apps.values() {
        for (r, t) in crate::views::app_tasks(&st, &app.id, &tasks) {
            let state = t.map(|t| t.state.as_str()).unwrap_or("TASK_STAGING");
            let keep = wanted.is_empty()
                || wanted.iter().any(|w| {
                    (w == "running" && state == "TASK_RUNNING")
                        || (w == "staging" && state == "TASK_STAGING")
                });
            if keep {
                out.push(task_json(r, t, Some(app)));
            }
        }
    }
    json_response(StatusCode::OK, &json!({"tasks": out}))
}

/// Whether the client asks for `text/plain` and not for JSON.
fn wants_text(headers: &HeaderMap) -> bool {
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    accept.iter().any(|v| v.contains("text/plain"))
        && !accept.iter().any(|v| v.contains("application/json"))
}

/// One app's part of the text list: its id, service ports, and its running tasks as
/// (agent host, host ports).
struct AppEndpoints<'a> {
    id: &'a PathId,
    service_ports: Vec<i64>,
    tasks: Vec<(&'a str, &'a [u64])>,
}

/// `GET /v2/tasks` as `text/plain`, Marathon's `EndpointsHelper` format: per service port
/// a line `<id with / as _>\t<service port>\t<host>:<host port>\t...`; an app without
/// ports gets one line `<id>\t \t<host> <host> ...`.
fn endpoints_text(apps: &[AppEndpoints<'_>]) -> String {
    let mut out = String::new();
    for app in apps {
        let id = app.id.to_string();
        let safe = id.trim_start_matches('/').replace('/', "_");
        if app.service_ports.is_empty() {
            out.push_str(&format!("{safe}\t \t"));
            for (host, _) in &app.tasks {
                out.push_str(host);
                out.push(' ');
            }
            out.push('\n');
            continue;
        }
        for (i, port) in app.service_ports.iter().enumerate() {
            out.push_str(&format!("{safe}\t{port}\t"));
            for (host, ports) in &app.tasks {
                let p = ports.get(i).copied().unwrap_or(0);
                out.push_str(&format!("{host}:{p}\t"));
            }
            out.push('\n');
        }
    }
    out
}

fn endpoints(m: &Marathon) -> Response {
    let tasks = m.tasks();
    let st = m.lock();
    let apps: Vec<AppEndpoints<'_>> = st
        .apps
        .values()
        .map(|app| AppEndpoints {
            id: &app.id,
            service_ports: app.service_ports(),
            tasks: crate::views::app_tasks(&st, &app.id, &tasks)
                .filter(|(_, t)| t.is_some_and(|t| t.state == TaskState::Running))
                .map(|(r, _)| (r.hostname.as_str(), r.ports.as_slice()))
                .collect(),
        })
        .collect();
    let body = endpoints_text(&apps);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Ids {
    ids: Vec<String>,
}

/// `POST /v2/tasks/delete`.
pub(crate) async fn delete_many(
    State(m): State<Marathon>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, HttpError> {
    let ids: Ids = keel_api::marathon::parse_json(&body)?;
    let max = m.inner.limits.max_task_ids;
    if ids.ids.len() > max {
        return Err(HttpError::from(crate::limits::too_many(
            "/ids",
            "task ids",
            ids.ids.len(),
            max,
        )));
    }
    let mut by_app: BTreeMap<PathId, Vec<String>> = BTreeMap::new();
    for id in ids.ids {
        let (app, _) =
            task_id::parse(&id).map_err(|_| HttpError(ApiErrorBody::invalid_task_id(&id)))?;
        by_app.entry(app).or_default().push(id);
    }
    kill(&m, by_app, &q, false)
}

/// `DELETE /v2/apps/<id>/tasks[/<task>]`.
pub(crate) fn kill_app_tasks(
    m: &Marathon,
    app: &PathId,
    task: Option<String>,
    q: &Params,
) -> Result<Response, HttpError> {
    let ids: Vec<String> = {
        let tasks = m.tasks();
        let st = m.lock();
        if !st.apps.contains_key(app) {
            return Err(HttpError(ApiErrorBody::app_not_found(app)));
        }
        let host = param(q, "host").filter(|h| *h != "*");
        let mine: Vec<String> = crate::views::app_tasks(&st, app, &tasks)
            .filter(|(r, _)| host.is_none_or(|h| r.hostname == h))
            .map(|(r, _)| r.task_id.to_string())
            .collect();
        match &task {
            Some(t) if !mine.contains(t) => return Err(HttpError(ApiErrorBody::task_not_found(t))),
            Some(t) => vec![t.clone()],
            None => mine,
        }
    };
    let mut by_app = BTreeMap::new();
    by_app.insert(app.clone(), ids);
    kill(m, by_app, q, task.is_some())
}

/// Kills the named tasks; `single` answers `{"task": ...}` instead of `{"tasks": [...]}`.
fn kill(
    m: &Marathon,
    by_app: BTreeMap<PathId, Vec<String>>,
    q: &Params,
    single: bool,
) -> Result<Response, HttpError> {
    let scale = flag(q, "scale", false);
    let wipe = flag(q, "wipe", false);
    if scale && wipe {
        return Err(HttpError(ApiErrorBody::scale_and_wipe()));
    }
    let tasks = m.tasks();
    let mut st = m.lock();
    // Task id -> instance.
    let mut sentenced: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut killed = Vec::new();
    for (app, ids) in &by_app {
        let ids: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        for rec in st
            .instances
            .values()
            .filter(|r| &r.run_spec == app && ids.contains(r.task_id.as_str()))
        {
            sentenced
                .entry(app.to_string())
                .or_default()
                .push(rec.id.clone());
            killed.push(task_json(rec, tasks.get(&rec.task_id), st.apps.get(app)));
        }
    }
    if scale {
        let mut change = Change::from(&st, flag(q, "force", false));
        for (app, instances) in &sentenced {
            let pid = PathId::parse_unchecked(app);
            if let Some(a) = change.apps.get(&pid).cloned() {
                let n = a.instances.saturating_sub(instances.len() as u32);
                let scaled = keel_api::marathon::AppDefinition {
                    instances: n,
                    ..a.clone()
                };
                change.apps.insert(
                    pid,
                    scaled.with_version(crate::deploy::version_now(m), Some(&a)),
                );
            }
        }
        change.sentenced = sentenced;
        let p = m.deploy(&mut st, change)?;
        return Ok(deployment_result(StatusCode::OK, &p.id, &p.version));
    }
    let mut w = crate::state::Writes::default();
    for ids in sentenced.values() {
        for id in ids {
            if let Some(rec) = st.instances.get_mut(id) {
                if wipe {
                    rec.goal = Goal::Decommissioned;
                    w.instance(rec)?;
                }
                if let Err(e) = m.inner.cluster.kill_task(&rec.task_id, None) {
                    tracing::debug!("kill {}: {e}", rec.task_id);
                }
            }
        }
    }
    w.commit(&*m.inner.store)?;
    m.inner.wake.notify_one();
    let body: Value = match killed.first() {
        Some(t) if single => json!({"task": t}),
        _ => json!({"tasks": killed}),
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_list_has_a_line_per_service_port_and_one_for_an_app_without() {
        let (web, db, tool) = (
            PathId::parse_unchecked("/prod/web"),
            PathId::parse_unchecked("/db"),
            PathId::parse_unchecked("/tool"),
        );
        let apps = [
            AppEndpoints {
                id: &web,
                service_ports: vec![10000, 10001],
                tasks: vec![("h1", &[31000, 31001]), ("h2", &[31005])],
            },
            AppEndpoints {
                id: &db,
                service_ports: vec![10002],
                tasks: vec![],
            },
            AppEndpoints {
                id: &tool,
                service_ports: vec![],
                tasks: vec![("h1", &[]), ("h2", &[])],
            },
        ];
        assert_eq!(
            endpoints_text(&apps),
            "prod_web\t10000\th1:31000\th2:31005\t\n\
             prod_web\t10001\th1:31001\th2:0\t\n\
             db\t10002\t\n\
             tool\t \th1 h2 \n"
        );
    }
}
