//! The write logic, written once for every backend: transactions, leases and compaction as
//! changes to [`WriteTables`], returning the events to publish.
//!
//! Invariant: every check that can fail (lease liveness, revisions) runs before the first
//! mutation, so a failed write leaves the tables untouched even on a backend without rollback.

use crate::error::StoreError;
use crate::kv::{KeyValue, LeaseId, Revision};
use crate::tables::{Meta, WriteTables};
use crate::txn::{Op, Txn, TxnOutcome};
use crate::watch::WatchEvent;
use std::time::Duration;

/// Runs `txn`; `live` says whether a lease may take new keys.
pub(crate) fn txn(
    t: &mut dyn WriteTables,
    txn: &Txn,
    live: &dyn Fn(LeaseId) -> bool,
) -> Result<(TxnOutcome, Vec<WatchEvent>), StoreError> {
    let mut meta = t.meta()?;
    let succeeded = compares_hold(t, &txn.compares)?;
    let ops = if succeeded {
        &txn.success
    } else {
        &txn.failure
    };
    check_leases(ops, live)?;
    let mut batch = Batch::new(meta.revision + 1);
    let mut gets = Vec::new();
    for op in ops {
        match op {
            Op::Put { key, value, lease } => batch.put(t, key, value, *lease)?,
            Op::Delete { key } => batch.delete(t, key)?,
            Op::Get { key } => gets.push(t.kv_get(key)?),
        }
    }
    let revision = batch.finish(t, &mut meta)?;
    Ok((
        TxnOutcome {
            succeeded,
            revision,
            gets,
        },
        batch.events,
    ))
}

/// Whether `txn` failing with `e` left the tables as they were (it failed before its first
/// mutation), so the other transactions of its group commit can still be committed.
pub(crate) fn leaves_tables_untouched(e: &StoreError) -> bool {
    matches!(e, StoreError::LeaseNotFound(_))
}

fn compares_hold(
    t: &dyn WriteTables,
    compares: &[(String, crate::Expect)],
) -> Result<bool, StoreError> {
    for (key, expect) in compares {
        if !expect.holds(t.kv_get(key)?.as_ref()) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn check_leases(ops: &[Op], live: &dyn Fn(LeaseId) -> bool) -> Result<(), StoreError> {
    for op in ops {
        if let Op::Put {
            lease: Some(id), ..
        } = op
            && !live(*id)
        {
            return Err(StoreError::LeaseNotFound(*id));
        }
    }
    Ok(())
}

/// Allocates a lease id and records its TTL.
pub(crate) fn grant(t: &mut dyn WriteTables, ttl: Duration) -> Result<LeaseId, StoreError> {
    let mut meta = t.meta()?;
    let id = LeaseId(meta.next_lease);
    meta.next_lease += 1;
    t.set_meta(&meta)?;
    t.lease_put(id, ttl)?;
    Ok(id)
}

/// Deletes lease `id` and its keys, all at one revision.
pub(crate) fn revoke(t: &mut dyn WriteTables, id: LeaseId) -> Result<Vec<WatchEvent>, StoreError> {
    if t.lease_ttl(id)?.is_none() {
        return Err(StoreError::LeaseNotFound(id));
    }
    let mut meta = t.meta()?;
    let mut batch = Batch::new(meta.revision + 1);
    for key in t.lease_keys(id)? {
        batch.delete(t, &key)?;
    }
    t.lease_remove(id)?;
    batch.finish(t, &mut meta)?;
    Ok(batch.events)
}

/// Drops history below `up_to`.
pub(crate) fn compact(t: &mut dyn WriteTables, up_to: Revision) -> Result<(), StoreError> {
    let mut meta = t.meta()?;
    if up_to > meta.revision {
        return Err(StoreError::FutureRevision {
            requested: up_to,
            current: meta.revision,
        });
    }
    if up_to <= meta.compacted {
        return Ok(());
    }
    t.log_prune(up_to)?;
    meta.compacted = up_to;
    t.set_meta(&meta)
}

/// The writes of one revision, and the events they produce.
struct Batch {
    revision: Revision,
    events: Vec<WatchEvent>,
}

impl Batch {
    fn new(revision: Revision) -> Self {
        Self {
            revision,
            events: Vec::new(),
        }
    }

    fn put(
        &mut self,
        t: &mut dyn WriteTables,
        key: &str,
        value: &[u8],
        lease: Option<LeaseId>,
    ) -> Result<(), StoreError> {
        let prev = t.kv_get(key)?;
        let old_lease = prev.as_ref().and_then(|p| p.lease);
        if old_lease != lease {
            if let Some(old) = old_lease {
                t.lease_detach(old, key)?;
            }
            if let Some(new) = lease {
                t.lease_attach(new, key)?;
            }
        }
        let kv = KeyValue {
            key: key.to_string(),
            value: value.to_vec(),
            create_revision: prev.as_ref().map_or(self.revision, |p| p.create_revision),
            mod_revision: self.revision,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            lease,
        };
        t.kv_put(&kv)?;
        self.log(t, WatchEvent::put(kv))
    }

    /// Deleting an absent key does nothing.
    fn delete(&mut self, t: &mut dyn WriteTables, key: &str) -> Result<(), StoreError> {
        let Some(prev) = t.kv_get(key)? else {
            return Ok(());
        };
        if let Some(lease) = prev.lease {
            t.lease_detach(lease, key)?;
        }
        t.kv_remove(key)?;
        self.log(t, WatchEvent::delete(key.to_string(), self.revision))
    }

    fn log(&mut self, t: &mut dyn WriteTables, event: WatchEvent) -> Result<(), StoreError> {
        let seq = u32::try_from(self.events.len()).map_err(|_| StoreError::Corrupt {
            key: event.kv.key.clone(),
            reason: format!(
                "more than {} changes in revision {}",
                u32::MAX,
                self.revision
            ),
        })?;
        t.log_append(seq, &event)?;
        self.events.push(event);
        Ok(())
    }

    /// Bumps the revision if anything changed; returns the store's revision afterwards.
    fn finish(&self, t: &mut dyn WriteTables, meta: &mut Meta) -> Result<Revision, StoreError> {
        if !self.events.is_empty() {
            meta.revision = self.revision;
            t.set_meta(meta)?;
        }
        Ok(meta.revision)
    }
}
