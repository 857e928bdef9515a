//! End-to-end tests of Keel's DNS against a real `keel dev`: `dig` queries every record kind
//! over UDP and TCP (NXDOMAIN, NODATA, truncation, EDNS), names follow scale and kill,
//! other names are forwarded to an `unbound` the test starts on 127.0.0.x (never a real
//! resolver), the Mesos-DNS HTTP API answers in its shapes, and random packets never stop
//! the server.

mod support;

use serde_json::Value;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

struct Cluster {
    proc: Proc,
    dns_port: u16,
}

fn dev(dir: &TempDir, extra: &[&str]) -> Cluster {
    let dns_port = free_port();
    let listen = format!("127.0.0.1:{dns_port}");
    Cluster {
        proc: Dev::new(dir)
            .resources("cpus:8;mem:8192")
            .args(&["--dns-listen", &listen])
            .args(extra)
            .start(),
        dns_port,
    }
}

/// `dig` against the cluster's DNS; returns its full output.
fn dig(c: &Cluster, args: &[&str]) -> String {
    let port = c.dns_port.to_string();
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port, "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig (Debian dnsutils) must be installed");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn short(c: &Cluster, args: &[&str]) -> Vec<String> {
    let mut a = vec!["+short"];
    a.extend_from_slice(args);
    let mut v: Vec<String> = dig(c, &a).lines().map(str::to_string).collect();
    v.sort();
    v
}

fn status(out: &str) -> String {
    out.split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("")
        .to_string()
}

fn section(out: &str, name: &str) -> String {
    let head = format!(";; {name} SECTION:");
    out.split(&head)
        .nth(1)
        .map(|s| {
            s.trim_start_matches('\n')
                .split("\n\n")
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

fn app(url: &str, id: &str, instances: u32, ports: u32) -> Value {
    let defs: Vec<Value> = (0..ports)
        .map(|i| serde_json::json!({"port": 0, "name": format!("p{i}"), "protocol": "tcp"}))
        .collect();
    let body = serde_json::json!({
        "id": id, "cmd": "sleep 600", "cpus": 0.01, "mem": 8, "instances": instances,
        "portDefinitions": defs,
    });
    let (code, v) = post(&format!("{url}/v2/apps"), &body.to_string());
    assert_eq!(code, 201, "{v}");
    v
}

fn scale(url: &str, id: &str, instances: u32) {
    let r = client()
        .put(format!("{url}/v2/apps{id}?force=true"))
        .header("content-type", "application/json")
        .body(format!("{{\"instances\": {instances}}}"))
        .send()
        .expect("PUT");
    assert!(r.status().is_success(), "scale {id}: {}", r.status());
}

fn running(url: &str, id: &str) -> usize {
    let (_, v) = get(&format!("{url}/v2/apps{id}"));
    v["app"]["tasksRunning"].as_u64().unwrap_or(0) as usize
}

#[test]
fn every_record_kind_over_udp_and_tcp() {
    let dir = TempDir::new("dns-kinds");
    let c = dev(&dir, &[]);
    let url = c.proc.url.clone();
    app(&url, "/shop/web", 2, 2);
    wait_for(30, "2 web tasks running", || {
        (running(&url, "/shop/web") == 2).then_some(())
    });
    let name = "web.shop.marathon.mesos";
    // A under the raw DiscoveryInfo name and the sanitised one, over UDP and TCP.
    wait_for(5, "the A record", || {
        (short(&c, &[name, "A"]) == ["127.0.0.1"]).then_some(())
    });
    assert_eq!(short(&c, &["web-shop.marathon.mesos", "A"]), ["127.0.0.1"]);
    assert_eq!(short(&c, &["+tcp", name, "A"]), ["127.0.0.1"]);
    assert_eq!(
        short(&c, &["web-shop.marathon.slave.mesos", "A"]),
        ["127.0.0.1"]
    );
    // SRV: one per task and port, targets' A records in the additional section, authoritative.
    let out = dig(&c, &["_web.shop._tcp.marathon.mesos", "SRV"]);
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(out.contains(" aa "), "authoritative: {out}");
    assert_eq!(section(&out, "ANSWER").lines().count(), 4, "{out}");
    assert!(section(&out, "ADDITIONAL").contains("127.0.0.1"), "{out}");
    // Named port and the slave.mesos SRV variant.
    assert_eq!(
        short(&c, &["_p1._web.shop._tcp.marathon.mesos", "SRV"]).len(),
        2
    );
    assert_eq!(
        short(&c, &["+tcp", "_web-shop._udp.marathon.slave.mesos", "SRV"]).len(),
        4
    );
    // Cluster names.
    for n in [
        "leader.mesos",
        "master.mesos",
        "slave.mesos",
        "marathon.mesos",
        "ns1.mesos",
    ] {
        assert_eq!(short(&c, &[n, "A"]), ["127.0.0.1"], "{n}");
    }
    assert_eq!(short(&c, &["_leader._tcp.mesos", "SRV"]).len(), 1);
    assert_eq!(short(&c, &["_slave._tcp.mesos", "SRV"]).len(), 1);
    // dcos-dns names.
    let z = "dcos.thisdcos.directory";
    for kind in ["agentip", "autoip"] {
        assert_eq!(
            short(&c, &[&format!("web-shop.marathon.{kind}.{z}"), "A"]),
            ["127.0.0.1"],
            "{kind}"
        );
    }
    assert_eq!(
        short(&c, &["leader.dcos.thisdcos.directory", "A"]),
        ["127.0.0.1"]
    );
    assert_eq!(
        short(&c, &["master.dcos.thisdcos.directory", "A"]),
        ["127.0.0.1"]
    );
    assert_eq!(
        short(&c, &["web.shop.marathon.mesos.thisdcos.directory", "A"]),
        ["127.0.0.1"]
    );
    let out = dig(
        &c,
        &["web-shop.marathon.agentip.dcos.thisdcos.directory", "A"],
    );
    let ttl = section(&out, "ANSWER")
        .split_whitespace()
        .nth(1)
        .map(str::to_string);
    assert_eq!(ttl.as_deref(), Some("5"), "TTL 5: {out}");
    // SOA and NS at the apex.
    assert!(
        short(&c, &["mesos", "SOA"])
            .iter()
            .any(|l| l.starts_with("ns1.mesos. root.ns1.mesos."))
    );
    assert_eq!(short(&c, &["mesos", "NS"]), ["ns1.mesos."]);
    // NXDOMAIN vs NODATA, both with the SOA in authority.
    let out = dig(&c, &["nope.marathon.mesos", "A"]);
    assert_eq!(status(&out), "NXDOMAIN", "{out}");
    assert!(section(&out, "AUTHORITY").contains("SOA"), "{out}");
    let out = dig(&c, &["+tcp", name, "AAAA"]);
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(
        section(&out, "ANSWER").is_empty() && section(&out, "AUTHORITY").contains("SOA"),
        "{out}"
    );
    // Other classes are refused; outside names with no resolvers configured too.
    assert_eq!(status(&dig(&c, &["-c", "CH", name, "A"])), "REFUSED");
    assert_eq!(status(&dig(&c, &["example.com", "A"])), "REFUSED");
}

#[test]
fn truncation_and_edns_and_names_following_scale() {
    let dir = TempDir::new("dns-scale");
    let c = dev(&dir, &[]);
    let url = c.proc.url.clone();
    app(&url, "/many", 30, 1);
    wait_for(60, "30 tasks running", || {
        (running(&url, "/many") == 30).then_some(())
    });
    let srv = "_many._tcp.marathon.mesos";
    wait_for(5, "30 SRV records", || {
        (short(&c, &["+tcp", srv, "SRV"]).len() == 30).then_some(())
    });
    // Plain UDP (512 bytes): truncated, TC set.
    let out = dig(&c, &["+noedns", "+ignore", srv, "SRV"]);
    assert!(out.contains(" tc"), "TC flag: {out}");
    let n = section(&out, "ANSWER").lines().count();
    assert!(n > 0 && n < 30, "{n} answers fit 512 bytes: {out}");
    // EDNS with 4096 bytes: all fit, and the response carries an OPT record.
    let out = dig(&c, &["+bufsize=4096", srv, "SRV"]);
    assert!(!out.contains(" tc"), "{out}");
    assert_eq!(section(&out, "ANSWER").lines().count(), 30, "{out}");
    assert!(out.contains("OPT PSEUDOSECTION"), "{out}");
    // Answers are shuffled between queries.
    let orders: std::collections::BTreeSet<String> = (0..10)
        .map(|_| dig(&c, &["+tcp", "+short", srv, "SRV"]))
        .collect();
    assert!(orders.len() > 1, "the SRV order never changed");
    // A scale-down shows in DNS: poll and print the latency (the records follow the
    // master's change cursor; the assertion's bound is generous, the figure is printed).
    let start = Instant::now();
    scale(&url, "/many", 10);
    wait_for(30, "10 SRV records", || {
        (short(&c, &["+tcp", srv, "SRV"]).len() == 10).then_some(())
    });
    println!(
        "scale 30 -> 10: DNS answered 10 SRV records after {:?}",
        start.elapsed()
    );
    let start = Instant::now();
    scale(&url, "/many", 0);
    wait_for(30, "the name to go", || {
        (status(&dig(&c, &["many.marathon.mesos", "A"])) == "NXDOMAIN").then_some(())
    });
    println!("scale 10 -> 0: NXDOMAIN after {:?}", start.elapsed());
}

/// An upstream resolver for the test: Debian `unbound` on 127.0.0.x serving local data.
struct Unbound {
    child: std::process::Child,
    addr: String,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unbound(dir: &TempDir, ip: &str) -> Unbound {
    let port = free_port();
    let conf = dir.path().join("unbound.conf");
    let text = format!(
        "server:\n  interface: {ip}@{port}\n  port: {port}\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  do-not-query-localhost: yes\n  access-control: 127.0.0.0/8 allow\n  local-zone: \"example.test.\" static\n  local-data: \"up.example.test. 30 IN A 10.9.8.7\"\n  local-zone: \".\" refuse\n",
        d = dir.path().display()
    );
    std::fs::write(&conf, text).expect("unbound.conf");
    let child = Command::new("unbound")
        .args(["-d", "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .spawn()
        .expect("unbound (Debian unbound) must be installed");
    let addr = format!("{ip}:{port}");
    let u = Unbound { child, addr };
    wait_for(10, "unbound to answer", || {
        let out = Command::new("dig")
            .args([
                &format!("@{ip}"),
                "-p",
                &port.to_string(),
                "+short",
                "+time=1",
                "up.example.test",
            ])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .contains("10.9.8.7")
            .then_some(())
    });
    u
}

#[test]
fn other_names_are_forwarded_and_a_dead_upstream_is_servfail() {
    let dir = TempDir::new("dns-fwd");
    let up = unbound(&dir, "127.0.0.53");
    let zone = format!("example.test={}", up.addr);
    let c = dev(
        &dir,
        &[
            "--dns-zone-resolvers",
            &zone,
            "--dns-resolvers",
            "127.0.0.54:9",
            "--dns-timeout",
            "0.5",
        ],
    );
    assert_eq!(short(&c, &["up.example.test", "A"]), ["10.9.8.7"]);
    assert_eq!(short(&c, &["+tcp", "up.example.test", "A"]), ["10.9.8.7"]);
    // The default resolver (nothing listens there) fails: SERVFAIL.
    assert_eq!(status(&dig(&c, &["other.test", "A"])), "SERVFAIL");
    drop(up);
    assert_eq!(status(&dig(&c, &["up.example.test", "A"])), "SERVFAIL");
    // Keel's own zones never leave the box.
    assert_eq!(short(&c, &["leader.mesos", "A"]), ["127.0.0.1"]);
}

#[test]
fn the_mesos_dns_http_api() {
    let dir = TempDir::new("dns-http");
    let http_port = free_port();
    let http = format!("127.0.0.1:{http_port}");
    let c = dev(&dir, &["--mesos-dns-http-listen", &http]);
    let url = c.proc.url.clone();
    app(&url, "/api", 1, 1);
    wait_for(30, "the task", || {
        (running(&url, "/api") == 1).then_some(())
    });
    wait_for(5, "the record", || {
        (short(&c, &["api.marathon.mesos"]) == ["127.0.0.1"]).then_some(())
    });
    for base in [format!("{url}/mesos_dns"), format!("http://{http}")] {
        let (code, v) = get(&format!("{base}/v1/version"));
        assert_eq!(
            (code, v["Service"].as_str()),
            (200, Some("Mesos-DNS")),
            "{v}"
        );
        let (_, v) = get(&format!("{base}/v1/hosts/master.mesos"));
        assert_eq!(
            v,
            serde_json::json!([{"host": "master.mesos.", "ip": "127.0.0.1"}])
        );
        let (_, v) = get(&format!("{base}/v1/hosts/nope.mesos"));
        assert_eq!(v, serde_json::json!([{"host": "", "ip": ""}]));
        let (_, v) = get(&format!("{base}/v1/services/_api._tcp.marathon.mesos"));
        assert_eq!(v[0]["service"], "_api._tcp.marathon.mesos", "{v}");
        assert_eq!(v[0]["ip"], "127.0.0.1", "{v}");
        assert!(
            v[0]["port"]
                .as_str()
                .is_some_and(|p| p.parse::<u16>().is_ok()),
            "{v}"
        );
        let (_, v) = get(&format!("{base}/v1/enumerate"));
        assert_eq!(v["frameworks"][0]["name"], "marathon", "{v}");
        let (_, v) = get(&format!("{base}/v1/axfr"));
        assert_eq!(
            v["Records"]["As"]["api.marathon.mesos."],
            serde_json::json!(["127.0.0.1"]),
            "{v}"
        );
        let (_, v) = get(&format!("{base}/v1/config"));
        assert_eq!(v["Domain"], "mesos", "{v}");
        assert_eq!(v["TTL"], 60, "{v}");
    }
    // The root paths of Mesos-DNS on the entry (Metronome's /v1/jobs stays its own).
    let (_, v) = get(&format!("{url}/v1/hosts/leader.mesos"));
    assert_eq!(v[0]["ip"], "127.0.0.1", "{v}");
    let (code, _) = get(&format!("{url}/v1/jobs"));
    assert_eq!(code, 200);
}

#[test]
fn random_packets_never_stop_the_server() {
    let dir = TempDir::new("dns-fuzz");
    let c = dev(&dir, &[]);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let target = format!("127.0.0.1:{}", c.dns_port);
    // A valid query to mutate: id 0x1234, one question leader.mesos A.
    let mut valid = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in ["leader", "mesos"] {
        valid.push(l.len() as u8);
        valid.extend_from_slice(l.as_bytes());
    }
    valid.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut x: u64 = 0x5eed_1234_abcd_0001;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut replies = 0;
    let mut buf = [0u8; 4096];
    for i in 0..2000u32 {
        let packet: Vec<u8> = if i % 2 == 0 {
            let len = (next() % 600) as usize;
            (0..len).map(|_| next() as u8).collect()
        } else {
            let mut p = valid.clone();
            for _ in 0..(1 + next() % 4) {
                let at = (next() as usize) % p.len();
                p[at] = next() as u8;
            }
            p.truncate((next() as usize % (p.len() + 8)).max(1));
            p
        };
        sock.send_to(&packet, &target).expect("send");
        if i % 50 == 0 {
            while sock.recv(&mut buf).is_ok() {
                replies += 1;
            }
        }
    }
    println!("{replies} replies to malformed packets");
    // Still answering, over UDP and TCP.
    assert_eq!(short(&c, &["leader.mesos", "A"]), ["127.0.0.1"]);
    assert_eq!(short(&c, &["+tcp", "leader.mesos", "A"]), ["127.0.0.1"]);
    // A header-only packet gets FORMERR with its id.
    sock.send_to(&[0xab, 0xcd, 0x01, 0, 0, 2, 0, 0, 0, 0, 0, 0], &target)
        .expect("send");
    let deadline = Instant::now() + Duration::from_secs(5);
    let n = loop {
        match sock.recv(&mut buf) {
            Ok(n) if buf[..2] == [0xab, 0xcd] => break n,
            _ => assert!(Instant::now() < deadline, "no FORMERR"),
        }
    };
    assert!(n >= 12);
    assert_eq!(buf[3] & 0x0f, 1, "FORMERR");
}

/// The address `/internal/v1/vips` gives the named VIP `label` (port `port`).
fn vip_address(url: &str, label: &str, port: u16) -> Option<String> {
    let (_, t) = get(&format!("{url}/internal/v1/vips"));
    t["vips"]
        .as_array()?
        .iter()
        .find(|v| v["label"] == label && v["port"] == port)
        .and_then(|v| v["ip"].as_str().map(String::from))
}

#[test]
fn named_vips_answer_in_the_l4lb_zone_and_follow_the_vip_table() {
    let dir = TempDir::new("dns-vips");
    let c = dev(&dir, &[]);
    let url = c.proc.url.clone();
    let body = serde_json::json!({
        "id": "/shop/cart", "cmd": "sleep 600", "cpus": 0.01, "mem": 8, "instances": 1,
        "portDefinitions": [
            {"port": 0, "name": "http", "protocol": "tcp", "labels": {"VIP_0": "/shop/cart:8080"}},
            {"port": 0, "name": "admin", "protocol": "tcp", "labels": {"VIP_1": "/shop/cart:9090"}},
        ],
    });
    let start = Instant::now();
    let (code, v) = post(&format!("{url}/v2/apps"), &body.to_string());
    assert_eq!(code, 201, "{v}");
    let name = "shopcart.marathon.l4lb.thisdcos.directory";
    let ip = wait_for(30, "the VIP in the table", || {
        vip_address(&url, "/shop/cart", 8080)
    });
    let in_table = Instant::now();
    assert!(ip.starts_with("127.77."), "keel dev's VIP range: {ip}");
    assert_eq!(
        vip_address(&url, "/shop/cart", 9090).as_deref(),
        Some(ip.as_str())
    );
    // The l4lb name answers the table's address (one A record for both ports), over UDP
    // and TCP, with the dcos-dns TTL and authority.
    wait_for(10, "the l4lb name", || {
        (short(&c, &[name, "A"]) == [ip.clone()]).then_some(())
    });
    println!(
        "app created -> l4lb name answered after {:?} ({:?} after the VIP table had it)",
        start.elapsed(),
        in_table.elapsed()
    );
    assert_eq!(short(&c, &["+tcp", name, "A"]), [ip.as_str()]);
    let out = dig(&c, &[name, "A"]);
    assert!(out.contains(" aa "), "authoritative: {out}");
    assert!(
        section(&out, "ANSWER").split_whitespace().nth(1) == Some("5"),
        "TTL 5: {out}"
    );
    // The name has an A record only: AAAA is NODATA with the zone's SOA.
    let out = dig(&c, &[name, "AAAA"]);
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(section(&out, "AUTHORITY").contains("SOA"), "{out}");
    // Once the app has no running task, the VIP leaves the table and the name goes.
    let start = Instant::now();
    scale(&url, "/shop/cart", 0);
    wait_for(30, "the l4lb name to go", || {
        (status(&dig(&c, &[name, "A"])) == "NXDOMAIN").then_some(())
    });
    println!(
        "scale 1 -> 0: l4lb name NXDOMAIN after {:?}",
        start.elapsed()
    );
    // Scaled up again, the name comes back with the address the store kept.
    scale(&url, "/shop/cart", 1);
    wait_for(30, "the l4lb name back", || {
        (short(&c, &[name, "A"]) == [ip.clone()]).then_some(())
    });
}

#[test]
fn keel_dns_lookup_and_app_show_list_the_names() {
    let dir = TempDir::new("dns-cli");
    let c = dev(&dir, &[]);
    let url = c.proc.url.clone();
    let body = serde_json::json!({
        "id": "/shop/api", "cmd": "sleep 600", "cpus": 0.01, "mem": 8, "instances": 2,
        "portDefinitions": [
            {"port": 0, "name": "http", "protocol": "tcp", "labels": {"VIP_0": "/shop/api:80"}},
        ],
    });
    let (code, v) = post(&format!("{url}/v2/apps"), &body.to_string());
    assert_eq!(code, 201, "{v}");
    wait_for(30, "2 api tasks running", || {
        (running(&url, "/shop/api") == 2).then_some(())
    });
    // The CLI finds the DNS server from the master (no --server) and prints a table.
    let (ok, out, err) = wait_for(10, "keel dns lookup to answer", || {
        let r = cli(&url, &["dns", "lookup", "api.shop.marathon.mesos"]);
        r.0.then_some(r)
    });
    assert!(ok, "{err}");
    assert!(out.starts_with("NOERROR from 127.0.0.1:"), "{out}");
    assert!(out.contains("authoritative"), "{out}");
    assert!(out.contains("127.0.0.1"), "{out}");
    // SRV with --json: two tasks, targets' addresses in the additional section.
    let (ok, out, err) = cli(
        &url,
        &[
            "dns",
            "lookup",
            "_api.shop._tcp.marathon.mesos",
            "--type",
            "SRV",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let a: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(a["status"], "NOERROR", "{a}");
    assert_eq!(a["transport"], "udp", "{a}");
    assert_eq!(a["answers"].as_array().map(Vec::len), Some(2), "{a}");
    assert!(a["answers"][0]["type"] == "SRV", "{a}");
    assert!(!a["additional"].as_array().unwrap().is_empty(), "{a}");
    // Over TCP, and the l4lb name of the VIP.
    let (ok, out, err) = cli(
        &url,
        &[
            "dns",
            "lookup",
            "shopapi.marathon.l4lb.thisdcos.directory",
            "--tcp",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let a: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(a["transport"], "tcp");
    let vip_ip = a["answers"][0]["data"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(vip_ip.starts_with("127.77."), "{a}");
    // NXDOMAIN: printed, with the SOA, and a failing exit status.
    let (ok, out, _) = cli(&url, &["dns", "lookup", "nope.marathon.mesos", "--json"]);
    assert!(!ok);
    let a: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(a["status"], "NXDOMAIN");
    assert_eq!(a["authority"][0]["type"], "SOA", "{a}");
    // An explicit --server and a bad type.
    let server = format!("127.0.0.1:{}", c.dns_port);
    let (ok, out, err) = cli(
        &url,
        &["dns", "lookup", "leader.mesos", "--server", &server],
    );
    assert!(ok && out.contains("127.0.0.1"), "{out}{err}");
    let (ok, _, err) = cli(&url, &["dns", "lookup", "leader.mesos", "--type", "BOGUS"]);
    assert!(!ok && err.contains("not a DNS record type"), "{err}");
    // `keel app show` lists the app's names next to its VIPs.
    let (ok, out, err) = cli(&url, &["app", "show", "/shop/api"]);
    assert!(ok, "{err}");
    let app: Value = serde_json::from_str(&out).expect("JSON");
    let names: Vec<(String, String)> = app["dnsNames"]
        .as_array()
        .expect("dnsNames")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("api.shop.marathon.mesos.", "A"),
        ("api-shop.marathon.mesos.", "A"),
        ("_api.shop._tcp.marathon.mesos.", "SRV"),
        ("_http._api.shop._tcp.marathon.mesos.", "SRV"),
        ("api-shop.marathon.agentip.dcos.thisdcos.directory.", "A"),
        ("api-shop.marathon.autoip.dcos.thisdcos.directory.", "A"),
        ("shopapi.marathon.l4lb.thisdcos.directory.", "A"),
    ] {
        assert!(
            names.iter().any(|(n, t)| n == want.0 && t == want.1),
            "{want:?} missing from {names:?}"
        );
    }
    assert!(
        !names.iter().any(|(n, _)| n.contains("containerip")),
        "host-network tasks have no containerip name: {names:?}"
    );
    assert_eq!(app["vips"][0]["address"], format!("{vip_ip}:80"), "{app}");
    // `keel vip list`: the VIP, its address, DNS name and both backends with their health.
    let (ok, out, err) = cli(&url, &["vip", "list"]);
    assert!(ok, "{err}");
    let row: Vec<&str> = out.lines().filter(|l| l.contains("/shop/api:80")).collect();
    assert_eq!(row.len(), 1, "{out}");
    assert!(row[0].contains(&format!("{vip_ip}:80")), "{out}");
    assert!(
        row[0].contains("shopapi.marathon.l4lb.thisdcos.directory"),
        "{out}"
    );
    assert_eq!(out.matches("(healthy,").count(), 2, "{out}");
    let (ok, out, _) = cli(&url, &["vip", "list", "--json"]);
    let t: Value = serde_json::from_str(&out).expect("JSON");
    assert!(
        ok && t["vips"][0]["backends"].as_array().map(Vec::len) == Some(2),
        "{t}"
    );
}
