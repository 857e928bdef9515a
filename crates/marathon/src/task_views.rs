//! Marathon's copy of the master's views of its tasks. Loaded once, then kept current by
//! asking the master again for just the tasks its status stream names (plus the tasks the
//! scheduler launches itself), with a full reload when the stream lagged and every
//! [`RELOAD_EVERY`] (for the rare changes the stream does not carry: adopted tasks, pruned
//! tasks, renamed agents). A scheduler pass or an API read so costs the changes since the
//! previous one, not a copy of every task.
//!
//! Every read goes through [`TaskViews::sync`] first, which drains the stream: the master
//! publishes a status before it acknowledges it, so a read sees every status recorded
//! before it started, as if it had asked the master.

use crate::launch::FRAMEWORK;
use keel_clock::Clock;
use keel_master::{Master, TaskView};
use keel_model::{TaskId, TaskStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::TryRecvError};

/// How often the views are reloaded whole from the master.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Which views changed since the scheduler last asked.
#[derive(Debug, PartialEq)]
pub enum Changed {
    /// Possibly any (after a reload).
    All,
    Some(BTreeSet<TaskId>),
}

/// The views of every task of Marathon's framework the master knows, by task id.
pub struct TaskViews {
    views: BTreeMap<TaskId, TaskView>,
    changed: Changed,
    statuses: broadcast::Receiver<TaskStatus>,
    clock: Arc<dyn Clock>,
    loaded_at: Duration,
}

impl TaskViews {
    /// Subscribes to the master's statuses, then loads every view (so nothing recorded in
    /// between is missed).
    pub fn load(master: &Master) -> TaskViews {
        let statuses = master.subscribe();
        let mut v = TaskViews {
            views: BTreeMap::new(),
            changed: Changed::All,
            statuses,
            clock: master.clock(),
            loaded_at: Duration::ZERO,
        };
        v.reload(master);
        v
    }

    /// Brings the views up to date with every status the master recorded so far.
    pub fn sync(&mut self, master: &Master) {
        let mut changed = BTreeSet::new();
        let mut lagged = false;
        loop {
            match self.statuses.try_recv() {
                Ok(st) => {
                    changed.insert(st.task_id);
                }
                Err(TryRecvError::Lagged(_)) => lagged = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        let due = self.clock.monotonic().saturating_sub(self.loaded_at) >= RELOAD_EVERY;
        if lagged || due {
            self.reload(master);
            return;
        }
        if changed.is_empty() {
            return;
        }
        let ids: Vec<TaskId> = changed.into_iter().collect();
        let views = master.task_views(&ids);
        for (id, view) in ids.into_iter().zip(views) {
            self.mark(&id);
            match view {
                Some(v) if v.framework == FRAMEWORK => {
                    self.views.insert(id, v);
                }
                Some(_) => {}
                None => {
                    self.views.remove(&id);
                }
            }
        }
    }

    /// Records the views of tasks just launched (the master publishes no status for a
    /// launch).
    pub fn launched(&mut self, views: impl IntoIterator<Item = TaskView>) {
        for v in views {
            self.mark(&v.id);
            self.views.insert(v.id.clone(), v);
        }
    }

    /// The tasks whose views changed since the last call (for the scheduler, which looks
    /// again at just their instances).
    pub fn take_changed(&mut self) -> Changed {
        std::mem::replace(&mut self.changed, Changed::Some(BTreeSet::new()))
    }

    fn mark(&mut self, id: &TaskId) {
        if let Changed::Some(ids) = &mut self.changed {
            ids.insert(id.clone());
        }
    }

    fn reload(&mut self, master: &Master) {
        self.loaded_at = self.clock.monotonic();
        self.changed = Changed::All;
        self.views = master
            .tasks_of(FRAMEWORK)
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
    }
}

impl std::ops::Deref for TaskViews {
    type Target = BTreeMap<TaskId, TaskView>;

    fn deref(&self) -> &Self::Target {
        &self.views
    }
}
