//! The [`Store`] semantics over any [`Backend`]: write serialization, lease clocks and watch
//! fan-out. `MemStore` and `RedbStore` are thin wrappers around an `Engine`.
//!
//! Every write holds `shared` from before its backend transaction until its events are
//! published, so watchers see events in revision order, and a new watch reads history and
//! subscribes without a gap or a duplicate.
//!
//! Transactions (and so puts and deletes) are group-committed (`group`): those that arrive
//! while a commit is under way are applied one after another in the next backend
//! transaction, each at its own revision, and each caller is answered once that transaction
//! is durable. Reads never wait for a commit: they run on the backend's last snapshot.

use crate::apply;
use crate::error::StoreError;
use crate::group::CommitQueue;
use crate::kv::{Expect, KeyValue, LeaseId, Revision};
use crate::lease::LeaseClock;
use crate::tables::Backend;
use crate::txn::{Op, Txn, TxnOutcome};
use crate::watch::{Watch, WatchEvent, WatchHub};
use crate::{Store, Ticket};
use keel_clock::Clock;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub(crate) struct Engine<B> {
    backend: B,
    clock: Arc<dyn Clock>,
    shared: Mutex<Shared>,
    queue: CommitQueue<Txn, TxnResult>,
}

/// A transaction's outcome, and whether it changed anything.
type TxnResult = Result<(TxnOutcome, bool), StoreError>;

/// The answer to a transaction nothing will commit (its committer panicked, or its ticket
/// was waited for twice).
fn abandoned() -> TxnResult {
    Err(StoreError::Backend(
        "transaction abandoned: its commit panicked or it was already answered".into(),
    ))
}

#[derive(Default)]
pub(crate) struct Shared {
    leases: LeaseClock,
    hub: WatchHub,
}

impl<B: Backend> Engine<B> {
    /// Wraps `backend`, whose stored leases each start a fresh TTL now.
    pub(crate) fn open(backend: B, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let stored = backend.read(|t| t.leases())?;
        let leases = LeaseClock::restore(stored, clock.monotonic());
        Ok(Self::with_leases(backend, clock, leases))
    }

    /// Wraps a `backend` known to hold no leases.
    pub(crate) fn empty(backend: B, clock: Arc<dyn Clock>) -> Self {
        Self::with_leases(backend, clock, LeaseClock::default())
    }

    fn with_leases(backend: B, clock: Arc<dyn Clock>, leases: LeaseClock) -> Self {
        let shared = Mutex::new(Shared {
            leases,
            hub: WatchHub::default(),
        });
        Self {
            backend,
            clock,
            shared,
            queue: CommitQueue::default(),
        }
    }

    pub(crate) fn backend(&self) -> &B {
        &self.backend
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `txn` in the next group commit; also says whether it changed anything.
    fn run(&self, txn: Txn) -> TxnResult {
        self.queue
            .submit(txn, |group| self.commit_group(&group), abandoned)
    }

    fn wait_ticket(&self, ticket: Ticket) -> TxnResult {
        self.queue
            .wait(ticket.0, |group| self.commit_group(&group), abandoned)
    }

    /// Applies `group` in order, each at its own revision, in one backend transaction, then
    /// publishes the events; one result per transaction.
    fn commit_group(&self, group: &[Txn]) -> Vec<TxnResult> {
        let mut shared = self.lock();
        let now = self.clock.monotonic();
        let applied = {
            let leases = &shared.leases;
            let live = |id: LeaseId| leases.is_live(id, now);
            let together = self.backend.write(|t| {
                let mut out = Vec::with_capacity(group.len());
                for txn in group {
                    match apply::txn(t, txn, &live) {
                        Err(e) if !apply::leaves_tables_untouched(&e) => return Err(e),
                        r => out.push(r),
                    }
                }
                Ok(out)
            });
            match together {
                Ok(out) => out,
                Err(e) if group.len() == 1 => vec![Err(e)],
                // One failed midway and the backend discarded them all: run each alone, so
                // only the failing one fails.
                Err(_) => group
                    .iter()
                    .map(|txn| self.backend.write(|t| apply::txn(t, txn, &live)))
                    .collect(),
            }
        };
        let publish = |r: Result<(TxnOutcome, Vec<WatchEvent>), StoreError>| {
            r.map(|(outcome, events)| {
                shared.hub.publish(&events);
                (outcome, !events.is_empty())
            })
        };
        applied.into_iter().map(publish).collect()
    }

    /// Writers waiting for the next group commit.
    #[cfg(test)]
    pub(crate) fn queued_writes(&self) -> usize {
        self.queue.pending_len()
    }

    /// Whether a group is being committed.
    #[cfg(test)]
    pub(crate) fn commit_in_progress(&self) -> bool {
        self.queue.committing()
    }

    /// Holds off every commit while the guard lives (tests of grouping).
    #[cfg(test)]
    pub(crate) fn hold_commits(&self) -> MutexGuard<'_, Shared> {
        self.lock()
    }

    /// A put or delete of one key under `expect`; also says whether it changed anything.
    fn cas(&self, key: &str, expect: Expect, op: Op) -> Result<(TxnOutcome, bool), StoreError> {
        let mut txn = Txn::new().then(op).otherwise(Op::get(key));
        if expect != Expect::Any {
            txn = txn.when(key, expect);
        }
        let (outcome, wrote) = self.run(txn)?;
        if outcome.succeeded {
            return Ok((outcome, wrote));
        }
        let actual = outcome
            .gets
            .first()
            .and_then(|kv| kv.as_ref())
            .map(|kv| kv.mod_revision);
        Err(StoreError::CasFailed {
            key: key.to_string(),
            expected: expect.to_string(),
            actual,
        })
    }

    fn put_lease(
        &self,
        key: &str,
        value: &[u8],
        expect: Expect,
        lease: Option<LeaseId>,
    ) -> Result<Revision, StoreError> {
        let op = Op::Put {
            key: key.to_string(),
            value: value.to_vec(),
            lease,
        };
        Ok(self.cas(key, expect, op)?.0.revision)
    }

    /// Revokes `id` with `shared` already held.
    fn revoke_locked(&self, shared: &mut Shared, id: LeaseId) -> Result<(), StoreError> {
        let events = self.backend.write(|t| apply::revoke(t, id))?;
        shared.leases.remove(id);
        shared.hub.publish(&events);
        Ok(())
    }
}

impl<B: Backend> Store for Engine<B> {
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.backend.read(|t| t.kv_get(key))
    }

    fn put(&self, key: &str, value: &[u8], expect: Expect) -> Result<Revision, StoreError> {
        self.put_lease(key, value, expect, None)
    }

    fn put_with_lease(
        &self,
        key: &str,
        value: &[u8],
        expect: Expect,
        lease: LeaseId,
    ) -> Result<Revision, StoreError> {
        self.put_lease(key, value, expect, Some(lease))
    }

    fn delete(&self, key: &str, expect: Expect) -> Result<Option<Revision>, StoreError> {
        let (outcome, wrote) = self.cas(key, expect, Op::delete(key))?;
        Ok(wrote.then_some(outcome.revision))
    }

    fn list(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
        self.backend.read(|t| t.kv_list(prefix))
    }

    fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        Ok(self.run(txn)?.0)
    }

    fn submit(&self, txn: Txn) -> Ticket {
        Ticket(self.queue.enqueue(txn))
    }

    fn wait(&self, ticket: Ticket) -> Result<TxnOutcome, StoreError> {
        Ok(self.wait_ticket(ticket)?.0)
    }

    fn watch(&self, prefix: &str, from: Revision) -> Result<Watch, StoreError> {
        let mut shared = self.lock();
        let history = self.backend.read(|t| {
            let meta = t.meta()?;
            if from < meta.compacted {
                return Err(StoreError::Compacted {
                    requested: from,
                    compacted: meta.compacted,
                });
            }
            t.log_from(from, prefix)
        })?;
        Ok(shared.hub.subscribe(prefix, from, history))
    }

    fn revision(&self) -> Result<Revision, StoreError> {
        self.backend.read(|t| Ok(t.meta()?.revision))
    }

    fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, StoreError> {
        let mut shared = self.lock();
        let id = self.backend.write(|t| apply::grant(t, ttl))?;
        shared.leases.start(id, ttl, self.clock.monotonic());
        Ok(id)
    }

    fn keep_alive(&self, lease: LeaseId) -> Result<(), StoreError> {
        let mut shared = self.lock();
        if shared.leases.renew(lease, self.clock.monotonic()) {
            Ok(())
        } else {
            Err(StoreError::LeaseNotFound(lease))
        }
    }

    fn revoke_lease(&self, lease: LeaseId) -> Result<(), StoreError> {
        let mut shared = self.lock();
        self.revoke_locked(&mut shared, lease)
    }

    fn expire_leases(&self) -> Result<Vec<LeaseId>, StoreError> {
        let mut shared = self.lock();
        let expired = shared.leases.expired(self.clock.monotonic());
        for id in &expired {
            self.revoke_locked(&mut shared, *id)?;
        }
        Ok(expired)
    }

    fn compact(&self, up_to: Revision) -> Result<(), StoreError> {
        let _shared = self.lock();
        self.backend.write(|t| apply::compact(t, up_to))
    }
}

/// Implements [`Store`] for a wrapper type by forwarding to its `engine` field.
macro_rules! forward_store {
    ($ty:ty) => {
        impl $crate::Store for $ty {
            fn get(&self, key: &str) -> Result<Option<$crate::KeyValue>, $crate::StoreError> {
                self.engine.get(key)
            }
            fn put(
                &self,
                key: &str,
                value: &[u8],
                expect: $crate::Expect,
            ) -> Result<$crate::Revision, $crate::StoreError> {
                self.engine.put(key, value, expect)
            }
            fn put_with_lease(
                &self,
                key: &str,
                value: &[u8],
                expect: $crate::Expect,
                lease: $crate::LeaseId,
            ) -> Result<$crate::Revision, $crate::StoreError> {
                self.engine.put_with_lease(key, value, expect, lease)
            }
            fn delete(
                &self,
                key: &str,
                expect: $crate::Expect,
            ) -> Result<Option<$crate::Revision>, $crate::StoreError> {
                self.engine.delete(key, expect)
            }
            fn list(&self, prefix: &str) -> Result<Vec<$crate::KeyValue>, $crate::StoreError> {
                self.engine.list(prefix)
            }
            fn txn(&self, txn: $crate::Txn) -> Result<$crate::TxnOutcome, $crate::StoreError> {
                self.engine.txn(txn)
            }
            fn submit(&self, txn: $crate::Txn) -> $crate::Ticket {
                self.engine.submit(txn)
            }
            fn wait(
                &self,
                ticket: $crate::Ticket,
            ) -> Result<$crate::TxnOutcome, $crate::StoreError> {
                self.engine.wait(ticket)
            }
            fn watch(
                &self,
                prefix: &str,
                from: $crate::Revision,
            ) -> Result<$crate::Watch, $crate::StoreError> {
                self.engine.watch(prefix, from)
            }
            fn revision(&self) -> Result<$crate::Revision, $crate::StoreError> {
                self.engine.revision()
            }
            fn grant_lease(
                &self,
                ttl: std::time::Duration,
            ) -> Result<$crate::LeaseId, $crate::StoreError> {
                self.engine.grant_lease(ttl)
            }
            fn keep_alive(&self, lease: $crate::LeaseId) -> Result<(), $crate::StoreError> {
                self.engine.keep_alive(lease)
            }
            fn revoke_lease(&self, lease: $crate::LeaseId) -> Result<(), $crate::StoreError> {
                self.engine.revoke_lease(lease)
            }
            fn expire_leases(&self) -> Result<Vec<$crate::LeaseId>, $crate::StoreError> {
                self.engine.expire_leases()
            }
            fn compact(&self, up_to: $crate::Revision) -> Result<(), $crate::StoreError> {
                self.engine.compact(up_to)
            }
        }
    };
}
pub(crate) use forward_store;
