//! Byte layouts of stored values for on-disk backends.
//!
//! A key's value: `FORMAT, create_revision, mod_revision, version, lease (0 = none)` as
//! little-endian u64s, then the value bytes. A logged event: `FORMAT, kind, key length (u32),
//! key`, then the key's value as above. The revision lives in the log table's key.

use crate::error::StoreError;
use crate::kv::{KeyValue, LeaseId, Revision};
use crate::watch::{EventKind, WatchEvent};

const FORMAT: u8 = 1;
const HEADER: usize = 1 + 4 * 8;

pub(crate) fn encode_kv(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + kv.value.len());
    put_kv(&mut out, kv);
    out
}

fn put_kv(out: &mut Vec<u8>, kv: &KeyValue) {
    out.push(FORMAT);
    for n in [
        kv.create_revision,
        kv.mod_revision,
        kv.version,
        kv.lease.map_or(0, |l| l.0),
    ] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&kv.value);
}

pub(crate) fn decode_kv(key: &str, bytes: &[u8]) -> Result<KeyValue, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.to_string(),
        reason,
    };
    if bytes.len() < HEADER {
        return Err(corrupt(format!(
            "value is {} bytes, shorter than its header",
            bytes.len()
        )));
    }
    if bytes[0] != FORMAT {
        return Err(corrupt(format!("unknown value format {}", bytes[0])));
    }
    let n = |i: usize| {
        let at = 1 + 8 * i;
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    Ok(KeyValue {
        key: key.to_string(),
        value: bytes[HEADER..].to_vec(),
        create_revision: n(0),
        mod_revision: n(1),
        version: n(2),
        lease: Some(n(3)).filter(|l| *l != 0).map(LeaseId),
    })
}

pub(crate) fn encode_event(ev: &WatchEvent) -> Vec<u8> {
    let key = ev.kv.key.as_bytes();
    let mut out = Vec::with_capacity(6 + key.len() + HEADER + ev.kv.value.len());
    out.push(FORMAT);
    out.push(match ev.kind {
        EventKind::Put => 0,
        EventKind::Delete => 1,
    });
    // Keys longer than 4 GiB are refused by redb long before this.
    out.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(key);
    put_kv(&mut out, &ev.kv);
    out
}

pub(crate) fn decode_event(revision: Revision, bytes: &[u8]) -> Result<WatchEvent, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: format!("change log revision {revision}"),
        reason: reason.to_string(),
    };
    let (&[format, kind], rest) = bytes
        .split_first_chunk::<2>()
        .ok_or_else(|| corrupt("truncated"))?;
    if format != FORMAT {
        return Err(corrupt("unknown event format"));
    }
    let kind = match kind {
        0 => EventKind::Put,
        1 => EventKind::Delete,
        _ => return Err(corrupt("unknown event kind")),
    };
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("truncated"))?;
    let len = u32::from_le_bytes(*len) as usize;
    let key = rest.get(..len).ok_or_else(|| corrupt("truncated key"))?;
    let key = std::str::from_utf8(key).map_err(|_| corrupt("key is not utf-8"))?;
    let kv = decode_kv(key, &rest[len..])?;
    Ok(WatchEvent { kind, kv, revision })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(lease: Option<LeaseId>) -> KeyValue {
        KeyValue {
            key: "/apps/é".into(),
            value: b"hello".to_vec(),
            create_revision: 3,
            mod_revision: 9,
            version: 4,
            lease,
        }
    }

    #[test]
    fn kv_round_trips() {
        for lease in [None, Some(LeaseId(7))] {
            let kv = kv(lease);
            assert_eq!(decode_kv(&kv.key, &encode_kv(&kv)).ok(), Some(kv));
        }
    }

    #[test]
    fn events_round_trip() {
        for ev in [
            WatchEvent::put(kv(Some(LeaseId(2)))),
            WatchEvent::delete("/x".into(), 9),
        ] {
            assert_eq!(decode_event(9, &encode_event(&ev)).ok(), Some(ev));
        }
    }

    #[test]
    fn garbage_is_corrupt_naming_the_key() {
        let err = decode_kv("/k", &[1, 2, 3]).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("corrupt entry for key \"/k\": value is 3 bytes, shorter than its header")
        );
        let bytes = encode_event(&WatchEvent::delete("/x".into(), 9));
        assert!(decode_event(9, &bytes[..8]).is_err());
        assert!(decode_event(9, &bytes[..1]).is_err());
    }
}
