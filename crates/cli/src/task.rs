//! `keel task run|list|log|kill`.

use crate::pick::{Pick, is_terminal, pick};
use crate::{Client, Global};
use anyhow::{anyhow, bail};
use clap::Args;
use comfy_table::{Table, presets::NOTHING};
use keel_api::internal::{KillRequest, LaunchRequest, LaunchResponse};
use keel_api::mesos::{Task, Tasks};
use keel_model::{
    Constraint, ConstraintOp, ContainerKind, ContainerSpec, DockerNetwork, DockerSpec, Volume,
    VolumeMode,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// CPU shares.
    #[arg(long, default_value_t = 0.1)]
    cpus: f64,
    /// Memory limit in MB.
    #[arg(long, default_value_t = 32.0)]
    mem: f64,
    /// Disk in MB.
    #[arg(long, default_value_t = 0.0)]
    disk: f64,
    /// Task name (the id is `<name>.<uuid>`).
    #[arg(long)]
    name: Option<String>,
    /// Host ports to assign (PORT0, PORT1, ...).
    #[arg(long, default_value_t = 0)]
    ports: u32,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Placement constraint FIELD:OPERATOR[:VALUE], e.g. rack:LIKE:r[12] (repeatable).
    #[arg(long = "constraint")]
    constraints: Vec<String>,
    /// Seconds between SIGTERM and SIGKILL when killed.
    #[arg(long)]
    grace: Option<f64>,
    /// Role to run under.
    #[arg(long, default_value = "*")]
    role: String,
    /// Run the arguments as one shell command (`sh -c`) instead of executing them directly.
    #[arg(long)]
    shell: bool,
    /// Wait until the task is running (or has ended).
    #[arg(long)]
    wait: bool,
    /// Run in a container from this image (Keel's own runtime unless --docker); without a
    /// command the image's entrypoint and cmd run.
    #[arg(long)]
    image: Option<String>,
    /// Run the image through the Docker Engine instead of Keel's own runtime.
    #[arg(long, requires = "image")]
    docker: bool,
    /// Pull the image even when it is cached.
    #[arg(long, requires = "image")]
    force_pull: bool,
    /// Volume HOST_PATH:CONTAINER_PATH[:ro|rw] (read-write by default; repeatable).
    #[arg(long = "volume", requires = "image")]
    volumes: Vec<String>,
    /// The command and its arguments.
    #[arg(last = true, required_unless_present = "image")]
    command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include finished tasks.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Task id, name or id prefix (a live task wins over finished ones).
    task: String,
    /// Keep printing new output until the task ends.
    #[arg(long, short)]
    follow: bool,
    /// Print stderr instead of stdout.
    #[arg(long)]
    stderr: bool,
    /// Only the last N lines (then new ones with --follow); default: the whole file.
    #[arg(long, short = 'n')]
    lines: Option<u64>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Task id, name or id prefix (a live task wins over finished ones).
    task: String,
    /// Seconds between SIGTERM and SIGKILL (default: the task's own).
    #[arg(long)]
    grace: Option<f64>,
}

/// Parses `field:OP[:value]`.
pub fn parse_constraint(s: &str) -> anyhow::Result<Constraint> {
    let mut parts = s.splitn(3, ':');
    let field = parts
        .next()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| anyhow!("constraint {s:?}: missing field"))?;
    let op = parts
        .next()
        .ok_or_else(|| anyhow!("constraint {s:?}: missing operator"))?;
    let op: ConstraintOp = serde_json::from_value(Value::String(op.to_uppercase()))
        .map_err(|_| anyhow!("constraint {s:?}: unknown operator {op:?} (UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS)"))?;
    Ok(Constraint {
        field: field.to_string(),
        op,
        value: parts.next().map(String::from),
    })
}

fn parse_env(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("--env {p:?} is not KEY=VALUE"))
        })
        .collect()
}

/// `--volume HOST:CONTAINER[:ro|rw]`.
fn parse_volume(s: &str) -> anyhow::Result<Volume> {
    let parts: Vec<&str> = s.split(':').collect();
    let (host, container, mode) = match parts.as_slice() {
        [h, c] => (h, c, VolumeMode::ReadWrite),
        [h, c, "ro"] => (h, c, VolumeMode::ReadOnly),
        [h, c, "rw"] => (h, c, VolumeMode::ReadWrite),
        _ => {
            return Err(anyhow!(
                "--volume {s:?} is not HOST_PATH:CONTAINER_PATH[:ro|rw]"
            ));
        }
    };
    if host.is_empty() || container.is_empty() {
        return Err(anyhow!("--volume {s:?} has an empty path"));
    }
    Ok(Volume {
        container_path: container.to_string(),
        host_path: host.to_string(),
        mode,
        image: None,
        group: None,
    })
}

fn container_of(a: &RunArgs) -> anyhow::Result<Option<ContainerSpec>> {
    let Some(image) = &a.image else {
        return Ok(None);
    };
    Ok(Some(ContainerSpec {
        kind: match a.docker {
            true => ContainerKind::Docker,
            false => ContainerKind::Mesos,
        },
        docker: Some(DockerSpec {
            image: image.clone(),
            network: DockerNetwork::Host,
            port_mappings: Vec::new(),
            parameters: Vec::new(),
            privileged: false,
            force_pull: a.force_pull,
        }),
        volumes: a
            .volumes
            .iter()
            .map(|v| parse_volume(v))
            .collect::<anyhow::Result<_>>()?,
    }))
}

pub async fn run(c: &Client, g: &Global, a: RunArgs) -> anyhow::Result<()> {
    let container = container_of(&a)?;
    let (cmd, args) = if a.command.is_empty() {
        (None, Vec::new())
    } else if a.shell || a.command.len() == 1 {
        (Some(a.command.join(" ")), Vec::new())
    } else {
        (None, a.command.clone())
    };
    let req = LaunchRequest {
        name: a.name,
        cmd,
        args,
        cpus: a.cpus,
        mem: a.mem,
        disk: a.disk,
        ports: a.ports,
        env: parse_env(&a.env)?,
        constraints: a
            .constraints
            .iter()
            .map(|s| parse_constraint(s))
            .collect::<anyhow::Result<_>>()?,
        role: a.role,
        kill_grace_secs: a.grace,
        labels: BTreeMap::new(),
        container,
    };
    let resp: LaunchResponse = c.post("/internal/v1/tasks", &req).await?;
    let mut state = "TASK_STAGING".to_string();
    if a.wait {
        state = wait_started(c, resp.task_id.as_str()).await?;
    }
    if g.json {
        println!(
            "{}",
            serde_json::json!({"task_id": resp.task_id, "agent_id": resp.agent_id, "state": state})
        );
    } else {
        println!("{}", resp.task_id);
    }
    Ok(())
}

async fn wait_started(c: &Client, id: &str) -> anyhow::Result<String> {
    loop {
        let t = by_id(c, id).await?;
        if t.state != "TASK_STAGING" && t.state != "TASK_STARTING" {
            return Ok(t.state);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn all_tasks(c: &Client) -> anyhow::Result<Vec<Task>> {
    Ok(c.get::<Tasks>("/master/tasks?limit=-1").await?.tasks)
}

/// The task `text` means (see [`crate::pick`]); says on stderr which one was chosen when
/// `text` is not its id.
pub async fn find(c: &Client, text: &str) -> anyhow::Result<Task> {
    let tasks = all_tasks(c).await?;
    let chosen = pick(&tasks, text);
    if let Some(note) = chosen.note(text) {
        eprintln!("keel: {note}");
    }
    match chosen {
        Pick::Exact(t) | Pick::Chosen { task: t, .. } => Ok(t.clone()),
        Pick::None => bail!("no task matches {text:?}"),
        Pick::Ambiguous(live) => bail!(
            "{text:?} matches {} live tasks; name one by its id:\n{}",
            live.len(),
            live.iter()
                .map(|t| format!("  {}  {}  {}", t.id, t.name, t.state))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// The current record of the task with id `id`.
async fn by_id(c: &Client, id: &str) -> anyhow::Result<Task> {
    all_tasks(c)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| anyhow!("task {id} is gone"))
}

pub async fn list(c: &Client, g: &Global, a: ListArgs) -> anyhow::Result<()> {
    let agents = crate::node::hostnames(c).await.unwrap_or_default();
    let mut tasks = all_tasks(c).await?;
    if !a.all {
        tasks.retain(|t| !is_terminal(&t.state));
    }
    if g.json {
        println!("{}", serde_json::to_string_pretty(&tasks)?);
        return Ok(());
    }
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_header(["ID", "NAME", "STATE", "HOST", "CPUS", "MEM"]);
    for t in &tasks {
        let host = agents
            .get(&t.slave_id)
            .cloned()
            .unwrap_or_else(|| t.slave_id.clone());
        let num = |k: &str| {
            t.resources
                .get(k)
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
                .to_string()
        };
        table.add_row([
            t.id.clone(),
            t.name.clone(),
            t.state.clone(),
            host,
            num("cpus"),
            num("mem"),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// `keel task log`: dcos-log v2 (through the master's discovery redirect), so a collected
/// sandbox's archived output reads the same; the whole file, or its last `--lines`.
pub async fn log(c: &Client, g: &Global, a: LogArgs) -> anyhow::Result<()> {
    let t = find(c, &a.task).await?;
    let file = if a.stderr { "stderr" } else { "stdout" };
    let query = match a.lines {
        Some(n) => format!("cursor=END&skip=-{n}"),
        None => "cursor=BEG".to_string(),
    };
    let path = format!(
        "/system/v1/logs/v2/task/{}/file/{file}?{query}",
        urlencode(&t.id)
    );
    let style = if g.json {
        crate::logs::Style::Json
    } else {
        crate::logs::Style::Raw
    };
    if !a.follow {
        return crate::logs::range(c, &path, style).await;
    }
    let id = t.id.clone();
    crate::logs::follow(c, &path, style, || {
        let (c, id) = (c.clone(), id.clone());
        async move {
            by_id(&c, &id)
                .await
                .map(|t| is_terminal(&t.state))
                .unwrap_or(true)
        }
    })
    .await
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn kill(c: &Client, g: &Global, a: KillArgs) -> anyhow::Result<()> {
    let t = find(c, &a.task).await?;
    let _: Value = c
        .post(
            &format!("/internal/v1/tasks/{}/kill", t.id),
            &KillRequest {
                grace_secs: a.grace,
            },
        )
        .await?;
    if g.json {
        println!("{}", serde_json::json!({"task_id": t.id, "killed": true}));
    } else {
        println!("Killing {}", t.id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_parse() {
        let c = parse_constraint("rack:like:r[12]")
            .map(|c| (c.field, c.op, c.value))
            .ok();
        assert_eq!(
            c,
            Some(("rack".into(), ConstraintOp::Like, Some("r[12]".into())))
        );
        let c = parse_constraint("hostname:UNIQUE")
            .map(|c| (c.op, c.value))
            .ok();
        assert_eq!(c, Some((ConstraintOp::Unique, None)));
        assert!(parse_constraint("rack").is_err());
        assert!(parse_constraint("rack:NEAR:x").is_err());
    }

    #[test]
    fn env_pairs() {
        assert_eq!(
            parse_env(&["A=b=c".into()])
                .ok()
                .and_then(|m| m.get("A").cloned()),
            Some("b=c".into())
        );
        assert!(parse_env(&["A".into()]).is_err());
    }
}
