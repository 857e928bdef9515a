//! Unit tests of the master's state machine against an in-memory store and a manual clock:
//! registration, launch, the status-update state machine, unreachable agents, restart.

use crate::{Core, MasterConfig, MasterError};
use keel_api::internal::{AgentTask, LaunchRequest, MasterEvent, RegisterAgent};
use keel_clock::{Clock, ManualClock};
use keel_model::{AgentId, HostPort, Source, TaskId, TaskState, TaskStatus};
use keel_resources::{Attributes, Resources};
use keel_store::{MemStore, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

struct Harness {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    core: Core,
}

fn config() -> MasterConfig {
    let mut c = MasterConfig::new("127.0.0.1:5050".parse().unwrap());
    c.agent_timeout = Duration::from_secs(10);
    c
}

impl Harness {
    fn new() -> Self {
        let clock = Arc::new(ManualClock::new(1_000.0));
        let store: Arc<dyn Store> = Arc::new(MemStore::new(clock.clone()));
        let core = Core::open(store.clone(), clock.clone(), config()).unwrap();
        Harness { store, clock, core }
    }

    fn restart(self) -> Self {
        let core = Core::open(self.store.clone(), self.clock.clone(), config()).unwrap();
        Harness { core, ..self }
    }

    fn register(
        &mut self,
        id: Option<AgentId>,
        endpoint: &str,
        attrs: &str,
        tasks: Vec<AgentTask>,
    ) -> (AgentId, mpsc::UnboundedReceiver<MasterEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let req = RegisterAgent {
            agent_id: id,
            hostname: "h".into(),
            endpoint: endpoint.into(),
            resources: Resources::parse("cpus:2;mem:1024;ports:[31000-31010]").unwrap(),
            attributes: Attributes::parse(attrs).unwrap(),
            version: "1.11.0".into(),
            tasks,
        };
        let (id, _) = self.core.register(req, tx).unwrap();
        (id, rx)
    }

    fn launch(&mut self, cmd: &str) -> TaskId {
        let req: LaunchRequest =
            serde_json::from_value(serde_json::json!({"cmd": cmd, "cpus": 0.5, "mem": 64}))
                .unwrap();
        self.core.launch(req, "keel").unwrap().task_id
    }

    fn status(&self, task: &TaskId, state: TaskState, uuid: &str) -> TaskStatus {
        TaskStatus {
            task_id: task.clone(),
            state,
            source: Source::SourceExecutor,
            reason: None,
            message: None,
            agent_id: None,
            container_id: None,
            timestamp: self.clock.unix_secs(),
            uuid: Some(uuid.into()),
            exit_code: None,
            healthy: None,
            container_ips: Vec::new(),
        }
    }

    fn state(&self, task: &TaskId) -> TaskState {
        self.core.tasks[task].state
    }

    fn history(&self, task: &TaskId) -> Vec<&'static str> {
        self.core.tasks[task]
            .statuses
            .iter()
            .map(|s| s.state.as_str())
            .collect()
    }
}

fn events(rx: &mut mpsc::UnboundedReceiver<MasterEvent>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        out.push(match ev {
            MasterEvent::Registered { .. } => "registered".to_string(),
            MasterEvent::Launch { task, .. } => format!("launch {}", task.name),
            MasterEvent::Kill { grace_secs, .. } => format!("kill {grace_secs}"),
            MasterEvent::Heartbeat => "heartbeat".into(),
            MasterEvent::Error { message } => format!("error {message}"),
        });
    }
    out
}

#[test]
fn status_updates_follow_the_state_machine() {
    let mut h = Harness::new();
    let (agent, mut rx) = h.register(None, "http://a:1", "", vec![]);
    let t = h.launch("sleep 1");
    assert_eq!(events(&mut rx), ["registered", "launch task"]);
    assert_eq!(h.state(&t), TaskState::Staging);

    for (state, uuid) in [
        (TaskState::Starting, "u1"),
        (TaskState::Running, "u2"),
        (TaskState::Running, "u2"),
    ] {
        let st = h.status(&t, state, uuid);
        h.core.status_update(&agent, st).unwrap();
    }
    assert_eq!(
        h.history(&t),
        ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"]
    );
    let finished = h.status(&t, TaskState::Finished, "u3");
    h.core.status_update(&agent, finished).unwrap();
    // A terminal state never changes, and a retried update is acknowledged without effect.
    let late = h.status(&t, TaskState::Running, "u4");
    h.core.status_update(&agent, late).unwrap();
    let dup = h.status(&t, TaskState::Finished, "u3");
    h.core.status_update(&agent, dup).unwrap();
    assert_eq!(h.state(&t), TaskState::Finished);
    assert_eq!(
        h.history(&t),
        [
            "TASK_STAGING",
            "TASK_STARTING",
            "TASK_RUNNING",
            "TASK_FINISHED"
        ]
    );
    // Resources came back: the same task fits again four times (2 cpus / 0.5).
    for _ in 0..4 {
        h.launch("x");
    }
    assert!(matches!(
        h.core.launch(
            serde_json::from_value(serde_json::json!({"cmd": "x", "cpus": 0.5})).unwrap(),
            "keel"
        ),
        Err(MasterError::Unplaceable { .. })
    ));
}

#[test]
fn a_group_commit_records_every_agents_batch_once() {
    let mut h = Harness::new();
    let (a1, _rx1) = h.register(None, "http://a:1", "", vec![]);
    let (a2, _rx2) = h.register(None, "http://b:1", "", vec![]);
    let tasks: Vec<TaskId> = (0..4).map(|_| h.launch("sleep 1")).collect();
    let mut batches: Vec<(AgentId, Vec<TaskStatus>)> = vec![(a1.clone(), vec![]), (a2, vec![])];
    for (i, t) in tasks.iter().enumerate() {
        let slot = usize::from(h.core.tasks[t].agent_id != a1);
        let running = h.status(t, TaskState::Running, &format!("u{i}"));
        batches[slot].1.push(running.clone());
        // The same update sent again in the same group counts once.
        batches[slot].1.push(running);
    }
    let ghost = AgentId::new("ghost-S9").unwrap();
    batches.push((ghost, vec![h.status(&tasks[0], TaskState::Failed, "g")]));
    let mut seen = h.core.subscribe();
    let revision = h.store.revision().unwrap();
    let results = h.core.status_batches(batches);
    assert!(results[0].is_ok() && results[1].is_ok());
    assert!(matches!(results[2], Err(MasterError::UnknownAgent(_))));
    assert_eq!(h.store.revision().unwrap(), revision + 1, "one commit");
    for t in &tasks {
        assert_eq!(h.history(t), ["TASK_STAGING", "TASK_RUNNING"]);
    }
    let mut published = 0;
    while seen.try_recv().is_ok() {
        published += 1;
    }
    assert_eq!(published, tasks.len());
}

#[test]
fn launches_statuses_and_pruning_advance_the_change_cursor() {
    let mut h = Harness::new();
    h.core.config.max_completed_tasks = 0;
    let (agent, _rx) = h.register(None, "http://a:1", "", vec![]);
    let changed_since = |h: &Harness, cursor: u64| {
        let d = h.core.changes.since(cursor).unwrap();
        (d.changed.len(), d.removed.len())
    };
    let start = h.core.changes.head();
    let t = h.launch("sleep 1");
    assert_eq!(changed_since(&h, start), (1, 0));
    let launched = h.core.changes.head();
    let running = h.status(&t, TaskState::Running, "u1");
    h.core.status_update(&agent, running).unwrap();
    assert_eq!(changed_since(&h, launched), (1, 0));
    let finished = h.status(&t, TaskState::Finished, "u2");
    h.core.status_update(&agent, finished).unwrap();
    // Kept no terminal task: pruned right away, seen as removed.
    assert!(!h.core.tasks.contains_key(&t));
    assert_eq!(changed_since(&h, launched), (0, 1));
}

#[test]
fn updates_from_the_wrong_or_unknown_agent_are_refused() {
    let mut h = Harness::new();
    let (a1, _rx1) = h.register(None, "http://a:1", "", vec![]);
    let (a2, _rx2) = h.register(None, "http://b:1", "", vec![]);
    let t = h.launch("sleep 1");
    let placed = h.core.tasks[&t].agent_id.clone();
    let other = if placed == a1 { a2 } else { a1 };
    let st = h.status(&t, TaskState::Running, "u1");
    assert!(matches!(
        h.core.status_update(&other, st.clone()),
        Err(MasterError::WrongAgent { .. })
    ));
    let ghost = AgentId::new("ghost-S9").unwrap();
    assert!(matches!(
        h.core.status_update(&ghost, st),
        Err(MasterError::UnknownAgent(_))
    ));
    assert_eq!(h.state(&t), TaskState::Staging);
}

#[test]
fn silent_agents_become_unreachable_and_recover_on_reregistration() {
    let mut h = Harness::new();
    let (agent, _rx) = h.register(None, "http://a:1", "", vec![]);
    let t = h.launch("sleep 1");
    let st = h.status(&t, TaskState::Running, "u1");
    h.core.status_update(&agent, st).unwrap();
    h.clock.advance(Duration::from_secs(9));
    h.core.tick().unwrap();
    assert_eq!(h.state(&t), TaskState::Running);
    h.clock.advance(Duration::from_secs(2));
    h.core.tick().unwrap();
    assert_eq!(h.state(&t), TaskState::Unreachable);
    let spec = h.core.tasks[&t].spec.clone();
    let report = AgentTask {
        spec,
        state: TaskState::Running,
        container_id: None,
    };
    let (again, _rx) = h.register(Some(agent.clone()), "http://a:1", "", vec![report]);
    assert_eq!(again, agent);
    assert_eq!(h.state(&t), TaskState::Running);
    assert_eq!(
        h.history(&t),
        [
            "TASK_STAGING",
            "TASK_RUNNING",
            "TASK_UNREACHABLE",
            "TASK_RUNNING"
        ]
    );
}

#[test]
fn restart_keeps_everything_and_resends_what_the_agent_missed() {
    let mut h = Harness::new();
    let (agent, _rx) = h.register(None, "http://a:1", "rack:r1", vec![]);
    let running = h.launch("sleep 1");
    let staged = h.launch("sleep 2");
    let st = h.status(&running, TaskState::Running, "u1");
    h.core.status_update(&agent, st).unwrap();
    h.core.kill(&running, Some(7.0)).unwrap();
    let cluster = h.core.cluster_id().to_string();

    let mut h = h.restart();
    assert_eq!(h.core.cluster_id(), cluster);
    assert_eq!(h.state(&running), TaskState::Running);
    assert_eq!(h.state(&staged), TaskState::Staging);
    assert!(
        !h.core.agent_active(&agent),
        "a recovered agent is inactive until it re-registers"
    );
    // The agent comes back reporting only the running task: the staged launch is re-sent,
    // and the durable kill too.
    let spec = h.core.tasks[&running].spec.clone();
    let report = AgentTask {
        spec,
        state: TaskState::Running,
        container_id: None,
    };
    let (_, mut rx) = h.register(Some(agent.clone()), "http://a:1", "rack:r1", vec![report]);
    assert_eq!(events(&mut rx), ["registered", "launch task", "kill 7"]);
    assert!(h.core.agent_active(&agent));
}

#[test]
fn a_second_agent_with_a_live_id_is_refused() {
    let mut h = Harness::new();
    let (agent, _rx) = h.register(None, "http://a:1", "", vec![]);
    let (tx, _rx2) = mpsc::unbounded_channel();
    let req = RegisterAgent {
        agent_id: Some(agent.clone()),
        hostname: "other".into(),
        endpoint: "http://b:1".into(),
        resources: Resources::parse("cpus:1;mem:1").unwrap(),
        attributes: Attributes::default(),
        version: "1.11.0".into(),
        tasks: vec![],
    };
    let err = h.core.register(req, tx).err().map(|e| e.to_string());
    assert_eq!(
        err,
        Some(format!(
            "agent {agent} is already connected from http://a:1"
        ))
    );
    assert_eq!(h.core.agents[&agent].rec.hostname, "h");
}

#[test]
fn launch_validation_names_the_field() {
    let mut h = Harness::new();
    let _ = h.register(None, "http://a:1", "", vec![]);
    let check = |h: &mut Harness, body: serde_json::Value, expect: &str| {
        let req: LaunchRequest = serde_json::from_value(body).unwrap();
        let got = h
            .core
            .launch(req, "keel")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(got, expect);
    };
    check(
        &mut h,
        serde_json::json!({"cmd": "x", "cpus": 0}),
        "invalid cpus: 0 must be at least 0.01",
    );
    check(
        &mut h,
        serde_json::json!({"cmd": "x", "mem": 0.5}),
        "invalid mem: 0.5 must be at least 1 (MB)",
    );
    check(
        &mut h,
        serde_json::json!({}),
        "invalid cmd: a task needs cmd or args",
    );
    check(
        &mut h,
        serde_json::json!({"cmd": "x", "args": ["y"]}),
        "invalid cmd: give either cmd or args, not both",
    );
    check(
        &mut h,
        serde_json::json!({"cmd": "x", "name": "Bad Name"}),
        "invalid name: \"Bad Name\" must be 1-63 of [a-z0-9_-]",
    );
    check(
        &mut h,
        serde_json::json!({"cmd": "x", "cpus": 5}),
        "no agent can run this task",
    );
}

fn group_task(id: &str, cpus: f64, ports: Vec<HostPort>) -> crate::TaskLaunch {
    crate::decide_tests::task_in("/pod", id, cpus, ports)
}

#[test]
fn a_task_group_lands_on_one_agent_with_its_resources_split() {
    let mut h = Harness::new();
    let (a, mut rx_a) = h.register(None, "http://a:1", "", vec![]);
    let (b, mut rx_b) = h.register(None, "http://b:1", "", vec![]);
    let group = |n: &str| {
        vec![
            group_task(&format!("{n}.web"), 0.5, vec![HostPort::Any; 2]),
            group_task(&format!("{n}.log"), 0.5, vec![HostPort::Any]),
        ]
    };
    let results = h.core.launch_groups(vec![group("i1"), group("i2")]);
    let mut agents = Vec::new();
    for r in &results {
        let launched = r.as_ref().unwrap();
        assert_eq!(launched.len(), 2);
        assert_eq!(
            launched[0].agent_id, launched[1].agent_id,
            "one agent per group"
        );
        agents.push(launched[0].agent_id.clone());
        let web = &h.core.tasks[&launched[0].task_id].spec.resources;
        let log = &h.core.tasks[&launched[1].task_id].spec.resources;
        assert_eq!((web.cpus(), web.ports().count()), (0.5, 2));
        assert_eq!((log.cpus(), log.ports().count()), (0.5, 1));
        let mut all: Vec<u64> = web.ports().values().chain(log.ports().values()).collect();
        all.dedup();
        assert_eq!(all.len(), 3, "ports are not shared: {all:?}");
    }
    assert!(agents.contains(&a) || agents.contains(&b));
    let sent = events(&mut rx_a).len() + events(&mut rx_b).len();
    assert_eq!(sent, 2 + 4, "two registrations and four launches");
    // Persisted: a restart knows all four tasks.
    let ids: Vec<TaskId> = results
        .iter()
        .flat_map(|r| r.as_ref().unwrap().iter().map(|l| l.task_id.clone()))
        .collect();
    let h = h.restart();
    for id in &ids {
        assert_eq!(h.state(id), TaskState::Staging);
    }
}

#[test]
fn a_task_group_that_does_not_fit_whole_is_not_launched() {
    let mut h = Harness::new();
    let (_a, mut rx) = h.register(None, "http://a:1", "", vec![]);
    // 1.5 + 1.0 cpus is more than the agent's 2, though each task alone fits.
    let group = vec![
        group_task("big.a", 1.5, vec![]),
        group_task("big.b", 1.0, vec![]),
    ];
    let r = h.core.launch_groups(vec![group]);
    assert!(matches!(r[0], Err(MasterError::Unplaceable { .. })));
    assert!(h.core.tasks.is_empty());
    assert_eq!(events(&mut rx), ["registered"]);
    // A duplicate task id refuses the whole group; an empty group is invalid.
    let ok = h
        .core
        .launch_groups(vec![vec![group_task("p.a", 0.5, vec![])]]);
    assert!(ok[0].is_ok());
    let r = h.core.launch_groups(vec![
        vec![
            group_task("p.b", 0.5, vec![]),
            group_task("p.a", 0.5, vec![]),
        ],
        vec![],
    ]);
    assert!(matches!(r[0], Err(MasterError::Invalid { .. })));
    assert!(matches!(r[1], Err(MasterError::Invalid { .. })));
    assert!(!h.core.tasks.contains_key(&TaskId::new("p.b").unwrap()));
}

#[test]
fn fixed_host_ports_keep_their_order_in_groups_views_and_endpoints() {
    let mut h = Harness::new();
    let (_a, _rx) = h.register(None, "http://a:1", "", vec![]);
    let mut web = group_task("i1.web", 0.5, vec![HostPort::Fixed(31007), HostPort::Any]);
    web.port_names = vec!["http".into(), "admin".into()];
    let mut log = group_task("i1.log", 0.5, vec![HostPort::Any]);
    log.port_names = vec!["log".into()];
    let launched = h
        .core
        .launch_groups(vec![vec![web, log]])
        .remove(0)
        .unwrap();
    let spec = |i: usize| h.core.tasks[&launched[i].task_id].spec.clone();
    assert_eq!(spec(0).host_ports, [31007, 31000]);
    assert_eq!(spec(1).host_ports, [31001]);
    assert_eq!(
        spec(0).resources.ports().to_string(),
        "[31000-31000, 31007-31007]"
    );
    let env = &spec(1).command.env;
    let endpoints = ["ENDPOINT_HTTP", "ENDPOINT_ADMIN", "ENDPOINT_LOG"].map(|k| env[k].as_str());
    assert_eq!(endpoints, ["31007", "31000", "31001"]);
    let view = h.core.view(&h.core.tasks[&launched[0].task_id]);
    assert_eq!(view.ports, [31007, 31000]);
    // The same fixed port again: no agent has it free, and the reason names it.
    let again = group_task("i2.web", 0.5, vec![HostPort::Fixed(31007)]);
    match h.core.launch_groups(vec![vec![again]]).remove(0) {
        Err(crate::MasterError::Unplaceable { rejections }) => {
            assert_eq!(
                rejections.keys().collect::<Vec<_>>(),
                ["insufficient ports 31007"]
            );
        }
        other => panic!("placed twice: {other:?}"),
    }
}

/// A Marathon-style launch of `id` in `framework` with `container`.
fn container_task(
    id: &str,
    framework: &str,
    container: Option<keel_model::ContainerSpec>,
) -> crate::TaskLaunch {
    crate::TaskLaunch {
        framework: framework.into(),
        placement_scope: None,
        container,
        ports: vec![HostPort::Any],
        ..group_task(id, 0.1, Vec::new())
    }
}

#[test]
fn statuses_and_containers_are_shaped_as_mesos_shows_them() {
    use keel_model::{
        ContainerId, ContainerKind, ContainerSpec, DockerNetwork, DockerSpec, PortMapping,
        PortProtocol, Reason,
    };
    let mut h = Harness::new();
    let (agent, _rx) = h.register(None, "http://a:1", "", vec![]);
    let docker = ContainerSpec {
        kind: ContainerKind::Docker,
        docker: Some(DockerSpec {
            image: "nginx:1.25".into(),
            network: DockerNetwork::Bridge,
            port_mappings: vec![PortMapping {
                container_port: 80,
                host_port_index: Some(0),
                protocol: PortProtocol::Tcp,
            }],
            parameters: Vec::new(),
            privileged: false,
            force_pull: false,
        }),
        volumes: Vec::new(),
    };
    let ucr = ContainerSpec {
        kind: ContainerKind::Mesos,
        docker: Some(DockerSpec {
            image: "busybox:absent".into(),
            ..docker.docker.clone().unwrap()
        }),
        volumes: Vec::new(),
    };
    let launched = h.core.launch_tasks(vec![
        container_task("web", "marathon", Some(docker)),
        container_task("pull", "marathon", Some(ucr)),
        container_task("plain", "marathon", None),
    ]);
    assert!(launched.iter().all(Result::is_ok), "{launched:?}");
    let [web, pull, plain] = ["web", "pull", "plain"].map(|t| TaskId::new(t).unwrap());
    let json =
        |h: &Harness, t: &TaskId| serde_json::to_value(h.core.task_json(&h.core.tasks[t])).unwrap();

    // Staged: no status was sent yet, so none is listed.
    assert_eq!(json(&h, &web)["statuses"], serde_json::json!([]));
    assert_eq!(json(&h, &web)["state"], "TASK_STAGING");

    let mut running = h.status(&web, TaskState::Running, "w1");
    running.container_id = Some(ContainerId::new("c-web").unwrap());
    h.core.status_update(&agent, running).unwrap();
    let mut failed = h.status(&pull, TaskState::Failed, "p1");
    failed.source = Source::SourceAgent;
    failed.reason = Some(Reason::ReasonContainerLaunchFailed);
    failed.container_id = Some(ContainerId::new("c-pull").unwrap());
    h.core.status_update(&agent, failed).unwrap();

    let w = json(&h, &web);
    assert_eq!(w["statuses"][0]["state"], "TASK_RUNNING", "{w}");
    assert_eq!(
        w["statuses"][0]["container_status"]["container_id"]["value"],
        "c-web"
    );
    assert_eq!(w["statuses"][0]["source"], "SOURCE_EXECUTOR");
    let port = h.core.tasks[&web].spec.host_ports()[0];
    assert_eq!(
        w["container"],
        serde_json::json!({"type": "DOCKER", "docker": {
            "image": "nginx:1.25", "network": "BRIDGE", "privileged": false,
            "force_pull_image": false,
            "port_mappings": [{"host_port": port, "container_port": 80, "protocol": "tcp"}],
        }})
    );
    let p = json(&h, &pull);
    assert_eq!(p["statuses"].as_array().map(Vec::len), Some(1), "{p}");
    assert_eq!(p["statuses"][0]["state"], "TASK_FAILED");
    assert_eq!(p["statuses"][0]["source"], "SOURCE_AGENT");
    assert_eq!(p["statuses"][0]["reason"], "REASON_CONTAINER_LAUNCH_FAILED");
    assert_eq!(
        p["statuses"][0]["container_status"]["container_id"]["value"],
        "c-pull"
    );
    assert_eq!(
        p["container"],
        serde_json::json!({"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": "busybox:absent"}}}})
    );
    assert!(json(&h, &plain).get("container").is_none());
}

#[test]
fn completed_tasks_are_bounded_per_framework_in_memory_and_in_the_store() {
    let mut h = Harness::new();
    h.core.config.max_completed_tasks = 10;
    let (agent, _rx) = h.register(None, "http://a:1", "", vec![]);
    let finish = |h: &mut Harness, id: String, fw: &str| {
        let t = TaskId::new(&id).unwrap();
        h.core
            .launch_tasks(vec![container_task(&id, fw, None)])
            .pop()
            .unwrap()
            .unwrap();
        h.clock.advance(Duration::from_secs(1));
        let st = h.status(&t, TaskState::Failed, &id);
        h.core.status_update(&agent, st).unwrap();
        t
    };
    let busy: Vec<TaskId> = (0..100)
        .map(|i| finish(&mut h, format!("m{i}"), "marathon"))
        .collect();
    let quiet: Vec<TaskId> = (0..3)
        .map(|i| finish(&mut h, format!("j{i}"), "metronome"))
        .collect();
    let kept =
        |h: &Harness, ids: &[TaskId]| ids.iter().filter(|t| h.core.tasks.contains_key(*t)).count();
    let stored = |h: &Harness, ids: &[TaskId]| {
        ids.iter()
            .filter(|t| {
                h.store
                    .get(&format!("{}{t}", crate::records::TASKS))
                    .unwrap()
                    .is_some()
            })
            .count()
    };
    // At most the bound plus the pruning slack, the newest kept; another framework's
    // few finished tasks are not pushed out by a busy one.
    let n = kept(&h, &busy);
    assert!((10..=11).contains(&n), "{n}");
    assert!(h.core.tasks.contains_key(&busy[99]));
    assert!(!h.core.tasks.contains_key(&busy[0]));
    assert_eq!(stored(&h, &busy), n);
    assert_eq!(kept(&h, &quiet), 3);
    // And after a restart with a lower bound.
    let mut h = h.restart();
    h.core.config.max_completed_tasks = 2;
    h.core.prune_completed().unwrap();
    assert_eq!(kept(&h, &busy), 2);
    assert_eq!(stored(&h, &busy), 2);
    assert_eq!(kept(&h, &quiet), 2);
}

#[test]
fn ids_come_from_the_seam_so_a_seeded_master_repeats_them() {
    let run = |seed: u64| {
        let clock = Arc::new(ManualClock::new(1_000.0));
        let store: Arc<dyn Store> = Arc::new(MemStore::new(clock.clone()));
        let ids = Arc::new(keel_clock::SeqIds::new(seed));
        let core = Core::open_with(store, clock.clone(), ids, config()).unwrap();
        let mut h = Harness {
            store: core.io.store.clone(),
            clock,
            core,
        };
        h.register(None, "http://a:1", "", vec![]);
        let task = h.launch("sleep 1");
        (
            h.core.master_id().to_string(),
            h.core.cluster_id().to_string(),
            task,
        )
    };
    let (a, b) = (run(1), run(1));
    assert_eq!(a, b);
    assert_ne!(a.0, a.1, "master and cluster ids differ");
    assert_ne!(run(2).0, a.0);
}
