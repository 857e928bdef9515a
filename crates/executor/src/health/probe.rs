//! One health check made concrete (`Check`: its target resolved against the task's ports,
//! sandbox and environment) and how it is probed: an HTTP(S) GET, a TCP connect, or a shell
//! command in the task's sandbox, cgroups and environment, each bounded by the timeout.

use super::verdict::Probe;
use crate::http::{self, Limits, TlsMode, Url};
use crate::outcome::signal_name;
use crate::procs;
use crate::spawn::{SpawnPlan, spawn};
use keel_model::{CommandSpec, HealthCheck, HealthProtocol};
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// What a check needs from the task.
#[derive(Debug, Clone)]
pub(crate) struct TaskContext {
    /// The task's assigned host ports, PORT0 first.
    pub ports: Vec<u16>,
    pub env: BTreeMap<String, String>,
    pub sandbox: PathBuf,
    pub user: Option<String>,
    /// `cgroup.procs` files of the task's container (command checks join them).
    pub cgroup_procs: Vec<PathBuf>,
    /// The mount namespace of a container of Keel's runtime (`/proc/<pid>/ns/mnt`):
    /// command checks run inside it, in the container's sandbox.
    pub mount_ns: Option<PathBuf>,
}

/// A check ready to probe.
#[derive(Debug)]
pub(crate) struct Check {
    pub name: String,
    target: Target,
    timeout: Duration,
}

#[derive(Debug)]
enum Target {
    Http {
        url: Url,
        tls: TlsMode,
        ignore_1xx: bool,
    },
    Tcp(SocketAddr),
    Command(SpawnPlan),
    /// The check cannot run (no such port, no command); every probe fails with this.
    Invalid(String),
}

impl Check {
    pub fn new(spec: &HealthCheck, task: &TaskContext, timeout: Duration) -> Self {
        let target = match spec.protocol {
            HealthProtocol::Http | HealthProtocol::Https => http_target(spec, task),
            HealthProtocol::Tcp => port(spec, task).map(|p| Target::Tcp(loopback(p))),
            HealthProtocol::Command => command_target(spec, task),
        };
        let target = target.unwrap_or_else(Target::Invalid);
        let name = format!(
            "{} health check {}",
            protocol_name(spec.protocol),
            describe(&target)
        );
        Self {
            name,
            target,
            timeout,
        }
    }

    /// Runs one probe; `stop` cuts a running command check short.
    pub fn probe(&self, stop: &dyn Fn() -> bool) -> Probe {
        match &self.target {
            Target::Http {
                url,
                tls,
                ignore_1xx,
            } => probe_http(url, tls, *ignore_1xx, self.timeout),
            Target::Tcp(addr) => probe_tcp(addr, self.timeout),
            Target::Command(plan) => probe_command(plan, self.timeout, stop),
            Target::Invalid(why) => Probe::Failed(why.clone()),
        }
    }
}

fn protocol_name(protocol: HealthProtocol) -> &'static str {
    match protocol {
        HealthProtocol::Http => "HTTP",
        HealthProtocol::Https => "HTTPS",
        HealthProtocol::Tcp => "TCP",
        HealthProtocol::Command => "COMMAND",
    }
}

fn describe(target: &Target) -> String {
    match target {
        Target::Http { url, .. } => format!("of {url}"),
        Target::Tcp(addr) => format!("of {addr}"),
        Target::Command(plan) => format!("{:?}", plan.command.value),
        Target::Invalid(why) => format!("({why})"),
    }
}

/// `port` if set, else the assigned port at `port_index` (default 0), as Marathon does.
fn port(spec: &HealthCheck, task: &TaskContext) -> Result<u16, String> {
    if let Some(port) = spec.port.filter(|p| *p > 0) {
        return Ok(port);
    }
    let index = spec.port_index.unwrap_or(0);
    task.ports.get(index).copied().ok_or_else(|| {
        format!(
            "port_index {index} is out of range: the task has {} assigned port(s)",
            task.ports.len()
        )
    })
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn http_target(spec: &HealthCheck, task: &TaskContext) -> Result<Target, String> {
    let port = port(spec, task)?;
    let https = spec.protocol == HealthProtocol::Https;
    let path = spec.path.as_deref().unwrap_or("/");
    let slash = if path.starts_with('/') { "" } else { "/" };
    let scheme = if https { "https" } else { "http" };
    let url = Url::parse(&format!("{scheme}://127.0.0.1:{port}{slash}{path}"))
        .map_err(|e| e.to_string())?;
    Ok(Target::Http {
        url,
        tls: TlsMode::insecure(),
        ignore_1xx: spec.ignore_http1xx,
    })
}

fn command_target(spec: &HealthCheck, task: &TaskContext) -> Result<Target, String> {
    let value = spec
        .command
        .clone()
        .filter(|c| !c.trim().is_empty())
        .ok_or("no command to run")?;
    Ok(Target::Command(SpawnPlan {
        command: CommandSpec {
            shell: true,
            value,
            arguments: Vec::new(),
            env: BTreeMap::new(),
            user: task.user.clone(),
        },
        env: task.env.clone(),
        cwd: task.sandbox.clone(),
        cgroup_procs: task.cgroup_procs.clone(),
        container: None,
        mount_ns: task.mount_ns.clone(),
    }))
}

fn probe_http(url: &Url, tls: &TlsMode, ignore_1xx: bool, timeout: Duration) -> Probe {
    match http::get(url, tls, &Limits::total(timeout)) {
        Ok(response) => judge_status(
            response.head.status,
            &response.head.status_text(),
            ignore_1xx,
        ),
        Err(e) => Probe::Failed(e.to_string()),
    }
}

/// 200-399 pass; 1xx is ignored when asked to; anything else fails.
pub(crate) fn judge_status(status: u16, text: &str, ignore_1xx: bool) -> Probe {
    match status {
        100..=199 if ignore_1xx => Probe::Ignored,
        200..=399 => Probe::Passed,
        _ => Probe::Failed(format!("unexpected HTTP status {text}")),
    }
}

fn probe_tcp(addr: &SocketAddr, timeout: Duration) -> Probe {
    match TcpStream::connect_timeout(addr, timeout.max(Duration::from_millis(1))) {
        Ok(_) => Probe::Passed,
        Err(e) => Probe::Failed(format!("cannot connect to {addr}: {e}")),
    }
}

fn probe_command(plan: &SpawnPlan, timeout: Duration, stop: &dyn Fn() -> bool) -> Probe {
    let mut child = match spawn(plan, Stdio::null(), Stdio::null()) {
        Ok(child) => child,
        Err(e) => return Probe::Failed(e.to_string()),
    };
    let deadline = keel_clock::monotonic() + timeout;
    let waited = procs::wait_until(&mut child, deadline, stop);
    let probe = match waited {
        Ok(Some(status)) if status.success() => Probe::Passed,
        Ok(Some(status)) => Probe::Failed(match (status.code(), status.signal()) {
            (Some(code), _) => format!("command exited with status {code}"),
            (None, Some(sig)) => format!("command terminated with signal {}", signal_name(sig)),
            _ => format!("command ended with {status}"),
        }),
        Ok(None) => {
            procs::kill_and_reap(&mut child);
            Probe::Failed(format!("command timed out after {timeout:?}"))
        }
        Err(e) => {
            procs::kill_and_reap(&mut child);
            Probe::Failed(format!("cannot wait for the command: {e}"))
        }
    };
    procs::unclaim(&child);
    probe
}
