//! Diagnostics bundles: one job at a time gathers, from each chosen node, its health, state,
//! metrics and component logs (each fetch bounded; what fails is listed in
//! `summaryErrorsReport.txt`), with the redacted configuration, into a zip written beside
//! its final name and renamed when complete. A cancelled job leaves no file.

use crate::DiagError;
use crate::report::{self, Collected};
use crate::time::utc;
use keel_api::diagnostics::{BundleFile, BundleStatus};
use keel_clock::{Clock, Ids};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one fetch for a bundle may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// The most of one component log a bundle takes (the newest lines).
const LOG_LINES: u32 = 10_000;

/// Where a node's data is read: its HTTP base URL, and whether it is the master.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub base: String,
    pub master: bool,
}

/// What a node gives a bundle: (file in the node's folder, path on the node).
fn wanted(master: bool) -> Vec<(&'static str, String)> {
    let mut w = vec![
        ("metrics-snapshot.json", "/metrics/snapshot".to_owned()),
        (
            "component-logs.txt",
            format!("/system/v1/logs/v2/component?skip=-{LOG_LINES}"),
        ),
    ];
    if master {
        w.push(("mesos-master-state.json", "/master/state".to_owned()));
        w.push(("marathon-apps.json", "/v2/apps?embed=apps.tasks".to_owned()));
        w.push((
            "metronome-jobs.json",
            "/v1/jobs?embed=activeRuns".to_owned(),
        ));
        w.push((
            "history-hour.json",
            "/dcos-history-service/history/hour".to_owned(),
        ));
    } else {
        w.push(("mesos-agent-state.json", "/state".to_owned()));
        w.push(("mesos-agent-flags.json", "/flags".to_owned()));
    }
    w
}

#[derive(Debug, Default)]
struct Job {
    running: bool,
    status: String,
    errors: Vec<String>,
    last_bundle: String,
    started: Option<f64>,
    ended: Option<f64>,
    progress: f64,
}

/// The bundle job and the directory of finished bundles.
#[derive(Clone)]
pub(crate) struct BundleJob {
    clock: Arc<dyn Clock>,
    ids: Arc<dyn Ids>,
    dir: PathBuf,
    config: Arc<Value>,
    job: Arc<Mutex<Job>>,
    cancel: Arc<AtomicBool>,
}

impl BundleJob {
    pub(crate) fn open(
        dir: PathBuf,
        config: Value,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
    ) -> Result<BundleJob, DiagError> {
        std::fs::create_dir_all(&dir).map_err(|source| DiagError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
        // Leftovers of a job a crash interrupted.
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(".partial-") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(BundleJob {
            clock,
            ids,
            dir,
            config: Arc::new(config),
            job: Arc::new(Mutex::new(Job {
                status: "No job has run since the master started".into(),
                ..Job::default()
            })),
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    fn now(&self) -> f64 {
        self.clock.unix_secs()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Job> {
        self.job.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn path(&self, bundle: &str) -> PathBuf {
        self.dir.join(bundle)
    }

    /// Starts a job over `nodes`; its bundle's name, or why not (one is running).
    pub(crate) fn start(
        &self,
        nodes: Vec<(Collected, Source)>,
        http: reqwest::Client,
    ) -> Result<String, String> {
        let name = {
            let mut j = self.lock();
            if j.running {
                return Err("Job is already running".into());
            }
            let name = report::bundle_name(self.now() as u64, self.ids.uuid());
            *j = Job {
                running: true,
                status: format!("Collecting the diagnostics bundle {name}"),
                started: Some(self.now()),
                last_bundle: self.path(&name).display().to_string(),
                ..Job::default()
            };
            name
        };
        self.cancel.store(false, Ordering::SeqCst);
        let me = self.clone();
        let n = name.clone();
        tokio::spawn(async move { me.run(n, nodes, http).await });
        Ok(name)
    }

    /// Asks the running job to stop.
    pub(crate) fn cancel(&self) -> Result<(), String> {
        if !self.lock().running {
            return Err("Job is not running".into());
        }
        self.cancel.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn run(self, name: String, nodes: Vec<(Collected, Source)>, http: reqwest::Client) {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let config = serde_json::to_vec_pretty(&*self.config).unwrap_or_default();
        files.push(("keel-config.json".into(), config));
        let total = nodes.len().max(1) as f64;
        for (i, (c, src)) in nodes.iter().enumerate() {
            if self.cancel.load(Ordering::SeqCst) {
                return self.finish_cancelled();
            }
            let folder = folder(c);
            let health = serde_json::to_vec_pretty(&c.report).unwrap_or_default();
            files.push((format!("{folder}/health.json"), health));
            if let Some(e) = &c.error {
                errors.push(format!("{folder}: {e}"));
                continue;
            }
            for (file, path) in wanted(src.master) {
                let url = format!("{}{path}", src.base);
                match fetch(&http, &url).await {
                    Ok(body) => files.push((format!("{folder}/{file}"), body)),
                    Err(e) => errors.push(format!("{folder}/{file}: {e}")),
                }
            }
            self.lock().progress = (i + 1) as f64 * 100.0 / total;
        }
        files.push(("summaryReport.txt".into(), summary(&nodes).into_bytes()));
        files.push((
            "summaryErrorsReport.txt".into(),
            errors.join("\n").into_bytes(),
        ));
        if self.cancel.load(Ordering::SeqCst) {
            return self.finish_cancelled();
        }
        let (dir, n) = (self.dir.clone(), name.clone());
        let written = tokio::task::spawn_blocking(move || write_zip(&dir, &n, &files)).await;
        let mut j = self.lock();
        j.running = false;
        j.ended = Some(self.now());
        j.errors = errors;
        match written {
            Ok(Ok(())) => {
                j.progress = 100.0;
                j.status = format!("Diagnostics job successfully collected all data into {name}");
            }
            Ok(Err(e)) => j.status = format!("Diagnostics job failed: {e}"),
            Err(e) => j.status = format!("Diagnostics job failed: {e}"),
        }
    }

    fn finish_cancelled(&self) {
        let mut j = self.lock();
        j.running = false;
        j.ended = Some(self.now());
        j.status = "Job has been canceled".into();
    }

    pub(crate) fn status(&self) -> BundleStatus {
        let j = self.lock();
        let end = j.ended.or(j.started.map(|_| self.now()));
        let duration = match (j.started, end) {
            (Some(s), Some(e)) => format!("{:.1}s", (e - s).max(0.0)),
            _ => String::new(),
        };
        BundleStatus {
            is_running: j.running,
            status: j.status.clone(),
            errors: if j.errors.is_empty() {
                None
            } else {
                Some(j.errors.clone())
            },
            last_bundle_dir: j.last_bundle.clone(),
            job_started: j.started.map(utc).unwrap_or_default(),
            job_ended: j.ended.map(utc).unwrap_or_default(),
            job_duration: duration,
            job_progress_percentage: j.progress,
            diagnostics_bundle_dir: self.dir.display().to_string(),
            diagnostics_job_timeout_min: 720,
            journald_logs_since_hours: "24".into(),
            diagnostics_job_get_since_url_timeout_min: (FETCH_TIMEOUT.as_secs() / 60).max(1) as u32,
            command_exec_timeout_sec: FETCH_TIMEOUT.as_secs() as u32,
            diagnostics_partition_disk_usage_percent: 0.0,
        }
    }

    /// The finished bundles, by name.
    pub(crate) fn list(&self) -> Vec<BundleFile> {
        let mut v: Vec<BundleFile> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if !report::is_bundle_name(&name) {
                    return None;
                }
                Some(BundleFile {
                    file_name: format!("/system/health/v1/report/diagnostics/serve/{name}"),
                    file_size: e.metadata().ok()?.len(),
                })
            })
            .collect();
        v.sort_by(|a, b| a.file_name.cmp(&b.file_name));
        v
    }
}

/// A node's folder in the bundle: `<ip>_master` or `<ip>_agent_<id>`.
fn folder(c: &Collected) -> String {
    let r = &c.report;
    let safe = |s: &str| {
        s.replace(
            |ch: char| !ch.is_ascii_alphanumeric() && ch != '.' && ch != '-',
            "_",
        )
    };
    if r.mesos_id.is_empty() {
        format!("{}_{}", safe(&r.ip), safe(&r.node_role))
    } else {
        format!(
            "{}_{}_{}",
            safe(&r.ip),
            safe(&r.node_role),
            safe(&r.mesos_id)
        )
    }
}

fn summary(nodes: &[(Collected, Source)]) -> String {
    let mut out = String::new();
    for (c, _) in nodes {
        out.push_str(&format!(
            "{} ({}): health {}\n",
            folder(c),
            c.report.hostname,
            c.health()
        ));
        for u in &c.report.units {
            out.push_str(&format!("  {} {}: {}\n", u.health, u.id, u.output));
        }
    }
    out
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let r = http
        .get(url)
        .header("accept", "text/plain, application/json")
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("GET {url}: {}", r.status()));
    }
    r.bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| format!("GET {url}: {e}"))
}

/// Writes `files` into `<dir>/.partial-<name>`, syncs it, and renames it to `<dir>/<name>`.
fn write_zip(dir: &Path, name: &str, files: &[(String, Vec<u8>)]) -> Result<(), DiagError> {
    let err = |reason: String| DiagError::Bundle {
        name: name.to_owned(),
        reason,
    };
    let partial = dir.join(format!(".partial-{name}"));
    let f = std::fs::File::create(&partial).map_err(|e| err(e.to_string()))?;
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let root = name.trim_end_matches(".zip");
    for (path, body) in files {
        z.start_file(format!("{root}/{path}"), opts)
            .map_err(|e| err(e.to_string()))?;
        z.write_all(body).map_err(|e| err(e.to_string()))?;
    }
    let f = z.finish().map_err(|e| err(e.to_string()))?;
    f.sync_all().map_err(|e| err(e.to_string()))?;
    std::fs::rename(&partial, dir.join(name)).map_err(|e| err(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_bundle_is_a_zip_under_one_folder_and_appears_only_when_complete() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let files = vec![
            ("keel-config.json".to_owned(), b"{}".to_vec()),
            (
                "10.0.0.1_master/health.json".to_owned(),
                b"{\"units\":[]}".to_vec(),
            ),
        ];
        let name = "bundle-1-x.zip";
        write_zip(dir.path(), name, &files).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [name]);
        let f = std::fs::File::open(dir.path().join(name)).unwrap_or_else(|e| panic!("{e}"));
        let mut z = zip::ZipArchive::new(f).unwrap_or_else(|e| panic!("{e}"));
        let mut body = String::new();
        z.by_name("bundle-1-x/10.0.0.1_master/health.json")
            .unwrap_or_else(|e| panic!("{e}"))
            .read_to_string(&mut body)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body, "{\"units\":[]}");
    }
}
