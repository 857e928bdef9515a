//! `keel job add|list|show|update|remove|run|runs|stop|history|logs` and
//! `keel job schedule add|list|show|update|remove`, over the Metronome v1 API.

use crate::{Client, Global};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::NOTHING};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

/// `keel job ...`
#[derive(Debug, Subcommand)]
pub enum JobCmd {
    /// Create a job from a Metronome JobSpec file (`-` for stdin); schedules may be included.
    Add { file: String },
    /// List jobs with their schedule and last outcome.
    List,
    /// Print a job (JobSpec with schedules, active runs and history summary).
    Show { id: String },
    /// Replace a job's definition from a file (its schedules are kept).
    Update {
        file: String,
        /// The job to update (default: the file's `id`).
        #[arg(long)]
        id: Option<String>,
    },
    /// Delete a job.
    Remove {
        id: String,
        /// Stop its active runs first.
        #[arg(long)]
        stop_runs: bool,
    },
    /// Start a run now.
    Run(RunArgs),
    /// List a job's active runs.
    Runs { id: String },
    /// Stop an active run.
    Stop { id: String, run: String },
    /// Finished runs (newest first) and missed schedule slots.
    History {
        id: String,
        /// Only failed runs.
        #[arg(long)]
        failures: bool,
    },
    /// Print a run's output (kept after the sandbox is gone); default the newest run.
    Logs(LogsArgs),
    /// Schedules of a job.
    #[command(subcommand)]
    Schedule(ScheduleCmd),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    id: String,
    /// Wait until the run finishes; fail if it failed.
    #[arg(long)]
    wait: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    id: String,
    /// The run (default: the newest).
    run: Option<String>,
    /// Print stderr instead of stdout.
    #[arg(long)]
    stderr: bool,
    /// A task of the run (default: its last).
    #[arg(long)]
    task: Option<String>,
}

/// `keel job schedule ...`
#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// Add a schedule from a file (`-` for stdin).
    Add { id: String, file: String },
    /// List a job's schedules.
    List { id: String },
    /// Print one schedule.
    Show { id: String, schedule: String },
    /// Replace a schedule from a file (its `id` names the schedule).
    Update { id: String, file: String },
    /// Delete a schedule.
    Remove { id: String, schedule: String },
}

/// One API call; a non-2xx reply becomes an error with its `message` and `details`.
async fn call(
    c: &Client,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let url = format!("{}{path}", c.base);
    let mut req = c.http.request(method, &url);
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("reading reply from {url}"))?;
    let v: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
    };
    if status.is_success() {
        return Ok(v);
    }
    let mut msg = v["message"]
        .as_str()
        .map_or_else(|| format!("{status}: {}", text.trim()), String::from);
    for d in v["details"].as_array().into_iter().flatten() {
        let errors: Vec<String> = d["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        msg.push_str(&format!("\n  {}: {}", s(&d["path"]), errors.join("; ")));
    }
    bail!("{msg}")
}

fn read_doc(file: &str) -> anyhow::Result<Value> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
    };
    serde_json::from_str(&text).with_context(|| format!("{file} is not JSON"))
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(NOTHING).set_header(header.to_vec());
    t
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

/// Runs a `keel job` command.
pub async fn job(g: &Global, cmd: JobCmd) -> anyhow::Result<()> {
    let c = &Client::new(&g.url);
    match cmd {
        JobCmd::Add { file } => {
            let v = call(c, Method::POST, "/v1/jobs", Some(&read_doc(&file)?)).await?;
            done(g, &v, format!("Created job {}", s(&v["id"])))
        }
        JobCmd::List => list(c, g).await,
        JobCmd::Show { id } => {
            let path = format!("/v1/jobs/{id}?embed=activeRuns&embed=historySummary");
            print_json(&call(c, Method::GET, &path, None).await?)
        }
        JobCmd::Update { file, id } => {
            let doc = read_doc(&file)?;
            let id = id.unwrap_or_else(|| s(&doc["id"]));
            let v = call(c, Method::PUT, &format!("/v1/jobs/{id}"), Some(&doc)).await?;
            done(g, &v, format!("Updated job {id}"))
        }
        JobCmd::Remove { id, stop_runs } => {
            let path = format!("/v1/jobs/{id}?stopCurrentJobRuns={stop_runs}");
            let v = call(c, Method::DELETE, &path, None).await?;
            done(g, &v, format!("Removed job {id}"))
        }
        JobCmd::Run(a) => run(c, g, a).await,
        JobCmd::Runs { id } => runs(c, g, &id).await,
        JobCmd::Stop { id, run } => {
            let path = format!("/v1/jobs/{id}/runs/{run}/actions/stop");
            let v = call(c, Method::POST, &path, None).await?;
            done(g, &v, format!("Stopped run {run} of {id}"))
        }
        JobCmd::History { id, failures } => history(c, g, &id, failures).await,
        JobCmd::Logs(a) => logs(c, a).await,
        JobCmd::Schedule(s) => schedule(c, g, s).await,
    }
}

fn done(g: &Global, v: &Value, msg: String) -> anyhow::Result<()> {
    if g.json {
        print_json(v)
    } else {
        println!("{msg}");
        Ok(())
    }
}

async fn list(c: &Client, g: &Global) -> anyhow::Result<()> {
    let v = c
        .call(
            Method::GET,
            "/v1/jobs?embed=activeRuns&embed=historySummary",
            None,
        )
        .await?;
    if g.json {
        return print_json(&v);
    }
    let mut t = table(&[
        "ID", "STATUS", "SCHEDULE", "NEXT RUN", "LAST RUN", "SUCCESS", "FAILURE",
    ]);
    for j in v.as_array().into_iter().flatten() {
        let active = j["activeRuns"].as_array().map_or(0, Vec::len);
        let sched = &j["schedules"][0];
        let status = if active > 0 {
            format!("Running ({active})")
        } else if sched.is_object() {
            "Scheduled".into()
        } else {
            "Unscheduled".into()
        };
        let schedule = if sched.is_object() {
            let off = if sched["enabled"] == false {
                " (disabled)"
            } else {
                ""
            };
            format!("{} {}{off}", s(&sched["cron"]), s(&sched["timezone"]))
        } else {
            "-".into()
        };
        let h = &j["historySummary"];
        let last = match (h["lastSuccessAt"].as_str(), h["lastFailureAt"].as_str()) {
            (None, None) => "N/A",
            (Some(ok), Some(bad)) if bad >= ok => "Failed",
            (None, Some(_)) => "Failed",
            _ => "Success",
        };
        t.add_row([
            s(&j["id"]),
            status,
            schedule,
            s(&sched["nextRunAt"]),
            last.to_string(),
            s(&h["successCount"]),
            s(&h["failureCount"]),
        ]);
    }
    println!("{t}");
    Ok(())
}

async fn run(c: &Client, g: &Global, a: RunArgs) -> anyhow::Result<()> {
    let v = c
        .call(Method::POST, &format!("/v1/jobs/{}/runs", a.id), None)
        .await?;
    let run = s(&v["id"]);
    if !a.wait {
        return done(g, &v, run);
    }
    let status = wait_finished(c, &a.id, &run).await?;
    if g.json {
        print_json(&serde_json::json!({"id": run, "jobId": a.id, "status": status}))?;
    } else {
        println!("{run} {status}");
    }
    if status != "SUCCESS" {
        bail!("run {run} of {} ended {status}", a.id);
    }
    Ok(())
}

async fn wait_finished(c: &Client, job: &str, run: &str) -> anyhow::Result<String> {
    loop {
        let v = c
            .call(
                Method::GET,
                &format!("/v1/jobs/{job}?embed=history&embed=activeRuns"),
                None,
            )
            .await?;
        let h = &v["history"];
        let find = |k: &str| {
            h[k].as_array()
                .is_some_and(|runs| runs.iter().any(|r| r["id"] == run))
        };
        if find("successfulFinishedRuns") {
            return Ok("SUCCESS".into());
        }
        if find("failedFinishedRuns") {
            return Ok("FAILED".into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn runs(c: &Client, g: &Global, id: &str) -> anyhow::Result<()> {
    let v = call(c, Method::GET, &format!("/v1/jobs/{id}/runs"), None).await?;
    if g.json {
        return print_json(&v);
    }
    let mut t = table(&["RUN ID", "STATUS", "CREATED", "TASKS"]);
    for r in v.as_array().into_iter().flatten() {
        let tasks: Vec<String> = r["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| format!("{} {}", s(&t["id"]), s(&t["status"])))
            .collect();
        t.add_row([
            s(&r["id"]),
            s(&r["status"]),
            s(&r["createdAt"]),
            tasks.join(", "),
        ]);
    }
    println!("{t}");
    Ok(())
}

async fn history(c: &Client, g: &Global, id: &str, failures: bool) -> anyhow::Result<()> {
    let v = c
        .call(Method::GET, &format!("/v1/jobs/{id}?embed=history"), None)
        .await?;
    let h = &v["history"];
    if g.json {
        return print_json(h);
    }
    println!(
        "{id}: {} successful (last {}), {} failed (last {})",
        s(&h["successCount"]),
        s(&h["lastSuccessAt"]),
        s(&h["failureCount"]),
        s(&h["lastFailureAt"])
    );
    let mut rows: Vec<(&Value, &str)> = Vec::new();
    if !failures {
        rows.extend(
            h["successfulFinishedRuns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| (r, "SUCCESS")),
        );
    }
    rows.extend(
        h["failedFinishedRuns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| (r, "FAILED")),
    );
    rows.sort_by(|a, b| s(&b.0["finishedAt"]).cmp(&s(&a.0["finishedAt"])));
    let mut t = table(&["RUN ID", "STATUS", "CREATED", "FINISHED", "TASKS"]);
    for (r, status) in rows {
        let tasks: Vec<String> = r["tasks"].as_array().into_iter().flatten().map(s).collect();
        t.add_row([
            s(&r["id"]),
            status.into(),
            s(&r["createdAt"]),
            s(&r["finishedAt"]),
            tasks.join(", "),
        ]);
    }
    println!("{t}");
    if let Some(missed) = h["missedRuns"].as_array().filter(|m| !m.is_empty()) {
        let mut t = table(&["MISSED SLOT", "SCHEDULE", "REASON", "RECORDED"]);
        for m in missed {
            t.add_row([
                s(&m["scheduledAt"]),
                s(&m["scheduleId"]),
                s(&m["reason"]),
                s(&m["recordedAt"]),
            ]);
        }
        println!("{t}");
    }
    Ok(())
}

/// The newest run of a job: active first, else the most recently finished.
async fn newest_run(c: &Client, job: &str) -> anyhow::Result<String> {
    let v = c
        .call(
            Method::GET,
            &format!("/v1/jobs/{job}?embed=history&embed=activeRuns"),
            None,
        )
        .await?;
    let active = v["activeRuns"].as_array().into_iter().flatten();
    if let Some(r) = active.max_by_key(|r| s(&r["createdAt"])) {
        return Ok(s(&r["id"]));
    }
    let h = &v["history"];
    h["successfulFinishedRuns"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(h["failedFinishedRuns"].as_array().into_iter().flatten())
        .max_by_key(|r| s(&r["finishedAt"]))
        .map(|r| s(&r["id"]))
        .with_context(|| format!("job {job} has no runs"))
}

async fn logs(c: &Client, a: LogsArgs) -> anyhow::Result<()> {
    let run = match a.run {
        Some(r) => r,
        None => newest_run(c, &a.id).await?,
    };
    let file = if a.stderr { "stderr" } else { "stdout" };
    let mut url = format!("{}/v1/jobs/{}/runs/{run}/logs?file={file}", c.base, a.id);
    if let Some(t) = &a.task {
        url.push_str(&format!("&task={t}"));
    }
    let resp = c
        .http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if !status.is_success() {
        let msg = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        bail!("{msg}");
    }
    use std::io::Write;
    std::io::stdout().write_all(&body)?;
    Ok(())
}

async fn schedule(c: &Client, g: &Global, cmd: ScheduleCmd) -> anyhow::Result<()> {
    match cmd {
        ScheduleCmd::Add { id, file } => {
            let path = format!("/v1/jobs/{id}/schedules");
            let v = call(c, Method::POST, &path, Some(&read_doc(&file)?)).await?;
            done(g, &v, format!("Added schedule {} to {id}", s(&v["id"])))
        }
        ScheduleCmd::List { id } => {
            let v = call(c, Method::GET, &format!("/v1/jobs/{id}/schedules"), None).await?;
            if g.json {
                return print_json(&v);
            }
            let mut t = table(&[
                "ID",
                "CRON",
                "TIMEZONE",
                "ENABLED",
                "CONCURRENCY",
                "DEADLINE",
                "NEXT RUN",
            ]);
            for x in v.as_array().into_iter().flatten() {
                t.add_row([
                    s(&x["id"]),
                    s(&x["cron"]),
                    s(&x["timezone"]),
                    s(&x["enabled"]),
                    s(&x["concurrencyPolicy"]),
                    s(&x["startingDeadlineSeconds"]),
                    s(&x["nextRunAt"]),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        ScheduleCmd::Show { id, schedule } => {
            let path = format!("/v1/jobs/{id}/schedules/{schedule}");
            print_json(&call(c, Method::GET, &path, None).await?)
        }
        ScheduleCmd::Update { id, file } => {
            let doc = read_doc(&file)?;
            let sid = s(&doc["id"]);
            let path = format!("/v1/jobs/{id}/schedules/{sid}");
            let v = call(c, Method::PUT, &path, Some(&doc)).await?;
            done(g, &v, format!("Updated schedule {sid} of {id}"))
        }
        ScheduleCmd::Remove { id, schedule } => {
            let path = format!("/v1/jobs/{id}/schedules/{schedule}");
            let v = call(c, Method::DELETE, &path, None).await?;
            done(g, &v, format!("Removed schedule {schedule} from {id}"))
        }
    }
}
