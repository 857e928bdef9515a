//! Role wiring: builds stores, clocks, listeners and shutdown signals for `keel dev`,
//! `keel master`, `keel agent` and `keel executor`.

use crate::node::NodeOpts;
use anyhow::Context;
use clap::Args;
use keel_agent::{Agent, AgentConfig, CgroupConfig, LogRotation};
use keel_clock::{Clock, SystemClock};
use keel_master::{Master, MasterConfig};
use keel_resources::{Attributes, Resources};
use keel_store::{RedbStore, Store};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

#[derive(Debug, Clone, Args)]
pub struct MasterOpts {
    /// Seconds without a heartbeat before an agent is marked unreachable.
    #[arg(long, default_value_t = 75.0)]
    agent_timeout: f64,
    /// Seconds between agent heartbeats.
    #[arg(long, default_value_t = 5.0)]
    heartbeat_interval: f64,
    /// Cluster name shown in state (DC/OS always has one; `dcos cluster setup` reads it).
    #[arg(long, default_value = "keel")]
    cluster_name: Option<String>,
    /// DRF role weights, e.g. `ads=2,batch=0.5` (Mesos's --weights).
    #[arg(long)]
    weights: Option<String>,
    /// Finished tasks kept per framework in memory, in the store and in state (Mesos's
    /// --max_completed_tasks_per_framework); the oldest go first.
    #[arg(long, default_value_t = 1000)]
    max_completed_tasks_per_framework: usize,
    /// Keel's ceiling on the instances one Marathon app or pod may ask for (422 past it;
    /// Marathon has none).
    #[arg(long, env = "KEEL_MAX_INSTANCES_PER_APP", default_value_t = keel_marathon::Limits::DEFAULT_MAX_INSTANCES)]
    max_instances_per_app: u32,
    /// The largest request body the Marathon and Metronome APIs read (413 past it).
    #[arg(long, env = "KEEL_MAX_REQUEST_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY)]
    max_request_body_bytes: usize,
}

/// The default request body limit of the service APIs: 8 MiB.
const DEFAULT_MAX_BODY: usize = 8 << 20;

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Where the cluster keeps its state.
    #[arg(long, default_value = "./keel-data")]
    data_dir: PathBuf,
    /// Address of the cluster entry.
    #[arg(long, default_value = "127.0.0.1:5050")]
    listen: SocketAddr,
    /// Number of agents to run in this process.
    #[arg(long, default_value_t = 1)]
    agents: usize,
    /// Simulated agents to add: they register and report launched tasks as running
    /// without running anything (for benchmarks of the control plane).
    #[arg(long, default_value_t = 0)]
    simulated_agents: usize,
    /// Resources of each simulated agent.
    #[arg(
        long,
        default_value = "cpus:8;mem:16384;disk:100000;ports:[31000-32000]"
    )]
    simulated_resources: String,
    /// Resource overrides for every agent (cpus:4;mem:2048;ports:[31000-32000]).
    #[arg(long)]
    resources: Option<String>,
    #[command(flatten)]
    master: MasterOpts,
    #[command(flatten)]
    node: NodeOpts,
}

#[derive(Debug, Args)]
pub struct MasterArgs {
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:5050")]
    listen: SocketAddr,
    #[command(flatten)]
    master: MasterOpts,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Master URL, e.g. http://127.0.0.1:5050.
    #[arg(long)]
    master: String,
    #[arg(long)]
    work_dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:5051")]
    listen: SocketAddr,
    /// Attributes, e.g. rack:r1;zone:a.
    #[arg(long)]
    attributes: Option<String>,
    /// Resource overrides, e.g. cpus:4;mem:2048;ports:[31000-32000].
    #[arg(long)]
    resources: Option<String>,
    /// Hostname to report (default: this machine's).
    #[arg(long)]
    hostname: Option<String>,
    #[command(flatten)]
    node: NodeOpts,
}

/// How the roles write their log (to stderr).
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, coloured only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Sets up the log of a role (master, agent, dev, executor): level from `KEEL_LOG`.
pub fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}

fn open_store(path: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let store = RedbStore::open(path, clock)
        .with_context(|| format!("opening store {}", path.display()))?;
    Ok(Arc::new(store))
}

fn master_config(listen: SocketAddr, o: &MasterOpts) -> anyhow::Result<MasterConfig> {
    let mut c = MasterConfig::new(listen);
    c.agent_timeout = secs("--agent-timeout", o.agent_timeout)?;
    c.heartbeat_interval = secs("--heartbeat-interval", o.heartbeat_interval)?;
    c.cluster_name = o.cluster_name.clone();
    c.weights = parse_weights(o.weights.as_deref().unwrap_or(""))?;
    c.max_completed_tasks = o.max_completed_tasks_per_framework;
    Ok(c)
}

/// Parses `role=weight,role=weight`.
fn parse_weights(s: &str) -> anyhow::Result<Vec<(String, f64)>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (role, w) = p
                .split_once('=')
                .with_context(|| format!("--weights: {p:?} is not role=weight"))?;
            let w: f64 = w.trim().parse().with_context(|| {
                format!("--weights: weight {w:?} of role {role} is not a number")
            })?;
            Ok((role.trim().to_string(), w))
        })
        .collect()
}

fn secs(flag: &str, v: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        v.is_finite() && v > 0.0 && v < 1e7,
        "{flag} {v} must be a positive number of seconds"
    );
    Ok(Duration::from_secs_f64(v))
}

async fn start_master(
    data_dir: &Path,
    listen: SocketAddr,
    o: &MasterOpts,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Master, tokio::net::TcpListener)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let store = open_store(&data_dir.join("master").join("store.redb"), clock.clone())?;
    let master = Master::open(store, clock, master_config(addr, o)?)?;
    Ok((master, listener))
}

/// Starts the schedulers and services that run beside the master and returns their
/// routes for the entry. Each service owns one block here.
fn services(master: &Master, o: &MasterOpts) -> anyhow::Result<Vec<axum::Router>> {
    let body_limit = axum::extract::DefaultBodyLimit::max(o.max_request_body_bytes);
    let mut routes = Vec::new();
    // Marathon (service scheduler).
    let limits = keel_marathon::Limits {
        max_instances: o.max_instances_per_app,
        ..keel_marathon::Limits::default()
    };
    let marathon = keel_marathon::Marathon::open_with(master, limits)?;
    tokio::spawn(marathon.clone().run());
    // Admin Router's /service/ proxy, its routes read from Marathon and the master.
    let proxy = keel_proxy::ServiceProxy::new();
    tokio::spawn(
        proxy
            .clone()
            .refresh_loop(service_snapshot(master.clone(), marathon.router())),
    );
    routes.push(proxy.router());
    routes.push(
        marathon
            .router()
            .layer(axum::middleware::from_fn(keel_master::json_errors))
            .layer(body_limit),
    );
    // Metronome (job scheduler).
    let (jobs, scheduler) = keel_metronome::start(master, metronome_config()?)?;
    tokio::spawn(scheduler);
    routes.push(
        jobs.layer(axum::middleware::from_fn(keel_master::json_errors))
            .layer(body_limit),
    );
    Ok(routes)
}

/// What `/service/` resolves from, read in process as Admin Router polled it: Marathon's
/// `GET /v2/apps?embed=apps.tasks&label=DCOS_SERVICE_NAME` and the master's frameworks.
fn service_snapshot(
    master: Master,
    marathon: axum::Router,
) -> impl FnMut() -> std::pin::Pin<
    Box<dyn std::future::Future<Output = keel_routing::service::Snapshot> + Send>,
> {
    move || {
        let master = master.clone();
        let marathon = marathon.clone();
        Box::pin(async move {
            let req = axum::http::Request::get("/v2/apps?embed=apps.tasks&label=DCOS_SERVICE_NAME")
                .body(axum::body::Body::empty());
            let apps = match req {
                Ok(req) => match marathon.oneshot(req).await {
                    Ok(resp) if resp.status().is_success() => {
                        axum::body::to_bytes(resp.into_body(), usize::MAX)
                            .await
                            .ok()
                            .and_then(|b| keel_proxy::service::apps_from_marathon_json(&b))
                    }
                    _ => None,
                },
                Err(_) => None,
            };
            let summary = serde_json::to_vec(&master.state_summary()).unwrap_or_default();
            keel_routing::service::Snapshot {
                marathon_ok: apps.is_some(),
                apps: apps.unwrap_or_default(),
                frameworks: keel_proxy::service::frameworks_from_summary_json(&summary),
                srv: Vec::new(),
            }
        })
    }
}

/// The job service's tunables. `KEEL_METRONOME_TICK_MS` sets the scheduler tick;
/// `KEEL_METRONOME_CRON_SECONDS=1` (tests only) reads 6-field cron with a leading seconds
/// field, so end-to-end tests can use slots seconds apart.
fn metronome_config() -> anyhow::Result<keel_metronome::MetronomeConfig> {
    let mut c = keel_metronome::MetronomeConfig::default();
    if let Ok(ms) = std::env::var("KEEL_METRONOME_TICK_MS") {
        let ms: u64 = ms
            .parse()
            .with_context(|| format!("KEEL_METRONOME_TICK_MS {ms:?} is not a number"))?;
        c.tick = Duration::from_millis(ms.max(10));
    }
    if std::env::var("KEEL_METRONOME_CRON_SECONDS").is_ok_and(|v| v == "1") {
        c.cron_syntax = keel_metronome::CronSyntax::WithSeconds;
    }
    Ok(c)
}

async fn serve_master(
    master: Master,
    o: MasterOpts,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tokio::spawn(master.clone().run_background());
    let app = master
        .entry(services(&master, &o)?)
        .map_request(keel_master::normalize_uri);
    let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = fired_tx.send(());
    };
    let server =
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                SocketAddr,
            >(app),
        )
        .with_graceful_shutdown(signal);
    // Long-lived streams (events, agent streams) would hold a graceful shutdown open
    // forever: give open requests a short grace, then stop.
    let deadline = async move {
        if fired_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = server => r?,
        _ = deadline => tracing::info!("closing {} s after the shutdown signal", SHUTDOWN_GRACE.as_secs()),
    }
    Ok(())
}

/// How long open requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn agent_config(
    master: String,
    work_dir: PathBuf,
    listen: SocketAddr,
    resources: Option<&str>,
    attributes: Option<&str>,
    hostname: Option<String>,
    node: &NodeOpts,
) -> anyhow::Result<AgentConfig> {
    let resources = match resources {
        Some(r) => Resources::parse(r)?,
        None => Resources::new(),
    };
    let attributes = match attributes {
        Some(a) => Attributes::parse(a)?,
        None => Attributes::default(),
    };
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let work_dir = work_dir.canonicalize()?;
    Ok(AgentConfig {
        master,
        listen,
        hostname,
        resources,
        attributes,
        executor_path: std::env::current_exe().context("locating the keel binary")?,
        cgroups: CgroupConfig {
            enabled: !node.no_cgroups,
            ..CgroupConfig::default()
        },
        log_rotation: LogRotation::default(),
        gc: node.gc()?,
        images: node.images(&work_dir)?,
        work_dir,
    })
}

async fn start_agent(
    config: AgentConfig,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Agent, tokio::net::TcpListener)> {
    let store = open_store(
        &config.work_dir.join("meta").join("agent.redb"),
        clock.clone(),
    )?;
    Ok(Agent::bind(config, store, clock).await?)
}

/// `keel dev`.
pub async fn dev(a: DevArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.agents <= 64, "--agents {} must be at most 64", a.agents);
    anyhow::ensure!(
        a.agents + a.simulated_agents >= 1,
        "a cluster needs at least one agent (--agents or --simulated-agents)"
    );
    anyhow::ensure!(
        a.simulated_agents <= 10_000,
        "--simulated-agents {} must be at most 10000",
        a.simulated_agents
    );
    let simulated_resources = Resources::parse(&a.simulated_resources)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let (master, listener) = start_master(&a.data_dir, a.listen, &a.master, clock.clone()).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for i in 0..a.agents {
        let work = a.data_dir.join(format!("agent-{i}"));
        let cfg = agent_config(
            url.clone(),
            work,
            "127.0.0.1:0".parse()?,
            a.resources.as_deref(),
            None,
            None,
            &a.node,
        )?;
        let (agent, l) = start_agent(cfg, clock.clone()).await?;
        let mut rx = stop_rx.clone();
        agents.push(tokio::spawn(agent.serve(l, async move {
            let _ = rx.changed().await;
        })));
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;
    let permits = Arc::new(tokio::sync::Semaphore::new(512));
    let mut simulated = Vec::new();
    for i in 0..a.simulated_agents {
        let store: Arc<dyn Store> = Arc::new(keel_store::MemStore::new(clock.clone()));
        let attributes = Attributes::parse(&format!("rack:r{}", i % 10))?;
        let sim = keel_agent::SimulatedAgent {
            master: url.clone(),
            hostname: format!("sim-{i}"),
            resources: simulated_resources.clone(),
            attributes,
            http: http.clone(),
            permits: permits.clone(),
        };
        let agent = Agent::simulated(sim, store, clock.clone())?;
        simulated.push(tokio::spawn(agent.run_simulated()));
    }
    println!("Keel is running at {url}");
    let mut rx = stop_rx.clone();
    let server = tokio::spawn(serve_master(
        master,
        a.master.clone(),
        listener,
        async move {
            let _ = rx.changed().await;
        },
    ));
    shutdown_signal().await;
    tracing::info!("shutting down; running tasks keep running and are re-adopted on restart");
    let _ = stop_tx.send(true);
    for s in simulated {
        s.abort();
    }
    for a in agents {
        let _ = a.await;
    }
    let _ = server.await;
    Ok(())
}

/// `keel master`.
pub async fn master(a: MasterArgs) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let (master, listener) = start_master(&a.data_dir, a.listen, &a.master, clock).await?;
    println!(
        "Keel master is running at http://{}",
        listener.local_addr()?
    );
    serve_master(master, a.master, listener, shutdown_signal()).await
}

/// `keel agent`.
pub async fn agent(a: AgentArgs) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let cfg = agent_config(
        a.master,
        a.work_dir,
        a.listen,
        a.resources.as_deref(),
        a.attributes.as_deref(),
        a.hostname,
        &a.node,
    )?;
    let (agent, listener) = start_agent(cfg, clock).await?;
    println!("Keel agent is running at http://{}", listener.local_addr()?);
    agent.serve(listener, shutdown_signal()).await?;
    Ok(())
}

/// `keel executor` (single-threaded; no async runtime).
pub fn executor(config: &Path, listen_fd: i32) -> std::process::ExitCode {
    let listener = keel_executor::listener_from_fd(listen_fd);
    match keel_executor::run(config, listener) {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("keel executor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
