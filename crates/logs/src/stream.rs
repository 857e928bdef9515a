//! A task's output stream (`stdout`, `stderr`) as one byte sequence across its rotated
//! files: [`Stream`] reads at stream offsets, whichever file holds them now, and [`Lines`]
//! cuts it into lines (a line may span two files: the executor splits writes at the size
//! limit). Offsets come from the executor's rotation index (`.stdout.index`); a reader
//! keeps the file it reads open, so a rotation or deletion under it loses nothing.

use crate::LogsError;
use keel_api::logs::{RotationIndex, index_name};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One file of the stream: the stream offset of its first byte and its length then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Where it is (for archived streams, the decompressed bytes are in memory).
    pub path: PathBuf,
    /// Its inode (0 for in-memory bytes).
    pub ino: u64,
    /// Stream offset of its first byte.
    pub base: u64,
    /// Its length when the segments were listed (the last one may have grown since).
    pub len: u64,
}

/// How the bytes of a stream are reached.
#[derive(Debug)]
enum Source {
    /// Rotated files in a sandbox.
    Files { dir: PathBuf, name: String },
    /// Decompressed archived bytes starting at stream offset `base`.
    Memory { base: u64, bytes: Vec<u8> },
}

/// A readable stream at stream offsets.
#[derive(Debug)]
pub struct Stream {
    source: Source,
    segments: Vec<Segment>,
    /// The file being read: `(inode, handle)`.
    open: Option<(u64, File)>,
}

/// Lists the files of stream `name` in `dir`, oldest first, consistent with the index
/// (retried while a rotation is half done). `Ok(vec![])` if the stream has no file.
pub fn segments(dir: &Path, name: &str) -> Result<Vec<Segment>, LogsError> {
    for _ in 0..200 {
        if let Some(s) = try_segments(dir, name)? {
            return Ok(s);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err(LogsError::Unsettled(dir.join(name)))
}

fn try_segments(dir: &Path, name: &str) -> Result<Option<Vec<Segment>>, LogsError> {
    let index_path = dir.join(index_name(name));
    let index: Option<RotationIndex> = match std::fs::read(&index_path) {
        Ok(b) => serde_json::from_slice(&b).ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(LogsError::io(&index_path, e)),
    };
    let Some(index) = index else {
        // No index (an executor older than it, or a file someone else wrote): the rotated
        // files back to back from offset 0.
        let mut out = Vec::new();
        let mut names: Vec<(u32, PathBuf)> = Vec::new();
        for n in 1..1000u32 {
            let p = dir.join(format!("{name}.{n}"));
            if !p.exists() {
                break;
            }
            names.push((n, p));
        }
        names.reverse();
        names.push((0, dir.join(name)));
        let mut base = 0;
        for (_, p) in names {
            match std::fs::metadata(&p) {
                Ok(md) => {
                    out.push(Segment {
                        path: p,
                        ino: md.ino(),
                        base,
                        len: md.len(),
                    });
                    base += md.len();
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogsError::io(&p, e)),
            }
        }
        return Ok(Some(out));
    };
    let mut out = Vec::new();
    for f in index.files {
        let p = dir.join(&f.name);
        match std::fs::metadata(&p) {
            Ok(md) if md.ino() == f.ino => out.push(Segment {
                path: p,
                ino: f.ino,
                base: f.base,
                len: md.len(),
            }),
            // Renamed or deleted since the index was written: a rotation is under way.
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogsError::io(&p, e)),
        }
    }
    Ok(Some(out))
}

impl Stream {
    /// The stream `name` of the sandbox `dir`; `None` if it has no file.
    pub fn open(dir: &Path, name: &str) -> Result<Option<Self>, LogsError> {
        let segments = segments(dir, name)?;
        if segments.is_empty() {
            return Ok(None);
        }
        Ok(Some(Stream {
            source: Source::Files {
                dir: dir.to_path_buf(),
                name: name.to_string(),
            },
            segments,
            open: None,
        }))
    }

    /// Archived bytes that start at stream offset `base`.
    pub fn memory(base: u64, bytes: Vec<u8>) -> Self {
        let len = bytes.len() as u64;
        Stream {
            source: Source::Memory { base, bytes },
            segments: vec![Segment {
                path: PathBuf::new(),
                ino: 0,
                base,
                len,
            }],
            open: None,
        }
    }

    /// Whether the stream may still grow (a sandbox, not the archive).
    pub fn live(&self) -> bool {
        matches!(self.source, Source::Files { .. })
    }

    /// The oldest offset still kept.
    pub fn start(&self) -> u64 {
        self.segments.first().map(|s| s.base).unwrap_or(0)
    }

    /// The offset past the last byte (as of the last listing).
    pub fn end(&self) -> u64 {
        self.segments.last().map(|s| s.base + s.len).unwrap_or(0)
    }

    /// Lists the files again (after the stream grew or rotated).
    pub fn refresh(&mut self) -> Result<(), LogsError> {
        if let Source::Files { dir, name } = &self.source {
            let s = segments(dir, name)?;
            if !s.is_empty() {
                self.segments = s;
            }
        }
        Ok(())
    }

    /// Reads bytes at stream offset `pos` into `buf`. Answers the bytes read and the offset
    /// they start at (later than `pos` only if `pos` was rotated away unread); 0 bytes at
    /// the end of the stream.
    pub fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> Result<(u64, usize), LogsError> {
        if let Source::Memory { base, bytes } = &self.source {
            let pos = pos.max(*base);
            let from = usize::try_from(pos - base)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let chunk = bytes.get(from..).unwrap_or_default();
            let n = chunk.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), chunk.get(..n)) {
                dst.copy_from_slice(src);
            }
            return Ok((pos, n));
        }
        for attempt in 0..3 {
            let pos = pos.max(self.start());
            let last = self.segments.len().saturating_sub(1);
            let Some((i, seg)) = self
                .segments
                .iter()
                .enumerate()
                .find(|(i, s)| pos < s.base + s.len || *i == last)
                .map(|(i, s)| (i, s.clone()))
            else {
                return Ok((pos, 0));
            };
            let file = match &mut self.open {
                Some((ino, f)) if *ino == seg.ino => f,
                _ => {
                    let f = match File::open(&seg.path) {
                        Ok(f) => f,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            self.refresh()?;
                            continue;
                        }
                        Err(e) => return Err(LogsError::io(&seg.path, e)),
                    };
                    let ino = f.metadata().map_err(|e| LogsError::io(&seg.path, e))?.ino();
                    if ino != seg.ino {
                        self.refresh()?;
                        continue;
                    }
                    &mut self.open.insert((ino, f)).1
                }
            };
            let want = if i == last {
                buf.len()
            } else {
                usize::try_from(seg.base + seg.len - pos)
                    .unwrap_or(usize::MAX)
                    .min(buf.len())
            };
            file.seek(SeekFrom::Start(pos - seg.base))
                .map_err(|e| LogsError::io(&seg.path, e))?;
            let n = read_some(file, buf.get_mut(..want).unwrap_or_default())
                .map_err(|e| LogsError::io(&seg.path, e))?;
            if n > 0 {
                if i == last {
                    let end = pos + n as u64;
                    if let Some(s) = self.segments.get_mut(i) {
                        s.len = s.len.max(end - s.base);
                    }
                }
                return Ok((pos, n));
            }
            // At the end of the newest file we know: maybe it rotated since.
            if attempt == 0 && i == last {
                let before = self.segments.last().map(|s| s.ino);
                self.refresh()?;
                if self.segments.last().map(|s| s.ino) != before {
                    continue;
                }
            }
            return Ok((pos, 0));
        }
        Ok((pos, 0))
    }

    /// The start offset of the line `n` lines back from `pos` (`tail -n`): a last line
    /// without its newline counts.
    pub fn lines_back(&mut self, pos: u64, n: u64) -> Result<u64, LogsError> {
        let start = self.start();
        if n == 0 || pos <= start {
            return Ok(pos.max(start));
        }
        let mut buf = vec![0u8; 64 * 1024];
        let mut cur = pos;
        let mut seen = 0u64;
        let mut first = true;
        while cur > start {
            let from = cur.saturating_sub(buf.len() as u64).max(start);
            let want = usize::try_from(cur - from).unwrap_or(0);
            let chunk = buf.get_mut(..want).unwrap_or_default();
            let mut got = 0;
            while got < want {
                let (at, k) =
                    self.read_at(from + got as u64, chunk.get_mut(got..).unwrap_or_default())?;
                if k == 0 || at != from + got as u64 {
                    break;
                }
                got += k;
            }
            let chunk = chunk.get(..got).unwrap_or_default();
            for (i, b) in chunk.iter().enumerate().rev() {
                if *b != b'\n' {
                    continue;
                }
                let at = from + i as u64;
                if first && at + 1 == pos {
                    first = false;
                    continue;
                }
                first = false;
                seen += 1;
                if seen == n {
                    return Ok(at + 1);
                }
            }
            first = false;
            if got == 0 {
                break;
            }
            cur = from;
        }
        Ok(start)
    }
}

fn read_some(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match f.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// One line of a stream: where it starts, where the next starts, and its bytes (without
/// the newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Stream offset of the first byte.
    pub offset: u64,
    /// Stream offset after the newline.
    pub next: u64,
    /// The text, without `\n`.
    pub text: Vec<u8>,
}

/// Cuts a [`Stream`] into lines from an offset.
#[derive(Debug)]
pub struct Lines {
    stream: Stream,
    /// Offset of the next unread byte.
    pos: u64,
    /// Offset where `pending` starts.
    pending_at: u64,
    pending: Vec<u8>,
    buf: Vec<u8>,
    ready: std::collections::VecDeque<Line>,
}

impl Lines {
    /// Lines of `stream` from `pos`.
    pub fn new(stream: Stream, pos: u64) -> Self {
        Lines {
            stream,
            pos,
            pending_at: pos,
            pending: Vec::new(),
            buf: vec![0u8; 256 * 1024],
            ready: Default::default(),
        }
    }

    /// The stream read.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// The stream back, to position another reader.
    pub fn into_stream(self) -> Stream {
        self.stream
    }

    /// The next complete line, or `None` at the end of what is written now. With
    /// `partial`, a last line without a newline is answered too (range reads).
    pub fn next_line(&mut self, partial: bool) -> Result<Option<Line>, LogsError> {
        loop {
            if let Some(l) = self.ready.pop_front() {
                return Ok(Some(l));
            }
            let (at, n) = self.stream.read_at(self.pos, &mut self.buf)?;
            if n == 0 {
                if partial && !self.pending.is_empty() {
                    let text = std::mem::take(&mut self.pending);
                    let line = Line {
                        offset: self.pending_at,
                        next: self.pos,
                        text,
                    };
                    self.pending_at = self.pos;
                    return Ok(Some(line));
                }
                return Ok(None);
            }
            if at != self.pos {
                // Rotated away unread (the reader fell behind every kept file).
                self.pending.clear();
                self.pending_at = at;
            }
            let chunk = self.buf.get(..n).unwrap_or_default();
            let mut start = 0;
            for (i, b) in chunk.iter().enumerate() {
                if *b == b'\n' {
                    self.pending
                        .extend_from_slice(chunk.get(start..i).unwrap_or_default());
                    let next = at + i as u64 + 1;
                    self.ready.push_back(Line {
                        offset: self.pending_at,
                        next,
                        text: std::mem::take(&mut self.pending),
                    });
                    self.pending_at = next;
                    start = i + 1;
                }
            }
            self.pending
                .extend_from_slice(chunk.get(start..).unwrap_or_default());
            self.pos = at + n as u64;
        }
    }

    /// Lists the stream's files again (call before waiting for more).
    pub fn refresh(&mut self) -> Result<(), LogsError> {
        self.stream.refresh()
    }
}

/// Skips `n` lines forward from `pos`; answers the offset after them.
pub fn lines_forward(stream: Stream, pos: u64, n: u64) -> Result<(Stream, u64), LogsError> {
    let mut lines = Lines::new(stream, pos);
    let mut at = pos;
    for _ in 0..n {
        match lines.next_line(true)? {
            Some(l) => at = l.next,
            None => break,
        }
    }
    Ok((lines.stream, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::logs::RotatedFile;

    fn write_index(dir: &Path, files: &[(&str, u64)]) {
        let files = files
            .iter()
            .map(|(n, base)| RotatedFile {
                name: n.to_string(),
                ino: std::fs::metadata(dir.join(n)).map(|m| m.ino()).unwrap_or(0),
                base: *base,
            })
            .collect();
        let body = serde_json::to_vec(&RotationIndex { files }).unwrap_or_default();
        std::fs::write(dir.join(".stdout.index"), body).unwrap_or_default();
    }

    fn all_lines(stream: Stream, pos: u64) -> Vec<(u64, String)> {
        let mut l = Lines::new(stream, pos);
        let mut out = Vec::new();
        while let Ok(Some(line)) = l.next_line(true) {
            out.push((
                line.offset,
                String::from_utf8_lossy(&line.text).into_owned(),
            ));
        }
        out
    }

    #[test]
    fn lines_span_rotated_files_at_stream_offsets() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Stream "one\ntwo\nthree\n" from offset 10 (older files were deleted), split mid-line.
        std::fs::write(dir.path().join("stdout.2"), "one\ntw").unwrap_or_default();
        std::fs::write(dir.path().join("stdout.1"), "o\nthr").unwrap_or_default();
        std::fs::write(dir.path().join("stdout"), "ee\nfour").unwrap_or_default();
        write_index(
            dir.path(),
            &[("stdout.2", 10), ("stdout.1", 16), ("stdout", 21)],
        );
        let s = Stream::open(dir.path(), "stdout")
            .ok()
            .flatten()
            .expect("stream");
        assert_eq!((s.start(), s.end()), (10, 28));
        assert_eq!(
            all_lines(s, 0),
            [
                (10, "one".into()),
                (14, "two".into()),
                (18, "three".into()),
                (24, "four".into())
            ]
        );
        let mut s = Stream::open(dir.path(), "stdout")
            .ok()
            .flatten()
            .expect("stream");
        assert_eq!(s.lines_back(28, 2).ok(), Some(18));
        assert_eq!(s.lines_back(24, 1).ok(), Some(18));
        assert_eq!(s.lines_back(28, 10).ok(), Some(10));
        let (_, at) = lines_forward(s, 10, 2).expect("forward");
        assert_eq!(at, 18);
    }

    #[test]
    fn an_unsettled_index_is_waited_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("stdout"), "a\n").unwrap_or_default();
        write_index(dir.path(), &[("stdout", 0)]);
        // A rotation renamed the file but has not rewritten the index yet.
        std::fs::rename(dir.path().join("stdout"), dir.path().join("stdout.1")).unwrap_or_default();
        std::fs::write(dir.path().join("stdout"), "b\n").unwrap_or_default();
        let d = dir.path().to_path_buf();
        let fixer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            write_index(&d, &[("stdout.1", 0), ("stdout", 2)]);
        });
        let s = Stream::open(dir.path(), "stdout")
            .ok()
            .flatten()
            .expect("stream");
        let _ = fixer.join();
        assert_eq!(all_lines(s, 0), [(0, "a".into()), (2, "b".into())]);
    }
}
