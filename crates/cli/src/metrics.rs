//! `keel node metrics` (dcos-metrics' node messages, through the master) and `keel task top`
//! (live cpu and memory per task from the container messages, refreshed on an interval).

use crate::{Client, Global};
use anyhow::Context;
use comfy_table::{Table, presets::NOTHING};
use keel_api::mesos::{Slaves, Task, Tasks};
use keel_api::metrics::MetricsMessage;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

/// A dcos-metrics message, `None` on 204 (nothing to report).
async fn message(c: &Client, path: &str) -> anyhow::Result<Option<MetricsMessage>> {
    let url = format!("{}{path}", c.base);
    let resp = c
        .http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    if resp.status() == reqwest::StatusCode::NO_CONTENT {
        return Ok(None);
    }
    anyhow::ensure!(resp.status().is_success(), "{url}: {}", resp.status());
    Ok(Some(resp.json().await.with_context(|| {
        format!("{url}: not a metrics message")
    })?))
}

fn value(m: &MetricsMessage, name: &str, path: Option<&str>) -> f64 {
    m.datapoints
        .iter()
        .find(|d| d.name == name && path.is_none_or(|p| d.tags.get("path").is_some_and(|t| t == p)))
        .map_or(0.0, |d| d.value)
}

fn gib(bytes: f64) -> String {
    format!("{:.2} GiB", bytes / f64::from(1u32 << 30))
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part * 100.0 / whole
    } else {
        0.0
    }
}

/// `keel node metrics [AGENT]`: a summary line per agent, or every datapoint of one.
pub async fn node(c: &Client, g: &Global, agent: Option<String>) -> anyhow::Result<()> {
    let one = agent.is_some();
    let agents: Vec<(String, String)> = match agent {
        Some(a) => vec![(a.clone(), a)],
        None => {
            let s: Slaves = c.get("/master/slaves").await?;
            s.slaves.into_iter().map(|a| (a.id, a.hostname)).collect()
        }
    };
    let mut msgs = Vec::new();
    for (id, host) in &agents {
        let path = format!("/system/v1/agent/{id}/metrics/v0/node");
        let m = message(c, &path).await?.unwrap_or_default();
        msgs.push((id.clone(), host.clone(), m));
    }
    if g.json {
        let all: Vec<&MetricsMessage> = msgs.iter().map(|(_, _, m)| m).collect();
        match all.as_slice() {
            [m] if one => println!("{}", serde_json::to_string_pretty(m)?),
            _ => println!("{}", serde_json::to_string_pretty(&all)?),
        }
        return Ok(());
    }
    let mut table = Table::new();
    table.load_style(NOTHING);
    if let (true, [(_, _, m)]) = (one, msgs.as_slice()) {
        table.set_header(["NAME", "VALUE", "UNIT", "TAGS"]);
        for d in &m.datapoints {
            let tags: Vec<String> = d.tags.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            table.add_row([
                d.name.clone(),
                format!("{}", d.value),
                d.unit.clone(),
                tags.join(", "),
            ]);
        }
    } else {
        table.set_header(["ID", "HOSTNAME", "CPU", "LOAD", "MEM USED", "DISK / USED"]);
        for (id, host, m) in &msgs {
            let (mt, mf) = (
                value(m, "memory.total", None),
                value(m, "memory.free", None),
            );
            let dt = value(m, "filesystem.capacity.total", Some("/"));
            let du = value(m, "filesystem.capacity.used", Some("/"));
            table.add_row([
                id.clone(),
                host.clone(),
                format!(
                    "{:.1}% of {}",
                    value(m, "cpu.total", None),
                    value(m, "cpu.cores", None)
                ),
                format!("{:.2}", value(m, "load.1min", None)),
                format!("{} ({:.0}%)", gib(mt - mf), pct(mt - mf, mt)),
                format!("{} ({:.0}%)", gib(du), pct(du, dt)),
            ]);
        }
    }
    println!("{table}");
    Ok(())
}

/// One task's row of `keel task top`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopRow {
    pub id: String,
    pub name: String,
    /// Share of one cpu used over the last interval, in percent.
    pub cpu_percent: f64,
    pub cpus_limit: f64,
    pub mem_bytes: f64,
    pub mem_limit_bytes: f64,
}

/// The cpu seconds (user + system) a container message reports.
pub fn cpu_secs(m: &MetricsMessage) -> f64 {
    value(m, "cpus.user.time", None) + value(m, "cpus.system.time", None)
}

/// Rows from the cpu seconds of the previous round (`before`), this round's messages and
/// the seconds between the two, busiest first.
pub fn top_rows(
    before: &BTreeMap<String, f64>,
    now: &[(Task, MetricsMessage)],
    interval: f64,
) -> Vec<TopRow> {
    let mut rows: Vec<TopRow> = now
        .iter()
        .map(|(t, m)| {
            let used = before
                .get(&t.id)
                .map_or(0.0, |b| (cpu_secs(m) - b).max(0.0));
            TopRow {
                id: t.id.clone(),
                name: t.name.clone(),
                cpu_percent: if interval > 0.0 {
                    used * 100.0 / interval
                } else {
                    0.0
                },
                cpus_limit: value(m, "cpus.limit", None),
                mem_bytes: value(m, "mem.total", None),
                mem_limit_bytes: value(m, "mem.limit", None),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.cpu_percent
            .total_cmp(&a.cpu_percent)
            .then(a.id.cmp(&b.id))
    });
    rows
}

fn container_of(t: &Task) -> Option<String> {
    t.statuses
        .iter()
        .rev()
        .find_map(|s| s.container_status.as_ref())
        .map(|c| c.container_id.value.clone())
}

/// The running tasks with their container messages.
async fn sample(c: &Client) -> anyhow::Result<Vec<(Task, MetricsMessage)>> {
    let tasks = c.get::<Tasks>("/master/tasks?limit=-1").await?.tasks;
    let mut out = Vec::new();
    for t in tasks.into_iter().filter(|t| t.state == "TASK_RUNNING") {
        let Some(cid) = container_of(&t) else {
            continue;
        };
        let path = format!(
            "/system/v1/agent/{}/metrics/v0/containers/{cid}",
            t.slave_id
        );
        if let Ok(Some(m)) = message(c, &path).await {
            out.push((t, m));
        }
    }
    Ok(out)
}

fn mib(b: f64) -> String {
    format!("{:.1}", b / f64::from(1u32 << 20))
}

/// `keel task top`: every `interval`, the running tasks' cpu (share of a core over the
/// interval) and memory; `rounds` tables (0: until interrupted), one with `--json`.
pub async fn top(c: &Client, g: &Global, interval: Duration, rounds: u32) -> anyhow::Result<()> {
    let mut before: BTreeMap<String, f64> = sample(c)
        .await?
        .iter()
        .map(|(t, m)| (t.id.clone(), cpu_secs(m)))
        .collect();
    let mut started = keel_clock::monotonic();
    let rounds = if g.json { 1 } else { rounds };
    let clear = std::io::stdout().is_terminal();
    let mut done = 0;
    loop {
        tokio::time::sleep(interval).await;
        let now = sample(c).await?;
        let elapsed = started.elapsed().as_secs_f64();
        started = keel_clock::monotonic();
        let rows = top_rows(&before, &now, elapsed);
        before = now
            .iter()
            .map(|(t, m)| (t.id.clone(), cpu_secs(m)))
            .collect();
        if g.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else {
            let mut table = Table::new();
            table.load_style(NOTHING).set_header([
                "ID",
                "NAME",
                "CPU %",
                "CPUS",
                "MEM MiB",
                "MEM LIMIT MiB",
            ]);
            for r in &rows {
                table.add_row([
                    r.id.clone(),
                    r.name.clone(),
                    format!("{:.1}", r.cpu_percent),
                    format!("{}", r.cpus_limit),
                    mib(r.mem_bytes),
                    mib(r.mem_limit_bytes),
                ]);
            }
            if clear {
                print!("\x1b[H\x1b[2J");
            }
            println!("{table}");
        }
        done += 1;
        if rounds != 0 && done >= rounds {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::metrics::Datapoint;

    fn task(id: &str) -> Task {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "framework_id": "f", "executor_id": "", "slave_id": "a",
            "state": "TASK_RUNNING", "resources": {}, "role": "*", "statuses": []
        }))
        .unwrap()
    }

    fn msg(user: f64, mem: f64) -> MetricsMessage {
        let p = |name: &str, value: f64| Datapoint {
            name: name.into(),
            value,
            unit: String::new(),
            timestamp: String::new(),
            tags: BTreeMap::new(),
        };
        MetricsMessage {
            datapoints: vec![
                p("cpus.user.time", user),
                p("cpus.system.time", 0.5),
                p("mem.total", mem),
            ],
            dimensions: Default::default(),
        }
    }

    #[test]
    fn cpu_share_over_the_interval_busiest_first() {
        let before: BTreeMap<String, f64> =
            [("a".to_string(), 1.5), ("b".to_string(), 10.5)].into();
        let now = vec![
            (task("a"), msg(2.0, 5.0)),
            (task("b"), msg(11.0, 7.0)),
            (task("new"), msg(3.0, 1.0)),
        ];
        let rows = top_rows(&before, &now, 2.0);
        let got: Vec<(&str, f64, f64)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.cpu_percent, r.mem_bytes))
            .collect();
        assert_eq!(got, [("a", 50.0, 5.0), ("b", 50.0, 7.0), ("new", 0.0, 1.0)]);
        let faster = top_rows(&before, &now, 1.0);
        assert_eq!(faster[0].cpu_percent, 100.0);
    }
}
