//! End-to-end tests of the foundation: `keel dev`, `keel master` + `keel agent` as separate
//! processes, real executors, cgroups, crashes and restarts, the Mesos state and files APIs,
//! and the CLI.

mod support;

use serde_json::Value;
use support::*;

fn dev(dir: &TempDir, extra: &[&str]) -> Proc {
    Dev::new(dir)
        .exact_resources("cpus:4;mem:4096")
        .args(extra)
        .start()
}

fn one_agent(url: &str) -> Value {
    wait_for(10, "an active agent", || {
        let (_, v) = get(&format!("{url}/master/slaves"));
        v["slaves"]
            .as_array()
            .and_then(|s| s.iter().find(|a| a["active"] == true).cloned())
    })
}

#[test]
fn dev_runs_a_task_reads_its_output_and_kills_it() {
    let dir = TempDir::new("dev-task");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let agent = one_agent(&url);

    let id = run_task(
        &url,
        &["--name", "hello", "--ports", "2"],
        "echo hello-keel; echo \"task=$MESOS_TASK_ID port0=$PORT0 sandbox=$MESOS_SANDBOX\"; echo oops >&2; echo $$ > pid; exec sleep 1000",
    );
    assert!(id.starts_with("hello."), "task id {id}");
    let t = wait_state(&url, &id, "TASK_RUNNING", 10);
    assert_eq!(t["slave_id"], agent["id"]);

    let out = wait_for(10, "stdout", || {
        Some(read_sandbox(&url, &t, "stdout")).filter(|s| s.contains("sandbox="))
    });
    assert!(out.starts_with("hello-keel\n"), "stdout was {out:?}");
    assert!(
        out.contains(&format!("task={id} port0=310")),
        "env missing in {out:?}"
    );
    assert!(read_sandbox(&url, &t, "stderr").contains("oops"));

    // The size probe: offset=-1 answers the file size.
    let path = format!(
        "/frameworks/{}/executors/{id}/runs/latest/stdout",
        t["framework_id"].as_str().unwrap_or_default()
    );
    let (code, probe) = get(&format!(
        "{url}/agent/{}/files/read?path={path}&offset=-1",
        t["slave_id"].as_str().unwrap_or_default()
    ));
    assert_eq!(code, 200);
    assert_eq!(probe["offset"].as_u64(), Some(out.len() as u64));
    assert_eq!(probe["data"], "");

    // The CLI reads the same output, and lists the task.
    let (ok, log, err) = cli(&url, &["task", "log", &id]);
    assert!(ok, "task log: {err}");
    assert!(log.starts_with("hello-keel\n"), "task log printed {log:?}");
    let (ok, list, _) = cli(&url, &["task", "list"]);
    assert!(
        ok && list.contains(&id) && list.contains("TASK_RUNNING"),
        "task list: {list}"
    );
    let (ok, json, _) = cli(&url, &["task", "list", "--json"]);
    let parsed: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    assert!(
        ok && parsed
            .as_array()
            .is_some_and(|a| a.iter().any(|t| t["id"] == id.as_str()))
    );

    let pid: i32 = wait_for(5, "pid file", || {
        read_sandbox(&url, &t, "pid").trim().parse().ok()
    });
    assert!(alive(pid));
    let (ok, _, err) = cli(&url, &["task", "kill", &id]);
    assert!(ok, "task kill: {err}");
    wait_state(&url, &id, "TASK_KILLED", 15);
    wait_for(5, "task process to be gone", || (!alive(pid)).then_some(()));

    // State endpoints reflect what happened.
    let (_, state) = get(&format!("{url}/master/state"));
    assert_eq!(state["version"], "1.11.0");
    assert!(
        state["leader"]
            .as_str()
            .is_some_and(|l| l.starts_with("master@"))
    );
    let fw = &state["frameworks"][0];
    assert!(
        fw["completed_tasks"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["id"] == id.as_str()))
    );
    let (_, m) = get(&format!("{url}/metrics/snapshot"));
    assert_eq!(m["master/tasks_killed"].as_f64(), Some(1.0));
    assert!(keel.stop(), "keel dev did not stop cleanly");
}

#[test]
fn task_over_its_memory_limit_fails_with_the_reason() {
    let dir = TempDir::new("dev-oom");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    one_agent(&url);
    let id = run_task(
        &url,
        &["--mem", "32"],
        "head -c 300000000 /dev/zero | tail > /dev/null",
    );
    let t = wait_state(&url, &id, "TASK_FAILED", 30);
    assert_eq!(
        t["reason"], "REASON_CONTAINER_LIMITATION_MEMORY",
        "task: {t}"
    );
    assert!(
        t["message"]
            .as_str()
            .is_some_and(|m| m.contains("Memory limit exceeded")),
        "task: {t}"
    );
}

#[test]
fn agent_kill9_and_master_restart_lose_nothing() {
    let dir = TempDir::new("split");
    let data = dir.path().join("master");
    let work = dir.path().join("agent");
    let (data, work) = (
        data.to_str().unwrap_or_default().to_string(),
        work.to_str().unwrap_or_default().to_string(),
    );
    let mport = free_port().to_string();
    let mlisten = format!("127.0.0.1:{mport}");
    let alisten = format!("127.0.0.1:{}", free_port());
    let master = Proc::start(&[
        "master",
        "--data-dir",
        &data,
        "--listen",
        &mlisten,
        "--heartbeat-interval",
        "0.2",
    ]);
    let url = master.url.clone();
    let agent_args = [
        "agent",
        "--master",
        &url,
        "--work-dir",
        &work,
        "--listen",
        &alisten,
        "--resources",
        "cpus:2;mem:2048",
    ];
    let agent = Proc::start(&agent_args);
    let agent_id = one_agent(&url)["id"].clone();

    let id = run_task(&url, &[], "echo $$ > pid; exec sleep 1000");
    let t = wait_state(&url, &id, "TASK_RUNNING", 10);
    let pid: i32 = wait_for(5, "pid file", || {
        read_sandbox(&url, &t, "pid").trim().parse().ok()
    });

    // kill -9 the agent: the task keeps running; the restarted agent re-adopts it.
    agent.kill9();
    assert!(alive(pid), "the task died with its agent");
    let agent = Proc::start(&agent_args);
    let (_, astate) = wait_for(10, "agent /state to list the task", || {
        let (c, v) = get(&format!("{}/state", agent.url));
        let running = v["frameworks"][0]["executors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["tasks"][0]["state"] == "TASK_RUNNING"));
        (c == 200 && running).then_some((c, v))
    });
    assert_eq!(astate["id"], agent_id, "the agent came back with a new id");
    assert!(alive(pid), "the task was restarted or lost");
    assert_eq!(task_state(&url, &id), "TASK_RUNNING");
    let t2 = task(&url, &id).unwrap_or_default();
    assert_eq!(
        t2["statuses"].as_array().map(Vec::len),
        t["statuses"].as_array().map(Vec::len),
        "extra statuses after re-adoption: {t2}"
    );

    // Restart the master (kill -9): agent, task and state are all still there.
    master.kill9();
    let master = Proc::start(&[
        "master",
        "--data-dir",
        &data,
        "--listen",
        &mlisten,
        "--heartbeat-interval",
        "0.2",
    ]);
    let url = master.url.clone();
    let a = one_agent(&url);
    assert_eq!(a["id"], agent_id);
    assert_eq!(task_state(&url, &id), "TASK_RUNNING");
    assert!(alive(pid));

    // The re-adopted executor is still in control.
    let (ok, _, err) = cli(&url, &["task", "kill", &id]);
    assert!(ok, "{err}");
    wait_state(&url, &id, "TASK_KILLED", 15);
    wait_for(5, "task process to be gone", || (!alive(pid)).then_some(()));
    drop(agent);
}

#[test]
fn silent_agent_becomes_unreachable_and_comes_back() {
    let dir = TempDir::new("unreach");
    let data = dir.path().join("master");
    let work = dir.path().join("agent");
    let (data, work) = (
        data.to_str().unwrap_or_default().to_string(),
        work.to_str().unwrap_or_default().to_string(),
    );
    let master = Proc::start(&[
        "master",
        "--data-dir",
        &data,
        "--listen",
        "127.0.0.1:0",
        "--agent-timeout",
        "1",
        "--heartbeat-interval",
        "0.2",
    ]);
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
        "cpus:2;mem:2048",
    ];
    let agent = Proc::start(&agent_args);
    one_agent(&url);
    let id = run_task(&url, &[], "exec sleep 1000");
    wait_state(&url, &id, "TASK_RUNNING", 10);
    agent.kill9();
    let t = wait_state(&url, &id, "TASK_UNREACHABLE", 10);
    assert_eq!(
        t["statuses"]
            .as_array()
            .and_then(|s| s.last())
            .map(|s| s["state"].clone()),
        Some(Value::from("TASK_UNREACHABLE"))
    );
    let (_, m) = get(&format!("{url}/metrics/snapshot"));
    assert_eq!(m["master/slaves_unreachable"].as_f64(), Some(1.0));
    let _agent = Proc::start(&agent_args);
    wait_state(&url, &id, "TASK_RUNNING", 10);
    let (ok, _, err) = cli(&url, &["task", "kill", &id]);
    assert!(ok, "{err}");
    wait_state(&url, &id, "TASK_KILLED", 15);
}

#[test]
fn constraints_pick_the_agent_whose_attributes_fit() {
    let dir = TempDir::new("attrs");
    let data = dir.path().join("master");
    let data = data.to_str().unwrap_or_default().to_string();
    let master = Proc::start(&["master", "--data-dir", &data, "--listen", "127.0.0.1:0"]);
    let url = master.url.clone();
    let mut agents = Vec::new();
    for rack in ["r1", "r2"] {
        let work = dir.path().join(format!("agent-{rack}"));
        let work = work.to_str().unwrap_or_default().to_string();
        let listen = format!("127.0.0.1:{}", free_port());
        let attrs = format!("rack:{rack};zone:a");
        agents.push(Proc::start(&[
            "agent",
            "--master",
            &url,
            "--work-dir",
            &work,
            "--listen",
            &listen,
            "--attributes",
            &attrs,
            "--resources",
            "cpus:2;mem:1024",
        ]));
    }
    let slaves = wait_for(10, "two agents", || {
        let (_, v) = get(&format!("{url}/master/slaves"));
        v["slaves"].as_array().filter(|s| s.len() == 2).cloned()
    });
    let r2 = slaves
        .iter()
        .find(|s| s["attributes"]["rack"] == "r2")
        .map(|s| s["id"].clone())
        .unwrap_or_default();
    for _ in 0..3 {
        let id = run_task(&url, &["--constraint", "rack:IS:r2"], "exec sleep 1000");
        let t = wait_state(&url, &id, "TASK_RUNNING", 10);
        assert_eq!(t["slave_id"], r2, "task placed on the wrong agent");
        let (ok, _, err) = cli(&url, &["task", "kill", &id]);
        assert!(ok, "{err}");
    }
    let (ok, _, err) = cli(
        &url,
        &["task", "run", "--constraint", "rack:IS:r9", "--", "true"],
    );
    assert!(!ok);
    assert!(
        err.contains("no agent can run this task") && err.contains("2 agent(s): constraint"),
        "error was {err:?}"
    );
    let (ok, _, err) = cli(&url, &["task", "run", "--cpus", "3", "--", "true"]);
    assert!(
        !ok && err.contains("insufficient cpus"),
        "error was {err:?}"
    );
    let (ok, nodes, _) = cli(&url, &["node", "list"]);
    assert!(
        ok && nodes.contains("rack:r1") && nodes.contains("rack:r2"),
        "node list: {nodes}"
    );
}

#[test]
fn dev_restart_recovers_state_and_tasks() {
    let dir = TempDir::new("dev-restart");
    let keel = dev(&dir, &["--agents", "2"]);
    let url = keel.url.clone();
    wait_for(10, "two agents", || {
        let (_, v) = get(&format!("{url}/master/slaves"));
        v["slaves"].as_array().filter(|s| s.len() == 2).cloned()
    });
    let id = run_task(&url, &[], "echo $$ > pid; exec sleep 1000");
    let t = wait_state(&url, &id, "TASK_RUNNING", 10);
    let pid: i32 = wait_for(5, "pid file", || {
        read_sandbox(&url, &t, "pid").trim().parse().ok()
    });
    let (_, before) = get(&format!("{url}/metadata"));
    assert!(keel.stop(), "keel dev did not stop cleanly");
    assert!(alive(pid), "stopping keel dev killed the task");

    let keel = dev(&dir, &["--agents", "2"]);
    let url = keel.url.clone();
    let (_, after) = get(&format!("{url}/metadata"));
    assert_eq!(before["CLUSTER_ID"], after["CLUSTER_ID"]);
    wait_for(10, "both agents back", || {
        let (_, v) = get(&format!("{url}/master/slaves"));
        v["slaves"]
            .as_array()
            .filter(|s| s.len() == 2 && s.iter().all(|a| a["active"] == true))
            .cloned()
    });
    assert_eq!(task_state(&url, &id), "TASK_RUNNING");
    assert!(alive(pid));
    let (ok, _, err) = cli(&url, &["task", "kill", &id]);
    assert!(ok, "{err}");
    wait_state(&url, &id, "TASK_KILLED", 15);
}

#[test]
fn bad_input_gets_clear_errors_and_loses_nothing() {
    let dir = TempDir::new("bad");
    let work = dir.path().join("w");
    let work = work.to_str().unwrap_or_default().to_string();
    // Malformed resource and attribute strings are refused at start-up with the input named.
    let (ok, _, err) = cli(
        "http://127.0.0.1:1",
        &[
            "agent",
            "--master",
            "http://127.0.0.1:1",
            "--work-dir",
            &work,
            "--resources",
            "cpus:lots",
        ],
    );
    assert!(
        !ok && err.contains("cpus value \"lots\" is not a number"),
        "{err}"
    );
    let (ok, _, err) = cli(
        "http://127.0.0.1:1",
        &[
            "agent",
            "--master",
            "http://127.0.0.1:1",
            "--work-dir",
            &work,
            "--attributes",
            "rack",
        ],
    );
    assert!(!ok && err.contains("\"rack\" is not name:value"), "{err}");

    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let agent = one_agent(&url);
    let id = run_task(&url, &[], "exec sleep 1000");
    wait_state(&url, &id, "TASK_RUNNING", 10);

    let (code, v) = post(
        &format!("{url}/internal/v1/tasks"),
        "{\"cmd\": \"true\", \"cpus\": ",
    );
    assert_eq!(code, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid JSON"))
    );
    let (code, v) = post(
        &format!("{url}/internal/v1/tasks"),
        "{\"cmd\": \"true\", \"cpus\": -1}",
    );
    assert_eq!(code, 422, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("cpus")));
    let (code, _) = post(&format!("{url}/internal/v1/tasks"), "{\"cpus\": 1}");
    assert_eq!(code, 422);
    let (code, v) = post(&format!("{url}/internal/v1/tasks/nope.123/kill"), "");
    assert_eq!(code, 404, "{v}");
    let (code, _) = get(&format!("{url}/agent/nope-S9/state"));
    assert_eq!(code, 404);
    let (code, _) = get(&format!("{url}/master/tasks?limit=abc"));
    assert_eq!(code, 400);
    let (ok, _, err) = cli(&url, &["task", "kill", "does-not-exist"]);
    assert!(!ok && err.contains("no task matches"), "{err}");
    // An agent registering twice with the same id from elsewhere is refused.
    let reg = serde_json::json!({
        "agent_id": agent["id"], "hostname": "imposter", "endpoint": "http://127.0.0.1:9",
        "resources": {"scalars": {"cpus": 1.0, "mem": 128.0}}, "version": "1.11.0"
    });
    let (code, v) = post(
        &format!("{url}/internal/v1/agents/register"),
        &reg.to_string(),
    );
    assert_eq!(code, 409, "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("already connected"))
    );
    // Status updates from an unknown agent are refused.
    let (code, _) = post(&format!("{url}/internal/v1/agents/ghost-S1/status"), &serde_json::json!({"status": {"task_id": id, "state": "TASK_FINISHED", "source": "SOURCE_EXECUTOR", "timestamp": 1.0}}).to_string());
    assert_eq!(code, 404);

    // Nothing was lost or corrupted.
    assert_eq!(task_state(&url, &id), "TASK_RUNNING");
    let (_, s) = get(&format!("{url}/master/slaves"));
    assert_eq!(s["slaves"][0]["hostname"], agent["hostname"]);
    let (ok, _, _) = cli(&url, &["task", "kill", &id]);
    assert!(ok);
    wait_state(&url, &id, "TASK_KILLED", 15);
}

#[test]
fn mesos_and_dcos_endpoints_answer_at_every_prefix() {
    let dir = TempDir::new("paths");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let agent = one_agent(&url);
    for p in [
        "/master/state",
        "/mesos/master/state",
        "/master/state.json",
        "/state",
        "/master/state/",
        "//master//state",
    ] {
        let (code, v) = get(&format!("{url}{p}"));
        assert_eq!(code, 200, "{p}");
        assert!(v["slaves"].is_array(), "{p}: {v}");
    }
    for p in [
        "/master/state-summary",
        "/master/slaves",
        "/master/frameworks/",
        "/master/tasks",
        "/metrics/snapshot",
        "/version",
        "/metadata",
        "/dcos-metadata/dcos-version.json",
    ] {
        let (code, _) = get(&format!("{url}{p}"));
        assert_eq!(code, 200, "{p}");
    }
    let (_, v) = get(&format!("{url}/version"));
    let version = v["version"].as_str().unwrap_or_default();
    assert!(
        version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "pymesos cannot parse version {version:?}"
    );
    let (_, md) = get(&format!("{url}/metadata"));
    assert!(md["CLUSTER_ID"].as_str().is_some_and(|c| c.len() == 36));
    let (code, _) = get(&format!("{url}/master/health"));
    assert_eq!(code, 200);
    let r = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok();
    let loc = r
        .and_then(|c| c.get(format!("{url}/master/redirect")).send().ok())
        .map(|r| {
            (
                r.status().as_u16(),
                r.headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap_or_default().to_string()),
            )
        });
    assert_eq!(loc.as_ref().map(|l| l.0), Some(307));
    assert!(
        loc.and_then(|l| l.1)
            .is_some_and(|l| l.starts_with("//127.0.0.1:"))
    );
    let (_, st) = get(&format!(
        "{url}/agent/{}/slave(1)/state",
        agent["id"].as_str().unwrap_or_default()
    ));
    assert_eq!(st["id"], agent["id"]);
    let r = client()
        .get(format!("{url}/master/state?jsonp=cb"))
        .send()
        .map(|r| r.text().unwrap_or_default())
        .unwrap_or_default();
    assert!(r.starts_with("cb({") && r.ends_with(");"));
}

#[test]
fn task_log_and_kill_pick_the_live_task_of_that_name_and_say_so() {
    let dir = TempDir::new("task-pick");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    one_agent(&url);
    // Finished runs of `hello-job` share the prefix `hello` with the task `hello`.
    for _ in 0..2 {
        let id = run_task(&url, &["--name", "hello-job"], "echo job-run");
        wait_state(&url, &id, "TASK_FINISHED", 15);
    }
    let hello = run_task(&url, &["--name", "hello"], "echo hello-out; exec sleep 600");
    wait_state(&url, &hello, "TASK_RUNNING", 15);
    wait_for(10, "hello's output", || {
        let t = task(&url, &hello)?;
        read_sandbox(&url, &t, "stdout")
            .contains("hello-out")
            .then_some(())
    });

    let (ok, out, err) = cli(&url, &["task", "log", "hello"]);
    assert!(ok, "task log hello: {err}");
    assert_eq!(out, "hello-out\n");
    assert!(
        err.contains(&format!("\"hello\" is task {hello} (running")),
        "{err}"
    );

    // Two live tasks of one name: ambiguous, and both are listed.
    let webs: Vec<String> = (0..2)
        .map(|_| run_task(&url, &["--name", "web"], "exec sleep 600"))
        .collect();
    let (ok, _, err) = cli(&url, &["task", "log", "web"]);
    assert!(!ok, "several live tasks named web must be ambiguous");
    assert!(
        webs.iter().all(|w| err.contains(w.as_str())) && err.contains("2 live tasks"),
        "{err}"
    );

    let (ok, out, err) = cli(&url, &["task", "kill", "hello"]);
    assert!(ok, "task kill hello: {err}");
    assert_eq!(out.trim(), format!("Killing {hello}"));
    wait_state(&url, &hello, "TASK_KILLED", 15);
    for w in &webs {
        let (ok, _, err) = cli(&url, &["task", "kill", w]);
        assert!(ok, "{err}");
    }
    assert!(keel.stop(), "keel dev did not stop cleanly");
}

/// `keel dev` with `extra` flags and its stderr written to `log`.
fn dev_logging_to(dir: &TempDir, log: &std::path::Path, extra: &[&str]) -> Proc {
    use std::io::BufRead;
    let data = dir.path().join("data");
    let file = std::fs::File::create(log).expect("log file");
    let mut child = std::process::Command::new(KEEL)
        .args(["dev", "--data-dir"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--resources", "cpus:4;mem:4096"])
        .args(extra)
        .env("KEEL_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(file)
        .spawn()
        .expect("spawn keel dev");
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let url = line
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(url.starts_with("http://"), "keel dev printed {line:?}");
    Proc { child, url }
}

#[test]
fn dev_logs_to_a_file_without_colour_codes_and_as_json_lines_when_asked() {
    let dir = TempDir::new("dev-logs");
    for format in ["text", "json"] {
        let log = dir.path().join(format!("{format}.log"));
        let keel = dev_logging_to(&dir, &log, &["--log-format", format]);
        let url = keel.url.clone();
        one_agent(&url);
        let id = run_task(&url, &["--name", "logged"], "echo hi");
        wait_state(&url, &id, "TASK_FINISHED", 15);
        assert!(keel.stop(), "keel dev did not stop cleanly");
        let text = std::fs::read_to_string(&log).expect("read log");
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(lines.len() >= 2, "{format}: too little logged: {text:?}");
        assert!(
            !text.contains("\x1b["),
            "{format}: colour codes in a file: {text:?}"
        );
        if format == "json" {
            for l in &lines {
                let v: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}"));
                assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
            }
        } else {
            assert!(lines.iter().any(|l| l.contains(" INFO ")), "{text}");
        }
    }
}

/// dcos-history: the minute ring fills every 2 s, the hour ring (1 s steps here) is in the
/// store, so a restarted `keel dev` serves the hour it had before.
#[test]
fn history_serves_the_rings_and_keeps_the_hour_across_a_restart() {
    let dir = TempDir::new("dev-history");
    let start = || {
        Dev::new(&dir)
            .exact_resources("cpus:4;mem:4096")
            .env("KEEL_HISTORY_HOUR_STEP_SECS", "1")
            .start()
    };
    let keel = start();
    let url = keel.url.clone();
    let h = format!("{url}/dcos-history-service");
    let r = client().get(format!("{h}/ping")).send().expect("ping");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(r.text().unwrap_or_default(), "pong");
    // The latest sample is the master's state-summary, agent included once registered.
    let last = wait_for(15, "the agent in history/last", || {
        let (code, v) = get(&format!("{h}/history/last"));
        assert_eq!(code, 200);
        v["slaves"].as_array().filter(|s| s.len() == 1)?;
        Some(v)
    });
    assert_eq!(
        last["hostname"],
        get(&format!("{url}/master/state-summary")).1["hostname"]
    );
    let minute = wait_for(15, "two samples in history/minute", || {
        let (_, v) = get(&format!("{h}/history/minute"));
        v.as_array().filter(|a| a.len() >= 2).cloned()
    });
    assert!(minute.iter().all(|s| s["slaves"].is_array()), "{minute:?}");
    let before = wait_for(20, "three samples in history/hour", || {
        let (_, v) = get(&format!("{h}/history/hour"));
        v.as_array().filter(|a| a.len() >= 3).cloned()
    });
    assert!(keel.stop(), "keel dev did not stop cleanly");

    // A fresh start would hold one sample; the restarted one holds the persisted hour first.
    let keel = start();
    let (code, after) = get(&format!("{}/dcos-history-service/history/hour", keel.url));
    assert_eq!(code, 200);
    let after = after.as_array().cloned().unwrap_or_default();
    assert!(
        after.len() >= before.len(),
        "{} < {}",
        after.len(),
        before.len()
    );
    assert_eq!(
        after[..before.len()],
        before[..],
        "the persisted hour changed"
    );
    // `keel history --hour`: a header and a row per sample, the newest with the agent.
    let (ok, out, err) = cli(&keel.url, &["history", "--hour"]);
    assert!(ok, "{err}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert!(rows.len() >= before.len(), "{out}");
    let newest = rows
        .last()
        .map(|r| r.split_whitespace().collect::<Vec<_>>());
    assert_eq!(newest.as_ref().and_then(|r| r.get(1)), Some(&"1"), "{out}");
}

/// dcos-diagnostics through `keel diag`: unit health, nodes, and a bundle created, listed,
/// downloaded and deleted; bad names and nodes get 404 and 400.
#[test]
fn diag_reports_unit_health_and_makes_bundles() {
    let dir = TempDir::new("dev-diag");
    let keel = dev(&dir, &[]);
    let url = keel.url.clone();
    let agent = one_agent(&url);
    let (ok, out, err) = cli(&url, &["diag", "health"]);
    assert!(ok, "{err}");
    for unit in [
        "dcos-mesos-master.service",
        "dcos-mesos-slave.service",
        "dcos-marathon.service",
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(unit))
            .unwrap_or_default()
            .trim_end();
        assert!(
            line.ends_with("healthy") && !line.ends_with("unhealthy"),
            "{unit}: {out}"
        );
    }
    let (ok, out, err) = cli(&url, &["diag", "nodes"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("master") && out.contains(agent["id"].as_str().unwrap_or("?")),
        "{out}"
    );

    let (ok, name, err) = cli(&url, &["diag", "bundle", "create", "--wait", "all"]);
    assert!(ok, "{err}");
    let name = name.trim().to_string();
    assert!(
        name.starts_with("bundle-") && name.ends_with(".zip"),
        "{name}"
    );
    let (ok, out, err) = cli(&url, &["diag", "bundle", "list"]);
    assert!(ok && out.contains(&name), "{out}{err}");
    let zip = dir.path().join("b.zip");
    let zip_arg = zip.to_string_lossy().to_string();
    let (ok, _, err) = cli(&url, &["diag", "bundle", "download", &name, "-o", &zip_arg]);
    assert!(ok, "{err}");
    let bytes = std::fs::read(&zip).unwrap_or_default();
    assert!(
        bytes.starts_with(b"PK") && bytes.len() > 1000,
        "{} bytes",
        bytes.len()
    );
    let (ok, _, err) = cli(&url, &["diag", "bundle", "delete", &name]);
    assert!(ok, "{err}");
    let (_, out, _) = cli(&url, &["diag", "bundle", "list"]);
    assert!(!out.contains(&name), "{out}");

    let d = format!("{url}/system/health/v1");
    assert_eq!(get(&format!("{d}/nodes/10.255.255.1/units")).0, 404);
    assert_eq!(get(&format!("{d}/units/nosuch.service")).0, 404);
    assert_eq!(
        get(&format!(
            "{d}/report/diagnostics/serve/..%2F..%2Fetc%2Fpasswd"
        ))
        .0,
        404
    );
    assert_eq!(
        get(&format!("{d}/report/diagnostics/serve/bundle-x.zip")).0,
        404
    );
    let (code, v) = post(
        &format!("{d}/report/diagnostics/create"),
        r#"{"nodes":["10.255.255.1"]}"#,
    );
    assert_eq!(code, 400, "{v}");
    assert!(
        v["status"]
            .as_str()
            .unwrap_or_default()
            .contains("10.255.255.1"),
        "{v}"
    );
    let (code, _) = post(&format!("{d}/report/diagnostics/create"), "not json");
    assert_eq!(code, 400);
}

/// Signal is off by default; opted in, it writes the three events dcos-signal would have
/// sent to a file, named by the cluster id, and sends nothing.
#[test]
fn signal_writes_its_report_to_a_file_only_when_asked() {
    let dir = TempDir::new("dev-signal");
    let report = dir.path().join("signal.json");
    let report_arg = report.to_string_lossy().to_string();
    let keel = dev(
        &dir,
        &["--signal-report", &report_arg, "--signal-interval", "1"],
    );
    let url = keel.url.clone();
    one_agent(&url);
    let cluster = get(&format!("{url}/metadata")).1["CLUSTER_ID"].clone();
    let v: Value = wait_for(15, "a signal report with the agent", || {
        let v: Value = serde_json::from_slice(&std::fs::read(&report).ok()?).ok()?;
        let agent_in_both = v["events"][2]["properties"]["agents_active"] == 1
            && v["events"][0]["properties"]["health-unit-dcos-mesos-slave-total"] == 1
            && v["events"][0]["properties"]["health-unit-dcos-mesos-slave-unhealthy"] == 0;
        agent_in_both.then_some(v)
    });
    assert_eq!(v["sent"], false);
    let names: Vec<&str> = v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(names, ["health", "package_list", "mesos_track"]);
    for e in v["events"].as_array().into_iter().flatten() {
        assert_eq!(e["anonymousId"], cluster, "{e}");
    }
    let health = &v["events"][0]["properties"];
    assert_eq!(health["health-unit-dcos-marathon-unhealthy"], 0, "{health}");
    drop(keel);

    // Without the flag: no report anywhere under the data dir.
    let dir = TempDir::new("dev-nosignal");
    let keel = dev(&dir, &[]);
    one_agent(&keel.url);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let found = std::process::Command::new("grep")
        .args(["-rl", "mesos_track"])
        .arg(dir.path())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    assert!(found.trim().is_empty(), "{found}");
}
