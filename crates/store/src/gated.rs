//! `GatedStore`: a [`MemStore`] whose commits wait while its gate is closed, a disk that is
//! slow on demand, for tests of other crates that must show no lock is held across a commit.

use crate::{
    Expect, KeyValue, LeaseId, MemStore, Revision, Store, StoreError, Ticket, Txn, TxnOutcome,
    Watch,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// A [`MemStore`] behind a gate: writes and waits for durability block while it is closed;
/// reads never do. Counts the transactions submitted.
pub struct GatedStore {
    inner: MemStore,
    open: Mutex<bool>,
    opened: Condvar,
    submitted: AtomicUsize,
}

impl GatedStore {
    /// `inner` behind an open gate.
    pub fn new(inner: MemStore) -> Self {
        Self {
            inner,
            open: Mutex::new(true),
            opened: Condvar::new(),
            submitted: AtomicUsize::new(0),
        }
    }

    /// Opens or closes the gate; opening releases every waiting writer.
    pub fn set_open(&self, open: bool) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = open;
        self.opened.notify_all();
    }

    /// Transactions submitted so far (by `txn` or `submit`).
    pub fn submitted(&self) -> usize {
        self.submitted.load(Ordering::SeqCst)
    }

    fn pass(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            open = self.opened.wait(open).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Store for GatedStore {
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &[u8], expect: Expect) -> Result<Revision, StoreError> {
        self.pass();
        self.inner.put(key, value, expect)
    }
    fn put_with_lease(
        &self,
        key: &str,
        value: &[u8],
        expect: Expect,
        lease: LeaseId,
    ) -> Result<Revision, StoreError> {
        self.pass();
        self.inner.put_with_lease(key, value, expect, lease)
    }
    fn delete(&self, key: &str, expect: Expect) -> Result<Option<Revision>, StoreError> {
        self.pass();
        self.inner.delete(key, expect)
    }
    fn list(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
        self.inner.list(prefix)
    }
    fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        self.submitted.fetch_add(1, Ordering::SeqCst);
        self.pass();
        self.inner.txn(txn)
    }
    fn submit(&self, txn: Txn) -> Ticket {
        self.submitted.fetch_add(1, Ordering::SeqCst);
        self.inner.submit(txn)
    }
    fn wait(&self, ticket: Ticket) -> Result<TxnOutcome, StoreError> {
        self.pass();
        self.inner.wait(ticket)
    }
    fn watch(&self, prefix: &str, from: Revision) -> Result<Watch, StoreError> {
        self.inner.watch(prefix, from)
    }
    fn revision(&self) -> Result<Revision, StoreError> {
        self.inner.revision()
    }
    fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, StoreError> {
        self.inner.grant_lease(ttl)
    }
    fn keep_alive(&self, lease: LeaseId) -> Result<(), StoreError> {
        self.inner.keep_alive(lease)
    }
    fn revoke_lease(&self, lease: LeaseId) -> Result<(), StoreError> {
        self.inner.revoke_lease(lease)
    }
    fn expire_leases(&self) -> Result<Vec<LeaseId>, StoreError> {
        self.inner.expire_leases()
    }
    fn compact(&self, up_to: Revision) -> Result<(), StoreError> {
        self.inner.compact(up_to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_closed_gate_holds_writes_but_not_reads() {
        let clock = Arc::new(keel_clock::ManualClock::new(0.0));
        let store = Arc::new(GatedStore::new(MemStore::new(clock)));
        store.put("/a", b"1", Expect::Any).unwrap();
        store.set_open(false);
        let writer = std::thread::spawn({
            let store = store.clone();
            move || store.put("/b", b"2", Expect::Any)
        });
        assert_eq!(
            store.get("/a").unwrap().map(|kv| kv.value),
            Some(b"1".to_vec())
        );
        std::thread::sleep(Duration::from_millis(50));
        assert!(!writer.is_finished(), "a write passed a closed gate");
        store.set_open(true);
        assert!(writer.join().unwrap().is_ok());
        assert!(store.get("/b").unwrap().is_some());
    }
}
