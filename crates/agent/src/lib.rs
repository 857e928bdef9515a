//! The agent role: registers with the master over a long-lived stream, launches each task
//! under a detached `keel executor`, checkpoints status updates and retries them until the
//! master acknowledges, re-adopts running executors after a restart, and serves `/state`
//! and the `/files` API.
//!
//! Architecture Invariant: a status update is checkpointed in the agent's store before the
//! executor is acknowledged, and removed only after the master acknowledged it.

mod core;
pub mod detect;
mod error;
mod executors;
mod files;
pub mod gc;
mod http;
mod images;
mod launcher;
mod link;
pub mod metrics;
mod records;
mod resolv;
mod statsd;
mod sys;
mod volumes;

pub use crate::core::AgentCore;
pub use error::AgentError;
pub use gc::GcConfig;
pub use keel_api::executor::{CgroupConfig, LogRotation};
pub use launcher::LaunchSettings;
pub use resolv::ResolvConf;

use keel_clock::{Clock, Ids, RandomIds};
use keel_model::TaskSpec;
use keel_resources::{Attributes, Resources};
use keel_store::Store;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How an agent is run.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Master base URL, e.g. `http://127.0.0.1:5050`.
    pub master: String,
    pub work_dir: PathBuf,
    pub listen: SocketAddr,
    pub hostname: Option<String>,
    /// Overrides for detected resources (`--resources`).
    pub resources: Resources,
    pub attributes: Attributes,
    /// The `keel` binary to run as `keel executor`.
    pub executor_path: PathBuf,
    pub cgroups: CgroupConfig,
    pub log_rotation: LogRotation,
    /// Garbage collection of sandboxes and Docker leftovers.
    pub gc: GcConfig,
    /// Image sources and cache of Keel's own container runtime.
    pub images: keel_api::executor::ImageSettings,
    /// The name servers task containers get (`--task-dns`); `None`: the node's.
    pub task_dns: Option<keel_api::executor::TaskDns>,
    /// The node's component journal (`keel_logs::journal`), served at
    /// `/system/v1/logs/v2/component`; `None`: no component routes.
    pub component_logs: Option<PathBuf>,
}

/// What a simulated agent is: where its master is, what it offers, and the HTTP client
/// and request bound it shares with the other simulated agents of the process.
#[derive(Debug, Clone)]
pub struct SimulatedAgent {
    pub master: String,
    pub hostname: String,
    pub resources: Resources,
    pub attributes: Attributes,
    pub http: reqwest::Client,
    pub permits: Arc<tokio::sync::Semaphore>,
}

/// A running agent, shared by its tasks.
#[derive(Clone)]
pub struct Agent {
    core: Arc<Mutex<AgentCore>>,
    pub(crate) settings: LaunchSettings,
    pub(crate) master: String,
    pub(crate) endpoint: String,
    pub(crate) resources: Resources,
    pub(crate) attributes: Attributes,
    pub(crate) http: reqwest::Client,
    pub(crate) start_time: f64,
    updates: Arc<Notify>,
    heartbeat: Arc<Mutex<Duration>>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Container ids (and the core's status uuids).
    pub(crate) ids: Arc<dyn Ids>,
    pub(crate) gc: GcConfig,
    pub(crate) gc_counters: Arc<gc::GcCounters>,
    /// Accepts launches without running anything (benchmarks of the control plane).
    pub(crate) simulated: bool,
    /// Bounds the requests simulated agents have in flight together (and so their sockets).
    pub(crate) permits: Option<Arc<tokio::sync::Semaphore>>,
    /// The node's component journal directory.
    pub(crate) component_logs: Option<PathBuf>,
    /// Node, container and app metrics.
    pub(crate) metrics: Arc<metrics::AgentMetrics>,
    /// Where tasks send StatsD.
    pub(crate) statsd_host: std::net::IpAddr,
}

impl Agent {
    /// Opens the agent's checkpoint and binds its HTTP listener.
    pub async fn bind(
        config: AgentConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<(Agent, tokio::net::TcpListener), AgentError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| AgentError::io(format!("listen {}", config.listen), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| AgentError::io("listener", e))?;
        let hostname = config.hostname.clone().unwrap_or_else(detect::hostname);
        let hostport = format!("{}:{}", addr.ip(), addr.port());
        let resources = detect::merge(detect::detect(&config.work_dir), &config.resources);
        let ids: Arc<dyn Ids> = Arc::new(RandomIds);
        let core = AgentCore::open_with(store, clock.clone(), ids.clone())?;
        let clock_for_metrics = clock.clone();
        let agent = Agent {
            core: Arc::new(Mutex::new(core)),
            settings: LaunchSettings {
                work_dir: config.work_dir.clone(),
                executor_path: config.executor_path.clone(),
                hostname,
                endpoint_hostport: hostport.clone(),
                cgroups: config.cgroups.clone(),
                log_rotation: config.log_rotation.clone(),
                images: config.images.clone(),
                task_dns: config.task_dns.clone(),
            },
            master: config.master.trim_end_matches('/').to_string(),
            endpoint: format!("http://{hostport}"),
            resources,
            attributes: config.attributes.clone(),
            http: reqwest::Client::new(),
            start_time: clock.unix_secs(),
            updates: Arc::new(Notify::new()),
            heartbeat: Arc::new(Mutex::new(Duration::from_secs(5))),
            clock,
            ids,
            gc: config.gc.clone(),
            gc_counters: Arc::default(),
            simulated: false,
            permits: None,
            component_logs: config.component_logs.clone(),
            metrics: Arc::new(metrics::AgentMetrics::new(clock_for_metrics)),
            statsd_host: statsd::host(addr.ip()),
        };
        Ok((agent, listener))
    }

    /// A simulated agent: it registers and speaks the real agent protocol, but a launch
    /// only reports TASK_STARTING and TASK_RUNNING (and a kill TASK_KILLING, TASK_KILLED)
    /// without running a process. It serves no HTTP. For control-plane benchmarks.
    pub fn simulated(
        sim: SimulatedAgent,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Agent, AgentError> {
        let SimulatedAgent {
            master,
            hostname,
            resources,
            attributes,
            http,
            permits,
        } = sim;
        let ids: Arc<dyn Ids> = Arc::new(RandomIds);
        let core = AgentCore::open_with(store, clock.clone(), ids.clone())?;
        Ok(Agent {
            core: Arc::new(Mutex::new(core)),
            settings: LaunchSettings {
                work_dir: PathBuf::from("/nonexistent"),
                executor_path: PathBuf::from("/nonexistent"),
                hostname: hostname.clone(),
                endpoint_hostport: format!("{hostname}:0"),
                cgroups: CgroupConfig {
                    enabled: false,
                    root: String::new(),
                },
                log_rotation: LogRotation::default(),
                images: Default::default(),
                task_dns: None,
            },
            master: master.trim_end_matches('/').to_string(),
            endpoint: "http://127.0.0.1:9".into(),
            resources,
            attributes,
            http,
            start_time: clock.unix_secs(),
            updates: Arc::new(Notify::new()),
            heartbeat: Arc::new(Mutex::new(Duration::from_secs(5))),
            clock: clock.clone(),
            ids,
            gc: GcConfig::default(),
            gc_counters: Arc::default(),
            simulated: true,
            permits: Some(permits),
            component_logs: None,
            metrics: Arc::new(metrics::AgentMetrics::new(clock)),
            statsd_host: std::net::IpAddr::from([127, 0, 0, 1]),
        })
    }

    /// Runs a simulated agent's master link until the task is aborted.
    pub async fn run_simulated(self) {
        let bg = [
            tokio::spawn(link::run_heartbeats(self.clone())),
            tokio::spawn(link::run_forwarder(self.clone())),
        ];
        link::run_link(self).await;
        for t in bg {
            t.abort();
        }
    }

    /// Reports `states` for `task` as if its executor had sent them.
    pub(crate) fn simulate(&self, task: &keel_model::TaskId, states: &[keel_model::TaskState]) {
        let now = self.clock.unix_secs();
        let r = self.with_core(|c| {
            let seq = c.tasks.get(task).map(|e| e.rec.last_seq).unwrap_or(0);
            for (i, state) in states.iter().enumerate() {
                let st = keel_api::executor::ExecutorStatus {
                    seq: seq + 1 + i as u64,
                    state: *state,
                    reason: None,
                    message: None,
                    exit_code: None,
                    timestamp: now,
                    healthy: None,
                    container_ips: Vec::new(),
                };
                c.executor_status(task, &st)?;
            }
            Ok::<(), AgentError>(())
        });
        if let Err(e) = r {
            tracing::error!(task = %task, "simulated status: {e}");
        }
        self.updates_ready();
    }

    /// Re-adopts executors, connects to the master and serves HTTP until `shutdown`.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        self.serve_with(listener, axum::Router::new(), shutdown)
            .await
    }

    /// As [`Agent::serve`], with `extra` routes of other node services beside the agent's.
    pub async fn serve_with(
        self,
        listener: tokio::net::TcpListener,
        extra: axum::Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        executors::recover(&self).await;
        self.reopen_statsd();
        let bg = [
            tokio::spawn(link::run_link(self.clone())),
            tokio::spawn(link::run_heartbeats(self.clone())),
            tokio::spawn(link::run_forwarder(self.clone())),
            tokio::spawn(gc::run(self.clone())),
        ];
        let app = http::router(self.clone()).merge(extra);
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        for t in bg {
            t.abort();
        }
        r.map_err(|e| AgentError::io("agent http", e))
    }

    /// Binds again the StatsD sockets of the live tasks after a restart, on the ports their
    /// environments name.
    fn reopen_statsd(&self) {
        let live: Vec<(keel_model::TaskId, String, u16)> = self.with_core(|c| {
            c.tasks
                .values()
                .filter(|e| !e.rec.state.is_terminal())
                .filter_map(|e| {
                    let r = &e.rec;
                    Some((
                        r.spec.id.clone(),
                        r.container_id.to_string(),
                        r.statsd_port?,
                    ))
                })
                .collect()
        });
        for (task, container, port) in live {
            match statsd::bind(self.statsd_host, port) {
                Ok(s) => {
                    tokio::spawn(statsd::serve(self.clone(), task, container, s));
                }
                Err(e) => tracing::warn!(task = %task, "StatsD port {port}: {e}"),
            }
        }
    }

    /// Runs `f` with the agent state locked. Never call from within `f`.
    pub(crate) fn with_core<R>(&self, f: impl FnOnce(&mut AgentCore) -> R) -> R {
        let mut guard = self.core.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// The agent's HTTP endpoint (`http://host:port`), as the master reaches it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The agent's id, once registered.
    pub fn id(&self) -> Option<keel_model::AgentId> {
        self.with_core(|c| c.agent_id.clone())
    }

    /// A permit to send a request, for simulated agents that share a bound.
    pub(crate) async fn permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match &self.permits {
            Some(p) => p.clone().acquire_owned().await.ok(),
            None => None,
        }
    }

    pub(crate) fn updates_ready(&self) {
        self.updates.notify_one();
    }

    pub(crate) async fn wait_updates(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.updates.notified()).await;
    }

    pub(crate) fn set_heartbeat(&self, d: Duration) {
        *self.heartbeat.lock().unwrap_or_else(|e| e.into_inner()) = d;
    }

    pub(crate) fn heartbeat(&self) -> Duration {
        *self.heartbeat.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn flags(&self) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        f.insert("master".into(), self.master.clone());
        f.insert(
            "work_dir".into(),
            self.settings.work_dir.display().to_string(),
        );
        f.insert("hostname".into(), self.settings.hostname.clone());
        f.insert("resources".into(), self.resources.to_string());
        f.insert("attributes".into(), self.attributes.to_string());
        f
    }

    /// Prepares the sandbox, checkpoints the task, spawns its executor and attaches to it.
    pub(crate) async fn launch(
        &self,
        task: TaskSpec,
        framework_name: String,
    ) -> Result<(), AgentError> {
        let agent_id = self.id().ok_or_else(|| AgentError::Launch {
            task: task.id.to_string(),
            reason: "agent is not registered".into(),
        })?;
        let now = self.clock.unix_secs();
        if self.simulated {
            let rec = records::TaskRecord {
                container_id: keel_model::ContainerId::new(self.ids.uuid().to_string()).map_err(
                    |e| AgentError::Launch {
                        task: task.id.to_string(),
                        reason: e.to_string(),
                    },
                )?,
                sandbox: PathBuf::new(),
                meta_dir: PathBuf::new(),
                state: keel_model::TaskState::Staging,
                last_seq: 0,
                launched_time: now,
                completed: false,
                container_ips: Vec::new(),
                statsd_port: None,
                spec: task.clone(),
                framework_name,
            };
            self.with_core(|c| c.add_task(rec))?;
            use keel_model::TaskState as S;
            self.simulate(&task.id, &[S::Starting, S::Running]);
            return Ok(());
        }
        // The container's StatsD socket; a task without one still runs.
        let statsd = statsd::bind(self.statsd_host, 0)
            .and_then(|s| Ok((s.local_addr()?, s)))
            .map_err(|e| tracing::warn!(task = %task.id, "no StatsD socket: {e}"))
            .ok();
        let (rec, config) = launcher::prepare(
            &self.settings,
            &agent_id,
            &task,
            &framework_name,
            now,
            &*self.ids,
            statsd.as_ref().map(|(a, _)| *a),
        )?;
        let container = rec.container_id.to_string();
        self.with_core(|c| c.add_task(rec))?;
        if let Some((_, sock)) = statsd {
            tokio::spawn(statsd::serve(
                self.clone(),
                task.id.clone(),
                container,
                sock,
            ));
        }
        let mut child = launcher::spawn_executor(&self.settings, &config)?;
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        let stream = executors::connect(&config.socket_name).map_err(|e| AgentError::Launch {
            task: task.id.to_string(),
            reason: format!("connecting to executor: {e}"),
        })?;
        tokio::spawn(executors::attach(self.clone(), task.id.clone(), stream));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
