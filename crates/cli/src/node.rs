//! `keel node list`.

use crate::{Client, Global};
use comfy_table::{Table, presets::NOTHING};
use keel_api::mesos::Slaves;
use serde_json::Value;
use std::collections::BTreeMap;

/// Agent id -> hostname.
pub async fn hostnames(c: &Client) -> anyhow::Result<BTreeMap<String, String>> {
    let s: Slaves = c.get("/master/slaves").await?;
    Ok(s.slaves.into_iter().map(|a| (a.id, a.hostname)).collect())
}

pub async fn list(c: &Client, g: &Global) -> anyhow::Result<()> {
    let s: Slaves = c.get("/master/slaves").await?;
    if g.json {
        println!("{}", serde_json::to_string_pretty(&s.slaves)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_style(NOTHING).set_header([
        "ID",
        "HOSTNAME",
        "ADDRESS",
        "ACTIVE",
        "CPUS",
        "MEM",
        "ATTRIBUTES",
    ]);
    for a in &s.slaves {
        let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let attrs = a
            .attributes
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}:{}",
                            v.as_str()
                                .map(String::from)
                                .unwrap_or_else(|| v.to_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .unwrap_or_default();
        table.add_row([
            a.id.clone(),
            a.hostname.clone(),
            a.pid.trim_start_matches("slave(1)@").to_string(),
            a.active.to_string(),
            format!(
                "{}/{}",
                n(&a.used_resources, "cpus"),
                n(&a.resources, "cpus")
            ),
            format!("{}/{}", n(&a.used_resources, "mem"), n(&a.resources, "mem")),
            attrs,
        ]);
    }
    println!("{table}");
    Ok(())
}
