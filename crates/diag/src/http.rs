//! The master's `/system/health/v1`: this node's units, the cluster's (each agent's
//! `/system/health/v1` fetched together, an unreachable agent unhealthy), the report, and the
//! diagnostics-bundle routes.

use crate::bundle::{BundleJob, Source};
use crate::node::NodeHealth;
use crate::report::{self, Collected};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use keel_api::diagnostics::{BundleResponse, CreateBundle, NodeReport, Nodes, Units};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The DC/OS version Keel answers as (the CLI and UI compare against 1.11).
pub const DCOS_VERSION: &str = "1.11.0";

/// How long the master waits for an agent's health.
const AGENT_TIMEOUT: Duration = Duration::from_secs(5);

const BASE: &str = "/system/health/v1";

/// An agent the master knows: its id, HTTP endpoint and hostname.
#[derive(Debug, Clone)]
pub struct AgentRef {
    pub id: String,
    pub endpoint: String,
    pub hostname: String,
}

/// What the master's diagnostics are built from.
pub struct DiagConfig {
    /// The master node's own units.
    pub local: NodeHealth,
    /// The master's entry URL on loopback (where its state, metrics and logs are read).
    pub entry: String,
    /// `<ip>:<port>` naming this master in `status/all` and `list/all`.
    pub listen: String,
    /// The active agents, read when asked.
    pub agents: Arc<dyn Fn() -> Vec<AgentRef> + Send + Sync>,
    /// Where bundles are kept.
    pub bundle_dir: PathBuf,
    /// The redacted configuration a bundle carries.
    pub config: Value,
    /// Bundle times.
    pub clock: Arc<dyn keel_clock::Clock>,
    /// Bundle names.
    pub ids: Arc<dyn keel_clock::Ids>,
}

/// The running diagnostics service of the master.
#[derive(Clone)]
pub struct Diagnostics {
    local: NodeHealth,
    entry: String,
    listen: String,
    agents: Arc<dyn Fn() -> Vec<AgentRef> + Send + Sync>,
    http: reqwest::Client,
    job: BundleJob,
}

impl Diagnostics {
    /// The service; creates the bundle directory.
    pub fn new(c: DiagConfig) -> Result<Diagnostics, crate::DiagError> {
        let job = BundleJob::open(c.bundle_dir, c.config, c.clock, c.ids)?;
        Ok(Diagnostics {
            local: c.local,
            entry: c.entry.trim_end_matches('/').to_owned(),
            listen: c.listen,
            agents: c.agents,
            http: reqwest::Client::new(),
            job,
        })
    }

    /// Every node's report: this master's and each agent's, fetched together.
    async fn collect(&self) -> Vec<(Collected, Source)> {
        let agents = (self.agents)();
        let local = async {
            let report = self.local.report().await;
            (
                Collected {
                    report,
                    error: None,
                },
                Source {
                    base: self.entry.clone(),
                    master: true,
                },
            )
        };
        let remote = agents.into_iter().map(|a| self.agent(a));
        let (l, mut r) = tokio::join!(local, futures_util::future::join_all(remote));
        r.insert(0, l);
        r
    }

    async fn agent(&self, a: AgentRef) -> (Collected, Source) {
        let base = a.endpoint.trim_end_matches('/').to_owned();
        let url = format!("{base}{BASE}");
        let got = async {
            let r = self.http.get(&url).timeout(AGENT_TIMEOUT).send().await?;
            r.error_for_status()?.json::<NodeReport>().await
        };
        let c = match got.await {
            Ok(mut report) => {
                // The name clients know the agent by (state's `hostname`).
                report.hostname = a.hostname.clone();
                if report.mesos_id.is_empty() {
                    report.mesos_id = a.id.clone();
                }
                Collected {
                    report,
                    error: None,
                }
            }
            Err(e) => Collected {
                report: NodeReport {
                    units: Vec::new(),
                    hostname: a.hostname.clone(),
                    ip: host_of(&base).unwrap_or(a.hostname.clone()),
                    dcos_version: DCOS_VERSION.to_owned(),
                    node_role: "agent".to_owned(),
                    mesos_id: a.id.clone(),
                    dcos_diagnostics_version: String::new(),
                },
                error: Some(format!("GET {url}: {e}")),
            },
        };
        (
            c,
            Source {
                base,
                master: false,
            },
        )
    }

    /// The cluster's health report (what `/system/health/v1/report` answers).
    pub async fn cluster_report(&self) -> Value {
        cluster_report(&self.nodes().await)
    }

    async fn nodes(&self) -> Vec<Collected> {
        self.collect().await.into_iter().map(|(c, _)| c).collect()
    }

    /// The routes under `/system/health/v1`.
    pub fn router(&self) -> Router {
        let d = "/report/diagnostics";
        Router::new()
            .route(BASE, get(local))
            .route(&format!("{BASE}/units"), get(units))
            .route(&format!("{BASE}/units/{{unit}}"), get(unit))
            .route(&format!("{BASE}/units/{{unit}}/nodes"), get(unit_nodes))
            .route(
                &format!("{BASE}/units/{{unit}}/nodes/{{node}}"),
                get(unit_node),
            )
            .route(&format!("{BASE}/nodes"), get(nodes))
            .route(&format!("{BASE}/nodes/{{node}}"), get(node))
            .route(&format!("{BASE}/nodes/{{node}}/units"), get(node_units))
            .route(
                &format!("{BASE}/nodes/{{node}}/units/{{unit}}"),
                get(node_unit),
            )
            .route(&format!("{BASE}/report"), get(full_report))
            .route(&format!("{BASE}/report/download"), get(download_report))
            .route(&format!("{BASE}{d}/create"), post(create))
            .route(&format!("{BASE}{d}/cancel"), post(cancel))
            .route(&format!("{BASE}{d}/status"), get(status))
            .route(&format!("{BASE}{d}/status/all"), get(status_all))
            .route(&format!("{BASE}{d}/list"), get(list))
            .route(&format!("{BASE}{d}/list/all"), get(list_all))
            .route(&format!("{BASE}{d}/serve/{{bundle}}"), get(serve))
            .route(&format!("{BASE}{d}/delete/{{bundle}}"), post(delete))
            .with_state(self.clone())
    }
}

/// The host part of `http://host:port`.
fn host_of(base: &str) -> Option<String> {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let hostport = rest.split('/').next()?;
    let host = match hostport.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => hostport,
    };
    Some(host.trim_matches(|c| c == '[' || c == ']').to_owned())
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": format!("{what} not found")})),
    )
        .into_response()
}

async fn local(State(d): State<Diagnostics>) -> Json<NodeReport> {
    Json(d.local.report().await)
}

async fn units(State(d): State<Diagnostics>) -> Json<Units> {
    Json(Units {
        units: report::cluster_units(&d.nodes().await),
    })
}

async fn unit(State(d): State<Diagnostics>, Path(unit): Path<String>) -> Response {
    match report::cluster_units(&d.nodes().await)
        .into_iter()
        .find(|u| u.id == unit)
    {
        Some(u) => Json(u).into_response(),
        None => not_found(&format!("unit {unit}")),
    }
}

async fn unit_nodes(State(d): State<Diagnostics>, Path(unit): Path<String>) -> Response {
    let n = report::unit_nodes(&d.nodes().await, &unit);
    if n.is_empty() {
        return not_found(&format!("unit {unit}"));
    }
    Json(Nodes { nodes: n }).into_response()
}

async fn unit_node(
    State(d): State<Diagnostics>,
    Path((unit, node)): Path<(String, String)>,
) -> Response {
    match report::unit_on_node(&d.nodes().await, &unit, &node) {
        Some(u) => Json(u).into_response(),
        None => not_found(&format!("unit {unit} on node {node}")),
    }
}

async fn nodes(State(d): State<Diagnostics>) -> Json<Nodes> {
    Json(Nodes {
        nodes: report::nodes(&d.nodes().await),
    })
}

async fn node(State(d): State<Diagnostics>, Path(node): Path<String>) -> Response {
    let all = d.nodes().await;
    let named: Vec<Collected> = all.into_iter().filter(|n| n.is(&node)).collect();
    match report::nodes(&named).into_iter().next() {
        Some(mut n) => {
            n.health = named
                .iter()
                .map(Collected::health)
                .max()
                .unwrap_or(n.health);
            Json(n).into_response()
        }
        None => not_found(&format!("node {node}")),
    }
}

async fn node_units(State(d): State<Diagnostics>, Path(node): Path<String>) -> Response {
    match report::node_units(&d.nodes().await, &node) {
        Some(units) => Json(Units { units }).into_response(),
        None => not_found(&format!("node {node}")),
    }
}

async fn node_unit(
    State(d): State<Diagnostics>,
    Path((node, unit)): Path<(String, String)>,
) -> Response {
    match report::node_units(&d.nodes().await, &node)
        .and_then(|u| u.into_iter().find(|u| u.id == unit))
    {
        Some(u) => Json(u).into_response(),
        None => not_found(&format!("unit {unit} on node {node}")),
    }
}

/// The whole cluster: every unit with the nodes it runs on, every node with its units.
fn cluster_report(all: &[Collected]) -> Value {
    let units: serde_json::Map<String, Value> = report::cluster_units(all)
        .into_iter()
        .map(|u| {
            let nodes: Vec<Value> = all
                .iter()
                .filter_map(|n| {
                    let nu = n.report.units.iter().find(|x| x.id == u.id)?;
                    Some(json!({"Role": n.report.node_role, "IP": n.report.ip, "Host": n.report.hostname,
                        "MesosId": n.report.mesos_id, "Health": nu.health, "Output": nu.output}))
                })
                .collect();
            let v = json!({"UnitName": u.id, "PrettyName": u.name, "Health": u.health,
                "Description": u.description, "Nodes": nodes});
            (u.id, v)
        })
        .collect();
    let nodes: Vec<Value> = all
        .iter()
        .map(|n| {
            json!({"Role": n.report.node_role, "IP": n.report.ip, "Host": n.report.hostname,
                "MesosId": n.report.mesos_id, "Health": n.health(), "Error": n.error,
                "Units": n.report.units})
        })
        .collect();
    json!({"Units": units, "Nodes": nodes})
}

async fn full_report(State(d): State<Diagnostics>) -> Json<Value> {
    Json(cluster_report(&d.nodes().await))
}

async fn download_report(State(d): State<Diagnostics>) -> Response {
    let body = serde_json::to_vec_pretty(&cluster_report(&d.nodes().await)).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=health-report.json",
            ),
        ],
        body,
    )
        .into_response()
}

fn answer(code: StatusCode, status: String, bundle: Option<String>) -> Response {
    let body = BundleResponse {
        response_http_code: code.as_u16(),
        version: 1,
        status,
        errors: None,
        extra: bundle.map(|b| keel_api::diagnostics::BundleExtra { bundle_name: b }),
    };
    (code, Json(body)).into_response()
}

async fn create(State(d): State<Diagnostics>, body: axum::body::Bytes) -> Response {
    let req: CreateBundle = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                format!("invalid request body: {e}"),
                None,
            );
        }
    };
    let collected = d.collect().await;
    let nodes: Vec<Collected> = collected.iter().map(|(c, _)| c.clone()).collect();
    let chosen = match report::select(&nodes, &req.nodes) {
        Ok(v) => v.into_iter().map(|c| c.report.clone()).collect::<Vec<_>>(),
        Err(e) => return answer(StatusCode::BAD_REQUEST, e.to_string(), None),
    };
    let sources: Vec<(Collected, Source)> = collected
        .into_iter()
        .filter(|(c, _)| chosen.contains(&c.report))
        .collect();
    match d.job.start(sources, d.http.clone()) {
        Ok(name) => answer(
            StatusCode::OK,
            "Job has been successfully started".into(),
            Some(name),
        ),
        Err(busy) => answer(StatusCode::SERVICE_UNAVAILABLE, busy, None),
    }
}

async fn cancel(State(d): State<Diagnostics>) -> Response {
    match d.job.cancel() {
        Ok(()) => answer(
            StatusCode::OK,
            "Attempting to cancel a job, please check job status.".into(),
            None,
        ),
        Err(e) => answer(StatusCode::SERVICE_UNAVAILABLE, e, None),
    }
}

async fn status(State(d): State<Diagnostics>) -> Response {
    Json(d.job.status()).into_response()
}

async fn status_all(State(d): State<Diagnostics>) -> Response {
    let host = host_of(&d.listen).unwrap_or_else(|| d.listen.clone());
    Json(json!({ host: d.job.status() })).into_response()
}

async fn list(State(d): State<Diagnostics>) -> Response {
    Json(d.job.list()).into_response()
}

async fn list_all(State(d): State<Diagnostics>) -> Response {
    let mut m = keel_api::diagnostics::BundleList::new();
    m.insert(d.listen.clone(), d.job.list());
    Json(m).into_response()
}

async fn serve(State(d): State<Diagnostics>, Path(bundle): Path<String>) -> Response {
    if !report::is_bundle_name(&bundle) {
        return not_found(&format!("bundle {bundle}"));
    }
    match tokio::fs::File::open(d.job.path(&bundle)).await {
        Ok(f) => {
            let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(f));
            (
                [
                    (header::CONTENT_TYPE, "application/zip".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename={bundle}"),
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(_) => not_found(&format!("bundle {bundle}")),
    }
}

async fn delete(State(d): State<Diagnostics>, Path(bundle): Path<String>) -> Response {
    if !report::is_bundle_name(&bundle) {
        return not_found(&format!("bundle {bundle}"));
    }
    let path = d.job.path(&bundle);
    match tokio::fs::remove_file(&path).await {
        Ok(()) => answer(StatusCode::OK, format!("Deleted {}", path.display()), None),
        Err(_) => not_found(&format!("bundle {bundle}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_from_endpoints() {
        assert_eq!(
            host_of("http://127.0.0.1:5051").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(host_of("10.0.0.1:5050").as_deref(), Some("10.0.0.1"));
        assert_eq!(host_of("http://[::1]:5051/x").as_deref(), Some("::1"));
    }
}
