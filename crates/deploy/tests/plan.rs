//! Data-driven plan construction: two root groups written as text, the plan rendered one
//! step per line (or the error), compared with an inline expectation.
//!
//! Lines: `old <spec words>`, `new <spec words>` (see `common`), `restart <id>`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{lines, spec};
use expect_test::{Expect, expect};
use keel_deploy::{DeploymentPlan, RootGroup, conflicts, plan, rollback};
use std::collections::{BTreeMap, BTreeSet};

fn groups(text: &str) -> (RootGroup, RootGroup, BTreeSet<String>) {
    let (mut old, mut new, mut restart) = (Vec::new(), Vec::new(), BTreeSet::new());
    for line in lines(text) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w[0] {
            "old" => old.push(spec(&w[1..])),
            "new" => new.push(spec(&w[1..])),
            "restart" => {
                restart.insert(w[1].to_string());
            }
            other => panic!("unknown line {other}"),
        }
    }
    (RootGroup::new(old), RootGroup::new(new), restart)
}

fn make(text: &str) -> DeploymentPlan {
    let (old, new, restart) = groups(text);
    plan(&old, &new, &restart, "d1".into(), "v1".into()).unwrap()
}

fn check(input: &str, expect: Expect) {
    let (old, new, restart) = groups(input);
    let actual = match plan(&old, &new, &restart, "d1".into(), "v1".into()) {
        Ok(p) if p.is_empty() => "no steps\n".to_string(),
        Ok(p) => p.to_string(),
        Err(e) => format!("error: {e}\n"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn new_app_is_started_at_zero_then_scaled() {
    check(
        "new /a n=3",
        expect![[r#"
            1. StartApplication /a
            2. ScaleApplication /a
        "#]],
    );
}

#[test]
fn removed_specs_stop_in_one_first_step() {
    check(
        "old /a
         old /p pod
         new /b",
        expect![[r#"
            1. StopApplication /a, StopPod /p
            2. StartApplication /b
            3. ScaleApplication /b
        "#]],
    );
}

#[test]
fn instances_only_change_scales_config_change_restarts() {
    check(
        "old /a n=1
         old /b n=1
         old /c n=1
         new /a n=5
         new /b n=1 cfg=2
         new /c n=0 cfg=2",
        expect![[r#"
            1. ScaleApplication /a, RestartApplication /b, RestartApplication /c
        "#]],
    );
}

#[test]
fn version_only_change_needs_nothing() {
    check("old /a v=1\nnew /a v=2", expect!["no steps\n"]);
}

#[test]
fn forced_restart_needs_a_new_config_version() {
    check(
        "old /a\nnew /a cfg=2\nrestart /a",
        expect![[r#"
            1. RestartApplication /a
        "#]],
    );
    check(
        "old /a\nnew /a\nrestart /a",
        expect![[r#"
            error: restart of /a needs a new config_version (still 1)
        "#]],
    );
}

#[test]
fn dependencies_order_steps_by_longest_path() {
    check(
        "new /db
         new /cache
         new /api deps=/db,/cache
         new /web deps=/api
         new /worker deps=/db",
        expect![[r#"
            1. StartApplication /api, StartApplication /cache, StartApplication /db, StartApplication /web, StartApplication /worker
            2. ScaleApplication /cache, ScaleApplication /db
            3. ScaleApplication /api, ScaleApplication /worker
            4. ScaleApplication /web
        "#]],
    );
}

#[test]
fn unchanged_dependencies_still_count_for_the_level() {
    check(
        "old /db
         old /api deps=/db
         new /db
         new /api deps=/db
         new /web deps=/api",
        expect![[r#"
            1. StartApplication /web
            2. ScaleApplication /web
        "#]],
    );
    check(
        "old /db
         old /api deps=/db
         old /web
         new /db cfg=2
         new /api deps=/db
         new /web cfg=2",
        expect![[r#"
            1. RestartApplication /db, RestartApplication /web
        "#]],
    );
}

#[test]
fn group_dependency_means_every_run_spec_under_it() {
    check(
        "new /back/db
         new /back/queue deps=/back/db
         new /backup
         new /front/web deps=/back",
        expect![[r#"
            1. StartApplication /back/db, StartApplication /back/queue, StartApplication /backup, StartApplication /front/web
            2. ScaleApplication /back/db, ScaleApplication /backup
            3. ScaleApplication /back/queue
            4. ScaleApplication /front/web
        "#]],
    );
}

#[test]
fn cycles_are_refused_with_their_path() {
    check(
        "new /a deps=/c\nnew /b deps=/a\nnew /c deps=/b",
        expect![[r#"
            error: dependency cycle /a -> /c -> /b -> /a
        "#]],
    );
    check(
        "new /g/a deps=/g",
        expect![[r#"
            error: dependency cycle /g/a -> /g/a
        "#]],
    );
}

#[test]
fn affected_ids_are_sorted_and_split_by_kind() {
    let p = make("old /z\nnew /b n=2\nnew /p pod");
    assert_eq!(p.affected(), ["/b", "/p", "/z"]);
    assert_eq!(p.affected_apps(), ["/b", "/z"]);
    assert_eq!(p.affected_pods(), ["/p"]);
    assert!(p.affects("/b") && p.affects("/z") && !p.affects("/q") && !p.affects("/"));
}

#[test]
fn action_names_render_as_marathon() {
    let p = make("new /p pod");
    let json = serde_json::to_value(&p.steps).unwrap();
    expect![[r#"[{"actions":[{"kind":"StartPod","run_spec":"/p"}]},{"actions":[{"kind":"ScalePod","run_spec":"/p"}]}]"#]]
        .assert_eq(&json.to_string());
}

#[test]
fn conflicts_name_running_plans_sharing_a_run_spec() {
    let a = make("old /a\nnew /a n=2");
    let mut b = make("old /a\nold /b\nnew /a cfg=2\nnew /b cfg=2");
    b.id = "d2".into();
    let mut c = make("old /c\nnew /c n=3");
    c.id = "d3".into();
    assert_eq!(conflicts(&a, [&a, &b, &c]), ["d2"]);
    assert!(conflicts(&c, [&a, &b]).is_empty());
}

#[test]
fn rollback_restores_the_original_from_the_current_state() {
    let deploy = make(
        "old /a n=2 cfg=1
         old /gone
         new /a n=2 cfg=2
         new /added",
    );
    // Since then another deployment changed /other; the rollback leaves it alone.
    let mut current = deploy.target.clone();
    current
        .run_specs
        .insert("/other".into(), spec(&["/other", "n=4"]));
    let back = rollback(&deploy, &current, "d9".into(), "v9".into()).unwrap();
    expect![[r#"
        1. StopApplication /added
        2. StartApplication /gone
        3. RestartApplication /a, ScaleApplication /gone
    "#]]
    .assert_eq(&back.to_string());
    assert_eq!(back.target.get("/a"), deploy.original.get("/a"));
    // The plan holds only what differs: /other is untouched, /added is to go.
    assert!(back.target.get("/other").is_none() && back.original.get("/other").is_none());
    assert!(back.target.get("/added").is_none() && back.original.get("/added").is_some());
}

#[test]
fn a_plan_holds_only_the_run_specs_that_differ() {
    let p = make(
        "old /a n=1
         old /same
         old /gone
         new /a n=2
         new /same
         new /added",
    );
    let ids = |g: &RootGroup| g.run_specs.keys().cloned().collect::<Vec<_>>();
    assert_eq!(ids(&p.original), ["/a", "/gone"]);
    assert_eq!(ids(&p.target), ["/a", "/added"]);
}

#[test]
fn sentenced_instances_ride_on_scale_actions() {
    let p = make("old /a n=3\nnew /a n=1").with_sentenced(&BTreeMap::from([(
        "/a".to_string(),
        vec!["i1".to_string(), "i2".to_string()],
    )]));
    assert_eq!(p.steps[0].actions[0].sentenced, ["i1", "i2"]);
}
