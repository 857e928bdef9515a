//! Domain → wire: runs, schedules with `nextRunAt`, history and JobInfo with its embeds,
//! with Metronome's date format.

use crate::state::{JobEntry, SchedEntry};
use keel_api::metronome::{
    JobHistory, JobHistorySummary, JobInfo, JobRun, JobRunInfo, JobRunTask, MissedRun, Schedule,
};
use keel_jobs::{FinishedRun, History, Run, format_metronome_time as ts};

/// The embeds of `GET /v1/jobs[/{id}]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Embeds {
    pub active_runs: bool,
    pub history: bool,
    pub history_summary: bool,
}

/// The valid `embed` values.
pub const EMBED_NAMES: [&str; 4] = ["activeRuns", "schedules", "history", "historySummary"];

impl Embeds {
    /// Parses every `embed` value (repeated or comma-separated); an unknown one fails.
    pub fn parse<'a>(values: impl Iterator<Item = &'a str>) -> Result<Self, String> {
        let mut e = Embeds::default();
        for v in values.flat_map(|v| v.split(',')).map(str::trim) {
            match v {
                "activeRuns" => e.active_runs = true,
                "schedules" => {}
                "history" => e.history = true,
                "historySummary" => e.history_summary = true,
                _ => {
                    return Err(format!(
                        "Unknown embed options. Valid options are: {}",
                        EMBED_NAMES.join(", ")
                    ));
                }
            }
        }
        Ok(e)
    }
}

pub fn job_run(r: &Run) -> JobRun {
    JobRun {
        id: r.id.clone(),
        job_id: r.job_id.clone(),
        status: r.status.as_str().to_string(),
        created_at: ts(r.created_at),
        completed_at: r.completed_at.map(ts),
        tasks: r
            .tasks
            .iter()
            .map(|t| JobRunTask {
                id: t.id.clone(),
                started_at: ts(t.started_at),
                completed_at: t.completed_at.map(ts),
                status: t.state.as_str().to_string(),
            })
            .collect(),
    }
}

/// A schedule as written in responses, with its next slot after `now`.
pub fn schedule(s: &Schedule, entry: Option<&SchedEntry>, now: f64) -> Schedule {
    let now = now.floor() as i64;
    let next = entry.and_then(|e| match e.next_slot {
        Some(n) if n > now => Some(n),
        _ => e.cron().and_then(|c| c.next_after(now)),
    });
    Schedule {
        next_run_at: next.map(|n| ts(n as f64)),
        ..s.clone()
    }
}

pub fn schedules(j: &JobEntry, now: f64) -> Vec<Schedule> {
    j.spec()
        .schedules
        .iter()
        .map(|s| schedule(s, j.scheds.get(&s.id), now))
        .collect()
}

fn run_info(f: &FinishedRun) -> JobRunInfo {
    JobRunInfo {
        id: f.id.clone(),
        created_at: ts(f.created_at),
        finished_at: ts(f.finished_at),
        tasks: f.tasks.clone(),
    }
}

pub fn summary(h: &History) -> JobHistorySummary {
    JobHistorySummary {
        success_count: h.summary.success_count,
        failure_count: h.summary.failure_count,
        last_success_at: h.summary.last_success_at.map(ts),
        last_failure_at: h.summary.last_failure_at.map(ts),
    }
}

pub fn history(h: &History) -> JobHistory {
    JobHistory {
        success_count: h.summary.success_count,
        failure_count: h.summary.failure_count,
        last_success_at: h.summary.last_success_at.map(ts),
        last_failure_at: h.summary.last_failure_at.map(ts),
        successful_finished_runs: h.successful.iter().map(run_info).collect(),
        failed_finished_runs: h.failed.iter().map(run_info).collect(),
        missed_runs: h
            .missed
            .iter()
            .map(|m| MissedRun {
                schedule_id: m.schedule_id.clone(),
                scheduled_at: ts(m.slot as f64),
                recorded_at: ts(m.recorded_at),
                reason: serde_json::to_value(m.reason)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

pub fn job_info(j: &JobEntry, e: Embeds, now: f64) -> JobInfo {
    let spec = j.spec();
    JobInfo {
        id: spec.id.clone(),
        description: spec.description.clone(),
        dependencies: spec.dependencies.clone(),
        labels: spec.labels.clone(),
        run: spec.run.clone(),
        schedules: schedules(j, now),
        active_runs: e
            .active_runs
            .then(|| j.active.values().map(job_run).collect()),
        history: e.history.then(|| history(&j.history)),
        history_summary: e.history_summary.then(|| summary(&j.history)),
    }
}
