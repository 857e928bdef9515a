//! A job's history: success and failure counts with their latest times, the newest
//! finished runs of each kind (capped like Metronome's `history.count`), and the schedule
//! slots that were missed, with why.

use crate::run::{Run, RunStatus};
use crate::slots::MissReason;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Finished runs kept per job (Metronome's default `metronome.history.count`).
pub const HISTORY_COUNT: usize = 1000;
/// Missed slots kept per job.
pub const MISSED_COUNT: usize = 100;

/// A run in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedRun {
    pub id: String,
    pub created_at: f64,
    pub finished_at: f64,
    pub tasks: Vec<String>,
    pub success: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

impl FinishedRun {
    pub fn of(run: &Run) -> Self {
        Self {
            id: run.id.clone(),
            created_at: run.created_at,
            finished_at: run.completed_at.unwrap_or(run.created_at),
            tasks: run.tasks.iter().map(|t| t.id.clone()).collect(),
            success: run.status == RunStatus::Success,
            reason: run.reason.clone(),
        }
    }
}

/// A schedule slot that did not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissedSlot {
    pub schedule_id: String,
    pub slot: i64,
    pub recorded_at: f64,
    pub reason: MissReason,
}

/// Counters that survive trimming.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistorySummary {
    pub success_count: u64,
    pub failure_count: u64,
    pub last_success_at: Option<f64>,
    pub last_failure_at: Option<f64>,
    pub missed_count: u64,
}

/// The in-memory history of one job; newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub summary: HistorySummary,
    pub successful: VecDeque<FinishedRun>,
    pub failed: VecDeque<FinishedRun>,
    pub missed: VecDeque<MissedSlot>,
}

impl History {
    /// Adds a finished run; returns the ids of runs trimmed away.
    pub fn record_run(&mut self, r: FinishedRun) -> Vec<String> {
        let s = &mut self.summary;
        let list = if r.success {
            s.success_count += 1;
            s.last_success_at = Some(
                s.last_success_at
                    .map_or(r.finished_at, |t| t.max(r.finished_at)),
            );
            &mut self.successful
        } else {
            s.failure_count += 1;
            s.last_failure_at = Some(
                s.last_failure_at
                    .map_or(r.finished_at, |t| t.max(r.finished_at)),
            );
            &mut self.failed
        };
        list.push_front(r);
        let mut trimmed = Vec::new();
        while self.successful.len() + self.failed.len() > HISTORY_COUNT {
            let oldest_ok = self.successful.back().map(|r| r.finished_at);
            let oldest_failed = self.failed.back().map(|r| r.finished_at);
            let from_ok = match (oldest_ok, oldest_failed) {
                (Some(a), Some(b)) => a <= b,
                (Some(_), None) => true,
                _ => false,
            };
            let gone = if from_ok {
                self.successful.pop_back()
            } else {
                self.failed.pop_back()
            };
            trimmed.extend(gone.map(|r| r.id));
        }
        trimmed
    }

    /// Adds a missed slot; returns the slots trimmed away.
    pub fn record_missed(&mut self, m: MissedSlot) -> Vec<MissedSlot> {
        self.summary.missed_count += 1;
        self.missed.push_front(m);
        let mut trimmed = Vec::new();
        while self.missed.len() > MISSED_COUNT {
            trimmed.extend(self.missed.pop_back());
        }
        trimmed
    }

    /// The last finished run, if any: (success, finished at).
    pub fn last_finished(&self) -> Option<(bool, f64)> {
        let ok = self.successful.front().map(|r| (true, r.finished_at));
        let failed = self.failed.front().map(|r| (false, r.finished_at));
        match (ok, failed) {
            (Some(a), Some(b)) => Some(if a.1 >= b.1 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: usize, success: bool) -> FinishedRun {
        FinishedRun {
            id: format!("r{id}"),
            created_at: id as f64,
            finished_at: id as f64 + 0.5,
            tasks: vec![format!("t{id}")],
            success,
            reason: None,
        }
    }

    #[test]
    fn counts_and_last_times() {
        let mut h = History::default();
        h.record_run(run(1, true));
        h.record_run(run(2, false));
        h.record_run(run(3, true));
        assert_eq!(h.summary.success_count, 2);
        assert_eq!(h.summary.failure_count, 1);
        assert_eq!(h.summary.last_success_at, Some(3.5));
        assert_eq!(h.summary.last_failure_at, Some(2.5));
        assert_eq!(h.successful.front().map(|r| r.id.as_str()), Some("r3"));
        assert_eq!(h.last_finished(), Some((true, 3.5)));
    }

    #[test]
    fn keeps_the_newest_runs_but_counts_all() {
        let mut h = History::default();
        let mut trimmed = Vec::new();
        for i in 0..HISTORY_COUNT + 5 {
            trimmed.extend(h.record_run(run(i, i % 3 != 0)));
        }
        assert_eq!(h.successful.len() + h.failed.len(), HISTORY_COUNT);
        assert_eq!(trimmed, vec!["r0", "r1", "r2", "r3", "r4"]);
        assert_eq!(
            h.summary.success_count + h.summary.failure_count,
            HISTORY_COUNT as u64 + 5
        );
    }

    #[test]
    fn missed_slots_are_capped() {
        let mut h = History::default();
        for i in 0..MISSED_COUNT + 2 {
            h.record_missed(MissedSlot {
                schedule_id: "s".into(),
                slot: i as i64,
                recorded_at: 0.0,
                reason: MissReason::DeadlineExceeded,
            });
        }
        assert_eq!(h.missed.len(), MISSED_COUNT);
        assert_eq!(h.summary.missed_count, MISSED_COUNT as u64 + 2);
        assert_eq!(h.missed.back().map(|m| m.slot), Some(2));
    }
}
