//! End-to-end tests of the Marathon-compatible service against a real `keel dev` (and
//! `keel master` + `keel agent` for restarts and agent loss): deployments, rolling
//! restarts, validation and lock errors, health-check replacement, the queue's reasons,
//! and the event stream.

mod support;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::time::Duration;
use support::*;

fn dev(dir: &TempDir, extra: &[&str]) -> Proc {
    dev_with(dir, &resources_with_own_ports("cpus:4;mem:4096"), extra)
}

fn dev_with(dir: &TempDir, resources: &str, extra: &[&str]) -> Proc {
    Dev::new(dir).exact_resources(resources).args(extra).start()
}

fn send(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let c = client();
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut r = c.request(m, url).header("content-type", "application/json");
    if let Some(b) = body {
        r = r.body(b.to_string());
    }
    let r = r.send().expect("request");
    let code = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn settled(url: &str, secs: u64) {
    wait_for(secs, "deployments to finish", || {
        let (_, d) = get(&format!("{url}/v2/deployments"));
        d.as_array().filter(|a| a.is_empty()).map(|_| ())
    });
}

fn running(url: &str, app: &str) -> Vec<Value> {
    let (_, v) = get(&format!("{url}/v2/apps{app}/tasks"));
    v["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .collect()
}

#[test]
fn apps_deploy_scale_restart_and_remove() {
    let dir = TempDir::new("mar-app");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let app = json!({"id": "/web", "cmd": "echo $MARATHON_APP_ID $PORT0 $PORT_HTTP; exec sleep 1000", "cpus": 0.1, "mem": 32, "instances": 2,
                     "portDefinitions": [{"port": 0, "name": "http"}], "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}});
    let (code, v) = send("POST", &format!("{url}/v2/apps"), Some(app.clone()));
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["id"], "/web");
    assert!(v["deployments"][0]["id"].is_string(), "{v}");
    settled(&url, 20);
    let tasks = running(&url, "/web");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let id = tasks[0]["id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("web.instance-") && id.ends_with("._app.1"),
        "task id {id}"
    );
    assert_eq!(tasks[0]["ports"].as_array().map(Vec::len), Some(1));
    // The environment Marathon injects.
    let t = task(&url, id).unwrap_or_default();
    let out = wait_for(10, "stdout", || {
        Some(read_sandbox(&url, &t, "stdout")).filter(|s| !s.is_empty())
    });
    let port = tasks[0]["ports"][0].as_u64().unwrap_or_default();
    assert_eq!(out.trim(), format!("/web {port} {port}"));

    // Duplicate create, validation, bad JSON.
    let (code, v) = send("POST", &format!("{url}/v2/apps"), Some(app.clone()));
    assert_eq!(code, 409, "{v}");
    let (code, v) = send(
        "POST",
        &format!("{url}/v2/apps"),
        Some(json!({"id": "/Bad_Id", "cpus": -1})),
    );
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["message"], "Object is not valid");
    let paths: Vec<&str> = v["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["path"].as_str())
        .collect();
    assert!(paths.contains(&"/id") && paths.contains(&"/cpus"), "{v}");
    let (code, _) = send(
        "POST",
        &format!("{url}/v2/apps"),
        Some(Value::String("{".into())),
    );
    assert_eq!(code, 400);

    // Scale up with PUT {"instances"}, through the //-style path clients send.
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/apps//web?force=True"),
        Some(json!({"instances": 3})),
    );
    assert_eq!(code, 200, "{v}");
    assert!(v["deploymentId"].is_string());
    settled(&url, 20);
    assert_eq!(running(&url, "/web").len(), 3);

    // A rolling restart replaces every task, keeping at least half healthy.
    let before: Vec<String> = running(&url, "/web")
        .iter()
        .filter_map(|t| t["id"].as_str().map(String::from))
        .collect();
    let (code, v) = send("POST", &format!("{url}/v2/apps/web/restart"), None);
    assert_eq!(code, 200, "{v}");
    let dep = v["deploymentId"].as_str().unwrap_or_default().to_string();
    let mut min_running = usize::MAX;
    wait_for(30, "restart", || {
        min_running = min_running.min(running(&url, "/web").len());
        let (_, d) = get(&format!("{url}/v2/deployments"));
        d.as_array()
            .filter(|a| !a.iter().any(|x| x["id"] == dep.as_str()))
            .map(|_| ())
    });
    let after: Vec<String> = running(&url, "/web")
        .iter()
        .filter_map(|t| t["id"].as_str().map(String::from))
        .collect();
    assert_eq!(after.len(), 3);
    assert!(
        after.iter().all(|a| !before.contains(a)),
        "old tasks survived: {before:?} {after:?}"
    );
    assert!(
        min_running >= 2,
        "fell to {min_running} running (minimumHealthCapacity 0.5 of 3 = 2)"
    );

    // Versions and rollback.
    let (_, versions) = get(&format!("{url}/v2/apps/web/versions"));
    let vs = versions["versions"].as_array().cloned().unwrap_or_default();
    assert!(vs.len() >= 3, "{versions}");
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/apps/web"),
        Some(json!({"version": vs[vs.len() - 1]})),
    );
    assert_eq!(code, 200, "{v}");
    settled(&url, 30);
    let (_, a) = get(&format!("{url}/v2/apps/web"));
    assert_eq!(
        a["app"]["instances"], 2,
        "rollback to the first version: {a}"
    );

    // Kill with scale lowers instances; without scale the task is replaced.
    let victim = running(&url, "/web")[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (code, _) = send("DELETE", &format!("{url}/v2/apps/web/tasks/{victim}"), None);
    assert_eq!(code, 200);
    wait_for(20, "replacement", || {
        let r = running(&url, "/web");
        (r.len() == 2 && !r.iter().any(|t| t["id"] == victim.as_str())).then_some(())
    });
    let victim = running(&url, "/web")[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (code, v) = send(
        "POST",
        &format!("{url}/v2/tasks/delete?scale=true"),
        Some(json!({"ids": [victim]})),
    );
    assert_eq!(code, 200, "{v}");
    settled(&url, 20);
    let (_, a) = get(&format!("{url}/v2/apps/web"));
    assert_eq!(a["app"]["instances"], 1);
    let (code, v) = send(
        "POST",
        &format!("{url}/v2/tasks/delete"),
        Some(json!({"ids": ["not-a-task-id"]})),
    );
    assert_eq!(code, 400, "{v}");

    let (code, _) = send("DELETE", &format!("{url}/v2/apps/web"), None);
    assert_eq!(code, 200);
    settled(&url, 20);
    let (code, v) = get(&format!("{url}/v2/apps/web"));
    assert_eq!(code, 404);
    assert_eq!(v["message"], "App '/web' does not exist");
    wait_for(10, "no tasks", || {
        let (_, t) = get(&format!("{url}/v2/tasks"));
        t["tasks"].as_array().filter(|a| a.is_empty()).map(|_| ())
    });
}

#[test]
fn locked_apps_conflict_and_the_queue_says_why() {
    let dir = TempDir::new("mar-lock");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    // 8 cpus asked of a 4-cpu agent: the deployment cannot finish.
    let (code, v) = send(
        "POST",
        &format!("{url}/v2/apps"),
        Some(json!({"id": "/big", "cmd": "sleep 1000", "cpus": 8, "mem": 32})),
    );
    assert_eq!(code, 201, "{v}");
    let dep = v["deployments"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let item = wait_for(10, "a queue item", || {
        let (_, q) = get(&format!("{url}/v2/queue"));
        q["queue"].as_array().and_then(|a| a.first().cloned())
    });
    assert_eq!(item["app"]["id"], "/big");
    assert_eq!(item["count"], 1);
    let reasons = item["processedOffersSummary"]["rejectSummaryLastOffers"].to_string();
    assert!(reasons.contains("insufficient cpus"), "{item}");
    assert!(item.get("role").is_none());

    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/apps/big"),
        Some(json!({"cpus": 0.5})),
    );
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["deployments"][0]["id"], dep.as_str());
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/apps/big?force=true"),
        Some(json!({"cpus": 0.5})),
    );
    assert_eq!(code, 200, "{v}");
    settled(&url, 20);
    assert_eq!(running(&url, "/big").len(), 1);

    // Cancel (rollback) a deployment.
    let (_, v) = send(
        "PUT",
        &format!("{url}/v2/apps/big"),
        Some(json!({"cpus": 16})),
    );
    let stuck = v["deploymentId"].as_str().unwrap_or_default().to_string();
    let (code, v) = send("DELETE", &format!("{url}/v2/deployments/{stuck}"), None);
    assert_eq!(code, 200, "{v}");
    settled(&url, 20);
    let (_, a) = get(&format!("{url}/v2/apps/big"));
    assert_eq!(a["app"]["cpus"], 0.5, "{a}");
    let (code, _) = send("DELETE", &format!("{url}/v2/deployments/nope"), None);
    assert_eq!(code, 404);
}

#[test]
fn failing_health_checks_kill_and_replace() {
    let dir = TempDir::new("mar-health");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let app = json!({"id": "/hc", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32,
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "test -f $MESOS_SANDBOX/ok"}, "gracePeriodSeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2}]});
    let (code, v) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201, "{v}");
    let first = wait_for(20, "a task", || running(&url, "/hc").first().cloned());
    let first_id = first["id"].as_str().unwrap_or_default().to_string();
    wait_for(30, "the unhealthy task to be replaced", || {
        running(&url, "/hc")
            .iter()
            .find(|t| t["id"] != first_id.as_str())
            .map(|_| ())
    });
    // The replacement starts while the old task is still TASK_KILLING (its grace period).
    let t = wait_state(&url, &first_id, "TASK_KILLED", 20);
    assert_eq!(
        t["reason"], "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
        "{t}"
    );
}

#[test]
fn events_stream_deployments_and_statuses() {
    let dir = TempDir::new("mar-events");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let resp = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .ok()
        .and_then(|c| {
            c.get(format!("{url}/v2/events"))
                .header("accept", "text/event-stream")
                .send()
                .ok()
        })
        .expect("event stream");
    assert_eq!(resp.status().as_u16(), 200);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(resp).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let (code, _) = send(
        "POST",
        &format!("{url}/v2/apps"),
        Some(json!({"id": "/ev", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32})),
    );
    assert_eq!(code, 201);
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline
        && !seen.iter().any(|s: &String| s == "deployment_success")
    {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        if let Some(data) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
            assert!(
                v["timestamp"]
                    .as_str()
                    .is_some_and(|t| t.ends_with('Z') && t.len() == 24),
                "{v}"
            );
            seen.push(v["eventType"].as_str().unwrap_or_default().to_string());
        }
    }
    for t in [
        "event_stream_attached",
        "api_post_event",
        "deployment_info",
        "status_update_event",
        "deployment_success",
    ] {
        assert!(seen.iter().any(|s| s == t), "{t} missing from {seen:?}");
    }
    let (code, _) = get(&format!("{url}/v2/events"));
    assert!(code == 406 || code == 200);
}

#[test]
fn master_restart_resumes_a_rolling_upgrade() {
    let dir = TempDir::new("mar-restart");
    let data = dir.path().join("master");
    let work = dir.path().join("agent");
    let (data, work) = (
        data.to_str().unwrap_or_default().to_string(),
        work.to_str().unwrap_or_default().to_string(),
    );
    let mlisten = format!("127.0.0.1:{}", free_port());
    let master_args = [
        "master",
        "--data-dir",
        &data,
        "--listen",
        &mlisten,
        "--heartbeat-interval",
        "0.2",
        "--agent-timeout",
        "2",
    ];
    let master = Proc::start(&master_args);
    let url = master.url.clone();
    let alisten = format!("127.0.0.1:{}", free_port());
    let agent_args = [
        "agent",
        "--master",
        &url,
        "--work-dir",
        &work,
        "--listen",
        &alisten,
        "--resources",
        "cpus:4;mem:4096",
    ];
    let agent = Proc::start(&agent_args);
    // A readiness-free app whose new version is slow to become healthy: a command check
    // that passes only after 3 s keeps the upgrade going across the master restart.
    let app = json!({"id": "/roll", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32, "instances": 2,
        "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0.5}});
    let (code, _) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201);
    settled(&url, 20);
    let old: Vec<String> = running(&url, "/roll")
        .iter()
        .filter_map(|t| t["id"].as_str().map(String::from))
        .collect();
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/apps/roll"),
        Some(json!({"cmd": "sleep 3 && touch ok; exec sleep 1000",
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "test -f ok"}, "gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 0}]})),
    );
    assert_eq!(code, 200, "{v}");
    std::thread::sleep(Duration::from_millis(800));
    master.kill9();
    let master = Proc::start(&master_args);
    let url = master.url.clone();
    let (_, d) = get(&format!("{url}/v2/deployments"));
    assert_eq!(
        d.as_array().map(Vec::len),
        Some(1),
        "the deployment did not survive the restart: {d}"
    );
    settled(&url, 40);
    let now: Vec<String> = running(&url, "/roll")
        .iter()
        .filter_map(|t| t["id"].as_str().map(String::from))
        .collect();
    assert_eq!(now.len(), 2);
    assert!(
        now.iter().all(|t| !old.contains(t)),
        "old tasks still running: {now:?}"
    );
    let (_, a) = get(&format!("{url}/v2/apps/roll"));
    assert_eq!(a["app"]["tasksHealthy"], 2, "{a}");

    // Lose the agent for good: its instances are replaced per unreachableStrategy (default
    // {0,0}) on a new agent.
    agent.kill9();
    let alisten2 = format!("127.0.0.1:{}", free_port());
    let work2 = dir.path().join("agent2");
    let work2 = work2.to_str().unwrap_or_default().to_string();
    let _agent2 = Proc::start(&[
        "agent",
        "--master",
        &url,
        "--work-dir",
        &work2,
        "--listen",
        &alisten2,
        "--resources",
        "cpus:4;mem:4096",
    ]);
    wait_for(40, "replacements on the new agent", || {
        let r = running(&url, "/roll");
        (r.len() == 2
            && r.iter()
                .all(|t| !now.contains(&t["id"].as_str().unwrap_or_default().to_string())))
        .then_some(())
    });
}

#[test]
fn a_stuck_deployment_rolls_back_at_its_progress_deadline() {
    let dir = TempDir::new("mar-deadline");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let app = json!({"id": "/dl", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32,
        "labels": {"KEEL_DEPLOYMENT_PROGRESS_DEADLINE_SECONDS": "2"}});
    let (code, _) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201);
    settled(&url, 20);
    let before = running(&url, "/dl");
    // No agent has 64 cpus: without the deadline this deployment would run forever.
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/apps/dl"),
        Some(json!({"cpus": 64})),
    );
    assert_eq!(code, 200, "{v}");
    let stuck = v["deploymentId"].as_str().unwrap_or_default().to_string();
    wait_for(20, "the automatic rollback", || {
        let (_, d) = get(&format!("{url}/v2/deployments"));
        let (_, a) = get(&format!("{url}/v2/apps/dl"));
        let gone = d
            .as_array()
            .is_some_and(|a| !a.iter().any(|x| x["id"] == stuck.as_str()));
        (gone && a["app"]["cpus"] == 0.1).then_some(())
    });
    settled(&url, 20);
    assert_eq!(running(&url, "/dl").len(), 1);
    assert_eq!(
        running(&url, "/dl")[0]["id"],
        before[0]["id"],
        "the old task was replaced"
    );
}

#[test]
fn abdication_recovers_the_state_from_the_store() {
    let dir = TempDir::new("mar-abdicate");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let app =
        json!({"id": "/stay", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32, "instances": 2});
    let (code, _) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201);
    settled(&url, 20);
    let ids = |v: Vec<Value>| {
        let mut ids: Vec<String> = v.iter().map(|t| t["id"].to_string()).collect();
        ids.sort();
        ids
    };
    let before = ids(running(&url, "/stay"));
    assert_eq!(before.len(), 2);
    // A deployment that cannot finish: no agent has 64 cpus.
    let (code, v) = send(
        "POST",
        &format!("{url}/v2/apps"),
        Some(json!({"id": "/big", "cmd": "sleep 1000", "cpus": 64, "mem": 32})),
    );
    assert_eq!(code, 201, "{v}");

    let (code, v) = send("DELETE", &format!("{url}/v2/leader"), None);
    assert_eq!((code, v), (200, json!({"message": "Leadership abdicated"})));
    let (code, v) = get(&format!("{url}/v2/leader"));
    assert_eq!(code, 200, "{v}");
    // Re-elected with the state from the store: the same tasks, the pending deployment.
    assert_eq!(ids(running(&url, "/stay")), before);
    let (_, d) = get(&format!("{url}/v2/deployments"));
    let pending: Vec<String> = d
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .flat_map(|x| x["affectedApps"].as_array().cloned().unwrap_or_default())
        .map(|a| a.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(pending, ["/big"]);
    // And it goes on scheduling.
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/apps/stay"),
        Some(json!({"instances": 3})),
    );
    assert_eq!(code, 200, "{v}");
    wait_for(20, "the third instance", || {
        (running(&url, "/stay").len() == 3).then_some(())
    });
    let (code, _) = send("DELETE", &format!("{url}/v2/apps/big"), None);
    assert_eq!(code, 200);
    settled(&url, 20);
    let now = ids(running(&url, "/stay"));
    assert!(
        before.iter().all(|t| now.contains(t)),
        "{before:?} not in {now:?}"
    );
}

#[test]
fn readiness_checks_gate_the_deployment() {
    let dir = TempDir::new("mar-ready");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    // The task runs at once but answers HTTP only after 3 s.
    let app = json!({"id": "/ready", "cmd": "sleep 3; exec python3 -m http.server $PORT0 --bind 127.0.0.1", "cpus": 0.1, "mem": 64,
        "portDefinitions": [{"port": 0, "name": "http"}],
        "readinessChecks": [{"name": "web", "protocol": "HTTP", "path": "/", "portName": "http", "intervalSeconds": 2, "timeoutSeconds": 1}]});
    let (code, v) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201, "{v}");
    let started = std::time::Instant::now();
    wait_for(20, "the task to run", || {
        running(&url, "/ready").first().cloned()
    });
    let (_, d) = get(&format!("{url}/v2/deployments"));
    assert_eq!(
        d.as_array().map(Vec::len),
        Some(1),
        "the deployment ended before the task was ready: {d}"
    );
    settled(&url, 30);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "finished in {:?}, before the readiness check could pass",
        started.elapsed()
    );

    // HTTPS, with a self-signed certificate (not verified, as Marathon does not).
    let cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 1 -subj /CN=keel 2>/dev/null; \
        sleep 2; exec openssl s_server -quiet -www -accept $PORT0 -cert c.pem -key k.pem";
    let app = json!({"id": "/ready-tls", "cmd": cmd, "cpus": 0.1, "mem": 64,
        "portDefinitions": [{"port": 0, "name": "https"}],
        "readinessChecks": [{"name": "tls", "protocol": "HTTPS", "path": "/", "portName": "https", "intervalSeconds": 2, "timeoutSeconds": 1}]});
    let (code, v) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201, "{v}");
    wait_for(20, "the TLS task to run", || {
        running(&url, "/ready-tls").first().cloned()
    });
    settled(&url, 30);
}

fn pod_status(url: &str, id: &str) -> Value {
    get(&format!("{url}/v2/pods{id}::status")).1
}

/// Waits until pod `id` has exactly `n` STABLE instances and nothing else; returns them.
fn stable_instances(url: &str, id: &str, n: usize, secs: u64) -> Vec<Value> {
    wait_for(secs, &format!("{n} stable instances of {id}"), || {
        let s = pod_status(url, id);
        let inst = s["instances"].as_array().cloned().unwrap_or_default();
        (s["status"] == "STABLE" && inst.len() == n && inst.iter().all(|i| i["status"] == "STABLE"))
            .then_some(inst)
    })
}

#[test]
fn pods_run_as_task_groups_scale_replace_and_go() {
    let dir = TempDir::new("mar-pod");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let pod = json!({
        "id": "/svc/pod",
        "scaling": {"kind": "fixed", "instances": 2},
        "containers": [
            {"name": "web", "resources": {"cpus": 0.1, "mem": 32},
             "exec": {"command": {"shell": "echo $MARATHON_APP_ID $ENDPOINT_HTTP $PORT_HTTP; exec sleep 1000"}},
             "endpoints": [{"name": "http", "hostPort": 0}]},
            {"name": "side", "resources": {"cpus": 0.1, "mem": 32},
             "exec": {"command": {"argv": ["sleep", "1000"]}}}
        ]
    });
    let (code, _) = send("HEAD", &format!("{url}/v2/pods"), None);
    assert_eq!(code, 200);
    let r = client()
        .post(format!("{url}/v2/pods"))
        .header("content-type", "application/json")
        .body(pod.to_string())
        .send()
        .expect("post pod");
    assert_eq!(r.status().as_u16(), 201);
    assert!(r.headers().get("Marathon-Deployment-Id").is_some());
    assert!(
        r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.ends_with("/v2/pods/svc/pod")),
        "{:?}",
        r.headers()
    );
    settled(&url, 30);
    let (_, g) = get(&format!("{url}/v2/groups/svc"));
    assert_eq!(
        g["pods"][0]["id"], "/svc/pod",
        "the group lists its pod: {g}"
    );
    let inst = stable_instances(&url, "/svc/pod", 2, 30);
    let mut task_ids = Vec::new();
    for i in &inst {
        let containers = i["containers"].as_array().cloned().unwrap_or_default();
        assert_eq!(containers.len(), 2, "{i}");
        for c in &containers {
            assert_eq!(c["status"], "TASK_RUNNING", "{c}");
            let tid = c["containerId"].as_str().unwrap_or_default().to_string();
            let t = task(&url, &tid).unwrap_or_default();
            assert_eq!(
                t["slave_id"], i["agentId"],
                "each instance on one agent: {t}"
            );
            task_ids.push(tid);
        }
        let web = containers
            .iter()
            .find(|c| c["name"] == "web")
            .cloned()
            .unwrap_or_default();
        let port = web["endpoints"][0]["allocatedHostPort"]
            .as_u64()
            .unwrap_or(0);
        assert!(port > 0, "{web}");
        let t = task(&url, web["containerId"].as_str().unwrap_or_default()).unwrap_or_default();
        let out = wait_for(10, "pod stdout", || {
            Some(read_sandbox(&url, &t, "stdout")).filter(|s| !s.is_empty())
        });
        assert_eq!(out.trim(), format!("/svc/pod {port} {port}"));
    }
    assert_eq!(task_ids.len(), 4);
    assert!(task_ids.iter().all(|t| t.starts_with("svc_pod.instance-")));
    // Pods stay out of the app views and the queue.
    let (_, tasks) = get(&format!("{url}/v2/tasks"));
    assert_eq!(tasks["tasks"], json!([]), "{tasks}");
    let (_, apps) = get(&format!("{url}/v2/apps"));
    assert_eq!(apps["apps"], json!([]));
    let (_, q) = get(&format!("{url}/v2/queue"));
    assert_eq!(q["queue"], json!([]));
    let (code, list) = get(&format!("{url}/v2/pods"));
    assert_eq!((code, list[0]["id"].clone()), (200, json!("/svc/pod")));
    let (_, all) = get(&format!("{url}/v2/pods/::status"));
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    let (ok, out, err) = cli(&url, &["pod", "list"]);
    assert!(
        ok && out.contains("/svc/pod") && out.contains("STABLE"),
        "{out}{err}"
    );

    // Errors: duplicate, invalid, bad JSON, id mismatch, unknown.
    let (code, v) = send("POST", &format!("{url}/v2/pods"), Some(pod.clone()));
    assert_eq!(code, 409, "{v}");
    let (code, v) = send(
        "POST",
        &format!("{url}/v2/pods"),
        Some(json!({"id": "/Bad_Id", "containers": []})),
    );
    assert_eq!(code, 422, "{v}");
    assert!(
        v["details"].as_array().is_some_and(|d| !d.is_empty()),
        "{v}"
    );
    let (code, _) = send(
        "POST",
        &format!("{url}/v2/pods"),
        Some(Value::String("{".into())),
    );
    assert_eq!(code, 400);
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/pods/svc/pod"),
        Some(json!({"id": "/other", "containers": pod["containers"]})),
    );
    assert_eq!(code, 400, "{v}");
    assert_eq!(get(&format!("{url}/v2/pods/nope")).0, 404);
    assert_eq!(get(&format!("{url}/v2/pods/nope::status")).0, 404);
    assert_eq!(send("DELETE", &format!("{url}/v2/pods/nope"), None).0, 404);

    // Scale with PUT: a scale-only change keeps the running instances.
    let mut bigger = pod.clone();
    bigger["scaling"]["instances"] = json!(3);
    let (code, v) = send("PUT", &format!("{url}/v2/pods/svc/pod"), Some(bigger));
    assert_eq!(code, 200, "{v}");
    settled(&url, 30);
    let inst = stable_instances(&url, "/svc/pod", 3, 30);
    let (_, versions) = get(&format!("{url}/v2/pods/svc/pod::versions"));
    assert_eq!(versions.as_array().map(Vec::len), Some(2), "{versions}");
    let v0 = versions[1].as_str().unwrap_or_default();
    let (code, old) = get(&format!("{url}/v2/pods/svc/pod::versions/{v0}"));
    assert_eq!((code, old["scaling"]["instances"].clone()), (200, json!(2)));

    // Killing an instance kills its tasks; the pod gets a new instance.
    let victim = inst[0]["id"].as_str().unwrap_or_default().to_string();
    let (code, v) = send(
        "DELETE",
        &format!("{url}/v2/pods/svc/pod::instances/{victim}"),
        None,
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["instanceId"], victim.as_str());
    wait_for(30, "a replacement instance", || {
        let s = pod_status(&url, "/svc/pod");
        let inst = s["instances"].as_array().cloned().unwrap_or_default();
        (inst.len() == 3
            && inst
                .iter()
                .all(|i| i["status"] == "STABLE" && i["id"] != victim.as_str()))
        .then_some(())
    });

    // DELETE stops every task.
    let (code, v) = send("DELETE", &format!("{url}/v2/pods/svc/pod"), None);
    assert_eq!(code, 202, "{v}");
    assert!(v["deploymentId"].is_string());
    settled(&url, 30);
    assert_eq!(get(&format!("{url}/v2/pods/svc/pod")).0, 404);
    for t in &task_ids {
        wait_for(10, "pod task to end", || {
            Some(task_state(&url, t))
                .filter(|s| s == "TASK_KILLED" || s == "TASK_FINISHED" || s.is_empty())
        });
    }
}

/// A file of a task's sandbox through the agent's files API, once it exists.
fn sandbox_file(url: &str, t: &Value, file: &str) -> Option<String> {
    let path = format!(
        "/frameworks/{}/executors/{}/runs/latest/{file}",
        t["framework_id"].as_str()?,
        t["id"].as_str()?
    );
    let agent = t["slave_id"].as_str()?;
    let (code, v) = get(&format!(
        "{url}/agent/{agent}/files/read?path={path}&offset=0"
    ));
    (code == 200).then(|| v["data"].as_str().map(str::to_string))?
}

#[test]
fn containers_of_a_pod_instance_share_its_ephemeral_volume() {
    let dir = TempDir::new("mar-podvol");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    // The writer fills the volume; the reader (read-only mount elsewhere in its sandbox)
    // waits for the file and copies it into its own sandbox.
    let pod = json!({
        "id": "/vol",
        "volumes": [{"name": "shared"}],
        "containers": [
            {"name": "writer", "resources": {"cpus": 0.1, "mem": 32},
             "volumeMounts": [{"name": "shared", "mountPath": "data"}],
             "exec": {"command": {"shell": "echo hello from $MARATHON_CONTAINER_ID > data/msg; exec sleep 1000"}}},
            {"name": "reader", "resources": {"cpus": 0.1, "mem": 32},
             "volumeMounts": [{"name": "shared", "mountPath": "in/shared", "readOnly": true}],
             "exec": {"command": {"shell": "while [ ! -s in/shared/msg ]; do sleep 0.1; done; cat in/shared/msg > got; exec sleep 1000"}}}
        ]
    });
    let (code, v) = send("POST", &format!("{url}/v2/pods"), Some(pod));
    assert_eq!(code, 201, "{v}");
    settled(&url, 30);
    let inst = stable_instances(&url, "/vol", 1, 30);
    let containers = inst[0]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of = |name: &str| {
        let c = containers.iter().find(|c| c["name"] == name).cloned();
        let id = c.and_then(|c| c["containerId"].as_str().map(str::to_string));
        task(&url, &id.unwrap_or_default()).unwrap_or_default()
    };
    let (writer, reader) = (of("writer"), of("reader"));
    let got = wait_for(20, "the reader to copy the writer's file", || {
        sandbox_file(&url, &reader, "got").filter(|s| !s.is_empty())
    });
    assert_eq!(got.trim(), "hello from writer");
    // The volume is one directory: seen through either container's sandbox.
    assert_eq!(
        sandbox_file(&url, &writer, "data/msg").as_deref(),
        Some(got.as_str())
    );
    assert_eq!(
        sandbox_file(&url, &reader, "in/shared/msg").as_deref(),
        Some(got.as_str())
    );
    let (code, _) = send("DELETE", &format!("{url}/v2/pods/vol"), None);
    assert_eq!(code, 202);
    settled(&url, 30);
}

#[test]
fn an_unplaceable_pod_waits_in_the_queue_with_the_reasons() {
    let dir = TempDir::new("mar-podq");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    // 3 + 3 cpus asked of a 4-cpu agent, and a constraint no agent matches.
    let big = json!({"id": "/big", "containers": [
        {"name": "a", "resources": {"cpus": 3, "mem": 32}, "exec": {"command": {"shell": "sleep 1000"}}},
        {"name": "b", "resources": {"cpus": 3, "mem": 32}, "exec": {"command": {"shell": "sleep 1000"}}}]});
    let picky = json!({"id": "/picky", "scaling": {"kind": "fixed", "instances": 2},
        "scheduling": {"placement": {"constraints": [{"fieldName": "hostname", "operator": "LIKE", "value": "no-such-host"}]}},
        "containers": [{"name": "a", "resources": {"cpus": 0.1, "mem": 32}, "exec": {"command": {"shell": "sleep 1000"}}}]});
    for p in [&big, &picky] {
        let (code, v) = send("POST", &format!("{url}/v2/pods"), Some(p.clone()));
        assert_eq!(code, 201, "{v}");
    }
    let items = wait_for(20, "two pod queue items", || {
        let (_, q) = get(&format!("{url}/v2/queue?embed=pods"));
        q["queue"].as_array().filter(|a| a.len() == 2).cloned()
    });
    // Without `embed=pods` the queue holds apps only (marathon-python 0.13.0 parses every
    // item as an app).
    let (_, q) = get(&format!("{url}/v2/queue"));
    assert_eq!(q["queue"], json!([]), "{q}");
    let item = |id: &str| {
        items
            .iter()
            .find(|i| i["pod"]["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    let (big_item, picky_item) = (item("/big"), item("/picky"));
    for (i, count) in [(&big_item, 1), (&picky_item, 2)] {
        assert_eq!(i["count"], count, "{i}");
        assert!(i.get("app").is_none() && i.get("role").is_none(), "{i}");
        assert_eq!(i["delay"]["overdue"], true, "{i}");
        assert!(i["since"].as_str().is_some_and(|s| s.ends_with('Z')), "{i}");
        assert_eq!(
            i["processedOffersSummary"]["processedOffersCount"], 1,
            "{i}"
        );
    }
    let reasons = |i: &Value| i["processedOffersSummary"]["rejectSummaryLastOffers"].to_string();
    assert!(
        reasons(&big_item).contains("insufficient cpus"),
        "{big_item}"
    );
    assert!(
        reasons(&picky_item).contains("constraint hostname"),
        "{picky_item}"
    );
    assert_eq!(
        big_item["pod"]["containers"].as_array().map(Vec::len),
        Some(2)
    );

    // The pod's status says why too.
    let status = pod_status(&url, "/big");
    assert!(
        status["message"].as_str().is_some_and(
            |m| m.starts_with("1 instance not placed: ") && m.contains("insufficient cpus")
        ),
        "{status}"
    );

    // The backoff of a pod is reset like an app's; unknown run specs are 404.
    let (code, _) = send("DELETE", &format!("{url}/v2/queue/big/delay"), None);
    assert_eq!(code, 204);
    let (code, _) = send("DELETE", &format!("{url}/v2/queue/nope/delay"), None);
    assert_eq!(code, 404);

    // Deleted pods leave the queue.
    for id in ["big", "picky"] {
        let (code, v) = send("DELETE", &format!("{url}/v2/pods/{id}?force=true"), None);
        assert_eq!(code, 202, "{v}");
    }
    settled(&url, 30);
    wait_for(20, "an empty queue", || {
        let (_, q) = get(&format!("{url}/v2/queue?embed=pods"));
        q["queue"].as_array().filter(|a| a.is_empty()).map(|_| ())
    });
}

#[test]
fn a_group_rolls_back_to_a_stored_version() {
    let dir = TempDir::new("mara-group-rollback");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let app = |id: &str, n: u32| json!({"id": id, "cmd": "sleep 600", "cpus": 0.01, "mem": 8, "instances": n, "portDefinitions": []});
    let (code, v) = send(
        "POST",
        &format!("{url}/v2/groups"),
        Some(json!({"id": "/g", "apps": [app("/g/a", 1)]})),
    );
    assert_eq!(code, 201, "{v}");
    settled(&url, 60);
    let (_, versions) = get(&format!("{url}/v2/groups/g/versions"));
    let v1 = versions[0].as_str().unwrap_or_default().to_string();
    assert!(!v1.is_empty(), "{versions}");
    // Later: /g/a scaled to 2 and /g/b added.
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/groups/g"),
        Some(json!({"id": "/g", "apps": [app("/g/a", 2), app("/g/b", 1)]})),
    );
    assert_eq!(code, 200, "{v}");
    settled(&url, 60);
    assert_eq!(running(&url, "/g/a").len(), 2);
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/groups/g"),
        Some(json!({"version": v1})),
    );
    assert_eq!(code, 200, "{v}");
    assert!(v["deploymentId"].is_string(), "{v}");
    settled(&url, 60);
    assert_eq!(running(&url, "/g/a").len(), 1);
    let (code, _) = get(&format!("{url}/v2/apps/g/b"));
    assert_eq!(code, 404, "/g/b did not exist at {v1}");
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/groups/g"),
        Some(json!({"version": "2001-01-01T00:00:00.000Z"})),
    );
    assert_eq!(code, 404, "{v}");
}

/// The first port of a `...;ports:[lo-hi]` resource text.
fn first_port(resources: &str) -> u16 {
    let range = resources.split("ports:[").nth(1).unwrap_or_default();
    range
        .split('-')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a ports range")
}

#[test]
fn required_ports_in_definition_order_service_ports_and_port_validation() {
    let dir = TempDir::new("mar-ports");
    let resources = resources_with_own_ports("cpus:4;mem:4096");
    let lo = first_port(&resources);
    let (web, admin) = (lo + 50, lo + 10);
    let keel = dev_with(&dir, &resources, &[]);
    let url = keel.url.clone();

    // requirePorts: the definitions' ports are the host ports, PORT0 first even though
    // it is the higher one.
    let app = json!({"id": "/fixed", "requirePorts": true, "cpus": 0.1, "mem": 64,
        "cmd": "echo $PORT0 $PORT1 $PORT_WEB $PORT_ADMIN $PORTS; exec python3 -m http.server $PORT0 --bind 127.0.0.1",
        "portDefinitions": [{"port": web, "name": "web"}, {"port": admin, "name": "admin"}]});
    let (code, v) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["portDefinitions"][0]["port"], web, "{v}");
    settled(&url, 30);
    let tasks = running(&url, "/fixed");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["ports"], json!([web, admin]), "{tasks:?}");
    assert_eq!(tasks[0]["servicePorts"], json!([web, admin]), "{tasks:?}");
    let id = tasks[0]["id"].as_str().unwrap_or_default();
    let t = task(&url, id).unwrap_or_default();
    let out = wait_for(10, "stdout", || {
        Some(read_sandbox(&url, &t, "stdout")).filter(|s| !s.is_empty())
    });
    assert_eq!(
        out.trim(),
        format!("{web} {admin} {web} {admin} {web},{admin}")
    );
    wait_for(20, "the task to listen on its fixed port", || {
        std::net::TcpStream::connect(("127.0.0.1", web)).ok()
    });

    // The same fixed port again: the only agent has it taken, and the queue says so.
    let (code, v) = send(
        "POST",
        &format!("{url}/v2/apps"),
        Some(
            json!({"id": "/clash", "requirePorts": true, "cmd": "sleep 1000", "cpus": 0.1,
                    "mem": 32, "portDefinitions": [{"port": web}]}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    let item = wait_for(10, "a queue item", || {
        let (_, q) = get(&format!("{url}/v2/queue"));
        q["queue"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["app"]["id"] == "/clash").cloned())
    });
    let reasons = item["processedOffersSummary"]["rejectSummaryLastOffers"].to_string();
    assert!(
        reasons.contains(&format!("insufficient ports {web}")),
        "{item}"
    );
    assert!(running(&url, "/clash").is_empty());

    // Service ports: 0 becomes the lowest free port of 10000.., unique across apps; host
    // ports stay dynamic (requirePorts false) and come from the agent's range.
    for (id, n) in [("/svc-a", 2), ("/svc-b", 1)] {
        let defs: Vec<Value> = (0..n).map(|_| json!({"port": 0})).collect();
        let (code, v) = send(
            "POST",
            &format!("{url}/v2/apps"),
            Some(
                json!({"id": id, "cmd": "sleep 1000", "cpus": 0.1, "mem": 32,
                        "portDefinitions": defs}),
            ),
        );
        assert_eq!(code, 201, "{v}");
    }
    let service_ports = |id: &str| {
        let (_, v) = get(&format!("{url}/v2/apps{id}"));
        v["app"]["portDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d["port"].as_u64().unwrap_or_default())
            .collect::<Vec<u64>>()
    };
    assert_eq!(service_ports("/svc-a"), [10000, 10001]);
    assert_eq!(service_ports("/svc-b"), [10002]);
    let tasks = wait_for(30, "a running /svc-a task", || {
        Some(running(&url, "/svc-a")).filter(|t| !t.is_empty())
    });
    assert_eq!(tasks[0]["servicePorts"], json!([10000, 10001]), "{tasks:?}");
    let host: Vec<u64> = tasks[0]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    let range = u64::from(lo)..u64::from(lo) + 100;
    assert!(
        host.len() == 2 && host.iter().all(|p| range.contains(p)),
        "{host:?}"
    );
    assert!(!host.contains(&u64::from(web)) && !host.contains(&u64::from(admin)));
    // An update that re-posts 0s keeps the app's service ports (once /svc-b's deployment
    // is done, or the update meets a 409).
    wait_for(30, "/svc-b deployed", || {
        let (_, v) = get(&format!("{url}/v2/apps/svc-b"));
        (v["app"]["deployments"] == json!([])).then_some(())
    });
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/apps/svc-b"),
        Some(json!({"cmd": "sleep 999", "portDefinitions": [{"port": 0}]})),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(service_ports("/svc-b"), [10002]);

    // Duplicate ports in one app: Marathon's 422.
    let (code, v) = send(
        "POST",
        &format!("{url}/v2/apps"),
        Some(
            json!({"id": "/dup", "cmd": "sleep 1", "portDefinitions": [{"port": 10500}, {"port": 10500}]}),
        ),
    );
    assert_eq!(code, 422, "{v}");
    assert_eq!(
        v["details"],
        json!([{"path": "/portDefinitions", "errors": ["Ports must be unique."]}])
    );
}

#[test]
fn pod_endpoints_with_fixed_host_ports_keep_their_order() {
    let dir = TempDir::new("mar-pod-ports");
    let resources = resources_with_own_ports("cpus:4;mem:4096");
    let lo = first_port(&resources);
    let keel = dev_with(&dir, &resources, &[]);
    let url = keel.url.clone();
    let fixed = lo + 40;
    let pod = json!({
        "id": "/pp",
        "containers": [{"name": "web", "resources": {"cpus": 0.1, "mem": 32},
            "exec": {"command": {"shell": "echo $PORT0 $PORT1 $ENDPOINT_ADMIN $ENDPOINT_HTTP; exec sleep 1000"}},
            "endpoints": [{"name": "admin", "hostPort": fixed}, {"name": "http", "hostPort": 0}]}]
    });
    let (code, v) = send("POST", &format!("{url}/v2/pods"), Some(pod));
    assert_eq!(code, 201, "{v}");
    settled(&url, 30);
    let inst = stable_instances(&url, "/pp", 1, 30);
    let web = inst[0]["containers"][0].clone();
    let allocated: Vec<u64> = web["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["allocatedHostPort"].as_u64())
        .collect();
    assert_eq!(allocated, [u64::from(fixed), u64::from(lo)], "{web}");
    let t = task(&url, web["containerId"].as_str().unwrap_or_default()).unwrap_or_default();
    let out = wait_for(10, "pod stdout", || {
        Some(read_sandbox(&url, &t, "stdout")).filter(|s| !s.is_empty())
    });
    assert_eq!(out.trim(), format!("{fixed} {lo} {fixed} {lo}"));
}

/// The next `deployment_info` event's data from an SSE line stream.
fn next_deployment_info(rx: &std::sync::mpsc::Receiver<String>) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut event = String::new();
    while std::time::Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        if let Some(t) = line.strip_prefix("event: ") {
            event = t.to_string();
        } else if let Some(data) = line.strip_prefix("data: ")
            && event == "deployment_info"
        {
            return serde_json::from_str(data).unwrap_or(Value::Null);
        }
    }
    panic!("no deployment_info event within 20 s");
}

#[test]
fn plans_in_events_agent_ips_text_task_lists_and_ui_redirects_as_marathon_1_5() {
    let dir = TempDir::new("mar-details");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let stream = |event_type: &str| {
        let resp = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .ok()
            .and_then(|c| {
                c.get(format!("{url}/v2/events?event_type={event_type}"))
                    .header("accept", "text/event-stream")
                    .send()
                    .ok()
            })
            .expect("event stream");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(resp).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        rx
    };
    let rx = stream("deployment_info");
    let statuses = stream("status_update_event");

    // deployment_info carries the app in plan.target (and, once it exists, in original).
    let app = json!({"id": "/prod/web", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32,
                     "portDefinitions": [{"port": 0}, {"port": 0}]});
    let (code, v) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201, "{v}");
    let info = next_deployment_info(&rx);
    let plan = &info["plan"];
    let first = plan["id"].clone();
    assert_eq!(plan["original"]["groups"], json!([]), "{plan}");
    let target = &plan["target"]["groups"][0];
    assert_eq!(target["id"], "/prod", "{plan}");
    assert_eq!(target["apps"][0]["id"], "/prod/web", "{plan}");
    assert_eq!(target["apps"][0]["instances"], 1, "{plan}");
    settled(&url, 20);
    let (code, v) = send(
        "PUT",
        &format!("{url}/v2/apps/prod/web"),
        Some(json!({"instances": 2})),
    );
    assert_eq!(code, 200, "{v}");
    // (The first deployment's later steps have their own deployment_info events.)
    let plan = std::iter::repeat_with(|| next_deployment_info(&rx)["plan"].clone())
        .find(|p| p["id"] != first)
        .unwrap_or_default();
    assert_eq!(
        plan["original"]["groups"][0]["apps"][0]["instances"], 1,
        "{plan}"
    );
    assert_eq!(
        plan["target"]["groups"][0]["apps"][0]["instances"], 2,
        "{plan}"
    );
    settled(&url, 20);

    // ipAddresses: the agent's address (host networking).
    let tasks = running(&url, "/prod/web");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    for t in &tasks {
        assert_eq!(
            t["ipAddresses"],
            json!([{"ipAddress": "127.0.0.1", "protocol": "IPv4"}]),
            "{t}"
        );
    }

    // status_update_event carries the agent's address too.
    let running_event = std::iter::repeat_with(|| {
        statuses
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("a status_update_event")
    })
    .filter_map(|l| l.strip_prefix("data:").map(|d| d.trim().to_string()))
    .filter_map(|d| serde_json::from_str::<Value>(&d).ok())
    .find(|e| e["taskStatus"] == "TASK_RUNNING")
    .unwrap_or_default();
    assert_eq!(
        running_event["ipAddresses"],
        json!([{"ipAddress": "127.0.0.1", "protocol": "IPv4"}]),
        "{running_event}"
    );

    // /v2/tasks as text: a line per service port, host:port per running task.
    let (_, v) = get(&format!("{url}/v2/apps/prod/web"));
    let service_ports: Vec<u64> = v["app"]["portDefinitions"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["port"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(service_ports.len(), 2, "{v}");
    let resp = client()
        .get(format!("{url}/v2/tasks"))
        .header("accept", "text/plain")
        .send()
        .expect("GET /v2/tasks");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = resp.text().unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    for (i, line) in lines.iter().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols[0], "prod_web", "{line:?}");
        assert_eq!(cols[1], service_ports[i].to_string(), "{line:?}");
        let mut endpoints: Vec<String> = cols[2..]
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| c.to_string())
            .collect();
        endpoints.sort();
        let mut expected: Vec<String> = tasks
            .iter()
            .map(|t| format!("{}:{}", t["host"].as_str().unwrap_or("?"), t["ports"][i]))
            .collect();
        expected.sort();
        assert_eq!(endpoints, expected, "{line:?}");
    }
    let (code, v) = get(&format!("{url}/v2/tasks"));
    assert_eq!(code, 200);
    assert_eq!(v["tasks"].as_array().map(Vec::len), Some(2), "{v}");

    // The UI paths redirect to their trailing-slash form, which serves an index.
    let no_redirects = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for (path, code, to) in [
        ("/mesos", 301, "/mesos/"),
        ("/marathon", 307, "/marathon/"),
        ("/service/marathon", 301, "/service/marathon/"),
    ] {
        let r = no_redirects
            .get(format!("{url}{path}"))
            .send()
            .expect("GET");
        assert_eq!(r.status().as_u16(), code, "{path}");
        assert_eq!(
            r.headers().get("location").and_then(|v| v.to_str().ok()),
            Some(to),
            "{path}"
        );
        let page = no_redirects.get(format!("{url}{to}")).send().expect("GET");
        assert_eq!(page.status().as_u16(), 200, "{to}");
        let body = page.text().unwrap_or_default();
        assert!(body.contains("<html>"), "{to}: {body}");
        let link = if to == "/mesos/" {
            "master/state"
        } else {
            "v2/apps"
        };
        assert!(body.contains(link), "{to}: {body}");
    }
    let (code, _) = get(&format!("{url}/mesos/master/state"));
    assert_eq!(code, 200);
    let (code, _) = get(&format!("{url}/marathon/v2/apps"));
    assert_eq!(code, 200);
}
