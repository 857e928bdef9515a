//! Data-driven launch backoff: a script of events applied to a `BackoffState`, the state
//! after each rendered as text.
//!
//! Script lines: `<t> fail|killed|finished|gone|reset|maybe_reset`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{condition, lines};
use expect_test::{Expect, expect};
use keel_deploy::{BackoffPolicy, BackoffState};

fn check(policy: BackoffPolicy, script: &str, expect: Expect) {
    let mut state = BackoffState::default();
    let mut out = String::new();
    for line in lines(script) {
        let (t, event) = line.split_once(' ').unwrap();
        let now: f64 = t.parse().unwrap();
        match event {
            "reset" => state.reset(),
            "maybe_reset" => {
                state.maybe_reset(&policy, now);
            }
            "fail" => state.on_failure(&policy, now),
            other => {
                state.on_condition(&policy, condition(other), now);
            }
        }
        out += &format!(
            "{t} {event}: delay {:.3} ready {} left {:.3}\n",
            state.delay,
            state.ready(now),
            state.time_left(now)
        );
    }
    expect.assert_eq(&out);
}

#[test]
fn failures_multiply_the_delay_up_to_the_max() {
    let policy = BackoffPolicy {
        seconds: 1.0,
        factor: 2.0,
        max_launch_delay: 5.0,
    };
    check(
        policy,
        "0 failed
         1 finished
         2 gone
         3 fail
         4 fail",
        expect![[r#"
            0 failed: delay 1.000 ready false left 1.000
            1 finished: delay 2.000 ready false left 2.000
            2 gone: delay 4.000 ready false left 4.000
            3 fail: delay 5.000 ready false left 5.000
            4 fail: delay 5.000 ready false left 5.000
        "#]],
    );
}

#[test]
fn kills_do_not_count() {
    check(
        BackoffPolicy::default(),
        "0 killed\n1 unknown\n2 failed\n3 killed",
        expect![[r#"
            0 killed: delay 0.000 ready true left 0.000
            1 unknown: delay 0.000 ready true left 0.000
            2 failed: delay 1.000 ready false left 1.000
            3 killed: delay 1.000 ready true left 0.000
        "#]],
    );
}

#[test]
fn reset_by_new_version_or_delete_delay() {
    check(
        BackoffPolicy::default(),
        "0 failed\n0 reset",
        expect![[r#"
        0 failed: delay 1.000 ready false left 1.000
        0 reset: delay 0.000 ready true left 0.000
    "#]],
    );
}

#[test]
fn quiet_period_resets_after_delay_plus_max() {
    let policy = BackoffPolicy {
        seconds: 10.0,
        factor: 2.0,
        max_launch_delay: 100.0,
    };
    check(
        policy,
        "0 failed
         100 maybe_reset
         110 maybe_reset
         111 failed",
        expect![[r#"
            0 failed: delay 10.000 ready false left 10.000
            100 maybe_reset: delay 10.000 ready true left 0.000
            110 maybe_reset: delay 0.000 ready true left 0.000
            111 failed: delay 10.000 ready false left 10.000
        "#]],
    );
}

#[test]
fn default_policy_is_marathons() {
    let p = BackoffPolicy::default();
    assert_eq!(
        (p.seconds, p.factor, p.max_launch_delay),
        (1.0, 1.15, 300.0)
    );
}
