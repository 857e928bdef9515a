//! `keel node list|log`.

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

/// `keel node log`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// The leading master's node (the default).
    #[arg(long, conflicts_with = "mesos_id")]
    leader: bool,
    /// An agent's node, by its Mesos id.
    #[arg(long)]
    mesos_id: Option<String>,
    /// Only this unit (`dcos-mesos-master`, `dcos-marathon`, `dcos-mesos-slave`, ...;
    /// `.service` is added when no suffix is given).
    #[arg(long)]
    component: Option<String>,
    /// Only entries whose field KEY is VALUE (`KEY:VALUE`, repeatable).
    #[arg(long, value_name = "KEY:VALUE")]
    filter: Vec<String>,
    /// Keep printing new entries.
    #[arg(long, short)]
    follow: bool,
    /// How many of the newest entries to print first.
    #[arg(long, short = 'n', default_value_t = 10)]
    lines: u64,
}

/// A unit name with its type suffix (`dcos-marathon` -> `dcos-marathon.service`).
pub fn unit_name(component: &str) -> String {
    const TYPES: &[&str] = &[
        ".service", ".socket", ".timer", ".target", ".mount", ".path", ".slice",
    ];
    if TYPES.iter().any(|t| component.ends_with(t)) {
        component.to_string()
    } else {
        format!("{component}.service")
    }
}

/// The component log's path (with its query) for `a`.
pub fn log_path(a: &LogArgs) -> anyhow::Result<String> {
    let mut path = match &a.mesos_id {
        Some(id) => format!(
            "/system/v1/agent/{}/logs/v2/component",
            crate::logs::encode(id)
        ),
        None => "/system/v1/leader/mesos/logs/v2/component".to_string(),
    };
    if let Some(c) = &a.component {
        path.push('/');
        path.push_str(&crate::logs::encode(&unit_name(c)));
    }
    path.push_str(&format!("?skip=-{}", a.lines));
    for f in &a.filter {
        if !f.contains(':') {
            anyhow::bail!("--filter {f:?}: expected KEY:VALUE");
        }
        path.push_str(&format!("&filter={}", crate::logs::encode(f)));
    }
    Ok(path)
}

pub async fn log(c: &Client, g: &Global, a: LogArgs) -> anyhow::Result<()> {
    let _ = a.leader;
    let path = log_path(&a)?;
    let style = if g.json {
        crate::logs::Style::Json
    } else {
        crate::logs::Style::Timed
    };
    if a.follow {
        crate::logs::follow(c, &path, style, || async { false }).await
    } else {
        crate::logs::range(c, &path, style).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_paths_follow_the_dcos_cli() {
        let a = LogArgs {
            leader: true,
            mesos_id: None,
            component: Some("dcos-marathon".into()),
            filter: vec!["KEEL_ROLE:marathon".into()],
            follow: false,
            lines: 5,
        };
        assert_eq!(
            log_path(&a).unwrap(),
            "/system/v1/leader/mesos/logs/v2/component/dcos-marathon.service?skip=-5&filter=KEEL_ROLE%3Amarathon"
        );
        let b = LogArgs {
            leader: false,
            mesos_id: Some("S0".into()),
            component: None,
            filter: vec!["bad".into()],
            follow: false,
            lines: 10,
        };
        assert!(log_path(&b).is_err());
        assert_eq!(unit_name("docker.socket"), "docker.socket");
    }
}
