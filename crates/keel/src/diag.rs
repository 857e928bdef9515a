//! The diagnostics units of each role: what each Keel role and dependency is called in
//! DC/OS's unit names, and the check that tells its health (wired here, where the roles'
//! handles are).

use keel_diag::{NodeHealth, UnitCheck, dns_probe, docker_ping, http_probe};
use keel_master::Master;
use std::net::SocketAddr;
use tower::ServiceExt;

/// The entry URL on loopback when the master listens on every address.
pub(crate) fn entry_url(master: &Master) -> String {
    let mut a = master.advertise();
    if a.ip().is_unspecified() {
        a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{a}")
}

/// `GET path` on an in-process router answered 2xx.
async fn oneshot_ok(r: axum::Router, path: &'static str) -> Result<String, String> {
    let req = axum::http::Request::get(path)
        .body(axum::body::Body::empty())
        .map_err(|e| e.to_string())?;
    match r.oneshot(req).await {
        Ok(resp) if resp.status().is_success() => Ok(format!("GET {path}: {}", resp.status())),
        Ok(resp) => Err(format!("GET {path}: {}", resp.status())),
        Err(e) => Err(format!("GET {path}: {e}")),
    }
}

/// The master node's units.
pub(crate) fn master_units(
    master: &Master,
    marathon: axum::Router,
    jobs: axum::Router,
    dns: Option<SocketAddr>,
) -> NodeHealth {
    let entry = entry_url(master);
    let ip = master.state_summary().hostname;
    let http = reqwest::Client::new();
    let m = master.clone();
    let mut n = NodeHealth::new("master", &ip, &ip, || None)
        .with(UnitCheck::new(
            "dcos-mesos-master.service",
            "Mesos Master",
            "The Keel master: agents, tasks, offers and the store",
            move || {
                let m = m.clone();
                async move {
                    let store = m.store();
                    let read = tokio::task::spawn_blocking(move || store.get("/keel/master/info"));
                    match read.await {
                        Ok(Ok(_)) => {
                            let active = m.agents_view().iter().filter(|a| a.active).count();
                            Ok(format!("the store answers; {active} active agent(s)"))
                        }
                        Ok(Err(e)) => Err(format!("the store: {e}")),
                        Err(e) => Err(format!("the store: {e}")),
                    }
                }
            },
        ))
        .with(UnitCheck::new(
            "dcos-marathon.service",
            "Marathon",
            "Keel's Marathon: long-running services",
            move || oneshot_ok(marathon.clone(), "/v2/leader"),
        ))
        .with(UnitCheck::new(
            "dcos-metronome.service",
            "Metronome",
            "Keel's Metronome: jobs",
            move || oneshot_ok(jobs.clone(), "/v1/jobs"),
        ));
    if let Some(addr) = dns {
        let addr = if addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            addr
        };
        n = n.with(UnitCheck::new(
            "dcos-mesos-dns.service",
            "Mesos DNS",
            "The DNS server of the mesos and thisdcos.directory zones",
            move || dns_probe(addr, "leader.mesos"),
        ));
    }
    let probe = |id: &str, name: &str, desc: &str, path: &str| {
        let (http, url) = (http.clone(), format!("{entry}{path}"));
        UnitCheck::new(id, name, desc, move || {
            let (http, url) = (http.clone(), url.clone());
            async move { http_probe(&http, &url).await }
        })
    };
    n.with(probe(
        "dcos-adminrouter.service",
        "Admin Router",
        "The cluster entry: the APIs and the /service/ proxy",
        "/metadata",
    ))
    .with(probe(
        "dcos-history.service",
        "DC/OS History",
        "The state-summary history of the last hour",
        "/dcos-history-service/history/last",
    ))
    .with(probe(
        "dcos-net.service",
        "DC/OS Net",
        "The VIP table the agents' load balancers follow",
        "/internal/v1/vips",
    ))
    .with(UnitCheck::new(
        "dcos-diagnostics-master.service",
        "DC/OS Diagnostics Master",
        "This service: unit health and diagnostics bundles",
        || async { Ok("serving".to_owned()) },
    ))
}

/// An agent node's units.
pub(crate) fn agent_units(agent: &keel_agent::Agent, ip: &str, hostname: &str) -> NodeHealth {
    let (a, b) = (agent.clone(), agent.clone());
    NodeHealth::new("agent", ip, hostname, move || a.id().map(|i| i.to_string()))
        .with(UnitCheck::new(
            "dcos-mesos-slave.service",
            "Mesos Agent",
            "The Keel agent: executors, containers and their sandboxes",
            move || {
                let id = b.id();
                async move {
                    match id {
                        Some(id) => Ok(format!("registered with the master as {id}")),
                        None => Err("not registered with the master".to_owned()),
                    }
                }
            },
        ))
        .with(UnitCheck::new(
            "dcos-docker.service",
            "Docker",
            "The Docker Engine that runs Docker containers",
            docker_ping,
        ))
}

/// The master's `/system/health/v1`: its own units and the cluster's, and bundles.
pub(crate) fn diagnostics(
    master: &Master,
    local: NodeHealth,
    bundle_dir: std::path::PathBuf,
) -> anyhow::Result<keel_diag::Diagnostics> {
    let m = master.clone();
    let agents = move || {
        m.agents_view()
            .into_iter()
            .filter(|a| a.active)
            .map(|a| keel_diag::AgentRef {
                id: a.id.to_string(),
                endpoint: a.endpoint,
                hostname: a.hostname,
            })
            .collect()
    };
    let args: Vec<String> = std::env::args().collect();
    let env = std::env::vars().filter(|(k, _)| k.starts_with("KEEL_") || k.starts_with("RUST_LOG"));
    let config = serde_json::json!({
        "args": keel_diag::report::redact_args(&args),
        "env": keel_diag::report::redact_env(env),
        "version": env!("CARGO_PKG_VERSION"),
    });
    let entry = entry_url(master);
    let listen = entry.trim_start_matches("http://").to_owned();
    let d = keel_diag::Diagnostics::new(keel_diag::DiagConfig {
        local,
        entry,
        listen,
        agents: std::sync::Arc::new(agents),
        bundle_dir,
        config,
        clock: master.clock(),
        ids: std::sync::Arc::new(keel_clock::RandomIds),
    })?;
    Ok(d)
}

/// Signal, when the operator opts in with `--signal-report FILE`: every `every`, the events
/// dcos-signal would have sent are written to `path` (replaced whole). Nothing is sent.
pub(crate) async fn signal_loop(
    d: keel_diag::Diagnostics,
    master: Master,
    path: std::path::PathBuf,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let ctx = keel_diag::signal::SignalContext {
            cluster_id: master.with_core(|c| c.cluster_id().to_owned()),
            dcos_version: "1.11.0".to_owned(),
            platform: "keel".to_owned(),
            provider: "onprem".to_owned(),
        };
        let report = d.cluster_report().await;
        let summary = serde_json::to_value(master.state_summary()).unwrap_or_default();
        let at = keel_diag::utc(master.clock().unix_secs());
        let body = keel_diag::signal::signal_report(&ctx, &at, &report, &summary);
        let tmp = path.with_extension("partial");
        let text = serde_json::to_vec_pretty(&body).unwrap_or_default();
        let written = tokio::fs::write(&tmp, text).await;
        if let Err(e) = written.and(tokio::fs::rename(&tmp, &path).await) {
            tracing::warn!("signal report {}: {e}", path.display());
        }
    }
}
