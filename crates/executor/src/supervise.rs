//! The task's life from launch to terminal status: STARTING, fetching URIs, cgroups and
//! spawn, RUNNING and health checks, then watching for exit, kill requests, health verdicts
//! and OOM kills, and finally cleaning the container up before the terminal status is
//! written.

use crate::cgroups::{CgroupLayout, CgroupLimits, ContainerCgroup, HostFs};
use crate::fetch::{FetchOptions, fetch_all};
use crate::health::{Health, HealthCheckers, HealthCommand, Probe, TaskContext};
use crate::logs::OutputPumps;
use crate::outcome::{Ending, OomReport, Outcome};
use crate::socket::{Event, Hub};
use crate::spawn::{ContainerInit, SpawnPlan, spawn};
use crate::status::StatusUpdate;
use crate::ucr;
use crate::{ExecutorError, procs};
use keel_api::executor::{ExecutorConfig, ExecutorStatus};
use keel_model::{Reason, TaskSpec, TaskState};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How often the supervisor polls for exit, OOM kills and deadlines.
const TICK: Duration = Duration::from_millis(50);
/// How long to keep SIGKILLing a container that does not empty (processes stuck in D state).
const KILL_PATIENCE: Duration = Duration::from_secs(30);
/// How long to wait for the output pipes to close after the container is gone.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

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
        return hub.emit(launch_failed(e.into()));
    }
    if let Some(docker) = docker_spec(&config.task) {
        return crate::docker::run_task(config, docker, hub, events, events_tx);
    }
    let container = match ucr::image_of(&config.task).map(|d| ucr::prepare(config, d)) {
        None => None,
        Some(Ok(prepared)) => Some(prepared),
        Some(Err(e)) => {
            ucr::remove(&ucr::plan::Dirs::under(&config.meta_dir));
            return hub.emit(container_failed(&e.to_string()));
        }
    };
    let launched = launch(config, container.as_ref());
    let (child, cgroup, pumps) = match launched {
        Ok(launched) => launched,
        Err(failed) => {
            if let Some(c) = &container {
                ucr::remove(&c.dirs);
            }
            return hub.emit(failed);
        }
    };
    let mut supervisor = Supervisor::new(hub, child, cgroup, &config.task);
    hub.emit(StatusUpdate::new(TaskState::Running))?;
    supervisor.start_health_checks(config, events_tx)?;
    let outcome = supervisor.watch(events);
    supervisor.clean_up(pumps);
    if let Some(c) = &container {
        ucr::remove(&c.dirs);
    }
    hub.emit(outcome.terminal_update())
}

/// The container of Keel's own runtime could not be built or its program not started.
fn container_failed(why: &str) -> StatusUpdate {
    StatusUpdate::new(TaskState::Failed)
        .reason(Reason::ReasonContainerLaunchFailed)
        .message(format!("Failed to launch container: {why}"))
}

/// Starts the output pumps, creates the cgroup and spawns the task (through
/// `container-init` for a container of Keel's own runtime). On failure, undoes what was
/// done and returns the TASK_FAILED update to report.
fn launch(
    config: &ExecutorConfig,
    container: Option<&ucr::Prepared>,
) -> Result<(Child, Option<ContainerCgroup>, OutputPumps), StatusUpdate> {
    let (pumps, stdout, stderr) =
        OutputPumps::start(&config.sandbox, &config.log_rotation).map_err(launch_failed)?;
    let cgroup = match create_cgroup(config) {
        Ok(cgroup) => cgroup,
        Err(e) => {
            drop((stdout, stderr));
            pumps.drain(DRAIN_TIMEOUT);
            return Err(launch_failed(e));
        }
    };
    let pipe = match container.map(|_| launch_pipe()).transpose() {
        Ok(pipe) => pipe,
        Err(e) => {
            drop((stdout, stderr));
            pumps.drain(DRAIN_TIMEOUT);
            remove_cgroup(cgroup.as_ref());
            return Err(launch_failed(ExecutorError::io("create", "launch pipe", e)));
        }
    };
    let plan = SpawnPlan {
        command: config.task.command.clone(),
        env: config.env.clone(),
        cwd: config.sandbox.clone(),
        cgroup_procs: cgroup
            .as_ref()
            .map(ContainerCgroup::procs_files)
            .unwrap_or_default(),
        container: container
            .zip(pipe.as_ref())
            .map(|(c, (_, w))| ContainerInit {
                program: ucr::init_program(),
                plan_path: c.plan_path.clone(),
                launch_fd: w.as_raw_fd(),
            }),
        mount_ns: None,
    };
    let spawned = spawn(&plan, stdout, stderr);
    let verdict = match (spawned.is_ok(), pipe) {
        (true, Some((read, write))) => {
            drop(write);
            Some(ucr::await_launch(read))
        }
        _ => None,
    };
    match spawned {
        Ok(mut child) => match verdict {
            Some(Err(why)) => {
                let _ = child.wait();
                procs::claimed().remove(&(child.id() as i32));
                pumps.drain(DRAIN_TIMEOUT);
                remove_cgroup(cgroup.as_ref());
                Err(container_failed(&why))
            }
            _ => Ok((child, cgroup, pumps)),
        },
        Err(e) => {
            pumps.drain(DRAIN_TIMEOUT);
            remove_cgroup(cgroup.as_ref());
            let update = StatusUpdate::new(TaskState::Failed);
            Err(update
                .reason(Reason::ReasonCommandExecutorFailed)
                .message(e.to_string()))
        }
    }
}

/// The pipe `container-init` reports the launch on (both ends close-on-exec; the child
/// keeps its end across exec).
fn launch_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2(2) writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 just opened both descriptors; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The container could not be set up (output files, cgroups).
fn launch_failed(why: ExecutorError) -> StatusUpdate {
    StatusUpdate::new(TaskState::Failed)
        .reason(Reason::ReasonContainerLaunchFailed)
        .message(format!("Failed to launch container: {why}"))
}

/// The container's cgroup, when enabled.
fn create_cgroup(config: &ExecutorConfig) -> Result<Option<ContainerCgroup>, ExecutorError> {
    if !config.cgroups.enabled {
        return Ok(None);
    }
    let fs = HostFs::default();
    let layout = CgroupLayout::detect(&fs)?;
    let resources = &config.task.resources;
    let limits = CgroupLimits::new(resources.cpus(), resources.mem());
    let id = config.container_id.as_str();
    Ok(Some(ContainerCgroup::create(
        Box::new(fs),
        &layout,
        &config.cgroups.root,
        id,
        &limits,
    )?))
}

/// The Docker settings of a task that runs in a Docker container.
fn docker_spec(task: &TaskSpec) -> Option<&keel_model::DockerSpec> {
    let container = task.container.as_ref()?;
    (container.kind == keel_model::ContainerKind::Docker)
        .then_some(container.docker.as_ref())
        .flatten()
}

/// The task's assigned host ports, PORT0 first.
pub(crate) fn task_ports(task: &TaskSpec) -> Vec<u16> {
    task.host_ports()
}

fn remove_cgroup(cgroup: Option<&ContainerCgroup>) {
    if let Some(Err(e)) = cgroup.map(ContainerCgroup::remove) {
        tracing::warn!(error = %e, "cannot remove the container's cgroup");
    }
}

/// The running container: its main process, its cgroup and what has happened to it.
/// Dropping it before `clean_up` (an executor error) SIGKILLs the whole container.
struct Supervisor<'a> {
    hub: &'a Hub,
    child: Child,
    /// The task's session and process group id (the main process ran `setsid`).
    pgid: i32,
    cgroup: Option<ContainerCgroup>,
    mem_mb: f64,
    /// The task's SIGTERM to SIGKILL delay, for kills the executor decides on.
    kill_grace: Duration,
    /// When the task started (health check grace periods count from here).
    started: Instant,
    health: Option<Health>,
    /// The health check threads, until the task is killed or exits.
    checkers: Option<HealthCheckers>,
    /// Why a health check had the task killed.
    health_kill: Option<String>,
    kill_requested: bool,
    /// When SIGTERM turns into SIGKILL.
    kill_deadline: Option<Instant>,
    oom: bool,
    reaped: bool,
    cleaned: bool,
}

impl<'a> Supervisor<'a> {
    fn new(hub: &'a Hub, child: Child, cgroup: Option<ContainerCgroup>, task: &TaskSpec) -> Self {
        let pgid = child.id() as i32;
        Self {
            hub,
            child,
            pgid,
            cgroup,
            mem_mb: task.resources.mem(),
            kill_grace: crate::health::secs(task.kill_grace_secs),
            started: keel_clock::monotonic(),
            health: None,
            checkers: None,
            health_kill: None,
            kill_requested: false,
            kill_deadline: None,
            oom: false,
            reaped: false,
            cleaned: false,
        }
    }

    /// Starts the task's health checks, if any; their results arrive as events.
    fn start_health_checks(
        &mut self,
        config: &ExecutorConfig,
        events_tx: &Sender<Event>,
    ) -> Result<(), ExecutorError> {
        let procs = self
            .cgroup
            .as_ref()
            .map(ContainerCgroup::procs_files)
            .unwrap_or_default();
        // In a container of Keel's runtime, command checks run in its mount namespace
        // (that of its init, the outer process's child).
        let mount_ns = ucr::image_of(&config.task)
            .and_then(|_| ucr::init_pid(self.pgid))
            .map(|pid| std::path::PathBuf::from(format!("/proc/{pid}/ns/mnt")));
        if let Some((checkers, health)) = start_checks(config, events_tx, procs, mount_ns)? {
            self.health = Some(health);
            self.checkers = Some(checkers);
        }
        Ok(())
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
        let commands = health.observe(index, probe, since_start);
        for command in commands {
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
            .healthy(healthy);
        if let Err(e) = self.hub.emit(update) {
            tracing::error!(error = %e, "cannot record a health verdict");
        }
    }

    /// Runs until the main process exits; returns what decides the terminal status.
    fn watch(&mut self, events: &Receiver<Event>) -> Outcome {
        let ending = loop {
            if let Some(ending) = self.try_wait() {
                break ending;
            }
            procs::reap_orphans();
            self.check_oom();
            self.enforce_deadline();
            match events.recv_timeout(TICK) {
                Ok(Event::Kill { grace }) => self.kill(grace),
                Ok(Event::Probe { index, probe }) => self.on_probe(index, probe),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(TICK),
            }
        };
        self.check_oom();
        let oom = self.oom.then(|| OomReport {
            requested_mb: self.mem_mb,
            peak_bytes: self.cgroup.as_ref().and_then(ContainerCgroup::peak_memory),
        });
        Outcome {
            ending,
            kill_requested: self.kill_requested,
            health_kill: self.health_kill.clone(),
            oom,
        }
    }

    fn try_wait(&mut self) -> Option<Ending> {
        let ending = match self.child.try_wait() {
            Ok(None) => return None,
            Ok(Some(status)) => match (status.code(), status.signal()) {
                (Some(code), _) => Ending::Exited(code),
                (None, Some(sig)) => Ending::Signaled(sig),
                (None, None) => Ending::Unknown(format!("{status}")),
            },
            Err(e) => Ending::Unknown(e.to_string()),
        };
        self.checkers = None;
        self.reaped = true;
        procs::claimed().remove(&self.pgid);
        Some(ending)
    }

    /// A kill request: TASK_KILLING and SIGTERM the first time, SIGKILL after `grace`
    /// (a later request can only shorten the grace period).
    fn kill(&mut self, grace: Duration) {
        if !self.kill_requested {
            self.kill_requested = true;
            self.checkers = None;
            if let Err(e) = self.hub.emit(StatusUpdate::new(TaskState::Killing)) {
                tracing::error!(error = %e, "cannot record TASK_KILLING; killing anyway");
            }
            self.signal_all(libc::SIGTERM);
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
            self.signal_all(libc::SIGKILL);
        }
    }

    fn check_oom(&mut self) {
        let kills = self.cgroup.as_ref().map_or(0, ContainerCgroup::oom_kills);
        if kills > 0 && !self.oom {
            tracing::warn!(kills, "memory limit exceeded; killing the container");
            self.oom = true;
            self.signal_all(libc::SIGKILL);
        }
    }

    /// Live processes of the container (never the executor itself).
    fn members(&self) -> Vec<i32> {
        let me = std::process::id() as i32;
        let pids = match &self.cgroup {
            Some(cgroup) => cgroup
                .pids()
                .into_iter()
                .filter(|p| procs::is_alive(*p))
                .collect(),
            None => procs::session_members(self.pgid),
        };
        pids.into_iter().filter(|p| *p != me).collect()
    }

    fn signal_all(&self, sig: i32) {
        procs::signal_group(self.pgid, sig);
        for pid in self.members() {
            procs::signal(pid, sig);
        }
    }

    /// After the main process exited: lets SIGTERMed leftovers use the rest of the grace
    /// period, SIGKILLs what remains until the container is empty, reaps orphans, drains the
    /// output and removes the cgroup.
    fn clean_up(&mut self, pumps: OutputPumps) {
        let grace_end = match self.kill_deadline {
            Some(deadline) if !self.oom => deadline,
            _ => keel_clock::monotonic(),
        };
        if keel_clock::monotonic() < grace_end {
            // Processes forked while the first SIGTERM was in flight never saw it.
            self.signal_all(libc::SIGTERM);
        }
        while !self.members().is_empty() && keel_clock::monotonic() < grace_end {
            procs::reap_orphans();
            std::thread::sleep(TICK);
        }
        self.kill_until_empty();
        procs::reap_orphans();
        pumps.drain(DRAIN_TIMEOUT);
        remove_cgroup(self.cgroup.as_ref());
        procs::reap_orphans();
        self.cleaned = true;
    }

    fn kill_until_empty(&self) {
        let give_up = keel_clock::monotonic() + KILL_PATIENCE;
        loop {
            self.signal_all(libc::SIGKILL);
            procs::reap_orphans();
            let left = self.members();
            if left.is_empty() {
                return;
            }
            if keel_clock::monotonic() >= give_up {
                return tracing::error!(?left, "container processes survive SIGKILL; giving up");
            }
            std::thread::sleep(TICK / 5);
        }
    }
}

impl Drop for Supervisor<'_> {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        self.kill_until_empty();
        if !self.reaped {
            let _ = self.child.wait();
            procs::claimed().remove(&self.pgid);
        }
        procs::reap_orphans();
        remove_cgroup(self.cgroup.as_ref());
    }
}

/// Starts `config`'s health checks, if it has any, for a task whose processes are listed in
/// `cgroup_procs` (empty for a Docker container); the results arrive on `events_tx`.
pub(crate) fn start_checks(
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
        ports: task_ports(&config.task),
        env: config.env.clone(),
        sandbox: config.sandbox.clone(),
        user: config.task.command.user.clone(),
        cgroup_procs,
        mount_ns,
    };
    let (checkers, rules) = HealthCheckers::start(specs, &task, events_tx)?;
    Ok(Some((checkers, Health::new(rules))))
}
