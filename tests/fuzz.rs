//! A seeded fuzz test of the JSON APIs of a real `keel dev` (two simulated agents) over
//! loopback: malformed requests (truncated JSON, wrong types for every field, huge
//! numbers, 1 MB strings, deep nesting, invalid UTF-8, bad path ids, wrong content types,
//! random query parameters) against every Marathon and Metronome endpoint that reads
//! input. It asserts: no 5xx; the process keeps answering `/ping` after every batch;
//! a rejected write changes nothing (the listings before and after are equal); every error
//! is in its API's format.
//!
//! `KEEL_FUZZ_SEED` (default 22) and `KEEL_FUZZ_CASES` (default 2,000) choose the run; a
//! failure names the seed and the case number, and the same pair replays it.
//!
//! The harness is API-agnostic: an API plugs in as a [`Surface`] (how to make a case, how
//! to read the state a rejected case must not change, what its error bodies look like);
//! later APIs (DNS packets, Cosmos, IAM, the scheduler API) add one each.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::*;

// ---------------------------------------------------------------------------------------
// Seeded randomness (splitmix64): no dependency, the same sequence on every machine.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------
// The harness.

/// One HTTP request of a case.
#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    /// Path and query, already percent-encoded where it must be.
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

impl Case {
    fn writes(&self) -> bool {
        self.method != "GET"
    }
    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(300).collect();
        format!(
            "{} {} (content-type {:?}, {} bytes): {body}",
            self.method,
            self.path,
            self.content_type,
            self.body.len()
        )
    }
}

/// An API under fuzzing.
trait Surface {
    fn name(&self) -> &'static str;
    /// A malformed (or now and then valid) request.
    fn case(&self, rng: &mut Rng) -> Case;
    /// The state a rejected request must leave unchanged, read through the API.
    fn snapshot(&self, url: &str) -> Value;
    /// Whether an error answer (4xx) is in the API's format.
    fn error_shape(&self, status: u16, body: &Value) -> Result<(), String>;
}

struct Answer {
    status: u16,
    body: Value,
    text: String,
}

fn send(http: &reqwest::blocking::Client, url: &str, c: &Case) -> Answer {
    let method = reqwest::Method::from_bytes(c.method.as_bytes()).expect("method");
    let mut req = http.request(method, format!("{url}{}", c.path));
    if let Some(ct) = c.content_type {
        req = req.header("content-type", ct);
    }
    let r = req
        .body(c.body.clone())
        .send()
        .unwrap_or_else(|e| panic!("no answer to {}: {e:?}", c.describe()));
    let status = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

/// Runs `cases` cases drawn from `surfaces` against `url`; returns how many got 2xx.
fn run(url: &str, surfaces: &[&dyn Surface], seed: u64, cases: usize) -> usize {
    // A fresh connection per request: the server may close a connection after an error
    // answer without reading the body, and a pooled connection then races its close.
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut rng = Rng(seed);
    let mut before: Vec<Option<Value>> = vec![None; surfaces.len()];
    let mut accepted = 0;
    let started = std::time::Instant::now();
    for n in 0..cases {
        let s = rng.below(surfaces.len());
        let surface = surfaces[s];
        let case = surface.case(&mut rng);
        let at = || {
            format!(
                "seed {seed} case {n} ({}): {}",
                surface.name(),
                case.describe()
            )
        };
        if case.writes() && before[s].is_none() {
            before[s] = Some(surface.snapshot(url));
        }
        let a = send(&http, url, &case);
        assert!(a.status < 500, "{} answered {}: {}", at(), a.status, a.text);
        if (200..300).contains(&a.status) {
            accepted += 1;
            if case.writes() {
                before[s] = None;
            }
        } else if a.status >= 400 {
            if let Err(e) = surface.error_shape(a.status, &a.body) {
                panic!("{}: error not in the API's format ({e}): {}", at(), a.text);
            }
            if case.writes() {
                let after = surface.snapshot(url);
                assert_eq!(
                    before[s].as_ref(),
                    Some(&after),
                    "{}: the rejected request ({}) changed the state",
                    at(),
                    a.status
                );
            }
        }
        if n % 100 == 99 {
            eprintln!(
                "fuzz: {} cases, {accepted} accepted, {:?}",
                n + 1,
                started.elapsed()
            );
            let (code, _) = get(&format!("{url}/ping"));
            assert_eq!(code, 200, "after {}: /ping answered {code}", at());
        }
    }
    accepted
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn malformed_requests_are_rejected_in_the_apis_format_and_change_nothing() {
    let seed = env_or("KEEL_FUZZ_SEED", 22);
    let cases = env_or("KEEL_FUZZ_CASES", 2_000) as usize;
    println!("fuzz: seed {seed}, {cases} cases (KEEL_FUZZ_SEED, KEEL_FUZZ_CASES)");
    let dir = TempDir::new("fuzz");
    let data = dir.path().join("data");
    let keel = Proc::start(&[
        "dev",
        "--data-dir",
        data.to_str().unwrap_or_default(),
        "--listen",
        "127.0.0.1:0",
        "--agents",
        "0",
        "--simulated-agents",
        "2",
        "--simulated-resources",
        "cpus:2;mem:2048;disk:1000;ports:[31000-31100]",
    ]);
    let url = keel.url.clone();
    wait_for(10, "simulated agents", || {
        let (_, v) = get(&format!("{url}/master/slaves"));
        (v["slaves"].as_array().map_or(0, Vec::len) == 2).then_some(())
    });
    let accepted = run(&url, &[&Marathon, &Metronome], seed, cases);
    println!("fuzz: seed {seed}, {cases} cases, {accepted} accepted");
    let (code, _) = get(&format!("{url}/ping"));
    assert_eq!(code, 200);
}

// ---------------------------------------------------------------------------------------
// Mutations shared by the JSON surfaces.

/// Raw JSON tokens spliced into bodies (some are not valid JSON on purpose).
const RAW_NUMBERS: &[&str] = &[
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "1e308",
    "1e400",
    "-1",
    "0",
    "-0.0",
    "0.5",
    "1.0000000000000002",
    "NaN",
];

fn nasty(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(format!("@RAW{}@", rng.below(RAW_NUMBERS.len()))),
        3 => json!(""),
        4 => json!(
            rng.pick(&["UPPER", "../..", "a//b", "*", "é", "a b", "/", "\u{0}"])
                .to_string()
        ),
        5 => json!([]),
        6 => json!({}),
        7 => json!([[1, "x"], {"a": null}]),
        8 => {
            let mut v = json!(1);
            for _ in 0..rng.below(120) {
                v = json!([v]);
            }
            v
        }
        9 => json!((0..rng.below(3_000)).collect::<Vec<_>>()),
        10 => {
            let labels: serde_json::Map<String, Value> =
                (0..1_100).map(|i| (format!("l{i}"), json!("v"))).collect();
            Value::Object(labels)
        }
        _ => json!("x".repeat(if rng.chance(20) { 1 << 20 } else { 300 })),
    }
}

/// Replaces one value somewhere in `v` (maybe the whole of it) with a nasty one.
fn mutate_value(v: &mut Value, rng: &mut Rng) {
    let children = match v {
        Value::Object(m) if !m.is_empty() => m.len(),
        Value::Array(a) if !a.is_empty() => a.len(),
        _ => 0,
    };
    if children == 0 || rng.chance(25) {
        *v = nasty(rng);
        return;
    }
    let i = rng.below(children);
    match v {
        Value::Object(m) => {
            if let Some((_, child)) = m.iter_mut().nth(i) {
                mutate_value(child, rng);
            }
        }
        Value::Array(a) => mutate_value(&mut a[i], rng),
        _ => {}
    }
}

fn render(v: &Value) -> Vec<u8> {
    let mut s = v.to_string();
    if !s.contains("\"@RAW") {
        return s.into_bytes();
    }
    for (i, raw) in RAW_NUMBERS.iter().enumerate() {
        s = s.replace(&format!("\"@RAW{i}@\""), raw);
    }
    s.into_bytes()
}

/// A body derived from a valid one: mostly one field mutated, else raw damage.
fn body_from(valid: Value, rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0 => Vec::new(),
        1 => {
            let b = render(&valid);
            b[..rng.below(b.len())].to_vec()
        }
        2 => {
            let mut b = render(&valid);
            let at = rng.below(b.len());
            b.insert(at, 0xFF);
            b.insert(at, 0xC3);
            b
        }
        3 => "[".repeat(100_000).into_bytes(),
        4 => format!("\"{}\"", "a".repeat(1 << 20)).into_bytes(),
        5 => render(&valid),
        6 => render(&json!({"id": valid.get("id").cloned().unwrap_or(Value::Null)})),
        _ => {
            let mut v = valid;
            for _ in 0..=rng.below(2) {
                mutate_value(&mut v, rng);
            }
            render(&v)
        }
    }
}

fn content_type(rng: &mut Rng) -> Option<&'static str> {
    match rng.below(10) {
        0 => None,
        1 => Some("text/plain"),
        2 => Some("application/x-www-form-urlencoded"),
        3 => Some("application/json; charset=latin1"),
        _ => Some("application/json"),
    }
}

fn query(rng: &mut Rng, keys: &[&str]) -> String {
    if rng.chance(50) {
        return String::new();
    }
    let values = [
        "true",
        "false",
        "maybe",
        "",
        "%FF",
        "1e400",
        "-1",
        "apps.tasks",
        "x,y",
    ];
    let parts: Vec<String> = (0..=rng.below(3))
        .map(|_| format!("{}={}", rng.pick(keys), rng.pick(&values)))
        .collect();
    format!("?{}", parts.join("&"))
}

fn id_segment(rng: &mut Rng, good: &[&str]) -> String {
    match rng.below(10) {
        0 => "%FF".into(),
        1 => "UPPER".into(),
        2 => "..".into(),
        3 => "a%2Fb".into(),
        4 => "x".repeat(2_000),
        5 => "%00".into(),
        _ => rng.pick(good).to_string(),
    }
}

/// Every JSON object with a string `message` (and, if present, well-formed `details`).
fn message_shape(body: &Value) -> Result<(), String> {
    if !body["message"].is_string() {
        return Err("no string `message`".into());
    }
    match body.get("details") {
        None => Ok(()),
        Some(Value::Array(d)) => d
            .iter()
            .all(|x| x["path"].is_string() && x["errors"].is_array())
            .then_some(())
            .ok_or_else(|| "`details` entries need `path` and `errors`".into()),
        Some(_) => Err("`details` is not an array".into()),
    }
}

// ---------------------------------------------------------------------------------------
// Marathon v2.

struct Marathon;

const APP_IDS: &[&str] = &["fz/a1", "fz/a2", "fz/grp/a3"];
const POD_IDS: &[&str] = &["fz/p1", "fz/p2"];
const GROUP_IDS: &[&str] = &["fz", "fz/grp", "fz/g2"];

fn app(id: &str) -> Value {
    json!({"id": format!("/{id}"), "cmd": "sleep 1000", "cpus": 0.01, "mem": 1, "instances": 1,
        "labels": {"a": "b"}, "env": {"X": "1"}, "constraints": [["hostname", "UNIQUE"]],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}}],
        "portDefinitions": [{"port": 0, "name": "http"}],
        "container": {"type": "DOCKER", "docker": {"image": "busybox"}}})
}

fn pod(id: &str) -> Value {
    json!({"id": format!("/{id}"), "labels": {"a": "b"},
        "containers": [{"name": "c", "exec": {"command": {"shell": "sleep 1000"}},
            "resources": {"cpus": 0.01, "mem": 16}, "endpoints": [{"name": "e", "hostPort": 0}]}],
        "scaling": {"kind": "fixed", "instances": 1},
        "scheduling": {"placement": {"constraints": [{"fieldName": "hostname", "operator": "UNIQUE"}]},
            "backoff": {"backoff": 1, "backoffFactor": 1.15, "maxLaunchDelay": 300}}})
}

fn group(id: &str, rng: &mut Rng) -> Value {
    let child = format!("{id}/{}", rng.pick(&["sub", "a9"]));
    json!({"id": format!("/{id}"), "apps": [app(&format!("{id}/ga"))],
        "groups": [{"id": format!("/{child}"), "apps": []}], "dependencies": []})
}

impl Surface for Marathon {
    fn name(&self) -> &'static str {
        "marathon"
    }

    fn case(&self, rng: &mut Rng) -> Case {
        let a = id_segment(rng, APP_IDS);
        let p = id_segment(rng, POD_IDS);
        let g = id_segment(rng, GROUP_IDS);
        let prefix = rng
            .pick(&["", "", "", "/marathon", "/service/marathon"])
            .to_string();
        let (method, path, body): (&'static str, String, Option<Value>) = match rng.below(22) {
            0 | 1 => ("POST", "/v2/apps".into(), Some(app(rng.pick(APP_IDS)))),
            2 | 3 => (
                rng.pick(&["PUT", "PATCH"]),
                format!("/v2/apps/{a}"),
                Some(json!({"instances": 2, "cmd": "sleep 1", "labels": {"k": "v"}})),
            ),
            4 => (
                "PUT",
                "/v2/apps".into(),
                Some(json!([app(rng.pick(APP_IDS))])),
            ),
            5 => ("POST", format!("/v2/apps/{a}/restart"), Some(json!({}))),
            6 => (
                rng.pick(&["GET", "DELETE"]),
                format!("/v2/apps/{a}{}", rng.pick(&["", "/tasks", "/versions"])),
                None,
            ),
            7 | 8 => (
                "POST",
                "/v2/groups".into(),
                Some(group(rng.pick(GROUP_IDS), rng)),
            ),
            9 | 10 => {
                let body = match rng.below(3) {
                    0 => json!({"scaleBy": 2}),
                    1 => json!({"version": "2020-01-01T00:00:00.000Z"}),
                    _ => json!({"apps": [app("fz/grp/a3")]}),
                };
                ("PUT", format!("/v2/groups/{g}"), Some(body))
            }
            11 => (
                rng.pick(&["GET", "DELETE"]),
                format!("/v2/groups/{g}"),
                None,
            ),
            12 | 13 => ("POST", "/v2/pods".into(), Some(pod(rng.pick(POD_IDS)))),
            14 => ("PUT", format!("/v2/pods/{p}"), Some(pod(&p))),
            15 => (
                rng.pick(&["GET", "DELETE"]),
                format!("/v2/pods/{p}{}", rng.pick(&["", "::status", "/::versions"])),
                None,
            ),
            16 | 17 => {
                let ids = json!({"ids": ["fz_a1.instance-0b8a8a4c-2f3e-11ee-8c1f-0242ac120002._app.1", "junk"]});
                ("POST", "/v2/tasks/delete".into(), Some(ids))
            }
            18 => ("GET", "/v2/deployments".into(), None),
            19 => ("DELETE", "/v2/deployments/not-a-plan".into(), None),
            20 => (
                rng.pick(&["GET", "DELETE"]),
                format!("/v2/queue{}", rng.pick(&["", "/fz/a1/delay"])),
                None,
            ),
            _ => (
                "GET",
                format!(
                    "/v2/{}",
                    rng.pick(&["apps", "groups", "pods", "tasks", "info"])
                ),
                None,
            ),
        };
        let q = query(
            rng,
            &[
                "force",
                "embed",
                "partialUpdate",
                "scale",
                "wipe",
                "dryRun",
                "label",
                "id",
                "cmd",
            ],
        );
        let body = body.map(|b| body_from(b, rng)).unwrap_or_default();
        Case {
            method,
            path: format!("{prefix}{path}{q}"),
            content_type: content_type(rng),
            body,
        }
    }

    fn snapshot(&self, url: &str) -> Value {
        let (code, root) = get(&format!("{url}/v2/groups"));
        assert_eq!(code, 200, "GET /v2/groups: {root}");
        let mut out = Vec::new();
        definitions(&root, &mut out);
        out.sort();
        json!(out)
    }

    fn error_shape(&self, _status: u16, body: &Value) -> Result<(), String> {
        message_shape(body)
    }
}

/// (kind, id, version) of every group, app and pod in a group tree.
fn definitions(g: &Value, out: &mut Vec<String>) {
    out.push(format!("group {} {}", g["id"], g["version"]));
    for a in g["apps"].as_array().into_iter().flatten() {
        out.push(format!("app {} {}", a["id"], a["version"]));
    }
    for p in g["pods"].as_array().into_iter().flatten() {
        out.push(format!("pod {} {}", p["id"], p["version"]));
    }
    for sub in g["groups"].as_array().into_iter().flatten() {
        definitions(sub, out);
    }
}

// ---------------------------------------------------------------------------------------
// Metronome v1.

struct Metronome;

const JOB_IDS: &[&str] = &["fz.j1", "fz.j2"];

fn job(id: &str) -> Value {
    json!({"id": id, "description": "d", "labels": {"a": "b"},
        "run": {"cmd": "true", "cpus": 0.01, "mem": 32, "disk": 0, "maxLaunchDelay": 60,
            "env": {"X": "1"}, "placement": {"constraints": [{"attribute": "hostname", "operator": "LIKE", "value": "sim.*"}]},
            "restart": {"policy": "ON_FAILURE", "activeDeadlineSeconds": 30}}})
}

fn schedule(id: &str) -> Value {
    json!({"id": id, "cron": "0 0 1 1 *", "timezone": "UTC", "concurrencyPolicy": "ALLOW",
        "enabled": true, "startingDeadlineSeconds": 60})
}

impl Surface for Metronome {
    fn name(&self) -> &'static str {
        "metronome"
    }

    fn case(&self, rng: &mut Rng) -> Case {
        let j = id_segment(rng, JOB_IDS);
        let prefix = rng.pick(&["", "", "/service/metronome"]).to_string();
        let (method, path, body): (&'static str, String, Option<Value>) = match rng.below(12) {
            0..=2 => ("POST", "/v1/jobs".into(), Some(job(rng.pick(JOB_IDS)))),
            3 => ("PUT", format!("/v1/jobs/{j}"), Some(job(&j))),
            4 => (rng.pick(&["GET", "DELETE"]), format!("/v1/jobs/{j}"), None),
            5 => ("POST", format!("/v1/jobs/{j}/runs"), Some(json!({}))),
            6 => (
                rng.pick(&["GET", "POST"]),
                format!(
                    "/v1/jobs/{j}/runs/{}{}",
                    rng.pick(&["r1", "%FF"]),
                    rng.pick(&["", "/actions/stop"])
                ),
                None,
            ),
            7 | 8 => (
                "POST",
                format!("/v1/jobs/{j}/schedules"),
                Some(schedule("s1")),
            ),
            9 => (
                "PUT",
                format!("/v1/jobs/{j}/schedules/s1"),
                Some(schedule("s1")),
            ),
            10 => {
                let mut spec = job(rng.pick(JOB_IDS));
                spec["schedules"] = json!([schedule("s1")]);
                ("POST", "/v0/scheduled-jobs".into(), Some(spec))
            }
            _ => (
                "GET",
                format!("/v1/{}", rng.pick(&["jobs", "queue", "nothing"])),
                None,
            ),
        };
        let q = query(rng, &["embed", "stopCurrentJobRuns"]);
        let body = body.map(|b| body_from(b, rng)).unwrap_or_default();
        Case {
            method,
            path: format!("{prefix}{path}{q}"),
            content_type: content_type(rng),
            body,
        }
    }

    fn snapshot(&self, url: &str) -> Value {
        let (code, jobs) = get(&format!("{url}/v1/jobs?embed=schedules"));
        assert_eq!(code, 200, "GET /v1/jobs: {jobs}");
        jobs
    }

    fn error_shape(&self, _status: u16, body: &Value) -> Result<(), String> {
        message_shape(body)
    }
}
