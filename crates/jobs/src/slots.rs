//! Which schedule slots fire: given the last decided slot (the cursor), `now`, the
//! schedule's deadline and concurrency policy, every slot since the cursor is decided
//! exactly once — fired, or recorded as missed with a reason.
//!
//! The caller persists the new cursor together with the decisions (one transaction) before
//! launching anything, so a slot is decided once even across restarts.

use crate::cron::CronSchedule;
use serde::{Deserialize, Serialize};

/// ALLOW or FORBID overlapping runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ConcurrencyPolicy {
    #[default]
    Allow,
    Forbid,
}

/// The knobs of one schedule that decisions depend on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotParams {
    /// A slot may still start this many seconds after its time.
    pub starting_deadline_secs: i64,
    pub policy: ConcurrencyPolicy,
    pub enabled: bool,
}

/// Why a slot did not fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MissReason {
    /// Its starting deadline passed before it could be considered (e.g. the master was down).
    DeadlineExceeded,
    /// A later slot was due at the same time; only the latest due slot runs.
    Superseded,
    /// concurrencyPolicy FORBID and the job had an active run.
    ConcurrencyForbidden,
}

/// The fate of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotDecision {
    Fire { slot: i64 },
    Missed { slot: i64, reason: MissReason },
}

/// What one evaluation decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPlan {
    /// In slot order. At most one `Fire`.
    pub decisions: Vec<SlotDecision>,
    /// Missed slots beyond [`MAX_RECORDED`] that were only counted.
    pub unrecorded_missed: u64,
    /// The cursor to persist: every slot at or before it is decided.
    pub cursor: i64,
    /// The next slot after the cursor, if any: when to evaluate again.
    pub next_slot: Option<i64>,
}

/// Missed slots recorded individually per evaluation; older ones are only counted.
pub const MAX_RECORDED: usize = 100;
/// Slots enumerated per evaluation at most (a long outage of a per-minute schedule).
const MAX_ENUMERATED: usize = 100_000;

/// Decides every slot in `(cursor, now]`. `job_active` says whether the job has a run that
/// has not finished (for FORBID). A disabled schedule decides nothing and moves the cursor
/// to `now`: slots while disabled are neither run nor reported.
pub fn plan_slots(
    cron: &CronSchedule,
    p: SlotParams,
    cursor: i64,
    now: i64,
    job_active: bool,
) -> SlotPlan {
    if !p.enabled {
        let cursor = cursor.max(now);
        return SlotPlan {
            decisions: Vec::new(),
            unrecorded_missed: 0,
            cursor,
            next_slot: cron.next_after(cursor),
        };
    }
    let mut due = Vec::new();
    let mut t = cursor;
    while due.len() < MAX_ENUMERATED {
        match cron.next_after(t) {
            Some(s) if s <= now => {
                due.push(s);
                t = s;
            }
            _ => break,
        }
    }
    let new_cursor = due.last().copied().unwrap_or(cursor).max(cursor);
    let mut decisions: Vec<SlotDecision> = Vec::with_capacity(due.len().min(MAX_RECORDED + 1));
    let last = due.len().checked_sub(1);
    let mut unrecorded = 0u64;
    for (i, &slot) in due.iter().enumerate() {
        let decision = decide_one(slot, Some(i) == last, p, now, job_active);
        let recordable = due.len() - i <= MAX_RECORDED + 1;
        if matches!(decision, SlotDecision::Fire { .. }) || recordable {
            decisions.push(decision);
        } else {
            unrecorded += 1;
        }
    }
    SlotPlan {
        decisions,
        unrecorded_missed: unrecorded,
        cursor: new_cursor,
        next_slot: cron.next_after(new_cursor),
    }
}

fn decide_one(slot: i64, latest: bool, p: SlotParams, now: i64, job_active: bool) -> SlotDecision {
    let in_time = now - slot <= p.starting_deadline_secs;
    let reason = if !in_time {
        MissReason::DeadlineExceeded
    } else if !latest {
        MissReason::Superseded
    } else if p.policy == ConcurrencyPolicy::Forbid && job_active {
        MissReason::ConcurrencyForbidden
    } else {
        return SlotDecision::Fire { slot };
    };
    SlotDecision::Missed { slot, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::CronSyntax;

    const T0: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

    fn every_minute() -> CronSchedule {
        CronSchedule::parse("* * * * *", "UTC", CronSyntax::Metronome).unwrap()
    }

    fn params(deadline: i64, policy: ConcurrencyPolicy) -> SlotParams {
        SlotParams {
            starting_deadline_secs: deadline,
            policy,
            enabled: true,
        }
    }

    /// Renders decisions as `+offset:outcome` relative to T0 for compact expectations.
    fn render(p: &SlotPlan) -> String {
        let d: Vec<String> = p
            .decisions
            .iter()
            .map(|d| match d {
                SlotDecision::Fire { slot } => format!("+{}:fire", slot - T0),
                SlotDecision::Missed { slot, reason } => format!("+{}:{reason:?}", slot - T0),
            })
            .collect();
        format!(
            "[{}] cursor=+{} next=+{} unrecorded={}",
            d.join(" "),
            p.cursor - T0,
            p.next_slot.map(|n| n - T0).unwrap_or(-1),
            p.unrecorded_missed
        )
    }

    fn check(cursor: i64, now: i64, p: SlotParams, active: bool, expect: &str) {
        let plan = plan_slots(&every_minute(), p, T0 + cursor, T0 + now, active);
        assert_eq!(render(&plan), expect);
    }

    #[test]
    fn nothing_due_before_the_slot() {
        check(
            0,
            59,
            params(900, ConcurrencyPolicy::Allow),
            false,
            "[] cursor=+0 next=+60 unrecorded=0",
        );
    }

    #[test]
    fn a_slot_fires_on_time_and_moves_the_cursor() {
        check(
            0,
            60,
            params(900, ConcurrencyPolicy::Allow),
            false,
            "[+60:fire] cursor=+60 next=+120 unrecorded=0",
        );
        // Evaluating again at the same time decides nothing new (exactly once).
        check(
            60,
            60,
            params(900, ConcurrencyPolicy::Allow),
            false,
            "[] cursor=+60 next=+120 unrecorded=0",
        );
    }

    #[test]
    fn a_late_slot_within_its_deadline_fires() {
        check(
            0,
            100,
            params(60, ConcurrencyPolicy::Allow),
            false,
            "[+60:fire] cursor=+60 next=+120 unrecorded=0",
        );
    }

    #[test]
    fn a_slot_past_its_deadline_is_missed() {
        check(
            0,
            150,
            params(60, ConcurrencyPolicy::Allow),
            true,
            "[+60:DeadlineExceeded +120:fire] cursor=+120 next=+180 unrecorded=0",
        );
        check(
            0,
            119,
            params(30, ConcurrencyPolicy::Allow),
            false,
            "[+60:DeadlineExceeded] cursor=+60 next=+120 unrecorded=0",
        );
    }

    #[test]
    fn only_the_latest_due_slot_fires_after_an_outage() {
        check(
            0,
            200,
            params(900, ConcurrencyPolicy::Allow),
            false,
            "[+60:Superseded +120:Superseded +180:fire] cursor=+180 next=+240 unrecorded=0",
        );
    }

    #[test]
    fn forbid_skips_while_a_run_is_active() {
        check(
            0,
            60,
            params(900, ConcurrencyPolicy::Forbid),
            true,
            "[+60:ConcurrencyForbidden] cursor=+60 next=+120 unrecorded=0",
        );
        check(
            0,
            60,
            params(900, ConcurrencyPolicy::Forbid),
            false,
            "[+60:fire] cursor=+60 next=+120 unrecorded=0",
        );
        check(
            0,
            60,
            params(900, ConcurrencyPolicy::Allow),
            true,
            "[+60:fire] cursor=+60 next=+120 unrecorded=0",
        );
    }

    #[test]
    fn disabled_schedules_decide_nothing() {
        let p = SlotParams {
            enabled: false,
            ..params(900, ConcurrencyPolicy::Allow)
        };
        check(0, 200, p, false, "[] cursor=+200 next=+240 unrecorded=0");
    }

    #[test]
    fn long_outages_record_a_bounded_number_of_misses() {
        // A day down with a per-minute schedule: 1440 slots, the last fires if in time.
        let plan = plan_slots(
            &every_minute(),
            params(900, ConcurrencyPolicy::Allow),
            T0,
            T0 + 86_400,
            false,
        );
        assert_eq!(plan.decisions.len(), MAX_RECORDED + 1);
        assert_eq!(plan.unrecorded_missed, 1440 - MAX_RECORDED as u64 - 1);
        assert_eq!(
            plan.decisions.last(),
            Some(&SlotDecision::Fire { slot: T0 + 86_400 })
        );
        assert_eq!(plan.cursor, T0 + 86_400);
    }
}
