//! The master's in-memory state and its persistence: loading it from the store at start-up
//! and writing every change through before it is acknowledged.

use crate::error::MasterError;
use crate::records::{
    AGENTS, AgentRecord, AgentStatus, FRAMEWORKS, FrameworkRecord, INFO_KEY, MasterInfo, TASKS,
    TaskRecord,
};
use keel_allocator::{AgentInfo, Allocator};
use keel_api::internal::MasterEvent;
use keel_clock::{Clock, Ids, RandomIds};
use keel_model::{AgentId, FrameworkId, TaskId, TaskStatus};
use keel_store::{Expect, Store};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Tunables of the master.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// Hostname reported in state.
    pub hostname: String,
    /// The address the entry listens on (for `pid`, `leader`).
    pub advertise: std::net::SocketAddr,
    /// An agent silent this long becomes unreachable.
    pub agent_timeout: Duration,
    /// How often agents heartbeat.
    pub heartbeat_interval: Duration,
    /// Cluster name shown in state.
    pub cluster_name: Option<String>,
    /// Terminal tasks kept per framework (Mesos's `max_completed_tasks_per_framework`):
    /// the oldest beyond it are forgotten, in memory and in the store.
    pub max_completed_tasks: usize,
    /// DRF weights per role (Mesos's `--weights`); roles not named weigh 1.
    pub weights: Vec<(String, f64)>,
}

impl MasterConfig {
    /// Defaults for a master listening on `advertise`.
    pub fn new(advertise: std::net::SocketAddr) -> Self {
        Self {
            hostname: advertise.ip().to_string(),
            advertise,
            agent_timeout: Duration::from_secs(75),
            heartbeat_interval: Duration::from_secs(5),
            cluster_name: None,
            max_completed_tasks: 1000,
            weights: Vec::new(),
        }
    }
}

/// The live connection to an agent.
pub(crate) struct Conn {
    pub tx: mpsc::UnboundedSender<MasterEvent>,
    pub generation: u64,
}

/// An agent with its volatile bookkeeping.
pub(crate) struct AgentEntry {
    pub rec: AgentRecord,
    pub last_seen: Duration,
    /// Loaded from the store and not yet re-registered since this master started.
    pub recovered: bool,
}

/// Counters for `/metrics/snapshot` (reset on restart, like Mesos's).
#[derive(Debug, Default, Clone)]
pub(crate) struct Counters {
    pub slave_registrations: u64,
    pub slave_reregistrations: u64,
    pub valid_status_updates: u64,
    pub invalid_status_updates: u64,
    pub terminal: BTreeMap<&'static str, u64>,
}

/// The master's effects: the store, the clock, ids, and the channels it sends on.
pub(crate) struct Io {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    /// The live event streams of connected agents.
    pub conns: BTreeMap<AgentId, Conn>,
    /// Task statuses for external event streams (lossy: a slow stream skips ahead).
    pub events: broadcast::Sender<TaskStatus>,
    /// Task statuses for the schedulers beside the master (lossless, cursor per reader).
    pub feed: Arc<crate::status_feed::StatusFeed>,
}

/// The master's data: what the decisions in `decide.rs` read and the effects side updates
/// once the records are durable. No I/O handle lives here.
pub struct State {
    pub(crate) config: MasterConfig,
    pub(crate) info: MasterInfo,
    pub(crate) start_time: f64,
    pub(crate) agents: BTreeMap<AgentId, AgentEntry>,
    pub(crate) tasks: BTreeMap<TaskId, TaskRecord>,
    pub(crate) frameworks: BTreeMap<FrameworkId, FrameworkRecord>,
    pub(crate) allocator: Allocator,
    pub(crate) counters: Counters,
    pub(crate) next_generation: u64,
    /// Number of terminal tasks kept per framework (for pruning without a scan per status).
    pub(crate) terminal_tasks: BTreeMap<FrameworkId, usize>,
    /// The order in which tasks changed (for schedulers' copies of task views).
    pub(crate) changes: crate::changes::TaskChanges,
}

/// All master state: its effects (`io`) and its data (`state`, also reached through
/// `Deref`). Guarded by one mutex; handlers never hold it across an await.
pub struct Core {
    pub(crate) io: Io,
    pub(crate) state: State,
}

impl State {
    /// A master's state with no agents, tasks or frameworks yet.
    pub(crate) fn new(config: MasterConfig, info: MasterInfo, start_time: f64) -> Self {
        State {
            config,
            info,
            start_time,
            agents: BTreeMap::new(),
            tasks: BTreeMap::new(),
            frameworks: BTreeMap::new(),
            allocator: Allocator::new(),
            counters: Counters::default(),
            next_generation: 1,
            terminal_tasks: BTreeMap::new(),
            changes: Default::default(),
        }
    }
}

impl std::ops::Deref for Core {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl std::ops::DerefMut for Core {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Core {
    /// Loads the master's state from `store`, creating the cluster identity on first start
    /// (with random ids).
    pub fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: MasterConfig,
    ) -> Result<Self, MasterError> {
        Self::open_with(store, clock, Arc::new(RandomIds), config)
    }

    /// As [`Core::open`], with the master's ids (its own, the cluster's, task ids it
    /// makes) taken from `ids`.
    pub fn open_with(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
        config: MasterConfig,
    ) -> Result<Self, MasterError> {
        let info = match load::<MasterInfo>(&*store, INFO_KEY)? {
            Some(info) => info,
            None => {
                let info = MasterInfo {
                    master_id: ids.uuid().to_string(),
                    cluster_id: ids.uuid().to_string(),
                    next_agent: 0,
                    next_framework: 0,
                };
                store.put(INFO_KEY, &to_bytes(&info)?, Expect::Absent)?;
                info
            }
        };
        let (events, _) = broadcast::channel(4096);
        let state = State::new(config, info, clock.unix_secs());
        let io = Io {
            store,
            clock,
            ids,
            conns: BTreeMap::new(),
            events,
            feed: Default::default(),
        };
        let mut core = Core { io, state };
        for (role, w) in core.config.weights.clone() {
            core.allocator
                .set_weight(&role, w)
                .map_err(|e| MasterError::invalid("weights", e.to_string()))?;
        }
        core.recover()?;
        core.prune_completed()?;
        Ok(core)
    }

    fn recover(&mut self) -> Result<(), MasterError> {
        let now = self.io.clock.monotonic();
        for fw in list::<FrameworkRecord>(&*self.io.store, FRAMEWORKS)? {
            self.frameworks.insert(fw.id.clone(), fw);
        }
        for rec in list::<AgentRecord>(&*self.io.store, AGENTS)? {
            self.allocator.add_agent(agent_info(&rec));
            self.allocator.set_agent_active(&rec.id, false);
            let entry = AgentEntry {
                rec,
                last_seen: now,
                recovered: true,
            };
            self.agents.insert(entry.rec.id.clone(), entry);
        }
        for task in list::<TaskRecord>(&*self.io.store, TASKS)? {
            if !task.state.is_terminal() {
                let s = &task.spec;
                if let Err(e) = self.allocator.allocate_used(
                    &task.agent_id,
                    &s.framework_id,
                    &s.role,
                    &s.resources,
                    s.placement_scope.as_deref(),
                ) {
                    tracing::warn!(task = %s.id, "recovering task resources: {e}");
                }
            }
            if task.state.is_terminal() {
                *self
                    .terminal_tasks
                    .entry(task.spec.framework_id.clone())
                    .or_default() += 1;
            }
            self.changes.touch(&task.spec.id);
            self.tasks.insert(task.spec.id.clone(), task);
        }
        tracing::info!(
            agents = self.agents.len(),
            tasks = self.tasks.len(),
            "master {} recovered its state",
            self.info.master_id
        );
        Ok(())
    }

    /// The master's id (a UUID).
    pub fn master_id(&self) -> &str {
        &self.info.master_id
    }

    /// The cluster's id (a UUID), stable across restarts.
    pub fn cluster_id(&self) -> &str {
        &self.info.cluster_id
    }

    /// Subscribes to every task status the master records, for an external stream: a
    /// subscriber that falls behind skips statuses (schedulers use [`Core::status_reader`]).
    pub fn subscribe(&self) -> broadcast::Receiver<TaskStatus> {
        self.io.events.subscribe()
    }

    /// A reader of every task status the master records from now on, none skipped.
    pub fn status_reader(&self) -> crate::status_feed::StatusReader {
        self.io.feed.reader()
    }

    pub(crate) fn now(&self) -> f64 {
        self.io.clock.unix_secs()
    }

    pub(crate) fn save_agent(&self, rec: &AgentRecord) -> Result<(), MasterError> {
        save(&*self.io.store, &format!("{AGENTS}{}", rec.id), rec)
    }

    pub(crate) fn save_task(&self, rec: &TaskRecord) -> Result<(), MasterError> {
        save(&*self.io.store, &format!("{TASKS}{}", rec.spec.id), rec)
    }

    /// Persists several task records in one transaction (one durable commit).
    pub(crate) fn save_tasks<'a>(
        &self,
        recs: impl Iterator<Item = &'a TaskRecord>,
    ) -> Result<(), MasterError> {
        let mut txn = keel_store::Txn::new();
        for rec in recs {
            txn = txn.then(keel_store::Op::put(
                format!("{TASKS}{}", rec.spec.id),
                to_bytes(rec)?,
            ));
        }
        self.io.store.txn(txn)?;
        Ok(())
    }

    pub(crate) fn save_info(&self) -> Result<(), MasterError> {
        save(&*self.io.store, INFO_KEY, &self.info)
    }

    /// The framework called `name`, registering it on first use.
    pub(crate) fn framework(&mut self, name: &str, role: &str) -> Result<FrameworkId, MasterError> {
        let now = self.now();
        let rec = match crate::decide::framework(&self.state, name, role, now)? {
            crate::decide::FrameworkChoice::Known(id) => return Ok(id),
            crate::decide::FrameworkChoice::New(rec) => rec,
        };
        self.state.info.next_framework += 1;
        self.save_info()?;
        save(&*self.io.store, &format!("{FRAMEWORKS}{}", rec.id), &rec)?;
        let id = rec.id.clone();
        self.state.frameworks.insert(id.clone(), rec);
        Ok(id)
    }

    /// Whether an agent currently counts as active (registered and reachable).
    pub(crate) fn agent_active(&self, id: &AgentId) -> bool {
        self.agents
            .get(id)
            .is_some_and(|a| !a.recovered && a.rec.status == AgentStatus::Active)
    }
}

pub(crate) fn agent_info(rec: &AgentRecord) -> AgentInfo {
    AgentInfo {
        id: rec.id.clone(),
        hostname: rec.hostname.clone(),
        attributes: rec.attributes.clone(),
        total: rec.resources.clone(),
    }
}

fn to_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>, MasterError> {
    serde_json::to_vec(v).map_err(|e| MasterError::Corrupt {
        key: "<encode>".into(),
        reason: e.to_string(),
    })
}

fn save<T: Serialize>(store: &dyn Store, key: &str, v: &T) -> Result<(), MasterError> {
    store.put(key, &to_bytes(v)?, Expect::Any)?;
    Ok(())
}

fn load<T: DeserializeOwned>(store: &dyn Store, key: &str) -> Result<Option<T>, MasterError> {
    match store.get(key)? {
        None => Ok(None),
        Some(kv) => serde_json::from_slice(&kv.value)
            .map(Some)
            .map_err(|e| MasterError::Corrupt {
                key: key.into(),
                reason: e.to_string(),
            }),
    }
}

fn list<T: DeserializeOwned>(store: &dyn Store, prefix: &str) -> Result<Vec<T>, MasterError> {
    store
        .list(prefix)?
        .into_iter()
        .map(|kv| {
            serde_json::from_slice(&kv.value).map_err(|e| MasterError::Corrupt {
                key: kv.key.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}
