//! `/v2/deployments`: list the running deployments, cancel one (see [`crate::deploy`]).

use super::{Params, deployment_result, flag, json_response};
use crate::Marathon;
use crate::error::HttpError;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// `GET /v2/deployments`.
pub(crate) async fn list(AxState(m): AxState<Marathon>) -> Response {
    let st = m.lock();
    let v: Vec<Value> = st
        .deployments
        .iter()
        .map(crate::views::deployment_json)
        .collect();
    json_response(StatusCode::OK, &Value::Array(v))
}

/// `DELETE /v2/deployments/{id}`: roll back (a new deployment), or with `force` just stop.
pub(crate) async fn cancel(
    AxState(m): AxState<Marathon>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    let force = flag(&q, "force", false);
    let mut st = m.lock();
    match m.cancel_deployment(&mut st, &id, force, "cancelled")? {
        Some(p) => Ok(deployment_result(StatusCode::OK, &p.id, &p.version)),
        None => Ok(StatusCode::ACCEPTED.into_response()),
    }
}
