//! Launch backoff (Marathon's `RateLimiter`, docs/backoff.md): the delay before the next
//! launch of a run spec grows with every failure and is reset by a new version, by
//! `DELETE /v2/queue/{id}/delay`, or after a quiet period.

use crate::{BackoffPolicy, Condition};
use serde::{Deserialize, Serialize};

/// The launch delay of one run spec; the service keeps one per run spec.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BackoffState {
    /// Current delay in seconds; 0 until the first failure.
    pub delay: f64,
    /// Unix seconds before which nothing is launched.
    pub next_launch_at: f64,
    pub last_failure_at: Option<f64>,
}

impl BackoffState {
    /// A failure (TASK_FAILED, TASK_FINISHED, ...): the first one sets the delay to
    /// `seconds`, every later one multiplies it by `factor`; never above
    /// `max_launch_delay`. The next launch waits `delay` from `now`.
    pub fn on_failure(&mut self, policy: &BackoffPolicy, now: f64) {
        let delay = match self.last_failure_at {
            None => policy.seconds,
            Some(_) => self.delay * policy.factor,
        };
        self.delay = delay.min(policy.max_launch_delay).max(0.0);
        self.last_failure_at = Some(now);
        self.next_launch_at = now + self.delay;
    }

    /// An instance reached `condition`: failures (Failed, Finished, Error, Gone, Dropped)
    /// increase the delay; Killed and Unknown do not. Returns whether it did.
    pub fn on_condition(&mut self, policy: &BackoffPolicy, condition: Condition, now: f64) -> bool {
        let counts = condition.increases_backoff();
        if counts {
            self.on_failure(policy, now);
        }
        counts
    }

    /// Back to no delay: a new version was deployed, or `DELETE /v2/queue/{id}/delay`.
    pub fn reset(&mut self) {
        *self = BackoffState::default();
    }

    /// When the quiet period ends: no failure for `delay + max_launch_delay`.
    pub fn reset_at(&self, policy: &BackoffPolicy) -> Option<f64> {
        self.last_failure_at
            .map(|t| t + self.delay + policy.max_launch_delay)
    }

    /// Resets the delay once the quiet period has passed; returns whether it did.
    pub fn maybe_reset(&mut self, policy: &BackoffPolicy, now: f64) -> bool {
        let due = self.reset_at(policy).is_some_and(|at| now >= at);
        if due {
            self.reset();
        }
        due
    }

    /// A launch may happen now (`/v2/queue`: `delay.overdue`).
    pub fn ready(&self, now: f64) -> bool {
        now >= self.next_launch_at
    }

    /// Seconds until a launch may happen (`/v2/queue`: `delay.timeLeftSeconds`).
    pub fn time_left(&self, now: f64) -> f64 {
        (self.next_launch_at - now).max(0.0)
    }
}
