//! One job run as a state machine: INITIAL → STARTING (a task is being launched) → ACTIVE
//! (a task was reported) → SUCCESS (a task finished) or FAILED (a task failed and the
//! restart policy gives up, the starting deadline passed, or the run was stopped).
//!
//! Events go in ([`Run::poll`], [`Run::on_task`], [`Run::launched`], [`Run::launch_failed`],
//! [`Run::stop`]); commands come out ([`RunCommand`]) for the service to execute. Task ids
//! are `<job id with '_' for '.'>_<run id>.<attempt>`, so no randomness is needed here.

use keel_model::TaskState;
use serde::{Deserialize, Serialize};

/// Metronome's run status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    Initial,
    Starting,
    Active,
    Success,
    Failed,
}

impl RunStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Success | Self::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "INITIAL",
            Self::Starting => "STARTING",
            Self::Active => "ACTIVE",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
        }
    }
}

/// NEVER or ON_FAILURE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RestartPolicy {
    #[default]
    Never,
    OnFailure,
}

/// What governs a run's retries and deadlines (copied from the job when the run starts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunPolicy {
    pub restart: RestartPolicy,
    /// ON_FAILURE relaunches only while `now < created_at + active_deadline`.
    pub active_deadline_secs: Option<f64>,
    /// Cap of the exponential launch backoff (1 s × 1.15^k).
    pub max_launch_delay_secs: f64,
    /// Scheduled runs fail if no task was reported within this long of their creation.
    pub starting_deadline_secs: Option<f64>,
}

/// What started a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    Manual,
    Schedule { schedule_id: String, slot: i64 },
    Dependency,
}

/// One task of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTask {
    pub id: String,
    pub started_at: f64,
    pub completed_at: Option<f64>,
    pub state: TaskState,
}

/// What the service must do for a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunCommand {
    /// Persist the run (it now names `task_id` as launching), then launch the task and
    /// report [`Run::launched`] or [`Run::launch_failed`].
    Launch {
        task_id: String,
    },
    Kill {
        task_id: String,
    },
    /// The run reached SUCCESS or FAILED: move it to the history.
    Finished,
}

/// A run and its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub job_id: String,
    pub status: RunStatus,
    pub created_at: f64,
    pub completed_at: Option<f64>,
    pub tasks: Vec<RunTask>,
    pub policy: RunPolicy,
    pub trigger: Trigger,
    /// Launch attempts so far (the next task is `.<attempts + 1>`).
    pub attempts: u32,
    /// The task being launched (persisted before the launch call).
    pub launching: Option<String>,
    /// When a new task may be launched; `None` while a task is live or the run is over.
    pub launch_at: Option<f64>,
    /// Why the run failed, when it did.
    pub reason: Option<String>,
    /// Set once the run was stopped by a user.
    pub stopped: bool,
}

/// Seconds between retries of a launch that found no agent.
pub const UNPLACEABLE_RETRY_SECS: f64 = 1.0;

impl Run {
    /// A new run in INITIAL that wants its first task launched at once.
    pub fn new(job_id: &str, id: &str, now: f64, policy: RunPolicy, trigger: Trigger) -> Self {
        Self {
            id: id.to_string(),
            job_id: job_id.to_string(),
            status: RunStatus::Initial,
            created_at: now,
            completed_at: None,
            tasks: Vec::new(),
            policy,
            trigger,
            attempts: 0,
            launching: None,
            launch_at: Some(now),
            reason: None,
            stopped: false,
        }
    }

    /// The id of launch attempt `n` (from 1).
    pub fn task_id(&self, n: u32) -> String {
        format!("{}_{}.{n}", self.job_id.replace('.', "_"), self.id)
    }

    fn live_tasks(&self) -> impl Iterator<Item = &RunTask> {
        self.tasks.iter().filter(|t| !t.state.is_terminal())
    }

    /// Time-driven decisions: the starting deadline, and launching when a launch is due.
    pub fn poll(&mut self, now: f64) -> Vec<RunCommand> {
        if self.status.is_finished() {
            return Vec::new();
        }
        let never_started = matches!(self.status, RunStatus::Initial | RunStatus::Starting);
        if let Some(d) = self.policy.starting_deadline_secs
            && never_started
            && now >= self.created_at + d
        {
            return self.fail(
                now,
                format!("not started within its starting deadline of {d} s"),
            );
        }
        match self.launch_at {
            Some(at) if at <= now && self.launching.is_none() => {
                self.attempts += 1;
                let task_id = self.task_id(self.attempts);
                self.launching = Some(task_id.clone());
                self.launch_at = None;
                if self.status == RunStatus::Initial {
                    self.status = RunStatus::Starting;
                }
                vec![RunCommand::Launch { task_id }]
            }
            _ => Vec::new(),
        }
    }

    /// The launch of `task_id` was accepted by the master.
    pub fn launched(&mut self, task_id: &str, now: f64) {
        if self.launching.as_deref() == Some(task_id) {
            self.launching = None;
        }
        if !self.tasks.iter().any(|t| t.id == task_id) {
            self.tasks.push(RunTask {
                id: task_id.to_string(),
                started_at: now,
                completed_at: None,
                state: TaskState::Staging,
            });
        }
    }

    /// The launch of `task_id` was refused (no agent fits); retry shortly.
    pub fn launch_failed(&mut self, task_id: &str, now: f64) {
        if self.launching.as_deref() == Some(task_id) {
            self.launching = None;
            self.attempts = self.attempts.saturating_sub(1);
            if !self.status.is_finished() {
                self.launch_at = Some(now + UNPLACEABLE_RETRY_SECS);
            }
        }
    }

    /// A status of one of this run's tasks.
    pub fn on_task(
        &mut self,
        task_id: &str,
        state: TaskState,
        at: f64,
        now: f64,
    ) -> Vec<RunCommand> {
        if self.launching.as_deref() == Some(task_id) {
            self.launched(task_id, at);
        }
        let Some(task) = self.tasks.iter_mut().find(|t| t.id == task_id) else {
            return Vec::new();
        };
        if task.state.is_terminal() {
            return Vec::new();
        }
        task.state = state;
        if state.is_terminal() {
            task.completed_at = Some(at);
        }
        if self.status.is_finished() {
            return Vec::new();
        }
        match state {
            TaskState::Finished => self.succeed(at),
            s if s.is_terminal() => self.task_failed(task_id, s, now),
            TaskState::Unreachable | TaskState::Unknown => Vec::new(),
            _ => {
                self.status = RunStatus::Active;
                Vec::new()
            }
        }
    }

    fn succeed(&mut self, at: f64) -> Vec<RunCommand> {
        self.status = RunStatus::Success;
        self.completed_at = Some(at);
        self.launch_at = None;
        let mut cmds = self.kill_live();
        cmds.push(RunCommand::Finished);
        cmds
    }

    fn task_failed(&mut self, task_id: &str, state: TaskState, now: f64) -> Vec<RunCommand> {
        let in_time = self
            .policy
            .active_deadline_secs
            .is_none_or(|d| now < self.created_at + d);
        let retry = self.policy.restart == RestartPolicy::OnFailure && in_time && !self.stopped;
        if !retry {
            return self.fail(now, format!("task {task_id} ended {state}"));
        }
        if self.live_tasks().next().is_none() && self.launching.is_none() {
            self.launch_at = Some(now + backoff(self.attempts, self.policy.max_launch_delay_secs));
        }
        Vec::new()
    }

    /// Stops the run: kills its tasks, and the run ends FAILED at once (as Metronome does).
    pub fn stop(&mut self, now: f64) -> Vec<RunCommand> {
        if self.status.is_finished() {
            return Vec::new();
        }
        self.stopped = true;
        self.fail(now, "stopped".to_string())
    }

    /// Ends the run FAILED with `reason` (e.g. the job cannot run on this cluster).
    pub fn abort(&mut self, now: f64, reason: String) -> Vec<RunCommand> {
        if self.status.is_finished() {
            return Vec::new();
        }
        self.fail(now, reason)
    }

    fn fail(&mut self, now: f64, reason: String) -> Vec<RunCommand> {
        self.status = RunStatus::Failed;
        self.completed_at = Some(now);
        self.launch_at = None;
        self.reason = Some(reason);
        let mut cmds = self.kill_live();
        if let Some(t) = self.launching.take() {
            cmds.push(RunCommand::Kill { task_id: t });
        }
        cmds.push(RunCommand::Finished);
        cmds
    }

    fn kill_live(&self) -> Vec<RunCommand> {
        self.live_tasks()
            .map(|t| RunCommand::Kill {
                task_id: t.id.clone(),
            })
            .collect()
    }
}

/// Marathon's launch backoff: 1 s × 1.15^(attempts-1), capped at `max`.
pub fn backoff(attempts: u32, max: f64) -> f64 {
    let k = attempts.saturating_sub(1).min(200) as i32;
    (1.15f64.powi(k)).min(max.max(0.0))
}

#[cfg(test)]
mod tests;
