//! App health checks (Marathon-run HTTP/HTTPS/TCP, agent-run MESOS_* and COMMAND) and
//! readiness checks, with Marathon's defaults, plus readiness results.

use serde::{Deserialize, Serialize};

/// Where and how a health check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthCheckProtocol {
    #[default]
    Http,
    Https,
    Tcp,
    Command,
    MesosHttp,
    MesosHttps,
    MesosTcp,
}

impl HealthCheckProtocol {
    /// Checks run by the scheduler itself (deprecated in Marathon, kept by Keel).
    pub fn is_scheduler_run(self) -> bool {
        matches!(self, Self::Http | Self::Https | Self::Tcp)
    }

    /// Checks run on the agent.
    pub fn is_agent_run(self) -> bool {
        !self.is_scheduler_run()
    }
}

/// IPv4 (default) or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum IpProtocol {
    #[default]
    IPv4,
    IPv6,
}

/// `{"value": "<shell>"}` of a COMMAND check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandCheck {
    pub value: String,
}

/// An app health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    #[serde(default)]
    pub protocol: HealthCheckProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Index into the app's ports; normalization sets 0 when neither this nor `port` is
    /// given and the app has ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_index: Option<i64>,
    /// A fixed port; wins over `portIndex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandCheck>,
    #[serde(default = "d300")]
    pub grace_period_seconds: i64,
    #[serde(default = "d60")]
    pub interval_seconds: i64,
    #[serde(default = "d20")]
    pub timeout_seconds: i64,
    #[serde(default = "d3")]
    pub max_consecutive_failures: i64,
    #[serde(default = "d15")]
    pub delay_seconds: i64,
    #[serde(default)]
    pub ignore_http1xx: bool,
    #[serde(default)]
    pub ip_protocol: IpProtocol,
}

fn d300() -> i64 {
    300
}
fn d60() -> i64 {
    60
}
fn d20() -> i64 {
    20
}
fn d3() -> i64 {
    3
}
fn d15() -> i64 {
    15
}
fn d30() -> i64 {
    30
}
fn d10() -> i64 {
    10
}

impl HealthCheck {
    /// A check of `protocol` with every default.
    pub fn new(protocol: HealthCheckProtocol) -> HealthCheck {
        HealthCheck {
            protocol,
            path: None,
            port_index: None,
            port: None,
            command: None,
            grace_period_seconds: 300,
            interval_seconds: 60,
            timeout_seconds: 20,
            max_consecutive_failures: 3,
            delay_seconds: 15,
            ignore_http1xx: false,
            ip_protocol: IpProtocol::IPv4,
        }
    }
}

/// HTTP or HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpScheme {
    #[default]
    Http,
    Https,
}

/// A readiness check, run only while a deployment replaces or starts instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessCheck {
    #[serde(default = "readiness_name")]
    pub name: String,
    #[serde(default)]
    pub protocol: HttpScheme,
    #[serde(default = "slash")]
    pub path: String,
    #[serde(default = "http_api")]
    pub port_name: String,
    #[serde(default = "d30")]
    pub interval_seconds: i64,
    #[serde(default = "d10")]
    pub timeout_seconds: i64,
    /// Empty input becomes `[200]`.
    #[serde(default)]
    pub http_status_codes_for_ready: Vec<i64>,
    #[serde(default)]
    pub preserve_last_response: bool,
}

fn readiness_name() -> String {
    "readinessCheck".to_owned()
}
fn slash() -> String {
    "/".to_owned()
}
fn http_api() -> String {
    "http-api".to_owned()
}

/// The last HTTP answer of a readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessHttpResponse {
    pub status: i64,
    pub content_type: String,
    pub body: String,
}

/// `readinessCheckResults` entry (app embed `readiness` and deployment `currentActions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessCheckResult {
    pub name: String,
    pub task_id: String,
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_response: Option<ReadinessHttpResponse>,
}
