//! DC/OS platform endpoints that clients probe before they use a service: Cosmos's
//! `/capabilities` (the DC/OS CLI checks `METRONOME` before any `dcos job` command) and the
//! pkgpanda build info that `dcos cluster setup` and `dcos auth login` fetch (`HEAD`) to learn
//! whether the cluster wants a login (200: no; 401 with `WWW-Authenticate`: yes).

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keel_api::mesos::{Capabilities, Capability};

/// Cosmos's media type for `/capabilities`, echoed as the response's Content-Type.
pub const CAPABILITIES_TYPE: &str =
    "application/vnd.dcos.capabilities+json;charset=utf-8;version=v1";

/// The capabilities Keel serves today. Only what exists is advertised: no
/// `PACKAGE_MANAGEMENT` until Cosmos does; `SUPPORT_CLUSTER_REPORT` for diagnostics bundles; `LOGGING_V2` for dcos-log's v2 task logs (the
/// CLI's `task log` then uses `/system/v1/logs/v2/task/...`), no `LOGGING` (v1 journald).
pub const CAPABILITIES: &[&str] = &["METRONOME", "LOGGING_V2", "SUPPORT_CLUSTER_REPORT"];

/// The routes (stateless; merged into the master's router).
pub fn router() -> Router {
    Router::new()
        .route("/capabilities", get(capabilities))
        .route("/pkgpanda/active.buildinfo.full.json", get(buildinfo))
}

async fn capabilities() -> Response {
    let body = serde_json::to_string(&capabilities_body()).unwrap_or_default();
    ([(header::CONTENT_TYPE, CAPABILITIES_TYPE)], body).into_response()
}

fn capabilities_body() -> Capabilities {
    Capabilities {
        capabilities: CAPABILITIES
            .iter()
            .map(|c| Capability {
                name: (*c).to_owned(),
            })
            .collect(),
    }
}

/// Map of package name to its `buildinfo.full.json`; Keel is one binary, not pkgpanda
/// packages, so the map is empty.
async fn buildinfo() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn capabilities_are_the_json_they_were() {
        assert_eq!(
            serde_json::to_string(&super::capabilities_body()).unwrap(),
            serde_json::json!({"capabilities": [
                {"name": "METRONOME"}, {"name": "LOGGING_V2"}, {"name": "SUPPORT_CLUSTER_REPORT"}
            ]})
            .to_string()
        );
    }
}
