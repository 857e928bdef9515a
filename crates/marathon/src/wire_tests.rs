//! Pins the typed response and event bodies to the JSON the service built with `json!`
//! before they existed: the old builders are kept here, test-only, as the reference.

use crate::instance::InstanceRecord;
use crate::state::{DeploymentRecord, QueueEntry, State};
use crate::task_views::Views;
use crate::views::{self, Embed, Queued, app_tasks, task_json};
use keel_api::marathon::{AppDefinition, PathId, Timestamp, format_ts, parse_app_update};
use keel_deploy::{BackoffState, Goal};
use keel_master::TaskView;
use keel_model::{AgentId, TaskId, TaskState, TaskStatus};
use serde_json::{Map, Value, json};

fn ts(secs: f64) -> String {
    format_ts((secs * 1000.0) as i64)
}

fn app_json(app: &AppDefinition) -> Value {
    serde_json::to_value(app).unwrap_or(Value::Null)
}

/// The event payloads as `json!` built them.
mod render {
    use crate::instance::InstanceRecord;
    use keel_api::marathon::format_ts;
    use keel_deploy::{DeploymentPlan, RootGroup, RunSpecKind};
    use keel_model::TaskStatus;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    /// An event ready for the bus: `(eventType, SSE frame)`.
    pub type Rendered = (String, String);

    fn ts(unix_secs: f64) -> String {
        format_ts((unix_secs * 1000.0) as i64)
    }

    /// Frames `payload` (an object) as `event: <type>\ndata: <json>\n\n`.
    pub fn frame(event_type: &str, now: f64, mut payload: Value) -> Rendered {
        if let Some(o) = payload.as_object_mut() {
            o.insert("eventType".into(), json!(event_type));
            o.insert("timestamp".into(), json!(ts(now)));
        }
        let data = serde_json::to_string(&payload).unwrap_or_default();
        (
            event_type.to_string(),
            format!("event: {event_type}\ndata: {data}\n\n"),
        )
    }

    /// `{action, app|pod}` of one action.
    pub fn action_json(a: &keel_deploy::Action) -> Value {
        let key = match a.kind.run_spec_kind() {
            RunSpecKind::App => "app",
            RunSpecKind::Pod => "pod",
        };
        json!({"action": a.kind.as_str(), key: a.run_spec})
    }

    /// The plan as events carry it: its steps, and as `original` and `target` the root
    /// group before and after with the run specs the plan touches, each in the group of
    /// its path (Marathon sends the whole root groups; the rest never changes here).
    pub fn plan_json(p: &DeploymentPlan) -> Value {
        let affected = p.affected();
        json!({
            "id": p.id,
            "version": p.version,
            "steps": p.steps.iter().map(|s| json!({"actions": s.actions.iter().map(action_json).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "original": group_json(&p.original, &affected, &p.version),
            "target": group_json(&p.target, &affected, &p.version),
        })
    }

    /// The parent group of an absolute id: `/a/b` -> `/a`, `/a` -> `/`.
    fn parent(id: &str) -> &str {
        match id.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &id[..i],
        }
    }

    /// The group `/` holding the run specs of `root` named in `ids`, nested by path, with
    /// the keys marathon-python 0.13.0 reads (`apps`, `groups`, `pods`, `dependencies`).
    pub fn group_json(root: &RootGroup, ids: &[String], version: &str) -> Value {
        let mut members: BTreeMap<String, (Vec<Value>, Vec<Value>)> = BTreeMap::new();
        members.entry("/".into()).or_default();
        for spec in ids.iter().filter_map(|id| root.get(id)) {
            let mut g = parent(&spec.id);
            let entry = members.entry(g.to_string()).or_default();
            match spec.kind {
                RunSpecKind::App => entry.0.push(json!({
                    "id": spec.id,
                    "instances": spec.instances,
                    "dependencies": spec.dependencies,
                    "version": spec.version,
                })),
                RunSpecKind::Pod => entry.1.push(json!({
                    "id": spec.id,
                    "scaling": {"kind": "fixed", "instances": spec.instances},
                    "version": spec.version,
                })),
            }
            while g != "/" {
                g = parent(g);
                members.entry(g.to_string()).or_default();
            }
        }
        render_group("/", &members, version)
    }

    fn render_group(
        id: &str,
        members: &BTreeMap<String, (Vec<Value>, Vec<Value>)>,
        version: &str,
    ) -> Value {
        let (apps, pods) = members.get(id).cloned().unwrap_or_default();
        let groups: Vec<Value> = members
            .keys()
            .filter(|g| g.as_str() != "/" && g.as_str() != id && parent(g) == id)
            .map(|g| render_group(g, members, version))
            .collect();
        json!({"id": id, "apps": apps, "groups": groups, "pods": pods, "dependencies": [], "version": version})
    }

    fn step_json(p: &DeploymentPlan, step: usize) -> Value {
        let actions: Vec<Value> = p
            .steps
            .get(step)
            .map(|s| s.actions.iter().map(action_json).collect())
            .unwrap_or_default();
        json!({"actions": actions})
    }

    pub fn deployment_info(p: &DeploymentPlan, step: usize, now: f64) -> Rendered {
        frame(
            "deployment_info",
            now,
            json!({"plan": plan_json(p), "currentStep": step_json(p, step)}),
        )
    }

    pub fn step_success(p: &DeploymentPlan, step: usize, now: f64) -> Rendered {
        frame(
            "deployment_step_success",
            now,
            json!({"plan": plan_json(p), "currentStep": step_json(p, step)}),
        )
    }

    pub fn deployment_success(p: &DeploymentPlan, now: f64) -> Rendered {
        frame(
            "deployment_success",
            now,
            json!({"id": p.id, "plan": plan_json(p)}),
        )
    }

    pub fn deployment_failed(p: &DeploymentPlan, reason: &str, now: f64) -> Rendered {
        frame(
            "deployment_failed",
            now,
            json!({"id": p.id, "plan": plan_json(p), "reason": reason}),
        )
    }

    /// Marathon's `status_update_event`; `ip` is the agent's address (host networking).
    pub fn status_update(
        rec: &InstanceRecord,
        s: &TaskStatus,
        ip: Option<std::net::IpAddr>,
        now: f64,
    ) -> Rendered {
        let ips = crate::task_json::ip_addresses(&crate::events::status_ips(s, ip));
        frame(
            "status_update_event",
            now,
            json!({
                "slaveId": rec.agent_id,
                "taskId": s.task_id,
                "taskStatus": s.state.as_str(),
                "message": s.message.clone().unwrap_or_default(),
                "appId": rec.run_spec.to_string(),
                "host": rec.hostname,
                "ipAddresses": ips,
                "ports": rec.ports,
                "version": rec.version,
            }),
        )
    }

    fn condition_name(s: &TaskStatus) -> &'static str {
        use keel_model::TaskState as S;
        match s.state {
            S::Staging => "Staging",
            S::Starting => "Starting",
            S::Running => "Running",
            S::Killing => "Killing",
            S::Finished => "Finished",
            S::Failed => "Failed",
            S::Killed => "Killed",
            S::Error => "Error",
            S::Lost | S::Gone | S::GoneByOperator => "Gone",
            S::Dropped => "Dropped",
            S::Unreachable => "Unreachable",
            S::Unknown => "Unknown",
        }
    }

    pub fn instance_changed(rec: &InstanceRecord, s: &TaskStatus, now: f64) -> Rendered {
        frame(
            "instance_changed_event",
            now,
            json!({
                "instanceId": rec.id,
                "condition": condition_name(s),
                "runSpecId": rec.run_spec.to_string(),
                "agentId": rec.agent_id,
                "host": rec.hostname,
                "runSpecVersion": rec.version,
            }),
        )
    }

    pub fn health_changed(rec: &InstanceRecord, s: &TaskStatus, now: f64) -> Rendered {
        frame(
            "health_status_changed_event",
            now,
            json!({"appId": rec.run_spec.to_string(), "instanceId": rec.id, "taskId": s.task_id, "version": rec.version, "alive": s.healthy.unwrap_or(false)}),
        )
    }

    pub fn api_post(uri: &str, app: &Value, now: f64) -> Rendered {
        frame(
            "api_post_event",
            now,
            json!({"clientIp": "127.0.0.1", "uri": uri, "appDefinition": app}),
        )
    }

    pub fn group_change_success(group: &str, version: &str, now: f64) -> Rendered {
        frame(
            "group_change_success",
            now,
            json!({"groupId": group, "version": version}),
        )
    }

    pub fn app_terminated(app: &str, now: f64) -> Rendered {
        frame("app_terminated_event", now, json!({"appId": app}))
    }

    pub fn attached(remote: &str, now: f64) -> Rendered {
        frame(
            "event_stream_attached",
            now,
            json!({"remoteAddress": remote}),
        )
    }
}

/// The views as `json!` built them.
mod old {
    use super::*;

    /// AppInfo: the app plus the requested extras.
    pub fn app_info(st: &State, app: &AppDefinition, tasks: &Views, e: Embed) -> Value {
        let mut v = app_json(app);
        if let Some(o) = v.as_object_mut() {
            o.extend(app_extras(st, app, tasks, e, true));
        }
        v
    }

    /// The keys [`app_info`] adds to the definition for `e`; `tasks` only if `with_tasks`.
    fn app_extras(
        st: &State,
        app: &AppDefinition,
        tasks: &Views,
        e: Embed,
        with_tasks: bool,
    ) -> Map<String, Value> {
        let mut o = Map::new();
        let mine: Vec<(&InstanceRecord, Option<&TaskView>)> = if e.counts || (e.tasks && with_tasks)
        {
            app_tasks(st, &app.id, tasks).collect()
        } else {
            Vec::new()
        };
        if e.counts {
            let count = |f: &dyn Fn(&TaskView) -> bool| {
                mine.iter().filter(|(_, t)| t.is_some_and(f)).count()
            };
            o.insert(
                "tasksStaged".into(),
                json!(count(&|t| matches!(
                    t.state,
                    TaskState::Staging | TaskState::Starting
                ))),
            );
            o.insert(
                "tasksRunning".into(),
                json!(count(&|t| t.state == TaskState::Running)),
            );
            o.insert(
                "tasksHealthy".into(),
                json!(count(
                    &|t| t.state == TaskState::Running && t.healthy == Some(true)
                )),
            );
            o.insert(
                "tasksUnhealthy".into(),
                json!(count(&|t| t.healthy == Some(false))),
            );
        }
        if e.deployments || e.tasks {
            let deps: Vec<Value> = st
                .locking(&app.id.to_string())
                .into_iter()
                .map(|id| json!({"id": id}))
                .collect();
            o.insert("deployments".into(), json!(deps));
        }
        if e.tasks && with_tasks {
            let ts: Vec<Value> = mine
                .iter()
                .map(|(r, t)| task_json(r, *t, Some(app)))
                .collect();
            o.insert("tasks".into(), json!(ts));
        }
        if e.last_task_failure
            && let Some(f) = st.last_failure.get(&app.id)
        {
            o.insert(
                "lastTaskFailure".into(),
                json!({"appId": app.id.to_string(), "host": f.host, "message": f.message, "state": f.state, "taskId": f.task_id, "timestamp": ts(f.timestamp), "version": f.version, "slaveId": f.slave_id}),
            );
        }
        if e.readiness {
            o.insert("readinessCheckResults".into(), json!([]));
        }
        o
    }

    /// One deployment in `/v2/deployments`.
    pub fn deployment_json(d: &DeploymentRecord) -> Value {
        let p = &d.plan;
        let current: Vec<Value> = p
            .steps
            .get(d.step)
            .map(|s| {
                s.actions
                    .iter()
                    .map(|a| {
                        let mut v = super::render::action_json(a);
                        if let Some(o) = v.as_object_mut() {
                            o.insert("readinessCheckResults".into(), json!([]));
                        }
                        v
                    })
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "id": p.id,
            "version": p.version,
            "affectedApps": p.affected_apps(),
            "affectedPods": p.affected_pods(),
            "steps": p.steps.iter().map(|s| json!({"actions": s.actions.iter().map(super::render::action_json).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "currentActions": current,
            "currentStep": (d.step + 1).min(p.steps.len().max(1)),
            "totalSteps": p.steps.len(),
        })
    }

    fn entry(spec: Queued<'_>) -> (&'static str, Value) {
        match spec {
            Queued::App(app) => ("app", app_json(app)),
            Queued::Pod(p) => ("pod", serde_json::to_value(&p.pod).unwrap_or(Value::Null)),
        }
    }

    /// One `/v2/queue` item: `app` or `pod`, `count`, `delay`, `since` and the reasons in
    /// `processedOffersSummary` (no `role`, which marathon-python 0.13.0 rejects).
    pub fn queue_json(
        spec: Queued<'_>,
        q: Option<&QueueEntry>,
        backoff: Option<&BackoffState>,
        waiting: u32,
        now: f64,
    ) -> Value {
        let left = backoff.map(|b| b.time_left(now)).unwrap_or(0.0);
        let rejections: Vec<Value> = q
            .map(|q| {
                q.rejections
                    .iter()
                    .map(|(reason, n)| json!({"reason": reason, "declined": n, "processed": q.agents}))
                    .collect()
            })
            .unwrap_or_default();
        let processed = q.map(|q| q.agents).unwrap_or(0);
        let declined: u32 = q.map(|q| q.rejections.values().sum()).unwrap_or(0);
        let (key, body) = entry(spec);
        let mut item = json!({
            "count": waiting,
            "delay": {"timeLeftSeconds": left.ceil() as i64, "overdue": left <= 0.0},
            "since": ts(q.map(|q| q.since).unwrap_or(now)),
            "processedOffersSummary": {
                "processedOffersCount": processed,
                "unusedOffersCount": declined.min(processed),
                "rejectSummaryLastOffers": rejections,
            },
        });
        item[key] = body;
        item
    }
}

fn app(body: &str) -> AppDefinition {
    AppDefinition::create(parse_app_update(body.as_bytes()).unwrap(), &PathId::root())
        .unwrap()
        .with_version(Timestamp::from_millis(1_700_000_000_000), None)
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
        started_at: Some(1_700_000_001.0),
        updated_at: 1_700_000_001.0,
        healthy,
    }
}

/// A plan over apps and pods in nested groups, with a pod, dependencies and two steps.
fn plan() -> keel_deploy::DeploymentPlan {
    use keel_deploy::{RootGroup, RunSpec};
    let mut db = RunSpec::app("/prod/db");
    db.instances = 2;
    let mut web = RunSpec::app("/prod/web/front");
    web.dependencies = vec!["/prod/db".into()];
    web.version = "2".into();
    let original = RootGroup::new([RunSpec::app("/old"), RunSpec::app("/prod/db")]);
    let target = RootGroup::new([db, web, RunSpec::pod("/p/pod"), RunSpec::app("/top")]);
    keel_deploy::plan(
        &original,
        &target,
        &Default::default(),
        "d-1".into(),
        "2023-11-14T22:13:20.000Z".into(),
    )
    .unwrap()
}

/// A state with an app of two instances (one running and healthy, one staging), a
/// deployment touching it, a last failure, and a queue entry with rejections.
fn state() -> (State, Views, AppDefinition) {
    let a = app(
        r#"{"id": "/web", "cmd": "serve", "instances": 2, "labels": {"a": "b"},
        "portDefinitions": [{"port": 10001}]}"#,
    );
    let mut st = State::default();
    let mut tasks = Views::new();
    for (i, (state, healthy)) in [
        (TaskState::Running, Some(true)),
        (TaskState::Staging, None),
        (TaskState::Running, Some(false)),
    ]
    .into_iter()
    .enumerate()
    {
        let rec = record(i, &a);
        tasks.insert(rec.task_id.clone(), view(&rec, state, healthy));
        st.instances.insert(rec.id.clone(), rec);
    }
    std::sync::Arc::make_mut(&mut st.apps).insert(a.id.clone(), a.clone());
    let mut p = plan();
    p.steps[0].actions[0].run_spec = "/web".into();
    st.deployments.push(DeploymentRecord {
        plan: p,
        step: 1,
        started_at: 0.0,
        automatic: false,
    });
    st.last_failure.insert(
        a.id.clone(),
        crate::state::LastFailure {
            task_id: "web.instance-9._app.1".into(),
            host: "127.0.0.1".into(),
            slave_id: "agent-1".into(),
            state: "TASK_FAILED".into(),
            message: "exit 1".into(),
            timestamp: 1_700_000_002.5,
            version: a.version.to_string(),
        },
    );
    (st, tasks, a)
}

fn embeds() -> Vec<Embed> {
    let all = Embed {
        tasks: true,
        counts: true,
        deployments: true,
        last_task_failure: true,
        readiness: true,
        task_stats: false,
    };
    let only_tasks = Embed {
        tasks: true,
        ..Embed::default()
    };
    vec![
        Embed::default(),
        Embed::parse(std::iter::empty()),
        Embed::single(),
        only_tasks,
        all,
    ]
}

#[test]
fn app_info_is_the_json_it_was() {
    let (st, tasks, a) = state();
    for e in embeds() {
        let new = serde_json::to_value(views::app_info(&st, &a, &tasks, e)).unwrap();
        assert_eq!(new, old::app_info(&st, &a, &tasks, e), "{e:?}");
        let mut out = Vec::new();
        views::write_app_info(&mut out, &st, &a, &tasks, e).unwrap();
        let written: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(written, new, "{e:?}");
    }
    let all = serde_json::to_value(views::app_info(&st, &a, &tasks, Embed::single())).unwrap();
    assert_eq!(all["tasksRunning"], 2);
    assert_eq!(all["tasksUnhealthy"], 1);
    assert_eq!(all["deployments"], json!([{"id": "d-1"}]));
    assert_eq!(
        all["lastTaskFailure"]["timestamp"],
        "2023-11-14T22:13:22.500Z"
    );
}

#[test]
fn deployments_are_the_json_they_were() {
    let (st, _, _) = state();
    let mut d = st.deployments[0].clone();
    for step in [0, 1, 5] {
        d.step = step;
        let new = serde_json::to_value(views::deployment_json(&d)).unwrap();
        assert_eq!(new, old::deployment_json(&d), "step {step}");
    }
    d.plan.steps.clear();
    d.step = 0;
    let new = serde_json::to_value(views::deployment_json(&d)).unwrap();
    assert_eq!(new, old::deployment_json(&d));
}

#[test]
fn queue_items_are_the_json_they_were() {
    let (mut st, _, a) = state();
    let pod: keel_api::marathon::Pod =
        serde_json::from_value(json!({"id": "/p", "containers": [{"name": "c"}]})).unwrap();
    let pod = crate::state::PodRecord::new(pod, Timestamp::from_millis(1000), None);
    std::sync::Arc::make_mut(&mut st.pods).insert(PathId::parse(&pod.pod.id).unwrap(), pod.clone());
    let q = QueueEntry {
        since: 1_700_000_003.0,
        waiting: 2,
        rejections: [
            ("InsufficientCpus".to_string(), 3),
            ("UnfulfilledRole".into(), 1),
        ]
        .into(),
        agents: 3,
        last_attempt: 1_700_000_004.0,
    };
    let b = BackoffState {
        delay: 4.0,
        next_launch_at: 1_700_000_010.0,
        last_failure_at: Some(1_700_000_006.0),
    };
    let now = 1_700_000_007.2;
    for spec in [Queued::App(&a), Queued::Pod(&pod)] {
        for (q, b) in [
            (Some(&q), Some(&b)),
            (None, Some(&b)),
            (Some(&q), None),
            (None, None),
        ] {
            let new = serde_json::to_value(views::queue_json(spec, q, b, 2, now)).unwrap();
            assert_eq!(new, old::queue_json(spec, q, b, 2, now), "{q:?} {b:?}");
        }
    }
}

fn same_frame(new: (String, String), old: (String, String)) {
    assert_eq!(new.0, old.0);
    let data = |f: &str| -> Value {
        let (head, rest) = f.split_once("\ndata: ").unwrap();
        assert_eq!(head, format!("event: {}", new.0));
        let json = rest.strip_suffix("\n\n").unwrap();
        assert!(!json.contains('\n'));
        serde_json::from_str(json).unwrap()
    };
    assert_eq!(data(&new.1), data(&old.1), "{}", new.0);
}

#[test]
fn events_are_the_json_they_were() {
    use crate::events::render as new;
    let p = plan();
    let now = 1_700_000_000.123;
    for step in [0, 1, 7] {
        same_frame(
            new::deployment_info(&p, step, now),
            render::deployment_info(&p, step, now),
        );
        same_frame(
            new::step_success(&p, step, now),
            render::step_success(&p, step, now),
        );
    }
    same_frame(
        new::deployment_success(&p, now),
        render::deployment_success(&p, now),
    );
    same_frame(
        new::deployment_failed(&p, "timed out", now),
        render::deployment_failed(&p, "timed out", now),
    );
    let a = app(r#"{"id": "/web", "cmd": "serve"}"#);
    let rec = record(0, &a);
    for (state, healthy, message) in [
        (TaskState::Running, Some(true), Some("up")),
        (TaskState::Failed, Some(false), None),
        (TaskState::Gone, None, None),
    ] {
        let s = TaskStatus {
            task_id: rec.task_id.clone(),
            state,
            source: keel_model::Source::SourceExecutor,
            reason: None,
            message: message.map(str::to_string),
            agent_id: None,
            container_id: None,
            timestamp: now,
            uuid: None,
            exit_code: None,
            healthy,
            container_ips: Vec::new(),
        };
        for ip in [None, "10.0.0.1".parse().ok(), "::1".parse().ok()] {
            same_frame(
                new::status_update(&rec, &s, ip, now),
                render::status_update(&rec, &s, ip, now),
            );
        }
        same_frame(
            new::instance_changed(&rec, &s, now),
            render::instance_changed(&rec, &s, now),
        );
        same_frame(
            new::health_changed(&rec, &s, now),
            render::health_changed(&rec, &s, now),
        );
    }
    same_frame(
        new::api_post("/v2/apps", &a, now),
        render::api_post("/v2/apps", &app_json(&a), now),
    );
    same_frame(
        new::group_change_success("/", "v1", now),
        render::group_change_success("/", "v1", now),
    );
    same_frame(
        new::app_terminated("/web", now),
        render::app_terminated("/web", now),
    );
    same_frame(
        new::attached("127.0.0.1", now),
        render::attached("127.0.0.1", now),
    );
    let pod = new::frame(
        "pod_created_event",
        now,
        keel_api::marathon::events::emitted::PodChange {
            client_ip: "127.0.0.1",
            uri: "/v2/pods",
        },
    );
    same_frame(
        pod,
        render::frame(
            "pod_created_event",
            now,
            json!({"clientIp": "127.0.0.1", "uri": "/v2/pods"}),
        ),
    );
}
