//! The Docker containerizer: a task with a Docker container runs through the Docker Engine
//! API instead of being forked by the executor. The executor pulls the image when missing
//! (or when `force_pull`), creates the container with Keel's labels, copies its output into
//! the sandbox's rotated `stdout`/`stderr`, reports TASK_RUNNING, runs health checks
//! against the host ports, stops it with the grace period on a kill, maps its exit (and
//! OOM kill) to the terminal status and removes it once it has ended.

mod engine;
mod plan;

pub use engine::DockerError;
pub use plan::{LABEL_AGENT, LABEL_CONTAINER};

use crate::containerizer::{Containerizer, launch_failed};
use crate::logs::RotatingFile;
use crate::outcome::{Ending, OomReport};
use crate::status::StatusUpdate;
use engine::{Engine, Exit};
use keel_api::executor::ExecutorConfig;
use keel_model::DockerSpec;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long a pull may take before the launch fails.
const PULL_TIMEOUT: Duration = Duration::from_secs(300);
/// How long to wait for the log copy to finish after the container ended.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A task's Docker container and what has happened to it.
pub(crate) struct DockerContainer {
    engine: Engine,
    name: String,
    /// Says when the copy of the container's output is done.
    logs: Receiver<()>,
    /// Says when the container stopped running.
    waiter: Receiver<()>,
    mem_mb: f64,
    /// Its own addresses, read once it started.
    ips: Vec<std::net::IpAddr>,
    /// The exit, once the container ended.
    exit: Option<Result<Exit, String>>,
    /// When the container was last SIGKILLed (repeated each second past the deadline).
    killed_at: Option<Instant>,
}

impl Containerizer for DockerContainer {
    type Spec = DockerSpec;
    const TICK: Duration = Duration::from_millis(100);

    fn launch(config: &ExecutorConfig, docker: &DockerSpec) -> Result<Self, StatusUpdate> {
        let name = plan::container_name(config);
        let engine = launch(config, docker, &name).map_err(|e| launch_failed(&e))?;
        let logs = start_log_copy(config, &name);
        let waiter = start_waiter(&name);
        let ips = engine.ips(&name).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the container's addresses");
            Vec::new()
        });
        Ok(Self {
            engine,
            name,
            ips,
            logs,
            waiter,
            mem_mb: config.task.resources.mem(),
            exit: None,
            killed_at: None,
        })
    }

    fn container_ips(&self) -> Vec<std::net::IpAddr> {
        self.ips.clone()
    }

    /// The container's exit once the waiter says it stopped running.
    fn try_wait(&mut self) -> Option<Ending> {
        match self.waiter.try_recv() {
            Err(mpsc::TryRecvError::Empty) => return None,
            Ok(()) | Err(mpsc::TryRecvError::Disconnected) => {}
        }
        let exit = match self.engine.exit(&self.name) {
            Ok(Some(exit)) => Ok(exit),
            Ok(None) => {
                // The wait broke off while the container runs: wait again.
                self.waiter = start_waiter(&self.name);
                return None;
            }
            Err(e) => Err(e.to_string()),
        };
        let ending = exit.as_ref().map_or_else(
            |e| Ending::Unknown(e.clone()),
            |x| Ending::Exited(exit_code(x)),
        );
        self.exit = Some(exit);
        Some(ending)
    }

    /// `docker stop -t grace`.
    fn terminate(&mut self, grace: Duration) {
        stop_in_background(&self.name, grace);
    }

    /// SIGKILL, at most once a second.
    fn force_kill(&mut self) {
        let recent = self
            .killed_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1));
        if !recent {
            self.killed_at = Some(keel_clock::monotonic());
            if let Err(e) = self.engine.kill(&self.name) {
                tracing::debug!(error = %e, "kill after the grace period");
            }
        }
    }

    fn oom(&mut self) -> Option<OomReport> {
        self.exit
            .as_ref()
            .is_some_and(|x| x.as_ref().is_ok_and(|x| x.oom_killed))
            .then_some(OomReport {
                requested_mb: self.mem_mb,
                peak_bytes: None,
            })
    }

    /// Waits for the output copy, then removes the container.
    fn clean_up(self, _kill_deadline: Option<Instant>) {
        if self.logs.recv_timeout(DRAIN_TIMEOUT).is_err() {
            tracing::warn!(container = %self.name, "container output not fully copied");
        }
        if let Err(e) = self.engine.remove(&self.name) {
            tracing::warn!(error = %e, "cannot remove the container");
        }
    }
}

/// Connects, makes sure the image is there, creates and starts the container. On failure
/// nothing is left behind.
fn launch(config: &ExecutorConfig, docker: &DockerSpec, name: &str) -> Result<Engine, DockerError> {
    let engine = Engine::connect()?;
    if docker.force_pull || !engine.has_image(&docker.image) {
        tracing::info!(image = %docker.image, "pulling image");
        engine.pull(&docker.image, PULL_TIMEOUT)?;
    }
    let (body, unknown) = plan::create_body(config, docker);
    for key in unknown {
        tracing::warn!(%key, "docker parameter not supported; ignored");
    }
    engine.create(name, body)?;
    if let Err(e) = engine.start(name) {
        if let Err(e) = engine.remove(name) {
            tracing::warn!(error = %e, "cannot remove the container that failed to start");
        }
        return Err(e);
    }
    Ok(engine)
}

/// Copies the container's output into the sandbox on a thread; the receiver gets a
/// message when the copy is done (the container's output ended).
fn start_log_copy(config: &ExecutorConfig, name: &str) -> Receiver<()> {
    let (done_tx, done) = mpsc::channel();
    let open =
        |file: &str| RotatingFile::open(&config.sandbox.join(file), config.log_rotation.clone());
    let files = open("stdout").and_then(|out| Ok((out, open("stderr")?)));
    let name = name.to_string();
    let spawned = std::thread::Builder::new()
        .name("docker-logs".into())
        .spawn(move || {
            let copied = match files {
                Ok((mut out, mut err)) => Engine::connect_for_streams().and_then(|engine| {
                    engine.follow_logs(&name, |is_err, bytes| {
                        let file = if is_err { &mut err } else { &mut out };
                        if let Err(e) = file.write_all(bytes) {
                            tracing::error!(error = %e, "cannot write container output");
                        }
                    })
                }),
                Err(e) => {
                    tracing::error!(error = %e, "cannot open the sandbox output files");
                    Ok(())
                }
            };
            if let Err(e) = copied {
                tracing::error!(error = %e, "cannot copy container output");
            }
            let _ = done_tx.send(());
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the log copy thread");
    }
    done
}

/// Signals once the container is no longer running (or the wait broke off).
fn start_waiter(name: &str) -> Receiver<()> {
    let (tx, rx) = mpsc::channel();
    let name = name.to_string();
    let spawned = std::thread::Builder::new()
        .name("docker-wait".into())
        .spawn(move || {
            match Engine::connect_for_streams() {
                Ok(engine) => engine.wait(&name),
                Err(e) => {
                    tracing::error!(error = %e, "cannot wait for the container");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the wait thread");
    }
    rx
}

/// `docker stop` blocks for up to the grace period, so it runs on its own thread.
fn stop_in_background(name: &str, grace: Duration) {
    let name = name.to_string();
    let spawned = std::thread::Builder::new()
        .name("docker-stop".into())
        .spawn(move || {
            if let Err(e) = Engine::connect().and_then(|engine| engine.stop(&name, grace)) {
                tracing::warn!(error = %e, "docker stop failed");
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the stop thread");
    }
}

/// The engine's exit code as the task's (signals show as 128 + n, as in a shell).
fn exit_code(exit: &Exit) -> i32 {
    i32::try_from(exit.code).unwrap_or(-1)
}
