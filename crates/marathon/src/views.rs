//! Rendering state as Marathon JSON: AppInfo (with counts, deployments, tasks and
//! lastTaskFailure), tasks, deployments, queue items and groups, with exactly the keys
//! existing clients parse (marathon-python 0.13.0 rejects unknown ones).

use crate::events::render::{action_ref, step_ref};
use crate::instance::InstanceRecord;
use crate::state::{DeploymentRecord, PodRecord, QueueEntry, State};
use crate::task_json::TaskJson;
use crate::task_views::Views;
use keel_api::marathon::views::{
    AppExtras, AppInfoRef, Counts, CurrentActionRef, Delay, DeploymentView, LastFailureRef,
    OffersSummary, QueueItemRef, QueuedRef, Rejection,
};
use keel_api::marathon::{AppDefinition, DeploymentRef, PathId, format_ts};
use keel_deploy::{BackoffState, Goal};
use keel_master::TaskView;
use keel_model::TaskState;
use serde_json::Value;

/// Which extras an AppInfo carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Embed {
    pub tasks: bool,
    pub counts: bool,
    pub deployments: bool,
    pub last_task_failure: bool,
    pub readiness: bool,
    pub task_stats: bool,
}

impl Embed {
    /// Parses repeated `embed` values with any prefix (`app.`, `apps.`, `group.apps.`).
    pub fn parse<'a>(values: impl Iterator<Item = &'a str>) -> Embed {
        let mut e = Embed {
            counts: true,
            deployments: true,
            ..Embed::default()
        };
        for v in values.flat_map(|v| v.split(',')) {
            let name = v.trim().rsplit('.').next().unwrap_or("");
            match name {
                "tasks" => e.tasks = true,
                "counts" => e.counts = true,
                "deployments" => e.deployments = true,
                "lastTaskFailure" => e.last_task_failure = true,
                "failures" => {
                    e.tasks = true;
                    e.last_task_failure = true
                }
                "readiness" => e.readiness = true,
                "taskStats" => e.task_stats = true,
                _ => {}
            }
        }
        e
    }

    /// What `GET /v2/apps/{id}` always has.
    pub fn single() -> Embed {
        Embed {
            tasks: true,
            counts: true,
            deployments: true,
            last_task_failure: true,
            ..Embed::default()
        }
    }
}

fn ts(secs: f64) -> String {
    format_ts((secs * 1000.0) as i64)
}

fn active(t: Option<&TaskView>) -> bool {
    t.is_some_and(|t| !t.state.is_terminal())
}

/// One task in Marathon's shape.
pub fn task_json(rec: &InstanceRecord, t: Option<&TaskView>, app: Option<&AppDefinition>) -> Value {
    serde_json::to_value(crate::task_json::task_ref(rec, t, app)).unwrap_or(Value::Null)
}

/// The tasks of an app that are shown: every instance whose task is known and active.
pub fn app_tasks<'a>(
    st: &'a State,
    app: &'a PathId,
    tasks: &'a Views,
) -> impl Iterator<Item = (&'a InstanceRecord, Option<&'a TaskView>)> + 'a {
    st.instances_of(app)
        .map(move |r| (r, tasks.get(&r.task_id)))
        .filter(|(r, t)| active(*t) && !(r.goal != Goal::Running && t.is_none()))
}

/// AppInfo: the app plus the requested extras.
pub fn app_info<'a>(
    st: &'a State,
    app: &'a AppDefinition,
    tasks: &'a Views,
    e: Embed,
) -> AppInfoRef<'a, TaskJson<'a>> {
    AppInfoRef {
        app,
        extras: app_extras(st, app, tasks, e),
    }
}

/// Writes [`app_info`] to `out`, serializing straight to bytes: what a list of many apps
/// costs.
pub fn write_app_info(
    out: &mut Vec<u8>,
    st: &State,
    app: &AppDefinition,
    tasks: &Views,
    e: Embed,
) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, &app_info(st, app, tasks, e))
}

/// The keys [`app_info`] adds to the definition for `e`.
fn app_extras<'a>(
    st: &'a State,
    app: &'a AppDefinition,
    tasks: &'a Views,
    e: Embed,
) -> AppExtras<'a, TaskJson<'a>> {
    let mine: Vec<(&InstanceRecord, Option<&TaskView>)> = if e.counts || e.tasks {
        app_tasks(st, &app.id, tasks).collect()
    } else {
        Vec::new()
    };
    let count =
        |f: &dyn Fn(&TaskView) -> bool| mine.iter().filter(|(_, t)| t.is_some_and(f)).count();
    let counts = e.counts.then(|| Counts {
        tasks_staged: count(&|t| matches!(t.state, TaskState::Staging | TaskState::Starting)),
        tasks_running: count(&|t| t.state == TaskState::Running),
        tasks_healthy: count(&|t| t.state == TaskState::Running && t.healthy == Some(true)),
        tasks_unhealthy: count(&|t| t.healthy == Some(false)),
    });
    let deployments = (e.deployments || e.tasks).then(|| {
        st.locking(&app.id.to_string())
            .into_iter()
            .map(|id| DeploymentRef { id })
            .collect()
    });
    let tasks = e.tasks.then(|| {
        mine.iter()
            .map(|(r, t)| crate::task_json::task_ref(r, *t, Some(app)))
            .collect()
    });
    let last_task_failure = if e.last_task_failure {
        st.last_failure.get(&app.id).map(|f| LastFailureRef {
            app_id: app.id.to_string(),
            host: &f.host,
            message: &f.message,
            state: &f.state,
            task_id: &f.task_id,
            timestamp: ts(f.timestamp),
            version: &f.version,
            slave_id: &f.slave_id,
        })
    } else {
        None
    };
    AppExtras {
        counts,
        deployments,
        tasks,
        last_task_failure,
        readiness_check_results: e.readiness.then(Vec::new),
    }
}

/// One deployment in `/v2/deployments`.
pub fn deployment_json(d: &DeploymentRecord) -> DeploymentView<'_> {
    let p = &d.plan;
    let current_actions = p
        .steps
        .get(d.step)
        .map(|s| {
            s.actions
                .iter()
                .map(|a| CurrentActionRef {
                    action: action_ref(a),
                    readiness_check_results: Vec::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    DeploymentView {
        id: &p.id,
        version: &p.version,
        affected_apps: p.affected_apps(),
        affected_pods: p.affected_pods(),
        steps: p.steps.iter().map(step_ref).collect(),
        current_actions,
        current_step: (d.step + 1).min(p.steps.len().max(1)),
        total_steps: p.steps.len(),
    }
}

/// What a `/v2/queue` item is about.
#[derive(Debug, Clone, Copy)]
pub enum Queued<'a> {
    App(&'a AppDefinition),
    Pod(&'a PodRecord),
}

impl<'a> Queued<'a> {
    /// The run spec `id` of `st`, if it exists.
    pub fn find(st: &'a State, id: &PathId) -> Option<Queued<'a>> {
        st.apps
            .get(id)
            .map(Queued::App)
            .or_else(|| st.pods.get(id).map(Queued::Pod))
    }

    /// The item's `app` or `pod` (as in Marathon's `QueueApp`/`QueuePod`).
    fn entry(self) -> QueuedRef<'a> {
        match self {
            Queued::App(app) => QueuedRef::App(app),
            Queued::Pod(p) => QueuedRef::Pod(&p.pod),
        }
    }
}

/// One `/v2/queue` item: `app` or `pod`, `count`, `delay`, `since` and the reasons in
/// `processedOffersSummary` (no `role`, which marathon-python 0.13.0 rejects).
pub fn queue_json<'a>(
    spec: Queued<'a>,
    q: Option<&'a QueueEntry>,
    backoff: Option<&BackoffState>,
    waiting: u32,
    now: f64,
) -> QueueItemRef<'a> {
    let left = backoff.map(|b| b.time_left(now)).unwrap_or(0.0);
    let rejections: Vec<Rejection<'a>> = q
        .map(|q| {
            q.rejections
                .iter()
                .map(|(reason, n)| Rejection {
                    reason,
                    declined: *n,
                    processed: q.agents,
                })
                .collect()
        })
        .unwrap_or_default();
    let processed = q.map(|q| q.agents).unwrap_or(0);
    let declined: u32 = q.map(|q| q.rejections.values().sum()).unwrap_or(0);
    QueueItemRef {
        run_spec: spec.entry(),
        count: waiting,
        delay: Delay {
            time_left_seconds: left.ceil() as i64,
            overdue: left <= 0.0,
        },
        since: ts(q.map(|q| q.since).unwrap_or(now)),
        processed_offers_summary: OffersSummary {
            processed_offers_count: processed,
            unused_offers_count: declined.min(processed),
            reject_summary_last_offers: rejections,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::marathon::{Timestamp, parse_app_update};
    use keel_model::{AgentId, TaskId};
    use serde_json::{Map, json};

    /// The task as `task_json` built it before `TaskJson`: the reference for its bytes.
    fn task_value(
        rec: &InstanceRecord,
        t: Option<&TaskView>,
        app: Option<&AppDefinition>,
    ) -> Value {
        let state = t.map(|t| t.state).unwrap_or(TaskState::Staging);
        let mut o = Map::new();
        o.insert("id".into(), json!(rec.task_id));
        o.insert("appId".into(), json!(rec.run_spec.to_string()));
        o.insert("host".into(), json!(rec.hostname));
        o.insert("slaveId".into(), json!(rec.agent_id));
        o.insert("state".into(), json!(state.as_str()));
        o.insert("version".into(), json!(rec.version));
        o.insert(
            "role".into(),
            json!(app.map(|a| a.role.clone()).unwrap_or_else(|| "*".into())),
        );
        if active(t) {
            o.insert("stagedAt".into(), json!(ts(rec.staged_at)));
            if let Some(s) = t.and_then(|t| t.started_at) {
                o.insert("startedAt".into(), json!(ts(s)));
            }
            o.insert("ports".into(), json!(rec.ports));
        } else {
            o.insert("ports".into(), json!([]));
        }
        let mut service_ports: Vec<i64> = app.map(|a| a.service_ports()).unwrap_or_default();
        while service_ports.len() < rec.ports.len() {
            service_ports.push(0);
        }
        o.insert("servicePorts".into(), json!(service_ports));
        o.insert("ipAddresses".into(), json!(ip_addresses(t)));
        let health: Vec<Value> = match t.and_then(|t| t.healthy) {
            Some(alive) => vec![json!({
                "alive": alive,
                "consecutiveFailures": if alive { 0 } else { 1 },
                "taskId": rec.task_id,
                "instanceId": rec.id,
            })],
            None => Vec::new(),
        };
        o.insert("healthCheckResults".into(), json!(health));
        o.insert("localVolumes".into(), json!([]));
        Value::Object(o)
    }

    /// Marathon's `ipAddresses` for host networking: the agent's address.
    fn ip_addresses(t: Option<&TaskView>) -> Vec<Value> {
        match t.and_then(|t| t.agent_ip) {
            Some(ip) => vec![
                json!({"ipAddress": ip.to_string(), "protocol": if ip.is_ipv4() { "IPv4" } else { "IPv6" }}),
            ],
            None => Vec::new(),
        }
    }

    fn record(i: usize, app: &AppDefinition) -> InstanceRecord {
        InstanceRecord {
            id: format!("web.instance-{i}"),
            run_spec: app.id.clone(),
            version: app.version.to_string(),
            config_version: app.version.to_string(),
            incarnation: 1,
            task_id: TaskId::new(format!("web.instance-{i}._app.1")).unwrap(),
            goal: Goal::Running,
            agent_id: "agent-1".into(),
            hostname: "127.0.0.1".into(),
            ports: vec![31000 + i as u64, 32000],
            staged_at: 1_700_000_000.0,
            unreachable_since: None,
            inactive: false,
            tasks: Vec::new(),
        }
    }

    fn view(rec: &InstanceRecord, state: TaskState, healthy: Option<bool>) -> TaskView {
        TaskView {
            id: rec.task_id.clone(),
            name: "web".into(),
            framework: "marathon".into(),
            agent_id: AgentId::new("agent-1").unwrap(),
            hostname: "127.0.0.1".into(),
            agent_ip: "127.0.0.1".parse().ok(),
            container_ips: Vec::new(),
            state,
            reason: None,
            message: None,
            ports: rec.ports.clone(),
            staged_at: 1_700_000_000.0,
            started_at: (state == TaskState::Running).then_some(1_700_000_001.0),
            updated_at: 1_700_000_001.0,
            healthy,
        }
    }

    #[test]
    fn task_written_as_bytes_is_the_same_json_as_the_value() {
        let body = br#"{"id": "/web", "cmd": "serve", "role": "slave_public",
            "portDefinitions": [{"port": 10001}]}"#;
        let app = AppDefinition::create(parse_app_update(body).unwrap(), &PathId::root())
            .unwrap()
            .with_version(Timestamp::from_millis(1_700_000_000_000), None);
        let rec = record(0, &app);
        let mut v6 = view(&rec, TaskState::Running, Some(false));
        v6.agent_ip = "::1".parse().ok();
        let views = [
            Some(view(&rec, TaskState::Running, Some(true))),
            Some(v6),
            Some(view(&rec, TaskState::Staging, None)),
            Some(view(&rec, TaskState::Failed, Some(false))),
            None,
        ];
        for t in &views {
            for a in [Some(&app), None] {
                let bytes =
                    serde_json::to_vec(&crate::task_json::task_ref(&rec, t.as_ref(), a)).unwrap();
                let value = serde_json::to_vec(&task_value(&rec, t.as_ref(), a)).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&bytes),
                    String::from_utf8_lossy(&value),
                    "{t:?} {a:?}"
                );
            }
        }
    }

    #[test]
    fn app_info_written_as_bytes_is_the_same_json_as_the_value() {
        let body = br#"{"id": "/web", "cmd": "serve", "instances": 2, "labels": {"a": "b"}}"#;
        let app = AppDefinition::create(parse_app_update(body).unwrap(), &PathId::root())
            .unwrap()
            .with_version(Timestamp::from_millis(1_700_000_000_000), None);
        let mut st = State::default();
        let mut tasks = Views::new();
        for (i, state) in [TaskState::Running, TaskState::Staging]
            .into_iter()
            .enumerate()
        {
            let task_id = TaskId::new(format!("web.instance-{i}._app.1")).unwrap();
            let rec = InstanceRecord {
                id: format!("web.instance-{i}"),
                run_spec: app.id.clone(),
                version: app.version.to_string(),
                config_version: app.version.to_string(),
                incarnation: 1,
                task_id: task_id.clone(),
                goal: Goal::Running,
                agent_id: "agent-1".into(),
                hostname: "127.0.0.1".into(),
                ports: vec![31000 + i as u64],
                staged_at: 1_700_000_000.0,
                unreachable_since: None,
                inactive: false,
                tasks: Vec::new(),
            };
            let view = TaskView {
                started_at: Some(1_700_000_001.0),
                ..view(&rec, state, Some(true))
            };
            st.instances.insert(rec.id.clone(), rec);
            tasks.insert(task_id, view);
        }
        std::sync::Arc::make_mut(&mut st.apps).insert(app.id.clone(), app.clone());
        let all = Embed {
            tasks: true,
            counts: true,
            deployments: true,
            last_task_failure: true,
            readiness: true,
            task_stats: false,
        };
        for e in [Embed::default(), Embed::parse(std::iter::empty()), all] {
            let mut out = Vec::new();
            write_app_info(&mut out, &st, &app, &tasks, e).unwrap();
            let written: Value = serde_json::from_slice(&out).unwrap();
            let value = serde_json::to_value(app_info(&st, &app, &tasks, e)).unwrap();
            assert_eq!(written, value, "{e:?}");
        }
        let mut out = Vec::new();
        write_app_info(&mut out, &st, &app, &tasks, all).unwrap();
        let written: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(written["tasks"].as_array().map(Vec::len), Some(2));
        assert_eq!(written["tasksRunning"], 1);
    }
}
