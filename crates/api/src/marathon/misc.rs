//! The small Marathon documents: `/v2/info` (only keys marathon-python 0.13.0 knows),
//! `/v2/leader`, `/v2/queue` items (`app` or `pod`, always `delay`, never `role`), and the
//! plain `{"message"}` body.

use super::app::AppDefinition;
use super::pod::Pod;
use super::time::Timestamp;
use serde::Serialize;

/// `GET /v2/info`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub name: String,
    pub version: String,
    pub buildref: String,
    pub elected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework_id: Option<String>,
    #[serde(rename = "marathon_config")]
    pub marathon_config: MarathonConfig,
    #[serde(rename = "zookeeper_config")]
    pub zookeeper_config: ZookeeperConfig,
    #[serde(rename = "http_config")]
    pub http_config: HttpConfig,
}

/// `marathon_config`: a subset of Marathon's flags, all keys marathon-python accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarathonConfig {
    pub master: String,
    pub framework_name: String,
    pub hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webui_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesos_role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesos_user: Option<String>,
    pub checkpoint: bool,
    pub executor: String,
    pub failover_timeout: u64,
    pub ha: bool,
    pub local_port_min: u32,
    pub local_port_max: u32,
    pub task_launch_timeout: u64,
    pub task_reservation_timeout: u64,
    pub reconciliation_initial_delay: u64,
    pub reconciliation_interval: u64,
    pub decline_offer_duration: u64,
    pub leader_proxy_connection_timeout_ms: u64,
    pub leader_proxy_read_timeout_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesos_leader_ui_url: Option<String>,
    pub features: Vec<String>,
}

impl Default for MarathonConfig {
    fn default() -> MarathonConfig {
        MarathonConfig {
            master: String::new(),
            framework_name: "marathon".into(),
            hostname: String::new(),
            webui_url: None,
            mesos_role: None,
            mesos_user: None,
            checkpoint: true,
            executor: "//cmd".into(),
            failover_timeout: 604_800,
            ha: true,
            local_port_min: 10_000,
            local_port_max: 20_000,
            task_launch_timeout: 300_000,
            task_reservation_timeout: 20_000,
            reconciliation_initial_delay: 15_000,
            reconciliation_interval: 600_000,
            decline_offer_duration: 120_000,
            leader_proxy_connection_timeout_ms: 5_000,
            leader_proxy_read_timeout_ms: 10_000,
            mesos_leader_ui_url: None,
            features: Vec::new(),
        }
    }
}

/// `zookeeper_config` (Keel has no ZooKeeper; the values describe its store instead).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZookeeperConfig {
    pub zk: String,
    pub zk_timeout: u64,
    pub zk_session_timeout: u64,
    pub zk_connection_timeout: u64,
    pub zk_max_versions: u32,
}

impl Default for ZookeeperConfig {
    fn default() -> ZookeeperConfig {
        ZookeeperConfig {
            zk: String::new(),
            zk_timeout: 10_000,
            zk_session_timeout: 10_000,
            zk_connection_timeout: 10_000,
            zk_max_versions: 50,
        }
    }
}

/// `http_config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpConfig {
    pub http_port: u16,
    pub https_port: u16,
}

/// `GET /v2/leader`: `{"leader":"host:port"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leader {
    pub leader: String,
}

/// A plain `{"message": "..."}` (e.g. `Leadership abdicated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub message: String,
}

/// `delay` of a queue item: `overdue=false` while the item waits out its backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueDelay {
    pub time_left_seconds: u64,
    pub overdue: bool,
}

/// Marathon's reasons for not using an offer; dcoscli's `queue` view looks these up by
/// name. Keel may add its own reasons (any string is carried through).
pub mod reject_reason {
    pub const UNFULFILLED_ROLE: &str = "UnfulfilledRole";
    pub const UNFULFILLED_CONSTRAINT: &str = "UnfulfilledConstraint";
    pub const NO_CORRESPONDING_RESERVATION_FOUND: &str = "NoCorrespondingReservationFound";
    pub const AGENT_MAINTENANCE: &str = "AgentMaintenance";
    pub const INSUFFICIENT_CPUS: &str = "InsufficientCpus";
    pub const INSUFFICIENT_MEMORY: &str = "InsufficientMemory";
    pub const INSUFFICIENT_DISK: &str = "InsufficientDisk";
    pub const INSUFFICIENT_GPUS: &str = "InsufficientGpus";
    pub const INSUFFICIENT_PORTS: &str = "InsufficientPorts";
    pub const DECLINED_SCARCE_RESOURCES: &str = "DeclinedScarceResources";
}

/// `{reason, declined, processed}`: of `processed` offers (agents), `declined` failed for
/// `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectSummary {
    pub reason: String,
    pub declined: u32,
    pub processed: u32,
}

/// Why the queued instances are not placed. Keel reports its placement failures as
/// `rejectSummaryLastOffers` entries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessedOffersSummary {
    pub processed_offers_count: u32,
    pub unused_offers_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_unused_offer_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_offer_at: Option<Timestamp>,
    pub reject_summary_last_offers: Vec<RejectSummary>,
    pub reject_summary_launch_attempt: Vec<RejectSummary>,
}

/// What a queue item waits to launch: Marathon's `QueueApp` has `app`, `QueuePod` has `pod`.
/// marathon-python 0.13.0 knows only `app` items (a `pod` item fails its `list_queue`, as
/// against Marathon itself), so pod items are served only to `GET /v2/queue?embed=pods`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum QueuedRunSpec {
    App(Box<AppDefinition>),
    Pod(Box<Pod>),
}

/// An item of `GET /v2/queue`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueItem {
    #[serde(flatten)]
    pub run_spec: QueuedRunSpec,
    /// Instances still to launch.
    pub count: u32,
    pub delay: QueueDelay,
    pub since: Timestamp,
    pub processed_offers_summary: ProcessedOffersSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_unused_offers: Option<Vec<serde_json::Value>>,
}
