//! Errors of the Marathon service: the domain's [`MarathonError`], and [`HttpError`], its
//! answer in Marathon's format (the only place that maps one to the other).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keel_api::marathon::{ApiErrorBody, PathId, Validation};

/// What the service's operations refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum MarathonError {
    #[error("store: {0}")]
    Store(#[from] keel_store::StoreError),
    #[error("record {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    /// A plan of the scheduler's own failed.
    #[error("deployment plan: {0}")]
    Plan(#[from] keel_deploy::DeployError),
    /// The change a caller asked for cannot be planned (a dependency cycle, ...).
    #[error(transparent)]
    Unplannable(keel_deploy::DeployError),
    /// Running deployments hold run specs the change touches (and it was not forced).
    #[error("locked by deployments {deployments:?}")]
    Locked { deployments: Vec<String> },
    /// The change would make `id` both an app and a pod; an app is there already.
    #[error("an app {id} exists already")]
    AppExists { id: PathId },
    /// Like [`MarathonError::AppExists`], the pod being there already (or new too).
    #[error("a pod {id} exists already")]
    PodExists { id: PathId },
    #[error("deployment {id} does not exist")]
    DeploymentNotFound { id: String },
    /// The change breaks a rule (Keel's limits, ...).
    #[error("{0}")]
    Invalid(Validation),
    /// A write's transaction failed to become durable (the state was recovered).
    #[error("persisting the change: {reason}")]
    NotDurable { reason: String },
    /// No service port is left to assign.
    #[error(transparent)]
    Ports(#[from] crate::service_ports::PortRangeExhausted),
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
        let body = match e {
            MarathonError::Locked { deployments } => ApiErrorBody::locked(&deployments),
            MarathonError::AppExists { id } => ApiErrorBody::app_exists(&id),
            MarathonError::PodExists { id } => ApiErrorBody::pod_exists(&id),
            MarathonError::DeploymentNotFound { id } => ApiErrorBody::deployment_not_found(&id),
            MarathonError::Invalid(v) => v.into(),
            MarathonError::Unplannable(e) => return e.into(),
            e @ (MarathonError::Ports(_) | MarathonError::NotDurable { .. }) => {
                ApiErrorBody::new(500, e.to_string())
            }
            e @ (MarathonError::Store(_)
            | MarathonError::Corrupt { .. }
            | MarathonError::Plan(_)) => {
                tracing::error!("marathon: {e}");
                let status = match &e {
                    MarathonError::Plan(keel_deploy::DeployError::DependencyCycle { .. }) => 422,
                    _ => 500,
                };
                ApiErrorBody::new(status, e.to_string())
            }
        };
        HttpError(body)
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

impl From<Validation> for HttpError {
    fn from(v: Validation) -> Self {
        HttpError(v.into())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(self.0)).into_response()
    }
}
