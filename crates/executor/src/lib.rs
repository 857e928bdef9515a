//! The per-task executor process: owns the task's process tree, cgroups, log rotation.
//!
//! `keel executor` is spawned (detached) by the agent for one task, as Mesos's command
//! executor is. It reads `<meta_dir>/executor.json`, fetches the task's URIs into the
//! sandbox (Mesos's fetcher), starts the task in its own session and cgroups, copies its
//! output into rotated `stdout`/`stderr` files in the sandbox, runs its health checks, and
//! reports statuses over an abstract Unix socket the agent created and handed over.
//!
//! Every status is appended to `<meta_dir>/status.jsonl` and fsync'ed before it is sent, so
//! an agent that finds the socket refusing connections (the executor is gone) can read the
//! final state from that file ([`read_statuses`]).
//!
//! Tasks with a Docker container run through the Docker Engine API instead (`docker`);
//! tasks with a MESOS container and an image run in Keel's own runtime (`ucr`), which
//! re-executes this binary as `keel container-init` inside new namespaces.
//!
//! Architecture Invariant: no shared async runtime; threads and blocking I/O only (the
//! Docker client drives each engine call on a private current-thread runtime). The executor
//! is the only Keel process that signals task processes or writes task cgroups.

mod cgroups;
mod containerizer;
mod docker;
mod error;
mod fetch;
mod health;
mod http;
mod logs;
mod outcome;
mod process;
mod procs;
mod socket;
mod spawn;
mod status;
mod supervise;
mod sys;
mod ucr;

pub use cgroups::{
    CgroupError, CgroupFs, CgroupLayout, CgroupLimits, ContainerCgroup, Controller, HostFs, Setting,
};
pub use docker::{DockerError, LABEL_AGENT, LABEL_CONTAINER};
pub use error::ExecutorError;
pub use fetch::FetchError;
pub use logs::{RotatingFile, pump};
pub use spawn::{DEFAULT_PATH, SpawnError};
pub use status::read_statuses;
pub use ucr::{INIT_PROGRAM_ENV, LAYERS_FILE, container_init};

use keel_api::executor::{ExecutorConfig, ExecutorMessage, PID_FILE, STATUS_FILE};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// How long the executor keeps serving after the terminal status until an agent acks it.
pub const LINGER: Duration = Duration::from_secs(60);
/// Environment variable overriding [`LINGER`] (whole seconds), for tests.
pub const LINGER_ENV: &str = "KEEL_EXECUTOR_LINGER_SECS";

/// Runs the executor described by `config_path`, serving agents on `listener`, until the
/// task's terminal status is acknowledged (or [`LINGER`] passes). Returns the process exit
/// code (0: the task's fate, whatever it was, is recorded in `status.jsonl`).
pub fn run(config_path: &Path, listener: UnixListener) -> Result<i32, ExecutorError> {
    let config = load_config(config_path)?;
    write_pid_file(&config.meta_dir)?;
    become_subreaper()?;
    set_cloexec(listener.as_raw_fd());
    let log = status::StatusLog::create(&config.meta_dir.join(STATUS_FILE))?;
    let hello = ExecutorMessage::Hello {
        container_id: config.container_id.clone(),
        task_id: config.task.id.clone(),
        executor_pid: std::process::id(),
    };
    let hub = Arc::new(socket::Hub::new(log, hello));
    let (events_tx, events) = mpsc::channel();
    let server = socket::Server::start(listener, hub.clone(), events_tx.clone())?;
    let terminal = supervise::run_task(&config, &hub, &events, &events_tx)?;
    if !hub.wait_acked(terminal.seq, linger()) {
        tracing::warn!(
            seq = terminal.seq,
            "terminal status not acknowledged; exiting anyway"
        );
    }
    drop(server);
    Ok(0)
}

/// Takes ownership of the listening socket the agent passed down as file descriptor `fd`
/// (and marks it close-on-exec so the task does not inherit it).
///
/// `fd` must be an open Unix stream socket in listening state that nothing else in this
/// process owns or will close; the usual case is a descriptor inherited across exec.
pub fn listener_from_fd(fd: RawFd) -> UnixListener {
    set_cloexec(fd);
    // Per this function's contract the caller hands over sole ownership of `fd`, an open
    // listening Unix socket.
    UnixListener::from(sys::own_fd(fd))
}

/// Binds a listening socket named `name` in the abstract namespace (no file on disk).
pub fn bind_abstract(name: &str) -> io::Result<UnixListener> {
    UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)
}

fn load_config(path: &Path) -> Result<ExecutorConfig, ExecutorError> {
    let text = std::fs::read(path).map_err(|e| ExecutorError::io("read", path, e))?;
    serde_json::from_slice(&text).map_err(|source| ExecutorError::Config {
        path: path.to_path_buf(),
        source,
    })
}

fn write_pid_file(meta_dir: &Path) -> Result<(), ExecutorError> {
    let path = meta_dir.join(PID_FILE);
    std::fs::write(&path, format!("{}\n", std::process::id()))
        .map_err(|e| ExecutorError::io("write", path, e))
}

/// Orphans of the task are re-parented to us instead of init, so we can reap them and
/// they stay inside the container we kill.
fn become_subreaper() -> Result<(), ExecutorError> {
    sys::set_child_subreaper().map_err(|e| ExecutorError::Subreaper(e.into()))
}

fn set_cloexec(fd: RawFd) {
    if let Err(e) = sys::set_cloexec(fd) {
        tracing::warn!(fd, error = %io::Error::from(e), "cannot set FD_CLOEXEC");
    }
}

/// [`LINGER`], or [`LINGER_ENV`] seconds when set to a number.
fn linger() -> Duration {
    std::env::var(LINGER_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(LINGER, Duration::from_secs)
}

#[cfg(test)]
mod testing;
