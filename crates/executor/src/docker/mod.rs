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

use crate::ExecutorError;
use crate::health::{Health, HealthCheckers, HealthCommand, Probe};
use crate::logs::RotatingFile;
use crate::outcome::{Ending, OomReport, Outcome};
use crate::socket::{Event, Hub};
use crate::status::StatusUpdate;
use engine::{Engine, Exit};
use keel_api::executor::{ExecutorConfig, ExecutorStatus};
use keel_model::{DockerSpec, Reason, TaskState};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How long a pull may take before the launch fails.
const PULL_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the supervisor looks at deadlines between events.
const TICK: Duration = Duration::from_millis(100);
/// How long to wait for the log copy to finish after the container ended.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the Docker task of `config` (STARTING is already reported) and returns its
/// terminal status.
pub(crate) fn run_task(
    config: &ExecutorConfig,
    docker: &DockerSpec,
    hub: &Hub,
    events: &Receiver<Event>,
    events_tx: &Sender<Event>,
) -> Result<ExecutorStatus, ExecutorError> {
    let name = plan::container_name(config);
    let engine = match launch(config, docker, &name) {
        Ok(engine) => engine,
        Err(e) => return hub.emit(launch_failed(&e)),
    };
    let logs = start_log_copy(config, &name);
    let mut supervisor = Supervisor::new(hub, &engine, &name, config);
    hub.emit(StatusUpdate::new(TaskState::Running))?;
    supervisor.start_health_checks(config, events_tx)?;
    let outcome = supervisor.watch(events);
    drop(supervisor);
    if logs.recv_timeout(DRAIN_TIMEOUT).is_err() {
        tracing::warn!(container = %name, "container output not fully copied");
    }
    if let Err(e) = engine.remove(&name) {
        tracing::warn!(error = %e, "cannot remove the container");
    }
    hub.emit(outcome.terminal_update())
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

fn launch_failed(why: &DockerError) -> StatusUpdate {
    StatusUpdate::new(TaskState::Failed)
        .reason(Reason::ReasonContainerLaunchFailed)
        .message(format!("Failed to launch container: {why}"))
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

/// The running container and what has happened to it.
struct Supervisor<'a> {
    hub: &'a Hub,
    engine: &'a Engine,
    name: &'a str,
    /// Says when the container stopped running.
    waiter: Receiver<()>,
    mem_mb: f64,
    kill_grace: Duration,
    started: Instant,
    health: Option<Health>,
    checkers: Option<HealthCheckers>,
    health_kill: Option<String>,
    kill_requested: bool,
    kill_deadline: Option<Instant>,
    /// When the container was last SIGKILLed (repeated each second past the deadline).
    killed_at: Option<Instant>,
}

impl<'a> Supervisor<'a> {
    fn new(hub: &'a Hub, engine: &'a Engine, name: &'a str, config: &ExecutorConfig) -> Self {
        Self {
            hub,
            engine,
            name,
            waiter: start_waiter(name),
            mem_mb: config.task.resources.mem(),
            kill_grace: crate::health::secs(config.task.kill_grace_secs),
            started: keel_clock::monotonic(),
            health: None,
            checkers: None,
            health_kill: None,
            kill_requested: false,
            kill_deadline: None,
            killed_at: None,
        }
    }

    fn start_health_checks(
        &mut self,
        config: &ExecutorConfig,
        events_tx: &Sender<Event>,
    ) -> Result<(), ExecutorError> {
        if let Some((checkers, health)) =
            crate::supervise::start_checks(config, events_tx, Vec::new(), None)?
        {
            self.health = Some(health);
            self.checkers = Some(checkers);
        }
        Ok(())
    }

    /// Runs until the container has ended; returns what decides the terminal status.
    fn watch(&mut self, events: &Receiver<Event>) -> Outcome {
        let exit = loop {
            if let Some(exit) = self.ended() {
                break exit;
            }
            self.enforce_deadline();
            match events.recv_timeout(TICK) {
                Ok(Event::Kill { grace }) => self.kill(grace),
                Ok(Event::Probe { index, probe }) => self.on_probe(index, probe),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(TICK),
            }
        };
        self.checkers = None;
        Outcome {
            ending: exit.as_ref().map_or_else(
                |e| Ending::Unknown(e.clone()),
                |x| Ending::Exited(exit_code(x)),
            ),
            kill_requested: self.kill_requested,
            health_kill: self.health_kill.clone(),
            oom: exit
                .as_ref()
                .is_ok_and(|x| x.oom_killed)
                .then_some(OomReport {
                    requested_mb: self.mem_mb,
                    peak_bytes: None,
                }),
        }
    }

    /// The container's exit once the waiter says it stopped running.
    fn ended(&mut self) -> Option<Result<Exit, String>> {
        match self.waiter.try_recv() {
            Err(mpsc::TryRecvError::Empty) => return None,
            Ok(()) | Err(mpsc::TryRecvError::Disconnected) => {}
        }
        match self.engine.exit(self.name) {
            Ok(Some(exit)) => Some(Ok(exit)),
            Ok(None) => {
                // The wait broke off while the container runs: wait again.
                self.waiter = start_waiter(self.name);
                None
            }
            Err(e) => Some(Err(e.to_string())),
        }
    }

    fn on_probe(&mut self, index: usize, probe: Probe) {
        if let Probe::Failed(why) = &probe {
            tracing::warn!(index, %why, "health check failed");
        }
        let since_start = self.started.elapsed();
        let (Some(health), false) = (self.health.as_mut(), self.kill_requested) else {
            return;
        };
        for command in health.observe(index, probe, since_start) {
            match command {
                HealthCommand::Report(healthy) => {
                    let update = StatusUpdate::new(TaskState::Running)
                        .reason(Reason::ReasonTaskHealthCheckStatusUpdated)
                        .healthy(healthy);
                    if let Err(e) = self.hub.emit(update) {
                        tracing::error!(error = %e, "cannot record a health verdict");
                    }
                }
                HealthCommand::Kill { message } => {
                    tracing::warn!(%message, "killing the task: health check failed");
                    self.health_kill = Some(message);
                    self.kill(self.kill_grace);
                }
            }
        }
    }

    /// TASK_KILLING and `docker stop -t grace` the first time; a later request can only
    /// shorten the grace period (enforced with SIGKILL).
    fn kill(&mut self, grace: Duration) {
        if !self.kill_requested {
            self.kill_requested = true;
            self.checkers = None;
            if let Err(e) = self.hub.emit(StatusUpdate::new(TaskState::Killing)) {
                tracing::error!(error = %e, "cannot record TASK_KILLING; killing anyway");
            }
            stop_in_background(self.name, grace);
        }
        let deadline = keel_clock::monotonic() + grace;
        self.kill_deadline = Some(self.kill_deadline.map_or(deadline, |d| d.min(deadline)));
        self.enforce_deadline();
    }

    fn enforce_deadline(&mut self) {
        let due = self
            .kill_deadline
            .is_some_and(|d| keel_clock::monotonic() >= d);
        let recent = self
            .killed_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1));
        if due && !recent {
            self.killed_at = Some(keel_clock::monotonic());
            if let Err(e) = self.engine.kill(self.name) {
                tracing::debug!(error = %e, "kill after the grace period");
            }
        }
    }
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
