//! Errors of the Marathon service and their HTTP answers in Marathon's format.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keel_api::marathon::ApiErrorBody;

/// Internal failures (store, corrupt records, plan errors).
#[derive(Debug, thiserror::Error)]
pub enum MarathonError {
    #[error("store: {0}")]
    Store(#[from] keel_store::StoreError),
    #[error("record {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("deployment plan: {0}")]
    Plan(#[from] keel_deploy::DeployError),
}

/// An HTTP error answer.
pub struct HttpError(pub ApiErrorBody);

impl From<ApiErrorBody> for HttpError {
    fn from(b: ApiErrorBody) -> Self {
        HttpError(b)
    }
}

impl From<MarathonError> for HttpError {
    fn from(e: MarathonError) -> Self {
        tracing::error!("marathon: {e}");
        let status = match &e {
            MarathonError::Plan(keel_deploy::DeployError::DependencyCycle { .. }) => 422,
            _ => 500,
        };
        HttpError(ApiErrorBody::new(status, e.to_string()))
    }
}

impl From<keel_deploy::DeployError> for HttpError {
    fn from(e: keel_deploy::DeployError) -> Self {
        let status = match e {
            keel_deploy::DeployError::DependencyCycle { .. } => 422,
            _ => 500,
        };
        HttpError(ApiErrorBody::new(status, e.to_string()))
    }
}

impl From<keel_api::marathon::Validation> for HttpError {
    fn from(v: keel_api::marathon::Validation) -> Self {
        HttpError(v.into())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(self.0)).into_response()
    }
}
