//! `keel history`: the cluster's recent past from the history service
//! (`/dcos-history-service/history/{last,minute,hour}`), one row per state-summary sample.

use crate::{Client, Global};
use clap::Args;
use comfy_table::{Table, presets::NOTHING};
use serde_json::Value;

/// `keel history` options.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The last hour, a sample a minute (default: the last minute, a sample every 2 s).
    #[arg(long, conflicts_with = "last")]
    hour: bool,
    /// Only the latest sample.
    #[arg(long)]
    last: bool,
}

/// The counters shown per sample.
const COLUMNS: [(&str, &str); 5] = [
    ("STAGING", "TASK_STAGING"),
    ("RUNNING", "TASK_RUNNING"),
    ("FINISHED", "TASK_FINISHED"),
    ("FAILED", "TASK_FAILED"),
    ("KILLED", "TASK_KILLED"),
];

/// Runs `keel history`.
pub async fn history(g: &Global, a: HistoryArgs) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    let (path, step) = match (a.last, a.hour) {
        (true, _) => ("last", 0),
        (_, true) => ("hour", 60),
        _ => ("minute", 2),
    };
    let v: Value = c
        .get(&format!("/dcos-history-service/history/{path}"))
        .await?;
    if g.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let samples = match v {
        Value::Array(a) => a,
        one => vec![one],
    };
    println!("{}", table(&samples, step));
    Ok(())
}

/// One row per sample, newest last, aged by the ring's `step` in seconds.
fn table(samples: &[Value], step: u64) -> Table {
    let mut t = Table::new();
    let mut header = vec!["AGE", "AGENTS", "FRAMEWORKS"];
    header.extend(COLUMNS.iter().map(|(h, _)| *h));
    t.load_style(NOTHING).set_header(header);
    let n = samples.len() as u64;
    for (i, s) in samples.iter().enumerate() {
        let age = (n - 1 - i as u64) * step;
        let count = |k: &str| {
            s["frameworks"]
                .as_array()
                .map(|f| f.iter().filter_map(|f| f[k].as_u64()).sum::<u64>())
                .unwrap_or(0)
        };
        let len = |k: &str| s[k].as_array().map_or(0, Vec::len);
        let mut row = vec![
            format!("-{age}s"),
            len("slaves").to_string(),
            len("frameworks").to_string(),
        ];
        row.extend(COLUMNS.iter().map(|(_, k)| count(k).to_string()));
        t.add_row(row);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_count_agents_frameworks_and_task_states_newest_last() {
        let old = json!({"slaves": [{}], "frameworks": [{"TASK_RUNNING": 1}]});
        let new = json!({"slaves": [{}, {}], "frameworks": [
            {"TASK_RUNNING": 2, "TASK_FAILED": 1}, {"TASK_RUNNING": 3}]});
        let out = table(&[old, new], 2).to_string();
        let rows: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows[0][..4], ["AGE", "AGENTS", "FRAMEWORKS", "STAGING"]);
        assert_eq!(rows[1], ["-2s", "1", "1", "0", "1", "0", "0", "0"]);
        assert_eq!(rows[2], ["-0s", "2", "2", "0", "5", "0", "1", "0"]);
    }
}
