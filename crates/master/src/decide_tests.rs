//! Unit tests of the master's pure decisions (`decide.rs`): a `State` built by hand, no
//! store, no clock, no sockets. Placement of tasks and groups, kill plans, which status
//! updates are accepted and how they change tasks, the completed-task bound, adoption.

use crate::MasterError;
use crate::core::{AgentEntry, MasterConfig, State, agent_info};
use crate::decide::{self, FrameworkChoice, LaunchUnit, Outbox};
use crate::launch::TaskLaunch;
use crate::records::{AgentRecord, AgentStatus, MasterInfo, TaskRecord};
use keel_api::internal::{AgentTask, MasterEvent};
use keel_model::{AgentId, FrameworkId, HostPort, Source, TaskId, TaskState, TaskStatus};
use keel_resources::{Attributes, Resources};
use std::time::Duration;

const NOW: f64 = 1_000.0;

fn state(max_completed: usize) -> State {
    let mut config = MasterConfig::new("127.0.0.1:5050".parse().unwrap());
    config.max_completed_tasks = max_completed;
    let info = MasterInfo {
        master_id: "m1".into(),
        cluster_id: "c1".into(),
        next_agent: 0,
        next_framework: 0,
    };
    State::new(config, info, NOW)
}

/// Adds an active agent with 2 cpus, 1 GiB and ports 31000-31010.
fn add_agent(st: &mut State, n: u64) -> AgentId {
    let id = AgentId::nth("m1", n).unwrap();
    let rec = AgentRecord {
        id: id.clone(),
        hostname: format!("h{n}"),
        endpoint: format!("http://h{n}:5051"),
        resources: Resources::parse("cpus:2;mem:1024;ports:[31000-31010]").unwrap(),
        attributes: Attributes::default(),
        version: "1.11.0".into(),
        registered_time: NOW,
        reregistered_time: None,
        status: AgentStatus::Active,
        unreachable_time: None,
    };
    st.allocator.add_agent(agent_info(&rec));
    st.allocator.set_agent_active(&id, true);
    st.agents.insert(
        id.clone(),
        AgentEntry {
            rec,
            last_seen: Duration::ZERO,
            recovered: false,
        },
    );
    id
}

/// Registers framework `name` in memory, as the effects side would once it is durable.
fn framework(st: &mut State, name: &str) -> FrameworkId {
    match decide::framework(st, name, "*", NOW).unwrap() {
        FrameworkChoice::Known(id) => id,
        FrameworkChoice::New(rec) => {
            st.info.next_framework += 1;
            let id = rec.id.clone();
            st.frameworks.insert(id.clone(), rec);
            id
        }
    }
}

fn task(id: &str, cpus: f64, ports: Vec<HostPort>) -> TaskLaunch {
    task_in("/app", id, cpus, ports)
}

/// A `sleep` task of `cpus` and 64 MB placed in `scope`, for the master's unit tests.
pub(crate) fn task_in(scope: &str, id: &str, cpus: f64, ports: Vec<HostPort>) -> TaskLaunch {
    TaskLaunch {
        task_id: TaskId::new(id).unwrap(),
        name: id.into(),
        framework: "marathon".into(),
        role: "*".into(),
        command: keel_model::CommandSpec {
            shell: true,
            value: "sleep 100".into(),
            arguments: Vec::new(),
            env: Default::default(),
            user: None,
        },
        resources: Resources::new()
            .with_scalar("cpus", cpus)
            .with_scalar("mem", 64.0),
        ports,
        constraints: Vec::new(),
        kill_grace_secs: 3.0,
        labels: Default::default(),
        health_checks: Vec::new(),
        fetch: Vec::new(),
        port_names: Vec::new(),
        placement_scope: Some(scope.into()),
        container: None,
        discovery: None,
    }
}

/// Checks, registers the framework, places and records `units`, as `launch_units` does
/// (the records counted as durable).
fn launch(
    st: &mut State,
    units: Vec<LaunchUnit>,
) -> (Vec<Result<Vec<TaskRecord>, MasterError>>, Outbox) {
    let checked = units
        .into_iter()
        .map(|u| {
            let fid = decide::check_unit(st, &u).map(|(name, _)| name.to_string());
            let fid = fid.map(|name| framework(st, &name));
            (u, fid)
        })
        .collect();
    let placed = decide::place(st, checked, NOW);
    let mut out = Outbox::default();
    for recs in placed.iter().flatten() {
        decide::record_launched(st, recs.clone(), &mut out);
    }
    (placed, out)
}

fn lone(l: TaskLaunch) -> LaunchUnit {
    LaunchUnit::Task(Box::new(l))
}

fn status(task: &TaskId, state: TaskState, uuid: &str) -> TaskStatus {
    TaskStatus {
        task_id: task.clone(),
        state,
        source: Source::SourceExecutor,
        reason: None,
        message: None,
        agent_id: None,
        container_id: None,
        timestamp: NOW + 1.0,
        uuid: Some(uuid.into()),
        exit_code: None,
        healthy: None,
        container_ips: Vec::new(),
    }
}

fn free_cpus(st: &State, agent: &AgentId) -> f64 {
    st.allocator.free(agent).unwrap().cpus()
}

/// Records statuses as `record_statuses` does, the records counted as durable.
fn record(st: &mut State, statuses: Vec<TaskStatus>) -> Outbox {
    let ch = decide::status_changes(st, statuses);
    decide::apply_status_changes(st, ch)
}

#[test]
fn a_lone_task_is_placed_with_the_allocators_resources_and_its_launch_is_sent() {
    let mut st = state(10);
    let agent = add_agent(&mut st, 0);
    let (placed, out) = launch(&mut st, vec![lone(task("web.1", 0.5, vec![HostPort::Any]))]);
    let recs = placed.into_iter().next().unwrap().unwrap();
    assert_eq!(recs.len(), 1);
    let rec = &recs[0];
    assert_eq!(rec.agent_id, agent);
    assert_eq!(rec.state, TaskState::Staging);
    assert_eq!(rec.statuses.len(), 1);
    assert_eq!(rec.launched_time, NOW);
    assert_eq!(rec.spec.host_ports, vec![31000]);
    // The allocator's placed resources, host port range included.
    assert_eq!(rec.spec.resources.cpus(), 0.5);
    assert!(
        rec.spec
            .resources
            .to_string()
            .contains("ports:[31000-31000]")
    );
    assert!(
        rec.spec.command.env.is_empty(),
        "only groups share endpoints"
    );
    assert_eq!(free_cpus(&st, &agent), 1.5);
    assert!(st.tasks.contains_key(&rec.spec.id));
    assert!(
        matches!(&out.sends[..], [(a, MasterEvent::Launch { task, .. })] if a == &agent && task.id == rec.spec.id)
    );
    assert!(out.statuses.is_empty());
}

#[test]
fn a_group_lands_on_one_agent_split_per_task_with_shared_endpoints() {
    let mut st = state(10);
    let a0 = add_agent(&mut st, 0);
    let _a1 = add_agent(&mut st, 1);
    let mut web = task("pod.web", 0.5, vec![HostPort::Any]);
    web.port_names = vec!["http".into()];
    let mut log = task("pod.log", 0.25, vec![HostPort::Fixed(31005), HostPort::Any]);
    log.port_names = vec!["admin".into(), String::new()];
    let (placed, out) = launch(&mut st, vec![LaunchUnit::Group(vec![web, log])]);
    let recs = placed.into_iter().next().unwrap().unwrap();
    assert_eq!(recs.len(), 2);
    let agent = &recs[0].agent_id;
    assert!(recs.iter().all(|r| &r.agent_id == agent));
    assert_eq!(recs[0].spec.resources.cpus(), 0.5);
    assert_eq!(recs[1].spec.resources.cpus(), 0.25);
    assert_eq!(recs[0].spec.host_ports.len(), 1);
    assert_eq!(recs[1].spec.host_ports[0], 31005);
    assert_eq!(recs[1].spec.host_ports.len(), 2);
    let web_port = recs[0].spec.host_ports[0].to_string();
    for r in &recs {
        assert_eq!(r.spec.command.env.get("ENDPOINT_HTTP"), Some(&web_port));
        assert_eq!(
            r.spec.command.env.get("ENDPOINT_ADMIN").map(String::as_str),
            Some("31005")
        );
    }
    assert_eq!(out.sends.len(), 2);
    let _ = a0;
    assert_eq!(free_cpus(&st, agent), 1.25);
}

#[test]
fn a_group_that_cannot_fit_whole_is_rejected_whole() {
    let mut st = state(10);
    let agent = add_agent(&mut st, 0);
    // Each task fits the agent alone; together they do not.
    let g = vec![task("pod.a", 1.5, vec![]), task("pod.b", 1.5, vec![])];
    let (placed, out) = launch(&mut st, vec![LaunchUnit::Group(g)]);
    match &placed[0] {
        Err(MasterError::Unplaceable { rejections }) => assert!(!rejections.is_empty()),
        other => panic!("expected unplaceable, got {other:?}"),
    }
    assert!(st.tasks.is_empty());
    assert!(out.sends.is_empty());
    assert_eq!(free_cpus(&st, &agent), 2.0);
}

#[test]
fn groups_are_checked_before_placement() {
    let mut st = state(10);
    add_agent(&mut st, 0);
    let empty = LaunchUnit::Group(Vec::new());
    assert!(matches!(
        decide::check_unit(&st, &empty),
        Err(MasterError::Invalid { .. })
    ));
    let mut other = task("pod.b", 0.1, vec![]);
    other.framework = "metronome".into();
    let mixed = LaunchUnit::Group(vec![task("pod.a", 0.1, vec![]), other]);
    assert!(decide::check_unit(&st, &mixed).is_err());
    let twice = LaunchUnit::Group(vec![task("pod.a", 0.1, vec![]), task("pod.a", 0.1, vec![])]);
    assert!(decide::check_unit(&st, &twice).is_err());
    let fine = LaunchUnit::Group(vec![task("pod.a", 0.1, vec![]), task("pod.b", 0.1, vec![])]);
    assert_eq!(decide::check_unit(&st, &fine).unwrap(), ("marathon", "*"));
}

#[test]
fn a_task_id_in_use_is_refused_and_its_placement_given_back() {
    let mut st = state(10);
    let agent = add_agent(&mut st, 0);
    let (first, _) = launch(&mut st, vec![lone(task("web.1", 0.5, vec![]))]);
    assert!(first[0].is_ok());
    let (again, out) = launch(&mut st, vec![lone(task("web.1", 0.5, vec![]))]);
    assert!(matches!(&again[0], Err(MasterError::Invalid { .. })));
    assert!(out.sends.is_empty());
    assert_eq!(free_cpus(&st, &agent), 1.5);
    // And a group naming a task in use is refused before placement.
    let g = LaunchUnit::Group(vec![task("web.1", 0.1, vec![])]);
    assert!(decide::check_unit(&st, &g).is_err());
}

#[test]
fn a_kill_plan_keeps_the_grace_and_sends_the_kill() {
    let mut st = state(10);
    let agent = add_agent(&mut st, 0);
    launch(&mut st, vec![lone(task("web.1", 0.5, vec![]))]);
    let id = TaskId::new("web.1").unwrap();
    let (rec, out) = decide::kill_plan(&st, &id, None).unwrap();
    assert_eq!(rec.kill_grace_secs, Some(3.0));
    assert!(
        matches!(&out.sends[..], [(a, MasterEvent::Kill { grace_secs, .. })] if a == &agent && *grace_secs == 3.0)
    );
    // The decision does not touch the state; the effects side stores the record.
    assert_eq!(st.tasks[&id].kill_grace_secs, None);
    let (rec, _) = decide::kill_plan(&st, &id, Some(10.0)).unwrap();
    assert_eq!(rec.kill_grace_secs, Some(10.0));
    assert!(decide::kill_plan(&st, &id, Some(-1.0)).is_err());
    let unknown = TaskId::new("nope").unwrap();
    assert!(matches!(
        decide::kill_plan(&st, &unknown, None),
        Err(MasterError::UnknownTask(_))
    ));
    record(&mut st, vec![status(&id, TaskState::Finished, "u1")]);
    assert!(matches!(
        decide::kill_plan(&st, &id, None),
        Err(MasterError::TaskTerminal { .. })
    ));
}

#[test]
fn statuses_are_accepted_only_from_the_tasks_agent_and_once() {
    let mut st = state(10);
    let a0 = add_agent(&mut st, 0);
    let a1 = add_agent(&mut st, 1);
    launch(&mut st, vec![lone(task("web.1", 0.5, vec![]))]);
    let id = TaskId::new("web.1").unwrap();
    let on = st.tasks[&id].agent_id.clone();
    let off = if on == a0 { a1 } else { a0 };
    let stranger = AgentId::nth("m1", 9).unwrap();

    let mut acc = decide::Accepted::default();
    let whole = vec![status(&id, TaskState::Running, "u1"); 2];
    assert!(matches!(
        decide::accept_statuses(&st, &stranger, whole, &mut acc),
        Err(MasterError::UnknownAgent(_))
    ));
    assert_eq!((acc.valid, acc.invalid), (0, 2));
    let unknown = status(&TaskId::new("nope").unwrap(), TaskState::Running, "u2");
    decide::accept_statuses(
        &st,
        &off,
        vec![status(&id, TaskState::Running, "u3")],
        &mut acc,
    )
    .unwrap();
    decide::accept_statuses(&st, &on, vec![unknown], &mut acc).unwrap();
    assert_eq!((acc.valid, acc.invalid), (0, 4));
    decide::accept_statuses(
        &st,
        &on,
        vec![status(&id, TaskState::Running, "u4")],
        &mut acc,
    )
    .unwrap();
    assert_eq!(acc.valid, 1);
    assert!(decide::check_status(&st, &off, &acc.statuses[0]).is_err());
    assert!(decide::check_status(&st, &on, &acc.statuses[0]).is_ok());

    // Once recorded, the same uuid is a duplicate: acknowledged, not accepted again.
    let statuses = std::mem::take(&mut acc.statuses);
    record(&mut st, statuses);
    let mut again = decide::Accepted::default();
    decide::accept_statuses(
        &st,
        &on,
        vec![status(&id, TaskState::Running, "u4")],
        &mut again,
    )
    .unwrap();
    assert!(again.statuses.is_empty());
    assert_eq!((again.valid, again.invalid), (0, 0));
}

#[test]
fn status_changes_follow_the_state_machine_and_a_terminal_state_never_changes() {
    let mut st = state(10);
    let agent = add_agent(&mut st, 0);
    launch(&mut st, vec![lone(task("web.1", 0.5, vec![]))]);
    let id = TaskId::new("web.1").unwrap();
    let batch = vec![
        status(&id, TaskState::Running, "u1"),
        status(&id, TaskState::Running, "u1"), // resent within the batch: stale
        status(&id, TaskState::Finished, "u2"),
    ];
    let ch = decide::status_changes(&st, batch);
    assert_eq!(ch.records().count(), 1);
    // Nothing changes before the effects side applies what it persisted.
    assert_eq!(st.tasks[&id].state, TaskState::Staging);
    assert_eq!(free_cpus(&st, &agent), 1.5);
    let out = decide::apply_status_changes(&mut st, ch);
    assert_eq!(out.statuses.len(), 2);
    assert!(out.sends.is_empty());
    let rec = &st.tasks[&id];
    assert_eq!(rec.state, TaskState::Finished);
    let states: Vec<_> = rec.statuses.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [TaskState::Staging, TaskState::Running, TaskState::Finished]
    );
    assert_eq!(
        free_cpus(&st, &agent),
        2.0,
        "an ended task gives its resources back"
    );
    assert_eq!(st.counters.terminal.get("TASK_FINISHED"), Some(&1));
    assert_eq!(st.terminal_tasks.values().sum::<usize>(), 1);

    // A late status of a terminal task is published but changes nothing but the uuids.
    let out = record(&mut st, vec![status(&id, TaskState::Running, "u3")]);
    assert_eq!(out.statuses.len(), 1);
    let rec = &st.tasks[&id];
    assert_eq!(rec.state, TaskState::Finished);
    assert!(rec.recent_uuids.contains(&"u3".to_string()));
    assert_eq!(free_cpus(&st, &agent), 2.0, "released once");
    assert_eq!(st.counters.terminal.get("TASK_FINISHED"), Some(&1));
}

#[test]
fn pruning_keeps_the_bounded_history_of_completed_tasks() {
    let mut st = state(10);
    add_agent(&mut st, 0);
    add_agent(&mut st, 1);
    let ids: Vec<TaskId> = (0..12)
        .map(|i| TaskId::new(format!("job.{i:02}")).unwrap())
        .collect();
    let units = ids
        .iter()
        .map(|id| lone(task(id.as_str(), 0.1, vec![])))
        .collect();
    let (placed, _) = launch(&mut st, units);
    assert!(placed.iter().all(Result::is_ok));
    let live = TaskId::new("live.1").unwrap();
    launch(&mut st, vec![lone(task("live.1", 0.1, vec![]))]);
    // The first 11 end: within the 10% slack, nothing is pruned yet.
    for (i, id) in ids.iter().take(11).enumerate() {
        let mut s = status(id, TaskState::Finished, &format!("u{i}"));
        s.timestamp = NOW + i as f64;
        record(&mut st, vec![s]);
    }
    assert!(decide::prune_plan(&st).is_empty());
    let mut s = status(&ids[11], TaskState::Failed, "u11");
    s.timestamp = NOW + 11.0;
    record(&mut st, vec![s]);
    let plan = decide::prune_plan(&st);
    assert_eq!(plan, ids[..2].to_vec(), "the two oldest go");
    decide::apply_prune(&mut st, &plan);
    assert_eq!(
        st.tasks.values().filter(|t| t.state.is_terminal()).count(),
        10
    );
    assert!(st.tasks.contains_key(&live), "live tasks are never pruned");
    assert!(!st.tasks.contains_key(&ids[0]));
    assert_eq!(st.terminal_tasks.values().sum::<usize>(), 10);
    assert!(decide::prune_plan(&st).is_empty());
}

#[test]
fn an_adopted_task_keeps_the_agents_report_and_counts_as_used() {
    let mut st = state(10);
    let agent = add_agent(&mut st, 0);
    let fid = framework(&mut st, "marathon");
    let spec = task("adopted.1", 0.5, vec![]);
    let t = AgentTask {
        spec: keel_model::TaskSpec {
            id: spec.task_id.clone(),
            name: spec.name,
            framework_id: fid,
            role: spec.role,
            command: spec.command,
            resources: spec.resources,
            kill_grace_secs: 3.0,
            labels: Default::default(),
            health_checks: Vec::new(),
            fetch: Vec::new(),
            port_names: Vec::new(),
            placement_scope: None,
            container: None,
            host_ports: Vec::new(),
            discovery: None,
        },
        state: TaskState::Running,
        container_id: None,
    };
    let rec = decide::adopted_record(&st, &agent, &t, NOW);
    assert_eq!(rec.framework_name, "marathon");
    assert_eq!(rec.state, TaskState::Running);
    assert_eq!(rec.statuses[0].source, Some(Source::SourceAgent));
    assert!(
        !st.tasks.contains_key(&t.spec.id),
        "not taken in before it is durable"
    );
    decide::record_adopted(&mut st, rec);
    assert_eq!(st.tasks[&t.spec.id].agent_id, agent);
    assert_eq!(free_cpus(&st, &agent), 1.5);

    // A framework the master does not know adopts under "unknown".
    let mut other = t.clone();
    other.spec.framework_id = FrameworkId::nth("m1", 7).unwrap();
    assert_eq!(
        decide::adopted_record(&st, &agent, &other, NOW).framework_name,
        "unknown"
    );
}

#[test]
fn placement_is_deterministic() {
    let run = || {
        let mut st = state(10);
        add_agent(&mut st, 0);
        add_agent(&mut st, 1);
        let units = vec![
            lone(task("a.1", 0.5, vec![HostPort::Any])),
            LaunchUnit::Group(vec![
                task("p.1", 0.5, vec![HostPort::Any]),
                task("p.2", 0.5, vec![]),
            ]),
            lone(task("a.2", 1.5, vec![HostPort::Any, HostPort::Any])),
        ];
        let (placed, _) = launch(&mut st, units);
        placed
            .into_iter()
            .map(|r| {
                r.map(|recs| {
                    recs.into_iter()
                        .map(|t| (t.spec.id, t.agent_id, t.spec.host_ports))
                        .collect::<Vec<_>>()
                })
                .map_err(|e| e.to_string())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

fn registration(hostname: &str) -> keel_api::internal::RegisterAgent {
    keel_api::internal::RegisterAgent {
        agent_id: None,
        hostname: hostname.into(),
        endpoint: "http://h0:5051".into(),
        resources: Resources::parse("cpus:2;mem:1024").unwrap(),
        attributes: Attributes::default(),
        version: "1.11.0".into(),
        tasks: Vec::new(),
    }
}

#[test]
fn a_reregistration_keeps_the_first_time_and_notices_a_new_hostname() {
    use crate::membership;
    let mut st = state(10);
    let id = membership::new_agent_id(&st).unwrap();
    let (rec, renamed) = membership::registration(&st, &id, &registration("h0"), NOW);
    assert_eq!((rec.registered_time, rec.reregistered_time), (NOW, None));
    assert!(!renamed);
    let (generation, out) = membership::apply_registration(&mut st, rec, renamed, Duration::ZERO);
    assert!(matches!(&out.sends[..], [(a, MasterEvent::Registered { .. })] if a == &id));
    assert_eq!(st.counters.slave_registrations, 1);
    launch(&mut st, vec![lone(task("web.1", 0.5, vec![]))]);
    let cursor = st.changes.head();

    let (rec, renamed) = membership::registration(&st, &id, &registration("h0-new"), NOW + 5.0);
    assert_eq!(
        (rec.registered_time, rec.reregistered_time),
        (NOW, Some(NOW + 5.0))
    );
    assert!(renamed);
    let (again, _) = membership::apply_registration(&mut st, rec, renamed, Duration::ZERO);
    assert!(again > generation);
    assert_eq!(st.counters.slave_reregistrations, 1);
    let changed = st.changes.since(cursor).unwrap().changed.len();
    assert_eq!(changed, 1, "the task's view carries the new hostname");
}

#[test]
fn tasks_an_agent_does_not_report_are_relaunched_if_staging_else_lost() {
    use crate::membership::{self, Reported};
    let mut st = state(10);
    let agent = add_agent(&mut st, 0);
    launch(
        &mut st,
        vec![
            lone(task("staging.1", 0.1, vec![])),
            lone(task("running.1", 0.1, vec![])),
            lone(task("reported.1", 0.1, vec![])),
        ],
    );
    let running = TaskId::new("running.1").unwrap();
    let reported = TaskId::new("reported.1").unwrap();
    record(
        &mut st,
        vec![
            status(&running, TaskState::Running, "u1"),
            status(&reported, TaskState::Running, "u2"),
        ],
    );
    let seen = [reported.clone()].into_iter().collect();
    let (out, lost) = membership::unreported(&st, &agent, &seen, NOW);
    assert!(
        matches!(&out.sends[..], [(_, MasterEvent::Launch { task, .. })] if task.id.as_str() == "staging.1")
    );
    assert_eq!(lost.len(), 1);
    assert_eq!(
        (&lost[0].task_id, lost[0].state),
        (&running, TaskState::Lost)
    );
    assert_eq!(lost[0].source, Source::SourceMaster);

    // A task the master does not know is adopted unless it ended; a known one is kept.
    let t = |id: &str, state| {
        AgentTask {
            spec: st.tasks[&reported].spec.clone(),
            state,
            container_id: None,
        }
        .with_id(id)
    };
    assert!(matches!(
        membership::reported(&st, &agent, &t("new.1", TaskState::Running), NOW),
        Reported::Adopt
    ));
    assert!(matches!(
        membership::reported(&st, &agent, &t("new.2", TaskState::Finished), NOW),
        Reported::Keep
    ));
    assert!(matches!(
        membership::reported(&st, &agent, &t("reported.1", TaskState::Running), NOW),
        Reported::Keep
    ));
}

trait WithId {
    fn with_id(self, id: &str) -> Self;
}

impl WithId for AgentTask {
    fn with_id(mut self, id: &str) -> Self {
        self.spec.id = TaskId::new(id).unwrap();
        self
    }
}

#[test]
fn a_silent_agent_becomes_unreachable_with_its_live_tasks() {
    use crate::membership;
    let mut st = state(10);
    let agent = add_agent(&mut st, 0);
    launch(&mut st, vec![lone(task("web.1", 0.5, vec![]))]);
    let timeout = st.config.agent_timeout;
    assert!(membership::silent_agents(&st, timeout).is_empty());
    assert_eq!(
        membership::silent_agents(&st, timeout + Duration::from_secs(1)),
        vec![agent.clone()]
    );
    let (rec, statuses) = membership::unreachable(&st, &agent, NOW).unwrap();
    assert_eq!(rec.status, AgentStatus::Unreachable);
    assert_eq!(rec.unreachable_time, Some(NOW));
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, TaskState::Unreachable);
    assert_eq!(
        st.agents[&agent].rec.status,
        AgentStatus::Active,
        "not before it is durable"
    );
    membership::apply_unreachable(&mut st, rec);
    assert_eq!(st.agents[&agent].rec.status, AgentStatus::Unreachable);
    assert_eq!(st.allocator.is_active(&agent), Some(false));
    assert!(membership::silent_agents(&st, timeout * 2).is_empty());
}

#[test]
fn discovery_ports_get_the_host_ports_placement_assigned() {
    let mut st = state(10);
    add_agent(&mut st, 0);
    let mut t = task("web.1", 0.5, vec![HostPort::Any, HostPort::Any]);
    let port = |index: Option<usize>, number: u32| keel_model::DiscoveryPort {
        number,
        protocol: "tcp".into(),
        host_port_index: index,
        ..Default::default()
    };
    t.discovery = Some(keel_model::Discovery {
        name: "web".into(),
        ports: vec![port(Some(1), 0), port(None, 8080)],
        ..Default::default()
    });
    let (placed, _) = launch(&mut st, vec![lone(t)]);
    let recs = placed.into_iter().next().unwrap().unwrap();
    let d = recs[0].spec.discovery.clone().expect("discovery kept");
    let numbers: Vec<u32> = d.ports.iter().map(|p| p.number).collect();
    assert_eq!(numbers, vec![u32::from(recs[0].spec.host_ports[1]), 8080]);
    assert!(d.ports.iter().all(|p| p.host_port_index.is_none()));
    // And Mesos's JSON shape wraps the lists.
    let json = serde_json::to_value(keel_api::mesos::DiscoveryInfo::from(&d)).unwrap();
    assert_eq!(json["ports"]["ports"][1]["number"], 8080);
    assert_eq!(json["visibility"], "FRAMEWORK");
}

#[test]
fn container_addresses_stay_with_the_task_across_statuses_without_them() {
    let mut st = state(10);
    add_agent(&mut st, 0);
    launch(&mut st, vec![lone(task("web.1", 0.5, vec![]))]);
    let id = TaskId::new("web.1").unwrap();
    let ip: std::net::IpAddr = "172.17.0.2".parse().unwrap();
    let mut running = status(&id, TaskState::Running, "u1");
    running.container_ips = vec![ip];
    record(&mut st, vec![running]);
    assert_eq!(st.tasks[&id].container_ips, vec![ip]);
    // A health verdict (same state) and the kill carry no addresses: the task keeps them,
    // and so does each status entry (Mesos's container_status.network_infos).
    let mut verdict = status(&id, TaskState::Running, "u2");
    verdict.healthy = Some(true);
    record(&mut st, vec![verdict, status(&id, TaskState::Killed, "u3")]);
    let rec = &st.tasks[&id];
    assert_eq!(rec.container_ips, vec![ip]);
    let kept: Vec<_> = (rec.statuses.iter())
        .filter(|s| s.state != TaskState::Staging)
        .map(|s| (s.state, s.container_ips.clone()))
        .collect();
    assert_eq!(
        kept,
        [
            (TaskState::Running, vec![ip]),
            (TaskState::Killed, vec![ip])
        ]
    );
}
