//! Metronome-style jobs as pure decisions: cron evaluation in time zones, which schedule
//! slots fire or are missed, the run state machine (restart policy, deadlines, launch
//! backoff), dependencies between jobs, and run history.
//!
//! Architecture Invariant: pure. No tokio, sockets, files, clock or global RNG: `now` and
//! random ids are inputs, and every decision is a value the caller executes.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cron;
mod deps;
mod history;
mod run;
mod slots;

pub use cron::{CronError, CronSchedule, CronSyntax, format_metronome_time, run_id_prefix};
pub use deps::{ParentOutcome, creates_cycle, dependencies_ready};
pub use history::{FinishedRun, HISTORY_COUNT, History, HistorySummary, MISSED_COUNT, MissedSlot};
pub use run::{
    RestartPolicy, Run, RunCommand, RunPolicy, RunStatus, RunTask, Trigger, UNPLACEABLE_RETRY_SECS,
    backoff,
};
pub use slots::{
    ConcurrencyPolicy, MAX_RECORDED, MissReason, SlotDecision, SlotParams, SlotPlan, plan_slots,
};
