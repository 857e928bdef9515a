//! End-to-end tests of Admin Router's `/service/<name>/` proxy against a real `keel dev`:
//! Marathon apps with `DCOS_SERVICE_*` labels running real Python servers, reached with
//! `curl` and the Python `websockets` client through the entry.

mod support;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> String {
    repo()
        .join("tests/service_proxy")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The venv's Python (with `websockets`; `cargo xtask deps` creates it).
fn venv_python() -> String {
    let py = repo().join(".venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run `cargo run -p xtask -- deps`",
        py.display()
    );
    py.to_string_lossy().into_owned()
}

fn dev(dir: &TempDir) -> Proc {
    Dev::new(dir).start()
}

fn app(id: &str, name: &str, cmd: &str, instances: u32, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = json!({
        "DCOS_SERVICE_NAME": name,
        "DCOS_SERVICE_SCHEME": "http",
        "DCOS_SERVICE_PORT_INDEX": "0",
    });
    for (k, v) in extra_labels {
        labels[*k] = json!(v);
    }
    json!({
        "id": id,
        "cmd": cmd,
        "cpus": 0.1,
        "mem": 64,
        "instances": instances,
        "portDefinitions": [{"port": 0}],
        "labels": labels,
    })
}

fn deploy(url: &str, app: &Value) {
    let (code, body) = post(&format!("{url}/v2/apps"), &app.to_string());
    assert_eq!(code, 201, "POST /v2/apps: {body}");
}

/// `curl -s -i` through the proxy: (status, headers lower-cased, body).
fn curl(args: &[&str]) -> (u16, Vec<(String, String)>, String) {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "20"])
        .args(args)
        .output()
        .expect("run curl");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    // `Expect: 100-continue` uploads see an interim 100 first.
    while text.starts_with("HTTP/1.1 100") {
        text = text
            .split_once("\r\n\r\n")
            .map(|(_, r)| r.to_string())
            .unwrap_or_default();
    }
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Waits until `/service/<name>/` answers 200.
fn reachable(url: &str, name: &str) {
    wait_for(60, &format!("/service/{name}/ to answer"), || {
        let (code, _, _) = curl(&[&format!("{url}/service/{name}/")]);
        (code == 200).then_some(())
    });
}

#[test]
fn plain_http_sse_websocket_and_errors_through_service() {
    let dir = TempDir::new("svcproxy");
    let keel = dev(&dir);
    let url = keel.url.clone();
    let py_app = format!("/usr/bin/python3 {} $PORT0", fixture("app.py"));
    deploy(&url, &app("/web", "web", &py_app, 1, &[]));
    deploy(
        &url,
        &app(
            "/keep",
            "keep",
            &py_app,
            1,
            &[("DCOS_SERVICE_REWRITE_REQUEST_URLS", "false")],
        ),
    );
    deploy(
        &url,
        &app(
            "/ws",
            "ws",
            &format!("{} {} $PORT0", venv_python(), fixture("ws_echo.py")),
            1,
            &[],
        ),
    );
    deploy(&url, &app("/idle", "idle", &py_app, 0, &[]));
    reachable(&url, "web");
    reachable(&url, "keep");

    // The prefix is stripped; the query kept; X-Forwarded-* set.
    let (code, _, body) = curl(&[&format!("{url}/service/web/a/b?q=1")]);
    assert_eq!(code, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).expect("app JSON");
    assert_eq!(seen["path"], "/a/b?q=1");
    assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
    let host = url.trim_start_matches("http://");
    assert_eq!(seen["headers"]["x-forwarded-host"], host);
    assert!(seen["headers"].get("accept-encoding").is_none(), "{seen}");
    // An X-Forwarded-For the client sent is kept, ours appended.
    let (_, _, body) = curl(&[
        "-H",
        "X-Forwarded-For: 10.9.9.9",
        &format!("{url}/service/web/"),
    ]);
    let seen: Value = serde_json::from_str(&body).expect("app JSON");
    assert_eq!(seen["headers"]["x-forwarded-for"], "10.9.9.9, 127.0.0.1");

    // DCOS_SERVICE_REWRITE_REQUEST_URLS=false keeps the prefix.
    let (_, _, body) = curl(&[&format!("{url}/service/keep/x/y")]);
    let seen: Value = serde_json::from_str(&body).expect("app JSON");
    assert_eq!(seen["path"], "/service/keep/x/y");

    // The bare name redirects to its trailing slash.
    let (code, h, _) = curl(&[&format!("{url}/service/web")]);
    assert_eq!(code, 301);
    assert_eq!(header(&h, "location"), Some("/service/web/"));

    // Location and Refresh are rewritten under the prefix.
    let (code, h, _) = curl(&[&format!("{url}/service/web/redirect")]);
    assert_eq!(code, 302);
    assert_eq!(header(&h, "location"), Some("/service/web/landed"));
    let (_, h, _) = curl(&[&format!("{url}/service/web/refresh")]);
    assert_eq!(header(&h, "refresh"), Some("0; url=/service/web/landed"));

    // Unknown names are 404, an app without a running task 503.
    let (code, _, _) = curl(&[&format!("{url}/service/nothing-here/")]);
    assert_eq!(code, 404);
    let (code, _, body) = curl(&[&format!("{url}/service/idle/")]);
    assert_eq!(code, 503, "{body}");

    // Keel's own Marathon and Metronome stay where they were.
    let (code, _, body) = curl(&[&format!("{url}/service/marathon/v2/apps")]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("/web"), "{body}");
    let (code, _, _) = curl(&[&format!("{url}/service/metronome/v1/jobs")]);
    assert_eq!(code, 200);

    // A large upload streams through, with a length and chunked.
    let blob = dir.path().join("blob");
    let data: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&blob, &data).expect("write blob");
    let want = sha256_hex(&blob);
    let at_blob = format!("@{}", blob.display());
    for extra in [&[][..], &["-H", "Transfer-Encoding: chunked"][..]] {
        let mut args = vec!["--data-binary", at_blob.as_str()];
        args.extend_from_slice(extra);
        let target = format!("{url}/service/web/upload");
        args.push(&target);
        let (code, _, body) = curl(&args);
        assert_eq!(code, 200, "{body}");
        let seen: Value = serde_json::from_str(&body).expect("upload JSON");
        assert_eq!(seen["bytes"], data.len(), "{extra:?}");
        assert_eq!(seen["sha256"], want.as_str(), "{extra:?}");
    }

    // Server-sent events arrive one at a time: the app sends the second only after the
    // client has read the first.
    let mut sse = Command::new("curl")
        .args([
            "-s",
            "-N",
            "--max-time",
            "30",
            &format!("{url}/service/web/sse"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl -N");
    let mut lines = BufReader::new(sse.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(first, "data: one");
    let (code, _, _) = curl(&[&format!("{url}/service/web/next")]);
    assert_eq!(code, 200);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.contains(&"data: two".to_string()), "{rest:?}");
    let _ = sse.wait();

    // WebSocket through the proxy, with the `websockets` client.
    wait_for(60, "the WebSocket app to run", || {
        let (code, _, _) = curl(&[&format!("{url}/service/ws/")]);
        // websockets answers a plain GET with 426 Upgrade Required.
        (code == 426 || code == 400).then_some(())
    });
    let ws_url = format!("{}/service/ws/", url.replacen("http://", "ws://", 1));
    let out = Command::new(venv_python())
        .arg(fixture("ws_client.py"))
        .arg(&ws_url)
        .output()
        .expect("run the WebSocket client");
    assert!(
        out.status.success(),
        "ws client: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("echoed 3"));
}

#[test]
fn service_disappears_when_its_app_is_removed_and_keepalive_is_reused() {
    let dir = TempDir::new("svcgone");
    let keel = dev(&dir);
    let url = keel.url.clone();
    let py_app = format!("/usr/bin/python3 {} $PORT0", fixture("app.py"));
    deploy(&url, &app("/gone", "gone", &py_app, 1, &[]));
    reachable(&url, "gone");
    // Many requests on one client connection, all answered (pooled upstream).
    let target = format!("{url}/service/gone/");
    let mut args: Vec<&str> = vec!["-w", "%{http_code}\n"];
    for _ in 0..50 {
        args.extend_from_slice(&["-o", "/dev/null", &target]);
    }
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30"])
        .args(&args)
        .output()
        .expect("curl");
    let codes = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(codes.lines().filter(|c| *c == "200").count(), 50, "{codes}");
    let r = client()
        .delete(format!("{url}/v2/apps/gone?force=true"))
        .send()
        .expect("DELETE");
    assert!(r.status().is_success());
    wait_for(30, "/service/gone/ to be 404", || {
        let (code, _, _) = curl(&[&target]);
        (code == 404).then_some(())
    });
}

fn sha256_hex(p: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
