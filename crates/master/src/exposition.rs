//! The master's Prometheus text: `/metrics/prometheus` always, and the entry's `/metrics`
//! when the `Accept` header asks for text (Prometheus's scraper), Marathon's JSON otherwise.
//! It carries the master's `/metrics/snapshot` numbers (agents, tasks, the allocator's
//! totals and use), API latency histograms per route family, and whatever sources the
//! binary adds (the node's metrics, the store's commits).

use crate::Master;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keel_metrics::Histogram;
use keel_metrics::prometheus::{self as prom, Family, Kind};
use std::sync::{Arc, Mutex};

/// A producer of families, called on every scrape.
pub type Source = Arc<dyn Fn() -> Vec<Family> + Send + Sync>;

/// Route families the latency histograms are kept for (the first path segment).
const ROUTES: &[&str] = &[
    "mesos",
    "master",
    "v2",
    "marathon",
    "v1",
    "service",
    "system",
    "mesos_dns",
    "internal",
    "agent",
    "metrics",
    "other",
];

/// What the master's exposition is made of.
#[derive(Clone, Default)]
pub struct Exposition {
    sources: Arc<Mutex<Vec<Source>>>,
    latency: Arc<Vec<Histogram>>,
}

impl Exposition {
    pub(crate) fn new() -> Self {
        Self {
            sources: Arc::default(),
            latency: Arc::new(ROUTES.iter().map(|_| Histogram::default()).collect()),
        }
    }

    /// Adds a source of families.
    pub fn add(&self, source: Source) {
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(source);
    }

    fn route_index(path: &str) -> usize {
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let last = ROUTES.len() - 1;
        ROUTES.iter().position(|r| *r == first).unwrap_or(last)
    }

    fn observe(&self, path: &str, secs: f64) {
        if let Some(h) = self.latency.get(Self::route_index(path)) {
            h.observe(secs);
        }
    }

    fn latency_family(&self) -> Family {
        let mut f = Family::new(
            "keel_http_request_duration_seconds",
            "Time the entry took to answer a request (headers), by the path's first segment",
            Kind::Histogram,
        );
        for (route, h) in ROUTES.iter().zip(self.latency.iter()) {
            if h.count() > 0 {
                let labels = [("route".to_string(), route.to_string())];
                f.samples.extend(h.samples(&f.name, &labels));
            }
        }
        f
    }
}

/// Counters among the master's snapshot numbers (the rest are gauges).
fn snapshot_kind(key: &str) -> Kind {
    let counters = [
        "registrations",
        "status_updates",
        "tasks_finished",
        "tasks_failed",
        "tasks_killed",
        "tasks_lost",
        "tasks_error",
        "tasks_dropped",
        "tasks_gone",
        "missed",
    ];
    if counters.iter().any(|c| key.ends_with(c)) {
        Kind::Counter
    } else {
        Kind::Gauge
    }
}

/// The whole exposition of `m`.
pub fn render(m: &Master) -> String {
    let mut fams: Vec<Family> = m
        .with_core(|c| c.metrics_json())
        .into_iter()
        .map(|(k, v)| {
            let name = format!("keel_{}", k.trim_start_matches("keel/").replace('/', "_"));
            Family::single(&name, &format!("master {k}"), snapshot_kind(&k), v)
        })
        .collect();
    fams.push(m.exposition.latency_family());
    let sources: Vec<Source> = m
        .exposition
        .sources
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for s in sources {
        fams.extend(s());
    }
    prom::render(&fams)
}

fn text(m: &Master) -> Response {
    ([(header::CONTENT_TYPE, prom::CONTENT_TYPE)], render(m)).into_response()
}

/// `/metrics/prometheus`.
pub(crate) async fn prometheus(State(m): State<Master>) -> Response {
    text(&m)
}

/// Times every request by route family, and answers `GET /metrics` with the text format
/// when `Accept` asks for it.
pub(crate) async fn layer(State(m): State<Master>, req: Request, next: Next) -> Response {
    if req.method() == Method::GET && req.uri().path() == "/metrics" {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if prom::wants_text(accept) {
            return text(&m);
        }
    }
    let path = req.uri().path().to_string();
    let started = keel_clock::monotonic();
    let resp = next.run(req).await;
    m.exposition.observe(&path, started.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_bounded() {
        assert_eq!(ROUTES[Exposition::route_index("/v2/apps")], "v2");
        assert_eq!(
            ROUTES[Exposition::route_index("/mesos/master/state")],
            "mesos"
        );
        assert_eq!(ROUTES[Exposition::route_index("/whatever/x")], "other");
        assert_eq!(ROUTES[Exposition::route_index("/")], "other");
    }
}
