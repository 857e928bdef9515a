//! Renders the master's state as Mesos's legacy JSON endpoints (`/master/state` and its
//! siblings) and `/metrics/snapshot`.

use crate::core::Core;
use crate::records::{AgentStatus, FrameworkRecord, TaskRecord};
use keel_api::mesos::{
    self, ContainerStatus, Framework, IdValue, Label, LeaderInfo, MasterState, MetricsSnapshot,
    RecoveredSlave, SUMMARY_STATES, Slave, StateSummary, Status, SummaryCounts, SummaryFramework,
    SummarySlave, Task, attributes_json, resources_summary,
};
use keel_model::{AgentId, TaskState};
use keel_resources::Resources;
use serde_json::Map;
use std::collections::BTreeMap;

/// Build facts shared by `/version` and state.
pub fn version() -> mesos::Version {
    mesos::Version {
        version: mesos::MESOS_VERSION.into(),
        build_date: "2026-11-24 00:00:00".into(),
        build_time: 1_795_478_400.0,
        build_user: "keel".into(),
        git_tag: Some(format!("keel-{}", env!("CARGO_PKG_VERSION"))),
    }
}

impl Core {
    fn pid(&self) -> String {
        format!("master@{}", self.config.advertise)
    }

    /// One legacy task object.
    pub(crate) fn task_json(&self, t: &TaskRecord) -> Task {
        // Mesos lists the statuses the task was sent; the master's own TASK_STAGING entry
        // is not one (its time is the task's launch).
        let statuses = t
            .statuses
            .iter()
            .filter(|s| s.state != TaskState::Staging)
            .map(|s| Status {
                state: s.state.to_string(),
                timestamp: s.timestamp,
                container_status: s.container_id.as_ref().map(|c| ContainerStatus {
                    container_id: IdValue {
                        value: c.to_string(),
                    },
                    network_infos: mesos::NetworkInfo::of(&s.container_ips),
                }),
                healthy: s.healthy,
                source: s
                    .source
                    .and_then(|v| serde_json::to_value(v).ok())
                    .and_then(|v| v.as_str().map(String::from)),
                reason: s
                    .reason
                    .and_then(|r| serde_json::to_value(r).ok())
                    .and_then(|v| v.as_str().map(String::from)),
            })
            .collect();
        let labels: Vec<Label> = t
            .spec
            .labels
            .iter()
            .map(|(k, v)| Label {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        Task {
            id: t.spec.id.to_string(),
            name: t.spec.name.clone(),
            framework_id: t.spec.framework_id.to_string(),
            executor_id: String::new(),
            slave_id: t.agent_id.to_string(),
            state: t.state.to_string(),
            resources: resources_summary(&t.spec.resources),
            role: t.spec.role.clone(),
            statuses,
            labels: (!labels.is_empty()).then_some(labels),
            container: t
                .spec
                .container
                .as_ref()
                .map(|c| mesos::container_info(c, &t.spec.host_ports())),
            discovery: t.spec.discovery.as_ref().map(mesos::DiscoveryInfo::from),
            reason: t
                .reason
                .and_then(|r| serde_json::to_value(r).ok())
                .and_then(|v| v.as_str().map(String::from)),
            message: t.message.clone(),
        }
    }

    /// Resources used by non-terminal tasks, per agent (one pass over the tasks).
    fn used_by_agent(&self) -> BTreeMap<&AgentId, Resources> {
        let mut used: BTreeMap<&AgentId, Resources> = BTreeMap::new();
        for t in self.tasks.values().filter(|t| !t.state.is_terminal()) {
            let u = used.entry(&t.agent_id).or_default();
            *u = u.add(&t.spec.resources);
        }
        used
    }

    /// Legacy agent objects (registered and unreachable ones are both listed, like Mesos
    /// lists deactivated agents; `active` tells them apart).
    pub(crate) fn slaves_json(&self, only: Option<&str>) -> Vec<Slave> {
        let used_by = self.used_by_agent();
        self.agents
            .values()
            .filter(|a| only.is_none_or(|id| a.rec.id.as_str() == id))
            .map(|a| {
                let used = used_by.get(&a.rec.id).cloned().unwrap_or_default();
                let unreserved = resources_summary(&a.rec.resources);
                let hostport = a
                    .rec
                    .endpoint
                    .trim_start_matches("http://")
                    .trim_start_matches("https://");
                let port = hostport
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(5051);
                let active = self.agent_active(&a.rec.id);
                Slave {
                    id: a.rec.id.to_string(),
                    hostname: a.rec.hostname.clone(),
                    port,
                    attributes: attributes_json(&a.rec.attributes),
                    pid: format!("slave(1)@{hostport}"),
                    registered_time: a.rec.registered_time,
                    reregistered_time: a.rec.reregistered_time,
                    resources: resources_summary(&a.rec.resources),
                    used_resources: resources_summary(&used),
                    offered_resources: resources_summary(&Resources::new()),
                    reserved_resources: Map::new(),
                    unreserved_resources: unreserved,
                    active,
                    deactivated: false,
                    version: a.rec.version.clone(),
                    capabilities: vec![
                        "MULTI_ROLE".into(),
                        "HIERARCHICAL_ROLE".into(),
                        "AGENT_DRAINING".into(),
                    ],
                }
            })
            .collect()
    }

    fn framework_json(&self, fw: &FrameworkRecord) -> Framework {
        let mut tasks = Vec::new();
        let mut unreachable = Vec::new();
        let mut completed = Vec::new();
        let mut used = Resources::new();
        for t in self.tasks.values().filter(|t| t.spec.framework_id == fw.id) {
            let j = self.task_json(t);
            match t.state {
                TaskState::Unreachable => unreachable.push(j),
                s if s.is_terminal() => completed.push(j),
                _ => {
                    used = used.add(&t.spec.resources);
                    tasks.push(j)
                }
            }
        }
        Framework {
            id: fw.id.to_string(),
            name: fw.name.clone(),
            used_resources: resources_summary(&used),
            offered_resources: resources_summary(&Resources::new()),
            resources: resources_summary(&used),
            capabilities: vec!["PARTITION_AWARE".into(), "TASK_KILLING_STATE".into()],
            hostname: self.config.hostname.clone(),
            webui_url: String::new(),
            active: true,
            connected: true,
            recovered: false,
            user: "root".into(),
            failover_timeout: 604800.0,
            checkpoint: true,
            registered_time: fw.registered_time,
            unregistered_time: 0.0,
            role: fw.role.clone(),
            tasks,
            unreachable_tasks: unreachable,
            completed_tasks: completed,
            offers: Vec::new(),
            executors: Vec::new(),
        }
    }

    /// `/master/frameworks`.
    pub(crate) fn frameworks_json(&self, only: Option<&str>) -> Vec<Framework> {
        self.frameworks
            .values()
            .filter(|f| only.is_none_or(|id| f.id.as_str() == id))
            .map(|f| self.framework_json(f))
            .collect()
    }

    /// `/master/state`.
    pub(crate) fn state_json(&self) -> MasterState {
        let v = version();
        let active = self
            .agents
            .keys()
            .filter(|id| self.agent_active(id))
            .count();
        let unreachable = self
            .agents
            .values()
            .filter(|a| a.rec.status == AgentStatus::Unreachable)
            .count();
        let recovered: Vec<RecoveredSlave> = self
            .agents
            .values()
            .filter(|a| a.recovered)
            .map(|a| RecoveredSlave {
                id: a.rec.id.to_string(),
                hostname: a.rec.hostname.clone(),
                attributes: attributes_json(&a.rec.attributes),
            })
            .collect();
        MasterState {
            version: v.version,
            build_date: v.build_date,
            build_time: v.build_time,
            build_user: v.build_user,
            start_time: self.start_time,
            elected_time: self.start_time,
            id: self.info.master_id.clone(),
            pid: self.pid(),
            hostname: self.config.hostname.clone(),
            capabilities: vec![
                "AGENT_UPDATE".into(),
                "AGENT_DRAINING".into(),
                "QUOTA_V2".into(),
            ],
            activated_slaves: active as f64,
            deactivated_slaves: (self.agents.len() - active - unreachable) as f64,
            unreachable_slaves: unreachable as f64,
            leader: self.pid(),
            leader_info: LeaderInfo {
                id: self.info.master_id.clone(),
                pid: self.pid(),
                port: self.config.advertise.port(),
                hostname: self.config.hostname.clone(),
            },
            cluster: self.config.cluster_name.clone(),
            flags: self.flags(),
            slaves: self.slaves_json(None),
            recovered_slaves: recovered,
            frameworks: self.frameworks_json(None),
            completed_frameworks: Vec::new(),
            orphan_tasks: Vec::new(),
            unregistered_frameworks: Vec::new(),
        }
    }

    /// The master's flags, as strings.
    pub(crate) fn flags(&self) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        f.insert(
            "agent_ping_timeout".into(),
            format!("{}secs", self.config.agent_timeout.as_secs_f64()),
        );
        f.insert("hostname".into(), self.config.hostname.clone());
        f.insert("port".into(), self.config.advertise.port().to_string());
        f.insert(
            "max_completed_tasks_per_framework".into(),
            self.config.max_completed_tasks.to_string(),
        );
        if let Some(c) = &self.config.cluster_name {
            f.insert("cluster".into(), c.clone());
        }
        f
    }

    /// `/master/tasks` with Mesos's paging and ordering.
    pub(crate) fn tasks_json(&self, q: &TaskQuery) -> Vec<Task> {
        let mut tasks: Vec<&TaskRecord> = self
            .tasks
            .values()
            .filter(|t| {
                q.framework_id
                    .as_deref()
                    .is_none_or(|f| t.spec.framework_id.as_str() == f)
            })
            .filter(|t| {
                q.task_id
                    .as_deref()
                    .is_none_or(|id| t.spec.id.as_str() == id)
            })
            .collect();
        tasks.sort_by(|a, b| a.last_timestamp().total_cmp(&b.last_timestamp()));
        if !q.ascending {
            tasks.reverse();
        }
        let limit = if q.limit < 0 {
            usize::MAX
        } else {
            q.limit as usize
        };
        tasks
            .into_iter()
            .skip(q.offset)
            .take(limit)
            .map(|t| self.task_json(t))
            .collect()
    }

    /// `/master/state-summary`.
    pub(crate) fn summary_json(&self) -> StateSummary {
        let count = |filter: &dyn Fn(&TaskRecord) -> bool| -> SummaryCounts {
            SUMMARY_STATES
                .iter()
                .map(|s| {
                    let n = self
                        .tasks
                        .values()
                        .filter(|t| filter(t) && t.state.as_str() == *s)
                        .count();
                    (*s, n)
                })
                .collect()
        };
        let slaves = self
            .slaves_json(None)
            .into_iter()
            .map(|slave| {
                let id = slave.id.clone();
                let framework_ids = self
                    .tasks
                    .values()
                    .filter(|t| t.agent_id.as_str() == id && !t.state.is_terminal())
                    .map(|t| t.spec.framework_id.to_string())
                    .collect();
                SummarySlave {
                    counts: count(&|t: &TaskRecord| t.agent_id.as_str() == id),
                    framework_ids,
                    slave,
                }
            })
            .collect();
        let frameworks = self
            .frameworks
            .values()
            .map(|f| {
                let fj = self.framework_json(f);
                let slave_ids = self
                    .tasks
                    .values()
                    .filter(|t| t.spec.framework_id == f.id && !t.state.is_terminal())
                    .map(|t| t.agent_id.to_string())
                    .collect();
                SummaryFramework {
                    id: fj.id,
                    name: fj.name,
                    pid: None,
                    used_resources: fj.used_resources,
                    offered_resources: fj.offered_resources,
                    capabilities: fj.capabilities,
                    hostname: fj.hostname,
                    webui_url: fj.webui_url,
                    active: fj.active,
                    connected: fj.connected,
                    recovered: fj.recovered,
                    counts: count(&|t: &TaskRecord| t.spec.framework_id == f.id),
                    slave_ids,
                }
            })
            .collect();
        StateSummary {
            hostname: self.config.hostname.clone(),
            cluster: self.config.cluster_name.clone(),
            slaves,
            frameworks,
        }
    }

    /// `/metrics/snapshot`: a flat object of numbers.
    pub(crate) fn metrics_json(&self) -> MetricsSnapshot {
        let mut m = MetricsSnapshot::new();
        let mut put = |k: &str, v: f64| {
            m.insert(k.into(), v);
        };
        put("master/elected", 1.0);
        put("master/uptime_secs", self.now() - self.start_time);
        let active = self
            .agents
            .keys()
            .filter(|id| self.agent_active(id))
            .count() as f64;
        let connected = self.io.conns.len() as f64;
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
            self.io.feed.missed() as f64,
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
}

/// Query of `/master/tasks`.
#[derive(Debug, Clone)]
pub struct TaskQuery {
    pub limit: i64,
    pub offset: usize,
    pub ascending: bool,
    pub framework_id: Option<String>,
    pub task_id: Option<String>,
}

#[cfg(test)]
#[path = "views_tests.rs"]
mod tests;
