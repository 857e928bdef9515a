//! The write-ahead log in front of the redb file: one preallocated, zero-filled file of
//! CRC-checked records, each the redo of one group commit, made durable by one `fdatasync`.
//!
//! A record is `length (u32), crc32 (u32), seq (u64)`, then `length` payload bytes; the CRC
//! covers the seq and the payload. Records are appended from offset 0 and the file never
//! grows, so an append rewrites blocks that are already allocated and `fdatasync` has no
//! metadata to write: one append costs what one rewritten page costs. After a checkpoint
//! (a durable redb commit that records the last seq it holds) appends start at offset 0
//! again, over records the checkpoint already holds.
//!
//! Reading stops at the first record that is torn (short, zero, bad CRC) or whose seq does
//! not follow its predecessor's: the records behind the newest ones are older ones from
//! before a checkpoint, whose seqs are all lower.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes before a record's payload.
const HEADER: usize = 4 + 4 + 8;

/// The log file of one store.
pub(crate) struct Wal {
    file: File,
    path: PathBuf,
    capacity: u64,
    /// Where the next record goes.
    end: u64,
}

impl Wal {
    /// Opens the log at `path`, creating it zero-filled to `capacity` bytes if it is missing
    /// or shorter; an existing longer file keeps its length. Appends start at offset 0: call
    /// [`Wal::records`] first, and checkpoint what they hold before appending.
    pub(crate) fn open(path: &Path, capacity: u64) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len();
        let capacity = if len < capacity {
            zero_fill(&file, len, capacity)?;
            file.sync_all()?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            capacity
        } else {
            len
        };
        Ok(Self {
            file,
            path: path.to_path_buf(),
            capacity,
            end: 0,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The intact records from offset 0, in order, with contiguous seqs.
    pub(crate) fn records(&self) -> io::Result<Vec<(u64, Vec<u8>)>> {
        let mut bytes = vec![0u8; usize::try_from(self.capacity).unwrap_or(usize::MAX)];
        self.file.read_exact_at(&mut bytes, 0)?;
        Ok(parse(&bytes))
    }

    /// Whether a record of `payload` bytes fits behind the current end.
    pub(crate) fn fits(&self, payload: usize) -> bool {
        self.end + (HEADER + payload) as u64 <= self.capacity
    }

    /// Writes one record and makes it durable (`fdatasync`). The caller checks
    /// [`Wal::fits`] first; a record that does not fit is refused, and so is an empty one
    /// (it would read back as the end of the log).
    pub(crate) fn append(&mut self, seq: u64, payload: &[u8]) -> io::Result<()> {
        if payload.is_empty() || !self.fits(payload.len()) {
            return Err(io::Error::other(
                "write-ahead log record is empty or does not fit",
            ));
        }
        let record = encode(seq, payload);
        self.file.write_all_at(&record, self.end)?;
        self.file.sync_data()?;
        self.end += record.len() as u64;
        Ok(())
    }

    /// Starts appending at offset 0 again; only after a checkpoint holds every record.
    pub(crate) fn restart(&mut self) {
        self.end = 0;
    }
}

fn zero_fill(file: &File, from: u64, to: u64) -> io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK];
    let mut w = io::BufWriter::new(file);
    let mut at = from;
    std::io::Seek::seek(&mut w, io::SeekFrom::Start(from))?;
    while at < to {
        let n = usize::try_from(to - at).unwrap_or(CHUNK).min(CHUNK);
        w.write_all(&zeros[..n])?;
        at += n as u64;
    }
    w.flush()
}

fn encode(seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc(seq, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn crc(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn parse(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut at = 0usize;
    while let Some(head) = bytes.get(at..at + HEADER) {
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&head[i..i + 4]);
            u32::from_le_bytes(w)
        };
        let (len, sum) = (word(0) as usize, word(4));
        let mut s = [0u8; 8];
        s.copy_from_slice(&head[8..16]);
        let seq = u64::from_le_bytes(s);
        if len == 0 {
            break;
        }
        let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        if crc(seq, payload) != sum {
            break;
        }
        if out.last().is_some_and(|(prev, _)| seq != prev + 1) {
            break;
        }
        out.push((seq, payload.to_vec()));
        at += HEADER + len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal(dir: &Path, cap: u64) -> Wal {
        Wal::open(&dir.join("w.wal"), cap).unwrap()
    }

    #[test]
    fn records_come_back_in_order_and_the_file_keeps_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = wal(dir.path(), 4096);
        w.append(7, b"seven").unwrap();
        assert!(
            w.append(8, b"").is_err(),
            "an empty record would read as the end"
        );
        drop(w);
        let w = wal(dir.path(), 4096);
        assert_eq!(std::fs::metadata(w.path()).unwrap().len(), 4096);
        assert_eq!(w.records().unwrap()[0], (7, b"seven".to_vec()));
    }

    #[test]
    fn reading_stops_at_a_torn_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = wal(dir.path(), 4096);
        for seq in 1..=3 {
            w.append(seq, format!("record {seq}").as_bytes()).unwrap();
        }
        // Tear the third record: flip a payload byte.
        let third = 2 * (HEADER + 8) as u64 + HEADER as u64;
        w.file.write_all_at(b"X", third).unwrap();
        let seqs: Vec<u64> = w.records().unwrap().into_iter().map(|r| r.0).collect();
        assert_eq!(seqs, vec![1, 2]);
    }

    #[test]
    fn after_a_restart_older_records_behind_the_new_ones_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = wal(dir.path(), 4096);
        for seq in 1..=5 {
            w.append(seq, b"old-record").unwrap();
        }
        w.restart();
        // Same length as the old ones: the next header read is an intact older record.
        w.append(6, b"new-record").unwrap();
        let seqs: Vec<u64> = w.records().unwrap().into_iter().map(|r| r.0).collect();
        assert_eq!(seqs, vec![6]);
    }

    #[test]
    fn a_record_that_does_not_fit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = wal(dir.path(), 64);
        assert!(w.fits(64 - HEADER));
        assert!(!w.fits(64 - HEADER + 1));
        assert!(w.append(1, &[1u8; 60]).is_err());
        w.append(1, &[1u8; 40]).unwrap();
        assert!(!w.fits(40));
    }
}
