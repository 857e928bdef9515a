//! The process containerizer: the task forked by the executor in its own session and
//! cgroups, directly or, for a MESOS container with an image, through `container-init` in
//! Keel's own runtime (`ucr`). Kills signal the whole tree (session and cgroup members);
//! OOM kills are read from the cgroup.

use crate::cgroups::{CgroupLayout, CgroupLimits, ContainerCgroup, HostFs};
use crate::containerizer::{Containerizer, HealthScope, launch_failed};
use crate::logs::OutputPumps;
use crate::outcome::{Ending, OomReport};
use crate::spawn::{ContainerInit, SpawnPlan, spawn};
use crate::status::StatusUpdate;
use crate::{ExecutorError, procs, sys, ucr};
use keel_api::executor::ExecutorConfig;
use keel_model::{Reason, TaskState};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::time::{Duration, Instant};

/// How long to keep SIGKILLing a container that does not empty (processes stuck in D state).
const KILL_PATIENCE: Duration = Duration::from_secs(30);
/// How long to wait for the output pipes to close after the container is gone.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The running container: its main process, its cgroup and what has happened to it.
/// Dropping it before `clean_up` (an executor error) SIGKILLs the whole container.
pub(crate) struct ProcessContainer {
    child: Child,
    /// The task's session and process group id (the main process ran `setsid`).
    pgid: i32,
    cgroup: Option<ContainerCgroup>,
    pumps: Option<OutputPumps>,
    /// The container of Keel's own runtime, if the task runs in one.
    ucr: Option<ucr::Prepared>,
    mem_mb: f64,
    oom: bool,
    reaped: bool,
    cleaned: bool,
}

impl Containerizer for ProcessContainer {
    type Spec = ();
    const TICK: Duration = Duration::from_millis(50);

    /// Prepares the container of Keel's own runtime when the task has an image, starts the
    /// output pumps, creates the cgroup and spawns the task.
    fn launch(config: &ExecutorConfig, _: &()) -> Result<Self, StatusUpdate> {
        let container = match ucr::image_of(&config.task).map(|d| ucr::prepare(config, d)) {
            None => None,
            Some(Ok(prepared)) => Some(prepared),
            Some(Err(e)) => {
                ucr::remove(&ucr::plan::Dirs::under(&config.meta_dir));
                return Err(launch_failed(&e));
            }
        };
        let (child, cgroup, pumps) = match launch(config, container.as_ref()) {
            Ok(launched) => launched,
            Err(failed) => {
                if let Some(c) = &container {
                    ucr::remove(&c.dirs);
                }
                return Err(failed);
            }
        };
        Ok(Self {
            pgid: child.id() as i32,
            child,
            cgroup,
            pumps: Some(pumps),
            ucr: container,
            mem_mb: config.task.resources.mem(),
            oom: false,
            reaped: false,
            cleaned: false,
        })
    }

    fn health_scope(&self, config: &ExecutorConfig) -> HealthScope {
        HealthScope {
            cgroup_procs: self
                .cgroup
                .as_ref()
                .map(ContainerCgroup::procs_files)
                .unwrap_or_default(),
            // In a container of Keel's runtime, command checks run in its mount namespace
            // (that of its init, the outer process's child).
            mount_ns: ucr::image_of(&config.task)
                .and_then(|_| ucr::init_pid(self.pgid))
                .map(|pid| std::path::PathBuf::from(format!("/proc/{pid}/ns/mnt"))),
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
        self.reaped = true;
        procs::claimed().remove(&self.pgid);
        Some(ending)
    }

    fn tick(&mut self) {
        procs::reap_orphans();
        self.check_oom();
    }

    fn terminate(&mut self, _grace: Duration) {
        self.signal_all(sys::SIGTERM);
    }

    fn force_kill(&mut self) {
        self.signal_all(sys::SIGKILL);
    }

    fn oom(&mut self) -> Option<OomReport> {
        self.check_oom();
        self.oom.then(|| OomReport {
            requested_mb: self.mem_mb,
            peak_bytes: self.cgroup.as_ref().and_then(ContainerCgroup::peak_memory),
        })
    }

    /// Lets SIGTERMed leftovers use the rest of the grace period, SIGKILLs what remains
    /// until the container is empty, reaps orphans, drains the output and removes the
    /// cgroup and the container's directories.
    fn clean_up(mut self, kill_deadline: Option<Instant>) {
        let grace_end = match kill_deadline {
            Some(deadline) if !self.oom => deadline,
            _ => keel_clock::monotonic(),
        };
        if keel_clock::monotonic() < grace_end {
            // Processes forked while the first SIGTERM was in flight never saw it.
            self.signal_all(sys::SIGTERM);
        }
        while !self.members().is_empty() && keel_clock::monotonic() < grace_end {
            procs::reap_orphans();
            std::thread::sleep(Self::TICK);
        }
        self.kill_until_empty();
        procs::reap_orphans();
        if let Some(pumps) = self.pumps.take() {
            pumps.drain(DRAIN_TIMEOUT);
        }
        remove_cgroup(self.cgroup.as_ref());
        procs::reap_orphans();
        self.cleaned = true;
        if let Some(c) = &self.ucr {
            ucr::remove(&c.dirs);
        }
    }
}

impl ProcessContainer {
    fn check_oom(&mut self) {
        let kills = self.cgroup.as_ref().map_or(0, ContainerCgroup::oom_kills);
        if kills > 0 && !self.oom {
            tracing::warn!(kills, "memory limit exceeded; killing the container");
            self.oom = true;
            self.signal_all(sys::SIGKILL);
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

    fn kill_until_empty(&self) {
        let give_up = keel_clock::monotonic() + KILL_PATIENCE;
        loop {
            self.signal_all(sys::SIGKILL);
            procs::reap_orphans();
            let left = self.members();
            if left.is_empty() {
                return;
            }
            if keel_clock::monotonic() >= give_up {
                return tracing::error!(?left, "container processes survive SIGKILL; giving up");
            }
            std::thread::sleep(Self::TICK / 5);
        }
    }
}

impl Drop for ProcessContainer {
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

/// Starts the output pumps, creates the cgroup and spawns the task (through
/// `container-init` for a container of Keel's own runtime). On failure, undoes what was
/// done and returns the TASK_FAILED update to report.
fn launch(
    config: &ExecutorConfig,
    container: Option<&ucr::Prepared>,
) -> Result<(Child, Option<ContainerCgroup>, OutputPumps), StatusUpdate> {
    let (pumps, stdout, stderr) =
        OutputPumps::start(&config.sandbox, &config.log_rotation).map_err(|e| launch_failed(&e))?;
    let cgroup = match create_cgroup(config) {
        Ok(cgroup) => cgroup,
        Err(e) => {
            drop((stdout, stderr));
            pumps.drain(DRAIN_TIMEOUT);
            return Err(launch_failed(&e));
        }
    };
    // The pipe `container-init` reports the launch on (both ends close-on-exec; the child
    // keeps its end across exec).
    let pipe = match container.map(|_| sys::pipe_cloexec()).transpose() {
        Ok(pipe) => pipe,
        Err(e) => {
            drop((stdout, stderr));
            pumps.drain(DRAIN_TIMEOUT);
            remove_cgroup(cgroup.as_ref());
            let e = ExecutorError::io("create", "launch pipe", e.into());
            return Err(launch_failed(&e));
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
                Err(launch_failed(&why))
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

fn remove_cgroup(cgroup: Option<&ContainerCgroup>) {
    if let Some(Err(e)) = cgroup.map(ContainerCgroup::remove) {
        tracing::warn!(error = %e, "cannot remove the container's cgroup");
    }
}
