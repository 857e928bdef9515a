//! Marathon's copy of the master's views of its tasks. Loaded once, then kept current by
//! asking the master for just the tasks that changed since the copy's cursor
//! ([`Cluster::task_changes`]: launches, statuses, adoptions, pruning, renamed agents). A
//! scheduler pass or an API read so costs the changes since the previous one, not a copy
//! of every task.
//!
//! Every read goes through [`TaskViews::sync`] first, and the master records a change
//! before it acknowledges the request that caused it, so a read sees every change made
//! before it started, as if it had asked the master.

use crate::cluster::Cluster;
use crate::launch::FRAMEWORK;
use keel_master::TaskView;
use keel_model::TaskId;
use std::collections::{BTreeSet, HashMap};

/// Task views by task id.
pub type Views = HashMap<TaskId, TaskView>;

/// Which views changed since the scheduler last asked.
#[derive(Debug, PartialEq)]
pub enum Changed {
    /// Possibly any (after a full load).
    All,
    Some(BTreeSet<TaskId>),
}

/// The views of every task of Marathon's framework the master knows, by task id.
pub struct TaskViews {
    views: Views,
    changed: Changed,
    /// The master's change cursor the copy is current with (`None`: not loaded yet).
    cursor: Option<u64>,
}

impl TaskViews {
    /// An empty copy; the first [`TaskViews::sync`] loads every view.
    pub fn new() -> TaskViews {
        TaskViews {
            views: Views::new(),
            changed: Changed::All,
            cursor: None,
        }
    }

    /// Brings the views up to date with every change the master made so far.
    pub fn sync(&mut self, master: &dyn Cluster) {
        let set = master.task_changes(FRAMEWORK, self.cursor);
        self.cursor = Some(set.cursor);
        if set.full {
            self.changed = Changed::All;
            self.views = set.views.into_iter().map(|v| (v.id.clone(), v)).collect();
            return;
        }
        for id in set.removed {
            if self.views.remove(&id).is_some() {
                self.mark(&id);
            }
        }
        for v in set.views {
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
}

impl std::ops::Deref for TaskViews {
    type Target = Views;

    fn deref(&self) -> &Self::Target {
        &self.views
    }
}
