//! The task's `stdout`/`stderr` files: `RotatingFile` rolls `stdout` to `stdout.1` ..
//! `stdout.N` by size, and `pump` copies a pipe into one, flushing every write so the agent
//! can serve the file while it grows. After every rotation it rewrites `.stdout.index`
//! (`keel_api::logs::RotationIndex`: each kept file's inode and stream offset), written to a
//! temporary name and renamed, so log readers follow the stream across rotations by offset.

use crate::ExecutorError;
use keel_api::executor::LogRotation;
use keel_api::logs::{RotatedFile, RotationIndex, index_name};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// An append-only file that rotates before it would exceed `max_size_bytes`.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    rotation: LogRotation,
    file: File,
    size: u64,
    /// The stream offset of the current file's first byte.
    base: u64,
    /// `(inode, base)` of the rotated files, `path.1` first.
    rotated: Vec<(u64, u64)>,
}

impl RotatingFile {
    /// Opens (appending to) `path`.
    pub fn open(path: &Path, rotation: LogRotation) -> io::Result<Self> {
        let file = open_append(path)?;
        let md = file.metadata()?;
        let size = md.len();
        let mut me = Self {
            path: path.to_path_buf(),
            rotation,
            file,
            size,
            base: 0,
            rotated: Vec::new(),
        };
        // Reopened (a restarted executor, Docker's log copy): keep the offsets it had.
        if let Some(index) = me.read_index() {
            let mut files = index.files;
            if files.last().is_some_and(|f| f.ino == md.ino()) {
                me.base = files.pop().map(|f| f.base).unwrap_or(0);
                me.rotated = files.iter().rev().map(|f| (f.ino, f.base)).collect();
            }
        }
        me.write_index()?;
        Ok(me)
    }

    fn index_path(&self) -> PathBuf {
        let stream = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.path.with_file_name(index_name(&stream))
    }

    fn read_index(&self) -> Option<RotationIndex> {
        let text = std::fs::read(self.index_path()).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes the index of the files kept now (to a temporary file, then renamed).
    fn write_index(&self) -> io::Result<()> {
        let stream = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files: Vec<RotatedFile> = self
            .rotated
            .iter()
            .enumerate()
            .rev()
            .map(|(i, (ino, base))| RotatedFile {
                name: format!("{stream}.{}", i + 1),
                ino: *ino,
                base: *base,
            })
            .collect();
        files.push(RotatedFile {
            name: stream,
            ino: self.file.metadata()?.ino(),
            base: self.base,
        });
        let body = serde_json::to_vec(&RotationIndex { files }).map_err(io::Error::other)?;
        let index = self.index_path();
        let mut tmp = index.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &index)
    }

    /// Writes all of `buf`, rotating at the size limit (a write may be split across files).
    /// A `max_size_bytes` of 0 disables rotation.
    pub fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        let max = self.rotation.max_size_bytes;
        while !buf.is_empty() {
            if max > 0 && self.size >= max {
                self.rotate()?;
            }
            let room = if max == 0 {
                buf.len()
            } else {
                (max - self.size.min(max)) as usize
            };
            let (now, rest) = buf.split_at(room.min(buf.len()));
            self.file.write_all(now)?;
            self.size += now.len() as u64;
            buf = rest;
        }
        self.file.flush()
    }

    /// `path.N-1` → `path.N`, ..., `path` → `path.1`, then a fresh `path`.
    fn rotate(&mut self) -> io::Result<()> {
        for (from, to) in rotation_renames(&self.path, self.rotation.max_files) {
            match std::fs::rename(&from, &to) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        if self.rotation.max_files == 0 {
            std::fs::remove_file(&self.path)?;
        }
        let old_ino = self.file.metadata()?.ino();
        self.file = open_append(&self.path)?;
        if self.rotation.max_files > 0 {
            self.rotated.insert(0, (old_ino, self.base));
            self.rotated.truncate(self.rotation.max_files as usize);
        }
        self.base += self.size;
        self.size = 0;
        self.write_index()
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The renames of one rotation, oldest first; renaming onto `path.N` replaces (deletes) the
/// oldest kept file.
fn rotation_renames(path: &Path, max_files: u32) -> Vec<(PathBuf, PathBuf)> {
    let numbered = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    let mut renames: Vec<_> = (1..max_files)
        .rev()
        .map(|n| (numbered(n), numbered(n + 1)))
        .collect();
    if max_files > 0 {
        renames.push((path.to_path_buf(), numbered(1)));
    }
    renames
}

/// Copies `from` into `to` until end of file; returns the bytes copied. Write failures
/// (a full disk) are logged and the pipe is still drained so the task never blocks on it.
pub fn pump(mut from: impl Read, mut to: RotatingFile) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    let mut write_failed = false;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        let chunk = buf.get(..n).unwrap_or_default();
        if let Err(e) = to.write_all(chunk) {
            if !write_failed {
                tracing::error!(path = %to.path.display(), error = %e, "cannot write task output");
            }
            write_failed = true;
        }
    }
}

/// The threads copying the task's stdout and stderr pipes into `<sandbox>/stdout|stderr`.
#[derive(Debug)]
pub(crate) struct OutputPumps {
    done: Receiver<()>,
    running: usize,
}

impl OutputPumps {
    /// Opens the output files, creates the pipes and starts one pump per pipe. Returns the
    /// pumps and the write ends to hand to the task as its stdout and stderr.
    pub fn start(
        sandbox: &Path,
        rotation: &LogRotation,
    ) -> Result<(Self, Stdio, Stdio), ExecutorError> {
        let (tx, done) = channel();
        let mut write_ends = Vec::new();
        for name in ["stdout", "stderr"] {
            let path = sandbox.join(name);
            let file = RotatingFile::open(&path, rotation.clone())
                .map_err(|e| ExecutorError::io("open", &path, e))?;
            let (reader, writer) =
                io::pipe().map_err(|e| ExecutorError::io("create a pipe for", &path, e))?;
            let tx = tx.clone();
            std::thread::Builder::new()
                .name(format!("executor-{name}"))
                .spawn(move || {
                    if let Err(e) = pump(reader, file) {
                        tracing::warn!(error = %e, "cannot read task output");
                    }
                    let _ = tx.send(());
                })
                .map_err(|source| ExecutorError::Thread {
                    name: "output pump",
                    source,
                })?;
            write_ends.push(writer);
        }
        let (Some(stderr), Some(stdout)) = (write_ends.pop(), write_ends.pop()) else {
            return Err(ExecutorError::io(
                "create pipes for",
                sandbox,
                io::Error::other("missing"),
            ));
        };
        Ok((Self { done, running: 2 }, stdout.into(), stderr.into()))
    }

    /// Waits until both pipes reached end of file (every writer is gone), at most
    /// `timeout`; a process that escaped the container may hold a pipe open forever.
    pub fn drain(mut self, timeout: Duration) -> bool {
        let deadline = keel_clock::monotonic() + timeout;
        while self.running > 0 {
            let left = deadline.saturating_duration_since(keel_clock::monotonic());
            if self.done.recv_timeout(left).is_err() {
                tracing::warn!(
                    running = self.running,
                    "task output still open; not waiting"
                );
                return false;
            }
            self.running -= 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation(max_size_bytes: u64, max_files: u32) -> LogRotation {
        LogRotation {
            max_size_bytes,
            max_files,
        }
    }

    /// Writes `chunks` with `rotation` and returns every file's content, `stdout` first.
    fn check(rotation: LogRotation, chunks: &[&str], expect: &[(&str, &str)]) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stdout");
        let mut file = RotatingFile::open(&path, rotation).expect("open");
        for chunk in chunks {
            file.write_all(chunk.as_bytes()).expect("write");
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        let got: Vec<(String, String)> = names
            .into_iter()
            .map(|n| {
                let text = std::fs::read_to_string(dir.path().join(&n)).unwrap_or_default();
                (n, text)
            })
            .collect();
        let expect: Vec<(String, String)> = expect
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        assert_eq!(got, expect);
    }

    /// The rotation index's (file, stream offset) pairs, oldest first.
    fn kept_offsets(dir: &std::path::Path) -> Vec<(String, u64)> {
        let bytes = std::fs::read(dir.join(".stdout.index")).expect("index");
        let index: RotationIndex = serde_json::from_slice(&bytes).expect("json");
        index.files.into_iter().map(|f| (f.name, f.base)).collect()
    }

    #[test]
    fn the_index_gives_every_kept_file_its_stream_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stdout");
        let mut file = RotatingFile::open(&path, rotation(4, 2)).expect("open");
        file.write_all(b"abcdefghijk").expect("write");
        assert_eq!(
            kept_offsets(dir.path()),
            [
                ("stdout.2".into(), 0),
                ("stdout.1".into(), 4),
                ("stdout".into(), 8)
            ]
        );
        // Reopening keeps the offsets, and the next rotation drops the oldest.
        drop(file);
        let mut file = RotatingFile::open(&path, rotation(4, 2)).expect("reopen");
        file.write_all(b"lm").expect("write");
        assert_eq!(
            kept_offsets(dir.path()),
            [
                ("stdout.2".into(), 4),
                ("stdout.1".into(), 8),
                ("stdout".into(), 12)
            ]
        );
    }

    #[test]
    fn no_rotation_below_the_limit() {
        check(rotation(10, 2), &["abc", "def"], &[("stdout", "abcdef")]);
    }

    #[test]
    fn rotates_at_the_limit_and_splits_writes() {
        check(
            rotation(4, 3),
            &["abcdef", "gh", "ij"],
            &[("stdout", "ij"), ("stdout.1", "efgh"), ("stdout.2", "abcd")],
        );
    }

    #[test]
    fn oldest_file_is_dropped() {
        check(
            rotation(2, 2),
            &["aabbccdd", "e"],
            &[("stdout", "e"), ("stdout.1", "dd"), ("stdout.2", "cc")],
        );
    }

    #[test]
    fn zero_files_keeps_only_the_current_one() {
        check(rotation(3, 0), &["abcdefg"], &[("stdout", "g")]);
    }

    #[test]
    fn zero_size_disables_rotation() {
        check(rotation(0, 3), &["abcdefg"], &[("stdout", "abcdefg")]);
    }

    #[test]
    fn rename_plan() {
        let plan: Vec<String> = rotation_renames(Path::new("/s/out"), 3)
            .iter()
            .map(|(a, b)| format!("{}>{}", a.display(), b.display()))
            .collect();
        assert_eq!(
            plan,
            ["/s/out.2>/s/out.3", "/s/out.1>/s/out.2", "/s/out>/s/out.1"]
        );
    }

    #[test]
    fn pump_copies_to_end_of_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stderr");
        let file = RotatingFile::open(&path, rotation(1 << 20, 1)).expect("open");
        let copied = pump(&b"hello\nworld\n"[..], file).expect("pump");
        assert_eq!(copied, 12);
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some("hello\nworld\n")
        );
    }
}
