//! End-to-end tests of VIP load balancing against a real `keel dev`: a Marathon app whose
//! tasks are real Python TCP/UDP echo servers declares `VIP_0=/echo:8080`; a bounded client
//! loop through the VIP (in this test's own range inside 127.0.0.0/8) sees every backend
//! over TCP and UDP, a killed backend costs no connection past the 1 s window, and bad VIP
//! labels are stored, reported by `keel vip list` and `keel app show`, and leave the good
//! VIP alone. Figures are printed, never asserted.

mod support;

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::*;

fn echo_py() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vip/echo.py")
        .to_string_lossy()
        .into_owned()
}

/// A VIP range of this process's own inside 127.77.0.0/16 (away from `keel dev`'s first
/// addresses), so suites running side by side never bind the same VIP.
fn own_range() -> String {
    format!("127.77.{}.0/24", 100 + std::process::id() % 150)
}

fn deploy(url: &str, app: &Value) {
    let (code, body) = post(&format!("{url}/v2/apps"), &app.to_string());
    assert_eq!(code, 201, "POST /v2/apps: {body}");
}

fn running(url: &str, id: &str) -> usize {
    let (_, v) = get(&format!("{url}/v2/apps{id}"));
    v["app"]["tasksRunning"].as_u64().unwrap_or(0) as usize
}

/// The VIP `label:port/protocol` of the master's table, if it has one.
fn vip(url: &str, label: &str, port: u16, protocol: &str) -> Option<Value> {
    let (_, t) = get(&format!("{url}/internal/v1/vips"));
    t["vips"]
        .as_array()?
        .iter()
        .find(|v| v["label"] == label && v["port"] == port && v["protocol"] == protocol)
        .cloned()
}

/// The backend ports of a VIP from the table.
fn backend_ports(v: &Value) -> BTreeSet<String> {
    v["backends"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["healthy"] == true)
        .map(|b| b["port"].to_string())
        .collect()
}

/// One TCP round trip through `addr`: the greeting names the backend (its port), then a
/// line must echo back. Any error is a failed connection.
fn tcp_once(addr: SocketAddr) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
    let mut name = String::new();
    r.read_line(&mut name).map_err(|e| e.to_string())?;
    if name.is_empty() {
        return Err("closed before the greeting".into());
    }
    s.write_all(b"ping\n").map_err(|e| e.to_string())?;
    let mut echo = String::new();
    r.read_line(&mut echo).map_err(|e| e.to_string())?;
    if echo != "ping\n" {
        return Err(format!("echo {echo:?}"));
    }
    Ok(name.trim().to_string())
}

/// One UDP exchange from a new socket (a new flow): the reply names the backend.
fn udp_once(addr: SocketAddr) -> Result<String, String> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    s.send_to(b"hello", addr).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    let (n, _) = s.recv_from(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    let (name, rest) = text.split_once(' ').ok_or(format!("reply {text:?}"))?;
    if rest != "hello" {
        return Err(format!("reply {text:?}"));
    }
    Ok(name.to_string())
}

/// Round trips through `addr` until every one of `want` answered (at most `max`).
fn until_all_seen(
    addr: SocketAddr,
    want: &BTreeSet<String>,
    max: usize,
    once: fn(SocketAddr) -> Result<String, String>,
) -> BTreeMap<String, usize> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..max {
        let name = once(addr).unwrap_or_else(|e| panic!("round trip through {addr}: {e}"));
        *seen.entry(name).or_default() += 1;
        if want.iter().all(|w| seen.contains_key(w)) {
            break;
        }
    }
    seen
}

#[test]
fn vip_balances_fails_over_and_reports_bad_labels() {
    let dir = TempDir::new("vip");
    let range = own_range();
    let keel = Dev::new(&dir)
        .resources("cpus:8;mem:8192")
        .args(&["--vip-range", &range])
        .start();
    let url = keel.url.clone();
    deploy(
        &url,
        &json!({
            "id": "/echo",
            "cmd": format!("exec /usr/bin/python3 {} $PORT0 $PORT0", echo_py()),
            "cpus": 0.1, "mem": 32, "instances": 3,
            "portDefinitions": [{"port": 0, "protocol": "udp,tcp", "labels": {"VIP_0": "/echo:8080"}}],
        }),
    );
    wait_for(60, "3 echo tasks running", || {
        (running(&url, "/echo") == 3).then_some(())
    });
    let tcp = wait_for(10, "the /echo:8080 TCP VIP with 3 backends", || {
        vip(&url, "/echo", 8080, "tcp").filter(|v| backend_ports(v).len() == 3)
    });
    assert_eq!(tcp["dns_name"], "echo.marathon.l4lb.thisdcos.directory");
    let ip = tcp["ip"].as_str().unwrap_or_default().to_string();
    assert!(
        ip.starts_with("127.77."),
        "VIP address {ip} outside {range}"
    );
    let addr: SocketAddr = format!("{ip}:8080").parse().expect("VIP address");
    let ports = backend_ports(&tcp);

    // TCP: a bounded loop sees every backend (each greets with its own port). The load
    // balancer binds the VIP once its table arrives: wait for the first answer.
    wait_for(10, "the VIP to accept", || tcp_once(addr).ok());
    let seen = until_all_seen(addr, &ports, 300, tcp_once);
    println!("vip tcp: {addr} -> connections per backend {seen:?}");
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), ports);

    // UDP: the same VIP address and port, each new client socket a new flow.
    let udp = wait_for(10, "the /echo:8080 UDP VIP", || {
        vip(&url, "/echo", 8080, "udp").filter(|v| backend_ports(v).len() == 3)
    });
    assert_eq!(udp["ip"], tcp["ip"]);
    wait_for(10, "the UDP VIP to answer", || udp_once(addr).ok());
    let seen = until_all_seen(addr, &ports, 300, udp_once);
    println!("vip udp: {addr} -> flows per backend {seen:?}");
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), ports);

    // Kill one task while a client loops through the VIP: past the 1 s window no
    // connection fails.
    let (_, tasks) = get(&format!("{url}/v2/apps/echo/tasks"));
    let victim = tasks["tasks"][0].clone();
    let victim_id = victim["id"].as_str().unwrap_or_default().to_string();
    let victim_port = victim["ports"][0].to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut log: Vec<(Instant, Result<String, String>)> = Vec::new();
            let t0 = Instant::now();
            while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(30) {
                log.push((Instant::now(), tcp_once(addr)));
                std::thread::sleep(Duration::from_millis(2));
            }
            log
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let killed_at = Instant::now();
    let r = client_delete(&format!("{url}/v2/apps/echo/tasks/{victim_id}"));
    assert!(r.is_success(), "kill {victim_id}: {r}");
    let left = wait_for(10, "the killed backend to leave the VIP", || {
        vip(&url, "/echo", 8080, "tcp")
            .filter(|v| {
                let ids = v["backends"].as_array().cloned().unwrap_or_default();
                !ids.iter().any(|b| b["task_id"] == victim_id.as_str())
            })
            .map(|_| killed_at.elapsed())
    });
    // Keep the loop going well past the window, through the replacement's start.
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let log = client.join().expect("client loop");
    let window = Duration::from_secs(1);
    let after: Vec<_> = log
        .iter()
        .filter(|(t, _)| *t > killed_at + window)
        .collect();
    let failed_after: Vec<_> = after.iter().filter(|(_, r)| r.is_err()).collect();
    let failed_within = log
        .iter()
        .filter(|(t, r)| *t >= killed_at && *t <= killed_at + window && r.is_err())
        .count();
    let on_victim_after = after
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|n| *n == victim_port))
        .count();
    println!(
        "vip kill: backend {victim_port} left the table {:.0} ms after the kill request; {} connections in all, {failed_within} failed within 1 s of the kill, {} failed after it ({} answered from port {victim_port}, which only a replacement on the same port can do)",
        left.as_secs_f64() * 1000.0,
        log.len(),
        failed_after.len(),
        on_victim_after
    );
    assert!(after.len() > 10, "too few connections after the window");
    assert!(
        failed_after.is_empty(),
        "connections failed past the 1 s window: {:?}",
        failed_after
            .iter()
            .take(5)
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
    );

    // Bad VIP labels: Marathon stores the app, the problems show where the user looks, the
    // good VIP keeps its address and backends.
    wait_for(60, "the replacement echo task", || {
        (running(&url, "/echo") == 3).then_some(())
    });
    let before = wait_for(10, "the VIP with the replacement", || {
        vip(&url, "/echo", 8080, "tcp").filter(|v| backend_ports(v).len() == 3)
    });
    deploy(
        &url,
        &json!({
            "id": "/badvip",
            "cmd": "exec sleep 600",
            "cpus": 0.01, "mem": 8, "instances": 1,
            "portDefinitions": [
                {"port": 0, "labels": {"VIP_0": "/noport"}},
                {"port": 0, "labels": {"VIP_0": "300.1.2.3:80"}},
                {"port": 0, "labels": {"VIP_0": "/bigport:70000"}},
            ],
        }),
    );
    wait_for(60, "the badvip task running", || {
        (running(&url, "/badvip") == 1).then_some(())
    });
    let problems = wait_for(10, "3 VIP problems in the table", || {
        let (_, t) = get(&format!("{url}/internal/v1/vips"));
        let p: Vec<Value> = t["problems"].as_array().cloned().unwrap_or_default();
        (p.len() == 3).then_some(p)
    });
    println!("vip problems: {problems:?}");
    let (ok, out, err) = cli(&url, &["vip", "list"]);
    assert!(ok, "keel vip list: {err}");
    println!("keel vip list:\n{out}");
    for needle in [
        "/noport",
        "has no port",
        "300.1.2.3:80",
        "not a valid IP",
        "/bigport:70000",
        "out of range",
        "/echo:8080",
    ] {
        assert!(
            out.contains(needle),
            "keel vip list lacks {needle:?}:\n{out}"
        );
    }
    let (ok, out, err) = cli(&url, &["--json", "app", "show", "/badvip"]);
    assert!(ok, "keel app show: {err}");
    let shown: Value = serde_json::from_str(&out).expect("app show JSON");
    assert_eq!(
        shown["vipProblems"].as_array().map(Vec::len),
        Some(3),
        "{shown}"
    );
    let after = vip(&url, "/echo", 8080, "tcp").expect("the /echo VIP");
    assert_eq!(after["ip"], before["ip"]);
    assert_eq!(backend_ports(&after), backend_ports(&before));
    let seen = until_all_seen(addr, &backend_ports(&after), 300, tcp_once);
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        backend_ports(&after)
    );
    let (_, t) = get(&format!("{url}/internal/v1/vips"));
    let n = t["vips"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(n, 2, "only /echo:8080 tcp and udp are VIPs: {t}");
}

fn client_delete(url: &str) -> reqwest::StatusCode {
    client()
        .delete(url)
        .send()
        .map(|r| r.status())
        .expect("DELETE")
}
