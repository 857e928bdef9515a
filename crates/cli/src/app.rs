//! `keel app ...`, `keel deployment ...`, `keel group ...` and `keel pod ...`: the Marathon
//! v2 API from the command line. Writes wait for their deployment with a progress line
//! (and say why instances are not being placed) unless `--detach`.

use crate::{Client, Global};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::NOTHING};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

/// Options of every command that starts a deployment.
#[derive(Debug, Clone, Args)]
pub struct WaitOpts {
    /// Return at once instead of waiting for the deployment to finish.
    #[arg(long)]
    detach: bool,
    /// Cancel conflicting deployments.
    #[arg(long)]
    force: bool,
    /// Give up waiting after this many seconds (the deployment continues).
    #[arg(long)]
    timeout: Option<u64>,
}

/// `keel app ...`
#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Create an app from a JSON file (`-` for stdin).
    Add {
        file: String,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// List apps.
    List {
        /// Only apps whose labels match this selector (e.g. `team==a,tier!=db`).
        #[arg(long)]
        label: Option<String>,
    },
    /// Show one app.
    Show { id: String },
    /// Change an app with a partial JSON document (file or `-`), or `key=value` pairs.
    Update {
        id: String,
        changes: Vec<String>,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// Set the number of instances.
    Scale {
        id: String,
        instances: u32,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// Replace every instance with a new one.
    Restart {
        id: String,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// Remove an app and kill its tasks.
    Remove {
        id: String,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// List an app's versions.
    Versions { id: String },
    /// Go back to an earlier version (default: the one before the current).
    Rollback {
        id: String,
        version: Option<String>,
        #[command(flatten)]
        wait: WaitOpts,
    },
}

/// `keel deployment ...`
#[derive(Debug, Subcommand)]
pub enum DeploymentCmd {
    /// List running deployments.
    List,
    /// Follow a deployment until it finishes.
    Watch { id: String },
    /// Cancel a deployment by rolling back (or just stop it with --force).
    Cancel {
        id: String,
        #[arg(long)]
        force: bool,
    },
}

/// `keel group ...`
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Create a group from a JSON file (`-` for stdin).
    Add {
        file: String,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// List groups.
    List,
    /// Show a group.
    Show { id: String },
    /// Replace a group from a JSON file.
    Update {
        id: String,
        file: String,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// Multiply the instances of every app in a group.
    Scale {
        id: String,
        factor: f64,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// Remove a group and everything in it.
    Remove {
        id: String,
        #[command(flatten)]
        wait: WaitOpts,
    },
}

/// `keel pod ...`
#[derive(Debug, Subcommand)]
pub enum PodCmd {
    /// Create a pod from a JSON file (`-` for stdin).
    Add {
        file: String,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// List pods with their status.
    List,
    /// Show a pod's status.
    Show { id: String },
    /// Replace a pod from a JSON file.
    Update {
        id: String,
        file: String,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// Remove a pod.
    Remove {
        id: String,
        #[command(flatten)]
        wait: WaitOpts,
    },
    /// Kill pod instances.
    Kill { id: String, instances: Vec<String> },
}

fn abs(id: &str) -> String {
    if id.starts_with('/') {
        id.to_string()
    } else {
        format!("/{id}")
    }
}

fn read_json(file: &str) -> anyhow::Result<Value> {
    let mut text = String::new();
    if file == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
    } else {
        text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    }
    serde_json::from_str(&text).with_context(|| format!("{file} is not valid JSON"))
}

fn q(force: bool) -> &'static str {
    if force { "?force=true" } else { "" }
}

/// Prints `v` as JSON.
fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Parses `key=value` pairs into a partial app; values are JSON when they parse as JSON.
pub fn changes_to_json(changes: &[String]) -> anyhow::Result<Value> {
    let mut obj = serde_json::Map::new();
    for c in changes {
        let (k, v) = c
            .split_once('=')
            .with_context(|| format!("{c:?} is not key=value"))?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        obj.insert(k.to_string(), value);
    }
    Ok(Value::Object(obj))
}

pub async fn app(g: &Global, cmd: AppCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        AppCmd::Add { file, wait } => {
            let body = read_json(&file)?;
            let r = c
                .call(
                    Method::POST,
                    &format!("/v2/apps{}", q(wait.force)),
                    Some(&body),
                )
                .await?;
            let dep = r["deployments"][0]["id"].as_str().map(String::from);
            finish(&c, g, &r, dep, &wait).await
        }
        AppCmd::List { label } => {
            let mut path = "/v2/apps?embed=apps.counts".to_string();
            if let Some(l) = label {
                path.push_str(&format!("&label={}", urlencode(&l)));
            }
            let r = c.call(Method::GET, &path, None).await?;
            if g.json {
                return print_json(&r["apps"]);
            }
            let mut t = Table::new();
            t.load_style(NOTHING).set_header([
                "ID",
                "INSTANCES",
                "RUNNING",
                "HEALTHY",
                "CPUS",
                "MEM",
                "DEPLOYMENTS",
                "CMD",
            ]);
            for a in r["apps"].as_array().into_iter().flatten() {
                t.add_row([
                    a["id"].as_str().unwrap_or_default().to_string(),
                    a["instances"].to_string(),
                    a["tasksRunning"].to_string(),
                    a["tasksHealthy"].to_string(),
                    a["cpus"].to_string(),
                    a["mem"].to_string(),
                    a["deployments"]
                        .as_array()
                        .map(|d| d.len())
                        .unwrap_or(0)
                        .to_string(),
                    a["cmd"].as_str().unwrap_or("").chars().take(40).collect(),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        AppCmd::Show { id } => {
            let r = c
                .call(
                    Method::GET,
                    &format!(
                        "/v2/apps{}?embed=app.tasks&embed=app.counts&embed=app.lastTaskFailure",
                        abs(&id)
                    ),
                    None,
                )
                .await?;
            let mut app = r["app"].clone();
            let tasks: std::collections::BTreeSet<String> = app["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["id"].as_str().map(String::from))
                .collect();
            let dns_names = crate::dns::names_of_app(&c, &id, &tasks).await;
            if let (Some(obj), Ok(Value::Object(v))) =
                (app.as_object_mut(), crate::vip::of_tasks(&c, &tasks).await)
            {
                // The l4lb names of the app's VIPs are DNS names too.
                let mut names = dns_names.as_array().cloned().unwrap_or_default();
                for vip in v
                    .get("vips")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(n) = vip["dnsName"].as_str().filter(|n| !n.is_empty()) {
                        let n = json!({"name": format!("{n}."), "type": "A"});
                        if !names.contains(&n) {
                            names.push(n);
                        }
                    }
                }
                obj.extend(v);
                obj.insert("dnsNames".into(), Value::Array(names));
            }
            print_json(&app)
        }
        AppCmd::Update { id, changes, wait } => {
            let body = if changes.len() == 1 && !changes[0].contains('=') {
                read_json(&changes[0])?
            } else {
                changes_to_json(&changes)?
            };
            write(
                &c,
                g,
                Method::PUT,
                &format!("/v2/apps{}{}", abs(&id), q(wait.force)),
                Some(body),
                &wait,
            )
            .await
        }
        AppCmd::Scale {
            id,
            instances,
            wait,
        } => {
            write(
                &c,
                g,
                Method::PUT,
                &format!("/v2/apps{}{}", abs(&id), q(wait.force)),
                Some(json!({"instances": instances})),
                &wait,
            )
            .await
        }
        AppCmd::Restart { id, wait } => {
            write(
                &c,
                g,
                Method::POST,
                &format!("/v2/apps{}/restart{}", abs(&id), q(wait.force)),
                None,
                &wait,
            )
            .await
        }
        AppCmd::Remove { id, wait } => {
            write(
                &c,
                g,
                Method::DELETE,
                &format!("/v2/apps{}{}", abs(&id), q(wait.force)),
                None,
                &wait,
            )
            .await
        }
        AppCmd::Versions { id } => {
            let r = c
                .call(Method::GET, &format!("/v2/apps{}/versions", abs(&id)), None)
                .await?;
            if g.json {
                return print_json(&r["versions"]);
            }
            for v in r["versions"].as_array().into_iter().flatten() {
                println!("{}", v.as_str().unwrap_or_default());
            }
            Ok(())
        }
        AppCmd::Rollback { id, version, wait } => {
            let version = match version {
                Some(v) => v,
                None => {
                    let r = c
                        .call(Method::GET, &format!("/v2/apps{}/versions", abs(&id)), None)
                        .await?;
                    let vs: Vec<&str> = r["versions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    match vs.get(1) {
                        Some(v) => v.to_string(),
                        None => bail!("app {id} has no earlier version"),
                    }
                }
            };
            write(
                &c,
                g,
                Method::PUT,
                &format!("/v2/apps{}{}", abs(&id), q(wait.force)),
                Some(json!({"version": version})),
                &wait,
            )
            .await
        }
    }
}

/// A write that answers `{deploymentId, version}`; waits for the deployment.
async fn write(
    c: &Client,
    g: &Global,
    m: Method,
    path: &str,
    body: Option<Value>,
    wait: &WaitOpts,
) -> anyhow::Result<()> {
    let r = c.call(m, path, body.as_ref()).await?;
    let dep = r["deploymentId"].as_str().map(String::from);
    finish(c, g, &r, dep, wait).await
}

async fn finish(
    c: &Client,
    g: &Global,
    reply: &Value,
    dep: Option<String>,
    wait: &WaitOpts,
) -> anyhow::Result<()> {
    match dep {
        Some(id) if !wait.detach => {
            watch(c, &id, wait.timeout.map(Duration::from_secs), g.json).await?
        }
        Some(id) if !g.json => println!("Created deployment {id}"),
        _ => {}
    }
    if g.json {
        print_json(reply)?;
    }
    Ok(())
}

/// Follows deployment `id` until it is gone from `/v2/deployments`.
pub async fn watch(
    c: &Client,
    id: &str,
    timeout: Option<Duration>,
    quiet: bool,
) -> anyhow::Result<()> {
    let start = keel_clock::monotonic();
    let tty = std::io::stderr().is_terminal() && !quiet;
    let mut last_line = String::new();
    loop {
        let deps = c.call(Method::GET, "/v2/deployments", None).await?;
        let Some(d) = deps
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["id"] == id)
            .cloned()
        else {
            if !quiet {
                if tty {
                    eprint!("\r\x1b[K");
                }
                eprintln!(
                    "Deployment {id} finished in {:.1} s",
                    start.elapsed().as_secs_f64()
                );
            }
            return Ok(());
        };
        let mut line = progress_line(&d);
        if let Some(why) = why_waiting(c, &d).await {
            line.push_str(&format!(" - {why}"));
        }
        if !quiet && line != last_line {
            if tty {
                eprint!("\r\x1b[K{line}");
                let _ = std::io::stderr().flush();
            } else {
                eprintln!("{line}");
            }
            last_line = line;
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            bail!(
                "deployment {id} is still running after {:.0} s (it continues; `keel deployment watch {id}`)",
                start.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn progress_line(d: &Value) -> String {
    let actions: Vec<String> = d["currentActions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{} {}",
                a["action"].as_str().unwrap_or("?"),
                a["app"].as_str().or(a["pod"].as_str()).unwrap_or("?")
            )
        })
        .collect();
    format!(
        "[step {}/{}] {}",
        d["currentStep"],
        d["totalSteps"],
        actions.join(", ")
    )
}

/// The queue's explanation for an affected app or pod that waits for placement.
async fn why_waiting(c: &Client, d: &Value) -> Option<String> {
    let queue = c
        .call(Method::GET, "/v2/queue?embed=pods", None)
        .await
        .ok()?;
    explain_queue(&queue, d)
}

/// The first queue item of a run spec deployment `d` affects, explained: its backoff, or
/// how many agents rejected it for which reason.
fn explain_queue(queue: &Value, d: &Value) -> Option<String> {
    let affected: Vec<&str> = ["affectedApps", "affectedPods"]
        .iter()
        .filter_map(|k| d[*k].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for item in queue["queue"].as_array()? {
        let id = item["app"]["id"]
            .as_str()
            .or(item["pod"]["id"].as_str())
            .unwrap_or_default();
        if !affected.contains(&id) {
            continue;
        }
        if item["delay"]["overdue"] == false {
            return Some(format!(
                "{id} backing off for {} s",
                item["delay"]["timeLeftSeconds"]
            ));
        }
        let reasons: Vec<String> = item["processedOffersSummary"]["rejectSummaryLastOffers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["declined"].as_u64().unwrap_or(0) > 0)
            .map(|r| {
                format!(
                    "{} agent(s): {}",
                    r["declined"],
                    r["reason"].as_str().unwrap_or("?")
                )
            })
            .collect();
        if !reasons.is_empty() {
            return Some(format!(
                "{id} waiting for {} instance(s): {}",
                item["count"],
                reasons.join("; ")
            ));
        }
    }
    None
}

pub async fn deployment(g: &Global, cmd: DeploymentCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        DeploymentCmd::List => {
            let r = c.call(Method::GET, "/v2/deployments", None).await?;
            if g.json {
                return print_json(&r);
            }
            let mut t = Table::new();
            t.load_style(NOTHING)
                .set_header(["ID", "VERSION", "AFFECTED", "STEP", "ACTIONS"]);
            for d in r.as_array().into_iter().flatten() {
                let affected: Vec<&str> = d["affectedApps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain(d["affectedPods"].as_array().into_iter().flatten())
                    .filter_map(Value::as_str)
                    .collect();
                t.add_row([
                    d["id"].as_str().unwrap_or_default().to_string(),
                    d["version"].as_str().unwrap_or_default().to_string(),
                    affected.join(","),
                    format!("{}/{}", d["currentStep"], d["totalSteps"]),
                    progress_line(d),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        DeploymentCmd::Watch { id } => watch(&c, &id, None, false).await,
        DeploymentCmd::Cancel { id, force } => {
            let r = c
                .call(
                    Method::DELETE,
                    &format!("/v2/deployments/{id}{}", q(force)),
                    None,
                )
                .await?;
            if g.json {
                return print_json(&r);
            }
            match r["deploymentId"].as_str() {
                Some(rollback) => {
                    println!("Deployment {id} cancelled; rolling back in deployment {rollback}")
                }
                None => println!("Deployment {id} stopped"),
            }
            Ok(())
        }
    }
}

pub async fn group(g: &Global, cmd: GroupCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        GroupCmd::Add { file, wait } => {
            write(
                &c,
                g,
                Method::POST,
                &format!("/v2/groups{}", q(wait.force)),
                Some(read_json(&file)?),
                &wait,
            )
            .await
        }
        GroupCmd::List => {
            let r = c.call(Method::GET, "/v2/groups", None).await?;
            if g.json {
                return print_json(&r);
            }
            let mut t = Table::new();
            t.load_style(NOTHING)
                .set_header(["ID", "APPS", "PODS", "GROUPS"]);
            let mut stack = vec![r];
            while let Some(gr) = stack.pop() {
                let n = |k: &str| gr[k].as_array().map(|a| a.len()).unwrap_or(0).to_string();
                t.add_row([
                    gr["id"].as_str().unwrap_or_default().to_string(),
                    n("apps"),
                    n("pods"),
                    n("groups"),
                ]);
                stack.extend(gr["groups"].as_array().into_iter().flatten().cloned());
            }
            println!("{t}");
            Ok(())
        }
        GroupCmd::Show { id } => print_json(
            &c.call(Method::GET, &format!("/v2/groups{}", abs(&id)), None)
                .await?,
        ),
        GroupCmd::Update { id, file, wait } => {
            write(
                &c,
                g,
                Method::PUT,
                &format!("/v2/groups{}{}", abs(&id), q(wait.force)),
                Some(read_json(&file)?),
                &wait,
            )
            .await
        }
        GroupCmd::Scale { id, factor, wait } => {
            write(
                &c,
                g,
                Method::PUT,
                &format!("/v2/groups{}{}", abs(&id), q(wait.force)),
                Some(json!({"scaleBy": factor})),
                &wait,
            )
            .await
        }
        GroupCmd::Remove { id, wait } => {
            write(
                &c,
                g,
                Method::DELETE,
                &format!("/v2/groups{}{}", abs(&id), q(wait.force)),
                None,
                &wait,
            )
            .await
        }
    }
}

pub async fn pod(g: &Global, cmd: PodCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        PodCmd::Add { file, wait } => {
            let body = read_json(&file)?;
            let r = c
                .call(
                    Method::POST,
                    &format!("/v2/pods{}", q(wait.force)),
                    Some(&body),
                )
                .await?;
            pod_wait(&c, g, &r, body["id"].as_str().unwrap_or_default(), &wait).await
        }
        PodCmd::List => {
            let r = c.call(Method::GET, "/v2/pods/::status", None).await?;
            if g.json {
                return print_json(&r);
            }
            let mut t = Table::new();
            t.load_style(NOTHING)
                .set_header(["ID", "STATUS", "INSTANCES", "CONTAINERS"]);
            for p in r.as_array().into_iter().flatten() {
                t.add_row([
                    p["id"].as_str().unwrap_or_default().to_string(),
                    p["status"].as_str().unwrap_or_default().to_string(),
                    p["instances"]
                        .as_array()
                        .map(|i| i.len())
                        .unwrap_or(0)
                        .to_string(),
                    p["spec"]["containers"]
                        .as_array()
                        .map(|c| c.len())
                        .unwrap_or(0)
                        .to_string(),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        PodCmd::Show { id } => print_json(
            &c.call(Method::GET, &format!("/v2/pods{}::status", abs(&id)), None)
                .await?,
        ),
        PodCmd::Update { id, file, wait } => {
            let r = c
                .call(
                    Method::PUT,
                    &format!("/v2/pods{}{}", abs(&id), q(wait.force)),
                    Some(&read_json(&file)?),
                )
                .await?;
            pod_wait(&c, g, &r, &abs(&id), &wait).await
        }
        PodCmd::Remove { id, wait } => {
            let r = c
                .call(
                    Method::DELETE,
                    &format!("/v2/pods{}{}", abs(&id), q(wait.force)),
                    None,
                )
                .await?;
            pod_wait(&c, g, &r, &abs(&id), &wait).await
        }
        PodCmd::Kill { id, instances } => {
            let r = c
                .call(
                    Method::DELETE,
                    &format!("/v2/pods{}::instances", abs(&id)),
                    Some(&json!(instances)),
                )
                .await?;
            print_json(&r)
        }
    }
}

/// Pod writes answer with the pod (or nothing); the deployment is found by affected pod.
async fn pod_wait(
    c: &Client,
    g: &Global,
    reply: &Value,
    pod: &str,
    wait: &WaitOpts,
) -> anyhow::Result<()> {
    let deps = c.call(Method::GET, "/v2/deployments", None).await?;
    let dep = deps
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| {
            d["affectedPods"]
                .as_array()
                .is_some_and(|p| p.iter().any(|x| x == pod))
        })
        .and_then(|d| d["id"].as_str().map(String::from));
    finish(c, g, reply, dep, wait).await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_changes_become_json() {
        let v = changes_to_json(&[
            "instances=3".into(),
            "cmd=sleep 10".into(),
            "labels={\"a\":\"b\"}".into(),
        ])
        .ok();
        assert_eq!(
            v,
            Some(json!({"instances": 3, "cmd": "sleep 10", "labels": {"a": "b"}}))
        );
        assert!(changes_to_json(&["nope".into()]).is_err());
    }

    #[test]
    fn progress_names_the_actions() {
        let d = json!({"currentStep": 1, "totalSteps": 2, "currentActions": [{"action": "ScaleApplication", "app": "/a"}]});
        assert_eq!(progress_line(&d), "[step 1/2] ScaleApplication /a");
    }

    #[test]
    fn the_queue_explains_waiting_apps_and_pods() {
        let reasons = json!({"rejectSummaryLastOffers": [
            {"reason": "insufficient cpus", "declined": 2, "processed": 2},
            {"reason": "UnfulfilledRole", "declined": 0, "processed": 2}]});
        let queue = json!({"queue": [
            {"app": {"id": "/a"}, "count": 1, "delay": {"timeLeftSeconds": 4, "overdue": false},
             "processedOffersSummary": {}},
            {"pod": {"id": "/p"}, "count": 2, "delay": {"timeLeftSeconds": 0, "overdue": true},
             "processedOffersSummary": reasons}]});
        let pod = json!({"affectedApps": [], "affectedPods": ["/p"]});
        assert_eq!(
            explain_queue(&queue, &pod).as_deref(),
            Some("/p waiting for 2 instance(s): 2 agent(s): insufficient cpus")
        );
        let app = json!({"affectedApps": ["/a"]});
        assert_eq!(
            explain_queue(&queue, &app).as_deref(),
            Some("/a backing off for 4 s")
        );
        assert_eq!(
            explain_queue(&queue, &json!({"affectedApps": ["/x"]})),
            None
        );
    }
}
