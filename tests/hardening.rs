//! Regression tests of issue 22 on a real `keel master` (no agents): requested counts past
//! Keel's ceilings answer 422 and counts below them never stop the master answering;
//! invalid group, pod and job bodies create nothing; every error of the Marathon and
//! Metronome APIs is JSON in its API's shape.

mod support;

use serde_json::{Value, json};
use support::*;

fn master(dir: &TempDir, extra: &[&str]) -> Proc {
    let data = dir.path().join("data");
    let mut args = vec![
        "master",
        "--data-dir",
        data.to_str().unwrap_or_default(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Proc::start(&args)
}

/// (status, body as JSON or the text as a JSON string, content type).
fn send(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client().request(m, url).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.send().unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let code = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = r.text().unwrap_or_default();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (code, v, ct)
}

fn json_req(method: &str, url: &str, body: &Value) -> (u16, Value) {
    let (code, v, _) = send(
        method,
        url,
        Some("application/json"),
        body.to_string().into_bytes(),
    );
    (code, v)
}

/// The definitions a rejected request must leave alone.
fn listings(url: &str) -> Value {
    let (_, groups) = get(&format!("{url}/v2/groups"));
    let (_, pods) = get(&format!("{url}/v2/pods"));
    let (_, jobs) = get(&format!("{url}/v1/jobs"));
    let ids = |v: &Value, key: &str| -> Vec<Value> {
        v[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| x["id"].clone())
            .collect()
    };
    json!({
        "apps": ids(&groups, "apps"),
        "groups": groups["groups"].as_array().into_iter().flatten().map(|g| json!([g["id"], ids(g, "apps"), ids(g, "groups")])).collect::<Vec<_>>(),
        "pods": pods.as_array().into_iter().flatten().map(|p| p["id"].clone()).collect::<Vec<_>>(),
        "jobs": jobs,
    })
}

fn assert_marathon_error(code: u16, v: &Value, what: &str) {
    assert!((400..500).contains(&code), "{what}: {code} {v}");
    assert!(v["message"].is_string(), "{what}: not Marathon JSON: {v}");
}

fn assert_validation(code: u16, v: &Value, path: &str, what: &str) {
    assert_eq!(code, 422, "{what}: {v}");
    assert_eq!(v["message"], "Object is not valid", "{what}: {v}");
    let paths: Vec<&str> = v["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["path"].as_str())
        .collect();
    assert!(paths.contains(&path), "{what}: no violation at {path}: {v}");
}

fn pod(id: &str, extra: Value) -> Value {
    let mut p = json!({"id": id, "containers": [{"name": "c",
        "exec": {"command": {"shell": "sleep 1000"}}, "resources": {"cpus": 0.1, "mem": 32}}]});
    if let (Some(o), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    p
}

#[test]
fn counts_past_the_ceilings_answer_422_and_change_nothing() {
    let dir = TempDir::new("hard-limits");
    let k = master(&dir, &[]);
    let url = &k.url;
    let (code, v) = json_req(
        "POST",
        &format!("{url}/v2/apps"),
        &json!({"id": "/a", "cmd": "sleep 1", "instances": 0}),
    );
    assert_eq!(code, 201, "{v}");
    let before = listings(url);
    let (code, v) = json_req(
        "PUT",
        &format!("{url}/v2/apps/a?force=true"),
        &json!({"instances": 2147483647}),
    );
    assert_validation(code, &v, "/instances", "PUT instances 2^31-1");
    let (code, v) = json_req(
        "POST",
        &format!("{url}/v2/pods"),
        &pod(
            "/p",
            json!({"scaling": {"kind": "fixed", "instances": 2147483647}}),
        ),
    );
    assert_validation(code, &v, "/instances", "pod instances 2^31-1");
    let (code, v) = json_req(
        "PUT",
        &format!("{url}/v2/groups?force=true"),
        &json!({"scaleBy": 1e12}),
    );
    assert_eq!(code, 200, "scaleBy of an app with 0 instances: {v}");
    let (code, v) = json_req(
        "PUT",
        &format!("{url}/v2/apps/a?force=true"),
        &json!({"instances": 3}),
    );
    assert_eq!(code, 200, "{v}");
    let scaled = listings(url);
    let (code, v) = json_req(
        "PUT",
        &format!("{url}/v2/groups?force=true"),
        &json!({"scaleBy": 1e12}),
    );
    assert_validation(code, &v, "/instances", "scaleBy 1e12");
    let labels: serde_json::Map<String, Value> =
        (0..1_001).map(|i| (format!("l{i}"), json!("v"))).collect();
    let (code, v) = json_req(
        "PUT",
        &format!("{url}/v2/apps/a?force=true"),
        &json!({"labels": labels}),
    );
    assert_validation(code, &v, "/labels", "1,001 labels");
    let ids: Vec<String> = (0..100_001).map(|i| format!("a.{i}")).collect();
    let (code, v) = json_req(
        "POST",
        &format!("{url}/v2/tasks/delete"),
        &json!({"ids": ids}),
    );
    assert_validation(code, &v, "/ids", "100,001 task ids");
    assert_eq!(listings(url), scaled);
    assert_ne!(before, Value::Null);
    let (code, _) = get(&format!("{url}/ping"));
    assert_eq!(code, 200);
}

/// Before the fix one `PUT {"instances": 2147483647}` made the scheduler build a launch
/// batch of that size: `/ping` and `GET /v2/apps` stopped answering. Counts below a raised
/// ceiling are launched at most 1,000 per pass, so the master keeps answering.
#[test]
fn a_huge_accepted_count_never_stops_the_master_answering() {
    let dir = TempDir::new("hard-huge");
    let k = master(&dir, &["--max-instances-per-app", "2147483647"]);
    let url = &k.url;
    let (code, v) = json_req(
        "POST",
        &format!("{url}/v2/apps"),
        &json!({"id": "/a", "cmd": "sleep 1", "instances": 0}),
    );
    assert_eq!(code, 201, "{v}");
    let (code, v) = json_req(
        "PUT",
        &format!("{url}/v2/apps/a?force=true"),
        &json!({"instances": 2147483647}),
    );
    assert_eq!(code, 200, "{v}");
    let (code, v) = json_req(
        "POST",
        &format!("{url}/v2/pods"),
        &pod(
            "/p",
            json!({"scaling": {"kind": "fixed", "instances": 2147483647}}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    // Several scheduler passes (one a second at most) while the client's 10 s timeout holds.
    for _ in 0..20 {
        let (code, _) = get(&format!("{url}/ping"));
        assert_eq!(code, 200);
        let (code, v) = get(&format!("{url}/v2/apps"));
        assert_eq!(code, 200, "{v}");
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    let (code, v) = get(&format!("{url}/v2/queue"));
    assert_eq!(code, 200, "{v}");
}

#[test]
fn the_body_limit_answers_413_in_json() {
    let dir = TempDir::new("hard-body");
    let k = master(&dir, &["--max-request-body-bytes", "4096"]);
    let url = &k.url;
    let big = json!({"id": "/a", "cmd": "x".repeat(5_000)});
    let (code, v) = json_req("POST", &format!("{url}/v2/apps"), &big);
    assert_eq!(code, 413, "{v}");
    assert_marathon_error(code, &v, "marathon 413");
    let (code, v) = json_req(
        "POST",
        &format!("{url}/v1/jobs"),
        &json!({"id": "j", "description": "x".repeat(5_000)}),
    );
    assert_eq!(code, 413, "{v}");
    assert!(v["message"].is_string(), "metronome 413: {v}");
    assert_eq!(listings(url)["apps"], json!([]));
}

#[test]
fn invalid_group_pod_and_job_bodies_create_nothing() {
    let dir = TempDir::new("hard-invalid");
    let k = master(&dir, &[]);
    let url = &k.url;
    let (code, v) = json_req(
        "POST",
        &format!("{url}/v2/groups"),
        &json!({"id": "/g3", "apps": [{"id": "a", "cmd": "sleep 1"}]}),
    );
    assert_eq!(code, 201, "{v}");
    let before = listings(url);
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            "/v2/groups".into(),
            json!({"id": "/g1", "apps": [{"id": "", "cmd": "sleep 1"}]}),
            "/apps(0)/id",
        ),
        (
            "POST",
            "/v2/groups".into(),
            json!({"id": "/g2", "groups": [{"id": "/other/x"}]}),
            "/groups(0)/id",
        ),
        (
            "POST",
            "/v2/groups".into(),
            json!({"id": "/g4", "apps": [{"id": "ok", "cmd": "sleep 1"}, {"id": "bad", "cmd": "sleep 1", "mem": -1}]}),
            "/apps(1)/mem",
        ),
        (
            "PUT",
            "/v2/groups/g3?force=true".into(),
            json!({"apps": [{"id": "b", "cmd": "sleep 1", "upgradeStrategy": []}]}),
            "/apps(0)/upgradeStrategy",
        ),
        (
            "POST",
            "/v2/pods".into(),
            pod("/p1", json!({"scaling": []})),
            "/scaling",
        ),
        (
            "POST",
            "/v2/pods".into(),
            pod("/p2", json!({"scheduling": []})),
            "/scheduling",
        ),
        (
            "POST",
            "/v2/pods".into(),
            pod("/p3", json!({"scheduling": {"placement": []}})),
            "/scheduling/placement",
        ),
        (
            "POST",
            "/v1/jobs".into(),
            json!({"id": "j1", "run": {"cmd": "sleep 1", "cpus": 0.1, "mem": 32, "disk": 0, "maxLaunchDelay": 2147483648i64}}),
            "/run/maxLaunchDelay",
        ),
    ];
    for (method, path, body, at) in cases {
        let (code, v) = json_req(method, &format!("{url}{path}"), &body);
        assert!(
            (400..500).contains(&code),
            "{method} {path} {body}: {code} {v}"
        );
        assert!(v["message"].is_string(), "{method} {path}: {v}");
        let paths: Vec<&str> = v["details"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["path"].as_str())
            .collect();
        assert!(
            paths.contains(&at),
            "{method} {path}: no error at {at}: {v}"
        );
        assert_eq!(
            listings(url),
            before,
            "{method} {path} {body} changed the state"
        );
    }
}

/// Found by the fuzz test (seed 7): `PUT /v2/apps/<id>` created an app where a pod had the
/// same path; the pod then hid the app from every plan (a restart answered 500).
#[test]
fn an_app_and_a_pod_never_share_a_path() {
    let dir = TempDir::new("hard-shared");
    let k = master(&dir, &[]);
    let url = &k.url;
    let (code, v) = json_req("POST", &format!("{url}/v2/pods"), &pod("/x", json!({})));
    assert_eq!(code, 201, "{v}");
    let before = listings(url);
    let app = json!({"cmd": "sleep 1", "instances": 0});
    let (code, v) = json_req("PUT", &format!("{url}/v2/apps/x?force=true"), &app);
    assert_eq!(code, 409, "{v}");
    assert_marathon_error(code, &v, "PUT app at a pod's path");
    let (code, v) = json_req(
        "POST",
        &format!("{url}/v2/apps"),
        &json!({"id": "/x", "cmd": "sleep 1"}),
    );
    assert_eq!(code, 409, "{v}");
    let (code, v) = json_req("POST", &format!("{url}/v2/apps/x/restart"), &json!({}));
    assert_eq!(code, 404, "{v}");
    assert_eq!(listings(url), before);
}

#[test]
fn every_error_on_v2_and_v1_is_json() {
    let dir = TempDir::new("hard-json");
    let k = master(&dir, &[]);
    let url = &k.url;
    let mb = format!("\"{}\"", "a".repeat(1 << 20)).into_bytes();
    let cases: Vec<(&str, String, Option<&str>, Vec<u8>)> = vec![
        (
            "POST",
            "/v2/apps".into(),
            Some("application/json"),
            mb.clone(),
        ),
        (
            "POST",
            "/v2/groups".into(),
            Some("application/json"),
            mb.clone(),
        ),
        ("GET", "/v2/groups/%FF".into(), None, Vec::new()),
        (
            "PUT",
            "/v2/groups/%FF".into(),
            Some("application/json"),
            b"{}".to_vec(),
        ),
        ("GET", "/v2/apps/%FF/tasks".into(), None, Vec::new()),
        ("DELETE", "/v2/pods/%FF".into(), None, Vec::new()),
        ("DELETE", "/v2/queue/%FF/delay".into(), None, Vec::new()),
        ("DELETE", "/v2/deployments/%FF".into(), None, Vec::new()),
        (
            "POST",
            "/v2/apps".into(),
            Some("text/plain"),
            b"{\"id\":".to_vec(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            Some("application/json"),
            vec![b'{', 0xFF, 0xFE, b'}'],
        ),
        ("DELETE", "/v2/info".into(), None, Vec::new()),
        ("GET", "/v2/no-such-thing".into(), None, Vec::new()),
        ("GET", "/marathon/v2/groups/%FF".into(), None, Vec::new()),
        ("GET", "/v1/jobs/%FF".into(), None, Vec::new()),
        ("POST", "/v1/jobs".into(), Some("application/json"), mb),
        ("PATCH", "/v1/jobs".into(), None, Vec::new()),
        ("GET", "/v1/jobs/a/runs/%FF".into(), None, Vec::new()),
        (
            "GET",
            "/service/metronome/v1/jobs/%FF".into(),
            None,
            Vec::new(),
        ),
    ];
    for (method, path, ct, body) in cases {
        let (code, v, got_ct) = send(method, &format!("{url}{path}"), ct, body);
        assert!((400..500).contains(&code), "{method} {path}: {code} {v}");
        assert!(
            got_ct.starts_with("application/json"),
            "{method} {path}: content type {got_ct:?}: {v}"
        );
        assert!(
            v["message"].is_string(),
            "{method} {path}: not JSON with a message: {v}"
        );
    }
}
