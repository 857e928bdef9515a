//! `/v2/apps`: list, create, get, PUT (partial update, scale, rollback), PATCH, DELETE,
//! restart, tasks (list and kill), versions.

use super::{Params, deployment_result, flag, json_response, param, params, path_id};
use crate::Marathon;
use crate::deploy::{Change, version_now};
use crate::error::HttpError;
use crate::events;
use crate::views::{Embed, app_info, app_json, write_app_info};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use keel_api::marathon::{
    ApiErrorBody, AppDefinition, AppUpdate, PathId, Timestamp, parse_app_update, parse_app_updates,
};
use serde_json::{Value, json};

/// What an `/v2/apps/<rest>` path names.
enum Target {
    App(PathId),
    Restart(PathId),
    Tasks(PathId),
    Task(PathId, String),
    Versions(PathId),
    Version(PathId, String),
}

fn target(rest: &str) -> Result<Target, HttpError> {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let pos = |name: &str| segs.iter().rposition(|s| *s == name);
    let id = |end: usize| path_id(&segs[..end].join("/"));
    if let Some(i) = pos("tasks") {
        return match segs.len() - i {
            1 => Ok(Target::Tasks(id(i)?)),
            2 => Ok(Target::Task(id(i)?, segs[i + 1].to_string())),
            _ => Ok(Target::App(id(segs.len())?)),
        };
    }
    if let Some(i) = pos("versions") {
        return match segs.len() - i {
            1 => Ok(Target::Versions(id(i)?)),
            2 => Ok(Target::Version(id(i)?, segs[i + 1].to_string())),
            _ => Ok(Target::App(id(segs.len())?)),
        };
    }
    if segs.last() == Some(&"restart") {
        return Ok(Target::Restart(id(segs.len() - 1)?));
    }
    Ok(Target::App(id(segs.len())?))
}

fn not_found(id: &PathId) -> HttpError {
    HttpError(ApiErrorBody::app_not_found(id))
}

/// `GET /v2/apps`.
pub(crate) async fn list(
    State(m): State<Marathon>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    let embed = Embed::parse(params(&q, "embed"));
    let cmd = param(&q, "cmd").map(str::to_lowercase);
    let idf = param(&q, "id").map(str::to_lowercase);
    let selector = match param(&q, "label") {
        Some(l) => Some(
            crate::api::misc::LabelSelector::parse(l)
                .map_err(|e| HttpError(ApiErrorBody::new(400, e)))?,
        ),
        None => None,
    };
    let tasks = m.tasks();
    let st = m.lock();
    let apps = st
        .apps
        .values()
        .filter(|a| {
            cmd.as_ref()
                .is_none_or(|c| a.cmd.as_deref().unwrap_or("").to_lowercase().contains(c))
        })
        .filter(|a| {
            idf.as_ref()
                .is_none_or(|f| a.id.to_string().to_lowercase().contains(f))
        })
        .filter(|a| selector.as_ref().is_none_or(|s| s.matches(&a.labels)));
    // Straight to bytes: a list of thousands of apps is megabytes of JSON.
    let mut body = b"{\"apps\":[".to_vec();
    for (i, a) in apps.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        write_app_info(&mut body, &st, a, &tasks, embed)
            .map_err(|e| HttpError(ApiErrorBody::new(500, e.to_string())))?;
    }
    body.extend_from_slice(b"]}");
    drop(st);
    drop(tasks);
    Ok(super::json_bytes(StatusCode::OK, body))
}

/// `POST /v2/apps`.
pub(crate) async fn create(
    State(m): State<Marathon>,
    Query(q): Query<Params>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, HttpError> {
    let update = parse_app_update(&body)?;
    let app = AppDefinition::create(update, &PathId::root())?;
    let tasks = m.tasks();
    let mut st = m.lock();
    if st.apps.contains_key(&app.id) {
        return Err(HttpError(ApiErrorBody::app_exists(&app.id)));
    }
    if st.groups.contains_key(&app.id) || st.apps.keys().any(|a| a.is_descendant_of(&app.id)) {
        return Err(HttpError(ApiErrorBody::app_at_group_path(&app.id)));
    }
    let app = app.with_version(version_now(&m), None);
    let mut change = Change::from(&st, flag(&q, "force", false));
    change.apps.insert(app.id.clone(), app.clone());
    let p = m.deploy(&mut st, change)?;
    // With its service ports as assigned.
    let app = st.apps.get(&app.id).cloned().unwrap_or(app);
    m.emit(events::api_post(uri.path(), &app_json(&app), m.now()));
    let info = app_info(
        &st,
        &app,
        &tasks,
        Embed {
            counts: true,
            deployments: true,
            ..Embed::default()
        },
    );
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&app.id.to_string()) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&p.id) {
        headers.insert("Marathon-Deployment-Id", v);
    }
    Ok((StatusCode::CREATED, headers, axum::Json(info)).into_response())
}

/// `GET /v2/apps/<rest>`.
pub(crate) async fn get_rest(
    State(m): State<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    match target(&rest)? {
        Target::App(id) if id.segments().last().is_some_and(|s| s == "*") => {
            group_apps(&m, &id.parent(), &q)
        }
        Target::App(id) => {
            let tasks = m.tasks();
            let st = m.lock();
            let app = st.apps.get(&id).ok_or_else(|| not_found(&id))?;
            let mut embed = Embed::parse(params(&q, "embed"));
            let single = Embed::single();
            embed.tasks |= single.tasks;
            embed.last_task_failure |= single.last_task_failure;
            Ok(json_response(
                StatusCode::OK,
                &json!({"app": app_info(&st, app, &tasks, embed)}),
            ))
        }
        Target::Tasks(id) => {
            let tasks = m.tasks();
            let st = m.lock();
            let app = st.apps.get(&id).ok_or_else(|| not_found(&id))?;
            let list: Vec<Value> = crate::views::app_tasks(&st, &id, &tasks)
                .map(|(r, t)| crate::views::task_json(r, t, Some(app)))
                .collect();
            Ok(json_response(StatusCode::OK, &json!({"tasks": list})))
        }
        Target::Versions(id) => {
            if !m.lock().apps.contains_key(&id) {
                return Err(not_found(&id));
            }
            let versions: Vec<String> = crate::state::app_versions(&*m.inner.store, &id)?
                .iter()
                .map(|a| a.version.to_string())
                .collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({"versions": versions}),
            ))
        }
        Target::Version(id, v) => {
            let versions = crate::state::app_versions(&*m.inner.store, &id)?;
            let app = versions
                .iter()
                .find(|a| a.version.to_string() == v)
                .ok_or_else(|| HttpError(ApiErrorBody::app_version_not_found(&id, &v)))?;
            Ok(json_response(StatusCode::OK, &app_json(app)))
        }
        Target::Restart(_) | Target::Task(..) => {
            Err(HttpError(ApiErrorBody::new(405, "method not allowed")))
        }
    }
}

fn group_apps(m: &Marathon, group: &PathId, q: &Params) -> Result<Response, HttpError> {
    let tasks = m.tasks();
    let st = m.lock();
    let embed = Embed::parse(params(q, "embed"));
    let apps: Vec<Value> = st
        .apps
        .values()
        .filter(|a| a.id.is_descendant_of(group))
        .map(|a| app_info(&st, a, &tasks, embed))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({"*": apps})))
}

/// `PUT /v2/apps/<id>`: partial update (default), scale, rollback, or create.
pub(crate) async fn put_rest(
    State(m): State<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, HttpError> {
    let Target::App(id) = target(&rest)? else {
        return Err(HttpError(ApiErrorBody::new(405, "method not allowed")));
    };
    let update = parse_app_update(&body)?;
    let partial = flag(&q, "partialUpdate", true);
    let mut st = m.lock();
    let (app, created) = updated_app(&m, &st, &id, update, partial, true)?;
    let mut change = Change::from(&st, flag(&q, "force", false));
    change.apps.insert(id, app);
    let p = m.deploy(&mut st, change)?;
    Ok(deployment_result(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &p.id,
        &p.version,
    ))
}

/// `PATCH /v2/apps/<id>`: partial update of an existing app.
pub(crate) async fn patch_rest(
    State(m): State<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, HttpError> {
    let Target::App(id) = target(&rest)? else {
        return Err(HttpError(ApiErrorBody::new(405, "method not allowed")));
    };
    let mut update = parse_app_update(&body)?;
    update.id = None;
    let mut st = m.lock();
    let (app, _) = updated_app(&m, &st, &id, update, true, false)?;
    let mut change = Change::from(&st, flag(&q, "force", false));
    change.apps.insert(id, app);
    let p = m.deploy(&mut st, change)?;
    Ok(deployment_result(StatusCode::OK, &p.id, &p.version))
}

/// The app `id` after `update`: a rollback to a stored version, a partial (or full)
/// update of the existing app, or (when allowed) a new app.
fn updated_app(
    m: &Marathon,
    st: &crate::state::State,
    id: &PathId,
    update: AppUpdate,
    partial: bool,
    may_create: bool,
) -> Result<(AppDefinition, bool), HttpError> {
    let now = version_now(m);
    let current = st.apps.get(id);
    if update.is_rollback() {
        let current = current.ok_or_else(|| not_found(id))?;
        let want = update.version.map(|v| v.to_string()).unwrap_or_default();
        let versions = crate::state::app_versions(&*m.inner.store, id)?;
        let old = versions
            .into_iter()
            .find(|a| a.version.to_string() == want)
            .ok_or_else(|| HttpError(ApiErrorBody::app_version_not_found(id, &want)))?;
        return Ok((old.with_version(now, Some(current)), false));
    }
    match current {
        Some(cur) if partial => Ok((cur.apply(&update)?.with_version(now, Some(cur)), false)),
        Some(cur) => {
            let fresh = AppDefinition::create(update.with_id(id), &PathId::root())?;
            Ok((fresh.with_version(now, Some(cur)), false))
        }
        None if may_create => {
            let app = AppDefinition::create(update.with_id(id), &PathId::root())?;
            Ok((app.with_version(now, None), true))
        }
        None => Err(not_found(id)),
    }
}

/// `PUT /v2/apps` and `PATCH /v2/apps`: many apps in one deployment.
async fn many(
    m: Marathon,
    q: Params,
    body: Bytes,
    may_create: bool,
) -> Result<Response, HttpError> {
    let updates = parse_app_updates(&body)?;
    let partial = flag(&q, "partialUpdate", true);
    let mut st = m.lock();
    let mut change = Change::from(&st, flag(&q, "force", false));
    for u in updates {
        let raw =
            u.id.clone()
                .ok_or_else(|| HttpError(ApiErrorBody::new(422, "every app needs an id")))?;
        let id = path_id(&raw)?;
        let (app, _) = updated_app(&m, &st, &id, u, partial, may_create)?;
        change.apps.insert(id, app);
    }
    let p = m.deploy(&mut st, change)?;
    Ok(deployment_result(StatusCode::OK, &p.id, &p.version))
}

pub(crate) async fn put_many(
    State(m): State<Marathon>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, HttpError> {
    many(m, q, body, true).await
}

pub(crate) async fn patch_many(
    State(m): State<Marathon>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, HttpError> {
    many(m, q, body, false).await
}

/// `DELETE /v2/apps/<id>` and `DELETE /v2/apps/<id>/tasks[/<task>]`.
pub(crate) async fn delete_rest(
    State(m): State<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    match target(&rest)? {
        Target::App(id) => {
            let mut st = m.lock();
            if !st.apps.contains_key(&id) {
                return Err(not_found(&id));
            }
            let mut change = Change::from(&st, flag(&q, "force", true));
            change.apps.remove(&id);
            let p = m.deploy(&mut st, change)?;
            Ok(deployment_result(StatusCode::OK, &p.id, &p.version))
        }
        Target::Tasks(id) => crate::api::tasks::kill_app_tasks(&m, &id, None, &q),
        Target::Task(id, task) => crate::api::tasks::kill_app_tasks(&m, &id, Some(task), &q),
        _ => Err(HttpError(ApiErrorBody::new(405, "method not allowed"))),
    }
}

/// `POST /v2/apps/<id>/restart`.
pub(crate) async fn post_rest(
    State(m): State<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    let Target::Restart(id) = target(&rest)? else {
        return Err(HttpError(ApiErrorBody::new(405, "method not allowed")));
    };
    let mut st = m.lock();
    let app = st.apps.get(&id).cloned().ok_or_else(|| not_found(&id))?;
    let mut change = Change::from(&st, flag(&q, "force", false));
    // A restart needs a new config version, even within the millisecond of the last one.
    let last = app.version_info.last_config_change_at.millis();
    let now = Timestamp::from_millis(version_now(&m).millis().max(last.saturating_add(1)));
    change.apps.insert(id.clone(), app.with_version(now, None));
    change.restart.insert(id.to_string());
    let p = m.deploy(&mut st, change)?;
    Ok(deployment_result(StatusCode::OK, &p.id, &p.version))
}
