//! End-to-end: dcos-log v2 task logs against `keel dev`. A task writes a million numbered
//! lines fast across many rotations (1 MB files); an SSE follower started with the task and a
//! range read afterwards must each see every line exactly once, in order.

mod support;

use std::io::{BufRead, BufReader};
use std::time::Duration;
use support::*;

const LINES: u64 = 1_000_000;

fn dev(dir: &TempDir) -> Proc {
    Dev::new(dir)
        .args(&["--log-rotate-max-size", "1048576"])
        .args(&["--log-rotate-max-files", "100"])
        .start()
}

/// Checks that `lines` are `1..=n` in order; answers n.
fn count_in_order(lines: impl Iterator<Item = String>) -> u64 {
    let mut expect = 1u64;
    for l in lines {
        assert_eq!(
            l,
            expect.to_string(),
            "line {expect} missing or out of order"
        );
        expect += 1;
    }
    expect - 1
}

#[test]
fn follow_and_range_reads_lose_no_line_across_rotations() {
    let dir = TempDir::new("logs");
    let keel = dev(&dir);
    let url = keel.url.clone();
    let id = run_task(&url, &[], &format!("seq 1 {LINES}; exec sleep 1000"));
    wait_state(&url, &id, "TASK_RUNNING", 30);
    let stream_client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");

    // Follow from the beginning while the task writes.
    let follow = wait_for(30, "the stdout file", || {
        let r = stream_client
            .get(format!("{url}/system/v1/logs/v2/task/{id}?cursor=BEG"))
            .header("Accept", "text/event-stream")
            .send()
            .ok()?;
        (r.status().as_u16() == 200).then_some(r)
    });
    assert_eq!(
        follow.headers()["content-type"]
            .to_str()
            .unwrap_or_default(),
        "text/event-stream"
    );
    let mut ids = Vec::new();
    let mut messages = Vec::new();
    let mut reader = BufReader::new(follow);
    let mut line = String::new();
    while (messages.len() as u64) < LINES {
        line.clear();
        let n = reader.read_line(&mut line).expect("read the event stream");
        assert!(n > 0, "the stream ended after {} lines", messages.len());
        if let Some(i) = line.strip_prefix("id: ") {
            ids.push(i.trim().parse::<u64>().expect("numeric id"));
        } else if let Some(d) = line.strip_prefix("data: ") {
            let v: serde_json::Value = serde_json::from_str(d).expect("json data");
            messages.push(
                v["fields"]["MESSAGE"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    drop(reader);
    assert_eq!(count_in_order(messages.into_iter()), LINES);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");

    // The files really rotated.
    let t = task(&url, &id).expect("task");
    let agent = t["slave_id"].as_str().unwrap_or_default().to_string();
    let fw = t["framework_id"].as_str().unwrap_or_default().to_string();
    let browse = format!(
        "{url}/agent/{agent}/files/browse?path=/frameworks/{fw}/executors/{id}/runs/latest"
    );
    let (_, listing) = get(&browse);
    let rotated = listing
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| f["path"].as_str().is_some_and(|p| p.contains("stdout.")))
                .count()
        })
        .unwrap_or(0);
    assert!(rotated >= 5, "expected several rotated files: {listing}");

    // A range read of everything, through the 303 and the proxy.
    let r = stream_client
        .get(format!(
            "{url}/system/v1/logs/v2/task/{id}/file/stdout?cursor=BEG"
        ))
        .header("Accept", "text/plain")
        .send()
        .expect("range read");
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().expect("body");
    assert_eq!(count_in_order(body.lines().map(str::to_string)), LINES);

    // The tail, a skip and a limit, and resuming after an event id.
    let text = |q: &str| {
        let r = stream_client
            .get(format!("{url}/system/v1/logs/v2/task/{id}/file/stdout?{q}"))
            .send()
            .expect("GET");
        (r.status().as_u16(), r.text().unwrap_or_default())
    };
    assert_eq!(
        text("cursor=END&skip=-3"),
        (200, format!("{}\n{}\n{LINES}\n", LINES - 2, LINES - 1))
    );
    assert_eq!(text("cursor=BEG&skip=10&limit=2"), (200, "11\n12\n".into()));
    let tenth = ids[9];
    let r = stream_client
        .get(format!(
            "{url}/system/v1/logs/v2/task/{id}/file/stdout?limit=1"
        ))
        .header("Last-Event-ID", tenth.to_string())
        .send()
        .expect("GET");
    assert_eq!(r.text().unwrap_or_default(), "11\n");
    assert_eq!(text("cursor=END").0, 204, "nothing after the end");
    assert_eq!(text("skip=abc").0, 400);
    assert_eq!(text("cursor=xyz").0, 400);
    assert_eq!(text("cursor=999999999999").0, 400);
    let r = stream_client
        .get(format!("{url}/system/v1/logs/v2/task/{id}/file/nosuchfile"))
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 204);
    let r = stream_client
        .get(format!("{url}/system/v1/logs/v2/task/no-such-task"))
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 404);
    let agent_form = format!(
        "{url}/system/v1/agent/{agent}/logs/v2/task/frameworks/{fw}/executors/{id}/runs/{}",
        t["statuses"][0]["container_status"]["container_id"]["value"]
            .as_str()
            .unwrap_or("latest")
    );
    let r = stream_client
        .get(format!("{agent_form}/files/browse"))
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    let r = stream_client
        .get(format!("{url}/system/v1/logs/v2/task/{id}/download"))
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().map(|b| b.len()).unwrap_or(0), body.len());
    keel.stop();
}

/// GETs `url` with `Accept: accept`; answers the status and the body.
fn fetch(url: &str, accept: &str) -> (u16, String) {
    let r = client()
        .get(url)
        .header("Accept", accept)
        .send()
        .expect("GET");
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// The JSON entries of a JSON range read.
fn entries(body: &str) -> Vec<serde_json::Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON entry per line"))
        .collect()
}

#[test]
fn component_logs_are_served_with_units_filters_cursors_and_follow() {
    let dir = TempDir::new("logs-component");
    let keel = Dev::new(&dir).start();
    let url = keel.url.clone();
    let agent = wait_for(30, "the agent", || {
        let (_, s) = get(&format!("{url}/state"));
        s["slaves"][0]["id"].as_str().map(str::to_string)
    });
    let comp = format!("{url}/system/v1/logs/v2/component");
    // Every role writes the node's journal: text lines `YYYY-MM-DD HH:MM:SS: MESSAGE`.
    let (code, text) = wait_for(30, "the registration in the journal", || {
        let r = fetch(&format!("{comp}?skip=-200"), "text/plain");
        (r.0 == 200 && r.1.contains("registered with master")).then_some(r)
    });
    assert_eq!(code, 200);
    assert!(text.contains(": agent registered"), "{text}");
    let first = text.lines().next().unwrap_or_default();
    assert_eq!(first.as_bytes().get(19), Some(&b':'), "{first}");

    // A unit: only its entries, on the leader's path too.
    let (code, body) = fetch(
        &format!(
            "{url}/system/v1/leader/mesos/logs/v2/component/dcos-mesos-master.service?skip=-100"
        ),
        "application/json",
    );
    assert_eq!(code, 200);
    let master = entries(&body);
    assert!(
        master
            .iter()
            .all(|e| e["fields"]["_SYSTEMD_UNIT"] == "dcos-mesos-master.service")
    );
    assert!(
        master
            .iter()
            .any(|e| e["fields"]["MESSAGE"] == "agent registered")
    );
    assert!(
        master
            .iter()
            .all(|e| e["realtime_timestamp"].as_u64().is_some())
    );

    // The agent's journal through the master, with a filter.
    let (code, body) = fetch(
        &format!(
            "{url}/system/v1/agent/{agent}/logs/v2/component/dcos-mesos-slave.service?skip=-100&filter=KEEL_ROLE:agent"
        ),
        "application/json",
    );
    assert_eq!(code, 200, "{body}");
    let agent_entries = entries(&body);
    assert!(
        agent_entries
            .iter()
            .all(|e| e["fields"]["KEEL_ROLE"] == "agent")
    );
    assert!(
        agent_entries
            .iter()
            .any(|e| e["fields"]["MESSAGE"] == "registered with master")
    );
    let (code, body) = fetch(
        &format!("{comp}?skip=-100&filter=AGENT:{agent}"),
        "application/json",
    );
    assert_eq!(code, 200);
    assert!(
        entries(&body)
            .iter()
            .all(|e| e["fields"]["AGENT"] == agent.as_str())
    );

    // Cursors, skip and limit.
    let (_, body) = fetch(&format!("{comp}?cursor=BEG&limit=3"), "application/json");
    let head = entries(&body);
    assert_eq!(head.len(), 3);
    let second = head[1]["cursor"].as_str().unwrap_or_default().to_string();
    let (_, body) = fetch(
        &format!("{comp}?cursor={second}&skip=1&limit=1"),
        "application/json",
    );
    assert_eq!(entries(&body), vec![head[2].clone()]);
    let (_, body) = fetch(
        &format!("{comp}?cursor=BEG&skip=2&limit=1"),
        "application/json",
    );
    assert_eq!(entries(&body), vec![head[2].clone()]);
    let r = client()
        .get(format!("{comp}?limit=1"))
        .header("Accept", "application/json")
        .header("Last-Event-ID", &second)
        .send()
        .expect("GET");
    assert_eq!(
        entries(&r.text().unwrap_or_default()),
        vec![head[2].clone()]
    );

    // Bad input and no match.
    assert_eq!(
        fetch(&format!("{comp}/no-such.service"), "text/plain").0,
        404
    );
    assert_eq!(fetch(&format!("{comp}?skip=x"), "text/plain").0, 400);
    assert_eq!(fetch(&format!("{comp}?cursor=abc"), "text/plain").0, 400);
    assert_eq!(
        fetch(&format!("{comp}?filter=nocolon"), "text/plain").0,
        400
    );
    assert_eq!(
        fetch(
            &format!("{comp}?skip=-10&filter=KEEL_ROLE:nosuch"),
            "text/plain"
        )
        .0,
        204
    );

    // `keel node log`: the leader's node, a unit, an agent's node with a filter, JSON.
    let (ok, out, err) = cli(
        &url,
        &[
            "node",
            "log",
            "--component",
            "dcos-mesos-master",
            "--lines",
            "100",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.lines().any(|l| l.ends_with(": agent registered")),
        "{out}"
    );
    assert!(!out.contains("registered with master"), "{out}");
    let (ok, out, err) = cli(
        &url,
        &[
            "--json",
            "node",
            "log",
            "--mesos-id",
            &agent,
            "--filter",
            "KEEL_ROLE:agent",
            "--lines",
            "100",
        ],
    );
    assert!(ok, "{err}");
    let agent_json = entries(&out);
    assert!(!agent_json.is_empty());
    assert!(
        agent_json
            .iter()
            .all(|e| e["fields"]["KEEL_ROLE"] == "agent")
    );
    let (ok, _, err) = cli(&url, &["node", "log", "--component", "no-such"]);
    assert!(!ok && err.contains("404"), "{err}");

    // What the CLI probes first: the capabilities (LOGGING_V2 selects the v2 routes; no v1
    // journald `LOGGING`) and the UI config's logging strategy.
    let (code, caps) = get(&format!("{url}/capabilities"));
    assert_eq!(code, 200);
    let names: Vec<&str> = caps["capabilities"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.contains(&"LOGGING_V2") && !names.contains(&"LOGGING"),
        "{caps}"
    );
    let (code, ui) = get(&format!("{url}/dcos-metadata/ui-config.json"));
    assert_eq!(code, 200);
    assert_eq!(
        ui["uiConfiguration"]["plugins"]["mesos"]["logging-strategy"],
        "logrotate"
    );
    let (_, md) = get(&format!("{url}/metadata"));
    assert_eq!(ui["clusterConfiguration"]["id"], md["CLUSTER_ID"]);

    // The v1 forms.
    let (code, text) = fetch(
        &format!("{url}/system/v1/logs/v1/range/?skip_prev=3"),
        "text/plain",
    );
    assert_eq!((code, text.lines().count()), (200, 3), "{text}");
    let (code, body) = fetch(
        &format!("{url}/system/v1/logs/v1/fields/_SYSTEMD_UNIT"),
        "application/json",
    );
    assert_eq!(code, 200);
    assert!(body.contains("dcos-mesos-master.service"), "{body}");

    // Follow (SSE): an entry Marathon writes after the follow started arrives.
    let follower = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let r = follower
        .get(format!(
            "{url}/system/v1/leader/marathon/logs/v2/component/dcos-marathon.service"
        ))
        .header("Accept", "text/event-stream")
        .send()
        .expect("follow");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap_or_default(),
        "text/event-stream"
    );
    let (code, _) = post(
        &format!("{url}/v2/apps"),
        r#"{"id":"/logs/follow","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":1}"#,
    );
    assert_eq!(code, 201);
    let mut reader = BufReader::new(r);
    let mut line = String::new();
    let mut last_id = None;
    let mut seen = false;
    for _ in 0..10_000 {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(i) = line.strip_prefix("id: ") {
            last_id = i.trim().parse::<u64>().ok();
        } else if let Some(d) = line.strip_prefix("data: ") {
            let v: serde_json::Value = serde_json::from_str(d).expect("json data");
            assert_eq!(v["fields"]["_SYSTEMD_UNIT"], "dcos-marathon.service");
            if v["fields"]["MESSAGE"] == "deployment finished" {
                seen = true;
                break;
            }
        }
    }
    assert!(seen, "the follower saw the deployment finish");
    assert!(last_id.is_some());
    keel.stop();
}

/// A raw HTTP/1.1 GET (no client-side path normalization: `..` reaches the server).
fn raw_get(hostport: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(hostport).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut head = [0u8; 12];
    s.read_exact(&mut head).expect("status line");
    String::from_utf8_lossy(&head[9..12]).parse().unwrap_or(0)
}

#[test]
fn task_logs_outlive_their_sandbox_and_paths_stay_inside_it() {
    let dir = TempDir::new("logs-gc");
    let keel = Dev::new(&dir)
        .args(&["--gc-delay", "2secs", "--disk-watch-interval", "1secs"])
        .start();
    let url = keel.url.clone();
    wait_for(15, "an active agent", || {
        let (_, v) = get(&format!("{url}/master/slaves"));
        v["slaves"]
            .as_array()
            .filter(|s| s.iter().any(|a| a["active"] == true))
            .map(|_| ())
    });
    // A task that writes and ends; its sandbox is collected a moment later.
    let done = run_task(
        &url,
        &[],
        "for i in $(seq 1 50); do echo out-$i; done; echo err-1 >&2",
    );
    let t = wait_state(&url, &done, "TASK_FINISHED", 30);
    let agent = t["slave_id"].as_str().unwrap_or_default().to_string();
    let fw = t["framework_id"].as_str().unwrap_or_default().to_string();
    let cid = t["statuses"][0]["container_status"]["container_id"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let work = dir.path().join("data").join("agent-0");
    let sandbox = work
        .join("slaves")
        .join(&agent)
        .join("frameworks")
        .join(&fw)
        .join("executors")
        .join(&done)
        .join("runs")
        .join(&cid);
    wait_for(60, "the GC to remove the sandbox", || {
        (!sandbox.exists()).then_some(())
    });
    let archived = work.join("log-archive").join(&fw).join(&done).join(&cid);
    assert!(
        archived.join("stdout.gz").is_file(),
        "archived at {archived:?}"
    );

    // dcos-log's task routes serve the archived copy, through the 303 and the proxy.
    let log = format!("{url}/system/v1/logs/v2/task/{done}");
    assert_eq!(
        fetch(&format!("{log}?cursor=END&skip=-3"), "text/plain"),
        (200, "out-48\nout-49\nout-50\n".to_string())
    );
    assert_eq!(
        fetch(&format!("{log}/file/stderr"), "text/plain"),
        (200, "err-1\n".to_string())
    );
    let (code, body) = fetch(&format!("{log}?cursor=BEG&limit=2"), "application/json");
    assert_eq!(code, 200);
    let first = entries(&body);
    assert_eq!(first[0]["fields"]["MESSAGE"], "out-1");
    assert_eq!(first[1]["cursor"], "6");
    let (code, body) = fetch(&format!("{log}/browse"), "application/json");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("stdout") && body.contains("stderr"), "{body}");
    let r = client().get(format!("{log}/download")).send().expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    let all = r.text().unwrap_or_default();
    assert_eq!(all.lines().count(), 50);
    // SSE on the archived copy: every line, with its original offsets.
    let follower = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let r = follower
        .get(format!("{log}?cursor=BEG"))
        .header("Accept", "text/event-stream")
        .send()
        .expect("follow");
    let mut reader = BufReader::new(r);
    let mut line = String::new();
    let mut messages = Vec::new();
    while messages.len() < 50 {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap_or(0) > 0, "stream ended");
        if let Some(d) = line.strip_prefix("data: ") {
            let v: serde_json::Value = serde_json::from_str(d).expect("json");
            messages.push(
                v["fields"]["MESSAGE"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    drop(reader);
    assert_eq!(messages.last().map(String::as_str), Some("out-50"));
    // The Mesos files API too (what `keel task log` and older clients read).
    let (code, chunk) = get(&format!(
        "{url}/agent/{agent}/files/read?path=/frameworks/{fw}/executors/{done}/runs/latest/stdout&offset=0"
    ));
    assert_eq!(code, 200, "{chunk}");
    assert!(
        chunk["data"]
            .as_str()
            .unwrap_or_default()
            .starts_with("out-1\nout-2\n")
    );
    let (ok, out, err) = cli(&url, &["task", "log", &done]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 50, "{out}");
    let (ok, out, err) = cli(&url, &["task", "log", "--lines", "2", &done]);
    assert!(ok, "{err}");
    assert_eq!(out, "out-49\nout-50\n");
    let (ok, out, err) = cli(&url, &["task", "log", "--stderr", &done]);
    assert!(ok, "{err}");
    assert_eq!(out, "err-1\n");
    // --follow on an ended task prints what is there and returns.
    let (ok, out, err) = cli(&url, &["task", "log", "--follow", "--lines", "1", &done]);
    assert!(ok, "{err}");
    assert_eq!(out, "out-50\n");
    let (ok, out, err) = cli(&url, &["--json", "task", "log", "--lines", "1", &done]);
    assert!(ok, "{err}");
    assert_eq!(entries(&out)[0]["fields"]["MESSAGE"], "out-50");
    // The agent's journal says what the GC did.
    let (_, text) = fetch(
        &format!(
            "{url}/system/v1/agent/{agent}/logs/v2/component/dcos-mesos-slave.service?skip=-50"
        ),
        "text/plain",
    );
    assert!(text.contains("gc: archived the task's logs"), "{text}");

    // A live sandbox: paths that climb out of it, or a symlink out, are refused.
    let live = run_task(
        &url,
        &[],
        "ln -s /etc/passwd leak; echo hi; exec sleep 1000",
    );
    let t = wait_state(&url, &live, "TASK_RUNNING", 30);
    let lcid = t["statuses"][0]["container_status"]["container_id"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    wait_for(30, "the task's output", || {
        (fetch(
            &format!("{url}/system/v1/logs/v2/task/{live}"),
            "text/plain",
        )
        .1 == "hi\n")
            .then_some(())
    });
    assert_eq!(
        fetch(
            &format!("{url}/system/v1/logs/v2/task/{live}/file/leak"),
            "text/plain"
        )
        .0,
        403
    );
    let (_, state) = get(&format!("{url}/state"));
    let pid = state["slaves"][0]["pid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let hostport = pid.split('@').nth(1).unwrap_or_default().to_string();
    let agent_form =
        format!("/system/v1/logs/v2/task/frameworks/{fw}/executors/{live}/runs/{lcid}");
    assert_eq!(raw_get(&hostport, &format!("{agent_form}/stdout")), 200);
    // dcos-log v1's task forms (older clients), live and archived.
    let v1 = format!("{url}/system/v1/agent/{agent}/logs/v1/range/framework/{fw}/executor");
    assert_eq!(
        fetch(
            &format!("{v1}/{live}/container/{lcid}?skip_prev=1"),
            "text/plain"
        ),
        (200, "hi\n".to_string())
    );
    assert_eq!(
        fetch(
            &format!("{v1}/{done}/container/{cid}?skip_prev=5&filter=STREAM:STDERR"),
            "text/plain"
        ),
        (200, "err-1\n".to_string())
    );
    assert_eq!(
        fetch(
            &format!("{v1}/{done}/container/{cid}?skip_next=48"),
            "text/plain"
        ),
        (200, "out-49\nout-50\n".to_string())
    );
    assert_eq!(
        raw_get(&hostport, &format!("{agent_form}/../../../../stdout")),
        403
    );
    assert_eq!(
        raw_get(&hostport, &format!("{agent_form}/x/../../stdout")),
        403
    );
    assert_eq!(
        raw_get(&hostport, &format!("{agent_form}/leak/download")),
        403
    );
    keel.stop();
}

#[test]
fn the_component_journal_rotates_and_reads_stay_whole() {
    let dir = TempDir::new("logs-journal-rotation");
    let keel = Dev::new(&dir)
        .args(&[
            "--component-log-max-size",
            "4096",
            "--component-log-max-files",
            "3",
        ])
        .start();
    let url = keel.url.clone();
    let logs = dir.path().join("data").join("logs");
    // Each deployment writes journal entries; enough of them rotate the 4 KiB files.
    let oldest_base = || {
        let index = std::fs::read(logs.join(".journal.jsonl.index")).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&index).unwrap_or_default();
        v["files"][0]["base"].as_u64().unwrap_or(0)
    };
    for i in 0..300 {
        if oldest_base() > 0 {
            break;
        }
        let (code, _) = post(
            &format!("{url}/v2/apps"),
            &format!(
                r#"{{"id":"/rot/a{i}","cmd":"sleep 1000","cpus":0.01,"mem":8,"instances":0}}"#
            ),
        );
        assert_eq!(code, 201);
    }
    wait_for(30, "the oldest journal file dropped", || {
        (oldest_base() > 0 && logs.join("journal.jsonl.3").exists()).then_some(())
    });
    assert!(
        !logs.join("journal.jsonl.4").exists(),
        "at most 3 rotated files"
    );
    // A range read from the oldest kept entry: whole JSON entries, cursors increasing, and
    // the first one past offset 0 (older files were dropped).
    let (code, body) = fetch(
        &format!("{url}/system/v1/logs/v2/component?cursor=BEG"),
        "application/json",
    );
    assert_eq!(code, 200);
    let all = entries(&body);
    let cursors: Vec<u64> = all
        .iter()
        .map(|e| {
            e["cursor"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .expect("offset")
        })
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    assert!(cursors[0] > 0, "the oldest files were dropped");
    assert!(all.iter().all(|e| e["fields"]["MESSAGE"].is_string()));
    // The tail, across the files.
    let (code, body) = fetch(
        &format!("{url}/system/v1/logs/v2/component/dcos-marathon.service?skip=-5"),
        "application/json",
    );
    assert_eq!(code, 200);
    assert_eq!(entries(&body).len(), 5);
    keel.stop();
}
