//! Benchmarks that print figures (never asserted): allocator cycle, store commits and API
//! writes against the disk's fdatasync floor (`bench_writes`), submit-to-RUNNING latency against a bare fork+exec, idle RSS of `keel dev`, and agent
//! restart re-adoption, the metrics scrape's cost (`bench_metrics`), and task logs streamed and read against `tail -f` and `cat` (`bench_logs`). `--smoke` runs each at a tiny size so CI keeps them working.

use anyhow::{Context, bail};
use keel_allocator::bench as ab;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let smoke = args.iter().any(|a| a == "--smoke");
    let which = args.first().map(String::as_str).unwrap_or("all");
    let all = which == "all";
    if all || which == "allocator" {
        allocator(smoke);
    }
    if all || which == "store" {
        crate::bench_writes::store(smoke)?;
    }
    if all || which == "writes" {
        crate::bench_writes::writes(root, smoke)?;
    }
    if all || which == "submit" {
        submit(root, smoke)?;
    }
    if all || which == "idle-rss" {
        idle_rss(root, smoke)?;
    }
    if all || which == "marathon" {
        marathon(root, smoke)?;
    }
    if which == "placement" {
        placement(root, smoke)?;
    }
    if all || which == "agent-restart" {
        agent_restart(root, smoke)?;
    }
    if all || which == "jobs" {
        jobs(root, smoke)?;
    }
    if all || which == "containers" {
        crate::bench_containers::containers(root, smoke)?;
    }
    if all || which == "dns" {
        crate::bench_dns::dns(root, smoke)?;
    }
    if all || which == "proxy" {
        crate::bench_http::proxy(root, smoke)?;
    }
    if all || which == "vip" {
        crate::bench_http::vip(root, smoke)?;
    }
    if all || which == "metrics" {
        crate::bench_metrics::metrics(root, smoke, args)?;
    }
    if all || which == "logs" {
        crate::bench_logs::logs(root, smoke)?;
    }
    Ok(())
}

/// N scheduled jobs: the scheduler tick in-process (idle, and with every slot due at once),
/// the memory they take there, and the RSS of `keel dev` holding them.
fn jobs(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let n = if smoke { 100 } else { 10_000 };
    let before = rss_kb(std::process::id());
    let mut after = before;
    let (f, svc) = keel_metronome::bench::tick_cost(n, || after = rss_kb(std::process::id()))?;
    println!(
        "jobs: {n} jobs with per-minute schedules, in-process (in-memory store): created in {:.2} s; \
         idle tick {:.3} ms (median); tick with all {} slots due {:.1} ms; jobs +{:.1} MB RSS   (goal: tick well under 10 ms)",
        f.create.as_secs_f64(),
        f.idle_tick.as_secs_f64() * 1000.0,
        f.fired,
        f.due_tick.as_secs_f64() * 1000.0,
        after.saturating_sub(before) as f64 / 1024.0
    );
    drop(svc);
    let bin = keel_bin(root)?;
    let dir = tempdir("jobs");
    let data = dir.join("data");
    let keel = start(
        &bin,
        &[
            "dev",
            "--data-dir",
            data.to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:0",
        ],
    )?;
    wait_agents(&keel.url, 1)?;
    let floor = crate::bench_writes::Floor::measure(&data, if smoke { 50 } else { 2_000 })?;
    let idle = rss_kb(keel.child.id());
    let client = reqwest::blocking::Client::new();
    let mut lat = Vec::with_capacity(n);
    let t = Instant::now();
    for i in 0..n {
        let job = crate::bench_writes::job(&format!("bench.job-{i}"), i);
        let url = format!("{}/v1/jobs", keel.url);
        lat.push(crate::bench_writes::timed_post(&client, &url, &job)?);
    }
    let created = t.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let full = rss_kb(keel.child.id());
    println!(
        "jobs: keel dev RSS {:.1} MB idle, {:.1} MB with {n} scheduled jobs (+{:.1} MB); {n} POST /v1/jobs (durable) in {:.1} s",
        idle as f64 / 1024.0,
        full as f64 / 1024.0,
        full.saturating_sub(idle) as f64 / 1024.0,
        created.as_secs_f64()
    );
    floor.print("keel's data directory, measured now");
    println!(
        "jobs: sequential POST /v1/jobs: {}   (goal p50 <= 4x)",
        floor.latencies(&mut lat)
    );
    drop(keel);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn allocator(smoke: bool) {
    let sizes: &[(usize, usize, &str)] = if smoke {
        &[(100, 10, "-")]
    } else {
        &[
            (1_000, 100, "0.08 s"),
            (5_000, 500, "0.42 s"),
            (10_000, 1_000, "1.1 s"),
        ]
    };
    println!("allocator offer cycle (one full Mesos-style allocation over every agent)");
    for &(agents, fws, mesos) in sizes {
        let mut alloc = ab::cluster(agents, 1);
        let frameworks = ab::frameworks(fws);
        let t = Instant::now();
        let offers = alloc.generate_offers(&frameworks, 7);
        let took = t.elapsed();
        println!(
            "  {agents:>6} agents / {fws:>5} frameworks: {:>8.3} s  ({} offers)   Mesos 1.8: {mesos}",
            took.as_secs_f64(),
            offers.len()
        );
    }
    let (agents, tasks) = if smoke {
        (100, 1_000)
    } else {
        (5_000, 100_000)
    };
    let mut alloc = ab::cluster(agents, 1);
    let reqs = ab::requests(tasks);
    let t = Instant::now();
    let res = alloc.allocate(reqs);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  placement: {} of {tasks} tasks on {agents} agents in {secs:.3} s = {:.0} tasks/s   (Nomad C1M 3,750/s; kube-scheduler floor 810/s)",
        res.placed.len(),
        res.placed.len() as f64 / secs
    );
}

/// The keel binary to benchmark: `KEEL_BIN`, else release if built, else debug.
pub(crate) fn keel_bin(root: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(b) = std::env::var("KEEL_BIN") {
        return Ok(PathBuf::from(b));
    }
    for p in ["target/release/keel", "target/debug/keel"] {
        let b = root.join(p);
        if b.exists() {
            return Ok(b);
        }
    }
    bail!("build keel first (cargo build --release -p keel)")
}

pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(bin: &Path, args: &[&str]) -> anyhow::Result<Running> {
    let mut child = Command::new(bin)
        .args(args)
        .env("KEEL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    let url = line
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string();
    if !url.starts_with("http") {
        bail!("keel {args:?} printed {line:?}");
    }
    Ok(Running { child, url })
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

pub(crate) fn post_json(url: &str, body: &Value) -> anyhow::Result<Value> {
    let r = http().post(url).json(body).send()?;
    let code = r.status();
    let v: Value = r.json().unwrap_or(Value::Null);
    if !code.is_success() {
        bail!("{url}: {code} {v}");
    }
    Ok(v)
}

pub(crate) fn wait_agents(url: &str, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let v: Value = http()
            .get(format!("{url}/master/slaves"))
            .send()
            .and_then(|r| r.json())
            .unwrap_or(Value::Null);
        let active = v["slaves"]
            .as_array()
            .map(|s| s.iter().filter(|a| a["active"] == true).count())
            .unwrap_or(0);
        if active >= n {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("agents did not register at {url}")
}

/// Streams task statuses from `/internal/v1/events` into a channel.
pub(crate) fn events(url: &str) -> mpsc::Receiver<(String, String, Instant)> {
    let (tx, rx) = mpsc::channel();
    let url = format!("{url}/internal/v1/events");
    std::thread::spawn(move || {
        let Ok(resp) = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .and_then(|c| c.get(&url).send())
        else {
            return;
        };
        for line in BufReader::new(resp).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let id = v["task_id"].as_str().unwrap_or_default().to_string();
                let st = v["state"].as_str().unwrap_or_default().to_string();
                if tx.send((id, st, Instant::now())).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn submit(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let n = if smoke { 5 } else { 200 };
    let bin = keel_bin(root)?;
    let dir = tempdir("submit");
    let data = dir.join("data");
    let keel = start(
        &bin,
        &[
            "dev",
            "--data-dir",
            data.to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:0",
            "--resources",
            "cpus:64;mem:65536",
        ],
    )?;
    wait_agents(&keel.url, 1)?;
    let rx = events(&keel.url);
    std::thread::sleep(Duration::from_millis(200));
    let mut lat = Vec::new();
    for _ in 0..n {
        let t0 = Instant::now();
        let v = post_json(
            &format!("{}/internal/v1/tasks", keel.url),
            &serde_json::json!({"cmd": "sleep 0.2", "cpus": 0.01, "mem": 16}),
        )?;
        let id = v["task_id"].as_str().unwrap_or_default().to_string();
        loop {
            let (tid, st, at) = rx
                .recv_timeout(Duration::from_secs(30))
                .context("waiting for TASK_RUNNING")?;
            if tid == id && st == "TASK_RUNNING" {
                lat.push(at.duration_since(t0).as_secs_f64() * 1000.0);
                break;
            }
        }
    }
    lat.sort_by(f64::total_cmp);
    let mut bare = Vec::new();
    for _ in 0..n {
        let t0 = Instant::now();
        Command::new("/bin/sh").args(["-c", "true"]).status()?;
        bare.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    bare.sort_by(f64::total_cmp);
    println!(
        "submit -> TASK_RUNNING over {n} sequential tasks ({}): p50 {:.1} ms, p99 {:.1} ms   bare fork+exec of sh -c true: p50 {:.2} ms, p99 {:.2} ms   (goal p50 <= 100 ms)",
        bin.display(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&bare, 0.5),
        percentile(&bare, 0.99)
    );
    drop(keel);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

pub(crate) fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("keel-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::create_dir_all(&d);
    d
}

pub(crate) fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn idle_rss(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let bin = keel_bin(root)?;
    let dir = tempdir("rss");
    let t0 = Instant::now();
    let keel = start(
        &bin,
        &[
            "dev",
            "--data-dir",
            dir.join("data").to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:0",
        ],
    )?;
    let ready = t0.elapsed();
    wait_agents(&keel.url, 1)?;
    let secs = if smoke { 2 } else { 60 };
    std::thread::sleep(Duration::from_secs(secs));
    let kb = rss_kb(keel.child.id());
    println!(
        "keel dev: ready (URL printed) in {:.0} ms; RSS after {secs} s idle: {:.1} MB   (goal <= 100 MB; k3s agent 275 MB)",
        ready.as_secs_f64() * 1000.0,
        kb as f64 / 1024.0
    );
    drop(keel);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn agent_restart(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let n = if smoke { 5 } else { 200 };
    let bin = keel_bin(root)?;
    let dir = tempdir("restart");
    let master = start(
        &bin,
        &[
            "master",
            "--data-dir",
            dir.join("m").to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:0",
        ],
    )?;
    let alisten = format!(
        "127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port()
    );
    let work = dir.join("a");
    let agent_args = [
        "agent",
        "--master",
        &master.url,
        "--work-dir",
        work.to_str().unwrap_or_default(),
        "--listen",
        &alisten,
        "--resources",
        "cpus:64;mem:65536",
    ];
    let agent = start(&bin, &agent_args)?;
    wait_agents(&master.url, 1)?;
    let mut ids = Vec::new();
    for _ in 0..n {
        let v = post_json(
            &format!("{}/internal/v1/tasks", master.url),
            &serde_json::json!({"cmd": "exec sleep 100000", "cpus": 0.01, "mem": 8}),
        )?;
        ids.push(v["task_id"].as_str().unwrap_or_default().to_string());
    }
    wait_running(&master.url, n)?;
    let mut agent = agent;
    let _ = agent.child.kill();
    let _ = agent.child.wait();
    let t0 = Instant::now();
    let agent2 = start(&bin, &agent_args)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut adopted = 0;
    while Instant::now() < deadline {
        let m: Value = http()
            .get(format!("{}/metrics/snapshot", agent2.url))
            .send()
            .and_then(|r| r.json())
            .unwrap_or(Value::Null);
        adopted = m["slave/executors_running"].as_u64().unwrap_or(0) as usize;
        if adopted >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = t0.elapsed();
    let running = count_running(&master.url);
    println!(
        "agent restart with {n} running tasks: {adopted} re-adopted in {:.0} ms (from exec of the new agent), {} still TASK_RUNNING, {} lost   (goal <= 2 s, 0 lost)",
        took.as_secs_f64() * 1000.0,
        running,
        n.saturating_sub(running)
    );
    for id in &ids {
        let _ = http()
            .post(format!("{}/internal/v1/tasks/{id}/kill", master.url))
            .json(&serde_json::json!({"grace_secs": 0}))
            .send();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_running(&master.url) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(agent2);
    drop(master);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn count_running(url: &str) -> usize {
    let v: Value = http()
        .get(format!("{url}/master/tasks?limit=-1"))
        .send()
        .and_then(|r| r.json())
        .unwrap_or(Value::Null);
    v["tasks"]
        .as_array()
        .map(|t| t.iter().filter(|t| t["state"] == "TASK_RUNNING").count())
        .unwrap_or(0)
}

fn wait_running(url: &str, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if count_running(url) >= n {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "only {} of {n} tasks reached TASK_RUNNING",
        count_running(url)
    )
}

pub(crate) fn get_json(url: &str) -> anyhow::Result<Value> {
    Ok(http().get(url).send()?.json()?)
}

/// GETs `url` and reads its whole body without parsing it: what the server costs, to
/// the last byte.
fn get_body(url: &str) -> anyhow::Result<()> {
    let r = http().get(url).send()?;
    if !r.status().is_success() {
        bail!("{url}: {}", r.status());
    }
    r.bytes()?;
    Ok(())
}

pub(crate) fn send_json(method: reqwest::Method, url: &str, body: &Value) -> anyhow::Result<Value> {
    let r = http().request(method, url).json(body).send()?;
    let code = r.status();
    let v: Value = r.json().unwrap_or(Value::Null);
    if !code.is_success() {
        bail!("{url}: {code} {v}");
    }
    Ok(v)
}

/// Sum of `tasksRunning` over every app.
pub(crate) fn marathon_running(url: &str) -> usize {
    get_json(&format!("{url}/v2/apps"))
        .ok()
        .and_then(|v| {
            v["apps"].as_array().map(|a| {
                a.iter()
                    .map(|x| x["tasksRunning"].as_u64().unwrap_or(0) as usize)
                    .sum()
            })
        })
        .unwrap_or(0)
}

pub(crate) fn wait_marathon_running(url: &str, n: usize, secs: u64) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if marathon_running(url) >= n {
            return Ok(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "only {} of {n} instances running after {secs} s",
        marathon_running(url)
    )
}

fn median_ms(mut f: impl FnMut() -> anyhow::Result<()>, n: usize) -> anyhow::Result<f64> {
    let mut v = Vec::new();
    for _ in 0..n {
        let t0 = Instant::now();
        f()?;
        v.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    v.sort_by(f64::total_cmp);
    Ok(percentile(&v, 0.5))
}

fn apps_batch(prefix: &str, from: usize, n: usize, instances: u32) -> Value {
    Value::Array(
        (from..from + n)
            .map(|i| serde_json::json!({"id": format!("/{prefix}/app-{i}"), "cmd": "sleep 1000", "cpus": 0.01, "mem": 1, "instances": instances, "portDefinitions": []}))
            .collect(),
    )
}

/// Marathon on simulated agents: time to RUNNING for 1 app x N and M apps x 1, `GET /v2/apps`
/// latency, and end-to-end placement throughput.
fn marathon(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let bin = keel_bin(root)?;
    let (agents, one_app, many_apps, big_apps) = if smoke {
        (5, 50, 20, 200)
    } else {
        (100, 1_000, 500, 10_000)
    };
    let dir = tempdir("marathon");
    let keel = start_simulated(
        &bin,
        &dir,
        agents,
        "cpus:200;mem:200000;ports:[31000-32000]",
    )?;
    let url = keel.url.clone();
    let t0 = Instant::now();
    send_json(
        reqwest::Method::POST,
        &format!("{url}/v2/apps"),
        &serde_json::json!({"id": "/one", "cmd": "sleep 1000", "cpus": 0.01, "mem": 1, "instances": one_app, "portDefinitions": []}),
    )?;
    wait_marathon_running(&url, one_app, 600)?;
    let took = t0.elapsed();
    println!(
        "marathon: 1 app x {one_app} instances on {agents} simulated agents: all RUNNING in {:.2} s",
        took.as_secs_f64()
    );
    let embed = format!("{url}/v2/apps?embed=apps.tasks");
    let lat = median_ms(|| get_body(&embed), 20)?;
    let parsed = median_ms(|| get_json(&embed).map(|_| ()), 20)?;
    println!(
        "marathon: GET /v2/apps?embed=apps.tasks with 1 app x {one_app} tasks: median {lat:.1} ms to the last byte, {parsed:.1} ms with the client's JSON parse   (goal <= 10 ms; Marathon 0.8: 12 s at 1k tasks)"
    );
    send_json(
        reqwest::Method::DELETE,
        &format!("{url}/v2/apps/one"),
        &Value::Null,
    )?;
    let floor =
        crate::bench_writes::Floor::measure(&dir.join("data"), if smoke { 50 } else { 2_000 })?;
    let client = reqwest::blocking::Client::new();
    let mut lat = Vec::with_capacity(many_apps);
    let t0 = Instant::now();
    for i in 0..many_apps {
        let app = crate::bench_writes::app(&format!("/many/app-{i}"), 1);
        let post = format!("{url}/v2/apps");
        lat.push(crate::bench_writes::timed_post(&client, &post, &app)?);
    }
    let posted = t0.elapsed();
    wait_marathon_running(&url, many_apps, 600)?;
    println!(
        "marathon: {many_apps} apps x 1 instance (one POST each): posted in {:.2} s, all RUNNING in {:.2} s",
        posted.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    floor.print("keel's data directory, measured now");
    println!(
        "marathon: sequential POST /v2/apps: {}   (goal p50 <= 4x)",
        floor.latencies(&mut lat)
    );
    let existing = many_apps;
    let mut created = 0;
    while created < big_apps - existing {
        let n = (big_apps - existing - created).min(1000);
        send_json(
            reqwest::Method::PUT,
            &format!("{url}/v2/apps"),
            &apps_batch("big", created, n, 1),
        )?;
        created += n;
    }
    wait_marathon_running(&url, big_apps, 1200)?;
    let list = format!("{url}/v2/apps");
    let lat = median_ms(|| get_body(&list), 5)?;
    let parsed = median_ms(|| get_json(&list).map(|_| ()), 5)?;
    println!(
        "marathon: GET /v2/apps with {big_apps} apps / {big_apps} tasks: median {lat:.0} ms to the last byte, {parsed:.0} ms with the client's JSON parse   (goal <= 100 ms)"
    );
    drop(keel);
    let _ = std::fs::remove_dir_all(&dir);
    placement(root, smoke)
}

/// `keel dev` with `agents` simulated agents of `resources` each and no real one, once
/// every agent has registered.
pub(crate) fn start_simulated(
    bin: &Path,
    dir: &Path,
    agents: usize,
    resources: &str,
) -> anyhow::Result<Running> {
    start_simulated_with(bin, dir, agents, resources, &[])
}

/// [`start_simulated`] with more `keel dev` flags.
pub(crate) fn start_simulated_with(
    bin: &Path,
    dir: &Path,
    agents: usize,
    resources: &str,
    extra: &[&str],
) -> anyhow::Result<Running> {
    let data = dir.join("data");
    let n = agents.to_string();
    let args = [
        "dev",
        "--data-dir",
        data.to_str().unwrap_or_default(),
        "--listen",
        "127.0.0.1:0",
        "--agents",
        "0",
        "--simulated-agents",
        &n,
        "--simulated-resources",
        resources,
    ];
    let args: Vec<&str> = args.iter().chain(extra).copied().collect();
    let keel = start(bin, &args)?;
    wait_agents(&keel.url, agents)?;
    Ok(keel)
}

/// End-to-end placement: many simulated agents, many instances, through Marathon.
fn placement(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let bin = keel_bin(root)?;
    let sizes: Option<Vec<usize>> = std::env::var("KEEL_BENCH_PLACEMENT")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect());
    let (agents, apps, per_app) = match sizes {
        // `agents,apps,instances-per-app`, to measure other sizes.
        Some(v) if v.len() == 3 => (v[0], v[1], v[2]),
        _ if smoke => (20, 4, 50),
        _ => (5_000, 100, 1_000),
    };
    let dir = tempdir("placement");
    let keel = start_simulated(&bin, &dir, agents, "cpus:8;mem:16384;ports:[31000-32000]")?;
    let url = keel.url.clone();
    let total = apps * per_app;
    let t0 = Instant::now();
    send_json(
        reqwest::Method::PUT,
        &format!("{url}/v2/apps"),
        &apps_batch("p", 0, apps, per_app as u32),
    )?;
    let took = wait_marathon_running(&url, total, 3600)?;
    let secs = t0.elapsed().as_secs_f64().max(took.as_secs_f64());
    println!(
        "placement end to end: {total} instances on {agents} simulated agents RUNNING in {secs:.1} s = {:.0} tasks/s   (goal >= 3,750/s, Nomad C1M; kube-scheduler floor 810/s)",
        total as f64 / secs
    );
    // Statuses Marathon and Metronome lost on their way from the master (its status
    // feed's counter): each one a reconcile, and a backoff or an event that never was.
    let metrics = get_json(&format!("{url}/metrics/snapshot"))?;
    let missed = metrics["keel/internal_status_updates_missed"]
        .as_f64()
        .context("/metrics/snapshot lacks keel/internal_status_updates_missed")?;
    println!("placement: task statuses missed by Marathon and Metronome: {missed:.0}   (goal 0)");
    drop(keel);
    let _ = std::fs::remove_dir_all(&dir);
    if missed > 0.0 {
        bail!("{missed} task statuses were missed");
    }
    Ok(())
}
