//! Launching a task: the Mesos sandbox layout, the task environment, the executor config,
//! and spawning a detached `keel executor` that inherits its listening socket as fd 3.

use crate::error::AgentError;
use crate::records::TaskRecord;
use keel_api::executor::{CONFIG_FILE, CgroupConfig, ExecutorConfig, ImageSettings, LogRotation};
use keel_model::{AgentId, ContainerId, FrameworkId, TaskSpec, TaskState};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Settings the launcher needs from the agent's configuration.
#[derive(Debug, Clone)]
pub struct LaunchSettings {
    pub work_dir: PathBuf,
    pub executor_path: PathBuf,
    pub hostname: String,
    pub endpoint_hostport: String,
    pub cgroups: CgroupConfig,
    pub log_rotation: LogRotation,
    /// Image sources and cache of Keel's own container runtime.
    pub images: ImageSettings,
    /// The name servers task containers get (`--task-dns`).
    pub task_dns: Option<keel_api::executor::TaskDns>,
}

/// The abstract socket name of a container's executor.
pub fn socket_name(container: &ContainerId) -> String {
    format!("keel-exec-{container}")
}

/// The sandbox of a run, as Mesos lays it out (and `/files` exposes it).
pub fn sandbox_dir(
    work_dir: &Path,
    agent: &AgentId,
    task: &TaskSpec,
    container: &ContainerId,
) -> PathBuf {
    runs_dir(work_dir, agent, task).join(container.as_str())
}

fn runs_dir(work_dir: &Path, agent: &AgentId, task: &TaskSpec) -> PathBuf {
    executor_runs_dir(work_dir, agent, &task.framework_id, task.id.as_str())
}

/// Mesos's `slaves/<agent>/frameworks/<fw>/executors/<executor>/runs`.
pub(crate) fn executor_runs_dir(
    work_dir: &Path,
    agent: &AgentId,
    framework: &FrameworkId,
    executor: &str,
) -> PathBuf {
    work_dir
        .join("slaves")
        .join(agent.as_str())
        .join("frameworks")
        .join(framework.as_str())
        .join("executors")
        .join(executor)
        .join("runs")
}

/// Creates the sandbox and meta directories, the task's volumes (see [`crate::volumes`])
/// and the task record (not yet persisted).
pub fn prepare(
    s: &LaunchSettings,
    agent: &AgentId,
    task: &TaskSpec,
    framework_name: &str,
    now: f64,
    ids: &dyn keel_clock::Ids,
    statsd: Option<std::net::SocketAddr>,
) -> Result<(TaskRecord, ExecutorConfig), AgentError> {
    let container = ContainerId::new(ids.uuid().to_string()).map_err(|e| AgentError::Launch {
        task: task.id.to_string(),
        reason: e.to_string(),
    })?;
    let sandbox = sandbox_dir(&s.work_dir, agent, task, &container);
    let meta_dir = s
        .work_dir
        .join("meta")
        .join("runs")
        .join(container.as_str());
    for d in [&sandbox, &meta_dir] {
        std::fs::create_dir_all(d).map_err(|e| AgentError::io(d, e))?;
    }
    let latest = runs_dir(&s.work_dir, agent, task).join("latest");
    let _ = std::fs::remove_file(&latest);
    std::os::unix::fs::symlink(container.as_str(), &latest)
        .map_err(|e| AgentError::io(&latest, e))?;
    let mut task = task.clone();
    crate::volumes::prepare(&s.work_dir, agent, &mut task, &sandbox)?;
    let task = &task;
    let config = ExecutorConfig {
        task: task.clone(),
        container_id: container.clone(),
        agent_id: agent.clone(),
        sandbox: sandbox.clone(),
        meta_dir: meta_dir.clone(),
        env: task_env(s, agent, task, &sandbox, statsd),
        cgroups: s.cgroups.clone(),
        log_rotation: s.log_rotation.clone(),
        socket_name: socket_name(&container),
        images: s.images.clone(),
        dns: s.task_dns.clone(),
    };
    let path = meta_dir.join(CONFIG_FILE);
    let bytes = serde_json::to_vec_pretty(&config).map_err(|e| AgentError::Launch {
        task: task.id.to_string(),
        reason: e.to_string(),
    })?;
    std::fs::write(&path, bytes).map_err(|e| AgentError::io(&path, e))?;
    let rec = TaskRecord {
        spec: task.clone(),
        framework_name: framework_name.to_string(),
        container_id: container,
        sandbox,
        meta_dir,
        state: TaskState::Staging,
        last_seq: 0,
        launched_time: now,
        completed: false,
        container_ips: Vec::new(),
        statsd_port: statsd.map(|a| a.port()),
    };
    Ok((rec, config))
}

/// Mesos's task environment (with dcos-metrics' `STATSD_UDP_HOST`/`STATSD_UDP_PORT` when
/// the container has a StatsD socket) plus the task's own variables (which win).
pub fn task_env(
    s: &LaunchSettings,
    agent: &AgentId,
    task: &TaskSpec,
    sandbox: &Path,
    statsd: Option<std::net::SocketAddr>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let sb = sandbox.display().to_string();
    env.insert("MESOS_SANDBOX".into(), sb.clone());
    env.insert("MESOS_DIRECTORY".into(), sb);
    env.insert("MESOS_TASK_ID".into(), task.id.to_string());
    env.insert("MESOS_EXECUTOR_ID".into(), task.id.to_string());
    env.insert("MESOS_FRAMEWORK_ID".into(), task.framework_id.to_string());
    env.insert("MESOS_AGENT_ID".into(), agent.to_string());
    env.insert("MESOS_SLAVE_ID".into(), agent.to_string());
    env.insert("MESOS_AGENT_ENDPOINT".into(), s.endpoint_hostport.clone());
    env.insert("HOST".into(), s.hostname.clone());
    env.extend(port_env(task));
    if let Some(a) = statsd {
        env.insert("STATSD_UDP_HOST".into(), a.ip().to_string());
        env.insert("STATSD_UDP_PORT".into(), a.port().to_string());
    }
    env.extend(task.command.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// `PORT0`.. in the task's host-port order, `PORT` (the first), `PORTS` and
/// `PORT_<NAME>` for its named ports.
pub(crate) fn port_env(task: &TaskSpec) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let ports: Vec<u16> = task.host_ports();
    for (i, p) in ports.iter().enumerate() {
        env.insert(format!("PORT{i}"), p.to_string());
    }
    if let Some(p) = ports.first() {
        env.insert("PORT".into(), p.to_string());
    }
    if !ports.is_empty() {
        let all: Vec<String> = ports.iter().map(u16::to_string).collect();
        env.insert("PORTS".into(), all.join(","));
    }
    for (name, port) in task.port_names.iter().zip(&ports) {
        if !name.is_empty() {
            let var = keel_model::env_name(name);
            env.insert(format!("PORT_{var}"), port.to_string());
        }
    }
    env
}

/// Spawns `keel executor --config <meta>/executor.json` in its own session, with the
/// listening socket as fd 3 and its output in `<meta>/executor.log`.
pub fn spawn_executor(
    s: &LaunchSettings,
    config: &ExecutorConfig,
) -> Result<tokio::process::Child, AgentError> {
    let listener =
        keel_executor::bind_abstract(&config.socket_name).map_err(|e| AgentError::Launch {
            task: config.task.id.to_string(),
            reason: format!("binding socket {}: {e}", config.socket_name),
        })?;
    let log_path = config.meta_dir.join("executor.log");
    let log = std::fs::File::create(&log_path).map_err(|e| AgentError::io(&log_path, e))?;
    let log2 = log.try_clone().map_err(|e| AgentError::io(&log_path, e))?;
    let fd = listener.as_raw_fd();
    let mut cmd = tokio::process::Command::new(&s.executor_path);
    cmd.arg("executor")
        .arg("--config")
        .arg(config.meta_dir.join(CONFIG_FILE))
        .arg("--listen-fd")
        .arg("3")
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2)
        .env_clear()
        .env(
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        )
        .kill_on_drop(false);
    if let Ok(v) = std::env::var("KEEL_EXECUTOR_LINGER_SECS") {
        cmd.env("KEEL_EXECUTOR_LINGER_SECS", v);
    }
    crate::sys::detach_with_fd3(&mut cmd, fd);
    let child = cmd.spawn().map_err(|e| AgentError::Launch {
        task: config.task.id.to_string(),
        reason: format!("spawning {}: {e}", s.executor_path.display()),
    })?;
    drop(listener);
    Ok(child)
}
