//! `/v2/groups`: the group tree (explicit groups plus the ones apps imply), create, update
//! (with `scaleBy` and `dryRun`), delete, versions and a group's apps.

use super::{Params, deployment_result, flag, json_response, params, path_id};
use crate::Marathon;
use crate::deploy::{Change, version_now};
use crate::error::HttpError;
use crate::state::{GroupRecord, State};
use crate::task_views::Views;
use crate::views::{Embed, app_info};
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keel_api::marathon::{ApiErrorBody, AppDefinition, AppUpdate, PathId, Validation, Violations};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// A group request body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupUpdate {
    id: Option<String>,
    #[serde(default)]
    apps: Option<Vec<AppUpdate>>,
    #[serde(default)]
    groups: Option<Vec<GroupUpdate>>,
    #[serde(default)]
    dependencies: Option<Vec<String>>,
    scale_by: Option<f64>,
    version: Option<String>,
}

/// Every group id: explicit ones and the ancestors of apps.
fn group_ids(st: &State) -> BTreeSet<PathId> {
    let mut ids: BTreeSet<PathId> = st.groups.keys().cloned().collect();
    ids.insert(PathId::root());
    for a in st.apps.keys().chain(st.pods.keys()) {
        let mut p = a.parent();
        while !p.is_root() {
            ids.insert(p.clone());
            p = p.parent();
        }
    }
    ids
}

fn group_json(st: &State, id: &PathId, all: &BTreeSet<PathId>, tasks: &Views, e: Embed) -> Value {
    let apps: Vec<Value> = st
        .apps
        .values()
        .filter(|a| a.id.parent() == *id)
        .map(|a| app_info(st, a, tasks, e))
        .collect();
    let groups: Vec<Value> = all
        .iter()
        .filter(|g| !g.is_root() && g.parent() == *id)
        .map(|g| group_json(st, g, all, tasks, e))
        .collect();
    let rec = st.groups.get(id);
    let version = rec.map(|g| g.version.to_string()).or_else(|| {
        st.apps
            .values()
            .filter(|a| a.id.is_descendant_of(id))
            .map(|a| a.version)
            .max()
            .map(|v| v.to_string())
    });
    let mut o = json!({
        "id": id.to_string(),
        "apps": apps,
        "groups": groups,
        "pods": st
            .pods
            .iter()
            .filter(|(pid, _)| pid.parent() == *id)
            .map(|(_, p)| super::pods::pod_json(p))
            .collect::<Vec<_>>(),
        "dependencies": rec.map(|g| g.dependencies.iter().map(|d| d.to_string()).collect::<Vec<_>>()).unwrap_or_default(),
    });
    if let (Some(v), Some(obj)) = (version, o.as_object_mut()) {
        obj.insert("version".into(), json!(v));
    }
    o
}

fn get(m: &Marathon, id: PathId, q: &Params) -> Result<Response, HttpError> {
    let tasks = m.tasks();
    let st = m.lock();
    let all = group_ids(&st);
    if !all.contains(&id) {
        return Err(HttpError(ApiErrorBody::group_not_found(&id)));
    }
    let e = Embed::parse(params(q, "embed").filter(|v| v.starts_with("group.apps.")));
    Ok(json_response(
        StatusCode::OK,
        &group_json(&st, &id, &all, &tasks, e),
    ))
}

pub(crate) async fn get_root(
    AxState(m): AxState<Marathon>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    get(&m, PathId::root(), &q)
}

pub(crate) async fn get_rest(
    AxState(m): AxState<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if segs.last() == Some(&"versions") {
        let id = path_id(&segs[..segs.len() - 1].join("/"))?;
        let st = m.lock();
        if !group_ids(&st).contains(&id) {
            return Err(HttpError(ApiErrorBody::group_not_found(&id)));
        }
        let versions: BTreeSet<String> = st
            .apps
            .values()
            .filter(|a| a.id.is_descendant_of(&id))
            .map(|a| a.version.to_string())
            .collect();
        return Ok(json_response(
            StatusCode::OK,
            &json!(versions.into_iter().rev().collect::<Vec<_>>()),
        ));
    }
    if segs.last() == Some(&"apps") {
        let id = path_id(&segs[..segs.len() - 1].join("/"))?;
        let tasks = m.tasks();
        let st = m.lock();
        let e = Embed::parse(params(&q, "embed"));
        let apps: Vec<Value> = st
            .apps
            .values()
            .filter(|a| a.id.parent() == id)
            .map(|a| app_info(&st, a, &tasks, e))
            .collect();
        return Ok(json_response(StatusCode::OK, &json!({"apps": apps})));
    }
    get(&m, path_id(&rest)?, &q)
}

fn parse(body: &[u8]) -> Result<GroupUpdate, HttpError> {
    Ok(keel_api::marathon::parse_json(body)?)
}

/// Adds the apps and groups of `u` (rooted at `base`) to `change`; collects violations.
fn collect(
    u: GroupUpdate,
    base: &PathId,
    change: &mut Change,
    now: keel_api::marathon::Timestamp,
    current: &State,
    v: &mut Violations,
    path: &str,
) -> BTreeSet<PathId> {
    let mut seen = BTreeSet::new();
    let deps = u
        .dependencies
        .unwrap_or_default()
        .iter()
        .map(|d| PathId::parse_unchecked(d).canonical(base))
        .collect();
    change.groups.insert(
        base.clone(),
        GroupRecord {
            id: base.clone(),
            dependencies: deps,
            version: now,
        },
    );
    for (i, app) in u.apps.unwrap_or_default().into_iter().enumerate() {
        match AppDefinition::create(app, base) {
            Ok(a) if !a.id.is_descendant_of(base) => {
                v.add(&format!("{path}/apps({i})/id"), not_child(base));
            }
            Ok(a) => {
                let previous = current.apps.get(&a.id);
                let a = a.clone().with_version(now, previous);
                seen.insert(a.id.clone());
                change.apps.insert(a.id.clone(), a);
            }
            Err(e) => {
                for d in e.details {
                    v.add(&format!("{path}/apps({i}){}", d.path), d.errors.join("; "));
                }
            }
        }
    }
    for (i, g) in u.groups.unwrap_or_default().into_iter().enumerate() {
        let Some(raw) = g.id.clone() else {
            v.add(&format!("{path}/groups({i})/id"), "error.path.missing");
            continue;
        };
        let gid = match PathId::parse(&raw) {
            Ok(g) => g.canonical(base),
            Err(e) => {
                v.add(&format!("{path}/groups({i})/id"), e.to_string());
                continue;
            }
        };
        if !gid.is_descendant_of(base) {
            v.add(&format!("{path}/groups({i})/id"), not_child(base));
            continue;
        }
        seen.extend(collect(
            g,
            &gid,
            change,
            now,
            current,
            v,
            &format!("{path}/groups({i})"),
        ));
    }
    seen
}

/// Marathon's error for an app or group declared outside the group that lists it.
fn not_child(base: &PathId) -> String {
    format!("Identifier is not child of '{base}'")
}

fn created(p: &keel_deploy::DeploymentPlan, id: &PathId) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&p.id) {
        headers.insert("Marathon-Deployment-Id", v);
    }
    (
        StatusCode::CREATED,
        headers,
        axum::Json(json!({"deploymentId": p.id, "version": p.version})),
    )
        .into_response()
}

fn create(
    m: &Marathon,
    base: Option<PathId>,
    q: &Params,
    body: &[u8],
) -> Result<Response, HttpError> {
    let u = parse(body)?;
    let id = match (&u.id, base) {
        (Some(raw), base) => PathId::parse(&if raw.starts_with('/') || base.is_none() {
            raw.clone()
        } else {
            format!("{}/{raw}", base.unwrap_or_else(PathId::root))
        })
        .map(|p| p.canonical(&PathId::root()))
        .map_err(|e| HttpError(Validation::single("/id", e.to_string()).into()))?,
        (None, Some(b)) => b,
        (None, None) => {
            return Err(HttpError(
                Validation::single("/id", "error.path.missing").into(),
            ));
        }
    };
    let mut st = m.lock();
    if group_ids(&st).contains(&id) {
        return Err(HttpError(ApiErrorBody::group_exists(&id)));
    }
    if st.apps.contains_key(&id) {
        return Err(HttpError(ApiErrorBody::app_at_group_path(&id)));
    }
    let mut change = Change::from(&st, flag(q, "force", false));
    let mut v = Violations::default();
    let now = version_now(m);
    let new_apps = collect(u, &id, &mut change, now, &st, &mut v, "");
    v.finish(())?;
    if let Some(dup) = new_apps.iter().find(|a| st.apps.contains_key(*a)) {
        return Err(HttpError(ApiErrorBody::app_exists(dup)));
    }
    let p = m.deploy(&mut st, change)?;
    Ok(created(&p, &id))
}

pub(crate) async fn create_root(
    AxState(m): AxState<Marathon>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, HttpError> {
    create(&m, None, &q, &body)
}

pub(crate) async fn create_rest(
    AxState(m): AxState<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, HttpError> {
    create(&m, Some(path_id(&rest)?), &q, &body)
}

fn update(m: &Marathon, id: PathId, q: &Params, body: &[u8]) -> Result<Response, HttpError> {
    let u = parse(body)?;
    let mut st = m.lock();
    let now = version_now(m);
    let mut change = Change::from(&st, flag(q, "force", false));
    if let Some(want) = u.version.clone() {
        rollback(m, &st, &id, &want, now, &mut change)?;
    } else if let Some(factor) = u.scale_by {
        if !(factor.is_finite() && factor >= 0.0) {
            return Err(HttpError(
                Validation::single("/scaleBy", "must be a non-negative number").into(),
            ));
        }
        for a in st.apps.values().filter(|a| a.id.is_descendant_of(&id)) {
            let scaled = AppDefinition {
                instances: ((f64::from(a.instances) * factor).ceil()) as u32,
                ..a.clone()
            };
            change
                .apps
                .insert(a.id.clone(), scaled.with_version(now, Some(a)));
        }
    } else {
        let mut v = Violations::default();
        let keep_groups: Vec<PathId> = change
            .groups
            .keys()
            .filter(|g| g.is_descendant_of(&id) && **g != id)
            .cloned()
            .collect();
        for g in keep_groups {
            change.groups.remove(&g);
        }
        let kept = collect(u, &id, &mut change, now, &st, &mut v, "");
        v.finish(())?;
        let stale: Vec<PathId> = st
            .apps
            .keys()
            .filter(|a| a.is_descendant_of(&id) && !kept.contains(*a))
            .cloned()
            .collect();
        for a in stale {
            change.apps.remove(&a);
        }
    }
    if flag(q, "dryRun", false) {
        let target =
            crate::state::root_of(change.apps.values(), change.pods.values(), &change.groups);
        let p = keel_deploy::plan(
            &st.root(),
            &target,
            &BTreeSet::new(),
            "dry-run".into(),
            now.to_string(),
        )?;
        let steps: Vec<Value> = p.steps.iter().map(|s| json!({"actions": s.actions.iter().map(crate::events::render::action_json).collect::<Vec<_>>()})).collect();
        return Ok(json_response(StatusCode::OK, &json!({"steps": steps})));
    }
    let p = m.deploy(&mut st, change)?;
    Ok(deployment_result(StatusCode::OK, &p.id, &p.version))
}

/// The group `id` as it was at version `want` (one of `GET .../versions`): every app in it
/// goes back to its newest stored version not after `want`, and apps created after `want`
/// are removed.
fn rollback(
    m: &Marathon,
    st: &crate::state::State,
    id: &PathId,
    want: &str,
    now: keel_api::marathon::Timestamp,
    change: &mut Change,
) -> Result<(), HttpError> {
    let not_stored = || {
        HttpError(ApiErrorBody::new(
            404,
            format!("Group '{id}' has no stored version {want}"),
        ))
    };
    let apps: Vec<&AppDefinition> = st
        .apps
        .values()
        .filter(|a| a.id.is_descendant_of(id))
        .collect();
    let mut found = false;
    for app in apps {
        let versions = crate::state::app_versions(&*m.inner.store, &app.id)?;
        found |= versions.iter().any(|v| v.version.to_string() == want);
        let at = versions
            .into_iter()
            .find(|v| v.version.to_string().as_str() <= want);
        match at {
            Some(old) if old.version == app.version => {}
            Some(old) => {
                change
                    .apps
                    .insert(app.id.clone(), old.with_version(now, Some(app)));
            }
            None => {
                change.apps.remove(&app.id);
            }
        }
    }
    match found {
        true => Ok(()),
        false => Err(not_stored()),
    }
}

pub(crate) async fn put_root(
    AxState(m): AxState<Marathon>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, HttpError> {
    update(&m, PathId::root(), &q, &body)
}

pub(crate) async fn put_rest(
    AxState(m): AxState<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, HttpError> {
    update(&m, path_id(&rest)?, &q, &body)
}

fn remove(m: &Marathon, id: PathId, q: &Params) -> Result<Response, HttpError> {
    let mut st = m.lock();
    if !group_ids(&st).contains(&id) {
        return Err(HttpError(ApiErrorBody::group_not_found(&id)));
    }
    let mut change = Change::from(&st, flag(q, "force", false));
    change.apps.retain(|a, _| !a.is_descendant_of(&id));
    change.pods.retain(|p, _| !p.is_descendant_of(&id));
    change
        .groups
        .retain(|g, _| !(g.is_descendant_of(&id) || *g == id));
    let p = m.deploy(&mut st, change)?;
    Ok(deployment_result(StatusCode::OK, &p.id, &p.version))
}

pub(crate) async fn delete_root(
    AxState(m): AxState<Marathon>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    remove(&m, PathId::root(), &q)
}

pub(crate) async fn delete_rest(
    AxState(m): AxState<Marathon>,
    Path(rest): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    remove(&m, path_id(&rest)?, &q)
}
