//! Tasks: what to run (`TaskSpec`), where it may run (`Constraint`), and what became of it
//! (`TaskState`, `TaskStatus`).

use crate::{AgentId, ContainerId, ContainerSpec, FrameworkId, TaskId};
use keel_resources::Resources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A task's lifecycle state, named as Mesos names it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskState {
    #[serde(rename = "TASK_STAGING")]
    Staging,
    #[serde(rename = "TASK_STARTING")]
    Starting,
    #[serde(rename = "TASK_RUNNING")]
    Running,
    #[serde(rename = "TASK_KILLING")]
    Killing,
    #[serde(rename = "TASK_FINISHED")]
    Finished,
    #[serde(rename = "TASK_FAILED")]
    Failed,
    #[serde(rename = "TASK_KILLED")]
    Killed,
    #[serde(rename = "TASK_ERROR")]
    Error,
    #[serde(rename = "TASK_LOST")]
    Lost,
    #[serde(rename = "TASK_DROPPED")]
    Dropped,
    #[serde(rename = "TASK_UNREACHABLE")]
    Unreachable,
    #[serde(rename = "TASK_GONE")]
    Gone,
    #[serde(rename = "TASK_GONE_BY_OPERATOR")]
    GoneByOperator,
    #[serde(rename = "TASK_UNKNOWN")]
    Unknown,
}

impl TaskState {
    /// Every state, in declaration order.
    pub const ALL: [TaskState; 14] = [
        Self::Staging,
        Self::Starting,
        Self::Running,
        Self::Killing,
        Self::Finished,
        Self::Failed,
        Self::Killed,
        Self::Error,
        Self::Lost,
        Self::Dropped,
        Self::Unreachable,
        Self::Gone,
        Self::GoneByOperator,
        Self::Unknown,
    ];

    /// A terminal state never changes again (Mesos `protobuf::isTerminalState`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Finished
                | Self::Failed
                | Self::Killed
                | Self::Error
                | Self::Lost
                | Self::Dropped
                | Self::Gone
                | Self::GoneByOperator
        )
    }

    /// The wire name, e.g. `TASK_RUNNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staging => "TASK_STAGING",
            Self::Starting => "TASK_STARTING",
            Self::Running => "TASK_RUNNING",
            Self::Killing => "TASK_KILLING",
            Self::Finished => "TASK_FINISHED",
            Self::Failed => "TASK_FAILED",
            Self::Killed => "TASK_KILLED",
            Self::Error => "TASK_ERROR",
            Self::Lost => "TASK_LOST",
            Self::Dropped => "TASK_DROPPED",
            Self::Unreachable => "TASK_UNREACHABLE",
            Self::Gone => "TASK_GONE",
            Self::GoneByOperator => "TASK_GONE_BY_OPERATOR",
            Self::Unknown => "TASK_UNKNOWN",
        }
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a status happened, named as Mesos names it (`TaskStatus.Reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    ReasonCommandExecutorFailed,
    ReasonContainerLaunchFailed,
    ReasonContainerLimitationMemory,
    ReasonExecutorTerminated,
    ReasonExecutorReregistrationTimeout,
    ReasonAgentDisconnected,
    ReasonAgentRemoved,
    ReasonAgentRestarted,
    ReasonAgentReregistered,
    ReasonReconciliation,
    ReasonTaskKilledDuringLaunch,
    ReasonTaskInvalid,
    ReasonTaskUnknown,
    ReasonTaskHealthCheckStatusUpdated,
}

/// Who produced a status (`TaskStatus.Source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Source {
    SourceMaster,
    SourceAgent,
    SourceExecutor,
}

/// One status update of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    pub task_id: TaskId,
    pub state: TaskState,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<ContainerId>,
    /// Seconds since the Unix epoch, as Mesos reports it.
    pub timestamp: f64,
    /// Set for updates that need an acknowledgement (agent and executor updates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Health check verdict, when the task has health checks and one has run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// The container's own addresses (bridge and user networks), as Mesos reports them in
    /// `container_status.network_infos[].ip_addresses[]`; empty for host networking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_ips: Vec<core::net::IpAddr>,
}

/// The command a task runs. With `shell`, `value` is run by `/bin/sh -c`; otherwise `value`
/// is the program and `arguments` its argv (including argv[0]), as in Mesos's CommandInfo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    pub shell: bool,
    pub value: String,
    #[serde(default)]
    pub arguments: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// Everything an agent needs to launch a task; the resources include the host ports
/// assigned by the allocator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub id: TaskId,
    pub name: String,
    pub framework_id: FrameworkId,
    pub role: String,
    pub command: CommandSpec,
    pub resources: Resources,
    /// SIGTERM to SIGKILL delay when the task is killed.
    pub kill_grace_secs: f64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Checks the executor runs against the task; results ride on TASK_RUNNING updates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheck>,
    /// URIs fetched into the sandbox before the task starts (Mesos fetcher).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetch: Vec<FetchUri>,
    /// Names of the assigned host ports, in order (`""` for an unnamed one); the agent
    /// exports `PORT_<NAME>` for each named port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_names: Vec<String>,
    /// Where the stateful placement constraints (UNIQUE, MAX_PER, GROUP_BY, CLUSTER) count
    /// this task, e.g. its Marathon app; `None` counts it per framework.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_scope: Option<String>,
    /// The task's container (image, networking, volumes); `None` runs the command on the
    /// host under Keel's process isolation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerSpec>,
    /// The assigned host ports in the order the task asked for them (PORT0 first); also in
    /// `resources` as `ports` ranges. Empty in specs written before the order was kept:
    /// see [`TaskSpec::host_ports`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_ports: Vec<u16>,
    /// Where DNS and the VIP load balancer publish the task (Mesos `DiscoveryInfo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<crate::Discovery>,
}

impl TaskSpec {
    /// The task's host ports, PORT0 first: `host_ports`, or for older specs that did not
    /// record the order, the `ports` ranges of `resources` in numeric order.
    pub fn host_ports(&self) -> Vec<u16> {
        if !self.host_ports.is_empty() {
            return self.host_ports.clone();
        }
        self.resources
            .ports()
            .values()
            .filter_map(|p| u16::try_from(p).ok())
            .collect()
    }
}

/// One host port a task asks for. A task's wanted host ports form an ordered list: the
/// n-th entry becomes its `PORT<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostPort {
    /// Any free port of the agent's `ports` ranges (Marathon's port 0).
    Any,
    /// Exactly this port, which must be free on the agent (Marathon's `requirePorts`, a
    /// non-zero `hostPort`).
    Fixed(u16),
}

impl HostPort {
    /// Marathon's wanted host port: a port number is fixed, 0 (or a number no port can
    /// have, which validation rejects first) is any free one.
    pub fn from_port(port: i64) -> HostPort {
        match u16::try_from(port) {
            Ok(p) if p != 0 => HostPort::Fixed(p),
            _ => HostPort::Any,
        }
    }
}

/// How a health check probes the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthProtocol {
    /// HTTP GET; healthy on status 200-399.
    Http,
    /// HTTPS GET (certificate not verified, as Marathon); healthy on status 200-399.
    Https,
    /// A TCP connection that opens.
    Tcp,
    /// A shell command that exits 0, run in the task's environment and sandbox.
    Command,
}

/// A health check, as the executor runs it (Marathon's and Mesos's checks map onto it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub protocol: HealthProtocol,
    /// Index into the task's assigned host ports (PORT0 = 0), used when `port` is unset.
    #[serde(default)]
    pub port_index: Option<usize>,
    /// A fixed port to probe.
    #[serde(default)]
    pub port: Option<u16>,
    /// HTTP(S) path, default `/`.
    #[serde(default)]
    pub path: Option<String>,
    /// Shell command for `Command` checks.
    #[serde(default)]
    pub command: Option<String>,
    /// Failures are ignored for this long after the task starts, or until the first success.
    pub grace_period_secs: f64,
    pub interval_secs: f64,
    pub timeout_secs: f64,
    /// Kill the task after this many consecutive failures (0 = never).
    pub max_consecutive_failures: u32,
    /// Wait this long after the task starts before the first check.
    #[serde(default)]
    pub delay_secs: f64,
    /// Treat HTTP 1xx answers as neither success nor failure.
    #[serde(default)]
    pub ignore_http1xx: bool,
}

/// One URI for the fetcher (Marathon's `fetch`, Mesos's `CommandInfo.URI`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchUri {
    /// `http(s)://...` or `file://...` (or an absolute path).
    pub uri: String,
    /// Unpack archives (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz, .zip, .gz) into the sandbox.
    #[serde(default = "yes")]
    pub extract: bool,
    /// Make the fetched file executable (not extracted).
    #[serde(default)]
    pub executable: bool,
    /// Cache the download on the agent.
    #[serde(default)]
    pub cache: bool,
    /// File name inside the sandbox (default: the URI's last path segment).
    #[serde(default)]
    pub dest_path: Option<String>,
}

fn yes() -> bool {
    true
}

/// Operators of a placement constraint (Marathon's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConstraintOp {
    Unique,
    Cluster,
    GroupBy,
    Like,
    Unlike,
    MaxPer,
    Is,
}

/// A placement constraint `[field, operator, value?]`; `field` is `hostname` or an attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Constraint {
    pub field: String,
    pub op: ConstraintOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_keep_their_order_and_old_specs_fall_back_to_the_ranges() {
        let old = r#"{"id":"t","name":"t","framework_id":"f","role":"*",
            "command":{"shell":true,"value":"true"},
            "resources":{"ranges":{"ports":[[31000,31001]]}},"kill_grace_secs":3}"#;
        let mut spec: TaskSpec = serde_json::from_str(old).expect("an old spec loads");
        assert_eq!(spec.host_ports(), [31000, 31001]);
        spec.host_ports = vec![31001, 31000];
        assert_eq!(spec.host_ports(), [31001, 31000]);
        let json = serde_json::to_value(&spec).expect("json");
        assert_eq!(json["host_ports"], serde_json::json!([31001, 31000]));
    }

    #[test]
    fn wanted_host_ports_on_the_wire() {
        let wanted = vec![HostPort::Fixed(8080), HostPort::Any];
        let json = serde_json::to_string(&wanted).expect("json");
        assert_eq!(json, r#"[{"fixed":8080},"any"]"#);
    }
}
