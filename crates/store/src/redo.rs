//! Redo records: the table mutations of one backend transaction as bytes, recorded while
//! they are made ([`Recorder`]) and made again from the bytes ([`replay`]). The write-ahead
//! log stores one per group commit.
//!
//! Each mutation is a tag byte and its fields: numbers as little-endian u64 (u32 for a log
//! seq), strings and byte strings as a u32 length and the bytes; values and events in the
//! layouts of `codec`.

use crate::codec;
use crate::error::StoreError;
use crate::kv::{KeyValue, LeaseId, Revision};
use crate::tables::{Meta, ReadTables, WriteTables};
use crate::watch::WatchEvent;
use std::time::Duration;

const KV_PUT: u8 = 1;
const KV_REMOVE: u8 = 2;
const LOG_APPEND: u8 = 3;
const LOG_PRUNE: u8 = 4;
const SET_META: u8 = 5;
const LEASE_PUT: u8 = 6;
const LEASE_REMOVE: u8 = 7;
const LEASE_ATTACH: u8 = 8;
const LEASE_DETACH: u8 = 9;

/// Tables that record every mutation made through them into `out`, then make it.
pub(crate) struct Recorder<'a> {
    pub(crate) tables: &'a mut dyn WriteTables,
    pub(crate) out: &'a mut Vec<u8>,
}

impl Recorder<'_> {
    fn u64(&mut self, n: u64) {
        self.out.extend_from_slice(&n.to_le_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(b);
    }
}

impl ReadTables for Recorder<'_> {
    fn kv_get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.tables.kv_get(key)
    }
    fn kv_list(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
        self.tables.kv_list(prefix)
    }
    fn log_from(&self, from: Revision, prefix: &str) -> Result<Vec<WatchEvent>, StoreError> {
        self.tables.log_from(from, prefix)
    }
    fn meta(&self) -> Result<Meta, StoreError> {
        self.tables.meta()
    }
    fn lease_ttl(&self, id: LeaseId) -> Result<Option<Duration>, StoreError> {
        self.tables.lease_ttl(id)
    }
    fn leases(&self) -> Result<Vec<(LeaseId, Duration)>, StoreError> {
        self.tables.leases()
    }
    fn lease_keys(&self, id: LeaseId) -> Result<Vec<String>, StoreError> {
        self.tables.lease_keys(id)
    }
}

impl WriteTables for Recorder<'_> {
    fn kv_put(&mut self, kv: &KeyValue) -> Result<(), StoreError> {
        self.out.push(KV_PUT);
        self.bytes(kv.key.as_bytes());
        self.bytes(&codec::encode_kv(kv));
        self.tables.kv_put(kv)
    }

    fn kv_remove(&mut self, key: &str) -> Result<(), StoreError> {
        self.out.push(KV_REMOVE);
        self.bytes(key.as_bytes());
        self.tables.kv_remove(key)
    }

    fn log_append(&mut self, seq: u32, event: &WatchEvent) -> Result<(), StoreError> {
        self.out.push(LOG_APPEND);
        self.out.extend_from_slice(&seq.to_le_bytes());
        self.u64(event.revision);
        self.bytes(&codec::encode_event(event));
        self.tables.log_append(seq, event)
    }

    fn log_prune(&mut self, before: Revision) -> Result<(), StoreError> {
        self.out.push(LOG_PRUNE);
        self.u64(before);
        self.tables.log_prune(before)
    }

    fn set_meta(&mut self, meta: &Meta) -> Result<(), StoreError> {
        self.out.push(SET_META);
        self.u64(meta.revision);
        self.u64(meta.compacted);
        self.u64(meta.next_lease);
        self.tables.set_meta(meta)
    }

    fn lease_put(&mut self, id: LeaseId, ttl: Duration) -> Result<(), StoreError> {
        self.out.push(LEASE_PUT);
        self.u64(id.0);
        self.u64(u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX));
        self.tables.lease_put(id, ttl)
    }

    fn lease_remove(&mut self, id: LeaseId) -> Result<(), StoreError> {
        self.out.push(LEASE_REMOVE);
        self.u64(id.0);
        self.tables.lease_remove(id)
    }

    fn lease_attach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        self.out.push(LEASE_ATTACH);
        self.u64(id.0);
        self.bytes(key.as_bytes());
        self.tables.lease_attach(id, key)
    }

    fn lease_detach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        self.out.push(LEASE_DETACH);
        self.u64(id.0);
        self.bytes(key.as_bytes());
        self.tables.lease_detach(id, key)
    }
}

/// A cursor over one record's bytes; every read fails with `Corrupt` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    seq: u64,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, reason: &str) -> StoreError {
        StoreError::Corrupt {
            key: format!("write-ahead log record {}", self.seq),
            reason: reason.to_string(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.bytes.len() < n {
            return Err(self.corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        let mut w = [0u8; 4];
        w.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(w))
    }

    fn u64(&mut self) -> Result<u64, StoreError> {
        let mut w = [0u8; 8];
        w.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(w))
    }

    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'a str, StoreError> {
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| self.corrupt("key is not utf-8"))
    }
}

/// Makes the mutations recorded in `record` (the `seq`th) again on `t`, in order.
pub(crate) fn replay(seq: u64, record: &[u8], t: &mut dyn WriteTables) -> Result<(), StoreError> {
    let mut r = Reader { bytes: record, seq };
    while !r.bytes.is_empty() {
        match r.u8()? {
            KV_PUT => {
                let key = r.str()?;
                let kv = codec::decode_kv(key, r.bytes()?)?;
                t.kv_put(&kv)?;
            }
            KV_REMOVE => t.kv_remove(r.str()?)?,
            LOG_APPEND => {
                let seq = r.u32()?;
                let revision = r.u64()?;
                let event = codec::decode_event(revision, r.bytes()?)?;
                t.log_append(seq, &event)?;
            }
            LOG_PRUNE => t.log_prune(r.u64()?)?,
            SET_META => {
                let meta = Meta {
                    revision: r.u64()?,
                    compacted: r.u64()?,
                    next_lease: r.u64()?,
                };
                t.set_meta(&meta)?;
            }
            LEASE_PUT => {
                let id = LeaseId(r.u64()?);
                t.lease_put(id, Duration::from_nanos(r.u64()?))?;
            }
            LEASE_REMOVE => t.lease_remove(LeaseId(r.u64()?))?,
            LEASE_ATTACH => {
                let id = LeaseId(r.u64()?);
                t.lease_attach(id, r.str()?)?;
            }
            LEASE_DETACH => {
                let id = LeaseId(r.u64()?);
                t.lease_detach(id, r.str()?)?;
            }
            _ => return Err(r.corrupt("unknown mutation")),
        }
    }
    Ok(())
}
