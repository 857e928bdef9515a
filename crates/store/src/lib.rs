//! Versioned key-value store with compare-and-set, watch and transactions; embedded redb backend.
//!
//! The model is etcd's, so an etcd backend can slot in later behind the same [`Store`] trait:
//!
//! - one global [`Revision`], bumped once per successful write or transaction (0 = empty store);
//! - every key carries `create_revision`, `mod_revision` and a `version` (puts since creation);
//! - writes take an [`Expect`] precondition (compare-and-set); [`Txn`] is etcd's If/Then/Else;
//! - a change log keyed by revision feeds [`Watch`]es, which first replay retained history and
//!   then stream live events; [`Store::compact`] drops history below a revision;
//! - leases with a TTL, measured on an injected [`keel_clock::Clock`]; revoking or expiring a
//!   lease deletes the keys attached to it.
//!
//! Backends: [`RedbStore`] (durable, the default: a redb file behind a write-ahead log whose
//! group commits each cost one `fdatasync`) and [`MemStore`] (tests of other crates;
//! [`GatedStore`] wraps it with a gate that holds commits, a disk slow on demand).
//! Both run the same write logic (`apply`) over a small table abstraction (`tables`), and both
//! run the [`conformance`] suite.
//!
//! Architecture Invariant: this crate never depends on tokio; watchers use `std::sync::mpsc`.
//! Architecture Invariant: time is read only through the injected `Clock`.

#![forbid(unsafe_code)]
// Tests may unwrap; the plain library build (also checked by clippy) may not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod apply;
mod bench;
mod codec;
pub mod conformance;
mod engine;
mod error;
mod gated;
mod group;
mod kv;
mod lease;
mod mem;
mod redb_store;
mod redo;
mod tables;
mod txn;
mod wal;
mod watch;

pub use bench::bench_commits;
pub use error::StoreError;
pub use gated::GatedStore;
pub use kv::{Expect, KeyValue, LeaseId, Revision};
pub use mem::MemStore;
pub use redb_store::RedbStore;
pub use txn::{Op, Txn, TxnOutcome};
pub use watch::{EventKind, Watch, WatchEvent};

use std::time::Duration;

/// A transaction's place in the commit queue, from [`Store::submit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a submitted transaction must be waited for"]
pub struct Ticket(u64);

/// A versioned key-value store. Object-safe: callers hold `Arc<dyn Store>`.
///
/// Every method that changes keys returns the revision it committed at. A method that changes
/// nothing (a failed compare, deleting an absent key) commits nothing and bumps no revision.
pub trait Store: Send + Sync {
    /// The current value of `key`, if any.
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Writes `key` if `expect` holds; returns the new revision.
    /// Fails with [`StoreError::CasFailed`] otherwise.
    fn put(&self, key: &str, value: &[u8], expect: Expect) -> Result<Revision, StoreError>;

    /// Like [`Store::put`], attaching the key to `lease` (revoking the lease deletes the key).
    /// Fails with [`StoreError::LeaseNotFound`] if the lease is unknown or expired.
    fn put_with_lease(
        &self,
        key: &str,
        value: &[u8],
        expect: Expect,
        lease: LeaseId,
    ) -> Result<Revision, StoreError>;

    /// Deletes `key` if `expect` holds; returns the revision of the delete, or `None` when the
    /// key was absent (and `expect` allowed that).
    fn delete(&self, key: &str, expect: Expect) -> Result<Option<Revision>, StoreError>;

    /// All keys starting with `prefix`, sorted by key. The prefix is a plain string prefix:
    /// `/a/` does not match `/ab`.
    fn list(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError>;

    /// Runs an all-or-nothing transaction; all its writes share one revision.
    fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError>;

    /// Queues `txn` behind every write queued before it and returns at once: its place in
    /// revision order is fixed now, its outcome comes from [`Store::wait`] once durable. For
    /// callers that keep in-memory state in the store's order: submit under their own lock,
    /// wait after releasing it, so no lock is held across the commit. Every ticket must be
    /// waited for (an unwaited one is committed with the next write).
    fn submit(&self, txn: Txn) -> Ticket;

    /// The outcome of a [`Store::submit`]ted transaction, once it is durable; may commit it
    /// (and the writes queued with it). Each ticket is answered once.
    fn wait(&self, ticket: Ticket) -> Result<TxnOutcome, StoreError>;

    /// Events for keys under `prefix` with revision `>= from`: retained history first, then
    /// live events. Fails with [`StoreError::Compacted`] if `from` is below the compacted
    /// revision. To follow a [`Store::list`] taken at revision `r`, watch from `r + 1`.
    fn watch(&self, prefix: &str, from: Revision) -> Result<Watch, StoreError>;

    /// The revision of the last committed write (0 for an empty store).
    fn revision(&self) -> Result<Revision, StoreError>;

    /// Creates a lease that expires `ttl` after its last keep-alive.
    fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, StoreError>;

    /// Restarts the lease's TTL. Fails with [`StoreError::LeaseNotFound`] if it is unknown or
    /// already past its deadline.
    fn keep_alive(&self, lease: LeaseId) -> Result<(), StoreError>;

    /// Deletes the lease and every key attached to it (in one revision).
    fn revoke_lease(&self, lease: LeaseId) -> Result<(), StoreError>;

    /// Revokes every lease whose TTL has passed on the store's clock; returns their ids.
    fn expire_leases(&self) -> Result<Vec<LeaseId>, StoreError>;

    /// Drops watch history below `up_to`; watching from an earlier revision then fails with
    /// [`StoreError::Compacted`]. Compacting to or below the current compaction is a no-op;
    /// `up_to` above the current revision fails with [`StoreError::FutureRevision`].
    fn compact(&self, up_to: Revision) -> Result<(), StoreError>;
}
