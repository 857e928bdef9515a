//! `keel vip list` (every VIP with its backends, their health, and the VIP labels that
//! could not be used), and the VIPs of one app for `keel app show`.

use crate::{Client, Global};
use comfy_table::{Table, presets::NOTHING};
use keel_api::vips::{VipProblem, VipTable};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub async fn list(c: &Client, g: &Global) -> anyhow::Result<()> {
    let t: VipTable = c.get("/internal/v1/vips").await?;
    if g.json {
        println!("{}", serde_json::to_string_pretty(&t)?);
        return Ok(());
    }
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_header(["VIP", "ADDRESS", "PROTOCOL", "NAME", "BACKENDS"]);
    for v in &t.vips {
        let backends = v
            .backends
            .iter()
            .map(|b| {
                let health = if b.healthy { "healthy" } else { "unhealthy" };
                format!("{}:{} ({health}, {})", b.ip, b.port, b.task_id)
            })
            .collect::<Vec<_>>()
            .join("\n");
        table.add_row([
            format!("{}:{}", v.label, v.port),
            format!("{}:{}", v.ip, v.port),
            v.protocol.clone(),
            v.dns_name.clone(),
            backends,
        ]);
    }
    println!("{table}");
    if !t.problems.is_empty() {
        println!("\nPROBLEMS");
        for p in &t.problems {
            println!("{}", problem_line(p));
        }
    }
    Ok(())
}

fn problem_line(p: &VipProblem) -> String {
    format!("{} {}={}: {}", p.task_id, p.key, p.value, p.message)
}

/// The VIPs and VIP problems of the tasks `task_ids` (an app's), as JSON for `app show`.
pub async fn of_tasks(c: &Client, task_ids: &BTreeSet<String>) -> anyhow::Result<Value> {
    let t: VipTable = c.get("/internal/v1/vips").await?;
    let vips: Vec<Value> = t
        .vips
        .iter()
        .filter(|v| v.backends.iter().any(|b| task_ids.contains(&b.task_id)))
        .map(|v| {
            json!({
                "vip": format!("{}:{}", v.label, v.port),
                "address": format!("{}:{}", v.ip, v.port),
                "protocol": v.protocol,
                "dnsName": v.dns_name,
                "backends": v.backends.iter().map(|b| json!({
                    "taskId": b.task_id, "address": format!("{}:{}", b.ip, b.port),
                    "healthy": b.healthy,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut problems: Vec<String> = t
        .problems
        .iter()
        .filter(|p| task_ids.contains(&p.task_id))
        .map(problem_line)
        .collect();
    problems.dedup();
    Ok(json!({"vips": vips, "vipProblems": problems}))
}
