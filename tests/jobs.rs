//! End-to-end tests of Metronome-compatible jobs on `keel dev`: the v1 API's shapes and
//! errors, runs with real tasks, ON_FAILURE retries, run logs that outlive the sandbox,
//! dependencies, schedules firing on time, FORBID, and exactly-once slots across a master
//! crash. Schedules use the test-only 6-field cron (leading seconds) so slots are seconds
//! apart, and a 100 ms scheduler tick.

mod support;

use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::*;

/// Starts `keel dev` on `dir` with the jobs test knobs.
fn dev(dir: &TempDir) -> Proc {
    dev_with(dir, &[])
}

/// `dev` with extra `keel dev` arguments.
fn dev_with(dir: &TempDir, extra: &[&str]) -> Proc {
    let keel = Dev::new(dir)
        .exact_resources("cpus:4;mem:4096")
        .args(extra)
        .env("KEEL_METRONOME_TICK_MS", "100")
        .env("KEEL_METRONOME_CRON_SECONDS", "1")
        .start();
    let url = keel.url.clone();
    wait_for(10, "an active agent", || {
        let (_, v) = get(&format!("{url}/master/slaves"));
        v["slaves"]
            .as_array()
            .and_then(|s| s.iter().find(|a| a["active"] == true).cloned())
    });
    keel
}

fn send(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client().request(m, url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().expect("request");
    let code = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn job(id: &str, cmd: &str) -> Value {
    json!({"id": id, "run": {"cpus": 0.1, "mem": 32, "disk": 0, "cmd": cmd}})
}

fn history(url: &str, id: &str) -> Value {
    get(&format!(
        "{url}/v1/jobs/{id}?embed=history&embed=activeRuns"
    ))
    .1
}

fn finished(h: &Value) -> usize {
    let n = |k: &str| h["history"][k].as_array().map_or(0, Vec::len);
    n("successfulFinishedRuns") + n("failedFinishedRuns")
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Sleeps until the wall clock's seconds are `offset` past a multiple of `period`.
fn sleep_until_phase(period: f64, offset: f64) {
    let t = now();
    let target = (t / period).floor() * period + offset;
    let target = if target <= t { target + period } else { target };
    std::thread::sleep(Duration::from_secs_f64(target - t));
}

/// Every run (active and finished) of a job as (created unix secs, status).
fn runs(url: &str, id: &str) -> Vec<(f64, String)> {
    let h = history(url, id);
    let mut out = Vec::new();
    for (k, status) in [
        ("successfulFinishedRuns", "SUCCESS"),
        ("failedFinishedRuns", "FAILED"),
    ] {
        for r in h["history"][k].as_array().into_iter().flatten() {
            out.push((parse_ts(&r["createdAt"]), status.to_string()));
        }
    }
    for r in h["activeRuns"].as_array().into_iter().flatten() {
        out.push((
            parse_ts(&r["createdAt"]),
            r["status"].as_str().unwrap_or("").to_string(),
        ));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Parses Metronome's `2024-01-01T00:00:05.123+0000` into Unix seconds.
fn parse_ts(v: &Value) -> f64 {
    let s = v.as_str().unwrap_or_default();
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
    let (y, mo, d) = (num(0, 4), num(5, 7), num(8, 10));
    let (h, mi, sec, ms) = (num(11, 13), num(14, 16), num(17, 19), num(20, 23));
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + h * 3600 + mi * 60 + sec) as f64 + ms as f64 / 1000.0
}

#[test]
fn api_shapes_defaults_and_errors() {
    let dir = TempDir::new("jobs-api");
    let keel = dev(&dir);
    let url = keel.url.clone();
    let (code, created) = send(
        "POST",
        &format!("{url}/v1/jobs"),
        Some(&job("prod.report", "true")),
    );
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["run"]["maxLaunchDelay"], 3600);
    assert_eq!(created["run"]["restart"], json!({"policy": "NEVER"}));
    assert_eq!(created["schedules"], json!([]));

    let (code, dup) = send(
        "POST",
        &format!("{url}/v1/jobs"),
        Some(&job("prod.report", "true")),
    );
    assert_eq!(
        (code, dup),
        (409, json!({"message": "Job with this id already exists"}))
    );
    let (code, missing) = get(&format!("{url}/v1/jobs/nope"));
    assert_eq!(
        (code, missing),
        (404, json!({"id": "nope", "message": "Job not found"}))
    );
    let (code, bad) = send(
        "POST",
        &format!("{url}/v1/jobs"),
        Some(&json!({"id": "x", "run": {"cpus": 1, "mem": 16, "disk": 0, "cmd": "true"}})),
    );
    assert_eq!(code, 422);
    assert_eq!(bad["message"], "Object is not valid");
    assert_eq!(bad["details"][0]["path"], "/run/mem");
    let (code, _) = get(&format!("{url}/v1/jobs?embed=everything"));
    assert_eq!(code, 400);

    // Schedules CRUD, under the DC/OS service prefix too.
    let base = format!("{url}/service/metronome/v1/jobs/prod.report/schedules");
    let sched = json!({"id": "nightly", "cron": "0 0 2 * * *", "timezone": "Europe/Berlin"});
    let (code, s) = send("POST", &base, Some(&sched));
    assert_eq!(code, 201, "{s}");
    assert_eq!(s["startingDeadlineSeconds"], 900);
    assert!(
        s["nextRunAt"]
            .as_str()
            .is_some_and(|t| t.ends_with("+0000")),
        "{s}"
    );
    let (code, second) = send(
        "POST",
        &base,
        Some(&json!({"id": "other", "cron": "0 0 3 * * *"})),
    );
    assert_eq!(code, 409, "{second}");
    let (code, _) = send(
        "PUT",
        &format!("{base}/nightly"),
        Some(&json!({"id": "nightly", "cron": "0 0 4 * * *", "enabled": false})),
    );
    assert_eq!(code, 200);
    assert_eq!(get(&format!("{base}/nightly")).1["enabled"], false);
    let (code, gone) = get(&format!("{base}/nope"));
    assert_eq!(
        (code, gone),
        (404, json!({"id": "nope", "message": "Schedule not found"}))
    );
    // PUT on the job keeps its schedules.
    let (code, _) = send(
        "PUT",
        &format!("{url}/v1/jobs/prod.report"),
        Some(&job("prod.report", "echo v2")),
    );
    assert_eq!(code, 200);
    let j = get(&format!("{url}/v1/jobs/prod.report")).1;
    assert_eq!(
        (j["run"]["cmd"].clone(), j["schedules"][0]["id"].clone()),
        (json!("echo v2"), json!("nightly"))
    );
    let (code, _) = send("DELETE", &format!("{base}/nightly"), None);
    assert_eq!(code, 200);

    let (code, run) = get(&format!(
        "{url}/v1/jobs/prod.report/runs/20240101000000abcde"
    ));
    assert_eq!(code, 404);
    assert_eq!(
        run,
        json!({"jobSpec": "prod.report", "id": "20240101000000abcde", "message": "Job Run not found"})
    );
    assert_eq!(
        get(&format!("{url}/service/metronome/ping")).1,
        json!("pong")
    );
    for prefix in ["", "/service/metronome"] {
        let (code, m) = get(&format!("{url}{prefix}/v1/metrics"));
        assert_eq!(code, 200, "{m}");
        assert_eq!(m["gauges"]["dcos.metronome.jobs.count"]["value"], 1, "{m}");
        assert!(
            m["counters"]["dcos.metronome.runs.failed"]["count"].is_u64(),
            "{m}"
        );
        let (code, v) = get(&format!("{url}{prefix}/v1/no/such/route"));
        assert_eq!(code, 404);
        assert_eq!(
            v["requestPath"],
            format!("{prefix}/v1/no/such/route"),
            "{v}"
        );
    }
    let (code, _) = send("DELETE", &format!("{url}/v1/jobs/prod.report"), None);
    assert_eq!(code, 200);
    assert!(keel.stop());
}

#[test]
fn runs_succeed_retry_and_keep_their_logs_after_the_sandbox_is_gone() {
    let dir = TempDir::new("jobs-runs");
    let keel = dev(&dir);
    let url = keel.url.clone();
    let spec = dir.path().join("hello.json");
    let doc = job("hello", "echo hello-from-$MESOS_TASK_ID; echo oops >&2");
    std::fs::write(&spec, doc.to_string()).expect("write spec");
    let (ok, _, err) = cli(&url, &["job", "add", spec.to_str().unwrap_or_default()]);
    assert!(ok, "job add: {err}");
    let (ok, out, err) = cli(&url, &["job", "run", "--wait", "hello"]);
    assert!(ok, "job run: {out} {err}");
    let run_id = out
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();

    // The output is copied out of the sandbox; then the sandbox goes away.
    wait_for(20, "the archived output", || {
        let (_, v) = get(&format!("{url}/v1/jobs/hello/runs/{run_id}/logs"));
        v["tasks"][0]["archived"]["stdout"]
            .as_u64()
            .filter(|n| *n > 0)
    });
    let slaves = dir.path().join("data/agent-0/slaves");
    std::fs::remove_dir_all(&slaves).expect("remove sandboxes");
    let (ok, log, err) = cli(&url, &["job", "logs", "hello"]);
    assert!(ok, "job logs: {err}");
    assert_eq!(log, format!("hello-from-hello_{run_id}.1\n"));
    let (ok, log, _) = cli(&url, &["job", "logs", "--stderr", "hello", &run_id]);
    assert!(ok && log == "oops\n", "stderr was {log:?}");
    let (ok, table, _) = cli(&url, &["job", "history", "hello"]);
    assert!(
        ok && table.contains(&run_id) && table.contains("SUCCESS"),
        "{table}"
    );

    // ON_FAILURE: the first attempt fails, the relaunch succeeds, within one run.
    let flag = dir.path().join("flag");
    let cmd = format!(
        "test -e {f} || {{ touch {f}; exit 1; }}",
        f = flag.display()
    );
    let mut flaky = job("flaky", &cmd);
    flaky["run"]["restart"] = json!({"policy": "ON_FAILURE", "activeDeadlineSeconds": 120});
    let (code, _) = send("POST", &format!("{url}/v1/jobs"), Some(&flaky));
    assert_eq!(code, 201);
    let (ok, out, err) = cli(&url, &["job", "run", "--wait", "flaky"]);
    assert!(ok, "flaky run: {out} {err}");
    let h = history(&url, "flaky");
    assert_eq!(h["history"]["successCount"], 1, "{h}");
    assert_eq!(
        h["history"]["successfulFinishedRuns"][0]["tasks"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // NEVER: a failing run fails.
    let (code, _) = send(
        "POST",
        &format!("{url}/v1/jobs"),
        Some(&job("broken", "exit 3")),
    );
    assert_eq!(code, 201);
    let (ok, _, err) = cli(&url, &["job", "run", "--wait", "broken"]);
    assert!(!ok && err.contains("FAILED"), "{err}");

    // Dependencies: `report` runs once `hello` succeeds again.
    let mut report = job("report", "true");
    report["dependencies"] = json!([{"id": "hello"}]);
    let (code, body) = send("POST", &format!("{url}/v1/jobs"), Some(&report));
    assert_eq!(code, 201, "{body}");
    let (ok, _, _) = cli(&url, &["job", "run", "--wait", "hello"]);
    assert!(ok);
    wait_for(20, "the dependent job to run", || {
        (history(&url, "report")["history"]["successCount"] == 1).then_some(())
    });
    let (code, conflict) = send("DELETE", &format!("{url}/v1/jobs/hello"), None);
    assert_eq!(code, 409, "{conflict}");
    assert!(keel.stop());
}

#[test]
fn schedules_fire_on_time_and_forbid_skips_slots_while_a_run_is_active() {
    let dir = TempDir::new("jobs-sched");
    let keel = dev(&dir);
    let url = keel.url.clone();
    let mut j = job("tick", "sleep 5");
    j["schedules"] =
        json!([{"id": "every-3s", "cron": "*/3 * * * * *", "concurrencyPolicy": "FORBID"}]);
    let (code, body) = send("POST", &format!("{url}/v1/jobs"), Some(&j));
    assert_eq!(code, 201, "{body}");
    let first = wait_for(10, "the first scheduled run", || {
        runs(&url, "tick").first().cloned()
    });
    // It fired on its slot: a multiple of 3 s, within two seconds (slack for a loaded CI
    // machine; the slots are 3 s apart, so a larger bound could not fail).
    let late = first.0 - (first.0 / 3.0).floor() * 3.0;
    assert!(late < 2.0, "run created {late:.3} s after its slot");
    wait_for(10, "a slot skipped by FORBID", || {
        let h = history(&url, "tick");
        h["history"]["missedRuns"].as_array().and_then(|m| {
            m.iter()
                .find(|m| m["reason"] == "CONCURRENCY_FORBIDDEN")
                .cloned()
        })
    });
    assert_eq!(
        history(&url, "tick")["activeRuns"].as_array().map(Vec::len),
        Some(1),
        "FORBID keeps one run at a time"
    );
    let (code, refused) = send("POST", &format!("{url}/v1/jobs/tick/runs"), None);
    assert_eq!(code, 409, "manual start under FORBID: {refused}");
    let (code, _) = send(
        "DELETE",
        &format!("{url}/v1/jobs/tick?stopCurrentJobRuns=true"),
        None,
    );
    assert_eq!(code, 200);
    assert!(keel.stop());
}

#[test]
fn a_master_crash_neither_duplicates_nor_loses_a_slot() {
    let dir = TempDir::new("jobs-restart");
    let keel = dev(&dir);
    let url = keel.url.clone();
    sleep_until_phase(10.0, 3.0);
    let mut j = job("exact", "true");
    j["schedules"] =
        json!([{"id": "every-10s", "cron": "*/10 * * * * *", "startingDeadlineSeconds": 60}]);
    let (code, body) = send("POST", &format!("{url}/v1/jobs"), Some(&j));
    assert_eq!(code, 201, "{body}");
    // Slot s1 fires; crash right after it.
    let s1 = wait_for(12, "the first slot", || {
        runs(&url, "exact").first().map(|r| r.0)
    });
    let s1 = (s1 / 10.0).floor() * 10.0;
    // Crash once s1's run has finished (a crash in the middle of its launch may fail that
    // run's task, which is not what this test is about).
    wait_for(8, "the first run to finish", || {
        (finished(&history(&url, "exact")) >= 1).then_some(())
    });
    keel.kill9();
    // Down across slot s2; back 4 s after it.
    std::thread::sleep(Duration::from_secs_f64((s1 + 14.0 - now()).max(0.0)));
    let keel = dev(&dir);
    let url = keel.url.clone();
    // s2 runs at start-up; s3 on time; s1 never again.
    std::thread::sleep(Duration::from_secs_f64((s1 + 22.0 - now()).max(0.0)));
    wait_for(10, "three finished runs", || {
        (finished(&history(&url, "exact")) >= 3).then_some(())
    });
    let all = runs(&url, "exact");
    let created: Vec<f64> = all.iter().map(|r| r.0 - s1).collect();
    assert_eq!(
        all.len(),
        3,
        "one run per slot, created at {created:?} s after s1"
    );
    assert!(created[0] < 5.0, "s1 on time: {created:?}");
    assert!(
        created[1] >= 10.0 && created[1] < 20.0,
        "s2 at start-up: {created:?}"
    );
    assert!(
        created[2] >= 20.0 && created[2] < 25.0,
        "s3 on time: {created:?}"
    );
    assert!(all.iter().all(|r| r.1 == "SUCCESS"), "{all:?}");
    assert!(keel.stop());
}

#[test]
fn a_job_runs_in_an_image_through_keels_own_runtime() {
    let dir = TempDir::new("jobs-ucr");
    let archives = dir.path().join("archives");
    keel_image::testing::busybox_archive(&archives);
    let keel = dev_with(
        &dir,
        &["--docker-registry", archives.to_str().unwrap_or_default()],
    );
    let url = keel.url.clone();
    let spec = json!({"id": "in-image", "run": {"cpus": 0.1, "mem": 32, "disk": 0,
        "cmd": "echo in-image=$KEEL_IMAGE sandbox=$MESOS_SANDBOX",
        "ucr": {"image": {"id": "busybox"}}}});
    let (code, v) = send("POST", &format!("{url}/v1/jobs"), Some(&spec));
    assert_eq!(code, 201, "{v}");
    let (ok, out, err) = cli(&url, &["job", "run", "--wait", "in-image"]);
    assert!(ok, "job run: {out} {err}");
    wait_for(30, "a successful run", || {
        let h = history(&url, "in-image");
        (h["history"]["successCount"] == 1).then_some(())
    });
    let log = wait_for(20, "the run's output", || {
        let (ok, log, _) = cli(&url, &["job", "logs", "in-image"]);
        (ok && log.contains("in-image=")).then_some(log)
    });
    assert!(
        log.contains("in-image=busybox sandbox=/mnt/mesos/sandbox"),
        "not run in the image: {log}"
    );
}
