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

    /// `/metrics/snapshot`: a flat object of numbers.
    fn old_metrics(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |k: &str, v: f64| {
            m.insert(k.into(), json!(v));
        };
        put("master/elected", 1.0);
        put("master/uptime_secs", self.now() - self.start_time);
        let active = self
            .agents
            .keys()
            .filter(|id| self.agent_active(id))
            .count() as f64;
        let connected = self.agents.values().filter(|a| a.conn.is_some()).count() as f64;
        let unreachable = self
            .agents
            .values()
            .filter(|a| a.rec.status == AgentStatus::Unreachable)
            .count() as f64;
        let total = self.agents.len() as f64;
        put("master/slaves_active", active);
        put("master/slaves_inactive", total - active);
        put("master/slaves_connected", connected);
        put("master/slaves_disconnected", total - connected);
        put("master/slaves_unreachable", unreachable);
        put(
            "master/slave_registrations",
            self.counters.slave_registrations as f64,
        );
        put(
            "master/slave_reregistrations",
            self.counters.slave_reregistrations as f64,
        );
        put("master/frameworks_active", self.frameworks.len() as f64);
        put("master/frameworks_connected", self.frameworks.len() as f64);
        put("master/frameworks_inactive", 0.0);
        put("master/frameworks_disconnected", 0.0);
        put(
            "master/valid_status_updates",
            self.counters.valid_status_updates as f64,
        );
        put(
            "master/invalid_status_updates",
            self.counters.invalid_status_updates as f64,
        );
        // Keel: statuses the schedulers beside the master (Marathon, Metronome) lost
        // because they fell more than the status feed's capacity behind.
        put(
            "keel/internal_status_updates_missed",
            self.feed.missed() as f64,
        );
        for (state, key) in [
            (TaskState::Staging, "master/tasks_staging"),
            (TaskState::Starting, "master/tasks_starting"),
            (TaskState::Running, "master/tasks_running"),
            (TaskState::Killing, "master/tasks_killing"),
            (TaskState::Unreachable, "master/tasks_unreachable"),
        ] {
            put(
                key,
                self.tasks.values().filter(|t| t.state == state).count() as f64,
            );
        }
        for (state, key) in [
            ("TASK_FINISHED", "master/tasks_finished"),
            ("TASK_FAILED", "master/tasks_failed"),
            ("TASK_KILLED", "master/tasks_killed"),
            ("TASK_LOST", "master/tasks_lost"),
            ("TASK_ERROR", "master/tasks_error"),
            ("TASK_DROPPED", "master/tasks_dropped"),
            ("TASK_GONE", "master/tasks_gone"),
            ("TASK_GONE_BY_OPERATOR", "master/tasks_gone_by_operator"),
        ] {
            put(
                key,
                self.counters.terminal.get(state).copied().unwrap_or(0) as f64,
            );
        }
        let mut total_r = Resources::new();
        let mut used_r = Resources::new();
        let used_by = self.used_by_agent();
        for a in self
            .agents
            .values()
            .filter(|a| self.agent_active(&a.rec.id))
        {
            total_r = total_r.add(&a.rec.resources);
            if let Some(u) = used_by.get(&a.rec.id) {
                used_r = used_r.add(u);
            }
        }
        for name in ["cpus", "gpus", "mem", "disk"] {
            let (t, u) = (total_r.scalar(name), used_r.scalar(name));
            put(&format!("master/{name}_total"), t);
            put(&format!("master/{name}_used"), u);
            put(
                &format!("master/{name}_percent"),
                if t > 0.0 { u / t } else { 0.0 },
            );
        }
        m
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
    let new = serde_json::to_value(core.metrics_json()).unwrap();
    assert_eq!(new, Value::Object(core.old_metrics()));
    assert_eq!(new["master/tasks_running"], 2.0);
    let config = core.config.clone();
    drop(core);
    let core = Core::open(store, clock, config).unwrap();
    let recovered = serde_json::to_value(core.state_json().recovered_slaves).unwrap();
    assert_eq!(recovered, Value::Array(core.old_recovered()));
    assert_eq!(recovered.as_array().map(Vec::len), Some(2));
}
