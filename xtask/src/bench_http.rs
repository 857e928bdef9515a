//! The HTTP-path benchmarks, against real peers on loopback with the same backends:
//! `proxy`: `wrk` through Keel's `/service/<name>/` versus Debian `nginx` proxying the same
//! prefix, keep-alive, 0 B and 4 KiB bodies; `vip`: new connections per second and added
//! latency through a VIP versus a direct connection and versus Debian `haproxy` (TCP mode,
//! round robin) in front of the same backends. The backends are nginx serving static
//! files, run as Marathon tasks so Keel finds them in cluster state.

use crate::bench::{
    Running, get_json, keel_bin, post_json, start, tempdir, wait_agents, wait_marathon_running,
};
use crate::bench_net::{
    Daemon, SERVER_CORE, Scratch, Wrk, client_core, free_port, nginx_static_conf, pin, root_user,
    wait_tcp, write_bodies, wrk,
};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// wrk's connections for the throughput runs.
const CONNS: u32 = 32;

/// A `keel dev` with an app of `instances` nginx backends serving `0b` and `4k`.
struct Cluster {
    keel: Running,
    /// The backends' loopback addresses.
    backends: Vec<SocketAddr>,
}

fn cluster(
    bin: &Path,
    dir: &Path,
    extra: &[&str],
    app_id: &str,
    instances: usize,
    port: Value,
    labels: Value,
) -> anyhow::Result<Cluster> {
    let www = dir.join("www");
    write_bodies(&www)?;
    let tmpl = dir.join("backend.conf.in");
    std::fs::write(&tmpl, nginx_static_conf("@PORT@", &www))?;
    let data = dir.join("data");
    let mut args = vec![
        "dev",
        "--data-dir",
        data.to_str().unwrap_or_default(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let keel = start(bin, &args)?;
    wait_agents(&keel.url, 1)?;
    // The backends run on the client core, away from the proxy under test.
    let cc = client_core();
    let cmd = format!(
        "sed s/@PORT@/$PORT0/g {tmpl} > backend.conf && exec taskset -c {cc} nginx -p {dir}/ -e stderr -c $PWD/backend.conf",
        tmpl = tmpl.display(),
        dir = dir.display()
    );
    post_json(
        &format!("{}/v2/apps", keel.url),
        &json!({"id": app_id, "cmd": cmd, "cpus": 0.1, "mem": 64, "instances": instances,
                "portDefinitions": [port], "labels": labels}),
    )?;
    wait_marathon_running(&keel.url, instances, 120)?;
    let tasks = get_json(&format!("{}/v2/apps{app_id}/tasks", keel.url))?;
    let backends: Vec<SocketAddr> = tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["ports"][0].as_u64())
        .map(|p| SocketAddr::from(([127, 0, 0, 1], p as u16)))
        .collect();
    if backends.len() != instances {
        bail!(
            "{app_id}: {} backends, wanted {instances}: {tasks}",
            backends.len()
        );
    }
    for b in &backends {
        wait_tcp(*b, 30)?;
    }
    Ok(Cluster { keel, backends })
}

fn ratio(a: f64, b: f64) -> f64 {
    a / b.max(f64::MIN_POSITIVE)
}

pub(crate) fn proxy(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let bin = keel_bin(root)?;
    let secs = if smoke { 1 } else { 10 };
    let scratch = Scratch(tempdir("proxy"));
    let dir = scratch.0.clone();
    let c = cluster(
        &bin,
        &dir,
        &[],
        "/bench-web",
        1,
        json!({"port": 0}),
        json!({"DCOS_SERVICE_NAME": "bench-web", "DCOS_SERVICE_SCHEME": "http", "DCOS_SERVICE_PORT_INDEX": "0"}),
    )?;
    let backend = c.backends[0];
    let keel_base = format!("{}/service/bench-web", c.keel.url);
    let probe = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    crate::bench_net::retry(30, || {
        let r = probe.get(format!("{keel_base}/4k")).send()?;
        if r.status() != 200 || r.bytes()?.len() != 4096 {
            bail!("not yet");
        }
        Ok(())
    })
    .context("/service/bench-web/4k through keel")?;
    let nginx_port = free_port()?;
    let conf = dir.join("proxy.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\n{user}daemon off;\npid nginx-proxy.pid;\nerror_log stderr error;\n\
             events {{ worker_connections 8192; }}\n\
             http {{\n  access_log off;\n  keepalive_requests 100000000;\n\
               upstream be {{ server {backend}; keepalive 64; }}\n\
               server {{\n    listen 127.0.0.1:{nginx_port} backlog=4096;\n\
                 location /service/bench-web/ {{\n      proxy_pass http://be/;\n      proxy_http_version 1.1;\n\
                   proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n\
                   proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                   proxy_set_header X-Forwarded-Proto $scheme;\n      proxy_set_header X-Forwarded-Host $host;\n    }}\n  }}\n}}\n",
            user = root_user()
        ),
    )?;
    let prefix = format!("{}/", dir.display());
    let mut nginx = Daemon::pinned(
        SERVER_CORE,
        "nginx",
        &["-p", &prefix, "-e", "stderr", "-c", &conf.to_string_lossy()],
    )?;
    wait_tcp(SocketAddr::from(([127, 0, 0, 1], nginx_port)), 10)?;
    nginx.check()?;
    pin(c.keel.child.id(), SERVER_CORE)?;
    let nginx_base = format!("http://127.0.0.1:{nginx_port}/service/bench-web");
    let cc = client_core();
    println!(
        "/service/ proxy: wrk (core {cc}, 1 thread, {CONNS} keep-alive connections, {secs} s) -> proxy pinned to core {SERVER_CORE} -> one nginx backend (core {cc}) ({})",
        bin.display()
    );
    for body in ["0b", "4k"] {
        let direct = wrk(&format!("http://{backend}/{body}"), CONNS, secs, &[])?;
        let k = wrk(&format!("{keel_base}/{body}"), CONNS, secs, &[])?;
        let n = wrk(&format!("{nginx_base}/{body}"), CONNS, secs, &[])?;
        let size = if body == "0b" { "0 B  " } else { "4 KiB" };
        println!("  {size} backend direct  {direct}");
        println!("  {size} through keel    {k}");
        println!("  {size} through nginx   {n}");
        println!(
            "  {size} keel/nginx: {:.2}x req/s, {:.2}x p99   (goal >= 0.8x req/s, p99 within 1.5x)",
            ratio(k.rps, n.rps),
            ratio(k.p99_ms, n.p99_ms)
        );
    }
    drop(nginx);
    drop(c);
    drop(scratch);
    Ok(())
}

pub(crate) fn vip(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let bin = keel_bin(root)?;
    let secs = if smoke { 1 } else { 10 };
    let scratch = Scratch(tempdir("vip"));
    let dir = scratch.0.clone();
    let range = format!("127.78.{}.0/24", std::process::id() % 200);
    let c = cluster(
        &bin,
        &dir,
        &["--vip-range", &range],
        "/bench-vip",
        3,
        json!({"port": 0, "labels": {"VIP_0": "/bench-vip:8080"}}),
        json!({}),
    )?;
    let vip = crate::bench_net::retry(30, || {
        let t = get_json(&format!("{}/internal/v1/vips", c.keel.url))?;
        let v = t["vips"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["label"] == "/bench-vip" && v["protocol"] == "tcp")
            .filter(|v| v["backends"].as_array().map(Vec::len) == Some(3))
            .context("no VIP with 3 backends yet")?;
        let addr: SocketAddr =
            format!("{}:{}", v["ip"].as_str().unwrap_or_default(), v["port"]).parse()?;
        wait_tcp(addr, 1)?;
        Ok(addr)
    })?;
    let hport = free_port()?;
    let servers: String = c
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| format!("  server s{i} {b}\n"))
        .collect();
    let conf = dir.join("haproxy.cfg");
    std::fs::write(
        &conf,
        format!(
            "global\n  nbthread 1\n  maxconn 8000\n\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n\n\
             frontend vip\n  bind 127.0.0.1:{hport}\n  default_backend web\n\nbackend web\n  balance roundrobin\n{servers}"
        ),
    )?;
    let mut haproxy = Daemon::pinned(
        SERVER_CORE,
        "haproxy",
        &["-db", "-f", &conf.to_string_lossy()],
    )?;
    let haddr = SocketAddr::from(([127, 0, 0, 1], hport));
    wait_tcp(haddr, 10)?;
    haproxy.check()?;
    pin(c.keel.child.id(), SERVER_CORE)?;
    let cc = client_core();
    println!(
        "VIP: wrk (core {cc}) GET /0b -> {{direct | keel's VIP {vip} | haproxy {haddr} (tcp, round robin)}}, proxies pinned to core {SERVER_CORE}; 3 nginx backends (core {cc}) ({})",
        bin.display()
    );
    let close = ["-H", "Connection: close"];
    let targets = [
        ("direct ", c.backends[0]),
        ("keel   ", vip),
        ("haproxy", haddr),
    ];
    let mut fresh: Vec<Wrk> = Vec::new();
    let mut single: Vec<Wrk> = Vec::new();
    for (_, addr) in targets {
        fresh.push(wrk(&format!("http://{addr}/0b"), CONNS, secs, &close)?);
        single.push(wrk(&format!("http://{addr}/0b"), 1, secs, &[])?);
    }
    println!("  new connection per request ({CONNS} at once):");
    for ((who, _), w) in targets.iter().zip(&fresh) {
        println!(
            "    {who} {:>9.0} connections/s  p50 {:.3} ms  p99 {:.3} ms",
            w.rps, w.p50_ms, w.p99_ms
        );
    }
    println!("  one keep-alive connection, sequential requests (latency added to direct):");
    for ((who, _), w) in targets.iter().zip(&single) {
        println!(
            "    {who} p50 {:.3} ms ({:+.3})  p99 {:.3} ms ({:+.3})  {:.0} req/s",
            w.p50_ms,
            w.p50_ms - single[0].p50_ms,
            w.p99_ms,
            w.p99_ms - single[0].p99_ms,
            w.rps
        );
    }
    println!(
        "  keel/haproxy: {:.2}x connections/s, added p50 {:.3} vs {:.3} ms",
        ratio(fresh[1].rps, fresh[2].rps),
        single[1].p50_ms - single[0].p50_ms,
        single[2].p50_ms - single[0].p50_ms
    );
    drop(haproxy);
    drop(c);
    drop(scratch);
    Ok(())
}
