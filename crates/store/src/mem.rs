//! [`MemStore`]: the in-memory backend, for unit tests of other crates. Same semantics as
//! `RedbStore` (both run the conformance suite), nothing survives a drop.

use crate::engine::{Engine, forward_store};
use crate::error::StoreError;
use crate::kv::{KeyValue, LeaseId, Revision};
use crate::tables::{Backend, Meta, ReadTables, WriteTables};
use crate::watch::WatchEvent;
use keel_clock::Clock;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// An in-memory [`Store`](crate::Store).
pub struct MemStore {
    engine: Engine<MemBackend>,
}

impl MemStore {
    /// An empty store whose leases run on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            engine: Engine::empty(MemBackend::default(), clock),
        }
    }
}

forward_store!(MemStore);

#[derive(Default)]
struct MemBackend {
    tables: RwLock<MemTables>,
}

impl Backend for MemBackend {
    fn read<R>(
        &self,
        f: impl FnOnce(&dyn ReadTables) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        f(&*self.tables.read().unwrap_or_else(|e| e.into_inner()))
    }

    // No rollback is needed: `apply` checks everything before its first mutation, and these
    // tables never fail.
    fn write<R>(
        &self,
        f: impl FnOnce(&mut dyn WriteTables) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        f(&mut *self.tables.write().unwrap_or_else(|e| e.into_inner()))
    }
}

#[derive(Default)]
struct MemTables {
    kv: BTreeMap<String, KeyValue>,
    log: BTreeMap<(Revision, u32), WatchEvent>,
    meta: Meta,
    leases: BTreeMap<LeaseId, Duration>,
    lease_keys: BTreeSet<(LeaseId, String)>,
}

impl ReadTables for MemTables {
    fn kv_get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        Ok(self.kv.get(key).cloned())
    }

    fn kv_list(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
        let from = self
            .kv
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded));
        Ok(from
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, kv)| kv.clone())
            .collect())
    }

    fn log_from(&self, from: Revision, prefix: &str) -> Result<Vec<WatchEvent>, StoreError> {
        let events = self.log.range((from, 0)..).map(|(_, ev)| ev);
        Ok(events
            .filter(|ev| ev.kv.key.starts_with(prefix))
            .cloned()
            .collect())
    }

    fn meta(&self) -> Result<Meta, StoreError> {
        Ok(self.meta)
    }

    fn lease_ttl(&self, id: LeaseId) -> Result<Option<Duration>, StoreError> {
        Ok(self.leases.get(&id).copied())
    }

    fn leases(&self) -> Result<Vec<(LeaseId, Duration)>, StoreError> {
        Ok(self.leases.iter().map(|(id, ttl)| (*id, *ttl)).collect())
    }

    fn lease_keys(&self, id: LeaseId) -> Result<Vec<String>, StoreError> {
        let from = self.lease_keys.range((id, String::new())..);
        Ok(from
            .take_while(|(l, _)| *l == id)
            .map(|(_, k)| k.clone())
            .collect())
    }
}

impl WriteTables for MemTables {
    fn kv_put(&mut self, kv: &KeyValue) -> Result<(), StoreError> {
        self.kv.insert(kv.key.clone(), kv.clone());
        Ok(())
    }

    fn kv_remove(&mut self, key: &str) -> Result<(), StoreError> {
        self.kv.remove(key);
        Ok(())
    }

    fn log_append(&mut self, seq: u32, event: &WatchEvent) -> Result<(), StoreError> {
        self.log.insert((event.revision, seq), event.clone());
        Ok(())
    }

    fn log_prune(&mut self, before: Revision) -> Result<(), StoreError> {
        self.log = self.log.split_off(&(before, 0));
        Ok(())
    }

    fn set_meta(&mut self, meta: &Meta) -> Result<(), StoreError> {
        self.meta = *meta;
        Ok(())
    }

    fn lease_put(&mut self, id: LeaseId, ttl: Duration) -> Result<(), StoreError> {
        self.leases.insert(id, ttl);
        Ok(())
    }

    fn lease_remove(&mut self, id: LeaseId) -> Result<(), StoreError> {
        self.leases.remove(&id);
        Ok(())
    }

    fn lease_attach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        self.lease_keys.insert((id, key.to_string()));
        Ok(())
    }

    fn lease_detach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        self.lease_keys.remove(&(id, key.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_clock::ManualClock;

    fn with_mem(case: crate::conformance::Case) {
        case(&|clock: Arc<ManualClock>| Box::new(MemStore::new(clock)) as Box<dyn crate::Store>);
    }

    crate::conformance_tests!(with_mem);
}
