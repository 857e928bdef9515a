//! The agent <-> executor protocol: newline-delimited JSON over a Unix socket in the
//! abstract namespace, plus the config file the agent writes for each executor.

use keel_model::{AgentId, ContainerId, Reason, TaskSpec, TaskState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Size-based rotation of a task's stdout/stderr: `stdout` rolls to `stdout.1`, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRotation {
    /// Roll the file when it would grow past this many bytes.
    pub max_size_bytes: u64,
    /// Rolled files kept (`stdout.1` .. `stdout.N`); older ones are deleted.
    pub max_files: u32,
}

impl Default for LogRotation {
    fn default() -> Self {
        Self {
            max_size_bytes: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// Where the executor puts the task's cgroups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CgroupConfig {
    /// Apply cpu and memory limits through cgroups.
    pub enabled: bool,
    /// Name of the parent cgroup under each hierarchy (`keel` -> `/sys/fs/cgroup/memory/keel/<container>`).
    pub root: String,
}

impl Default for CgroupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            root: "keel".into(),
        }
    }
}

/// How Keel's own runtime makes a container's root filesystem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootfsBackend {
    /// overlayfs when the kernel has it, else copy.
    #[default]
    Auto,
    Overlay,
    /// The layers copied into a plain directory per container.
    Copy,
}

/// Where images come from and where they are kept (Mesos `--docker_registry`,
/// `--docker_store_dir`, `--docker_config`, `--image_provisioner_backend`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageSettings {
    /// The layer cache shared by every container of the agent.
    #[serde(default)]
    pub store_dir: PathBuf,
    /// A directory of `<repo>:<tag>.tar` archives tried before any registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_dir: Option<PathBuf>,
    /// The registry (`host[:port]`) for image names that name none (default Docker Hub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_registry: Option<String>,
    /// Registries reached over plain HTTP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insecure_registries: Vec<String>,
    /// Extra PEM CA certificates trusted for HTTPS registries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_certs: Vec<PathBuf>,
    /// Credentials per registry host, from a Docker `config.json` (`auths`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, (String, String)>,
    /// Time limit of one pull, in seconds (0: the default).
    #[serde(default)]
    pub pull_timeout_secs: u64,
    #[serde(default)]
    pub backend: RootfsBackend,
}

/// Everything `keel executor` needs; written by the agent to `<meta_dir>/executor.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutorConfig {
    pub task: TaskSpec,
    pub container_id: ContainerId,
    pub agent_id: AgentId,
    /// The task's working directory; `stdout` and `stderr` are written here.
    pub sandbox: PathBuf,
    /// The executor's own files: `executor.pid`, `status.jsonl`, `executor.log`.
    pub meta_dir: PathBuf,
    /// The task's complete environment (MESOS_SANDBOX, MESOS_TASK_ID, HOST, PORT0, ...).
    pub env: BTreeMap<String, String>,
    pub cgroups: CgroupConfig,
    pub log_rotation: LogRotation,
    /// Name of the abstract Unix socket the executor listens on (without the leading NUL).
    pub socket_name: String,
    /// Image sources and cache, for containers of Keel's own runtime.
    #[serde(default)]
    pub images: ImageSettings,
}

/// One status transition seen by the executor. `seq` starts at 1 and increases by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutorStatus {
    pub seq: u64,
    pub state: TaskState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
    /// Health check verdict carried by a TASK_RUNNING status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
}

/// Executor -> agent messages (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecutorMessage {
    /// Sent first on every connection, followed by every status since seq 1 (replay).
    Hello {
        container_id: ContainerId,
        task_id: keel_model::TaskId,
        executor_pid: u32,
    },
    Status(ExecutorStatus),
}

/// Agent -> executor messages (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    /// Stop the task: SIGTERM the whole tree, SIGKILL after `grace_secs`.
    Kill { grace_secs: f64 },
    /// The agent has checkpointed every status up to and including `seq`.
    Ack { seq: u64 },
}

/// The executor's status log file name inside `meta_dir` (one `ExecutorStatus` per line).
pub const STATUS_FILE: &str = "status.jsonl";
/// The executor's pid file name inside `meta_dir`.
pub const PID_FILE: &str = "executor.pid";
/// The config file name inside `meta_dir`.
pub const CONFIG_FILE: &str = "executor.json";
