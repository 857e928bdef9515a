//! Durable writes against the disk they land on: the `fdatasync` floor of the data
//! directory measured in the same run (a loop of write + fdatasync on one file there),
//! latencies as p50/p99 and their ratio to one fdatasync, the store's commit rate alone and
//! with 32 concurrent writers, and 32 concurrent API clients POSTing apps and jobs.

use crate::bench::{keel_bin, start_simulated, tempdir};
use anyhow::bail;
use serde_json::{Value, json};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Concurrent writers in the concurrency benches.
const WRITERS: usize = 32;

/// The cost of one durable write on a directory's disk.
pub(crate) struct Floor {
    each: Duration,
}

impl Floor {
    /// Times `n` rounds of a 4 KiB write at offset 0 plus `fdatasync` in `dir`.
    pub(crate) fn measure(dir: &Path, n: usize) -> anyhow::Result<Floor> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(".keel-fdatasync-floor");
        let mut f = std::fs::File::create(&path)?;
        let page = [0x6b_u8; 4096];
        let round = |f: &mut std::fs::File| -> std::io::Result<()> {
            f.seek(SeekFrom::Start(0))?;
            f.write_all(&page)?;
            f.sync_data()
        };
        for _ in 0..10 {
            round(&mut f)?;
        }
        let t = Instant::now();
        for _ in 0..n {
            round(&mut f)?;
        }
        let each = t.elapsed() / n.max(1) as u32;
        drop(f);
        let _ = std::fs::remove_file(&path);
        Ok(Floor { each })
    }

    /// The mean of two measurements.
    pub(crate) fn mean(a: &Floor, b: &Floor) -> Floor {
        Floor {
            each: (a.each + b.each) / 2,
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        1.0 / self.each.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    pub(crate) fn ms(&self) -> f64 {
        self.each.as_secs_f64() * 1000.0
    }

    /// The line every durable-write bench prints first.
    pub(crate) fn print(&self, what: &str) {
        println!(
            "  fdatasync floor ({what}): {:.3} ms each = {:.0}/s",
            self.ms(),
            self.rate()
        );
    }

    /// `p50 .. ms, p99 .. ms = ..x / ..x one fdatasync`, from latencies in any order.
    pub(crate) fn latencies(&self, lat: &mut [Duration]) -> String {
        lat.sort();
        let pick = |p: f64| {
            let i = ((lat.len().max(1) - 1) as f64 * p).round() as usize;
            lat.get(i).copied().unwrap_or_default().as_secs_f64() * 1000.0
        };
        let (p50, p99) = (pick(0.5), pick(0.99));
        let floor = self.ms().max(f64::MIN_POSITIVE);
        format!(
            "p50 {p50:.2} ms, p99 {p99:.2} ms = {:.1}x / {:.1}x one fdatasync",
            p50 / floor,
            p99 / floor
        )
    }
}

fn floor_rounds(smoke: bool) -> usize {
    if smoke { 50 } else { 2_000 }
}

/// The store alone: sequential durable puts, then 32 threads putting at once.
pub(crate) fn store(smoke: bool) -> anyhow::Result<()> {
    let dir = tempdir("store");
    let floor = Floor::measure(&dir, floor_rounds(smoke))?;
    println!("store (redb, 128-byte puts):");
    floor.print("same directory, measured now");
    let clock = std::sync::Arc::new(keel_clock::SystemClock::new());
    let store = keel_store::RedbStore::open(&dir.join("s.redb"), clock)?;
    let n = if smoke { 50 } else { 2_000 };
    let rate = keel_store::bench_commits(&store, n)?;
    println!(
        "  {n} sequential puts: {rate:.0} durable commits/s = {:.0}% of the floor's rate",
        100.0 * rate / floor.rate()
    );
    let per = if smoke { 5 } else { 200 };
    let commits = store.durable_commits();
    let t = Instant::now();
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let store = &store;
            s.spawn(move || {
                for i in 0..per {
                    let key = format!("/keel-bench/{w:02}/{i:06}");
                    if let Err(e) =
                        keel_store::Store::put(store, &key, &[0x6b; 128], keel_store::Expect::Any)
                    {
                        eprintln!("store bench: {e}");
                        return;
                    }
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    let writes = WRITERS * per;
    let rate = writes as f64 / secs;
    println!(
        "  {WRITERS} concurrent writers, {writes} puts: {rate:.0} acknowledged writes/s = {:.0}% of the floor's rate (goal >= 50%); {:.1} writes per durable commit",
        100.0 * rate / floor.rate(),
        writes as f64 / (store.durable_commits() - commits).max(1) as f64
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

/// POSTs `body` to `url` with `client`; returns how long until it was acknowledged.
pub(crate) fn timed_post(
    client: &reqwest::blocking::Client,
    url: &str,
    body: &Value,
) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let r = client.post(url).json(body).send()?;
    let code = r.status();
    let text = r.text().unwrap_or_default();
    let took = t.elapsed();
    if !code.is_success() {
        bail!("{url}: {code} {text}");
    }
    Ok(took)
}

pub(crate) fn app(id: &str, instances: u32) -> Value {
    json!({"id": id, "cmd": "sleep 1000", "cpus": 0.01, "mem": 1, "instances": instances, "portDefinitions": []})
}

pub(crate) fn job(id: &str, i: usize) -> Value {
    json!({
        "id": id,
        "run": {"cpus": 0.01, "mem": 32, "disk": 0, "cmd": "true"},
        "schedules": [{"id": "nightly", "cron": format!("{} {} * * *", i % 60, i % 24), "timezone": "Europe/Berlin"}],
    })
}

/// `keel dev` on simulated agents: sequential `POST /v2/apps` and `POST /v1/jobs`, then 32
/// concurrent clients POSTing apps (one instance each; `KEEL_BENCH_WRITES_INSTANCES` to
/// change) and jobs, alternating. With `KEEL_BENCH_BEFORE=/path/to/an/older/keel`, that
/// binary runs the same bench first, for before/after figures side by side in one run.
pub(crate) fn writes(root: &Path, smoke: bool) -> anyhow::Result<()> {
    if let Some(before) = std::env::var_os("KEEL_BENCH_BEFORE") {
        let before = std::path::PathBuf::from(before);
        writes_with(&before, &format!("before: {}", before.display()), smoke)?;
    }
    writes_with(&keel_bin(root)?, "this build", smoke)
}

fn writes_with(bin: &Path, label: &str, smoke: bool) -> anyhow::Result<()> {
    let instances: u32 = std::env::var("KEEL_BENCH_WRITES_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let dir = tempdir("writes");
    let keel = start_simulated(bin, &dir, 5, "cpus:200;mem:200000;ports:[31000-32000]")?;
    let url = keel.url.clone();
    // The disk may be shared and its speed drift: the floor is measured before and after
    // each phase, and the phase is compared with the mean of the two.
    let data = dir.join("data");
    let floor0 = Floor::measure(&data, floor_rounds(smoke))?;
    println!("writes through the API (keel dev, 5 simulated agents; {label}):");
    floor0.print("keel's data directory, before the sequential writes");
    let n = if smoke { 20 } else { 500 };
    let c = client();
    let mut apps = Vec::with_capacity(n);
    let mut jobs = Vec::with_capacity(n);
    for i in 0..n {
        apps.push(timed_post(
            &c,
            &format!("{url}/v2/apps"),
            &app(&format!("/seq/app-{i}"), instances),
        )?);
        jobs.push(timed_post(
            &c,
            &format!("{url}/v1/jobs"),
            &job(&format!("seq.job-{i}"), i),
        )?);
    }
    let floor1 = Floor::measure(&data, floor_rounds(smoke))?;
    floor1.print("after them");
    let floor = Floor::mean(&floor0, &floor1);
    println!(
        "  {n} sequential POST /v2/apps ({instances} instance(s) each): {}   (goal p50 <= 4x)",
        floor.latencies(&mut apps)
    );
    println!(
        "  {n} sequential POST /v1/jobs: {}   (goal p50 <= 4x)",
        floor.latencies(&mut jobs)
    );
    let per = if smoke { 4 } else { 40 };
    let t = Instant::now();
    let results: Vec<anyhow::Result<Vec<Duration>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let url = &url;
                s.spawn(move || {
                    let c = client();
                    let mut lat = Vec::with_capacity(per);
                    for i in 0..per {
                        lat.push(if (w + i) % 2 == 0 {
                            let id = format!("/conc/w{w}/app-{i}");
                            timed_post(&c, &format!("{url}/v2/apps"), &app(&id, instances))?
                        } else {
                            let id = format!("conc.w{w}.job-{i}");
                            timed_post(&c, &format!("{url}/v1/jobs"), &job(&id, i))?
                        });
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| bail!("a writer panicked")))
            .collect()
    });
    let secs = t.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    for r in results {
        lat.extend(r?);
    }
    let rate = lat.len() as f64 / secs;
    let floor2 = Floor::measure(&data, floor_rounds(smoke))?;
    floor2.print("after the concurrent writes");
    let floor = Floor::mean(&floor1, &floor2);
    println!(
        "  {WRITERS} concurrent clients, {} POSTs (apps and jobs): {rate:.0} acknowledged writes/s = {:.0}% of the floor's rate (goal >= 50%); {}",
        lat.len(),
        100.0 * rate / floor.rate(),
        floor.latencies(&mut lat)
    );
    drop(keel);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
