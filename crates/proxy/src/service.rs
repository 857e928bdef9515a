//! The Admin Router's `/service/<name>/` HTTP proxy: resolves the request with the
//! current [`RouteTable`] (one atomic load, no lock), forwards it over pooled keep-alive
//! upstream connections, and streams both bodies without buffering. `Upgrade`s
//! (WebSocket) are passed through by copying both upgraded connections.
//!
//! Invariant: the upstream address always comes from the route table (cluster state),
//! never from the request.

mod snapshot;

pub use snapshot::{apps_from_marathon_json, frameworks_from_summary_json};

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use keel_routing::service::{Resolution, RouteTable, Scheme, Snapshot, Upstream};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// How often the route table is rebuilt when nothing asks for it sooner.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// The shortest time between two rebuilds (a burst of misses costs one).
pub const REFRESH_MIN_GAP: Duration = Duration::from_millis(100);

/// The `/service/` proxy. Cheap to clone.
#[derive(Clone)]
pub struct ServiceProxy {
    inner: Arc<Inner>,
}

struct Inner {
    table: ArcSwap<RouteTable>,
    client: Client<HttpConnector, Body>,
    /// Woken on a miss, so a service that just started is found without waiting.
    wanted: Notify,
    next: AtomicUsize,
    counts: [AtomicU64; 5],
}

/// What the proxy did with the requests it saw since it started (Prometheus counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    /// Sent to an upstream (whatever it answered).
    pub proxied: u64,
    /// Redirected to add the trailing slash.
    pub redirected: u64,
    pub not_found: u64,
    pub unavailable: u64,
    /// Upstreams that could not be reached (502).
    pub upstream_errors: u64,
}

const PROXIED: usize = 0;
const REDIRECTED: usize = 1;
const NOT_FOUND: usize = 2;
const UNAVAILABLE: usize = 3;
const UPSTREAM_ERRORS: usize = 4;

impl Default for ServiceProxy {
    fn default() -> Self {
        ServiceProxy::new()
    }
}

impl ServiceProxy {
    /// A proxy with an empty route table (every name is 404 until a snapshot arrives).
    pub fn new() -> ServiceProxy {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build(http);
        ServiceProxy {
            inner: Arc::new(Inner {
                table: ArcSwap::from_pointee(RouteTable::build(&Snapshot {
                    marathon_ok: true,
                    ..Snapshot::default()
                })),
                client,
                wanted: Notify::new(),
                next: AtomicUsize::new(0),
                counts: Default::default(),
            }),
        }
    }

    fn count(&self, what: usize) {
        self.inner.counts[what].fetch_add(1, Ordering::Relaxed);
    }

    /// The request counters.
    pub fn counts(&self) -> ProxyCounts {
        let c = |i: usize| self.inner.counts[i].load(Ordering::Relaxed);
        ProxyCounts {
            proxied: c(PROXIED),
            redirected: c(REDIRECTED),
            not_found: c(NOT_FOUND),
            unavailable: c(UNAVAILABLE),
            upstream_errors: c(UPSTREAM_ERRORS),
        }
    }

    /// The current route table.
    pub fn table(&self) -> Arc<RouteTable> {
        self.inner.table.load_full()
    }

    /// Rebuilds the route table from `s`; swaps it in only when it changed. Returns
    /// whether it changed.
    pub fn update(&self, s: &Snapshot) -> bool {
        let new = RouteTable::build(s);
        if **self.inner.table.load() == new {
            return false;
        }
        self.inner.table.store(Arc::new(new));
        true
    }

    /// Keeps the route table current: calls `source` every [`REFRESH_EVERY`], or sooner
    /// after a request missed. Runs until dropped.
    pub async fn refresh_loop<F, Fut>(self, mut source: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Snapshot>,
    {
        loop {
            let s = source().await;
            if self.update(&s) {
                tracing::debug!("service routes changed");
            }
            tokio::time::sleep(REFRESH_MIN_GAP).await;
            tokio::select! {
                _ = tokio::time::sleep(REFRESH_EVERY - REFRESH_MIN_GAP) => {}
                _ = self.inner.wanted.notified() => {}
            }
        }
    }

    /// The routes to mount on the entry: `/service/{*path}` (the hard-wired
    /// `/service/marathon` and `/service/metronome` routes are more specific and win).
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/service/{*path}", axum::routing::any(handle))
            .with_state(self.clone())
    }

    /// Proxies one request.
    pub async fn serve(&self, req: Request) -> Response {
        let table = self.inner.table.load();
        match table.resolve(req.uri().path()) {
            Resolution::Found(svc) => {
                let n = self.inner.next.fetch_add(1, Ordering::Relaxed);
                let up = &svc.upstreams[n % svc.upstreams.len()];
                self.count(PROXIED);
                self.forward(req, &svc, up).await
            }
            Resolution::AddSlash(to) => {
                self.count(REDIRECTED);
                let to = match req.uri().query() {
                    Some(q) => format!("{to}?{q}"),
                    None => to,
                };
                let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
                if let Ok(v) = HeaderValue::from_str(&to) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
            Resolution::NotFound => {
                self.count(NOT_FOUND);
                self.inner.wanted.notify_one();
                text(
                    StatusCode::NOT_FOUND,
                    format!("404 Not Found: no service at {}\n", req.uri().path()),
                )
            }
            Resolution::Unavailable(why) => {
                self.count(UNAVAILABLE);
                self.inner.wanted.notify_one();
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("503 Service Unavailable: {why}\n"),
                )
            }
        }
    }

    async fn forward(
        &self,
        mut req: Request,
        svc: &keel_routing::service::Service,
        up: &Upstream,
    ) -> Response {
        if up.scheme == Scheme::Https {
            return text(
                StatusCode::BAD_GATEWAY,
                format!(
                    "502 Bad Gateway: service {} is https ({}:{}); Keel's /service/ proxy \
                     speaks http to upstreams only\n",
                    svc.id, up.host, up.port
                ),
            );
        }
        let pq = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let path = keel_routing::service::upstream_path(svc, up, pq);
        let uri = if up.host.contains(':') {
            format!("http://[{}]:{}{path}", up.host, up.port)
        } else {
            format!("http://{}:{}{path}", up.host, up.port)
        };
        let Ok(uri) = uri.parse::<Uri>() else {
            return text(
                StatusCode::BAD_REQUEST,
                format!("400 Bad Request: the path {pq:?} makes no upstream URI\n"),
            );
        };
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string();
        let client_ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let upgrade = upgrade_of(req.headers());
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));
        *req.uri_mut() = uri;
        *req.version_mut() = axum::http::Version::HTTP_11;
        let headers = req.headers_mut();
        strip_hop_by_hop(headers);
        headers.remove(header::ACCEPT_ENCODING);
        forwarded(headers, client_ip, &host);
        if let Some(u) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, u.clone());
        }
        let mut resp = match self.inner.client.request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.count(UPSTREAM_ERRORS);
                tracing::debug!(service = %svc.id, "upstream {}:{}: {e}", up.host, up.port);
                return text(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "502 Bad Gateway: service {} at {}:{}: {e}\n",
                        svc.id, up.host, up.port
                    ),
                );
            }
        };
        let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
        if switching && let Some(client_upgrade) = client_upgrade {
            let upstream_upgrade = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                match tokio::try_join!(client_upgrade, upstream_upgrade) {
                    Ok((c, u)) => {
                        let _ = tokio::io::copy_bidirectional(
                            &mut TokioIo::new(c),
                            &mut TokioIo::new(u),
                        )
                        .await;
                    }
                    Err(e) => tracing::debug!("upgrade through /service/ failed: {e}"),
                }
            });
        }
        let (mut parts, body) = resp.into_parts();
        let up_upgrade = parts.headers.get(header::UPGRADE).cloned();
        strip_hop_by_hop(&mut parts.headers);
        if switching && let Some(u) = up_upgrade {
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(header::UPGRADE, u);
        }
        rewrite_redirects(&mut parts.headers, &host, &svc.id);
        Response::from_parts(parts, Body::new(body))
    }
}

async fn handle(State(p): State<ServiceProxy>, req: Request) -> Response {
    p.serve(req).await
}

/// An answer of the proxy itself: `{"message"}` JSON, like every other error of the entry.
fn text(code: StatusCode, body: String) -> Response {
    let body = serde_json::to_string(&serde_json::Map::from_iter([(
        "message".to_string(),
        serde_json::Value::String(body.trim_end().to_string()),
    )]))
    .unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The `Upgrade` a request asks for (with `Connection: upgrade`), if any.
fn upgrade_of(h: &HeaderMap) -> Option<HeaderValue> {
    let asks = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if asks {
        h.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes the hop-by-hop headers and every header `Connection` names.
fn strip_hop_by_hop(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in &HOP_BY_HOP {
        h.remove(n);
    }
    h.remove("proxy-connection");
}

/// Sets `X-Forwarded-For` (appended), `X-Forwarded-Proto`, `X-Forwarded-Host` and
/// `X-Real-IP`, as Admin Router's nginx does.
fn forwarded(h: &mut HeaderMap, client: Option<std::net::IpAddr>, host: &str) {
    const XFF: HeaderName = HeaderName::from_static("x-forwarded-for");
    if let Some(ip) = client {
        let ip = ip.to_string();
        let value = match h.get(&XFF).and_then(|v| v.to_str().ok()) {
            Some(prev) if !prev.is_empty() => format!("{prev}, {ip}"),
            _ => ip.clone(),
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(XFF, v);
        }
        if let Ok(v) = HeaderValue::from_str(&ip) {
            h.insert(HeaderName::from_static("x-real-ip"), v);
        }
    }
    h.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    );
    if let Ok(v) = HeaderValue::from_str(host) {
        h.insert(HeaderName::from_static("x-forwarded-host"), v);
    }
}

/// Rewrites `Location` and `Refresh` (see `keel_routing::service::rewrite_location`).
fn rewrite_redirects(h: &mut HeaderMap, host: &str, id: &str) {
    if let Some(new) = h
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| keel_routing::service::rewrite_location(l, "http", host, id))
        .and_then(|n| HeaderValue::from_str(&n).ok())
    {
        h.insert(header::LOCATION, new);
    }
    const REFRESH: HeaderName = HeaderName::from_static("refresh");
    if let Some(new) = h
        .get(&REFRESH)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| keel_routing::service::rewrite_refresh(l, "http", host, id))
        .and_then(|n| HeaderValue::from_str(&n).ok())
    {
        h.insert(REFRESH, new);
    }
}
