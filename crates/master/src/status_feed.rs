//! The master's feed of task statuses for the schedulers beside it (Marathon, Metronome):
//! one shared log, a sequence number per status, and a cursor per reader that it resumes
//! from. A reader that is busy for a while finds every status it did not read yet; the log
//! keeps only what some reader still needs. Only a reader more than [`FEED_CAPACITY`]
//! statuses behind loses the oldest, and those are counted ([`StatusFeed::missed`]).

use keel_model::TaskStatus;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// Statuses kept for readers at most (about 200 bytes each).
pub const FEED_CAPACITY: usize = 1 << 20;

/// The shared log of task statuses and its readers' cursors.
pub struct StatusFeed {
    inner: Mutex<Inner>,
    /// The sequence number of the newest status, for readers waiting for more.
    head: watch::Sender<u64>,
    capacity: usize,
}

struct Inner {
    /// Sequence number of `log[0]` (the first status has number 1).
    first: u64,
    log: VecDeque<TaskStatus>,
    /// Each reader's cursor: the sequence number of the last status it read.
    readers: BTreeMap<u64, u64>,
    next_reader: u64,
    missed: u64,
}

impl Inner {
    fn head(&self) -> u64 {
        self.first + self.log.len() as u64 - 1
    }

    /// Drops the statuses every reader has read.
    fn trim(&mut self) {
        let keep_from = self
            .readers
            .values()
            .min()
            .map_or(self.head() + 1, |c| c + 1);
        while self.first < keep_from && self.log.pop_front().is_some() {
            self.first += 1;
        }
    }
}

impl Default for StatusFeed {
    fn default() -> Self {
        Self::with_capacity(FEED_CAPACITY)
    }
}

impl StatusFeed {
    /// A feed keeping at most `capacity` statuses for its readers.
    pub fn with_capacity(capacity: usize) -> Self {
        StatusFeed {
            inner: Mutex::new(Inner {
                first: 1,
                log: VecDeque::new(),
                readers: BTreeMap::new(),
                next_reader: 0,
                missed: 0,
            }),
            head: watch::channel(0).0,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends statuses, in order. Without readers they are only counted.
    pub fn publish(&self, statuses: impl IntoIterator<Item = TaskStatus>) {
        let head = {
            let mut g = self.lock();
            if g.readers.is_empty() {
                let n = statuses.into_iter().count() as u64;
                g.first += n;
            } else {
                g.log.extend(statuses);
                while g.log.len() > self.capacity && g.log.pop_front().is_some() {
                    g.first += 1;
                }
            }
            g.head()
        };
        self.head.send_replace(head);
    }

    /// A reader that sees every status published from now on.
    pub fn reader(self: &Arc<Self>) -> StatusReader {
        let mut g = self.lock();
        let id = g.next_reader;
        g.next_reader += 1;
        let cursor = g.head();
        g.readers.insert(id, cursor);
        StatusReader {
            feed: self.clone(),
            id,
            head: self.head.subscribe(),
        }
    }

    /// Statuses readers lost because they fell more than the capacity behind.
    pub fn missed(&self) -> u64 {
        self.lock().missed
    }
}

/// What one read gave: the statuses after the cursor, and how many before them were lost.
#[derive(Debug, Default)]
pub struct StatusBatch {
    pub statuses: Vec<TaskStatus>,
    pub missed: u64,
}

/// One reader's cursor into the feed; dropping it lets the feed forget what it kept for it.
pub struct StatusReader {
    feed: Arc<StatusFeed>,
    id: u64,
    head: watch::Receiver<u64>,
}

impl StatusReader {
    /// Up to `max` statuses after the cursor, moving the cursor past them; empty when
    /// there is nothing new.
    pub fn try_next(&mut self, max: usize) -> StatusBatch {
        let mut g = self.feed.lock();
        let Some(&cursor) = g.readers.get(&self.id) else {
            return StatusBatch::default();
        };
        let missed = g.first.saturating_sub(cursor + 1);
        let from = (cursor + 1).max(g.first);
        let skip = (from - g.first) as usize;
        let statuses: Vec<TaskStatus> = g.log.iter().skip(skip).take(max).cloned().collect();
        let cursor = from + statuses.len() as u64 - 1;
        g.readers.insert(self.id, cursor);
        g.missed += missed;
        g.trim();
        StatusBatch { statuses, missed }
    }

    /// Waits for statuses after the cursor and returns up to `max` of them (cancel-safe:
    /// nothing is read until it returns).
    pub async fn next(&mut self, max: usize) -> StatusBatch {
        loop {
            self.head.borrow_and_update();
            let b = self.try_next(max);
            if !b.statuses.is_empty() || b.missed > 0 {
                return b;
            }
            if self.head.changed().await.is_err() {
                // The feed outlives its readers (they hold it), so this does not happen.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for StatusReader {
    fn drop(&mut self) {
        let mut g = self.feed.lock();
        g.readers.remove(&self.id);
        g.trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_model::{Source, TaskId, TaskState};

    fn status(n: usize) -> TaskStatus {
        TaskStatus {
            task_id: TaskId::new(format!("t{n}")).unwrap_or_else(|_| unreachable!()),
            state: TaskState::Running,
            source: Source::SourceExecutor,
            reason: None,
            message: None,
            agent_id: None,
            container_id: None,
            timestamp: n as f64,
            uuid: None,
            exit_code: None,
            healthy: None,
            container_ips: Vec::new(),
        }
    }

    fn ids(b: &StatusBatch) -> Vec<String> {
        b.statuses.iter().map(|s| s.task_id.to_string()).collect()
    }

    #[test]
    fn a_reader_gets_every_status_after_it_started_however_many_came_meanwhile() {
        let feed = Arc::new(StatusFeed::with_capacity(100_000));
        feed.publish([status(0)]);
        let mut slow = feed.reader();
        let mut fast = feed.reader();
        // Far more than the 4096 the broadcast channel held.
        feed.publish((1..=50_000).map(status));
        let b = fast.try_next(usize::MAX);
        assert_eq!(b.statuses.len(), 50_000);
        assert_eq!(b.missed, 0);
        let mut got = Vec::new();
        loop {
            let b = slow.try_next(7_000);
            assert_eq!(b.missed, 0);
            if b.statuses.is_empty() {
                break;
            }
            got.extend(ids(&b));
        }
        let want: Vec<String> = (1..=50_000).map(|n| format!("t{n}")).collect();
        assert_eq!(got, want);
        assert_eq!(feed.missed(), 0);
    }

    #[test]
    fn the_log_keeps_only_what_a_reader_still_needs() {
        let feed = Arc::new(StatusFeed::with_capacity(1_000));
        feed.publish((0..10).map(status));
        assert_eq!(feed.lock().log.len(), 0, "nobody reads: nothing kept");
        let mut a = feed.reader();
        let b = feed.reader();
        feed.publish((10..20).map(status));
        assert_eq!(ids(&a.try_next(3)), ["t10", "t11", "t12"]);
        assert_eq!(feed.lock().log.len(), 10, "b has read nothing yet");
        drop(b);
        assert_eq!(feed.lock().log.len(), 7);
        a.try_next(usize::MAX);
        assert_eq!(feed.lock().log.len(), 0);
    }

    #[test]
    fn a_reader_beyond_the_capacity_behind_loses_the_oldest_and_they_are_counted() {
        let feed = Arc::new(StatusFeed::with_capacity(10));
        let mut r = feed.reader();
        feed.publish((0..25).map(status));
        let b = r.try_next(usize::MAX);
        assert_eq!(b.missed, 15);
        assert_eq!(ids(&b).first().map(String::as_str), Some("t15"));
        assert_eq!(b.statuses.len(), 10);
        assert_eq!(feed.missed(), 15);
        assert_eq!(r.try_next(usize::MAX).statuses.len(), 0);
    }

    #[tokio::test]
    async fn next_waits_for_a_status() {
        let feed = Arc::new(StatusFeed::default());
        let mut r = feed.reader();
        let f = feed.clone();
        let t = tokio::spawn(async move { r.next(10).await });
        tokio::task::yield_now().await;
        f.publish([status(1)]);
        let b = t.await.unwrap_or_default();
        assert_eq!(ids(&b), ["t1"]);
    }
}
