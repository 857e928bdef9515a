//! Unit tests of the agent's status-update state machine: executor statuses become
//! checkpointed updates exactly once, survive a restart, and leave only when acknowledged.

use crate::core::{AgentCore, TaskEntry};
use crate::records::TaskRecord;
use keel_api::executor::ExecutorStatus;
use keel_clock::ManualClock;
use keel_model::{
    AgentId, CommandSpec, ContainerId, FrameworkId, Reason, TaskId, TaskSpec, TaskState,
};
use keel_resources::Resources;
use keel_store::{MemStore, Store};
use std::sync::Arc;

fn spec(id: &str) -> TaskSpec {
    TaskSpec {
        id: TaskId::new(id).unwrap(),
        name: "t".into(),
        framework_id: FrameworkId::new("m-0000").unwrap(),
        role: "*".into(),
        command: CommandSpec {
            shell: true,
            value: "true".into(),
            arguments: vec![],
            env: Default::default(),
            user: None,
        },
        resources: Resources::new().with_scalar("cpus", 0.1),
        kill_grace_secs: 3.0,
        labels: Default::default(),
        health_checks: vec![],
        fetch: vec![],
        port_names: vec![],
        placement_scope: None,
        host_ports: Vec::new(),
        discovery: None,
        container: None,
    }
}

fn open(store: &Arc<dyn Store>) -> AgentCore {
    AgentCore::open(store.clone(), Arc::new(ManualClock::new(5.0))).unwrap()
}

fn add_task(core: &mut AgentCore, id: &str) -> TaskId {
    let rec = TaskRecord {
        spec: spec(id),
        framework_name: "keel".into(),
        container_id: ContainerId::new("c1").unwrap(),
        sandbox: "/tmp/x".into(),
        meta_dir: "/tmp/y".into(),
        state: TaskState::Staging,
        last_seq: 0,
        launched_time: 1.0,
        completed: false,
        container_ips: Vec::new(),
        statsd_port: None,
    };
    core.save_task(&rec).unwrap();
    let id = rec.spec.id.clone();
    core.tasks.insert(
        id.clone(),
        TaskEntry {
            rec,
            conn: None,
            pending_kill: None,
        },
    );
    id
}

fn st(seq: u64, state: TaskState) -> ExecutorStatus {
    ExecutorStatus {
        seq,
        state,
        reason: None,
        message: None,
        exit_code: None,
        timestamp: seq as f64,
        healthy: None,
        container_ips: Vec::new(),
    }
}

fn pending(core: &AgentCore) -> Vec<String> {
    core.pending_batch(100)
        .iter()
        .map(|u| format!("{}:{}", u.seq, u.status.state))
        .collect()
}

#[test]
fn statuses_are_checkpointed_once_and_acknowledged_in_order() {
    let store: Arc<dyn Store> = Arc::new(MemStore::new(Arc::new(ManualClock::new(0.0))));
    let mut core = open(&store);
    core.set_agent_id(&AgentId::new("m-S0").unwrap()).unwrap();
    let t = add_task(&mut core, "a");
    assert!(
        core.executor_status(&t, &st(1, TaskState::Starting))
            .unwrap()
    );
    assert!(
        core.executor_status(&t, &st(2, TaskState::Running))
            .unwrap()
    );
    // A replay after reconnecting is not a new update.
    assert!(
        !core
            .executor_status(&t, &st(1, TaskState::Starting))
            .unwrap()
    );
    assert!(
        !core
            .executor_status(&t, &st(2, TaskState::Running))
            .unwrap()
    );
    assert_eq!(pending(&core), ["0:TASK_STARTING", "1:TASK_RUNNING"]);
    let uuids: Vec<_> = core
        .pending_batch(10)
        .iter()
        .map(|u| u.status.uuid.clone())
        .collect();
    assert!(uuids.iter().all(Option::is_some) && uuids[0] != uuids[1]);

    // A restart keeps the queue, the agent id and the task's progress.
    drop(core);
    let mut core = open(&store);
    assert_eq!(
        core.agent_id.as_ref().map(|a| a.to_string()),
        Some("m-S0".into())
    );
    assert_eq!(pending(&core), ["0:TASK_STARTING", "1:TASK_RUNNING"]);
    assert_eq!(core.tasks[&t].rec.last_seq, 2);
    assert!(
        !core
            .executor_status(&t, &st(2, TaskState::Running))
            .unwrap()
    );

    core.acknowledged(0).unwrap();
    core.acknowledged(0).unwrap();
    assert!(
        core.executor_status(&t, &st(3, TaskState::Finished))
            .unwrap()
    );
    assert_eq!(pending(&core), ["1:TASK_RUNNING", "2:TASK_FINISHED"]);
    core.acknowledged(1).unwrap();
    assert!(!core.tasks[&t].rec.completed);
    core.acknowledged(2).unwrap();
    assert!(
        core.tasks[&t].rec.completed,
        "the task completes once its terminal update is acknowledged"
    );
    assert!(pending(&core).is_empty());
    drop(core);
    let core = open(&store);
    assert!(pending(&core).is_empty() && core.tasks[&t].rec.completed);
    assert_eq!(core.next_update, 3);
}

#[test]
fn agent_generated_updates_and_terminal_states_stick() {
    let store: Arc<dyn Store> = Arc::new(MemStore::new(Arc::new(ManualClock::new(0.0))));
    let mut core = open(&store);
    let t = add_task(&mut core, "b");
    core.agent_status(
        &t,
        TaskState::Failed,
        Reason::ReasonExecutorTerminated,
        "gone".into(),
    )
    .unwrap();
    assert_eq!(core.tasks[&t].rec.state, TaskState::Failed);
    // A late executor status cannot resurrect a terminal task, though it is still forwarded.
    core.executor_status(&t, &st(1, TaskState::Running))
        .unwrap();
    assert_eq!(core.tasks[&t].rec.state, TaskState::Failed);
    let first = &core.pending_batch(1)[0].status;
    assert_eq!(
        (first.reason, first.message.as_deref()),
        (Some(Reason::ReasonExecutorTerminated), Some("gone"))
    );
}

#[test]
fn port_variables_follow_the_task_order_not_the_numeric_one() {
    let mut task = spec("t.1");
    task.resources = Resources::parse("cpus:0.1;ports:[31000-31001]").unwrap();
    task.host_ports = vec![31001, 31000];
    task.port_names = vec!["http".into(), String::new()];
    let env = crate::launcher::port_env(&task);
    let got: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        got,
        [
            "PORT=31001",
            "PORT0=31001",
            "PORT1=31000",
            "PORTS=31001,31000",
            "PORT_HTTP=31001"
        ]
    );
    task.host_ports.clear();
    assert_eq!(crate::launcher::port_env(&task)["PORT0"], "31000");
}
