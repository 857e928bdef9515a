//! The order in which tasks changed: every change to a task's record (launch, status,
//! adoption, pruning) takes the next sequence number, so a scheduler that keeps copies of
//! its tasks' views asks for just the tasks changed since its cursor
//! ([`crate::Master::task_changes`]) instead of copying them all.

use keel_model::TaskId;
use std::collections::{BTreeMap, HashMap};

/// Removals remembered; a cursor from before the oldest forgotten one must start over.
const REMOVALS_KEPT: usize = 65_536;

/// Sequence numbers of the latest change of every task, and of recent removals.
#[derive(Debug, Default)]
pub(crate) struct TaskChanges {
    head: u64,
    seq_of: HashMap<TaskId, u64>,
    changed: BTreeMap<u64, TaskId>,
    removed: BTreeMap<u64, TaskId>,
    /// The newest removal no longer remembered.
    forgotten: u64,
}

/// The tasks changed and removed after a cursor, oldest change first.
pub(crate) struct Since<'a> {
    pub changed: Vec<&'a TaskId>,
    pub removed: Vec<&'a TaskId>,
}

impl TaskChanges {
    /// Records that task `id` appeared or changed.
    pub fn touch(&mut self, id: &TaskId) {
        self.head += 1;
        if let Some(old) = self.seq_of.insert(id.clone(), self.head) {
            self.changed.remove(&old);
        }
        self.changed.insert(self.head, id.clone());
    }

    /// Records that task `id` is gone.
    pub fn remove(&mut self, id: &TaskId) {
        if let Some(old) = self.seq_of.remove(id) {
            self.changed.remove(&old);
        }
        self.head += 1;
        self.removed.insert(self.head, id.clone());
        while self.removed.len() > REMOVALS_KEPT {
            if let Some((seq, _)) = self.removed.pop_first() {
                self.forgotten = seq;
            }
        }
    }

    /// The cursor that covers every change so far.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// What changed after `cursor`; `None` when removals after it were forgotten.
    pub fn since(&self, cursor: u64) -> Option<Since<'_>> {
        if cursor < self.forgotten {
            return None;
        }
        let after = cursor.saturating_add(1);
        Some(Since {
            changed: self.changed.range(after..).map(|(_, id)| id).collect(),
            removed: self.removed.range(after..).map(|(_, id)| id).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> TaskId {
        TaskId::new(s).unwrap()
    }

    fn check(c: &TaskChanges, cursor: u64, expect: Option<(&[&str], &[&str])>) {
        let got = c.since(cursor).map(|s| {
            let names = |v: Vec<&TaskId>| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
            (names(s.changed), names(s.removed))
        });
        let want = expect.map(|(a, b)| {
            let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            (owned(a), owned(b))
        });
        assert_eq!(got, want);
    }

    #[test]
    fn a_cursor_sees_each_task_once_at_its_latest_change() {
        let mut c = TaskChanges::default();
        c.touch(&id("a"));
        c.touch(&id("b"));
        let cursor = c.head();
        c.touch(&id("a"));
        c.touch(&id("c"));
        c.remove(&id("b"));
        check(&c, 0, Some((&["a", "c"], &["b"])));
        check(&c, cursor, Some((&["a", "c"], &["b"])));
        check(&c, c.head(), Some((&[], &[])));
    }

    #[test]
    fn a_cursor_older_than_a_forgotten_removal_starts_over() {
        let mut c = TaskChanges::default();
        for i in 0..=REMOVALS_KEPT {
            let t = id(&format!("t{i}"));
            c.touch(&t);
            c.remove(&t);
        }
        assert!(c.since(0).is_none());
        assert!(c.since(c.head()).is_some());
    }
}
