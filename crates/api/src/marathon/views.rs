//! The response bodies Keel's Marathon fills from its own state, borrowed and typed: the
//! keys an AppInfo adds to its definition, `/v2/deployments` items, `/v2/queue` items,
//! groups, `/v2/info`, `/metrics` and the small list wrappers (`{"tasks": [...]}`, ...).
//! Values are carried as the service stores them (version strings are not re-parsed), so
//! these shapes render exactly what the service rendered before they existed.

use super::app::AppDefinition;
use super::checks::ReadinessCheckResult;
use super::deployment::DeploymentRef;
use super::pod::Pod;
use serde::Serialize;

/// `{"app": ...}` of `GET /v2/apps/{id}`.
#[derive(Debug, Serialize)]
pub struct AppBody<T> {
    pub app: T,
}

/// `{"apps": [...]}`.
#[derive(Debug, Serialize)]
pub struct AppsBody<T> {
    pub apps: Vec<T>,
}

/// `{"*": [...]}`: the apps of `GET /v2/apps/<group>/*`.
#[derive(Debug, Serialize)]
pub struct StarBody<T> {
    #[serde(rename = "*")]
    pub apps: Vec<T>,
}

/// `{"tasks": [...]}`.
#[derive(Debug, Serialize)]
pub struct TasksBody<T> {
    pub tasks: Vec<T>,
}

/// `{"task": ...}`.
#[derive(Debug, Serialize)]
pub struct TaskBody<T> {
    pub task: T,
}

/// `{"versions": [...]}`.
#[derive(Debug, Serialize)]
pub struct VersionsBody {
    pub versions: Vec<String>,
}

/// `{"queue": [...]}`.
#[derive(Debug, Serialize)]
pub struct QueueBody<T> {
    pub queue: Vec<T>,
}

/// `{"deploymentId", "version"}`, the answer of every write, as the service stores them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentResultRef<'a> {
    pub deployment_id: &'a str,
    pub version: &'a str,
}

/// `{"steps": [...]}` of a dry run.
#[derive(Debug, Serialize)]
pub struct StepsBody<'a> {
    pub steps: Vec<StepRef<'a>>,
}

/// The `tasksStaged`/`tasksRunning`/`tasksHealthy`/`tasksUnhealthy` counts, as `usize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub tasks_staged: usize,
    pub tasks_running: usize,
    pub tasks_healthy: usize,
    pub tasks_unhealthy: usize,
}

/// The app's `lastTaskFailure` as the service records it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastFailureRef<'a> {
    pub app_id: String,
    pub host: &'a str,
    pub message: &'a str,
    pub state: &'a str,
    pub task_id: &'a str,
    pub timestamp: String,
    pub version: &'a str,
    pub slave_id: &'a str,
}

/// The keys an AppInfo adds to its definition (each only when embedded); `T` is a task.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppExtras<'a, T> {
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployments: Option<Vec<DeploymentRef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<T>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_task_failure: Option<LastFailureRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_check_results: Option<Vec<ReadinessCheckResult>>,
}

impl<T> Default for AppExtras<'_, T> {
    fn default() -> Self {
        AppExtras {
            counts: None,
            deployments: None,
            tasks: None,
            last_task_failure: None,
            readiness_check_results: None,
        }
    }
}

impl<T> AppExtras<'_, T> {
    /// Whether no key is added.
    pub fn is_empty(&self) -> bool {
        self.counts.is_none()
            && self.deployments.is_none()
            && self.tasks.is_none()
            && self.last_task_failure.is_none()
            && self.readiness_check_results.is_none()
    }
}

/// An app in a response: the definition and its extras in one object.
#[derive(Debug, Serialize)]
pub struct AppInfoRef<'a, T> {
    #[serde(flatten)]
    pub app: &'a AppDefinition,
    #[serde(flatten)]
    pub extras: AppExtras<'a, T>,
}

/// One action of a step, keyed `app` or `pod` by its kind: `{"action", "app"|"pod"}`.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRef<'a> {
    pub action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<&'a str>,
}

impl<'a> ActionRef<'a> {
    /// The action `action` on `run_spec`, under `pod` if `pod` else under `app`.
    pub fn new(action: &'a str, run_spec: &'a str, pod: bool) -> ActionRef<'a> {
        let (app, pod) = if pod {
            (None, Some(run_spec))
        } else {
            (Some(run_spec), None)
        };
        ActionRef { action, app, pod }
    }
}

/// `{"actions": [...]}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepRef<'a> {
    pub actions: Vec<ActionRef<'a>>,
}

/// An action of the current step with its (empty) readiness results.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentActionRef<'a> {
    #[serde(flatten)]
    pub action: ActionRef<'a>,
    pub readiness_check_results: Vec<ReadinessCheckResult>,
}

/// An item of `GET /v2/deployments`, as the service stores its plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView<'a> {
    pub id: &'a str,
    pub version: &'a str,
    pub affected_apps: Vec<String>,
    pub affected_pods: Vec<String>,
    pub steps: Vec<StepRef<'a>>,
    pub current_actions: Vec<CurrentActionRef<'a>>,
    pub current_step: usize,
    pub total_steps: usize,
}

/// `delay` of a queue item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delay {
    pub time_left_seconds: i64,
    pub overdue: bool,
}

/// `{reason, declined, processed}` of a queue item.
#[derive(Debug, Serialize)]
pub struct Rejection<'a> {
    pub reason: &'a str,
    pub declined: u32,
    pub processed: u32,
}

/// `processedOffersSummary` of a queue item (no `rejectSummaryLaunchAttempt`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OffersSummary<'a> {
    pub processed_offers_count: u32,
    pub unused_offers_count: u32,
    pub reject_summary_last_offers: Vec<Rejection<'a>>,
}

/// What a queue item is about: `app` or `pod`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum QueuedRef<'a> {
    App(&'a AppDefinition),
    Pod(&'a Pod),
}

/// An item of `GET /v2/queue` (no `role`, which marathon-python 0.13.0 rejects).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueItemRef<'a> {
    #[serde(flatten)]
    pub run_spec: QueuedRef<'a>,
    pub count: u32,
    pub delay: Delay,
    pub since: String,
    pub processed_offers_summary: OffersSummary<'a>,
}

/// A group of `GET /v2/groups`; `version` only when the group has one.
#[derive(Debug, Serialize)]
pub struct GroupView<A, P> {
    pub id: String,
    pub apps: Vec<A>,
    pub groups: Vec<GroupView<A, P>>,
    pub pods: Vec<P>,
    pub dependencies: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `GET /v2/info`, with only the keys marathon-python 0.13.0 accepts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoView {
    pub name: &'static str,
    pub version: &'static str,
    pub buildref: String,
    pub elected: bool,
    pub leader: String,
    /// `null` before the framework registered.
    pub framework_id: Option<String>,
    #[serde(rename = "marathon_config")]
    pub marathon_config: MarathonConfigView,
    #[serde(rename = "zookeeper_config")]
    pub zookeeper_config: ZookeeperConfigView,
    #[serde(rename = "http_config")]
    pub http_config: super::misc::HttpConfig,
}

/// `marathon_config` of [`InfoView`].
#[derive(Debug, Serialize)]
pub struct MarathonConfigView {
    pub checkpoint: bool,
    pub executor: &'static str,
    pub failover_timeout: u64,
    pub framework_name: &'static str,
    pub ha: bool,
    pub hostname: String,
    pub local_port_min: u16,
    pub local_port_max: u16,
    pub master: String,
    pub mesos_role: &'static str,
    pub mesos_user: &'static str,
    /// Always `null`: Keel serves no web UI.
    pub webui_url: Option<String>,
    pub reconciliation_initial_delay: u64,
    pub reconciliation_interval: u64,
    pub task_launch_timeout: u64,
    pub features: Vec<String>,
}

/// `zookeeper_config` of [`InfoView`] (Keel has no ZooKeeper: it names its store).
#[derive(Debug, Serialize)]
pub struct ZookeeperConfigView {
    pub zk: &'static str,
    pub zk_timeout: u64,
    pub zk_session_timeout: u64,
    pub zk_max_versions: usize,
}

/// `{"value": n}` of a Dropwizard gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gauge {
    pub value: usize,
}

/// The gauges of Marathon's `/metrics`.
#[derive(Debug, Serialize)]
pub struct Gauges {
    #[serde(rename = "marathon.apps.active.gauge")]
    pub apps: Gauge,
    #[serde(rename = "marathon.instances.running.gauge")]
    pub instances: Gauge,
    #[serde(rename = "marathon.deployments.active.gauge")]
    pub deployments: Gauge,
}

/// An empty JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Empty {}

/// `GET /metrics` (Dropwizard's shape; only gauges are filled).
#[derive(Debug, Serialize)]
pub struct Metrics {
    pub version: &'static str,
    pub counters: Empty,
    pub gauges: Gauges,
    pub histograms: Empty,
    pub meters: Empty,
    pub timers: Empty,
}

impl Metrics {
    /// Dropwizard's format version 4.0.0 with these gauges.
    pub fn new(gauges: Gauges) -> Metrics {
        Metrics {
            version: "4.0.0",
            counters: Empty {},
            gauges,
            histograms: Empty {},
            meters: Empty {},
            timers: Empty {},
        }
    }
}
