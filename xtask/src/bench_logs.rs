//! Logs benchmark: a task writes N bytes of 128-byte lines (1 GiB; 4 MiB with `--smoke`)
//! on one `keel dev` (rotation at the default 10 MB files, enough of them kept to hold the
//! whole log); then, straight at the agent's dcos-log v2 task route, an SSE follow from
//! `cursor=BEG` until the N bytes (lines/s, first byte) and a text range read of the whole
//! stdout (lines/s, MB/s, first byte), next to `tail -f` of a file the same generator
//! writes and `cat FILE > /dev/null` of that file, in the same run. The clients are curl
//! and grep (optimized C, as the peers are), so xtask's debug build is never the limit.

use crate::bench::{get_json, keel_bin, post_json, start, tempdir, wait_agents};
use anyhow::{Context, bail};
use serde_json::json;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes per line, newline included (divides 1 GiB, so the log is whole lines).
const LINE: u64 = 128;
/// The agent's default rotation size (`LogRotation::default()`).
const ROTATE: u64 = 10 * 1024 * 1024;

/// The shell generator of `n` bytes of identical 128-byte lines, appended to stdout.
fn generator(n: u64) -> String {
    let head = "2026-12-08T01:00:00.000000Z INFO keel_bench::logs: request served status=200 path=/v2/apps ";
    let text = format!("{head:.<w$}", w = (LINE - 1) as usize);
    format!("yes '{text}' | head -c {n}")
}

/// Kills and reaps a child this bench started.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `producer | grep -c -m lines PATTERN` (and `writer` once they are up) and answers
/// the count and the time until grep has seen `lines` matches (bounded by `limit`; the
/// producer and the writer are killed after).
fn count_lines(
    producer: &mut Command,
    pattern: &str,
    lines: u64,
    limit: Duration,
    writer: Option<&mut Command>,
) -> anyhow::Result<(u64, Duration)> {
    let t0 = Instant::now();
    let mut prod = Reaped(producer.stdout(Stdio::piped()).spawn()?);
    let out = prod.0.stdout.take().context("producer stdout")?;
    let mut grep = Reaped(
        Command::new("grep")
            .args(["-c", "-m", &lines.to_string(), pattern])
            .stdin(Stdio::from(out))
            .stdout(Stdio::piped())
            .spawn()?,
    );
    let _writer = match writer {
        Some(w) => Some(Reaped(w.spawn()?)),
        None => None,
    };
    while t0.elapsed() < limit {
        if grep.0.try_wait()?.is_some() {
            let took = t0.elapsed();
            let mut s = String::new();
            if let Some(mut o) = grep.0.stdout.take() {
                o.read_to_string(&mut s)?;
            }
            return Ok((s.trim().parse().unwrap_or(0), took));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    bail!("{lines} lines not seen within {limit:?}")
}

/// Time from spawning `cmd` to the first byte on its stdout.
fn first_byte_cmd(cmd: &mut Command) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let mut c = Reaped(cmd.stdout(Stdio::piped()).spawn()?);
    let mut b = [0u8; 1];
    c.0.stdout.as_mut().context("stdout")?.read_exact(&mut b)?;
    Ok(t0.elapsed())
}

/// Time from sending a GET of `url` to the first body byte (median of `n`).
fn first_byte_http(url: &str, accept: &str, n: usize) -> anyhow::Result<Duration> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let mut r = client.get(url).header("Accept", accept).send()?;
        if r.status() != 200 {
            bail!("{url}: {}", r.status());
        }
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        times.push(t0.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// The agent's own v2 route of `id`'s stdout file (the master's 303 points at it through
/// its agent proxy), once it has data.
fn agent_route(url: &str, agent: &str, id: &str) -> anyhow::Result<String> {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let loc = client
            .get(format!("{url}/system/v1/logs/v2/task/{id}"))
            .send()
            .ok()
            .filter(|r| r.status() == 303)
            .and_then(|r| r.headers().get("location")?.to_str().ok().map(String::from));
        if let Some(loc) = loc {
            let path = loc.split('?').next().unwrap_or_default();
            let rest = path
                .split_once("/logs/v2/task/")
                .map(|(_, r)| r)
                .context("location")?;
            let route = format!("{agent}/system/v1/logs/v2/task/{rest}");
            let has_data = client
                .get(format!("{route}?cursor=BEG&limit=1"))
                .send()
                .is_ok_and(|r| r.status() == 200);
            if has_data {
                return Ok(route);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("no log route for task {id}")
}

/// Kills task `id` and waits (up to 60 s) until it is no longer live, so its executor does
/// not outlive `keel dev`.
fn kill_task(url: &str, id: &str) {
    let _ = reqwest::blocking::Client::new()
        .post(format!("{url}/internal/v1/tasks/{id}/kill"))
        .send();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let live = get_json(&format!("{url}/master/tasks?limit=-1"))
            .ok()
            .and_then(|v| {
                v["tasks"].as_array().map(|t| {
                    t.iter().any(|t| {
                        t["id"] == id
                            && matches!(
                                t["state"].as_str(),
                                Some(
                                    "TASK_STAGING"
                                        | "TASK_STARTING"
                                        | "TASK_RUNNING"
                                        | "TASK_KILLING"
                                )
                            )
                    })
                })
            })
            .unwrap_or(true);
        if !live {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

pub fn logs(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let bin = keel_bin(root)?;
    let dir = tempdir("logs");
    let n: u64 = if smoke { 4 << 20 } else { 1 << 30 };
    let lines = n / LINE;
    let limit = Duration::from_secs(if smoke { 60 } else { 900 });
    let keep = (n / ROTATE + 2).to_string();
    let keel = start(
        &bin,
        &[
            "dev",
            "--data-dir",
            dir.join("data").to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:0",
            "--log-rotate-max-files",
            &keep,
        ],
    )?;
    let url = keel.url.clone();
    let mut launched: Option<String> = None;
    let result = (|| -> anyhow::Result<()> {
        wait_agents(&url, 1)?;
        let slaves = get_json(&format!("{url}/master/slaves"))?;
        let agent = slaves["slaves"][0]["pid"]
            .as_str()
            .and_then(|p| p.split_once('@'))
            .map(|(_, a)| format!("http://{a}"))
            .context("agent address")?;
        let writer = generator(n);
        let task = post_json(
            &format!("{url}/internal/v1/tasks"),
            &json!({"cmd": format!("{writer}; exec sleep 3600"), "cpus": 0.5, "mem": 64}),
        )?;
        let id = task["task_id"].as_str().context("task id")?.to_string();
        launched = Some(id.clone());
        let route = agent_route(&url, &agent, &id)?;
        let stdout = route;

        // SSE follow from the start while the task writes, until all N bytes.
        let (followed, follow_t) = count_lines(
            Command::new("curl").args([
                "-sN",
                "-H",
                "Accept: text/event-stream",
                &format!("{stdout}?cursor=BEG"),
            ]),
            "^data: ",
            lines,
            limit,
            None,
        )?;
        let follow_fb = first_byte_http(&format!("{stdout}?cursor=BEG"), "text/event-stream", 5)?;

        // Range read of the whole stdout, text.
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-H",
                "Accept: text/plain",
                "-w",
                "%{size_download} %{time_starttransfer} %{time_total}",
                "--max-time",
                &limit.as_secs().to_string(),
                &format!("{stdout}?cursor=BEG"),
            ])
            .output()?;
        let w = String::from_utf8_lossy(&out.stdout).to_string();
        let f: Vec<f64> = w
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let [bytes, _, range_s] = f[..] else {
            bail!("curl printed {w:?}");
        };
        let range_t = Duration::from_secs_f64(range_s);
        let range_fb = first_byte_http(&format!("{stdout}?cursor=BEG"), "text/plain", 5)?;

        // The peers on a local file the same generator writes: tail -f while it is written,
        // then cat of the whole file (page cache warm, as the agent's files are).
        let file = dir.join("plain.log");
        std::fs::write(&file, b"")?;
        let file_s = file.to_str().unwrap_or_default().to_string();
        let (tailed, tail_t) = count_lines(
            Command::new("tail").args(["-n", "+1", "-f", &file_s]),
            "",
            lines,
            limit,
            Some(Command::new("sh").args(["-c", &format!("{writer} >> '{file_s}'")])),
        )?;
        let tail_fb = first_byte_cmd(Command::new("tail").args(["-n", "+1", "-f", &file_s]))?;
        let t0 = Instant::now();
        let ok = Command::new("sh")
            .args(["-c", &format!("cat '{file_s}' > /dev/null")])
            .status()?
            .success();
        let cat_t = t0.elapsed();
        if !ok {
            bail!("cat {file_s} failed");
        }
        let cat_fb = first_byte_cmd(Command::new("cat").arg(&file_s))?;

        let mb = n as f64 / 1e6;
        println!(
            "logs: {:.0} MB, {lines} lines of {LINE} B, one task's stdout in {} files of up to 10 MB (the agent's default rotation size)",
            mb,
            n.div_ceil(ROTATE)
        );
        println!(
            "logs: SSE follow from cursor=BEG while written: {followed} lines in {:.2} s = {:.0} lines/s ({:.0} MB/s of log), first byte {:.2} ms   \
             tail -f: {tailed} lines in {:.2} s = {:.0} lines/s, first byte {:.2} ms   (keel/tail {:.2}x)",
            follow_t.as_secs_f64(),
            rate(followed, follow_t),
            mb / follow_t.as_secs_f64(),
            follow_fb.as_secs_f64() * 1000.0,
            tail_t.as_secs_f64(),
            rate(tailed, tail_t),
            tail_fb.as_secs_f64() * 1000.0,
            rate(followed, follow_t) / rate(tailed, tail_t),
        );
        println!(
            "logs: range read (text, cursor=BEG, whole stdout): {:.0} B in {:.2} s = {:.0} lines/s, {:.0} MB/s, first byte {:.2} ms   \
             cat > /dev/null: {:.2} s = {:.0} lines/s, {:.0} MB/s, first byte {:.2} ms   (keel/cat {:.2}x)",
            bytes,
            range_s,
            rate(bytes as u64 / LINE, range_t),
            bytes / 1e6 / range_s,
            range_fb.as_secs_f64() * 1000.0,
            cat_t.as_secs_f64(),
            rate(lines, cat_t),
            mb / cat_t.as_secs_f64(),
            cat_fb.as_secs_f64() * 1000.0,
            rate(bytes as u64 / LINE, range_t) / rate(lines, cat_t),
        );
        if followed != lines || bytes as u64 != n {
            bail!("follow saw {followed} of {lines} lines, range read {bytes} of {n} bytes");
        }
        Ok(())
    })();
    if let Some(id) = launched {
        kill_task(&url, &id);
    }
    drop(keel);
    let _ = std::fs::remove_dir_all(&dir);
    result
}
