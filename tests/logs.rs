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
