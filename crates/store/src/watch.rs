//! Watches: a receiver of change events, and the hub that fans committed events out to them.

use crate::error::StoreError;
use crate::kv::{KeyValue, Revision};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change to one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEvent {
    pub kind: EventKind,
    /// For a put, the key's new value. For a delete, only `key` and `mod_revision` (the
    /// delete's revision) are set; the rest is zero or empty.
    pub kv: KeyValue,
    pub revision: Revision,
}

impl WatchEvent {
    pub(crate) fn put(kv: KeyValue) -> Self {
        let revision = kv.mod_revision;
        Self {
            kind: EventKind::Put,
            kv,
            revision,
        }
    }

    pub(crate) fn delete(key: String, revision: Revision) -> Self {
        let kv = KeyValue {
            key,
            value: Vec::new(),
            create_revision: 0,
            mod_revision: revision,
            version: 0,
            lease: None,
        };
        Self {
            kind: EventKind::Delete,
            kv,
            revision,
        }
    }
}

/// A stream of [`WatchEvent`]s for the keys under one prefix, in revision order.
/// Dropping it unsubscribes.
#[derive(Debug)]
pub struct Watch {
    prefix: String,
    rx: Receiver<WatchEvent>,
    dropped: Arc<AtomicBool>,
}

impl Watch {
    /// The prefix this watch follows.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The next event, waiting at most `d`; `Ok(None)` on timeout.
    pub fn recv_timeout(&self, d: Duration) -> Result<Option<WatchEvent>, StoreError> {
        match self.rx.recv_timeout(d) {
            Ok(ev) => Ok(Some(ev)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(self.closed()),
        }
    }

    /// The next event if one is already waiting.
    pub fn try_recv(&self) -> Result<Option<WatchEvent>, StoreError> {
        match self.rx.try_recv() {
            Ok(ev) => Ok(Some(ev)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(self.closed()),
        }
    }

    fn closed(&self) -> StoreError {
        StoreError::WatchClosed {
            prefix: self.prefix.clone(),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::Relaxed);
    }
}

struct Subscriber {
    prefix: String,
    /// Live events below this revision are not wanted (a watch may start in the future).
    from: Revision,
    tx: Sender<WatchEvent>,
    dropped: Arc<AtomicBool>,
}

/// The live subscribers. Callers hold the store's write lock around `subscribe` and `publish`,
/// so a new watch sees every event exactly once: from history or live, never both.
#[derive(Default)]
pub(crate) struct WatchHub {
    subscribers: Vec<Subscriber>,
}

impl WatchHub {
    /// A watch on `prefix` from revision `from` that first yields `history`.
    pub(crate) fn subscribe(
        &mut self,
        prefix: &str,
        from: Revision,
        history: Vec<WatchEvent>,
    ) -> Watch {
        let (tx, rx) = mpsc::channel();
        for ev in history {
            // The receiver is alive: it is in our hands.
            let _ = tx.send(ev);
        }
        let dropped = Arc::new(AtomicBool::new(false));
        self.subscribers.push(Subscriber {
            prefix: prefix.to_string(),
            from,
            tx,
            dropped: dropped.clone(),
        });
        Watch {
            prefix: prefix.to_string(),
            rx,
            dropped,
        }
    }

    /// Sends committed `events` to every subscriber whose prefix matches; forgets dropped ones.
    pub(crate) fn publish(&mut self, events: &[WatchEvent]) {
        if events.is_empty() {
            return;
        }
        self.subscribers.retain(|sub| {
            if sub.dropped.load(Ordering::Relaxed) {
                return false;
            }
            events
                .iter()
                .filter(|ev| ev.revision >= sub.from && ev.kv.key.starts_with(&sub.prefix))
                .all(|ev| sub.tx.send(ev.clone()).is_ok())
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.subscribers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, rev: Revision) -> WatchEvent {
        WatchEvent::put(KeyValue {
            key: key.into(),
            value: b"v".to_vec(),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            lease: None,
        })
    }

    #[test]
    fn history_then_live_filtered_by_prefix() {
        let mut hub = WatchHub::default();
        let w = hub.subscribe("/a/", 0, vec![put("/a/1", 1)]);
        hub.publish(&[put("/ab", 2), put("/a/2", 3)]);
        let revs: Vec<_> = std::iter::from_fn(|| w.try_recv().ok().flatten())
            .map(|ev| ev.revision)
            .collect();
        assert_eq!(revs, vec![1, 3]);
    }

    #[test]
    fn live_events_before_from_are_skipped() {
        let mut hub = WatchHub::default();
        let w = hub.subscribe("", 3, vec![]);
        hub.publish(&[put("/a", 2), put("/b", 3)]);
        assert_eq!(w.try_recv().ok().flatten().map(|ev| ev.revision), Some(3));
        assert!(w.try_recv().is_ok_and(|ev| ev.is_none()));
    }

    #[test]
    fn dropped_watches_are_forgotten() {
        let mut hub = WatchHub::default();
        let w = hub.subscribe("/a/", 0, vec![]);
        let _keep = hub.subscribe("/b/", 0, vec![]);
        drop(w);
        hub.publish(&[put("/c", 1)]);
        assert_eq!(hub.len(), 1);
    }

    #[test]
    fn closed_hub_ends_the_watch() {
        let mut hub = WatchHub::default();
        let w = hub.subscribe("/a/", 0, vec![put("/a/1", 1)]);
        drop(hub);
        assert!(w.try_recv().is_ok_and(|ev| ev.is_some()));
        assert!(matches!(w.try_recv(), Err(StoreError::WatchClosed { .. })));
    }
}
