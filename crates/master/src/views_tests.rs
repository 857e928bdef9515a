//! Pins the master's typed views to the JSON it built with `json!` before them: the old
//! builders are kept here, test-only, as the reference.

use super::*;
use crate::MasterConfig;
use keel_api::internal::{LaunchRequest, RegisterAgent};
use keel_clock::{Clock, ManualClock};
use keel_model::{Source, TaskStatus};
use keel_resources::Attributes;
use keel_store::{MemStore, Store};
use serde_json::{Map, Value, json};
use std::sync::Arc;

impl Core {
    /// `/master/state-summary`.
    fn old_summary(&self) -> Value {
        let count = |filter: &dyn Fn(&TaskRecord) -> bool| -> Map<String, Value> {
            let mut m = Map::new();
            for s in SUMMARY_STATES {
                let n = self
                    .tasks
                    .values()
                    .filter(|t| filter(t) && t.state.as_str() == s)
                    .count();
                m.insert(s.into(), json!(n));
            }
            m
        };
        let slaves = self
            .slaves_json(None)
            .into_iter()
            .map(|s| {
                let mut v = serde_json::to_value(&s).unwrap_or_default();
                let id = s.id.clone();
                if let Some(obj) = v.as_object_mut() {
                    obj.extend(count(&|t: &TaskRecord| t.agent_id.as_str() == id));
                    let fws: std::collections::BTreeSet<String> = self
                        .tasks
                        .values()
                        .filter(|t| t.agent_id.as_str() == id && !t.state.is_terminal())
                        .map(|t| t.spec.framework_id.to_string())
                        .collect();
                    obj.insert("framework_ids".into(), json!(fws));
                }
                v
            })
            .collect();
        let frameworks = self
            .frameworks
            .values()
            .map(|f| {
                let mut m = Map::new();
                let fj = self.framework_json(f);
                m.insert("id".into(), json!(fj.id));
                m.insert("name".into(), json!(fj.name));
                m.insert("pid".into(), Value::Null);
                m.insert("used_resources".into(), fj.used_resources);
                m.insert("offered_resources".into(), fj.offered_resources);
                m.insert("capabilities".into(), json!(fj.capabilities));
                m.insert("hostname".into(), json!(fj.hostname));
                m.insert("webui_url".into(), json!(fj.webui_url));
                m.insert("active".into(), json!(fj.active));
                m.insert("connected".into(), json!(fj.connected));
                m.insert("recovered".into(), json!(fj.recovered));
                m.extend(count(&|t: &TaskRecord| t.spec.framework_id == f.id));
                let agents: std::collections::BTreeSet<String> = self
                    .tasks
                    .values()
                    .filter(|t| t.spec.framework_id == f.id && !t.state.is_terminal())
                    .map(|t| t.agent_id.to_string())
                    .collect();
                m.insert("slave_ids".into(), json!(agents));
                Value::Object(m)
            })
            .collect();
        let slaves: Vec<Value> = slaves;
        let frameworks: Vec<Value> = frameworks;
        let mut o =
            json!({"hostname": self.config.hostname, "slaves": slaves, "frameworks": frameworks});
        if let Some(c) = &self.config.cluster_name {
            o["cluster"] = json!(c);
        }
        o
    }

    fn old_recovered(&self) -> Vec<Value> {
        self.agents
            .values()
            .filter(|a| a.recovered)
            .map(|a| json!({"id": a.rec.id, "hostname": a.rec.hostname, "attributes": attributes_json(&a.rec.attributes)}))
            .collect()
    }
}

/// A master with two agents, tasks of two frameworks in several states, and (after a
/// restart) a recovered agent.
fn core(cluster: Option<&str>) -> (Core, Arc<dyn Store>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000.0));
    let store: Arc<dyn Store> = Arc::new(MemStore::new(clock.clone()));
    let mut config = MasterConfig::new("127.0.0.1:5050".parse().unwrap());
    config.cluster_name = cluster.map(str::to_string);
    let mut core = Core::open(store.clone(), clock.clone(), config).unwrap();
    let mut agents = Vec::new();
    for (host, attrs) in [("a", "rack:r1;zone:2"), ("b", "")] {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        std::mem::forget(rx);
        let req = RegisterAgent {
            agent_id: None,
            hostname: host.into(),
            endpoint: format!("http://{host}:1"),
            resources: Resources::parse("cpus:2;mem:1024;ports:[31000-31010]").unwrap(),
            attributes: Attributes::parse(attrs).unwrap(),
            version: "1.11.0".into(),
            tasks: Vec::new(),
        };
        agents.push(core.register(req, tx).unwrap().0);
    }
    let mut n = 0;
    for (fw, state) in [
        ("marathon", TaskState::Running),
        ("marathon", TaskState::Staging),
        ("metronome", TaskState::Finished),
        ("metronome", TaskState::Running),
        ("marathon", TaskState::Failed),
    ] {
        let req: LaunchRequest =
            serde_json::from_value(json!({"cmd": "x", "cpus": 0.5, "mem": 64})).unwrap();
        let launched = core.launch(req, fw).unwrap();
        if state != TaskState::Staging {
            n += 1;
            let agent = core.tasks[&launched.task_id].agent_id.clone();
            let status = TaskStatus {
                task_id: launched.task_id,
                state,
                source: Source::SourceExecutor,
                reason: None,
                message: None,
                agent_id: None,
                container_id: None,
                timestamp: clock.unix_secs(),
                uuid: Some(format!("u{n}")),
                exit_code: None,
                healthy: None,
                container_ips: Vec::new(),
            };
            core.status_update(&agent, status).unwrap();
        }
    }
    (core, store, clock)
}

#[test]
fn the_summary_is_the_json_it_was() {
    for cluster in [None, Some("c1")] {
        let (core, _, _) = core(cluster);
        let new = serde_json::to_value(core.summary_json()).unwrap();
        assert_eq!(new, core.old_summary());
        assert_eq!(new["frameworks"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            new["slaves"][0]["TASK_RUNNING"].as_u64().unwrap_or(0)
                + new["slaves"][1]["TASK_RUNNING"].as_u64().unwrap_or(0),
            2
        );
    }
}

#[test]
fn metrics_and_recovered_agents_are_the_json_they_were() {
    let (core, store, clock) = core(None);
    let snapshot = core.metrics_json();
    let new = serde_json::to_value(&snapshot).unwrap();
    // Each number as `json!` rendered it into the map before (NaN as null too).
    let old: Map<String, Value> = snapshot
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    assert_eq!(
        serde_json::to_string(&new).unwrap(),
        Value::Object(old).to_string()
    );
    assert_eq!(new["master/tasks_running"], 2.0);
    assert_eq!(new["master/slaves_active"], 2.0);
    let odd = MetricsSnapshot::from([
        ("a".into(), f64::NAN),
        ("b".into(), 1.0),
        ("c".into(), 0.25),
    ]);
    let old: Map<String, Value> = odd.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    assert_eq!(
        serde_json::to_string(&odd).unwrap(),
        Value::Object(old).to_string()
    );
    let config = core.config.clone();
    drop(core);
    let core = Core::open(store, clock, config).unwrap();
    let recovered = serde_json::to_value(core.state_json().recovered_slaves).unwrap();
    assert_eq!(recovered, Value::Array(core.old_recovered()));
    assert_eq!(recovered.as_array().map(Vec::len), Some(2));
}
