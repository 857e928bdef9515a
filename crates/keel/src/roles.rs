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
    /// Telemetry, off unless given: write the report DC/OS's dcos-signal would have sent to
    /// this file (replaced every --signal-interval). Keel never sends it anywhere.
    #[arg(long, value_name = "FILE", env = "KEEL_SIGNAL_REPORT")]
    signal_report: Option<PathBuf>,
    /// Seconds between signal reports.
    #[arg(long, default_value_t = 300.0)]
    signal_interval: f64,
    /// Where diagnostics bundles are kept (default: `<data-dir>/diagnostics`).
    #[arg(long, value_name = "DIR")]
    diagnostics_bundle_dir: Option<PathBuf>,
    #[command(flatten)]
    dns: DnsOpts,
    /// The IPv4 range named VIPs (`/myapp:80`) get their addresses from; the master
    /// allocates them and keeps each name's address in its store. Default: 11.0.0.0/8 for
    /// `keel master` (as DC/OS), 127.77.0.0/16 for `keel dev`, where any loopback address
    /// binds, so a process on the host reaches a VIP.
    #[arg(long, value_name = "CIDR")]
    vip_range: Option<String>,
}

/// The DNS service's flags (Mesos-DNS's config keys).
#[derive(Debug, Clone, Args)]
pub struct DnsOpts {
    /// UDP and TCP address of the DNS server (`keel dev`: a free port on 127.0.0.1;
    /// `keel master`: 0.0.0.0:53).
    #[arg(long)]
    dns_listen: Option<SocketAddr>,
    /// Upstream resolvers for other names, `ip[:port],...` (none: such queries are REFUSED).
    #[arg(long, default_value = "")]
    dns_resolvers: String,
    /// Per-zone upstreams, `zone=ip[:port],...;zone2=...` (longest zone match first).
    #[arg(long, default_value = "")]
    dns_zone_resolvers: String,
    /// Seconds an upstream may take before the query answers SERVFAIL.
    #[arg(long, default_value_t = 5.0)]
    dns_timeout: f64,
    /// The Mesos-DNS domain.
    #[arg(long, default_value = "mesos")]
    dns_domain: String,
    /// TTL of the Mesos-DNS zone's answers.
    #[arg(long, default_value_t = 60)]
    dns_ttl: u32,
    /// Hide tasks that have health checks until they are healthy (Mesos-DNS shows them
    /// as soon as they run).
    #[arg(long)]
    dns_hide_unhealthy: bool,
    /// Mesos-DNS's own HTTP listener (classic port 8123), besides `/mesos_dns/` on the entry.
    #[arg(long)]
    mesos_dns_http_listen: Option<SocketAddr>,
}

/// Task DNS: the agent's relay that tasks' containers use as their name server.
#[derive(Debug, Clone, Args)]
pub struct TaskDnsOpts {
    /// Run a DNS relay on IP:53 (UDP and TCP) and make it the name server of task
    /// containers: Docker's `Dns`, a generated /etc/resolv.conf for Keel's own runtime.
    /// Under `keel dev`, docker0's address (172.17.0.1) serves bridge containers.
    #[arg(long, value_name = "IP")]
    task_dns: Option<std::net::IpAddr>,
    /// Where the relay sends queries: the master's DNS (`keel dev`: its --dns-listen;
    /// `keel agent`: the master's address, port 53).
    #[arg(long, value_name = "ADDR:PORT")]
    task_dns_upstream: Option<SocketAddr>,
    /// The search domains of task containers (space or comma separated).
    #[arg(long, default_value = "marathon.mesos mesos")]
    task_dns_search: String,
    /// Give host-network Docker containers the task DNS too (they share the node's
    /// resolv.conf otherwise).
    #[arg(long)]
    task_dns_host_network: bool,
    /// Point the node's resolv.conf at the task DNS address (as DC/OS's gen-resolvconf);
    /// the previous file is put back when the agent stops (SIGTERM/SIGINT).
    #[arg(long, requires = "task_dns")]
    write_resolv_conf: bool,
    /// The resolv.conf `--write-resolv-conf` replaces.
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf_path: PathBuf,
}

/// How long the task DNS relay waits for the master's DNS.
const TASK_DNS_TIMEOUT: Duration = Duration::from_secs(5);

impl TaskDnsOpts {
    /// What task containers get, if `--task-dns` is set.
    fn settings(&self) -> Option<keel_api::executor::TaskDns> {
        let ip = self.task_dns?;
        Some(keel_api::executor::TaskDns {
            servers: vec![ip],
            search: self
                .task_dns_search
                .split([' ', ','])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            host_network: self.task_dns_host_network,
        })
    }
}

/// The running task DNS: the relay, and the node's resolv.conf while it is replaced.
struct TaskDns {
    resolv: Option<keel_agent::ResolvConf>,
}

impl TaskDns {
    /// Starts the relay (with `--task-dns`) towards `upstream`, then writes the node's
    /// resolv.conf when asked.
    async fn start(o: &TaskDnsOpts, upstream: Option<SocketAddr>) -> anyhow::Result<TaskDns> {
        let Some(ip) = o.task_dns else {
            return Ok(TaskDns { resolv: None });
        };
        let upstream = o
            .task_dns_upstream
            .or(upstream)
            .context("--task-dns needs --task-dns-upstream (the master's DNS address)")?;
        let listen = SocketAddr::new(ip, 53);
        let addr = keel_dns::relay(listen, upstream, TASK_DNS_TIMEOUT)
            .await
            .with_context(|| format!("--task-dns {ip}: cannot listen on {listen}"))?;
        tracing::info!("task DNS is listening on {addr} (udp and tcp), forwarding to {upstream}");
        let resolv = match (o.write_resolv_conf, o.settings()) {
            (true, Some(settings)) => {
                let path = &o.resolv_conf_path;
                let r = keel_agent::ResolvConf::install(path, &settings.resolv_conf())
                    .with_context(|| format!("--write-resolv-conf {}", path.display()))?;
                tracing::info!("{} points at the task DNS {ip}", path.display());
                Some(r)
            }
            _ => None,
        };
        Ok(TaskDns { resolv })
    }

    /// Puts the node's resolv.conf back.
    fn stop(self, path: &Path) {
        if let Some(r) = self.resolv {
            match r.restore() {
                Ok(()) => tracing::info!("{} restored", path.display()),
                Err(e) => tracing::error!("cannot restore {}: {e}", path.display()),
            }
        }
    }
}

/// The VIP range of `keel master` when none is given (DC/OS's).
const MASTER_VIP_RANGE: &str = "11.0.0.0/8";
/// The VIP range of `keel dev` when none is given: inside 127.0.0.0/8.
const DEV_VIP_RANGE: &str = "127.77.0.0/16";

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
    #[command(flatten)]
    task_dns: TaskDnsOpts,
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
    #[command(flatten)]
    task_dns: TaskDnsOpts,
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

/// Where and how big a process's component journal is.
#[derive(Debug, Clone)]
pub struct JournalOpts {
    /// `<data or work dir>/logs`.
    pub dir: PathBuf,
    /// Rotation of `journal.jsonl`.
    pub rotation: LogRotation,
}

impl DevArgs {
    /// The process's component journal directory.
    pub fn journal_dir(&self) -> PathBuf {
        self.data_dir.join(keel_logs::journal::JOURNAL_DIR)
    }
}

impl MasterArgs {
    /// The process's component journal directory.
    pub fn journal_dir(&self) -> PathBuf {
        self.data_dir.join(keel_logs::journal::JOURNAL_DIR)
    }
}

impl AgentArgs {
    /// The process's component journal directory.
    pub fn journal_dir(&self) -> PathBuf {
        self.work_dir.join(keel_logs::journal::JOURNAL_DIR)
    }
}

/// The journal's writer: `journal.jsonl` rotated like task output, or `None` (with a
/// warning on stderr) when the directory cannot be written.
fn journal_layer(j: &JournalOpts) -> Option<keel_logs::journal::JournalLayer> {
    let opened = std::fs::create_dir_all(&j.dir).and_then(|()| {
        keel_executor::RotatingFile::open(
            &j.dir.join(keel_logs::journal::JOURNAL_NAME),
            j.rotation.clone(),
        )
    });
    let file = match opened {
        Ok(f) => f,
        Err(e) => {
            eprintln!("keel: no component journal in {}: {e}", j.dir.display());
            return None;
        }
    };
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    Some(keel_logs::journal::JournalLayer::new(
        Box::new(JournalSink(file)),
        keel_logs::journal::Origin {
            pid: std::process::id(),
            hostname,
        },
    ))
}

/// `RotatingFile` as an `io::Write` (each journal line is one write).
struct JournalSink(keel_executor::RotatingFile);

impl std::io::Write for JournalSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sets up the log of a role (master, agent, dev, executor): to stderr at the level of
/// `KEEL_LOG`, and (dev, master, agent) to the node's component journal at the level of
/// `KEEL_JOURNAL_LOG` (both default `info`).
pub fn init_logging(format: LogFormat, journal: Option<&JournalOpts>) {
    use std::io::IsTerminal;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Text => fmt.with_ansi(std::io::stderr().is_terminal()).boxed(),
        LogFormat::Json => fmt.json().with_ansi(false).boxed(),
    };
    // The journal keeps its own level (`KEEL_JOURNAL_LOG`, default info), as journald
    // keeps a unit's log whatever its terminal shows.
    let journal_filter = tracing_subscriber::EnvFilter::try_from_env("KEEL_JOURNAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(
            journal
                .and_then(journal_layer)
                .map(|j| j.with_filter(journal_filter)),
        )
        .try_init();
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
    let path = data_dir.join("master").join("store.redb");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let redb = Arc::new(
        RedbStore::open(&path, clock.clone())
            .with_context(|| format!("opening store {}", path.display()))?,
    );
    let store: Arc<dyn Store> = redb.clone();
    let master = Master::open(store, clock, master_config(addr, o)?)?;
    master.exposition().add(Arc::new(move || {
        use keel_metrics::prometheus::{Family, Kind};
        let commits = redb.durable_commits() as f64;
        let help = "Durable commits of the master's store (each may hold many writes)";
        vec![Family::single(
            "keel_store_durable_commits_total",
            help,
            Kind::Counter,
            commits,
        )]
    }));
    Ok((master, listener))
}

/// Starts the schedulers and services that run beside the master and returns their
/// routes for the entry. Each service owns one block here.
fn services(
    master: &Master,
    o: &MasterOpts,
    vips: &keel_master::Vips,
    dns: Option<DnsRoutes>,
    journal_dir: &Path,
) -> anyhow::Result<Vec<axum::Router>> {
    let body_limit = axum::extract::DefaultBodyLimit::max(o.max_request_body_bytes);
    let mut routes = Vec::new();
    let records = dns.as_ref().map(|d| d.records.clone());
    let dns_addr = dns.as_ref().map(|d| d.addr);
    // dcos-log's component routes over this node's journal; Keel's entry is the leading
    // master, Marathon's leader too.
    routes.push(keel_logs::component::router(
        keel_logs::component::Components::new(journal_dir.to_path_buf()),
        &[
            "/system/v1/logs",
            "/system/v1/leader/mesos/logs",
            "/system/v1/leader/marathon/logs",
        ],
    ));
    // Mesos-DNS's HTTP API: at /mesos_dns/v1/... and its root /v1/hosts|services paths.
    if let Some(d) = dns {
        routes.push(axum::Router::new().nest("/mesos_dns", d.api));
        routes.push(d.root);
    }
    // Marathon (service scheduler).
    let limits = keel_marathon::Limits {
        max_instances: o.max_instances_per_app,
        ..keel_marathon::Limits::default()
    };
    let marathon = keel_marathon::Marathon::open_with(master, limits)?;
    tokio::spawn(marathon.clone().run());
    // Admin Router's /service/ proxy, its routes read from Marathon and the master.
    let proxy = keel_proxy::ServiceProxy::new();
    tokio::spawn(proxy.clone().refresh_loop(service_snapshot(
        master.clone(),
        marathon.router(),
        records,
    )));
    routes.push(proxy.router());
    let counted = proxy.clone();
    master.exposition().add(Arc::new(move || {
        use keel_metrics::prometheus::{Family, Kind};
        let c = counted.counts();
        let mut f = Family::new(
            "keel_service_proxy_requests_total",
            "Requests to /service/<name>/ by what the proxy did with them",
            Kind::Counter,
        );
        for (outcome, n) in [
            ("proxied", c.proxied),
            ("redirected", c.redirected),
            ("not_found", c.not_found),
            ("unavailable", c.unavailable),
            ("upstream_error", c.upstream_errors),
        ] {
            f.push(vec![("outcome".into(), outcome.into())], n as f64);
        }
        vec![f]
    }));
    routes.push(
        marathon
            .router()
            .layer(axum::middleware::from_fn(keel_master::json_errors))
            .layer(body_limit),
    );
    // VIPs (the table agents' load balancers follow; opened by `open_vips`).
    routes.push(vips.router());
    // The history service (dcos-history): state-summary rings, the hour kept in the store.
    let history = keel_master::History::open(master, history_hour_step()?)?;
    tokio::spawn(history.clone().run());
    routes.push(history.router());
    // Metronome (job scheduler).
    let (jobs, scheduler) = keel_metronome::start(master, metronome_config()?)?;
    tokio::spawn(scheduler);
    // Diagnostics (dcos-diagnostics): this node's units, the cluster's, bundles.
    let units = crate::diag::master_units(master, marathon.router(), jobs.clone(), dns_addr);
    let bundles = o
        .diagnostics_bundle_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("diagnostics"));
    let diagnostics = crate::diag::diagnostics(master, units, bundles)?;
    routes.push(diagnostics.router());
    // Signal: opt-in, written to a file, never sent.
    if let Some(path) = o.signal_report.clone() {
        let every = secs("--signal-interval", o.signal_interval)?;
        tokio::spawn(crate::diag::signal_loop(
            diagnostics,
            master.clone(),
            path,
            every,
        ));
    }
    routes.push(
        jobs.layer(axum::middleware::from_fn(keel_master::json_errors))
            .layer(body_limit),
    );
    Ok(routes)
}

/// The VIP service (the table agents' load balancers and the DNS `l4lb` names follow),
/// its addresses from `--vip-range`.
fn open_vips(master: &Master, o: &MasterOpts) -> anyhow::Result<keel_master::Vips> {
    let range = o.vip_range.as_deref().unwrap_or(MASTER_VIP_RANGE);
    let vips = keel_master::Vips::open(master, keel_routing::vips::VipRange::parse(range)?)?;
    tokio::spawn(vips.clone().run());
    Ok(vips)
}

/// What `/service/` resolves from, read in process as Admin Router polled it: Marathon's
/// `GET /v2/apps?embed=apps.tasks&label=DCOS_SERVICE_NAME`, the master's frameworks, and
/// (for frameworks with an empty `webui_url`) their `_<name>._tcp.marathon.mesos` SRV
/// records in the DNS record set, as Mesos-DNS's `/v1/services/` would answer.
fn service_snapshot(
    master: Master,
    marathon: axum::Router,
    records: Option<keel_dns::Records>,
) -> impl FnMut() -> std::pin::Pin<
    Box<dyn std::future::Future<Output = keel_routing::service::Snapshot> + Send>,
> {
    move || {
        let master = master.clone();
        let marathon = marathon.clone();
        let records = records.clone();
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
            let frameworks = keel_proxy::service::frameworks_from_summary_json(&summary);
            let srv = records
                .map(|r| srv_records(&r.current(), &frameworks))
                .unwrap_or_default();
            keel_routing::service::Snapshot {
                marathon_ok: apps.is_some(),
                apps: apps.unwrap_or_default(),
                frameworks,
                srv,
            }
        })
    }
}

/// The history's hour-ring spacing: 60 s as dcos-history, or `KEEL_HISTORY_HOUR_STEP_SECS`
/// (tests only, so a restart test need not wait minutes).
fn history_hour_step() -> anyhow::Result<Duration> {
    match std::env::var("KEEL_HISTORY_HOUR_STEP_SECS") {
        Ok(v) => secs(
            "KEEL_HISTORY_HOUR_STEP_SECS",
            v.parse().context("KEEL_HISTORY_HOUR_STEP_SECS")?,
        ),
        Err(_) => Ok(Duration::from_secs(60)),
    }
}

/// The SRV records `/service/` may resolve frameworks by, with their targets' addresses.
fn srv_records(
    set: &keel_dns_records::RecordSet,
    frameworks: &[keel_routing::service::Framework],
) -> Vec<keel_routing::service::SrvRecord> {
    keel_routing::service::srv_names(frameworks)
        .into_iter()
        .flat_map(|name| {
            let fqdn = format!("{}.", name.to_lowercase());
            (set.services(&fqdn).into_iter()).map(move |t| keel_routing::service::SrvRecord {
                name: name.clone(),
                host: t.ip.to_string(),
                port: t.port,
            })
        })
        .collect()
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

/// Starts the DNS server (and Mesos-DNS's own HTTP listener when asked) and returns the
/// Mesos-DNS HTTP API's routes for the entry. `default_listen` applies without
/// `--dns-listen`; failing to bind it is only a warning (e.g. port 53 taken).
/// On stderr: stdout's first line is the entry's URL, which scripts read and then close.
fn print_dns(dns: Option<&DnsRoutes>) {
    if let Some(d) = dns {
        tracing::info!("DNS is listening on {} (udp and tcp)", d.addr);
    }
}

/// The Mesos-DNS HTTP API's routes: all of them (for `/mesos_dns`) and the entry's root ones.
struct DnsRoutes {
    /// Where the DNS server listens (printed after the entry's line).
    addr: SocketAddr,
    /// The record set (the `/service/` resolver reads its SRV records).
    records: keel_dns::Records,
    api: axum::Router,
    root: axum::Router,
}

async fn start_dns(
    master: &Master,
    o: &DnsOpts,
    vips: &keel_master::Vips,
    default_listen: SocketAddr,
) -> anyhow::Result<Option<DnsRoutes>> {
    let listen = o.dns_listen.unwrap_or(default_listen);
    let mut cfg = keel_dns::DnsConfig::new(listen);
    cfg.resolvers = keel_dns::parse_resolvers(&o.dns_resolvers).context("--dns-resolvers")?;
    cfg.zone_resolvers =
        keel_dns::parse_zone_resolvers(&o.dns_zone_resolvers).context("--dns-zone-resolvers")?;
    cfg.timeout = secs("--dns-timeout", o.dns_timeout)?;
    cfg.zone.domain = o.dns_domain.trim_matches('.').to_lowercase();
    cfg.zone.ttl = o.dns_ttl;
    cfg.zone.hide_unhealthy = o.dns_hide_unhealthy;
    cfg.zone.soa_mname = format!("ns1.{}", cfg.zone.domain);
    cfg.zone.soa_rname = format!("root.ns1.{}", cfg.zone.domain);
    let records = keel_dns::Records::default();
    let addr = match keel_dns::serve(cfg.clone(), records.clone()).await {
        Ok(a) => a,
        Err(e) if o.dns_listen.is_none() => {
            tracing::warn!("DNS not started: cannot listen on {listen}: {e}");
            return Ok(None);
        }
        Err(e) => return Err(anyhow::anyhow!("--dns-listen {listen}: {e}")),
    };
    cfg.listen = addr;
    let ns = match addr.ip() {
        ip if ip.is_unspecified() => master.advertise().ip(),
        ip => ip,
    };
    let ns = if ns.is_unspecified() {
        vec![]
    } else {
        vec![ns]
    };
    tokio::spawn(keel_dns::follow(
        master.clone(),
        records.clone(),
        cfg.zone.clone(),
        ns,
        Some(vips.subscribe()),
    ));
    let root = keel_dns::root_router(records.clone(), cfg.clone());
    let api = keel_dns::router(records.clone(), cfg);
    if let Some(h) = o.mesos_dns_http_listen {
        let l = tokio::net::TcpListener::bind(h)
            .await
            .with_context(|| format!("--mesos-dns-http-listen {h}"))?;
        tracing::info!(
            "Mesos-DNS HTTP API is listening on http://{}",
            l.local_addr()?
        );
        let app = api.clone();
        tokio::spawn(async move { axum::serve(l, app).await });
    }
    Ok(Some(DnsRoutes {
        addr,
        records,
        api,
        root,
    }))
}

async fn serve_master(
    master: Master,
    o: MasterOpts,
    listener: tokio::net::TcpListener,
    vips: keel_master::Vips,
    dns: Option<DnsRoutes>,
    journal_dir: PathBuf,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tokio::spawn(master.clone().run_background());
    let mut services = services(&master, &o, &vips, dns, &journal_dir)?;
    // First: a merged router's default fallback replaces the ones merged before it, and
    // the service APIs' fallback (a JSON 404) must stay.
    services.insert(0, master_metrics(&master));
    let app = master
        .entry(services)
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

/// The master node's dcos-metrics (`/system/v1/metrics/v0/ping|node`) and its node
/// metrics in the master's Prometheus text.
fn master_metrics(master: &Master) -> axum::Router {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let node = Arc::new(keel_agent::metrics::NodeMetrics::new(clock));
    let dims = keel_api::metrics::Dimensions {
        cluster_id: master.with_core(|c| c.cluster_id().to_string()),
        hostname: master.state_summary().hostname,
        ..Default::default()
    };
    let (n, d) = (node.clone(), dims.clone());
    master.exposition().add(Arc::new(move || {
        keel_agent::metrics::node_families(&n, d.clone())
    }));
    keel_agent::metrics::node_router(node, dims)
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
        log_rotation: LogRotation {
            max_size_bytes: node.log_rotate_max_size,
            max_files: node.log_rotate_max_files,
        },
        gc: node.gc()?,
        images: node.images(&work_dir)?,
        task_dns: None,
        work_dir,
        component_logs: None,
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
    let mut a = a;
    a.master
        .vip_range
        .get_or_insert_with(|| DEV_VIP_RANGE.to_string());
    a.master
        .diagnostics_bundle_dir
        .get_or_insert_with(|| a.data_dir.join("diagnostics"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let (master, listener) = start_master(&a.data_dir, a.listen, &a.master, clock.clone()).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let vips = open_vips(&master, &a.master)?;
    let dns = start_dns(&master, &a.master.dns, &vips, "127.0.0.1:0".parse()?).await?;
    let task_dns = TaskDns::start(&a.task_dns, dns.as_ref().map(|d| d.addr)).await?;
    let mut agents = Vec::new();
    for i in 0..a.agents {
        let work = a.data_dir.join(format!("agent-{i}"));
        let mut cfg = agent_config(
            url.clone(),
            work,
            "127.0.0.1:0".parse()?,
            a.resources.as_deref(),
            None,
            None,
            &a.node,
        )?;
        cfg.task_dns = a.task_dns.settings();
        cfg.component_logs = Some(a.journal_dir());
        let (agent, l) = start_agent(cfg, clock.clone()).await?;
        let mut rx = stop_rx.clone();
        let health = agent_health(&agent);
        agents.push(tokio::spawn(agent.serve_with(l, health, async move {
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
    // One VIP load balancer for the host all the in-process agents share.
    let l4lb = tokio::spawn(keel_proxy::l4lb::run(url.clone()));
    println!("Keel is running at {url}");
    print_dns(dns.as_ref());
    let mut rx = stop_rx.clone();
    let server = tokio::spawn(serve_master(
        master,
        a.master.clone(),
        listener,
        vips,
        dns,
        a.journal_dir(),
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
    l4lb.abort();
    for a in agents {
        let _ = a.await;
    }
    let _ = server.await;
    task_dns.stop(&a.task_dns.resolv_conf_path);
    Ok(())
}

/// `keel master`.
pub async fn master(a: MasterArgs) -> anyhow::Result<()> {
    let mut a = a;
    a.master
        .diagnostics_bundle_dir
        .get_or_insert_with(|| a.data_dir.join("diagnostics"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let (master, listener) = start_master(&a.data_dir, a.listen, &a.master, clock).await?;
    let vips = open_vips(&master, &a.master)?;
    let dns = start_dns(&master, &a.master.dns, &vips, "0.0.0.0:53".parse()?).await?;
    println!(
        "Keel master is running at http://{}",
        listener.local_addr()?
    );
    print_dns(dns.as_ref());
    let journal = a.journal_dir();
    serve_master(
        master,
        a.master,
        listener,
        vips,
        dns,
        journal,
        shutdown_signal(),
    )
    .await
}

/// `keel agent`.
pub async fn agent(a: AgentArgs) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let journal = a.journal_dir();
    let mut cfg = agent_config(
        a.master,
        a.work_dir,
        a.listen,
        a.resources.as_deref(),
        a.attributes.as_deref(),
        a.hostname,
        &a.node,
    )?;
    cfg.task_dns = a.task_dns.settings();
    cfg.component_logs = Some(journal);
    let master_url = cfg.master.clone();
    let (agent, listener) = start_agent(cfg, clock).await?;
    let task_dns = TaskDns::start(&a.task_dns, master_dns(&master_url)).await?;
    let l4lb = tokio::spawn(keel_proxy::l4lb::run(master_url));
    println!("Keel agent is running at http://{}", listener.local_addr()?);
    let health = agent_health(&agent);
    let served = agent.serve_with(listener, health, shutdown_signal()).await;
    l4lb.abort();
    task_dns.stop(&a.task_dns.resolv_conf_path);
    served?;
    Ok(())
}

/// The agent's `/system/health/v1` (its units, which the master aggregates).
fn agent_health(agent: &Agent) -> axum::Router {
    let endpoint = agent.endpoint().trim_start_matches("http://");
    let host = endpoint
        .rsplit_once(':')
        .map_or(endpoint, |(h, _)| h)
        .trim_matches(|c| c == '[' || c == ']')
        .to_owned();
    crate::diag::agent_units(agent, &host, &host).router()
}

/// The master's DNS as an agent assumes it without `--task-dns-upstream`: the host of its
/// `--master` URL (an IP address), port 53.
fn master_dns(master_url: &str) -> Option<SocketAddr> {
    let rest = master_url.split_once("://").map_or(master_url, |(_, r)| r);
    let hostport = rest.split('/').next().unwrap_or_default();
    let host = match hostport.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => hostport,
    };
    let ip: std::net::IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
    Some(SocketAddr::new(ip, 53))
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

#[cfg(test)]
mod tests {
    use super::*;
    use keel_dns_records::{AgentEntry, RecordSet, Snapshot, TaskEntry, ZoneConfig};
    use keel_routing::service::{Framework, RouteTable};

    #[test]
    fn frameworks_without_webui_url_resolve_through_their_srv_records() {
        let snap = Snapshot {
            agents: vec![AgentEntry {
                id: "c-S0".into(),
                ip: Some("127.0.0.1".parse().unwrap()),
                port: 5051,
            }],
            tasks: vec![TaskEntry {
                id: "kafka.1".into(),
                name: "kafka".into(),
                framework: "marathon".into(),
                agent_id: "c-S0".into(),
                running: true,
                has_health_checks: false,
                healthy: None,
                host_ports: vec![31500],
                container_ips: Vec::new(),
                discovery: None,
            }],
            ..Snapshot::default()
        };
        let set = RecordSet::build(&snap, &ZoneConfig::default(), 1);
        let fw = |id: &str, name: &str, url: Option<&str>| Framework {
            id: id.into(),
            name: name.into(),
            webui_url: url.map(String::from),
        };
        let frameworks = vec![
            fw("f1", "Kafka", Some("")),
            fw("f2", "nope", Some("")),
            fw("f3", "kafka", None),
        ];
        let srv = srv_records(&set, &frameworks);
        assert_eq!(srv.len(), 1, "{srv:?}");
        assert_eq!(srv[0].name, "_Kafka._tcp.marathon.mesos");
        assert_eq!((srv[0].host.as_str(), srv[0].port), ("127.0.0.1", 31500));
        let table = RouteTable::build(&keel_routing::service::Snapshot {
            apps: Vec::new(),
            marathon_ok: true,
            frameworks,
            srv,
        });
        match table.resolve("/service/f1/x") {
            keel_routing::service::Resolution::Found(s) => {
                assert_eq!(
                    (s.upstreams[0].host.as_str(), s.upstreams[0].port),
                    ("127.0.0.1", 31500)
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
