//! Authentication at the entry. Only `disabled` exists today (DC/OS OSS's default); the
//! IAM issue adds `permissive` and `strict`, enforced here and again in each component.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// How the entry treats unauthenticated requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityMode {
    /// Every request is allowed (no login).
    #[default]
    Disabled,
}

/// The entry's authentication settings.
#[derive(Debug, Clone, Default)]
pub struct Security {
    pub mode: SecurityMode,
}

/// Middleware: the single place every request passes before a handler.
pub async fn authenticate(State(sec): State<Security>, req: Request, next: Next) -> Response {
    match sec.mode {
        SecurityMode::Disabled => next.run(req).await,
    }
}
