//! The narrow table interface every backend implements; the write logic in `apply` runs on it.
//!
//! Tables: `kv` (key -> current value), `log` ((revision, seq) -> event, the watch history),
//! `meta` (counters), `leases` (id -> TTL) and `lease_keys` (which keys hang off which lease).

use crate::error::StoreError;
use crate::kv::{KeyValue, LeaseId, Revision};
use crate::watch::WatchEvent;
use std::time::Duration;

/// The store's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Revision of the last committed write.
    pub revision: Revision,
    /// History below this revision is gone.
    pub compacted: Revision,
    /// The id the next granted lease gets.
    pub next_lease: u64,
}

impl Default for Meta {
    fn default() -> Self {
        Self {
            revision: 0,
            compacted: 0,
            next_lease: 1,
        }
    }
}

pub(crate) trait ReadTables {
    fn kv_get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;
    /// Keys starting with `prefix`, sorted.
    fn kv_list(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError>;
    /// Logged events with revision `>= from` on keys starting with `prefix`, in order.
    fn log_from(&self, from: Revision, prefix: &str) -> Result<Vec<WatchEvent>, StoreError>;
    fn meta(&self) -> Result<Meta, StoreError>;
    fn lease_ttl(&self, id: LeaseId) -> Result<Option<Duration>, StoreError>;
    fn leases(&self) -> Result<Vec<(LeaseId, Duration)>, StoreError>;
    /// Keys attached to `id`, sorted.
    fn lease_keys(&self, id: LeaseId) -> Result<Vec<String>, StoreError>;
}

/// Mutations. A backend makes everything done through one `WriteTables` value atomic.
pub(crate) trait WriteTables: ReadTables {
    fn kv_put(&mut self, kv: &KeyValue) -> Result<(), StoreError>;
    fn kv_remove(&mut self, key: &str) -> Result<(), StoreError>;
    /// Appends `event` as the `seq`th event of its revision.
    fn log_append(&mut self, seq: u32, event: &WatchEvent) -> Result<(), StoreError>;
    /// Drops logged events with revision `< before`.
    fn log_prune(&mut self, before: Revision) -> Result<(), StoreError>;
    fn set_meta(&mut self, meta: &Meta) -> Result<(), StoreError>;
    fn lease_put(&mut self, id: LeaseId, ttl: Duration) -> Result<(), StoreError>;
    fn lease_remove(&mut self, id: LeaseId) -> Result<(), StoreError>;
    fn lease_attach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError>;
    fn lease_detach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError>;
}

/// A storage engine: runs reads on a consistent snapshot and writes atomically.
pub(crate) trait Backend: Send + Sync {
    fn read<R>(
        &self,
        f: impl FnOnce(&dyn ReadTables) -> Result<R, StoreError>,
    ) -> Result<R, StoreError>;

    /// Runs `f` in one transaction: committed durably if `f` succeeds, discarded if it fails.
    fn write<R>(
        &self,
        f: impl FnOnce(&mut dyn WriteTables) -> Result<R, StoreError>,
    ) -> Result<R, StoreError>;
}
