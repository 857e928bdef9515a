//! Data-driven action execution: an action with its run spec, the instances, and the
//! answer of `advance` rendered as text.
//!
//! First line: `<start|stop|scale|restart> <spec words> [sentenced=a,b] [now=t]`; the
//! other lines are instances (see `common`).

#![allow(clippy::unwrap_used)]

mod common;

use common::{World, instance, lines, render_progress, spec, upgrade};
use expect_test::{Expect, expect};
use keel_deploy::{Action, ActionKind, RunSpec, RunSpecKind, Verb, advance};

fn parse(input: &str) -> (Action, Option<RunSpec>, Vec<keel_deploy::Instance>, f64) {
    let mut lines = lines(input);
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let verb = match head[0] {
        "start" => Verb::Start,
        "stop" => Verb::Stop,
        "scale" => Verb::Scale,
        "restart" => Verb::Restart,
        other => panic!("unknown verb {other}"),
    };
    let (mut sentenced, mut now) = (Vec::new(), 100.0);
    let words: Vec<&str> = head[1..]
        .iter()
        .copied()
        .filter(|w| {
            if let Some(ids) = w.strip_prefix("sentenced=") {
                sentenced = ids.split(',').map(str::to_string).collect();
                false
            } else if let Some(t) = w.strip_prefix("now=") {
                now = t.parse().unwrap();
                false
            } else {
                true
            }
        })
        .collect();
    let spec = spec(&words);
    let mut action = Action::new(ActionKind::new(verb, spec.kind), &spec.id);
    action.sentenced = sentenced;
    let spec = (verb != Verb::Stop).then_some(spec);
    (action, spec, lines.map(instance).collect(), now)
}

fn check(input: &str, expect: Expect) {
    let (action, spec, instances, now) = parse(input);
    let progress = advance(&action, spec.as_ref(), &instances, now).unwrap();
    // Idempotence: once the answer is recorded, the same question asks for nothing more.
    let mut world = World::new(
        spec.clone().unwrap_or_else(|| RunSpec::app("/app")),
        instances,
    );
    world.apply(&progress);
    let again = advance(&action, spec.as_ref(), &world.instances, now).unwrap();
    assert!(
        again.kill.is_empty() && again.expunge.is_empty() && again.launch == 0,
        "{again:?}"
    );
    expect.assert_eq(&render_progress(&progress));
}

#[test]
fn start_is_done_at_once() {
    check("start /app n=3", expect!["done\n"]);
}

#[test]
fn stop_kills_everything_and_waits_for_it() {
    check(
        "stop /app
         a 1 running
         b 1 staging
         c 1 killing goal=decommissioned
         d 1 failed
         e 1 unreachable since=50
         f 1 inactive since=50 goal=decommissioned
         x 1 running of=/other",
        expect![[r#"
            kill: a b (Decommissioned)
            expunge: e f
            waiting
        "#]],
    );
    check("stop /app\nd 1 failed\nk 1 killed", expect!["done\n"]);
}

#[test]
fn scale_up_launches_the_shortfall_counting_what_is_coming_up() {
    check(
        "scale /app n=4
         a 1 running
         b 1 provisioned
         c 1 killing goal=decommissioned
         d 1 failed",
        expect![[r#"
            launch: 2
            waiting
        "#]],
    );
}

#[test]
fn scale_down_kills_in_condition_order_youngest_first() {
    check(
        "scale /app n=2 unreachable=600,1200
         r1 1 running staged=1 started=2
         r2 1 running staged=3 started=4
         st 1 staging staged=9
         sa 1 starting staged=5
         un 1 unreachable since=99 staged=0",
        expect![[r#"
            kill: st sa (Decommissioned)
            expunge: un
            waiting
        "#]],
    );
}

#[test]
fn scale_down_oldest_first() {
    check(
        "scale /app n=1 kill=oldest
         r1 1 running staged=1 started=2
         r2 1 running staged=3 started=4
         r3 1 running staged=0 started=6",
        expect![[r#"
            kill: r1 r2 (Decommissioned)
            waiting
        "#]],
    );
}

#[test]
fn provisioned_instances_rank_with_everything_else_after_running() {
    check(
        "scale /app n=1
         p 1 provisioned staged=1
         r 1 running staged=1 started=3
         k 1 running staged=5 started=5",
        expect![[r#"
            kill: k r (Decommissioned)
            waiting
        "#]],
    );
}

#[test]
fn sentenced_instances_go_first_and_are_replaced_if_needed() {
    check(
        "scale /app n=2 sentenced=a
         a 1 running staged=1
         b 1 running staged=2",
        expect![[r#"
            kill: a (Decommissioned)
            launch: 1
            waiting
        "#]],
    );
}

#[test]
fn inactive_and_expired_unreachable_do_not_count() {
    check(
        "scale /app n=2 unreachable=60,600 now=100
         a 1 running
         b 1 inactive since=10
         c 1 unreachable since=30",
        expect![[r#"
            launch: 1
            waiting
        "#]],
    );
}

#[test]
fn scale_is_done_when_exactly_n_serve() {
    check(
        "scale /app n=2 checks\na 1 running ok\nb 1 running ok",
        expect!["done\n"],
    );
    check(
        "scale /app n=2 checks\na 1 running ok\nb 1 running",
        expect!["waiting\n"],
    );
    check(
        "scale /app n=2 readiness\na 1 running\nb 1 running unready",
        expect!["waiting\n"],
    );
    check(
        "scale /app n=1\na 1 running\nb 1 killing goal=decommissioned",
        expect!["waiting\n"],
    );
}

#[test]
fn restart_default_starts_all_new_beside_the_old() {
    check(
        "restart /app n=3 cfg=2
         o1 1 running staged=1
         o2 1 running staged=2
         o3 1 running staged=3",
        expect![[r#"
            launch: 3
            waiting
        "#]],
    );
}

#[test]
fn restart_kills_one_old_per_new_healthy_and_ready() {
    check(
        "restart /app n=3 cfg=2 readiness
         o1 1 running staged=1
         o2 1 running staged=2
         o3 1 running staged=3
         n1 2 running
         n2 2 running unready
         n3 2 staging",
        expect![[r#"
            kill: o3 (Decommissioned)
            waiting
        "#]],
    );
}

#[test]
fn restart_min_health_zero_kills_all_old_first() {
    check(
        "restart /app n=3 cfg=2 minhc=0 maxoc=0
         o1 1 running
         o2 1 running
         o3 1 running",
        expect![[r#"
            kill: o1 o2 o3 (Decommissioned)
            waiting
        "#]],
    );
}

#[test]
fn restart_half_health_scales_old_down_then_brings_new_up() {
    check(
        "restart /app n=4 cfg=2 minhc=0.5 maxoc=0
         o1 1 running staged=1
         o2 1 running staged=2
         o3 1 running staged=3
         o4 1 running staged=4",
        expect![[r#"
            kill: o4 o3 (Decommissioned)
            waiting
        "#]],
    );
    check(
        "restart /app n=4 cfg=2 minhc=0.5 maxoc=0
         o1 1 running staged=1
         o2 1 running staged=2",
        expect![[r#"
            launch: 2
            waiting
        "#]],
    );
}

#[test]
fn restart_full_health_no_overcapacity_allows_one_extra() {
    check(
        "restart /app n=2 cfg=2 maxoc=0
         o1 1 running
         o2 1 running",
        expect![[r#"
            launch: 1
            waiting
        "#]],
    );
}

#[test]
fn restart_resident_goes_one_below_instead() {
    check(
        "restart /app n=2 cfg=2 maxoc=0 resident
         o1 1 running staged=1
         o2 1 running staged=2",
        expect![[r#"
            kill: o2 (Stopped)
            waiting
        "#]],
    );
}

#[test]
fn restart_kills_unhealthy_old_before_healthy() {
    check(
        "restart /app n=3 cfg=2 checks minhc=0.5
         o1 1 running ok staged=1
         o2 1 running sick staged=2
         o3 1 running ok staged=3
         n1 2 running ok",
        expect![[r#"
            kill: o2 o3 (Decommissioned)
            launch: 2
            waiting
        "#]],
    );
}

#[test]
fn restart_that_also_scales_down_kills_the_extra_old() {
    check(
        "restart /app n=2 cfg=2 checks
         o1 1 running sick staged=1
         o2 1 running ok staged=2
         o3 1 running ok staged=3",
        expect![[r#"
            kill: o1 (Decommissioned)
            launch: 1
            waiting
        "#]],
    );
}

#[test]
fn restart_is_done_when_all_new_serve_and_no_old_is_left() {
    check(
        "restart /app n=2 cfg=2
         o1 1 killed goal=decommissioned
         n1 2 running
         n2 2 running",
        expect!["done\n"],
    );
    check(
        "restart /app n=2 cfg=2
         o1 1 killing goal=decommissioned
         n1 2 running
         n2 2 running",
        expect!["waiting\n"],
    );
}

#[test]
fn restart_relaunches_a_new_instance_that_failed() {
    check(
        "restart /app n=2 cfg=2
         n1 2 running
         n2 2 failed",
        expect![[r#"
            launch: 1
            waiting
        "#]],
    );
}

#[test]
fn restart_expunges_old_instances_already_replaced_as_unreachable() {
    check(
        "restart /app n=1 cfg=2
         o1 1 inactive since=10
         n1 2 running",
        expect![[r#"
            expunge: o1
            waiting
        "#]],
    );
}

#[test]
fn pods_use_pod_actions() {
    let (action, ..) = parse("scale /p pod n=1");
    assert_eq!(action.kind, ActionKind::ScalePod);
    assert_eq!(action.kind.run_spec_kind(), RunSpecKind::Pod);
}

#[test]
fn missing_run_spec_is_an_error() {
    let action = Action::new(ActionKind::RestartApplication, "/app");
    let err = advance(&action, None, &[], 0.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "RestartApplication of /app needs the target run spec"
    );
}

/// A whole default rolling restart, recorded step by step.
#[test]
fn transcript_of_a_default_rolling_restart() {
    let mut s = spec(&["/app", "n=2", "cfg=2"]);
    s.upgrade = upgrade(1.0, 1.0);
    let mut world = World::rolling(s.clone(), 2, "1");
    let action = Action::new(ActionKind::RestartApplication, "/app");
    let mut log = String::new();
    for round in 1..=6 {
        let p = advance(&action, Some(&s), &world.instances, world.now).unwrap();
        log += &format!("{round}. {}", render_progress(&p).replace('\n', "; "));
        log += &format!("=> {}\n", world.summary());
        if p.done {
            break;
        }
        world.apply(&p);
        // Kills finish, and only the first launched instance comes up each round.
        let first = world
            .instances
            .iter()
            .find(|i| i.id.starts_with('n'))
            .map(|i| i.id.clone());
        world.settle(|_| true, |id| Some(id.to_string()) == first || round > 2);
    }
    expect![[r#"
        1. launch: 2; waiting; => o0:Running o1:Running
        2. kill: o1 (Decommissioned); waiting; => n1:Running n2:Provisioned o0:Running o1:Running
        3. waiting; => n1:Running n2:Provisioned o0:Running
        4. kill: o0 (Decommissioned); waiting; => n1:Running n2:Running o0:Running
        5. done; => n1:Running n2:Running
    "#]]
    .assert_eq(&log);
}
