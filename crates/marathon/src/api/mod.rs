//! The Marathon v2 REST API. App and group ids contain slashes, so the id routes take the
//! rest of the path and dispatch on the reserved trailing segments (`restart`, `tasks`,
//! `versions`).

mod apps;
mod deployments;
mod groups;
mod misc;
mod pods;
mod tasks;

use crate::Marathon;
use crate::error::HttpError;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use keel_api::marathon::{ApiErrorBody, PathId};
use serde_json::Value;

/// Query parameters, keeping repeated keys (`embed`, `event_type`).
pub(crate) type Params = Vec<(String, String)>;

pub(crate) fn param<'a>(q: &'a Params, name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub(crate) fn params<'a>(q: &'a Params, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    q.iter()
        .filter(move |(k, _)| k == name || k.strip_suffix("[]") == Some(name))
        .map(|(_, v)| v.as_str())
}

/// Marathon's booleans (Java `Boolean.valueOf`: case-insensitive `true`, anything else false).
pub(crate) fn flag(q: &Params, name: &str, default: bool) -> bool {
    match param(q, name) {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None => default,
    }
}

pub(crate) fn path_id(raw: &str) -> Result<PathId, HttpError> {
    let raw = if raw.starts_with('/') {
        raw.to_string()
    } else {
        format!("/{raw}")
    };
    PathId::parse(&raw).map_err(|e| HttpError(ApiErrorBody::new(404, format!("{raw}: {e}"))))
}

pub(crate) fn json_response(code: StatusCode, v: &Value) -> Response {
    match serde_json::to_vec(v) {
        Ok(body) => json_bytes(code, body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A response of JSON already serialized.
pub(crate) fn json_bytes(code: StatusCode, body: Vec<u8>) -> Response {
    let json = HeaderValue::from_static("application/json");
    (code, [(axum::http::header::CONTENT_TYPE, json)], body).into_response()
}

/// A DeploymentResult with the `Marathon-Deployment-Id` header.
pub(crate) fn deployment_result(code: StatusCode, id: &str, version: &str) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(id) {
        headers.insert("Marathon-Deployment-Id", v);
    }
    (
        code,
        headers,
        axum::Json(serde_json::json!({"deploymentId": id, "version": version})),
    )
        .into_response()
}

/// `/marathon/`: where DC/OS serves Marathon's UI; Keel has none yet, so an index of the
/// v2 API (links relative, so it works under `/service/marathon/` too).
pub(crate) async fn index() -> Response {
    let links = [
        "v2/apps",
        "v2/groups",
        "v2/pods",
        "v2/deployments",
        "v2/tasks",
        "v2/queue",
        "v2/info",
        "v2/leader",
        "ping",
    ]
    .map(|p| format!("<li><a href=\"{p}\">{p}</a></li>"))
    .concat();
    axum::response::Html(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Marathon (Keel)</title></head>\
         <body><h1>Marathon (Keel)</h1><p>Keel has no web UI yet. The Marathon v2 API:</p>\
         <ul>{links}</ul></body></html>\n"
    ))
    .into_response()
}

pub(crate) fn routes(m: Marathon) -> Router {
    Router::new()
        .route("/ping", get(misc::ping))
        .route("/metrics", get(misc::metrics))
        .route("/v2/info", get(misc::info))
        .route("/v2/leader", get(misc::leader).delete(misc::abdicate))
        .route("/v2/events", get(misc::events))
        .route(
            "/v2/apps",
            get(apps::list)
                .post(apps::create)
                .put(apps::put_many)
                .patch(apps::patch_many),
        )
        .route(
            "/v2/apps/{*rest}",
            get(apps::get_rest)
                .put(apps::put_rest)
                .patch(apps::patch_rest)
                .delete(apps::delete_rest)
                .post(apps::post_rest),
        )
        .route(
            "/v2/groups",
            get(groups::get_root)
                .post(groups::create_root)
                .put(groups::put_root)
                .delete(groups::delete_root),
        )
        .route(
            "/v2/groups/{*rest}",
            get(groups::get_rest)
                .post(groups::create_rest)
                .put(groups::put_rest)
                .delete(groups::delete_rest),
        )
        .route("/v2/deployments", get(deployments::list))
        .route("/v2/deployments/{id}", delete(deployments::cancel))
        .route("/v2/tasks", get(tasks::list))
        .route("/v2/tasks/delete", post(tasks::delete_many))
        .route("/v2/queue", get(misc::queue))
        .route("/v2/queue/{*rest}", delete(misc::reset_delay))
        .route(
            "/v2/pods",
            get(pods::list).head(pods::head).post(pods::create),
        )
        .route(
            "/v2/pods/{*rest}",
            get(pods::get_rest)
                .put(pods::put_rest)
                .delete(pods::delete_rest),
        )
        .route("/v2/{*rest}", axum::routing::any(unknown))
        .layer(axum::middleware::from_fn_with_state(
            m.clone(),
            answer_when_durable,
        ))
        .with_state(m)
}

/// Runs the request, then waits until what it wrote is durable before answering (see
/// [`crate::durable`]); a 500 if it did not become durable.
async fn answer_when_durable(
    axum::extract::State(m): axum::extract::State<Marathon>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (response, tickets) = crate::durable::collect(next.run(req)).await;
    match crate::durable::wait_all(&m, tickets).await {
        Ok(()) => response,
        Err(e) => HttpError::from(e).into_response(),
    }
}

/// Any other `/v2/...` path: 404 in Marathon's error shape.
async fn unknown(uri: axum::http::Uri) -> HttpError {
    HttpError(ApiErrorBody::new(
        404,
        format!("URI not found: {}", uri.path()),
    ))
}
