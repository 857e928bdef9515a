//! Unit tests of the service on the harness (`testing.rs`): writes through the router,
//! scheduler passes run by hand on a manual clock, and the moves they make (launches,
//! refusals, kills) as snapshots. No process, no socket.

use crate::testing::{Harness, T0};
use expect_test::{Expect, expect};
use keel_model::TaskState;
use serde_json::{Value, json};

fn app(id: &str, instances: u32) -> Value {
    json!({"id": id, "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": instances,
        "portDefinitions": []})
}

/// `app` with more fields.
fn app_with(id: &str, instances: u32, more: Value) -> Value {
    let mut a = app(id, instances);
    if let (Some(a), Some(more)) = (a.as_object_mut(), more.as_object()) {
        a.extend(more.clone());
    }
    a
}

/// Passes until settled, with the moves of each pass on its own line group (`--` between
/// passes that moved).
fn passes(h: &Harness, healthy: Option<bool>) -> String {
    let mut out = Vec::new();
    for _ in 0..50 {
        let moves = h.tick();
        let staging = !h.cluster.in_state(TaskState::Staging).is_empty();
        h.start_all(healthy);
        if moves.is_empty() && !staging && h.deployments() == 0 {
            return out.join("--\n");
        }
        if !moves.is_empty() {
            out.push(moves);
        }
    }
    panic!("not settled after 50 passes: {}", out.join("--\n"));
}

fn check(actual: &str, expect: Expect) {
    expect.assert_eq(actual);
}

/// A harness with `app` deployed and running healthy.
fn running(a: Value) -> Harness {
    let h = Harness::new();
    h.ok("POST", "/v2/apps", a, 201);
    h.settle(Some(true));
    h
}

#[test]
fn a_new_app_launches_its_instances_and_its_deployment_finishes() {
    let h = Harness::new();
    let v = h.ok("POST", "/v2/apps", app("/web", 3), 201);
    assert_eq!(v["instances"], 3);
    assert_eq!(h.deployments(), 1);
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            launch /web#1
            launch /web#2
            launch /web#3
        "#]],
    );
    assert_eq!(h.deployments(), 0);
    assert_eq!(h.cluster.live("/web").len(), 3);
    // Steady: another pass does nothing.
    assert_eq!(h.tick(), "");
}

#[test]
fn a_write_to_an_app_a_deployment_holds_is_409_with_the_deployments() {
    let h = Harness::new();
    h.ok("POST", "/v2/apps", app("/web", 2), 201);
    let (_, deployments) = h.send("GET", "/v2/deployments", None);
    let id = deployments[0]["id"].clone();
    let (code, body) = h.send("PUT", "/v2/apps/web", Some(json!({"instances": 5})));
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["deployments"], json!([{"id": id}]));
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("App is locked by one or more deployments."))
    );
    // With force the blocking deployment is cancelled and the new one runs alone.
    let (code, body) = h.send(
        "PUT",
        "/v2/apps/web?force=true",
        Some(json!({"instances": 5})),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(h.deployments(), 1);
    h.settle(Some(true));
    assert_eq!(h.cluster.live("/web").len(), 5);
}

#[test]
fn cancelling_an_unknown_deployment_is_404_in_marathons_words() {
    let h = Harness::new();
    let (code, body) = h.send("DELETE", "/v2/deployments/nope", None);
    assert_eq!(code, 404);
    assert_eq!(
        body,
        json!({"message": "DeploymentPlan nope does not exist"})
    );
}

#[test]
fn a_count_past_keels_limits_is_422_with_details_before_anything_is_stored() {
    let h = Harness::new();
    let (code, body) = h.send("POST", "/v2/apps", Some(app("/big", 10_001)));
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["message"], "Object is not valid");
    assert_eq!(body["details"][0]["path"], "/instances");
    assert_eq!(h.deployments(), 0);
    assert_eq!(h.tick(), "");
}

#[test]
fn a_dependency_cycle_is_422_and_a_path_both_app_and_pod_is_409() {
    let h = Harness::new();
    h.ok("POST", "/v2/apps", app("/a", 0), 201);
    h.settle(None);
    let (code, body) = h.send(
        "PUT",
        "/v2/groups",
        Some(json!({"id": "/", "apps": [
            app_with("/a", 0, json!({"dependencies": ["/b"]})),
            app_with("/b", 0, json!({"dependencies": ["/a"]})),
        ]})),
    );
    assert_eq!(code, 422, "{body}");
    let pod = json!({"id": "/a", "containers": [{"name": "c",
        "resources": {"cpus": 0.1, "mem": 32}, "exec": {"command": {"shell": "sleep 1"}}}]});
    let (code, body) = h.send("POST", "/v2/pods", Some(pod));
    assert_eq!(code, 409, "{body}");
}

#[test]
fn cancelling_a_deployment_rolls_back_and_force_just_stops() {
    let h = running(app("/web", 1));
    h.cluster.set_room(Some(0));
    let v = h.ok("PUT", "/v2/apps/web", json!({"instances": 3}), 200);
    let id = v["deploymentId"].as_str().unwrap_or_default().to_string();
    check(
        &h.tick(),
        expect![[r#"
            unplaced /web
            unplaced /web
        "#]],
    );
    let (code, back) = h.send("DELETE", &format!("/v2/deployments/{id}"), None);
    assert_eq!(code, 200, "{back}");
    assert_ne!(back["deploymentId"], id.as_str());
    let (_, a) = h.send("GET", "/v2/apps/web", None);
    assert_eq!(a["app"]["instances"], 1);
    h.settle(Some(true));
    assert_eq!(h.cluster.live("/web"), ["/web#1"]);
    // force: the deployment just stops, the definition stays.
    let v = h.ok("PUT", "/v2/apps/web", json!({"instances": 2}), 200);
    let id = v["deploymentId"].as_str().unwrap_or_default().to_string();
    let (code, _) = h.send("DELETE", &format!("/v2/deployments/{id}?force=true"), None);
    assert_eq!(code, 202);
    assert_eq!(h.deployments(), 0);
    let (_, a) = h.send("GET", "/v2/apps/web", None);
    assert_eq!(a["app"]["instances"], 2);
}

#[test]
fn a_deployment_past_its_progress_deadline_rolls_back_on_its_own() {
    let label = json!({"labels": {"KEEL_DEPLOYMENT_PROGRESS_DEADLINE_SECONDS": "2"}});
    let h = running(app_with("/dl", 1, label));
    h.cluster.set_room(Some(0));
    h.ok("PUT", "/v2/apps/dl", json!({"cpus": 64}), 200);
    check(
        &h.tick(),
        expect![[r#"
            unplaced /dl
        "#]],
    );
    h.advance(1.0);
    h.tick();
    assert_eq!(h.deployments(), 1, "not yet past the deadline");
    h.advance(1.5);
    h.tick();
    let (_, a) = h.send("GET", "/v2/apps/dl", None);
    assert_eq!(a["app"]["cpus"], 0.1);
    h.settle(Some(true));
    assert_eq!(
        h.cluster.live("/dl"),
        ["/dl#1"],
        "the old instance kept running"
    );
}

/// A rolling restart of 4 instances with the given upgrade strategy: the moves per pass.
fn upgrade(min_health: f64, over: f64) -> String {
    let strategy = json!({"upgradeStrategy":
        {"minimumHealthCapacity": min_health, "maximumOverCapacity": over}});
    let h = running(app_with("/up", 4, strategy));
    h.ok("PUT", "/v2/apps/up", json!({"cmd": "sleep 2000"}), 200);
    passes(&h, Some(true))
}

#[test]
fn a_rolling_upgrade_with_full_health_and_over_capacity_starts_all_new_first() {
    check(
        &upgrade(1.0, 1.0),
        expect![[r#"
            launch /up#5
            launch /up#6
            launch /up#7
            launch /up#8
            --
            kill /up#1
            kill /up#2
            kill /up#3
            kill /up#4
        "#]],
    );
}

#[test]
fn a_rolling_upgrade_at_half_health_and_no_over_capacity_goes_two_by_two() {
    check(
        &upgrade(0.5, 0.0),
        expect![[r#"
            kill /up#1
            kill /up#2
            --
            launch /up#5
            launch /up#6
            --
            kill /up#3
            kill /up#4
            --
            launch /up#7
            launch /up#8
        "#]],
    );
}

#[test]
fn a_rolling_upgrade_at_full_health_without_over_capacity_goes_one_by_one() {
    check(
        &upgrade(1.0, 0.0),
        expect![[r#"
            launch /up#5
            --
            kill /up#1
            --
            launch /up#6
            --
            kill /up#2
            --
            launch /up#7
            --
            kill /up#3
            --
            launch /up#8
            --
            kill /up#4
        "#]],
    );
}

#[test]
fn a_rolling_upgrade_at_zero_health_replaces_everything_at_once() {
    check(
        &upgrade(0.0, 0.0),
        expect![[r#"
            kill /up#1
            kill /up#2
            kill /up#3
            kill /up#4
            --
            launch /up#5
            launch /up#6
            launch /up#7
            launch /up#8
        "#]],
    );
}

#[test]
fn an_upgrade_waits_for_new_instances_to_turn_healthy() {
    let checks = json!({"healthChecks": [{"protocol": "COMMAND",
        "command": {"value": "true"}, "gracePeriodSeconds": 0, "intervalSeconds": 1,
        "timeoutSeconds": 1, "maxConsecutiveFailures": 3}],
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 0.5}});
    let h = running(app_with("/hc", 2, checks));
    h.ok("PUT", "/v2/apps/hc", json!({"cmd": "sleep 2000"}), 200);
    check(
        &h.tick(),
        expect![[r#"
            launch /hc#3
        "#]],
    );
    // Running but not yet healthy: no old instance goes, nothing more starts.
    h.start_all(None);
    assert_eq!(h.tick(), "");
    h.set("/hc#3", TaskState::Running, Some(false));
    assert_eq!(h.tick(), "");
    assert_eq!(h.deployments(), 1);
    h.set("/hc#3", TaskState::Running, Some(true));
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            kill /hc#1
            --
            launch /hc#4
            --
            kill /hc#2
        "#]],
    );
    assert_eq!(h.cluster.live("/hc"), ["/hc#3", "/hc#4"]);
}

#[test]
fn an_instance_killed_for_failing_its_health_checks_is_replaced() {
    let checks = json!({"healthChecks": [{"protocol": "COMMAND",
        "command": {"value": "true"}, "gracePeriodSeconds": 0, "intervalSeconds": 1,
        "timeoutSeconds": 1, "maxConsecutiveFailures": 3}], "backoffSeconds": 1});
    let h = running(app_with("/hc", 2, checks));
    h.set("/hc#1", TaskState::Running, Some(false));
    assert_eq!(h.tick(), "", "unhealthy alone replaces nothing");
    // The agent kills a task whose checks failed maxConsecutiveFailures times.
    h.set("/hc#1", TaskState::Killed, Some(false));
    h.advance(1.0);
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            launch /hc#3
        "#]],
    );
    assert_eq!(h.cluster.live("/hc"), ["/hc#2", "/hc#3"]);
}

#[test]
fn failed_launches_back_off_by_the_factor_up_to_the_max_delay() {
    let backoff = json!({"backoffSeconds": 10, "backoffFactor": 2.0, "maxLaunchDelaySeconds": 25});
    let h = running(app_with("/flaky", 1, backoff));
    let mut waits = Vec::new();
    for n in 1..=4 {
        let task = format!("/flaky#{n}");
        h.set(&task, TaskState::Failed, None);
        let failed_at = h.clock_secs();
        // Pass every second until the replacement launches.
        let mut waited = 0;
        loop {
            let moves = h.tick();
            if moves.contains("launch") {
                assert_eq!(moves, format!("launch /flaky#{}\n", n + 1));
                break;
            }
            assert!(waited < 100, "never relaunched");
            h.advance(1.0);
            waited += 1;
        }
        waits.push(h.clock_secs() - failed_at);
        h.start_all(None);
    }
    assert_eq!(waits, [10.0, 20.0, 25.0, 25.0]);
}

#[test]
fn the_queue_shows_a_delayed_app_and_resetting_the_delay_launches_now() {
    let backoff = json!({"backoffSeconds": 300});
    let h = running(app_with("/slow", 1, backoff));
    h.set("/slow#1", TaskState::Failed, None);
    assert_eq!(h.tick(), "");
    let (_, q) = h.send("GET", "/v2/queue", None);
    assert_eq!(q["queue"][0]["app"]["id"], "/slow", "{q}");
    assert_eq!(q["queue"][0]["delay"]["overdue"], false, "{q}");
    let (code, _) = h.send("DELETE", "/v2/queue/slow/delay", None);
    assert_eq!(code, 204);
    check(
        &h.tick(),
        expect![[r#"
            launch /slow#2
        "#]],
    );
}

#[test]
fn the_last_task_failure_is_kept_on_the_app() {
    let h = running(app("/f", 1));
    let task = h.cluster.task("/f#1");
    h.set("/f#1", TaskState::Failed, None);
    let (_, a) = h.send("GET", "/v2/apps/f", None);
    let last = &a["app"]["lastTaskFailure"];
    assert_eq!(last["taskId"], task.as_str(), "{a}");
    assert_eq!(last["state"], "TASK_FAILED");
}

#[test]
fn an_unreachable_instance_is_replaced_after_inactive_after_and_expunged_after_expunge_after() {
    let strategy = json!({"unreachableStrategy":
        {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 30}});
    let h = running(app_with("/u", 1, strategy));
    h.set("/u#1", TaskState::Unreachable, None);
    assert_eq!(h.tick(), "");
    h.advance(5.0);
    assert_eq!(h.tick(), "", "not inactive yet");
    h.advance(6.0);
    check(
        &h.tick(),
        expect![[r#"
            launch /u#2
        "#]],
    );
    h.start_all(None);
    h.advance(10.0);
    assert_eq!(h.tick(), "");
    h.advance(10.0);
    check(
        &h.tick(),
        expect![[r#"
            kill /u#1
        "#]],
    );
    assert_eq!(h.cluster.live("/u"), ["/u#2"]);
    assert_eq!(h.m.lock().instances.len(), 1);
}

#[test]
fn an_unreachable_instance_that_returns_in_time_is_kept() {
    let strategy = json!({"unreachableStrategy":
        {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 30}});
    let h = running(app_with("/u", 1, strategy));
    h.set("/u#1", TaskState::Unreachable, None);
    assert_eq!(h.tick(), "");
    h.advance(5.0);
    h.set("/u#1", TaskState::Running, None);
    h.advance(60.0);
    assert_eq!(h.tick(), "");
    assert_eq!(h.cluster.live("/u"), ["/u#1"]);
}

#[test]
fn with_unreachable_strategy_disabled_an_unreachable_instance_is_never_replaced() {
    let h = running(app_with(
        "/u",
        1,
        json!({"unreachableStrategy": "disabled"}),
    ));
    h.set("/u#1", TaskState::Unreachable, None);
    h.advance(3600.0);
    assert_eq!(h.tick(), "");
    assert_eq!(h.m.lock().instances.len(), 1);
}

/// An app of 3 with `selection`, its instances launched a second apart, scaled to 1.
fn scale_down(selection: &str) -> String {
    let h = running(app_with("/k", 1, json!({"killSelection": selection})));
    for n in 2..=3 {
        h.advance(1.0);
        h.ok("PUT", "/v2/apps/k", json!({"instances": n}), 200);
        h.settle(None);
    }
    h.ok("PUT", "/v2/apps/k", json!({"instances": 1}), 200);
    passes(&h, None)
}

#[test]
fn scaling_down_kills_the_youngest_first_by_default() {
    check(
        &scale_down("YOUNGEST_FIRST"),
        expect![[r#"
            kill /k#3
            kill /k#2
        "#]],
    );
}

#[test]
fn scaling_down_kills_the_oldest_first_when_asked() {
    check(
        &scale_down("OLDEST_FIRST"),
        expect![[r#"
            kill /k#1
            kill /k#2
        "#]],
    );
}

#[test]
fn killing_a_task_with_scale_lowers_the_count_and_is_not_replaced() {
    let h = running(app("/s", 3));
    let task = h.cluster.task("/s#2");
    h.ok(
        "DELETE",
        &format!("/v2/apps/s/tasks/{task}?scale=true"),
        Value::Null,
        200,
    );
    check(
        &passes(&h, None),
        expect![[r#"
            kill /s#2
        "#]],
    );
    let (_, a) = h.send("GET", "/v2/apps/s", None);
    assert_eq!(a["app"]["instances"], 2);
}

#[test]
fn killing_a_task_without_scale_replaces_it() {
    let h = running(app("/s", 2));
    let task = h.cluster.task("/s#1");
    h.ok(
        "DELETE",
        &format!("/v2/apps/s/tasks/{task}"),
        Value::Null,
        200,
    );
    check(
        &passes(&h, None),
        expect![[r#"
            kill /s#1
            launch /s#3
        "#]],
    );
}

#[test]
fn deleting_an_app_kills_its_instances() {
    let h = running(app("/gone", 2));
    h.ok("DELETE", "/v2/apps/gone", Value::Null, 200);
    check(
        &passes(&h, None),
        expect![[r#"
            kill /gone#1
            kill /gone#2
        "#]],
    );
    assert!(h.m.lock().instances.is_empty());
}

#[test]
fn instances_no_agent_takes_wait_in_the_queue_and_launch_when_room_appears() {
    let h = Harness::new();
    h.cluster.set_room(Some(1));
    h.ok("POST", "/v2/apps", app("/q", 3), 201);
    // The first pass starts the app (0 instances), the next scales it.
    assert_eq!(h.tick(), "");
    check(
        &h.tick(),
        expect![[r#"
            launch /q#1
            unplaced /q
            unplaced /q
        "#]],
    );
    let (_, q) = h.send("GET", "/v2/queue", None);
    assert_eq!(q["queue"][0]["count"], 2, "{q}");
    h.cluster.set_room(None);
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            launch /q#2
            launch /q#3
        "#]],
    );
    let (_, q) = h.send("GET", "/v2/queue", None);
    assert_eq!(q["queue"], json!([]));
}

#[test]
fn a_restart_replaces_every_instance() {
    let h = running(app("/r", 2));
    h.ok("POST", "/v2/apps/r/restart", Value::Null, 200);
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            launch /r#3
            launch /r#4
            --
            kill /r#1
            kill /r#2
        "#]],
    );
}

fn pod(id: &str, instances: u32) -> Value {
    json!({"id": id, "scaling": {"kind": "fixed", "instances": instances},
        "containers": [
            {"name": "web", "resources": {"cpus": 0.1, "mem": 32},
             "exec": {"command": {"shell": "sleep 1000"}}},
            {"name": "side", "resources": {"cpus": 0.1, "mem": 32},
             "exec": {"command": {"shell": "sleep 1000"}}}]})
}

#[test]
fn a_pod_launches_each_instance_as_one_group_scales_and_goes() {
    let h = Harness::new();
    h.ok("POST", "/v2/pods", pod("/p", 2), 201);
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            launch /p#1.web /p#1.side
            launch /p#2.web /p#2.side
        "#]],
    );
    h.ok("PUT", "/v2/pods/p", pod("/p", 1), 200);
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            kill /p#1.web
            kill /p#1.side
        "#]],
    );
    h.ok("DELETE", "/v2/pods/p", Value::Null, 202);
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            kill /p#2.web
            kill /p#2.side
        "#]],
    );
    assert!(h.m.lock().instances.is_empty());
}

#[test]
fn a_pod_instance_with_a_failed_container_is_replaced_whole() {
    let h = Harness::new();
    h.ok("POST", "/v2/pods", pod("/p", 1), 201);
    h.settle(Some(true));
    h.set("/p#1.side", TaskState::Failed, None);
    h.advance(1.0);
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            kill /p#1.web
            launch /p#2.web /p#2.side
        "#]],
    );
}

#[test]
fn a_pod_group_no_agent_takes_waits_in_the_queue() {
    let h = Harness::new();
    h.cluster.set_room(Some(1));
    h.ok("POST", "/v2/pods", pod("/p", 1), 201);
    assert_eq!(h.tick(), "");
    check(
        &h.tick(),
        expect![[r#"
            unplaced /p
        "#]],
    );
    let (_, q) = h.send("GET", "/v2/queue", None);
    assert_eq!(q["queue"], json!([]), "pods only with embed=pods");
    let (_, q) = h.send("GET", "/v2/queue?embed=pods", None);
    assert_eq!(q["queue"][0]["count"], 1, "{q}");
}

#[test]
fn a_new_leader_recovers_instances_and_deployments_from_the_store() {
    let h = Harness::new();
    h.cluster.set_room(Some(1));
    h.ok("POST", "/v2/apps", app("/re", 2), 201);
    h.tick();
    h.tick();
    // The same store, a new service: it knows the instance and resumes the deployment.
    let again = Harness::on(h.clock.clone(), h.store.clone());
    assert_eq!(again.m.lock().instances.len(), 1);
    assert_eq!(again.deployments(), 1);
    assert!(h.clock_secs() > T0);
}

#[test]
fn a_group_deploys_a_dependency_before_the_apps_that_need_it() {
    let h = Harness::new();
    h.ok(
        "POST",
        "/v2/groups",
        json!({"id": "/g", "apps": [
            app_with("/g/front", 1, json!({"dependencies": ["/g/db"]})),
            app("/g/db", 1),
        ]}),
        201,
    );
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            launch /g/db#1
            --
            launch /g/front#1
        "#]],
    );
}

#[test]
fn a_deployments_launches_wait_out_the_backoff_too() {
    let backoff = json!({"backoffSeconds": 10, "backoffFactor": 1.0});
    let h = Harness::new();
    h.ok("POST", "/v2/apps", app_with("/b", 1, backoff), 201);
    assert_eq!(h.tick(), "");
    check(
        &h.tick(),
        expect![[r#"
            launch /b#1
        "#]],
    );
    // It fails before it ever runs: the deployment goes on, but only after the delay.
    h.set("/b#1", TaskState::Failed, None);
    assert_eq!(h.tick(), "");
    assert_eq!(h.deployments(), 1);
    h.advance(9.0);
    assert_eq!(h.tick(), "");
    h.advance(1.0);
    check(
        &h.tick(),
        expect![[r#"
            launch /b#2
        "#]],
    );
    h.start_all(None);
    h.tick();
    assert_eq!(h.deployments(), 0);
}

#[test]
fn scaling_a_running_app_up_launches_only_the_new_instances() {
    let h = running(app("/up", 2));
    h.ok("PUT", "/v2/apps/up", json!({"instances": 4}), 200);
    check(
        &passes(&h, Some(true)),
        expect![[r#"
            launch /up#3
            launch /up#4
        "#]],
    );
}
