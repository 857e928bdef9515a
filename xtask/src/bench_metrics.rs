//! Metrics benchmark: the agent's cost with 0, 100 and 1,000 running containers (sleep
//! tasks through Marathon on one `keel dev`) when its `/metrics/prometheus` is scraped
//! every 10 s: the process's cpu share over a window without scrapes and one with them,
//! its RSS, and the render time and size of the scrape at each size.

use crate::bench::{
    get_json, keel_bin, post_json, rss_kb, send_json, start, tempdir, wait_agents,
    wait_marathon_running,
};
use anyhow::Context;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// User + system seconds `pid` has used (clock ticks of `/proc/<pid>/stat` at USER_HZ 100).
fn cpu_secs(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = s
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let at = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (at(11) + at(12)) / 100.0
}

/// Share of one core `pid` used over `window`, scraping `scrape` every `every` when given.
fn cpu_share(pid: u32, window: Duration, scrape: Option<(&str, Duration)>) -> f64 {
    let (c0, t0) = (cpu_secs(pid), Instant::now());
    let client = reqwest::blocking::Client::new();
    while t0.elapsed() < window {
        if let Some((url, every)) = scrape {
            let _ = client.get(url).send().and_then(|r| r.bytes());
            std::thread::sleep(every.min(window.saturating_sub(t0.elapsed())));
        } else {
            std::thread::sleep(window.saturating_sub(t0.elapsed()));
        }
    }
    (cpu_secs(pid) - c0) * 100.0 / t0.elapsed().as_secs_f64()
}

/// Median render time (ms) and size (bytes) of `url` over `n` GETs.
fn render(url: &str, n: usize) -> anyhow::Result<(f64, usize)> {
    let client = reqwest::blocking::Client::new();
    let mut times = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let t0 = Instant::now();
        let body = client.get(url).send()?.bytes()?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        size = body.len();
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], size))
}

/// `--containers 0,100` picks the sizes (default 0, 100 and 1,000; 0 and 3 with `--smoke`).
pub fn metrics(root: &Path, smoke: bool, args: &[String]) -> anyhow::Result<()> {
    let bin = keel_bin(root)?;
    let dir = tempdir("metrics");
    let given: Option<Vec<usize>> = args
        .iter()
        .position(|a| a == "--containers")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    let sizes: &[usize] = match &given {
        Some(g) => g,
        None if smoke => &[0, 3],
        None => &[0, 100, 1000],
    };
    let (window, every) = if smoke {
        (Duration::from_secs(2), Duration::from_secs(1))
    } else {
        (Duration::from_secs(60), Duration::from_secs(10))
    };
    let keel = start(
        &bin,
        &[
            "dev",
            "--data-dir",
            dir.join("data").to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:0",
            "--resources",
            "cpus:64;mem:65536;ports:[21000-21099]",
        ],
    )?;
    let url = keel.url.clone();
    wait_agents(&url, 1)?;
    let slaves = get_json(&format!("{url}/master/slaves"))?;
    let agent = slaves["slaves"][0]["pid"]
        .as_str()
        .and_then(|p| p.split_once('@'))
        .map(|(_, a)| format!("http://{a}"))
        .context("agent address")?;
    let scrape = format!("{agent}/metrics/prometheus");
    let pid = keel.child.id();
    let result = (|| -> anyhow::Result<()> {
        for (i, &n) in sizes.iter().enumerate() {
            let app = json!({"id": "/bench-metrics", "cmd": "exec sleep 100000", "cpus": 0.01,
                             "mem": 16, "instances": n});
            if i == 0 {
                post_json(&format!("{url}/v2/apps"), &app)?;
            } else {
                send_json(
                    reqwest::Method::PUT,
                    &format!("{url}/v2/apps/bench-metrics?force=true"),
                    &app,
                )?;
            }
            wait_marathon_running(&url, n, 600)?;
            let idle = cpu_share(pid, window, None);
            let polled = cpu_share(pid, window, Some((&scrape, every)));
            let (ms, bytes) = render(&scrape, if smoke { 3 } else { 5 })?;
            println!(
                "metrics: {n} containers: keel dev {idle:.2}% of a core idle, {polled:.2}% scraped every {} s \
                 (cost {:.2}%); RSS {:.1} MB; /metrics/prometheus {ms:.1} ms, {:.1} KB   (goal at 1,000: < 2% and < 50 MB extra)",
                every.as_secs(),
                polled - idle,
                rss_kb(pid) as f64 / 1024.0,
                bytes as f64 / 1024.0
            );
        }
        Ok(())
    })();
    let _ = send_json(
        reqwest::Method::DELETE,
        &format!("{url}/v2/apps/bench-metrics?force=true"),
        &json!({}),
    );
    let _ = wait_marathon_running(&url, 0, 120);
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let running = get_json(&format!("{url}/master/state"))
            .ok()
            .and_then(|s| {
                s["frameworks"].as_array().map(|f| {
                    f.iter()
                        .map(|x| x["tasks"].as_array().map_or(0, Vec::len))
                        .sum::<usize>()
                })
            })
            .unwrap_or(0);
        if running == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(keel);
    let _ = std::fs::remove_dir_all(&dir);
    result
}
