//! Instances as the deployment logic sees them: condition (Marathon's names), goal, health,
//! readiness and the timestamps that order kills and expire unreachable instances.

use serde::{Deserialize, Serialize};

/// Marathon's instance condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Condition {
    /// A launch was requested (Marathon's Scheduled/Provisioned); counts as coming up.
    Provisioned,
    Staging,
    Starting,
    Running,
    Killing,
    Unreachable,
    /// Unreachable for longer than `inactive_after`: replaced, no longer counted.
    UnreachableInactive,
    Finished,
    Failed,
    Killed,
    Gone,
    Dropped,
    Unknown,
    Error,
}

impl Condition {
    /// The task ended (Marathon's `Terminal`).
    pub fn is_terminal(self) -> bool {
        use Condition::*;
        matches!(
            self,
            Finished | Failed | Killed | Gone | Dropped | Unknown | Error
        )
    }

    /// Marathon's `Active`: neither terminal nor UnreachableInactive.
    pub fn is_active(self) -> bool {
        !self.is_terminal() && self != Condition::UnreachableInactive
    }

    /// Unreachable or UnreachableInactive: a kill cannot reach it, so it is expunged instead.
    pub fn is_unreachable(self) -> bool {
        matches!(
            self,
            Condition::Unreachable | Condition::UnreachableInactive
        )
    }

    /// The conditions that multiply the launch delay (Marathon's `limitWorthy`:
    /// TASK_FAILED, TASK_FINISHED, TASK_ERROR, TASK_GONE, TASK_DROPPED; not TASK_KILLED).
    pub fn increases_backoff(self) -> bool {
        use Condition::*;
        matches!(self, Failed | Finished | Error | Gone | Dropped)
    }

    /// Rank in the scale-down kill order: lower is killed first
    /// (Unreachable → Staging → Starting → Running → everything else).
    pub(crate) fn kill_weight(self) -> u8 {
        match self {
            Condition::Unreachable => 1,
            Condition::Staging => 2,
            Condition::Starting => 3,
            Condition::Running => 4,
            _ => 5,
        }
    }
}

/// What the orchestrator wants for an instance.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum Goal {
    /// Keep it running; replace it when it ends.
    #[default]
    Running,
    /// Stop it but keep its reservation (resident instances).
    Stopped,
    /// Stop it and forget it.
    Decommissioned,
}

/// One instance of a run spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    /// Id of the run spec it belongs to.
    pub run_spec: String,
    /// The run spec's `config_version` it was launched with.
    pub config_version: String,
    pub condition: Condition,
    pub goal: Goal,
    /// Health check verdict; `None` means no result yet, or no health checks. `None` is
    /// judged by the run spec being deployed: healthy while running if it has no health
    /// checks. When a new config adds health checks, old instances launched without any
    /// count as healthy only if the service reports `Some(true)` for them.
    pub healthy: Option<bool>,
    /// Readiness checks passed (true when the run spec has none).
    pub ready: bool,
    /// Unix seconds.
    pub staged_at: f64,
    /// Unix seconds, when it became running.
    pub started_at: Option<f64>,
    /// Unix seconds of the unreachable report. Set it on TASK_UNREACHABLE. When the task
    /// reports again, clear it if the instance was still `Unreachable` (never replaced) and
    /// keep it if it was `UnreachableInactive` (replaced): a replaced instance that
    /// returns is killed once `expunge_after` has passed.
    pub unreachable_since: Option<f64>,
}

impl Instance {
    /// A running, healthy, ready instance with goal Running, staged and started at `at`.
    pub fn running(id: &str, run_spec: &str, config_version: &str, at: f64) -> Instance {
        Instance {
            id: id.to_string(),
            run_spec: run_spec.to_string(),
            config_version: config_version.to_string(),
            condition: Condition::Running,
            goal: Goal::Running,
            healthy: Some(true),
            ready: true,
            staged_at: at,
            started_at: Some(at),
            unreachable_since: None,
        }
    }

    /// Already told to go: its goal is not Running, or a kill is under way.
    ///
    /// Such instances are never counted and never killed again, which is what makes every
    /// decision here idempotent.
    pub fn is_going_away(&self) -> bool {
        self.goal != Goal::Running || self.condition == Condition::Killing
    }

    /// Needs nothing more: it ended, or it is going away and unreachable (so it is
    /// expunged rather than killed).
    pub(crate) fn is_gone(&self) -> bool {
        self.condition.is_terminal()
            || (self.goal != Goal::Running && self.condition.is_unreachable())
    }
}
