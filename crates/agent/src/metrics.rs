//! dcos-metrics on the agent (`/system/v1/metrics/v0/...`) and its Prometheus text
//! (`/metrics/prometheus`): node metrics read from procfs and statvfs on each request,
//! container metrics from the task's cgroups (v1 or v2) or the Docker Engine's stats, and
//! the app metrics tasks send over StatsD (`crate::statsd`). Nothing is collected in the
//! background: each request reads a few small files per container.

use crate::Agent;
use keel_api::metrics::{Dimensions, MetricsMessage, Ping, rfc3339};
use keel_clock::Clock;
use keel_executor::{CgroupLayout, HostFs};
use keel_metrics::cgroup::{CgroupTexts, ContainerUsage, usage};
use keel_metrics::procfs::{self, CpuTimes};
use keel_metrics::statsd::AppMetrics;
use keel_metrics::{ContainerLimits, Counter, FsUsage, NodeSample, container_datapoints};
use keel_model::ContainerKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// USER_HZ, the unit of `cpuacct.stat` and `/proc/<pid>/stat` times (100 on every Linux
/// architecture's user ABI).
const TICKS_PER_SEC: u64 = 100;
/// Files a sandbox walk for `disk.used` looks at, at most.
const DISK_WALK_LIMIT: usize = 10_000;
/// Seconds a sandbox's measured size is reused before it is walked again.
const DISK_REUSE_SECS: f64 = 30.0;

/// A node's metrics: the procfs root and the cpu samples percentages are computed over.
/// Shared by the agent and the master entry (each node serves its own).
pub struct NodeMetrics {
    proc_root: PathBuf,
    clock: Arc<dyn Clock>,
    /// (time, cpu) of the interval's start, and of the newest sample.
    samples: Mutex<(Option<CpuSample>, Option<CpuSample>)>,
}

/// When a cpu line was read (Unix seconds), and what it said.
type CpuSample = (f64, CpuTimes);

impl NodeMetrics {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            clock,
            samples: Mutex::new((None, None)),
        }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.proc_root.join(name)).unwrap_or_default()
    }

    /// Reads procfs and the filesystems now.
    pub fn sample(&self) -> NodeSample {
        let stat = procfs::parse_stat(&self.read("stat"));
        let (load, processes) = procfs::parse_loadavg(&self.read("loadavg"));
        let filesystems = procfs::real_filesystems(&self.read("mounts"))
            .into_iter()
            .filter_map(|p| fs_usage(&p))
            .collect();
        NodeSample {
            cpu: stat.cpu,
            cores: stat.cores,
            load,
            mem: procfs::parse_meminfo(&self.read("meminfo")),
            processes,
            uptime: procfs::parse_uptime(&self.read("uptime")),
            filesystems,
            network: procfs::parse_net_dev(&self.read("net/dev")),
        }
    }

    /// The node message with `dimensions`; cpu percentages cover the time since a sample
    /// at least a second old (since boot on the first request).
    pub fn message(&self, dimensions: Dimensions) -> MetricsMessage {
        let now = self.clock.unix_secs();
        let s = self.sample();
        let previous = {
            let mut g = self.samples.lock().unwrap_or_else(|e| e.into_inner());
            match g.1 {
                None => g.1 = Some((now, s.cpu)),
                Some((t, cpu)) if now - t >= 1.0 => {
                    g.0 = Some((t, cpu));
                    g.1 = Some((now, s.cpu));
                }
                Some(_) => {}
            }
            g.0.map(|(_, c)| c)
        };
        MetricsMessage {
            datapoints: keel_metrics::node_datapoints(&s, previous.as_ref(), &rfc3339(now)),
            dimensions,
        }
    }

    /// `/v0/ping`.
    pub fn ping(&self) -> Ping {
        Ping {
            ok: true,
            timestamp: rfc3339(self.clock.unix_secs()),
        }
    }
}

fn fs_usage(path: &str) -> Option<FsUsage> {
    let st = crate::sys::statvfs(Path::new(path))?;
    let total = st.blocks * st.fragment_size;
    let free = st.free * st.fragment_size;
    Some(FsUsage {
        path: path.to_string(),
        total,
        used: total.saturating_sub(free),
        free: st.available * st.fragment_size,
        inodes_total: st.files,
        inodes_used: st.files.saturating_sub(st.files_free),
        inodes_free: st.files_free,
    })
}

/// The agent's metrics state: node sampling, the cgroup layout (detected once), the app
/// metrics of each container and the StatsD counters.
pub struct AgentMetrics {
    pub node: NodeMetrics,
    layout: OnceLock<Option<CgroupLayout>>,
    /// The Docker Engine, connected on the first Docker container's request.
    docker: tokio::sync::OnceCell<Option<bollard::Docker>>,
    /// `disk.used` by container id: when measured (Unix seconds) and the bytes.
    disk: Mutex<BTreeMap<String, (f64, u64)>>,
    /// App metrics by container id.
    pub(crate) apps: Mutex<BTreeMap<String, AppMetrics>>,
    pub(crate) statsd_packets: Counter,
    pub(crate) statsd_malformed: Counter,
    pub(crate) statsd_dropped: Counter,
}

impl AgentMetrics {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            node: NodeMetrics::new(clock),
            layout: OnceLock::new(),
            docker: tokio::sync::OnceCell::new(),
            disk: Mutex::new(BTreeMap::new()),
            apps: Mutex::new(BTreeMap::new()),
            statsd_packets: Counter::default(),
            statsd_malformed: Counter::default(),
            statsd_dropped: Counter::default(),
        }
    }

    fn layout(&self) -> Option<&CgroupLayout> {
        self.layout
            .get_or_init(|| CgroupLayout::detect(&HostFs::default()).ok())
            .as_ref()
    }

    /// The sandbox size of `container`, walked at most every [`DISK_REUSE_SECS`]; the
    /// entries of containers not in `live` are forgotten.
    fn disk_used(&self, container: &str, sandbox: &Path, now: f64) -> u64 {
        let cached = {
            let d = self.disk.lock().unwrap_or_else(|e| e.into_inner());
            d.get(container).copied()
        };
        if let Some((_, bytes)) =
            cached.filter(|(t, _)| (0.0..DISK_REUSE_SECS).contains(&(now - t)))
        {
            return bytes;
        }
        let bytes = disk_used(sandbox);
        let mut d = self.disk.lock().unwrap_or_else(|e| e.into_inner());
        d.insert(container.to_string(), (now, bytes));
        bytes
    }

    /// Forgets the sandbox sizes of containers not in `live`.
    pub(crate) fn forget_disk_except(&self, live: &[LiveContainer]) {
        let mut d = self.disk.lock().unwrap_or_else(|e| e.into_inner());
        d.retain(|k, _| live.iter().any(|c| &c.container_id == k));
    }

    /// A container's app metrics as datapoints, `None` when it sent none.
    pub(crate) fn app(&self, container: &str) -> Option<Vec<keel_api::metrics::Datapoint>> {
        let apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        apps.get(container)
            .filter(|a| !a.is_empty())
            .map(AppMetrics::datapoints)
    }
}

/// What the container endpoints need of a live task, copied out of the agent's lock.
#[derive(Debug, Clone)]
pub(crate) struct LiveContainer {
    pub container_id: String,
    pub docker: bool,
    pub sandbox: PathBuf,
    pub limits: ContainerLimits,
    pub dimensions: Dimensions,
}

/// The node's dimensions.
pub(crate) fn node_dimensions(agent: &Agent) -> Dimensions {
    Dimensions {
        mesos_id: agent.id().map(|a| a.to_string()).unwrap_or_default(),
        hostname: agent.settings.hostname.clone(),
        ..Dimensions::default()
    }
}

/// The live (not terminal) containers, in container id order.
pub(crate) fn live_containers(agent: &Agent) -> Vec<LiveContainer> {
    let mesos_id = agent.id().map(|a| a.to_string()).unwrap_or_default();
    let mut out: Vec<LiveContainer> = agent.with_core(|c| {
        c.tasks
            .values()
            .filter(|e| !e.rec.state.is_terminal())
            .map(|e| {
                let r = &e.rec;
                let res = &r.spec.resources;
                LiveContainer {
                    container_id: r.container_id.to_string(),
                    docker: r
                        .spec
                        .container
                        .as_ref()
                        .is_some_and(|c| c.kind == ContainerKind::Docker),
                    sandbox: r.sandbox.clone(),
                    limits: ContainerLimits {
                        cpus: res.scalar("cpus"),
                        mem_bytes: (res.scalar("mem") * 1024.0 * 1024.0) as u64,
                        disk_bytes: (res.scalar("disk") * 1024.0 * 1024.0) as u64,
                    },
                    dimensions: Dimensions {
                        mesos_id: mesos_id.clone(),
                        container_id: r.container_id.to_string(),
                        executor_id: r.spec.id.to_string(),
                        framework_name: r.framework_name.clone(),
                        framework_id: r.spec.framework_id.to_string(),
                        framework_role: r.spec.role.clone(),
                        task_name: r.spec.name.clone(),
                        task_id: r.spec.id.to_string(),
                        hostname: agent.settings.hostname.clone(),
                        labels: r.spec.labels.clone(),
                        ..Dimensions::default()
                    },
                }
            })
            .collect()
    });
    out.sort_by(|a, b| a.container_id.cmp(&b.container_id));
    out
}

fn read_opt(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

/// A container's usage from its cgroups (the cpu times summed over its processes when
/// the cpu accounting controller is not in the container's hierarchy).
fn cgroup_usage(layout: &CgroupLayout, root: &str, id: &str) -> ContainerUsage {
    match layout {
        CgroupLayout::V1 { memory, cpu } => {
            let mem = memory.join(root).join(id);
            let cpu = cpu.as_ref().map(|c| c.join(root).join(id));
            let in_cpu = |f: &str| cpu.as_ref().and_then(|d| read_opt(&d.join(f)));
            // cpuacct comounted with cpu, else in its own hierarchy at the usual place.
            let cpuacct = in_cpu("cpuacct.stat").or_else(|| {
                read_opt(
                    &Path::new("/sys/fs/cgroup/cpuacct")
                        .join(root)
                        .join(id)
                        .join("cpuacct.stat"),
                )
            });
            let texts = CgroupTexts::V1 {
                cpuacct_stat: cpuacct,
                cpu_stat: in_cpu("cpu.stat"),
                cfs_quota_us: in_cpu("cpu.cfs_quota_us"),
                cfs_period_us: in_cpu("cpu.cfs_period_us"),
                memory_usage: read_opt(&mem.join("memory.usage_in_bytes")),
                memory_limit: read_opt(&mem.join("memory.limit_in_bytes")),
                memory_stat: read_opt(&mem.join("memory.stat")),
            };
            let mut u = usage(&texts, TICKS_PER_SEC);
            if !u.has_cpu_times {
                let (user, system) = process_ticks(&mem.join("cgroup.procs"));
                u.user_secs = user as f64 / TICKS_PER_SEC as f64;
                u.system_secs = system as f64 / TICKS_PER_SEC as f64;
            }
            u
        }
        CgroupLayout::V2 { mount } => {
            let d = mount.join(root).join(id);
            let texts = CgroupTexts::V2 {
                cpu_stat: read_opt(&d.join("cpu.stat")),
                cpu_max: read_opt(&d.join("cpu.max")),
                memory_current: read_opt(&d.join("memory.current")),
                memory_max: read_opt(&d.join("memory.max")),
                memory_stat: read_opt(&d.join("memory.stat")),
            };
            usage(&texts, TICKS_PER_SEC)
        }
    }
}

/// User and system ticks of the processes listed in `procs` (and their reaped children).
fn process_ticks(procs: &Path) -> (u64, u64) {
    let list = read_opt(procs).unwrap_or_default();
    list.lines()
        .filter_map(|pid| pid.trim().parse::<u32>().ok())
        .filter_map(|pid| read_opt(&PathBuf::from(format!("/proc/{pid}/stat"))))
        .filter_map(|s| procfs::parse_pid_stat(&s))
        .fold((0, 0), |(u, s), (u2, s2)| (u + u2, s + s2))
}

/// A Docker container's usage from the Engine's one-shot stats.
async fn docker_usage(metrics: &AgentMetrics, id: &str) -> ContainerUsage {
    let docker = metrics.docker.get_or_init(crate::gc::connect_docker).await;
    let Some(docker) = docker else {
        return ContainerUsage::default();
    };
    let opts = bollard::query_parameters::StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(true)
        .build();
    use futures_util::StreamExt;
    let mut s = docker.stats(&format!("keel-{id}"), Some(opts));
    let stats = match tokio::time::timeout(std::time::Duration::from_secs(5), s.next()).await {
        Ok(Some(Ok(st))) => st,
        _ => return ContainerUsage::default(),
    };
    let mut u = ContainerUsage::default();
    if let Some(cpu) = stats.cpu_stats {
        if let Some(c) = cpu.cpu_usage {
            u.user_secs = c.usage_in_usermode.unwrap_or(0) as f64 / 1e9;
            u.system_secs = c.usage_in_kernelmode.unwrap_or(0) as f64 / 1e9;
            u.has_cpu_times = true;
        }
        if let Some(t) = cpu.throttling_data {
            u.nr_periods = t.periods.unwrap_or(0);
            u.nr_throttled = t.throttled_periods.unwrap_or(0);
            u.throttled_secs = t.throttled_time.unwrap_or(0) as f64 / 1e9;
        }
    }
    if let Some(m) = stats.memory_stats {
        u.mem_total = m.usage.unwrap_or(0);
        u.mem_limit = m.limit.filter(|l| *l < (1 << 62));
        if let Some(st) = m.stats {
            let get = |a: &str, b: &str| st.get(a).or(st.get(b)).copied().unwrap_or(0);
            u.mem_rss = get("total_rss", "anon");
            u.mem_cache = get("total_cache", "file");
        }
    }
    u
}

/// Bytes of the files under `dir` (the first [`DISK_WALK_LIMIT`] entries).
fn disk_used(dir: &Path) -> u64 {
    let mut total = 0;
    let mut seen = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            seen += 1;
            if seen > DISK_WALK_LIMIT {
                return total;
            }
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}

/// Where and whether the cgroup files are read.
#[derive(Clone)]
struct CgroupSource {
    layout: Option<CgroupLayout>,
    root: String,
    metrics: Arc<AgentMetrics>,
    now: f64,
}

impl CgroupSource {
    fn of(agent: &Agent) -> Self {
        let enabled = agent.settings.cgroups.enabled;
        Self {
            layout: enabled.then(|| agent.metrics.layout().cloned()).flatten(),
            root: agent.settings.cgroups.root.clone(),
            metrics: agent.metrics.clone(),
            now: agent.clock.unix_secs(),
        }
    }

    /// The message of a container that is not Docker's (blocking file reads).
    fn message(&self, c: &LiveContainer, ts: &str) -> MetricsMessage {
        let u = match &self.layout {
            Some(l) => cgroup_usage(l, &self.root, &c.container_id),
            None => ContainerUsage::default(),
        };
        let disk = self
            .metrics
            .disk_used(&c.container_id, &c.sandbox, self.now);
        MetricsMessage {
            datapoints: container_datapoints(&u, &c.limits, Some(disk), ts),
            dimensions: c.dimensions.clone(),
        }
    }
}

/// The resource messages of `containers`, in their order: cgroup reads in one blocking
/// job, Docker's stats one container at a time.
pub(crate) async fn container_messages(
    agent: &Agent,
    containers: Vec<LiveContainer>,
) -> Vec<MetricsMessage> {
    let ts = rfc3339(agent.clock.unix_secs());
    let source = CgroupSource::of(agent);
    let (docker, plain): (Vec<_>, Vec<_>) = containers.into_iter().partition(|c| c.docker);
    let ts2 = ts.clone();
    let mut out = tokio::task::spawn_blocking(move || {
        plain
            .iter()
            .map(|c| source.message(c, &ts2))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    for c in docker {
        let u = docker_usage(&agent.metrics, &c.container_id).await;
        let (m, id, sandbox, now) = (
            agent.metrics.clone(),
            c.container_id.clone(),
            c.sandbox.clone(),
            agent.clock.unix_secs(),
        );
        let disk = tokio::task::spawn_blocking(move || m.disk_used(&id, &sandbox, now))
            .await
            .ok();
        out.push(MetricsMessage {
            datapoints: container_datapoints(&u, &c.limits, disk, &ts),
            dimensions: c.dimensions.clone(),
        });
    }
    out.sort_by(|a, b| a.dimensions.container_id.cmp(&b.dimensions.container_id));
    out
}

/// A node's own `/system/v1/metrics/v0/ping` and `/node` (the master entry's; an agent
/// serves these from its router with the container routes).
pub fn node_router(node: Arc<NodeMetrics>, dimensions: Dimensions) -> axum::Router {
    use axum::response::IntoResponse;
    let n = node.clone();
    axum::Router::new()
        .route(
            "/system/v1/metrics/v0/ping",
            axum::routing::get(move || {
                let n = n.clone();
                async move { axum::Json(n.ping()).into_response() }
            }),
        )
        .route(
            "/system/v1/metrics/v0/node",
            axum::routing::get(move || {
                let (n, d) = (node.clone(), dimensions.clone());
                async move {
                    match tokio::task::spawn_blocking(move || n.message(d)).await {
                        Ok(m) => axum::Json(m).into_response(),
                        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    }
                }
            }),
        )
}

/// The node's metrics as Prometheus families (blocking file reads).
pub fn node_families(
    node: &NodeMetrics,
    dimensions: Dimensions,
) -> Vec<keel_metrics::prometheus::Family> {
    keel_metrics::prometheus::message_families(&[node.message(dimensions)], "node")
}
