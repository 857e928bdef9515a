//! The agent's state: its tasks, their executor connections, and the queue of status
//! updates awaiting the master's acknowledgement, all checkpointed to the agent's store.

use crate::error::AgentError;
use crate::records::{
    AGENT_ID_KEY, NEXT_UPDATE_KEY, PendingUpdate, TASKS, TaskRecord, UPDATES, task_key, update_key,
};
use keel_api::executor::{AgentMessage, ExecutorStatus};
use keel_clock::{Clock, Ids, RandomIds};
use keel_model::{AgentId, Reason, Source, TaskId, TaskState, TaskStatus};
use keel_store::{Expect, Op, Store, Txn};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A task with its live executor connection.
pub(crate) struct TaskEntry {
    pub rec: TaskRecord,
    pub conn: Option<mpsc::UnboundedSender<AgentMessage>>,
    /// A kill that arrived before the executor connected.
    pub pending_kill: Option<f64>,
}

/// All agent state, behind one mutex.
pub struct AgentCore {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Status update uuids.
    pub(crate) ids: Arc<dyn Ids>,
    pub(crate) agent_id: Option<AgentId>,
    pub(crate) tasks: BTreeMap<TaskId, TaskEntry>,
    pub(crate) pending: BTreeMap<u64, PendingUpdate>,
    pub(crate) next_update: u64,
    pub(crate) master_connected: bool,
}

impl AgentCore {
    /// Loads the checkpointed state.
    pub fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Self, AgentError> {
        Self::open_with(store, clock, Arc::new(RandomIds))
    }

    /// [`AgentCore::open`] with the source of the ids it makes.
    pub fn open_with(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
    ) -> Result<Self, AgentError> {
        let agent_id = match store.get(AGENT_ID_KEY)? {
            Some(kv) => Some(
                AgentId::new(String::from_utf8_lossy(&kv.value).to_string()).map_err(|e| {
                    AgentError::Corrupt {
                        key: AGENT_ID_KEY.into(),
                        reason: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let mut tasks = BTreeMap::new();
        for kv in store.list(TASKS)? {
            let rec: TaskRecord = decode(&kv.key, &kv.value)?;
            tasks.insert(
                rec.spec.id.clone(),
                TaskEntry {
                    rec,
                    conn: None,
                    pending_kill: None,
                },
            );
        }
        let mut pending = BTreeMap::new();
        for kv in store.list(UPDATES)? {
            let up: PendingUpdate = decode(&kv.key, &kv.value)?;
            pending.insert(up.seq, up);
        }
        let next_update = match store.get(NEXT_UPDATE_KEY)? {
            Some(kv) => String::from_utf8_lossy(&kv.value).parse().unwrap_or(0),
            None => 0,
        }
        .max(pending.keys().next_back().map(|s| s + 1).unwrap_or(0));
        Ok(Self {
            store,
            clock,
            ids,
            agent_id,
            tasks,
            pending,
            next_update,
            master_connected: false,
        })
    }

    /// Remembers the id the master gave this agent.
    pub(crate) fn set_agent_id(&mut self, id: &AgentId) -> Result<(), AgentError> {
        if self.agent_id.as_ref() != Some(id) {
            self.store
                .put(AGENT_ID_KEY, id.as_str().as_bytes(), Expect::Any)?;
            self.agent_id = Some(id.clone());
        }
        Ok(())
    }

    pub(crate) fn save_task(&self, rec: &TaskRecord) -> Result<(), AgentError> {
        self.store
            .put(&task_key(&rec.spec.id), &encode(rec)?, Expect::Any)?;
        Ok(())
    }

    /// Checkpoints a newly launched task and starts tracking it.
    pub(crate) fn add_task(&mut self, rec: TaskRecord) -> Result<(), AgentError> {
        self.save_task(&rec)?;
        let entry = TaskEntry {
            rec,
            conn: None,
            pending_kill: None,
        };
        self.tasks.insert(entry.rec.spec.id.clone(), entry);
        Ok(())
    }

    /// Turns an executor status into a checkpointed update; returns false for a replay
    /// of a status already handled.
    pub(crate) fn executor_status(
        &mut self,
        task: &TaskId,
        st: &ExecutorStatus,
    ) -> Result<bool, AgentError> {
        let Some(entry) = self.tasks.get(task) else {
            return Ok(false);
        };
        if st.seq <= entry.rec.last_seq {
            return Ok(false);
        }
        // Mesos's agent, not the executor, reports a container that could not be launched
        // or hit its memory limit (the containerizer runs on the agent there).
        let source = match st.reason {
            Some(Reason::ReasonContainerLaunchFailed | Reason::ReasonContainerLimitationMemory) => {
                Source::SourceAgent
            }
            _ => Source::SourceExecutor,
        };
        let status = TaskStatus {
            task_id: task.clone(),
            state: st.state,
            source,
            reason: st.reason,
            message: st.message.clone(),
            agent_id: self.agent_id.clone(),
            container_id: Some(entry.rec.container_id.clone()),
            timestamp: st.timestamp,
            uuid: None,
            exit_code: st.exit_code,
            healthy: st.healthy,
            container_ips: st.container_ips.clone(),
        };
        self.enqueue(status, Some(st.seq))?;
        Ok(true)
    }

    /// An update the agent itself generates (executor died, launch failed, ...).
    pub(crate) fn agent_status(
        &mut self,
        task: &TaskId,
        state: TaskState,
        reason: Reason,
        message: String,
    ) -> Result<(), AgentError> {
        let container_id = self.tasks.get(task).map(|e| e.rec.container_id.clone());
        let status = TaskStatus {
            task_id: task.clone(),
            state,
            source: Source::SourceAgent,
            reason: Some(reason),
            message: Some(message),
            agent_id: self.agent_id.clone(),
            container_id,
            timestamp: self.clock.unix_secs(),
            uuid: None,
            exit_code: None,
            healthy: None,
            container_ips: Vec::new(),
        };
        self.enqueue(status, None)
    }

    /// Checkpoints the task's new state and the update in one transaction.
    fn enqueue(
        &mut self,
        mut status: TaskStatus,
        executor_seq: Option<u64>,
    ) -> Result<(), AgentError> {
        status.uuid = Some(self.ids.uuid().to_string());
        let seq = self.next_update;
        let up = PendingUpdate {
            seq,
            status: status.clone(),
        };
        let mut txn = Txn::new()
            .then(Op::put(update_key(seq), encode(&up)?))
            .then(Op::put(NEXT_UPDATE_KEY, (seq + 1).to_string().into_bytes()));
        let mut rec = None;
        if let Some(entry) = self.tasks.get(&status.task_id) {
            let mut r = entry.rec.clone();
            if !r.state.is_terminal() {
                r.state = status.state;
            }
            if let Some(s) = executor_seq {
                r.last_seq = s;
            }
            if !status.container_ips.is_empty() {
                r.container_ips = status.container_ips.clone();
            }
            txn = txn.then(Op::put(task_key(&r.spec.id), encode(&r)?));
            rec = Some(r);
        }
        self.store.txn(txn)?;
        self.next_update = seq + 1;
        self.pending.insert(seq, up);
        if let Some(r) = rec
            && let Some(e) = self.tasks.get_mut(&r.spec.id)
        {
            e.rec = r;
        }
        Ok(())
    }

    /// The master acknowledged update `seq`.
    #[cfg(test)]
    pub(crate) fn acknowledged(&mut self, seq: u64) -> Result<(), AgentError> {
        self.acknowledged_all(&[seq])
    }

    /// The master acknowledged updates `seqs`: forget them in one transaction, and mark
    /// tasks whose terminal update was acknowledged as completed.
    pub(crate) fn acknowledged_all(&mut self, seqs: &[u64]) -> Result<(), AgentError> {
        let mut txn = Txn::new();
        let mut ended = Vec::new();
        for seq in seqs {
            let Some(up) = self.pending.remove(seq) else {
                continue;
            };
            txn = txn.then(Op::delete(update_key(*seq)));
            if up.status.state.is_terminal() {
                ended.push(up.status.task_id);
            }
        }
        if !ended.is_empty() {
            let still: std::collections::BTreeSet<&TaskId> =
                self.pending.values().map(|p| &p.status.task_id).collect();
            let ended: Vec<TaskId> = ended.into_iter().filter(|t| !still.contains(t)).collect();
            for task in ended {
                if let Some(e) = self.tasks.get_mut(&task) {
                    e.rec.completed = true;
                    txn = txn.then(Op::put(task_key(&task), encode(&e.rec)?));
                }
            }
        }
        if !txn.success.is_empty() {
            self.store.txn(txn)?;
        }
        Ok(())
    }

    /// The oldest pending updates, in order.
    pub(crate) fn pending_batch(&self, n: usize) -> Vec<PendingUpdate> {
        self.pending.values().take(n).cloned().collect()
    }
}

pub(crate) fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, AgentError> {
    serde_json::to_vec(v).map_err(|e| AgentError::Corrupt {
        key: "<encode>".into(),
        reason: e.to_string(),
    })
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, v: &[u8]) -> Result<T, AgentError> {
    serde_json::from_slice(v).map_err(|e| AgentError::Corrupt {
        key: key.into(),
        reason: e.to_string(),
    })
}
