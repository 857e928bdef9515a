//! Group commit of agents' status updates: every batch that arrives while the previous
//! commit is being made durable joins the next one, so a burst of statuses from many agents
//! costs a few durable commits instead of one per request. A dedicated thread commits, so
//! the request handlers wait without holding a runtime worker.

use crate::Master;
use crate::core::Core;
use crate::error::MasterError;
use keel_model::{AgentId, TaskStatus};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Most agent batches one commit takes (bounds the time the state stays locked).
const MAX_BATCHES: usize = 1024;

/// One agent's batch of status updates waiting for its commit.
pub(crate) struct Pending {
    agent: AgentId,
    statuses: Vec<TaskStatus>,
    done: oneshot::Sender<Result<(), MasterError>>,
}

/// Starts the committing thread; it ends when every sender is dropped.
pub(crate) fn start(core: Arc<Mutex<Core>>) -> mpsc::UnboundedSender<Pending> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("keel-status-commit".into())
        .spawn(move || run(&core, rx));
    if let Err(e) = spawned {
        // Without the thread every batch is answered with an error (the channel closes).
        tracing::error!("starting the status commit thread: {e}");
    }
    tx
}

fn run(core: &Mutex<Core>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_BATCHES {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let (batches, waiters): (Vec<_>, Vec<_>) = group
            .into_iter()
            .map(|p| ((p.agent, p.statuses), p.done))
            .unzip();
        let results = core
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .status_batches(batches);
        for (done, r) in waiters.into_iter().zip(results) {
            let _ = done.send(r);
        }
    }
}

impl Master {
    /// Records a batch of status updates from `agent` (see [`Core::status_updates`]);
    /// returns once they are durable, committed together with the batches of other agents
    /// that arrived meanwhile.
    pub async fn commit_statuses(
        &self,
        agent: AgentId,
        statuses: Vec<TaskStatus>,
    ) -> Result<(), MasterError> {
        let (done, answer) = oneshot::channel();
        self.statuses
            .send(Pending {
                agent,
                statuses,
                done,
            })
            .map_err(|_| MasterError::Stopped)?;
        answer.await.map_err(|_| MasterError::Stopped)?
    }
}
