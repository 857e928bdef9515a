//! The task's life from launch to terminal status, whatever runs it: STARTING, fetching
//! URIs, the launch through its [`Containerizer`], RUNNING and health checks, then watching
//! for the end, kill requests (SIGTERM, then SIGKILL at the deadline) and health verdicts,
//! and finally the container's clean-up before the terminal status is written.

use crate::ExecutorError;
use crate::containerizer::{Containerizer, launch_failed};
use crate::docker::DockerContainer;
use crate::fetch::{FetchOptions, fetch_all};
use crate::health::{Health, HealthCheckers, HealthCommand, Probe, TaskContext};
use crate::outcome::Outcome;
use crate::process::ProcessContainer;
use crate::socket::{Event, Hub};
use crate::status::StatusUpdate;
use keel_api::executor::{ExecutorConfig, ExecutorStatus};
use keel_model::{Reason, TaskSpec, TaskState};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Launches the task, supervises it to the end and returns its terminal status. Health
/// check threads report into `events` through `events_tx`.
pub(crate) fn run_task(
    config: &ExecutorConfig,
    hub: &Hub,
    events: &Receiver<Event>,
    events_tx: &Sender<Event>,
) -> Result<ExecutorStatus, ExecutorError> {
    hub.emit(StatusUpdate::new(TaskState::Starting))?;
    if let Err(e) = fetch_all(&config.task, &config.sandbox, &FetchOptions::default()) {
        return hub.emit(launch_failed(&ExecutorError::from(e)));
    }
    match docker_spec(&config.task) {
        Some(docker) => supervise::<DockerContainer>(config, docker, hub, events, events_tx),
        None => supervise::<ProcessContainer>(config, &(), hub, events, events_tx),
    }
}

/// The Docker settings of a task that runs in a Docker container.
fn docker_spec(task: &TaskSpec) -> Option<&keel_model::DockerSpec> {
    let container = task.container.as_ref()?;
    (container.kind == keel_model::ContainerKind::Docker)
        .then_some(container.docker.as_ref())
        .flatten()
}

/// Launches the container, reports RUNNING, watches it to its end and cleans it up.
fn supervise<C: Containerizer>(
    config: &ExecutorConfig,
    spec: &C::Spec,
    hub: &Hub,
    events: &Receiver<Event>,
    events_tx: &Sender<Event>,
) -> Result<ExecutorStatus, ExecutorError> {
    let container = match C::launch(config, spec) {
        Ok(container) => container,
        Err(failed) => return hub.emit(failed),
    };
    let mut supervisor = Supervisor::new(hub, container, &config.task);
    supervisor.ips = supervisor.container.container_ips();
    hub.emit(StatusUpdate::new(TaskState::Running).container_ips(&supervisor.ips))?;
    supervisor.start_health_checks(config, events_tx)?;
    let outcome = supervisor.watch(events);
    let Supervisor {
        container,
        kill_deadline,
        ..
    } = supervisor;
    container.clean_up(kill_deadline);
    hub.emit(outcome.terminal_update())
}

/// The running container and what has happened to it. Dropping it before the clean-up (an
/// executor error) drops the container, which a runtime may take as a reason to kill it.
struct Supervisor<'a, C> {
    hub: &'a Hub,
    container: C,
    /// The container's own addresses, carried by every TASK_RUNNING status.
    ips: Vec<std::net::IpAddr>,
    /// The task's SIGTERM to SIGKILL delay, for kills the executor decides on.
    kill_grace: Duration,
    /// When the task started (health check grace periods count from here).
    started: Instant,
    health: Option<Health>,
    /// The health check threads, until the task is killed or ends.
    checkers: Option<HealthCheckers>,
    /// Why a health check had the task killed.
    health_kill: Option<String>,
    kill_requested: bool,
    /// When the graceful stop turns into a kill.
    kill_deadline: Option<Instant>,
}

impl<'a, C: Containerizer> Supervisor<'a, C> {
    fn new(hub: &'a Hub, container: C, task: &TaskSpec) -> Self {
        Self {
            hub,
            container,
            ips: Vec::new(),
            kill_grace: crate::health::secs(task.kill_grace_secs),
            started: keel_clock::monotonic(),
            health: None,
            checkers: None,
            health_kill: None,
            kill_requested: false,
            kill_deadline: None,
        }
    }

    /// Starts the task's health checks, if any; their results arrive as events.
    fn start_health_checks(
        &mut self,
        config: &ExecutorConfig,
        events_tx: &Sender<Event>,
    ) -> Result<(), ExecutorError> {
        let scope = self.container.health_scope(config);
        if let Some((checkers, health)) =
            start_checks(config, events_tx, scope.cgroup_procs, scope.mount_ns)?
        {
            self.health = Some(health);
            self.checkers = Some(checkers);
        }
        Ok(())
    }

    /// Runs until the container has ended; returns what decides the terminal status.
    fn watch(&mut self, events: &Receiver<Event>) -> Outcome {
        let ending = loop {
            if let Some(ending) = self.container.try_wait() {
                break ending;
            }
            self.container.tick();
            self.enforce_deadline();
            match events.recv_timeout(C::TICK) {
                Ok(Event::Kill { grace }) => self.kill(grace),
                Ok(Event::Probe { index, probe }) => self.on_probe(index, probe),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(C::TICK),
            }
        };
        self.checkers = None;
        let oom = self.container.oom();
        Outcome {
            ending,
            kill_requested: self.kill_requested,
            health_kill: self.health_kill.clone(),
            oom,
        }
    }

    /// A probe result: reports a changed verdict, kills the task when a check says so.
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
                HealthCommand::Report(healthy) => self.report_health(healthy),
                HealthCommand::Kill { message } => {
                    tracing::warn!(%message, "killing the task: health check failed");
                    self.health_kill = Some(message);
                    self.kill(self.kill_grace);
                }
            }
        }
    }

    fn report_health(&self, healthy: bool) {
        let update = StatusUpdate::new(TaskState::Running)
            .reason(Reason::ReasonTaskHealthCheckStatusUpdated)
            .healthy(healthy)
            .container_ips(&self.ips);
        if let Err(e) = self.hub.emit(update) {
            tracing::error!(error = %e, "cannot record a health verdict");
        }
    }

    /// A kill request: TASK_KILLING and a graceful stop the first time, a kill after
    /// `grace` (a later request can only shorten the grace period).
    fn kill(&mut self, grace: Duration) {
        if !self.kill_requested {
            self.kill_requested = true;
            self.checkers = None;
            if let Err(e) = self.hub.emit(StatusUpdate::new(TaskState::Killing)) {
                tracing::error!(error = %e, "cannot record TASK_KILLING; killing anyway");
            }
            self.container.terminate(grace);
        }
        let deadline = keel_clock::monotonic() + grace;
        self.kill_deadline = Some(self.kill_deadline.map_or(deadline, |d| d.min(deadline)));
        self.enforce_deadline();
    }

    fn enforce_deadline(&mut self) {
        if self
            .kill_deadline
            .is_some_and(|d| keel_clock::monotonic() >= d)
        {
            self.container.force_kill();
        }
    }
}

/// Starts `config`'s health checks, if it has any, for a task whose processes are listed in
/// `cgroup_procs` (empty for a Docker container); the results arrive on `events_tx`.
fn start_checks(
    config: &ExecutorConfig,
    events_tx: &Sender<Event>,
    cgroup_procs: Vec<std::path::PathBuf>,
    mount_ns: Option<std::path::PathBuf>,
) -> Result<Option<(HealthCheckers, Health)>, ExecutorError> {
    let specs = &config.task.health_checks;
    if specs.is_empty() {
        return Ok(None);
    }
    let task = TaskContext {
        ports: config.task.host_ports(),
        env: config.env.clone(),
        sandbox: config.sandbox.clone(),
        user: config.task.command.user.clone(),
        cgroup_procs,
        mount_ns,
    };
    let (checkers, rules) = HealthCheckers::start(specs, &task, events_tx)?;
    Ok(Some((checkers, Health::new(rules))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Ending, OomReport};
    use crate::status::StatusLog;
    use keel_api::executor::ExecutorMessage;
    use std::sync::{Arc, Mutex, mpsc};

    /// What the supervisor asked of the fake container, and how the fake behaves.
    #[derive(Default)]
    struct Script {
        calls: Vec<String>,
        /// The container ends by itself with this code.
        exits_with: Option<i32>,
        /// The container ignores SIGTERM (it ends only when force-killed).
        ignores_term: bool,
    }

    type Shared = Arc<Mutex<Script>>;

    struct Fake {
        script: Shared,
        ended: Option<Ending>,
    }

    impl Fake {
        fn record(&self, call: &str) {
            self.script.lock().expect("lock").calls.push(call.into());
        }
    }

    impl Containerizer for Fake {
        type Spec = Shared;
        const TICK: Duration = Duration::from_millis(5);

        fn launch(_: &ExecutorConfig, script: &Shared) -> Result<Self, StatusUpdate> {
            let fake = Fake {
                script: script.clone(),
                ended: None,
            };
            fake.record("launch");
            Ok(fake)
        }

        fn try_wait(&mut self) -> Option<Ending> {
            let code = self.script.lock().expect("lock").exits_with;
            self.ended.clone().or(code.map(Ending::Exited))
        }

        fn terminate(&mut self, _grace: Duration) {
            self.record("terminate");
            if !self.script.lock().expect("lock").ignores_term {
                self.ended = Some(Ending::Signaled(15));
            }
        }

        fn force_kill(&mut self) {
            self.record("force_kill");
            self.ended = Some(Ending::Signaled(9));
        }

        fn oom(&mut self) -> Option<OomReport> {
            None
        }

        fn clean_up(self, _kill_deadline: Option<Instant>) {
            self.record("clean_up");
        }
    }

    /// Supervises a fake container with `events` already queued; returns the terminal
    /// status and the container's calls.
    fn run(script: Script, events: Vec<Event>) -> (ExecutorStatus, Vec<String>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = StatusLog::create(&dir.path().join("status.jsonl")).expect("log");
        let config = crate::testing::config(crate::testing::command(true, "x", &[]), None, &[]);
        let hub = Hub::new(
            log,
            ExecutorMessage::Hello {
                container_id: config.container_id.clone(),
                task_id: config.task.id.clone(),
                executor_pid: 1,
            },
        );
        let (tx, rx) = mpsc::channel();
        for e in events {
            tx.send(e).expect("send");
        }
        let script = Arc::new(Mutex::new(script));
        let status = supervise::<Fake>(&config, &script, &hub, &rx, &tx).expect("supervise");
        let calls = script.lock().expect("lock").calls.clone();
        (status, calls)
    }

    #[test]
    fn a_container_that_ends_by_itself_is_not_killed() {
        let script = Script {
            exits_with: Some(0),
            ..Script::default()
        };
        let (status, calls) = run(script, Vec::new());
        assert_eq!(status.state, TaskState::Finished);
        assert_eq!(calls, ["launch", "clean_up"]);
    }

    #[test]
    fn a_kill_stops_the_container_gracefully_once() {
        let grace = Duration::from_secs(60);
        let kills = vec![Event::Kill { grace }, Event::Kill { grace }];
        let (status, calls) = run(Script::default(), kills);
        assert_eq!(status.state, TaskState::Killed);
        assert_eq!(calls, ["launch", "terminate", "clean_up"]);
    }

    #[test]
    fn a_container_that_ignores_sigterm_is_killed_at_the_deadline() {
        let script = Script {
            ignores_term: true,
            ..Script::default()
        };
        let kill = Event::Kill {
            grace: Duration::from_millis(20),
        };
        let (status, calls) = run(script, vec![kill]);
        assert_eq!(status.state, TaskState::Killed);
        assert_eq!(calls, ["launch", "terminate", "force_kill", "clean_up"]);
    }
}
