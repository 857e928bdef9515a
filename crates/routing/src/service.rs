//! The Admin Router's `/service/<path>` resolution, pure: from a snapshot of cluster state
//! (Marathon apps with their `DCOS_SERVICE_*` labels and running tasks, Mesos frameworks,
//! Mesos-DNS SRV records) to the upstream a request goes to, the prefix to strip, and the
//! `Location` rewriting of the answer.
//!
//! Invariant: every upstream address comes from the snapshot (a task's host or IP and
//! port, a framework's `webui_url`, an SRV record); nothing in the request path ever
//! names an address.

use core::net::IpAddr;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The label naming the service (`/service/<DCOS_SERVICE_NAME>/`).
pub const LABEL_NAME: &str = "DCOS_SERVICE_NAME";
/// The label choosing which of the task's ports serves.
pub const LABEL_PORT_INDEX: &str = "DCOS_SERVICE_PORT_INDEX";
/// The label choosing `http` or `https` to the upstream.
pub const LABEL_SCHEME: &str = "DCOS_SERVICE_SCHEME";
/// `"false"` keeps the `/service/<id>` prefix on the upstream request.
pub const LABEL_REWRITE: &str = "DCOS_SERVICE_REWRITE_REQUEST_URLS";
/// At most this many path segments make a candidate id (Admin Router's limit).
pub const MAX_SEGMENTS: usize = 10;
/// Names that are the Admin Router's hard-wired routes, never resolved from apps.
pub const RESERVED: &[&str] = &["marathon", "metronome"];

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// Parses a label or URL scheme, case-insensitively.
    pub fn parse(s: &str) -> Option<Scheme> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One running (or not yet running) task of a Marathon app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppTask {
    /// The agent's host name or address the task runs on.
    pub host: String,
    /// The task's own address on a container network, if any.
    pub ip: Option<IpAddr>,
    /// The host ports the task was given.
    pub ports: Vec<u16>,
    /// `TASK_RUNNING`.
    pub running: bool,
}

/// A root Marathon app, as far as `/service/` cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The app id (`/group/app`).
    pub id: String,
    /// The app's labels.
    pub labels: BTreeMap<String, String>,
    /// On a container network: the fixed container ports of `portMappings`, in order.
    pub container_ports: Option<Vec<u16>>,
    /// Its tasks.
    pub tasks: Vec<AppTask>,
}

/// A Mesos framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framework {
    /// The framework id.
    pub id: String,
    /// The framework name.
    pub name: String,
    /// `None`: the framework has no web UI; `Some("")`: look it up in Mesos-DNS.
    pub webui_url: Option<String>,
}

/// One SRV record of the Mesos-DNS zone, with its target resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// The record's name (`_name._tcp.marathon.mesos`).
    pub name: String,
    /// The target's address.
    pub host: String,
    /// The target port.
    pub port: u16,
}

/// What the resolver reads: the state Admin Router caches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Marathon's root apps that carry [`LABEL_NAME`].
    pub apps: Vec<App>,
    /// `false` when Marathon's app list could not be read (answers 503).
    pub marathon_ok: bool,
    /// Mesos frameworks.
    pub frameworks: Vec<Framework>,
    /// Mesos-DNS SRV records.
    pub srv: Vec<SrvRecord>,
}

/// Where a resolved service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Host name or address, from cluster state.
    pub host: String,
    /// Port.
    pub port: u16,
    /// A path the upstream URL starts with (a `webui_url`'s path, without the trailing
    /// slash); empty for apps.
    pub base_path: String,
}

/// A resolved service id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The resolved id (`a/b`): the request's `/service/a/b` prefix.
    pub id: String,
    /// Every upstream that serves it (one per running task); never empty.
    pub upstreams: Vec<Upstream>,
    /// Strip `/service/<id>` from the upstream request (unless the app's label says
    /// `false`).
    pub strip_prefix: bool,
}

/// The answer for one request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Proxy there.
    Found(Arc<Service>),
    /// `/service/<id>` without its trailing slash: redirect to `<id>/` (301).
    AddSlash(String),
    /// No service by that name (404).
    NotFound,
    /// The service is known but cannot answer now (503), with the reason.
    Unavailable(String),
}

/// What a candidate id maps to, precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Found(Arc<Service>),
    Unavailable(String),
}

/// The resolution of every name in a [`Snapshot`], built once per snapshot so that a
/// request costs one map lookup per path segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    entries: BTreeMap<String, Entry>,
    marathon_ok: bool,
}

impl RouteTable {
    /// Resolves every candidate name of the snapshot, in Admin Router's order: a Marathon
    /// app by `DCOS_SERVICE_NAME`, then a framework by id, then by name.
    pub fn build(s: &Snapshot) -> RouteTable {
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        for app in &s.apps {
            let Some(name) = app.labels.get(LABEL_NAME) else {
                continue;
            };
            let name = name.trim_matches('/').to_string();
            if name.is_empty() || RESERVED.contains(&name.as_str()) {
                continue;
            }
            let entry = app_entry(&name, app);
            // Two apps with one name: a serving one wins over one that cannot serve.
            match (entries.get(&name), &entry) {
                (Some(Entry::Found(_)), _) => {}
                _ => {
                    entries.insert(name, entry);
                }
            }
        }
        for by_id in [true, false] {
            for fw in &s.frameworks {
                let key = if by_id { &fw.id } else { &fw.name };
                if key.is_empty() || RESERVED.contains(&key.as_str()) {
                    continue;
                }
                if matches!(entries.get(key.as_str()), Some(Entry::Found(_))) {
                    continue;
                }
                if let Some(e) = framework_entry(key, fw, &s.srv) {
                    entries.insert(key.clone(), e);
                }
            }
        }
        RouteTable {
            entries,
            marathon_ok: s.marathon_ok,
        }
    }

    /// Resolves a request path (`/service/a/b/rest`): candidate ids `a`, `a/b`, ... (at
    /// most [`MAX_SEGMENTS`]); the first that serves wins.
    pub fn resolve(&self, path: &str) -> Resolution {
        let Some(rest) = path.strip_prefix("/service/") else {
            return Resolution::NotFound;
        };
        let mut unavailable = None;
        let mut end = 0;
        for (n, seg) in rest.split('/').enumerate() {
            if n >= MAX_SEGMENTS || (seg.is_empty() && n > 0) {
                break;
            }
            if seg.is_empty() {
                return Resolution::NotFound;
            }
            end += seg.len() + usize::from(n > 0);
            let candidate = &rest[..end];
            match self.entries.get(candidate) {
                Some(Entry::Found(svc)) => {
                    if rest.len() == end {
                        return Resolution::AddSlash(format!("/service/{candidate}/"));
                    }
                    return Resolution::Found(svc.clone());
                }
                Some(Entry::Unavailable(why)) if unavailable.is_none() => {
                    unavailable = Some(why.clone());
                }
                _ => {}
            }
        }
        if let Some(why) = unavailable {
            return Resolution::Unavailable(why);
        }
        if !self.marathon_ok {
            return Resolution::Unavailable("Marathon's app list cannot be read".into());
        }
        Resolution::NotFound
    }

    /// Every routable name and its entry, for listings: `(name, Ok(service) | Err(why))`.
    pub fn services(&self) -> impl Iterator<Item = (&str, Result<&Service, &str>)> {
        self.entries.iter().map(|(k, e)| {
            (
                k.as_str(),
                match e {
                    Entry::Found(s) => Ok(&**s),
                    Entry::Unavailable(w) => Err(w.as_str()),
                },
            )
        })
    }
}

fn app_entry(name: &str, app: &App) -> Entry {
    let scheme = app.labels.get(LABEL_SCHEME).map(String::as_str);
    let index = app.labels.get(LABEL_PORT_INDEX).map(String::as_str);
    let (Some(scheme), Some(index)) = (scheme, index) else {
        return Entry::Unavailable(format!(
            "app {} has {LABEL_NAME} but not both {LABEL_SCHEME} and {LABEL_PORT_INDEX}",
            app.id
        ));
    };
    let Some(scheme) = Scheme::parse(scheme) else {
        return Entry::Unavailable(format!(
            "app {}: {LABEL_SCHEME} {scheme:?} is not http or https",
            app.id
        ));
    };
    let Ok(index) = index.trim().parse::<usize>() else {
        return Entry::Unavailable(format!(
            "app {}: {LABEL_PORT_INDEX} {index:?} is not a number",
            app.id
        ));
    };
    let strip_prefix = app
        .labels
        .get(LABEL_REWRITE)
        .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
    let mut upstreams = Vec::new();
    for t in app.tasks.iter().filter(|t| t.running) {
        let target = match &app.container_ports {
            Some(cports) => {
                t.ip.map(|ip| ip.to_string())
                    .zip(cports.get(index).copied())
            }
            None => t.ports.get(index).map(|p| (t.host.clone(), *p)),
        };
        if let Some((host, port)) = target
            && !host.is_empty()
            && port != 0
        {
            upstreams.push(Upstream {
                scheme,
                host,
                port,
                base_path: String::new(),
            });
        }
    }
    if upstreams.is_empty() {
        return Entry::Unavailable(format!(
            "app {} has no running task with port index {index}",
            app.id
        ));
    }
    Entry::Found(Arc::new(Service {
        id: name.to_string(),
        upstreams,
        strip_prefix,
    }))
}

/// The Mesos-DNS SRV name Admin Router looks a framework up by when its `webui_url` is
/// empty: `_<name>._tcp.marathon.mesos` (the framework runs as a Marathon app).
pub fn srv_name(fw: &Framework) -> String {
    format!("_{}._tcp.marathon.mesos", fw.name)
}

/// The SRV names the resolver may need ([`srv_name`] of every framework with an empty
/// `webui_url`), so the snapshot carries only those records.
pub fn srv_names(frameworks: &[Framework]) -> Vec<String> {
    let mut v: Vec<String> = (frameworks.iter())
        .filter(|f| f.webui_url.as_deref() == Some(""))
        .map(srv_name)
        .collect();
    v.sort();
    v.dedup();
    v
}

fn framework_entry(key: &str, fw: &Framework, srv: &[SrvRecord]) -> Option<Entry> {
    let url = fw.webui_url.as_deref()?;
    if url.is_empty() {
        let want = srv_name(fw);
        let rec = srv.iter().find(|r| r.name == want)?;
        return Some(Entry::Found(Arc::new(Service {
            id: key.to_string(),
            upstreams: vec![Upstream {
                scheme: Scheme::Http,
                host: rec.host.clone(),
                port: rec.port,
                base_path: String::new(),
            }],
            strip_prefix: true,
        })));
    }
    match parse_url(url) {
        Some(up) => Some(Entry::Found(Arc::new(Service {
            id: key.to_string(),
            upstreams: vec![up],
            strip_prefix: true,
        }))),
        None => Some(Entry::Unavailable(format!(
            "framework {}: webui_url {url:?} is not an http(s) URL with a host",
            fw.id
        ))),
    }
}

/// Parses `scheme://host[:port][/path]` (a framework's `webui_url`).
pub fn parse_url(url: &str) -> Option<Upstream> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = Scheme::parse(scheme)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let default_port = match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() || port == 0 {
        return None;
    }
    Some(Upstream {
        scheme,
        host,
        port,
        base_path: path.trim_end_matches('/').to_string(),
    })
}

/// The upstream request's path and query for `path_and_query` (which starts with
/// `/service/<id>`): the prefix stripped (empty -> `/`) unless `strip_prefix` is off, then
/// prefixed with the upstream's base path.
pub fn upstream_path(svc: &Service, up: &Upstream, path_and_query: &str) -> String {
    let rest = if svc.strip_prefix {
        let prefix_len = "/service/".len() + svc.id.len();
        path_and_query.get(prefix_len..).unwrap_or("")
    } else {
        path_and_query
    };
    let mut out = String::with_capacity(up.base_path.len() + rest.len() + 1);
    out.push_str(&up.base_path);
    if !rest.starts_with('/') {
        out.push('/');
    }
    out.push_str(rest);
    out
}

/// Rewrites a `Location` header as Admin Router's `proxy_redirect`s do:
/// `<scheme>://<host>/service/<id>/`, `<scheme>://<host>/` and `/` become
/// `/service/<id>/`. `host` is the request's `Host`; `scheme` the request's scheme.
/// `None`: leave it as it is.
pub fn rewrite_location(location: &str, scheme: &str, host: &str, id: &str) -> Option<String> {
    let to = format!("/service/{id}/");
    let absolute = format!("{scheme}://{host}/");
    let rest = if let Some(r) = location.strip_prefix(&absolute) {
        r.strip_prefix(&to[1..]).unwrap_or(r)
    } else if location.starts_with(&to) {
        // Already under the prefix (an app that keeps it, or rewrote it itself).
        return None;
    } else if let Some(r) = location.strip_prefix('/') {
        if r.starts_with('/') {
            // `//host/...` is scheme-relative, not a path.
            return None;
        }
        r
    } else {
        return None;
    };
    Some(format!("{to}{rest}"))
}

/// Rewrites the URL in a `Refresh` header (`5; url=/path`) as [`rewrite_location`] does.
pub fn rewrite_refresh(value: &str, scheme: &str, host: &str, id: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let at = lower.find("url=")? + 4;
    let url = value[at..].trim_matches(|c| c == '"' || c == '\'');
    let new = rewrite_location(url, scheme, host, id)?;
    Some(format!("{}{new}", &value[..at]))
}

#[cfg(test)]
mod tests;
