//! DNS benchmarks. Queries per second with `dnsperf` on in-zone A and SRV names at about 1k
//! and 100k records of a simulated cluster, against Keel's DNS and against Debian `unbound`
//! serving the very same records (generated from Keel's `/mesos_dns/v1/axfr`) as local
//! data, each server pinned to one core. Then record update latency: a real task's
//! TASK_RUNNING (or its kill) as the client sees it on `/internal/v1/events`, to its name
//! answering (or NXDOMAIN) in a bounded UDP polling loop.

use crate::bench::{
    Running, events, keel_bin, post_json, send_json, start, start_simulated_with, tempdir,
    wait_agents,
};
use crate::bench_net::{Daemon, SERVER_CORE, client_core, dns_ask, free_port, pin};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const A: u16 = 1;
const SRV: u16 = 33;

pub(crate) fn dns(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let bin = keel_bin(root)?;
    let sizes: &[usize] = if smoke { &[200] } else { &[1_000, 100_000] };
    let secs = if smoke { 1 } else { 10 };
    let cc = client_core();
    println!(
        "dns qps: dnsperf (core {cc}) on in-zone A and SRV names, each server pinned to core {SERVER_CORE} ({})",
        bin.display()
    );
    for &target in sizes {
        qps(&bin, target, secs)?;
    }
    update_latency(&bin, smoke)
}

/// The mesos zone as Keel's `/mesos_dns/v1/axfr` lists it.
struct Zone {
    ttl: u64,
    a: Vec<(String, Vec<String>)>,
    srv: Vec<(String, Vec<String>)>,
}

impl Zone {
    fn fetch(url: &str) -> anyhow::Result<Zone> {
        let v: Value = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?
            .get(format!("{url}/mesos_dns/v1/axfr"))
            .send()?
            .json()?;
        let list = |k: &str| -> Vec<(String, Vec<String>)> {
            v["Records"][k]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(n, rs)| {
                            let rs = rs.as_array().into_iter().flatten();
                            (
                                n.clone(),
                                rs.filter_map(|r| r.as_str().map(String::from)).collect(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Zone {
            ttl: v["TTL"].as_u64().unwrap_or(60),
            a: list("As"),
            srv: list("SRVs"),
        })
    }

    fn records(&self) -> usize {
        self.a.iter().chain(&self.srv).map(|(_, r)| r.len()).sum()
    }

    /// unbound.conf serving these records as local data on `addr`.
    fn unbound_conf(&self, addr: SocketAddr, dir: &Path) -> String {
        let mut c = format!(
            "server:\n  interface: {ip}@{port}\n  port: {port}\n  num-threads: 1\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  module-config: \"iterator\"\n  local-zone: \".\" refuse\n  local-zone: \"mesos.\" static\n",
            ip = addr.ip(),
            port = addr.port(),
            d = dir.display()
        );
        for (name, ips) in &self.a {
            for ip in ips {
                let _ = writeln!(c, "  local-data: \"{name} {} IN A {ip}\"", self.ttl);
            }
        }
        for (name, targets) in &self.srv {
            for t in targets {
                if let Some((target, port)) = t.rsplit_once(':') {
                    let target = target.trim_end_matches('.');
                    let _ = writeln!(
                        c,
                        "  local-data: \"{name} {} IN SRV 0 1 {port} {target}.\"",
                        self.ttl
                    );
                }
            }
        }
        c.push_str("remote-control:\n  control-enable: no\n");
        c
    }

    /// dnsperf's query file: A and SRV names alternating, spread over the whole zone.
    fn queries(&self, max: usize) -> String {
        let pick = |names: &[(String, Vec<String>)]| -> Vec<String> {
            let step = (names.len() / (max / 2).max(1)).max(1);
            names.iter().step_by(step).map(|(n, _)| n.clone()).collect()
        };
        let (a, srv) = (pick(&self.a), pick(&self.srv));
        let mut out = String::new();
        for i in 0..a.len().max(srv.len()) {
            if let Some(n) = a.get(i) {
                let _ = writeln!(out, "{n} A");
            }
            if let Some(n) = srv.get(i) {
                let _ = writeln!(out, "{n} SRV");
            }
        }
        out
    }
}

/// What one dnsperf run measured.
struct Perf {
    qps: f64,
    lost: String,
    noerror: String,
    avg_ms: f64,
}

fn dnsperf(server: SocketAddr, file: &Path, secs: u64) -> anyhow::Result<Perf> {
    let out = Command::new("taskset")
        .args(["-c", client_core(), "dnsperf", "-s"])
        .arg(server.ip().to_string())
        .arg("-p")
        .arg(server.port().to_string())
        .arg("-d")
        .arg(file)
        .args(["-l", &secs.to_string(), "-c", "8", "-q", "256", "-t", "2"])
        .output()
        .context("running dnsperf (Debian dnsperf)")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!("dnsperf {server}: {}\n{text}", out.status);
    }
    let field = |key: &str| -> String {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(|r| r.trim().to_string()))
            .unwrap_or_default()
    };
    let qps: f64 = field("Queries per second:")
        .parse()
        .with_context(|| format!("dnsperf printed:\n{text}"))?;
    let avg_s: f64 = field("Average Latency (s):")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let lost = field("Queries lost:");
    let codes = field("Response codes:");
    let noerror = codes
        .split(',')
        .find(|c| c.contains("NOERROR"))
        .and_then(|c| c.split('(').nth(1))
        .map(|p| p.trim_end_matches(')').to_string())
        .unwrap_or_else(|| codes.clone());
    Ok(Perf {
        qps,
        lost: lost
            .split_whitespace()
            .last()
            .unwrap_or("?")
            .trim_matches(|c| c == '(' || c == ')')
            .to_string(),
        noerror,
        avg_ms: avg_s * 1000.0,
    })
}

/// Waits until `server` answers `name` with records.
fn wait_answers(server: SocketAddr, name: &str, qtype: u16, secs: u64) -> anyhow::Result<()> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut id = 0u16;
    while Instant::now() < deadline {
        id = id.wrapping_add(1);
        if let Some((0, n)) = dns_ask(&sock, server, id, name, qtype)
            && n > 0
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{server} does not answer {name}")
}

/// PUTs apps `/dns/app-<from..from+n>` (one instance, one named port each) in batches.
fn create_apps(url: &str, from: usize, n: usize) -> anyhow::Result<()> {
    let mut done = 0;
    while done < n {
        let k = (n - done).min(1000);
        let apps: Vec<Value> = (from + done..from + done + k)
            .map(|i| json!({"id": format!("/dns/app-{i}"), "cmd": "sleep 1000", "cpus": 0.01, "mem": 1, "instances": 1, "portDefinitions": [{"port": 0, "name": "http"}]}))
            .collect();
        send_json(
            reqwest::Method::PUT,
            &format!("{url}/v2/apps"),
            &Value::Array(apps),
        )?;
        done += k;
    }
    Ok(())
}

/// The zone once it holds an SRV name for each of `apps` apps.
fn zone_with(url: &str, apps: usize, secs: u64) -> anyhow::Result<Zone> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let z = Zone::fetch(url)?;
        // Distinct apps with SRV names (each app has several: raw, sanitised, slave).
        let srv = z
            .srv
            .iter()
            .filter_map(|(n, _)| {
                let digits = n.strip_prefix("_app-")?;
                let end = digits.find(|c: char| !c.is_ascii_digit())?;
                digits[..end].parse::<usize>().ok()
            })
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if srv >= apps {
            return Ok(z);
        }
        if Instant::now() > deadline {
            bail!("only {srv} of {apps} apps have SRV records after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn qps(bin: &Path, target: usize, secs: u64) -> anyhow::Result<()> {
    let scratch = crate::bench_net::Scratch(tempdir(&format!("dns-{target}")));
    let dir = scratch.0.clone();
    let dns_addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let listen = dns_addr.to_string();
    let agents = (target / 2_000).clamp(2, 100);
    let keel = start_simulated_with(
        bin,
        &dir,
        agents,
        "cpus:200;mem:200000;ports:[31000-32000]",
        &["--dns-listen", &listen],
    )?;
    // A few apps first to learn the records one app makes, then the rest (topped up
    // until the zone holds the target).
    let base = Zone::fetch(&keel.url)?.records();
    let mut apps = 10;
    create_apps(&keel.url, 0, apps)?;
    let mut zone = zone_with(&keel.url, apps, 120)?;
    let t0 = Instant::now();
    for _ in 0..3 {
        let per_app = (zone.records().saturating_sub(base) / apps).max(1);
        let more = target.saturating_sub(zone.records()) / per_app;
        if more == 0 {
            break;
        }
        create_apps(&keel.url, apps, more)?;
        apps += more;
        zone = zone_with(&keel.url, apps, 1800)?;
    }
    let built = t0.elapsed();
    // Let the last rebuilds settle before measuring.
    std::thread::sleep(Duration::from_secs(1));
    let zone = Zone::fetch(&keel.url)?;
    let records = zone.records();
    let qfile = dir.join("queries.txt");
    std::fs::write(&qfile, zone.queries(20_000))?;
    let probe_a = zone
        .a
        .iter()
        .find(|(n, _)| n.starts_with("app-"))
        .map(|(n, _)| n.clone())
        .context("no app A name")?;
    let probe_srv = zone
        .srv
        .iter()
        .find(|(n, _)| n.starts_with("_app-"))
        .map(|(n, _)| n.clone())
        .context("no app SRV name")?;
    wait_answers(dns_addr, &probe_a, A, 10)?;
    wait_answers(dns_addr, &probe_srv, SRV, 10)?;
    pin(keel.child.id(), SERVER_CORE)?;
    let ub_addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let conf = dir.join("unbound.conf");
    std::fs::write(&conf, zone.unbound_conf(ub_addr, &dir))?;
    let t_ub = Instant::now();
    let mut ub = Daemon::pinned(
        SERVER_CORE,
        "unbound",
        &["-d", "-c", &conf.to_string_lossy()],
    )?;
    wait_answers(ub_addr, &probe_a, A, 300)?;
    wait_answers(ub_addr, &probe_srv, SRV, 10)?;
    ub.check()?;
    let ub_load = t_ub.elapsed();
    let keel_perf = dnsperf(dns_addr, &qfile, secs)?;
    let ub_perf = dnsperf(ub_addr, &qfile, secs)?;
    println!(
        "  {records} records ({} A names, {} SRV names; {apps} apps x 1 task on {agents} simulated agents, in DNS {:.1} s after the PUTs; unbound loaded them in {:.1} s):",
        zone.a.len(),
        zone.srv.len(),
        built.as_secs_f64(),
        ub_load.as_secs_f64()
    );
    for (who, p) in [("keel   ", &keel_perf), ("unbound", &ub_perf)] {
        println!(
            "    {who} {:>8.0} qps per core  (avg latency {:.3} ms, lost {}, NOERROR {})",
            p.qps, p.avg_ms, p.lost, p.noerror
        );
    }
    println!(
        "    keel/unbound {:.2}x   (goal >= 16,800 qps per core, CoreDNS's figure, and ahead of unbound; Mesos-DNS 8,500)",
        keel_perf.qps / ub_perf.qps.max(f64::MIN_POSITIVE)
    );
    drop(ub);
    drop(keel);
    drop(scratch);
    Ok(())
}

/// A signed delay in ms: how long after `from` the DNS changed (negative: before the
/// client saw the status).
fn delay_ms(from: Instant, to: Instant) -> f64 {
    if to >= from {
        to.duration_since(from).as_secs_f64() * 1000.0
    } else {
        -(from.duration_since(to).as_secs_f64() * 1000.0)
    }
}

fn update_latency(bin: &Path, smoke: bool) -> anyhow::Result<()> {
    let n = if smoke { 3 } else { 50 };
    let scratch = crate::bench_net::Scratch(tempdir("dns-latency"));
    let dir = scratch.0.clone();
    let dns_addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let keel: Running = start(
        bin,
        &[
            "dev",
            "--data-dir",
            &dir.join("data").to_string_lossy(),
            "--listen",
            "127.0.0.1:0",
            "--dns-listen",
            &dns_addr.to_string(),
        ],
    )?;
    wait_agents(&keel.url, 1)?;
    let rx = events(&keel.url);
    std::thread::sleep(Duration::from_millis(200));
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut qid = 0u16;
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for i in 0..n {
        let name = format!("app-{i}.lat.marathon.mesos");
        let marker = format!("app-{i}.");
        post_json(
            &format!("{}/v2/apps", keel.url),
            &json!({"id": format!("/lat/app-{i}"), "cmd": "exec sleep 1000", "cpus": 0.01, "mem": 8, "instances": 1, "portDefinitions": []}),
        )?;
        let (mut running, mut answered) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while (running.is_none() || answered.is_none()) && Instant::now() < deadline {
            while let Ok((id, st, at)) = rx.try_recv() {
                if running.is_none() && id.contains(&marker) && st == "TASK_RUNNING" {
                    running = Some(at);
                }
            }
            qid = qid.wrapping_add(1);
            if answered.is_none()
                && let Some((0, k)) = dns_ask(&sock, dns_addr, qid, &name, A)
                && k > 0
            {
                answered = Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let (Some(r), Some(a)) = (running, answered) else {
            bail!("{name}: TASK_RUNNING {running:?}, answered {answered:?} within 60 s");
        };
        up.push(delay_ms(r, a));
        send_json(
            reqwest::Method::DELETE,
            &format!("{}/v2/apps/lat/app-{i}?force=true", keel.url),
            &Value::Null,
        )?;
        let (mut stopped, mut gone) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while (stopped.is_none() || gone.is_none()) && Instant::now() < deadline {
            while let Ok((id, st, at)) = rx.try_recv() {
                if stopped.is_none() && id.contains(&marker) && st != "TASK_RUNNING" {
                    stopped = Some(at);
                }
            }
            qid = qid.wrapping_add(1);
            if gone.is_none()
                && let Some((rcode, k)) = dns_ask(&sock, dns_addr, qid, &name, A)
                && (rcode == 3 || k == 0)
            {
                gone = Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let (Some(s), Some(g)) = (stopped, gone) else {
            bail!("{name}: kill status {stopped:?}, gone {gone:?} within 60 s");
        };
        down.push(delay_ms(s, g));
    }
    up.sort_by(f64::total_cmp);
    down.sort_by(f64::total_cmp);
    let p = |v: &[f64], q: f64| crate::bench::percentile(v, q);
    println!(
        "dns record update over {n} real tasks (from the client seeing the status on /internal/v1/events; negative = DNS was first):"
    );
    println!(
        "  TASK_RUNNING -> A answers: p50 {:.1} ms, p99 {:.1} ms; kill (TASK_KILLING) -> NXDOMAIN: p50 {:.1} ms, p99 {:.1} ms   (goal <= 1 s; Mesos-DNS polls every 60 s)",
        p(&up, 0.5),
        p(&up, 0.99),
        p(&down, 0.5),
        p(&down, 0.99)
    );
    drop(keel);
    drop(scratch);
    Ok(())
}
