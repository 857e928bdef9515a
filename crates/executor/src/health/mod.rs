//! Health checks of the running task: one thread per check probes it on schedule (first
//! after `delay_secs`, then every `interval_secs`) and sends each result to the supervisor
//! as an `Event::Probe`; the supervisor feeds them to [`Health`], which decides when to
//! report a verdict and when to kill the task.

mod probe;
mod verdict;

pub(crate) use probe::{Check, TaskContext};
pub(crate) use verdict::{CheckRules, Health, HealthCommand, Probe};

use crate::ExecutorError;
use crate::socket::Event;
use keel_model::HealthCheck;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Probes are never closer together than this, whatever `interval_secs` says.
const MIN_INTERVAL: Duration = Duration::from_millis(50);
/// A probe gets at least this long, whatever `timeout_secs` says.
const MIN_TIMEOUT: Duration = Duration::from_millis(10);

/// Seconds from a task spec as a duration: negative or NaN is zero, huge is capped.
pub(crate) fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::from_secs(u32::MAX.into()))
}

/// The rules the verdict applies to `spec`, which messages call `name`.
pub(crate) fn rules(spec: &HealthCheck, name: &str) -> CheckRules {
    CheckRules {
        name: name.to_string(),
        grace: secs(spec.grace_period_secs),
        max_failures: spec.max_consecutive_failures,
    }
}

/// A flag the checker threads sleep on; raising it wakes them all.
#[derive(Debug, Clone, Default)]
struct Stop(Arc<(Mutex<bool>, Condvar)>);

impl Stop {
    fn raise(&self) {
        let (flag, wake) = &*self.0;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
    }

    fn is_raised(&self) -> bool {
        *self.0.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps for `duration` or until raised; true when raised.
    fn sleep(&self, duration: Duration) -> bool {
        let (flag, wake) = &*self.0;
        let deadline = keel_clock::monotonic() + duration;
        let mut raised = flag.lock().unwrap_or_else(|e| e.into_inner());
        while !*raised {
            let left = deadline.saturating_duration_since(keel_clock::monotonic());
            if left.is_zero() {
                return false;
            }
            raised = wake
                .wait_timeout(raised, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// When a check's probes run.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    delay: Duration,
    interval: Duration,
}

/// The running checker threads; dropping this stops them (a running command check is
/// killed; a network probe ends within its timeout and its result is dropped).
#[derive(Debug)]
pub(crate) struct HealthCheckers {
    stop: Stop,
}

impl HealthCheckers {
    /// Starts one thread per check of `specs`; returns them with the checks' rules.
    pub fn start(
        specs: &[HealthCheck],
        task: &TaskContext,
        events: &Sender<Event>,
    ) -> Result<(Self, Vec<CheckRules>), ExecutorError> {
        let checkers = Self {
            stop: Stop::default(),
        };
        let mut rules = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            let check = Check::new(spec, task, secs(spec.timeout_secs).max(MIN_TIMEOUT));
            rules.push(self::rules(spec, &check.name));
            let schedule = Schedule {
                delay: secs(spec.delay_secs),
                interval: secs(spec.interval_secs).max(MIN_INTERVAL),
            };
            checkers.spawn(index, check, schedule, events.clone())?;
        }
        Ok((checkers, rules))
    }

    fn spawn(
        &self,
        index: usize,
        check: Check,
        schedule: Schedule,
        events: Sender<Event>,
    ) -> Result<(), ExecutorError> {
        let stop = self.stop.clone();
        tracing::info!(check = %check.name, ?schedule, "starting health check");
        std::thread::Builder::new()
            .name(format!("health-check-{index}"))
            .spawn(move || run_check(index, &check, schedule, &events, &stop))
            .map(drop)
            .map_err(|source| ExecutorError::Thread {
                name: "health check",
                source,
            })
    }
}

impl Drop for HealthCheckers {
    fn drop(&mut self) {
        self.stop.raise();
    }
}

/// Probes `check` on `schedule` until stopped or the supervisor is gone.
fn run_check(index: usize, check: &Check, schedule: Schedule, events: &Sender<Event>, stop: &Stop) {
    if stop.sleep(schedule.delay) {
        return;
    }
    loop {
        let started = keel_clock::monotonic();
        let probe = check.probe(&|| stop.is_raised());
        if stop.is_raised() || events.send(Event::Probe { index, probe }).is_err() {
            return;
        }
        if stop.sleep(schedule.interval.saturating_sub(started.elapsed())) {
            return;
        }
    }
}
