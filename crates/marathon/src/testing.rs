//! The unit-test harness of the Marathon service: an in-memory store, a manual clock,
//! sequential ids and a recording [`FakeCluster`] in place of the master. Tests write
//! through the real router (`tower::ServiceExt::oneshot`, no sockets), run scheduler
//! passes synchronously, feed task statuses by hand and read the moves the passes made.

use crate::Marathon;
use crate::cluster::Cluster;
use crate::limits::Limits;
use keel_api::internal::LaunchResponse;
use keel_clock::{Clock, ManualClock, SeqIds};
use keel_master::{MasterError, StatusFeed, StatusReader, TaskChangeSet, TaskLaunch, TaskView};
use keel_model::{AgentId, Source, TaskId, TaskState, TaskStatus};
use keel_store::MemStore;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Where the harness's time starts (unix seconds).
pub const T0: f64 = 1_000_000.0;

/// A master double: places every task on one agent while it has room, records each
/// launch, refusal and kill as a line (tasks named `<run spec>#<n>`, pods'
/// `<pod>#<n>.<container>`), and holds the task views the tests drive.
pub struct FakeCluster {
    clock: Arc<ManualClock>,
    feed: Arc<StatusFeed>,
    inner: Mutex<Fake>,
}

#[derive(Default)]
struct Fake {
    tasks: BTreeMap<TaskId, TaskView>,
    names: BTreeMap<TaskId, String>,
    launched: BTreeMap<String, u32>,
    moves: Vec<String>,
    /// Tasks that still fit (`None`: any number).
    room: Option<usize>,
    /// Statuses the fake generated (kills), for the harness to deliver.
    pending: Vec<TaskStatus>,
    cursor: u64,
}

impl FakeCluster {
    fn new(clock: Arc<ManualClock>) -> FakeCluster {
        FakeCluster {
            clock,
            feed: Arc::new(StatusFeed::default()),
            inner: Mutex::new(Fake::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on at most `n` more tasks fit (`None`: any number).
    pub fn set_room(&self, n: Option<usize>) {
        self.lock().room = n;
    }

    /// The moves recorded since the last call, one a line.
    pub fn take_moves(&self) -> String {
        let moves = std::mem::take(&mut self.lock().moves);
        moves.iter().map(|m| format!("{m}\n")).collect()
    }

    /// The task called `name`.
    pub fn task(&self, name: &str) -> TaskId {
        let g = self.lock();
        g.names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("no task {name}; tasks: {:?}", g.names.values()))
    }

    /// The names of the tasks of `run_spec` that have not ended, in launch order.
    pub fn live(&self, run_spec: &str) -> Vec<String> {
        let g = self.lock();
        let mut v: Vec<(u32, String)> = g
            .tasks
            .values()
            .filter(|t| !t.state.is_terminal())
            .filter_map(|t| {
                let name = g.names.get(&t.id)?;
                let (spec, rest) = name.split_once('#')?;
                let n = rest.split('.').next()?.parse().ok()?;
                (spec == run_spec).then(|| (n, name.clone()))
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, n)| n).collect()
    }

    /// Moves task `name` to `state` (with a health verdict); returns the status to deliver.
    pub fn set(&self, name: &str, state: TaskState, healthy: Option<bool>) -> TaskStatus {
        let id = self.task(name);
        let now = self.clock.unix_secs();
        let mut g = self.lock();
        g.cursor += 1;
        let Some(t) = g.tasks.get_mut(&id) else {
            panic!("no view of {name}");
        };
        t.state = state;
        t.healthy = healthy;
        t.updated_at = now;
        if state == TaskState::Running && t.started_at.is_none() {
            t.started_at = Some(now);
        }
        status(&id, state, healthy, now)
    }

    /// The names of the tasks in `state`.
    pub fn in_state(&self, state: TaskState) -> Vec<String> {
        let g = self.lock();
        g.tasks
            .values()
            .filter(|t| t.state == state)
            .filter_map(|t| g.names.get(&t.id).cloned())
            .collect()
    }

    fn place(&self, g: &mut Fake, l: &TaskLaunch, name: String) -> LaunchResponse {
        let now = self.clock.unix_secs();
        let agent = AgentId::new("agent-1").unwrap_or_else(|e| panic!("{e}"));
        let ports = (0..l.ports.len()).map(|i| 31_000 + i as u64).collect();
        g.tasks.insert(
            l.task_id.clone(),
            TaskView {
                id: l.task_id.clone(),
                name: l.name.clone(),
                framework: l.framework.clone(),
                agent_id: agent.clone(),
                hostname: "host-1".into(),
                agent_ip: None,
                container_ips: Vec::new(),
                state: TaskState::Staging,
                reason: None,
                message: None,
                ports,
                staged_at: now,
                started_at: None,
                updated_at: now,
                healthy: None,
            },
        );
        g.names.insert(l.task_id.clone(), name);
        g.cursor += 1;
        LaunchResponse {
            task_id: l.task_id.clone(),
            agent_id: agent,
        }
    }

    fn next_name(g: &mut Fake, run_spec: &str) -> String {
        let n = g.launched.entry(run_spec.to_string()).or_default();
        *n += 1;
        format!("{run_spec}#{n}")
    }

    fn unplaceable() -> MasterError {
        MasterError::Unplaceable {
            rejections: BTreeMap::from([("insufficient cpus".to_string(), 1)]),
        }
    }
}

fn run_spec_of(l: &TaskLaunch) -> String {
    keel_api::marathon::task_id::parse(l.task_id.as_str())
        .map(|(id, _)| id.to_string())
        .unwrap_or_else(|_| l.name.clone())
}

fn status(id: &TaskId, state: TaskState, healthy: Option<bool>, now: f64) -> TaskStatus {
    TaskStatus {
        task_id: id.clone(),
        state,
        source: Source::SourceExecutor,
        reason: None,
        message: None,
        agent_id: None,
        container_id: None,
        timestamp: now,
        uuid: None,
        exit_code: None,
        healthy,
        container_ips: Vec::new(),
    }
}

impl Cluster for FakeCluster {
    fn launch_tasks(&self, batch: Vec<TaskLaunch>) -> Vec<Result<LaunchResponse, MasterError>> {
        let mut g = self.lock();
        batch
            .iter()
            .map(|l| {
                let spec = run_spec_of(l);
                if g.room == Some(0) {
                    g.moves.push(format!("unplaced {spec}"));
                    return Err(FakeCluster::unplaceable());
                }
                g.room = g.room.map(|r| r - 1);
                let name = FakeCluster::next_name(&mut g, &spec);
                g.moves.push(format!("launch {name}"));
                Ok(self.place(&mut g, l, name))
            })
            .collect()
    }

    fn launch_groups(
        &self,
        groups: Vec<Vec<TaskLaunch>>,
    ) -> Vec<Result<Vec<LaunchResponse>, MasterError>> {
        let mut g = self.lock();
        groups
            .iter()
            .map(|group| {
                let spec = group.first().map(run_spec_of).unwrap_or_default();
                if g.room.is_some_and(|r| r < group.len()) {
                    g.moves.push(format!("unplaced {spec}"));
                    return Err(FakeCluster::unplaceable());
                }
                g.room = g.room.map(|r| r - group.len());
                let instance = FakeCluster::next_name(&mut g, &spec);
                let names: Vec<String> = group
                    .iter()
                    .map(|l| format!("{instance}.{}", l.name))
                    .collect();
                g.moves.push(format!("launch {}", names.join(" ")));
                Ok(group
                    .iter()
                    .zip(names)
                    .map(|(l, name)| self.place(&mut g, l, name))
                    .collect())
            })
            .collect()
    }

    fn kill_task(&self, id: &TaskId, _grace: Option<f64>) -> Result<(), MasterError> {
        let now = self.clock.unix_secs();
        let mut g = self.lock();
        let name = g.names.get(id).cloned().unwrap_or_else(|| id.to_string());
        let Some(t) = g.tasks.get_mut(id) else {
            return Err(MasterError::UnknownTask(id.clone()));
        };
        if t.state.is_terminal() {
            return Err(MasterError::TaskTerminal {
                id: id.clone(),
                state: t.state.to_string(),
            });
        }
        // The agent kills it at once.
        t.state = TaskState::Killed;
        t.updated_at = now;
        g.cursor += 1;
        g.moves.push(format!("kill {name}"));
        g.pending
            .push(status(id, TaskState::Killed, None, self.clock.unix_secs()));
        Ok(())
    }

    fn task_views(&self, ids: &[TaskId]) -> Vec<Option<TaskView>> {
        let g = self.lock();
        ids.iter().map(|id| g.tasks.get(id).cloned()).collect()
    }

    fn task_changes(&self, framework: &str, _since: Option<u64>) -> TaskChangeSet {
        let g = self.lock();
        TaskChangeSet {
            cursor: g.cursor,
            full: true,
            views: g
                .tasks
                .values()
                .filter(|t| t.framework == framework)
                .cloned()
                .collect(),
            removed: Vec::new(),
        }
    }

    fn status_reader(&self) -> StatusReader {
        self.feed.reader()
    }

    fn active_agents(&self) -> u32 {
        1
    }

    fn advertise(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 5050))
    }

    fn framework_id(&self, _name: &str) -> Option<String> {
        Some("framework-1".into())
    }
}

/// A Marathon service on a [`FakeCluster`], a [`MemStore`], a [`ManualClock`] at [`T0`]
/// and [`SeqIds`].
pub struct Harness {
    pub m: Marathon,
    pub cluster: Arc<FakeCluster>,
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemStore>,
    rt: tokio::runtime::Runtime,
}

impl Harness {
    pub fn new() -> Harness {
        let clock = Arc::new(ManualClock::new(T0));
        let store = Arc::new(MemStore::new(clock.clone()));
        Harness::on(clock, store)
    }

    /// A service recovering from `store` (as a new leader would).
    pub fn on(clock: Arc<ManualClock>, store: Arc<MemStore>) -> Harness {
        let cluster = Arc::new(FakeCluster::new(clock.clone()));
        let m = Marathon::open_on(
            cluster.clone(),
            store.clone(),
            clock.clone(),
            Arc::new(SeqIds::new(1)),
            Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        Harness {
            m,
            cluster,
            clock,
            store,
            rt,
        }
    }

    /// One API call through the router: status and JSON body (`Null` if none). A write
    /// comes a millisecond after what came before (versions are timestamps).
    pub fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        use tower::ServiceExt;
        if method != "GET" {
            self.advance(0.001);
        }
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let router = self.m.router();
        self.rt.block_on(async move {
            let resp = router.oneshot(req).await.unwrap_or_else(|e| match e {});
            let code = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (code, v)
        })
    }

    /// A write that must succeed with `code`; returns the body.
    pub fn ok(&self, method: &str, path: &str, body: Value, code: u16) -> Value {
        let (got, v) = self.send(method, path, Some(body));
        assert_eq!(got, code, "{method} {path}: {v}");
        v
    }

    /// One scheduler pass, then the statuses it caused (kills) delivered; the moves made.
    pub fn tick(&self) -> String {
        self.m.tick().unwrap_or_else(|e| panic!("{e}"));
        let pending = std::mem::take(&mut self.cluster.lock().pending);
        self.m.on_statuses(&pending);
        self.cluster.take_moves()
    }

    /// Delivers statuses to the service, as the master's status feed does.
    pub fn deliver(&self, statuses: &[TaskStatus]) {
        self.m.on_statuses(statuses);
    }

    /// Moves task `name` to `state` and delivers the status.
    pub fn set(&self, name: &str, state: TaskState, healthy: Option<bool>) {
        let s = self.cluster.set(name, state, healthy);
        self.deliver(&[s]);
    }

    /// Every staging task turns running (with `healthy` as the health verdict).
    pub fn start_all(&self, healthy: Option<bool>) {
        for name in self.cluster.in_state(TaskState::Staging) {
            self.set(&name, TaskState::Running, healthy);
        }
    }

    pub fn clock_secs(&self) -> f64 {
        self.clock.unix_secs()
    }

    pub fn advance(&self, secs: f64) {
        self.clock.advance(Duration::from_secs_f64(secs));
    }

    /// How many deployments run.
    pub fn deployments(&self) -> usize {
        self.m.lock().deployments.len()
    }

    /// Passes until no deployment runs and a pass makes no move, starting tasks (healthy
    /// if `healthy`) between passes; the moves, one a line. Panics after 50 passes.
    pub fn settle(&self, healthy: Option<bool>) -> String {
        let mut out = String::new();
        for _ in 0..50 {
            let moves = self.tick();
            let staging = !self.cluster.in_state(TaskState::Staging).is_empty();
            self.start_all(healthy);
            if moves.is_empty() && !staging && self.deployments() == 0 {
                return out;
            }
            out.push_str(&moves);
        }
        panic!("not settled after 50 passes; moves: {out}");
    }
}
