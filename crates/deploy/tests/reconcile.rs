//! Data-driven steady state: a run spec, its instances and backoff, and the answer of
//! `reconcile` rendered as text.
//!
//! First line: `<spec words> [now=t] [backoff=<next_launch_at>]`; the other lines are
//! instances (see `common`).

#![allow(clippy::unwrap_used)]

mod common;

use common::{instance, lines, spec};
use expect_test::{Expect, expect};
use keel_deploy::{BackoffState, Reconcile, reconcile};

fn render(r: &Reconcile) -> String {
    let mut out = String::new();
    let mut list = |name: &str, ids: &[String]| {
        if !ids.is_empty() {
            out += &format!("{name}: {}\n", ids.join(" "));
        }
    };
    list("kill", &r.kill);
    list("expunge", &r.expunge);
    list("mark_inactive", &r.mark_inactive);
    if r.launch > 0 {
        out += &format!("launch: {}\n", r.launch);
    }
    if let Some(t) = r.next_wakeup {
        out += &format!("wake at {t}\n");
    }
    if out.is_empty() {
        out += "steady\n";
    }
    out
}

fn check(input: &str, expect: Expect) {
    let mut lines = lines(input);
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let (mut now, mut backoff) = (100.0, BackoffState::default());
    let words: Vec<&str> = head
        .iter()
        .copied()
        .filter(|w| {
            if let Some(t) = w.strip_prefix("now=") {
                now = t.parse().unwrap();
            } else if let Some(t) = w.strip_prefix("backoff=") {
                backoff.next_launch_at = t.parse().unwrap();
                backoff.delay = 1.0;
                backoff.last_failure_at = Some(0.0);
            } else {
                return true;
            }
            false
        })
        .collect();
    let spec = spec(&words);
    let instances: Vec<_> = lines.map(instance).collect();
    expect.assert_eq(&render(&reconcile(&spec, &instances, &backoff, now)));
}

#[test]
fn steady_when_exactly_n_count() {
    check("/app n=2\na 1 running\nb 1 staging", expect!["steady\n"]);
}

#[test]
fn ended_instances_are_replaced_and_expunged() {
    check(
        "/app n=3
         a 1 running
         b 1 failed
         c 1 finished
         d 1 killed goal=decommissioned",
        expect![[r#"
            expunge: b c d
            launch: 2
        "#]],
    );
}

#[test]
fn backoff_holds_replacements_back() {
    check(
        "/app n=2 backoff=130
         a 1 running
         b 1 failed",
        expect![[r#"
            expunge: b
            wake at 130
        "#]],
    );
}

#[test]
fn extras_are_killed_in_kill_order() {
    check(
        "/app n=1
         a 1 running staged=1
         b 1 running staged=5
         c 1 starting staged=2",
        expect![[r#"
            kill: c b
        "#]],
    );
}

#[test]
fn kill_without_scale_is_replaced() {
    check("/app n=1\na 1 killing", expect!["launch: 1\n"]);
}

#[test]
fn unreachable_default_replaces_at_once_and_forgets() {
    check(
        "/app n=1
         a 1 unreachable since=99",
        expect![[r#"
            expunge: a
            launch: 1
        "#]],
    );
}

#[test]
fn unreachable_waits_inactive_after_then_replaces() {
    check(
        "/app n=1 unreachable=60,300 now=100
         a 1 unreachable since=50",
        expect!["wake at 110\n"],
    );
    check(
        "/app n=1 unreachable=60,300 now=120
         a 1 unreachable since=50",
        expect![[r#"
            mark_inactive: a
            launch: 1
            wake at 350
        "#]],
    );
    check(
        "/app n=1 unreachable=60,300 now=400
         a 1 inactive since=50
         b 1 running",
        expect![[r#"
            expunge: a
        "#]],
    );
}

#[test]
fn replaced_instance_that_returns_is_killed_after_expunge_after() {
    check(
        "/app n=1 unreachable=60,300 now=200
         a 1 running since=50
         b 1 running",
        expect!["wake at 350\n"],
    );
    check(
        "/app n=1 unreachable=60,300 now=360
         a 1 running since=50
         b 1 running",
        expect![[r#"
            kill: a
        "#]],
    );
}

#[test]
fn disabled_waits_for_the_agent() {
    check(
        "/app n=1 unreachable=disabled\na 1 unreachable since=0",
        expect!["steady\n"],
    );
}

#[test]
fn resident_instances_keep_their_reservation() {
    check(
        "/app n=2 resident
         a 1 running
         b 1 killed goal=stopped
         c 1 failed
         d 1 killed goal=decommissioned",
        expect![[r#"
            expunge: d
            launch: 1
        "#]],
    );
}
