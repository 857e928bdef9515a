//! [`RedbStore`]: the durable backend, one redb file behind a write-ahead log
//! (`<file>.wal`, see `wal`). Every acknowledged write is durable before the call returns:
//! its group commit's redo record (`redo`) was appended to the log and `fdatasync`ed, and
//! only then committed to redb without an fsync of its own (`Durability::None`), so a reader
//! never sees a write that a crash could take back. Every [`CHECKPOINT_EVERY`] group commits,
//! or when the log is full, a group is committed to redb durably instead, with the seq of
//! the last record it holds (`meta` key `wal_seq`), and the log starts over. Opening the
//! store replays the records past that seq (redb itself comes back at its last durable
//! commit after a crash) and checkpoints them.
//!
//! Tables: `kv` (key -> encoded value), `log` ((revision, seq) -> encoded event, the watch
//! history that survives restarts), `meta` (revision, compacted, next_lease, wal_seq),
//! `leases` (id -> TTL in nanoseconds) and `lease_keys` ((lease, key) -> ()).

use crate::codec;
use crate::engine::{Engine, forward_store};
use crate::error::StoreError;
use crate::kv::{KeyValue, LeaseId, Revision};
use crate::redo;
use crate::tables::{Backend, Meta, ReadTables, WriteTables};
use crate::wal::Wal;
use crate::watch::WatchEvent;
use keel_clock::Clock;
use redb::{
    Database, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, Table,
    TableDefinition, WriteTransaction,
};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const LOG: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LEASES: TableDefinition<u64, u64> = TableDefinition::new("leases");
const LEASE_KEYS: TableDefinition<(u64, &str), ()> = TableDefinition::new("lease_keys");

const META_REVISION: &str = "revision";
const META_COMPACTED: &str = "compacted";
const META_NEXT_LEASE: &str = "next_lease";
/// The seq of the last write-ahead log record the redb file holds.
const META_WAL_SEQ: &str = "wal_seq";

/// Size of each store's write-ahead log file, zero-filled when it is created.
const WAL_BYTES: u64 = 8 << 20;
/// Group commits logged between two checkpoints (durable redb commits).
pub(crate) const CHECKPOINT_EVERY: u64 = 1024;

/// A durable [`Store`](crate::Store) in one redb file and its write-ahead log.
pub struct RedbStore {
    engine: Engine<RedbBackend>,
}

impl RedbStore {
    /// Opens the store at `path`, creating the file (and its parent directories) if missing,
    /// and replays its write-ahead log (`path` + `.wal`). Leases found in the file each start
    /// a fresh TTL on `clock`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let backend = RedbBackend::open(path)?;
        Ok(Self {
            engine: Engine::open(backend, clock)?,
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.engine.backend().path
    }

    /// Durable commits (each one fsync: a log append, or a checkpoint) made since the store
    /// was opened. Concurrent writes share commits, so this may be far below the number of
    /// writes.
    pub fn durable_commits(&self) -> u64 {
        self.engine.backend().commits.load(Ordering::Relaxed)
    }

    /// Write-ahead log records replayed when the store was opened.
    pub fn replayed(&self) -> u64 {
        self.engine.backend().replayed
    }
}

forward_store!(RedbStore);

struct RedbBackend {
    db: Database,
    path: PathBuf,
    commits: AtomicU64,
    replayed: u64,
    wal: Mutex<WalState>,
}

struct WalState {
    log: Wal,
    /// The seq of the last record written (or checkpointed).
    seq: u64,
    /// Records appended since the last checkpoint.
    since_checkpoint: u64,
    /// Set once the log or redb failed after a record was written: the store then refuses
    /// writes, since what is durable and what redb holds may differ until a reopen replays.
    failed: Option<String>,
}

/// The write-ahead log of the redb file at `path`.
fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".wal");
    path.with_file_name(name)
}

impl RedbBackend {
    fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err(path, "create parent directory"))?;
        }
        // A log without its redb file belongs to a store that was deleted: its records must
        // not be replayed into (or mixed with the records of) a new one.
        let log_path = wal_path(path);
        if !path.exists() {
            match std::fs::remove_file(&log_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::backend(
                        &log_path,
                        "remove stale write-ahead log",
                        e,
                    ));
                }
                _ => {}
            }
        }
        let db = Database::create(path).map_err(err(path, "open database"))?;
        let log =
            Wal::open(&log_path, WAL_BYTES).map_err(err(&log_path, "open write-ahead log"))?;
        let mut backend = Self {
            db,
            path: path.to_path_buf(),
            commits: AtomicU64::new(0),
            replayed: 0,
            wal: Mutex::new(WalState {
                log,
                seq: 0,
                since_checkpoint: 0,
                failed: None,
            }),
        };
        backend.create_tables()?;
        backend.replayed = backend.replay()?;
        Ok(backend)
    }

    /// Creates every table, so read transactions can open them all.
    fn create_tables(&self) -> Result<(), StoreError> {
        let txn = self.begin_write(Durability::Immediate)?;
        drop(WriteSet::open(&txn, &self.path)?);
        txn.commit().map_err(err(&self.path, "commit"))
    }

    fn begin_write(&self, durability: Durability) -> Result<WriteTransaction, StoreError> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(err(&self.path, "begin write"))?;
        txn.set_durability(durability)
            .map_err(err(&self.path, "set durability"))?;
        Ok(txn)
    }

    fn lock_wal(&self) -> MutexGuard<'_, WalState> {
        self.wal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the log's records past the file's checkpoint again, in one durable commit, and
    /// starts the log over; returns how many there were.
    fn replay(&self) -> Result<u64, StoreError> {
        let mut wal = self.lock_wal();
        let log_path = wal.log.path().to_path_buf();
        let checkpoint = {
            let txn = self
                .db
                .begin_read()
                .map_err(err(&self.path, "begin read"))?;
            let meta = txn
                .open_table(META)
                .map_err(err(&self.path, "open table"))?;
            let seq = meta
                .get(META_WAL_SEQ)
                .map_err(err(&self.path, "read meta"))?;
            seq.map_or(0, |v| v.value())
        };
        let records = wal
            .log
            .records()
            .map_err(err(&log_path, "read write-ahead log"))?;
        let newer: Vec<_> = records
            .into_iter()
            .filter(|(s, _)| *s > checkpoint)
            .collect();
        if let Some((first, _)) = newer.first().filter(|(s, _)| *s != checkpoint + 1) {
            return Err(StoreError::Corrupt {
                key: format!("write-ahead log {}", log_path.display()),
                reason: format!("the store holds record {checkpoint}, the log resumes at {first}"),
            });
        }
        let last = newer.last().map_or(checkpoint, |(s, _)| *s);
        if !newer.is_empty() {
            let txn = self.begin_write(Durability::Immediate)?;
            {
                let mut tables = WriteSet::open(&txn, &self.path)?;
                for (seq, record) in &newer {
                    redo::replay(*seq, record, &mut tables)?;
                }
                tables
                    .meta
                    .insert(META_WAL_SEQ, last)
                    .map_err(err(&self.path, "write meta"))?;
            }
            txn.commit()
                .map_err(err(&self.path, "commit replayed log"))?;
        }
        wal.seq = last;
        wal.log.restart();
        Ok(newer.len() as u64)
    }
}

impl Backend for RedbBackend {
    fn read<R>(
        &self,
        f: impl FnOnce(&dyn ReadTables) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let txn = self
            .db
            .begin_read()
            .map_err(err(&self.path, "begin read"))?;
        f(&ReadSet::open(&txn, &self.path)?)
    }

    fn write<R>(
        &self,
        f: impl FnOnce(&mut dyn WriteTables) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut wal = self.lock_wal();
        if let Some(why) = &wal.failed {
            return Err(StoreError::Backend(format!(
                "{} refuses writes until it is reopened: {why}",
                self.path.display()
            )));
        }
        let mut txn = self.begin_write(Durability::None)?;
        let seq = wal.seq + 1;
        let mut record = Vec::new();
        let (result, dirty) = {
            let mut tables = WriteSet::open(&txn, &self.path)?;
            let result = f(&mut redo::Recorder {
                tables: &mut tables,
                out: &mut record,
            });
            let dirty = tables.dirty;
            if dirty && result.is_ok() {
                tables
                    .meta
                    .insert(META_WAL_SEQ, seq)
                    .map_err(err(&self.path, "write meta"))?;
            }
            (result, dirty)
        };
        let value = match result {
            Ok(value) if dirty => value,
            // Nothing changed, or `f` failed: leave the file alone (and skip the fsync).
            _ => {
                txn.abort().map_err(err(&self.path, "abort"))?;
                return result;
            }
        };
        if wal.since_checkpoint < CHECKPOINT_EVERY && wal.log.fits(record.len()) {
            if let Err(e) = wal.log.append(seq, &record) {
                let e = StoreError::backend(wal.log.path(), "append to write-ahead log", e);
                wal.failed = Some(e.to_string());
                return Err(e);
            }
            // The record is durable: from here the write happened, whatever redb says.
            wal.seq = seq;
            wal.since_checkpoint += 1;
            self.commits.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = txn.commit() {
                let e = StoreError::backend(&self.path, "commit logged write", e);
                wal.failed = Some(e.to_string());
                return Err(e);
            }
        } else {
            // A checkpoint: this group and every logged one before it become durable in redb.
            txn.set_durability(Durability::Immediate)
                .map_err(err(&self.path, "set durability"))?;
            txn.commit().map_err(err(&self.path, "commit"))?;
            wal.seq = seq;
            wal.since_checkpoint = 0;
            wal.log.restart();
            self.commits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(value)
    }
}

fn err<'p, E: Display>(path: &'p Path, what: &'static str) -> impl Fn(E) -> StoreError + 'p {
    move |e| StoreError::backend(path, what, e)
}

/// The five tables, opened in one transaction; read-only or writable.
struct TableSet<'p, K, L, M, E, X> {
    path: &'p Path,
    kv: K,
    log: L,
    meta: M,
    leases: E,
    lease_keys: X,
    /// Whether anything was written (writable sets only).
    dirty: bool,
}

type ReadSet<'p> = TableSet<
    'p,
    ReadOnlyTable<&'static str, &'static [u8]>,
    ReadOnlyTable<(u64, u32), &'static [u8]>,
    ReadOnlyTable<&'static str, u64>,
    ReadOnlyTable<u64, u64>,
    ReadOnlyTable<(u64, &'static str), ()>,
>;

type WriteSet<'p, 't> = TableSet<
    'p,
    Table<'t, &'static str, &'static [u8]>,
    Table<'t, (u64, u32), &'static [u8]>,
    Table<'t, &'static str, u64>,
    Table<'t, u64, u64>,
    Table<'t, (u64, &'static str), ()>,
>;

impl<'p> ReadSet<'p> {
    fn open(txn: &ReadTransaction, path: &'p Path) -> Result<Self, StoreError> {
        let e = err(path, "open table");
        Ok(TableSet {
            path,
            kv: txn.open_table(KV).map_err(&e)?,
            log: txn.open_table(LOG).map_err(&e)?,
            meta: txn.open_table(META).map_err(&e)?,
            leases: txn.open_table(LEASES).map_err(&e)?,
            lease_keys: txn.open_table(LEASE_KEYS).map_err(&e)?,
            dirty: false,
        })
    }
}

impl<'p, 't> WriteSet<'p, 't> {
    fn open(txn: &'t WriteTransaction, path: &'p Path) -> Result<Self, StoreError> {
        let e = err(path, "open table");
        Ok(TableSet {
            path,
            kv: txn.open_table(KV).map_err(&e)?,
            log: txn.open_table(LOG).map_err(&e)?,
            meta: txn.open_table(META).map_err(&e)?,
            leases: txn.open_table(LEASES).map_err(&e)?,
            lease_keys: txn.open_table(LEASE_KEYS).map_err(&e)?,
            dirty: false,
        })
    }
}

impl<K, L, M, E, X> ReadTables for TableSet<'_, K, L, M, E, X>
where
    K: ReadableTable<&'static str, &'static [u8]>,
    L: ReadableTable<(u64, u32), &'static [u8]>,
    M: ReadableTable<&'static str, u64>,
    E: ReadableTable<u64, u64>,
    X: ReadableTable<(u64, &'static str), ()>,
{
    fn kv_get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let found = self.kv.get(key).map_err(err(self.path, "read kv"))?;
        found.map(|v| codec::decode_kv(key, v.value())).transpose()
    }

    fn kv_list(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
        let e = err(self.path, "list kv");
        let mut out = Vec::new();
        for entry in self.kv.range(prefix..).map_err(&e)? {
            let (k, v) = entry.map_err(&e)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push(codec::decode_kv(k.value(), v.value())?);
        }
        Ok(out)
    }

    fn log_from(&self, from: Revision, prefix: &str) -> Result<Vec<WatchEvent>, StoreError> {
        let e = err(self.path, "read change log");
        let mut out = Vec::new();
        for entry in self.log.range((from, 0u32)..).map_err(&e)? {
            let (k, v) = entry.map_err(&e)?;
            let event = codec::decode_event(k.value().0, v.value())?;
            if event.kv.key.starts_with(prefix) {
                out.push(event);
            }
        }
        Ok(out)
    }

    fn meta(&self) -> Result<Meta, StoreError> {
        let e = err(self.path, "read meta");
        let get = |name: &str| -> Result<Option<u64>, StoreError> {
            Ok(self.meta.get(name).map_err(&e)?.map(|v| v.value()))
        };
        let default = Meta::default();
        Ok(Meta {
            revision: get(META_REVISION)?.unwrap_or(default.revision),
            compacted: get(META_COMPACTED)?.unwrap_or(default.compacted),
            next_lease: get(META_NEXT_LEASE)?.unwrap_or(default.next_lease),
        })
    }

    fn lease_ttl(&self, id: LeaseId) -> Result<Option<Duration>, StoreError> {
        let found = self
            .leases
            .get(id.0)
            .map_err(err(self.path, "read lease"))?;
        Ok(found.map(|v| Duration::from_nanos(v.value())))
    }

    fn leases(&self) -> Result<Vec<(LeaseId, Duration)>, StoreError> {
        let e = err(self.path, "read leases");
        let mut out = Vec::new();
        for entry in self.leases.iter().map_err(&e)? {
            let (k, v) = entry.map_err(&e)?;
            out.push((LeaseId(k.value()), Duration::from_nanos(v.value())));
        }
        Ok(out)
    }

    fn lease_keys(&self, id: LeaseId) -> Result<Vec<String>, StoreError> {
        let e = err(self.path, "read lease keys");
        let mut out = Vec::new();
        for entry in self.lease_keys.range((id.0, "")..).map_err(&e)? {
            let (k, _) = entry.map_err(&e)?;
            let (lease, key) = k.value();
            if lease != id.0 {
                break;
            }
            out.push(key.to_string());
        }
        Ok(out)
    }
}

impl WriteTables for WriteSet<'_, '_> {
    fn kv_put(&mut self, kv: &KeyValue) -> Result<(), StoreError> {
        self.dirty = true;
        let value = codec::encode_kv(kv);
        self.kv
            .insert(kv.key.as_str(), value.as_slice())
            .map_err(err(self.path, "write kv"))?;
        Ok(())
    }

    fn kv_remove(&mut self, key: &str) -> Result<(), StoreError> {
        self.dirty = true;
        self.kv.remove(key).map_err(err(self.path, "delete kv"))?;
        Ok(())
    }

    fn log_append(&mut self, seq: u32, event: &WatchEvent) -> Result<(), StoreError> {
        self.dirty = true;
        let value = codec::encode_event(event);
        let e = err(self.path, "append change log");
        self.log
            .insert((event.revision, seq), value.as_slice())
            .map_err(e)?;
        Ok(())
    }

    fn log_prune(&mut self, before: Revision) -> Result<(), StoreError> {
        self.dirty = true;
        let e = err(self.path, "compact change log");
        self.log
            .retain_in(..(before, 0u32), |_, _| false)
            .map_err(e)
    }

    fn set_meta(&mut self, meta: &Meta) -> Result<(), StoreError> {
        self.dirty = true;
        let e = err(self.path, "write meta");
        for (name, value) in [
            (META_REVISION, meta.revision),
            (META_COMPACTED, meta.compacted),
            (META_NEXT_LEASE, meta.next_lease),
        ] {
            self.meta.insert(name, value).map_err(&e)?;
        }
        Ok(())
    }

    fn lease_put(&mut self, id: LeaseId, ttl: Duration) -> Result<(), StoreError> {
        self.dirty = true;
        let nanos = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
        self.leases
            .insert(id.0, nanos)
            .map_err(err(self.path, "write lease"))?;
        Ok(())
    }

    fn lease_remove(&mut self, id: LeaseId) -> Result<(), StoreError> {
        self.dirty = true;
        self.leases
            .remove(id.0)
            .map_err(err(self.path, "delete lease"))?;
        Ok(())
    }

    fn lease_attach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        self.dirty = true;
        let e = err(self.path, "attach key to lease");
        self.lease_keys.insert((id.0, key), ()).map_err(e)?;
        Ok(())
    }

    fn lease_detach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        self.dirty = true;
        let e = err(self.path, "detach key from lease");
        self.lease_keys.remove((id.0, key)).map_err(e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
