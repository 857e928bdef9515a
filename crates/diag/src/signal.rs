//! Signal (dcos-signal's telemetry), opt-in only: the three Segment "track" events DC/OS
//! would send (`health`, `package_list`, `mesos_track`), built from the cluster's health
//! report and state-summary and written to a file the operator reads. Keel sends them
//! nowhere.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The facts every event carries.
#[derive(Debug, Clone)]
pub struct SignalContext {
    pub cluster_id: String,
    pub dcos_version: String,
    pub platform: String,
    pub provider: String,
}

impl SignalContext {
    fn properties(&self) -> Map<String, Value> {
        let mut p = Map::new();
        for (k, v) in [
            ("source", "cluster"),
            ("customerKey", ""),
            ("environmentVersion", self.dcos_version.as_str()),
            ("clusterId", self.cluster_id.as_str()),
            ("licenseId", ""),
            ("variant", "open"),
            ("platform", self.platform.as_str()),
            ("provider", self.provider.as_str()),
        ] {
            p.insert(k.to_owned(), Value::String(v.to_owned()));
        }
        p
    }

    fn event(&self, name: &str, payload: Map<String, Value>) -> Value {
        let mut props = self.properties();
        props.extend(payload);
        json!({"anonymousId": self.cluster_id, "event": name, "properties": props})
    }
}

/// `health`: per unit, how many nodes run it and how many of those are unhealthy
/// (`health-unit-<unit>-total`, `-unhealthy`), from the diagnostics report's `Units`.
pub fn health_event(ctx: &SignalContext, report: &Value) -> Value {
    let mut p = Map::new();
    if let Some(units) = report["Units"].as_object() {
        for (id, u) in units {
            let nodes = u["Nodes"].as_array().cloned().unwrap_or_default();
            let bad = nodes
                .iter()
                .filter(|n| n["Health"].as_u64() != Some(0))
                .count();
            let key = id.trim_end_matches(".service");
            p.insert(format!("health-unit-{key}-total"), json!(nodes.len()));
            p.insert(format!("health-unit-{key}-unhealthy"), json!(bad));
        }
    }
    ctx.event("health", p)
}

/// `package_list`: the installed packages (none until Keel has a catalogue).
pub fn package_event(ctx: &SignalContext, packages: &[Value]) -> Value {
    let mut p = Map::new();
    p.insert("package_list".into(), Value::Array(packages.to_vec()));
    ctx.event("package_list", p)
}

/// `mesos_track`: agents, frameworks and resource totals and use, from a state-summary.
pub fn mesos_event(ctx: &SignalContext, summary: &Value) -> Value {
    let slaves = summary["slaves"].as_array().cloned().unwrap_or_default();
    let mut totals: BTreeMap<String, f64> = BTreeMap::new();
    for s in &slaves {
        for (res, field) in [("resources", "total"), ("used_resources", "used")] {
            for kind in ["cpus", "mem", "disk"] {
                let v = s[res][kind].as_f64().unwrap_or(0.0);
                *totals.entry(format!("{kind}_{field}")).or_default() += v;
            }
        }
    }
    let frameworks: Vec<Value> = summary["frameworks"]
        .as_array()
        .map(|f| f.iter().map(|f| json!({"name": f["name"]})).collect())
        .unwrap_or_default();
    let mut p = Map::new();
    p.insert(
        "agents_active".into(),
        json!(slaves.iter().filter(|s| s["active"] != false).count()),
    );
    p.insert("agents_connected".into(), json!(slaves.len()));
    p.insert("frameworks".into(), Value::Array(frameworks));
    for (k, v) in totals {
        p.insert(k, json!(v));
    }
    ctx.event("mesos_track", p)
}

/// The file's content: the events, and when they were made.
pub fn signal_report(ctx: &SignalContext, at: &str, report: &Value, summary: &Value) -> Value {
    json!({
        "generated_at": at,
        "sent": false,
        "note": "Keel never sends telemetry; this is what DC/OS's dcos-signal would have sent",
        "events": [health_event(ctx, report), package_event(ctx, &[]), mesos_event(ctx, summary)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> SignalContext {
        SignalContext {
            cluster_id: "c-1".into(),
            dcos_version: "1.11.0".into(),
            platform: "keel".into(),
            provider: "onprem".into(),
        }
    }

    #[test]
    fn health_counts_nodes_and_unhealthy_ones_per_unit() {
        let report = json!({"Units": {"dcos-mesos-slave.service": {"Nodes": [{"Health": 0}, {"Health": 1}]}}});
        let e = health_event(&ctx(), &report);
        assert_eq!(e["anonymousId"], "c-1");
        assert_eq!(e["event"], "health");
        assert_eq!(e["properties"]["health-unit-dcos-mesos-slave-total"], 2);
        assert_eq!(e["properties"]["health-unit-dcos-mesos-slave-unhealthy"], 1);
        assert_eq!(e["properties"]["clusterId"], "c-1");
        assert_eq!(e["properties"]["variant"], "open");
    }

    #[test]
    fn mesos_track_sums_agents_resources() {
        let summary = json!({"slaves": [
            {"active": true, "resources": {"cpus": 4.0, "mem": 1024.0, "disk": 10.0}, "used_resources": {"cpus": 1.0, "mem": 0.0, "disk": 0.0}},
            {"active": false, "resources": {"cpus": 2.0, "mem": 512.0, "disk": 5.0}, "used_resources": {}}],
            "frameworks": [{"name": "marathon"}]});
        let e = mesos_event(&ctx(), &summary);
        let p = &e["properties"];
        assert_eq!(
            (p["agents_active"].clone(), p["agents_connected"].clone()),
            (json!(1), json!(2))
        );
        assert_eq!(
            (
                p["cpus_total"].clone(),
                p["cpus_used"].clone(),
                p["mem_total"].clone()
            ),
            (json!(6.0), json!(1.0), json!(1536.0))
        );
        assert_eq!(p["frameworks"], json!([{"name": "marathon"}]));
    }

    #[test]
    fn the_report_holds_the_three_events_and_says_it_was_not_sent() {
        let r = signal_report(&ctx(), "now", &json!({}), &json!({}));
        let names: Vec<&str> = r["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["event"].as_str())
            .collect();
        assert_eq!(names, ["health", "package_list", "mesos_track"]);
        assert_eq!(r["sent"], false);
    }
}
