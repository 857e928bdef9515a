//! Per-run logs that outlive the sandbox (Keel extension): when a run finishes, each task's
//! `stdout` and `stderr` are copied through the cluster entry (`/master/tasks` for the
//! sandbox path, `/agent/<id>/files/download` for the bytes) into the store, keeping the
//! last [`MAX_LOG_BYTES`] of each. `GET /v1/jobs/{id}/runs/{run}/logs` serves them (and the
//! live sandbox while a task runs). The newest [`LOG_RUNS_KEPT`] runs of a job keep theirs.

use crate::error::JobsError;
use crate::keys::{self, PendingArchive};
use crate::service::Service;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use keel_api::metronome::{RunLogs, TaskLogs};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Bytes kept per file (the tail).
pub const MAX_LOG_BYTES: usize = 1 << 20;
/// Runs per job whose output is kept.
pub const LOG_RUNS_KEPT: usize = 50;
/// The files copied per task.
pub const FILES: [&str; 2] = ["stdout", "stderr"];
/// Seconds to wait for a killed task to end before copying anyway, and to keep retrying.
const SETTLE_SECS: f64 = 30.0;
const GIVE_UP_SECS: f64 = 600.0;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// Reads a task's output files from its sandbox through the cluster entry.
pub async fn fetch_task_files(entry: &str, task: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let http = client();
    let url = format!("{entry}/master/tasks?limit=-1&task_id={task}");
    let v: serde_json::Value = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let t = v["tasks"]
        .as_array()
        .and_then(|a| a.first())
        .ok_or_else(|| format!("task {task} is unknown to the master"))?;
    let (fw, agent) = (
        t["framework_id"].as_str().unwrap_or_default(),
        t["slave_id"].as_str().unwrap_or_default(),
    );
    let mut out = Vec::new();
    for f in FILES {
        let path = format!("/frameworks/{fw}/executors/{task}/runs/latest/{f}");
        let url = format!("{entry}/agent/{agent}/files/download?path={path}");
        let resp = http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            continue;
        }
        let bytes = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        let start = bytes.len().saturating_sub(MAX_LOG_BYTES);
        out.push((f.to_string(), bytes[start..].to_vec()));
    }
    Ok(out)
}

/// Copies the output of finished runs' tasks, forever (every `period`).
pub async fn archive_loop(svc: Arc<Service>, period: Duration) {
    let Some(entry) = svc.config.entry_url.clone() else {
        return;
    };
    loop {
        tokio::time::sleep(period).await;
        for (key, a) in svc.pending_archives() {
            archive_one(&svc, &entry, &key, &a).await;
        }
    }
}

async fn archive_one(svc: &Service, entry: &str, key: &str, a: &PendingArchive) {
    let age = svc.now() - a.since;
    if !svc.task_ended(&a.task) && age < SETTLE_SECS {
        return;
    }
    let files = match fetch_task_files(entry, &a.task).await {
        Ok(f) => f,
        Err(e) if age < GIVE_UP_SECS => {
            tracing::debug!("metronome: copying output of {}: {e}", a.task);
            return;
        }
        Err(e) => {
            tracing::warn!("metronome: giving up on output of {}: {e}", a.task);
            Vec::new()
        }
    };
    if let Err(e) = svc.store_archive(key, a, files) {
        tracing::error!("metronome: storing output of {}: {e}", a.task);
    }
}

/// `GET /v1/jobs/{id}/runs/{run}/logs[?task=<id>&file=stdout|stderr]`.
pub async fn run_logs(
    State(svc): State<Arc<Service>>,
    Path((job, run)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, JobsError> {
    let tasks = svc
        .run_tasks(&job, &run)
        .ok_or_else(|| JobsError::UnknownRun {
            job: job.clone(),
            run: run.clone(),
        })?;
    let Some(file) = q.get("file") else {
        let mut out = Vec::new();
        for t in &tasks {
            let mut archived = BTreeMap::new();
            for f in FILES {
                if let Some(kv) = svc.store.get(&keys::log(&job, &run, t, f))? {
                    archived.insert(f.to_string(), kv.value.len() as u64);
                }
            }
            out.push(TaskLogs {
                task_id: t.clone(),
                archived,
            });
        }
        let body = RunLogs {
            job_id: job,
            run_id: run,
            tasks: out,
        };
        return Ok(axum::Json(body).into_response());
    };
    if !FILES.contains(&file.as_str()) {
        return Err(JobsError::BadRequest(format!(
            "file {file:?} is not one of stdout, stderr"
        )));
    }
    let task = match q.get("task") {
        Some(t) if tasks.contains(t) => t.clone(),
        Some(t) => {
            return Err(JobsError::BadRequest(format!(
                "task {t} is not a task of run {run}"
            )));
        }
        None => tasks.last().cloned().ok_or_else(|| {
            JobsError::BadRequest(format!("run {run} has not launched a task yet"))
        })?,
    };
    if let Some(kv) = svc.store.get(&keys::log(&job, &run, &task, file))? {
        return Ok(text(kv.value));
    }
    let live = match &svc.config.entry_url {
        Some(entry) => fetch_task_files(entry, &task).await.ok(),
        None => None,
    };
    match live.and_then(|files| files.into_iter().find(|(n, _)| n == file)) {
        Some((_, bytes)) => Ok(text(bytes)),
        None => Ok((
            StatusCode::NOT_FOUND,
            axum::Json(keel_api::metronome::Message {
                message: format!("no {file} recorded for task {task}"),
            }),
        )
            .into_response()),
    }
}

fn text(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response()
}

impl Service {
    /// The task ids of a run, active or finished.
    pub(crate) fn run_tasks(&self, job: &str, run: &str) -> Option<Vec<String>> {
        self.read(|st| {
            let j = st.jobs.get(job)?;
            if let Some(r) = j.active.get(run) {
                return Some(r.tasks.iter().map(|t| t.id.clone()).collect());
            }
            j.history
                .successful
                .iter()
                .chain(j.history.failed.iter())
                .find(|f| f.id == run)
                .map(|f| f.tasks.clone())
        })
    }
}
