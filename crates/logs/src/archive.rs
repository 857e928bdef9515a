//! The log archive of collected sandboxes: before the agent's GC removes a run directory,
//! [`archive_run`] keeps the tail of its `stdout` and `stderr` streams gzip-compressed in
//! `<work_dir>/log-archive/<framework>/<executor>/<container>/` (`<file>.gz` and
//! `run.json`, a [`keel_api::logs::ArchivedRun`] with the stream offset of each file's
//! first kept byte, so cursors and `Last-Event-ID`s stay valid), within the per-task limit;
//! [`prune`] drops archived runs past the age limit, then the oldest until the node's
//! archive fits its size limit. [`open`] gives an archived file back as a [`Stream`].

use crate::LogsError;
use crate::stream::Stream;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use keel_api::logs::ArchivedRun;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The archive's directory in an agent's work directory.
pub const ARCHIVE_DIR: &str = "log-archive";
/// The streams archived from a sandbox.
pub const ARCHIVED_FILES: &[&str] = &["stdout", "stderr"];
const RUN_FILE: &str = "run.json";

/// How much the archive keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Uncompressed bytes kept of each file of a task (its tail, from a line start); 0
    /// disables the archive.
    pub max_task_bytes: u64,
    /// Compressed bytes the node's archive may hold; the oldest runs go first.
    pub max_node_bytes: u64,
    /// Age past which an archived run is removed.
    pub max_age: Duration,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_task_bytes: 10 * 1024 * 1024,
            max_node_bytes: 1024 * 1024 * 1024,
            max_age: Duration::from_secs(14 * 24 * 3600),
        }
    }
}

fn plain(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/')
}

/// Where the archive keeps run `container` of `executor` of `framework`.
pub fn run_path(
    archive: &Path,
    framework: &str,
    executor: &str,
    container: &str,
) -> Option<PathBuf> {
    (plain(framework) && plain(executor) && plain(container))
        .then(|| archive.join(framework).join(executor).join(container))
}

/// The `(framework, executor, container)` of a sandbox path
/// `.../frameworks/<fw>/executors/<ex>/runs/<container>`.
pub fn run_ids(run: &Path) -> Option<(String, String, String)> {
    let parts: Vec<String> = run
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let n = parts.len();
    if n < 6
        || parts.get(n - 6)? != "frameworks"
        || parts.get(n - 4)? != "executors"
        || parts.get(n - 2)? != "runs"
    {
        return None;
    }
    Some((
        parts.get(n - 5)?.clone(),
        parts.get(n - 3)?.clone(),
        parts.get(n - 1)?.clone(),
    ))
}

/// The bytes of a stream from `from` to `end`.
fn read_range(stream: &mut Stream, from: u64, end: u64) -> Result<(u64, Vec<u8>), LogsError> {
    let mut out = Vec::new();
    let mut pos = from;
    let mut first = None;
    let mut buf = vec![0u8; 256 * 1024];
    while pos < end {
        let (at, n) = stream.read_at(pos, &mut buf)?;
        if n == 0 {
            break;
        }
        first.get_or_insert(at);
        let keep = n.min(usize::try_from(end.saturating_sub(at)).unwrap_or(n));
        out.extend_from_slice(buf.get(..keep).unwrap_or_default());
        pos = at + keep as u64;
    }
    Ok((first.unwrap_or(from), out))
}

/// Archives the streams of the sandbox `run` (before it is removed); answers the archived
/// run's directory, `None` when there was nothing to keep or the archive is disabled.
pub fn archive_run(
    archive: &Path,
    run: &Path,
    limits: &ArchiveLimits,
    now_secs: u64,
) -> Result<Option<PathBuf>, LogsError> {
    if limits.max_task_bytes == 0 {
        return Ok(None);
    }
    let Some((fw, ex, cid)) = run_ids(run) else {
        return Ok(None);
    };
    let Some(dest) = run_path(archive, &fw, &ex, &cid) else {
        return Ok(None);
    };
    let tmp = dest.with_file_name(format!(".{cid}.partial"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| LogsError::io(&tmp, e))?;
    let mut meta = ArchivedRun {
        task_id: ex.clone(),
        bases: Default::default(),
        archived_at: now_secs,
    };
    for name in ARCHIVED_FILES {
        let Some(mut stream) = Stream::open(run, name)? else {
            continue;
        };
        let end = stream.end();
        let from = end
            .saturating_sub(limits.max_task_bytes)
            .max(stream.start());
        let (mut base, mut bytes) = read_range(&mut stream, from, end)?;
        if base > stream.start() {
            // Cut to a line start: the kept part begins after the first newline.
            let cut = bytes
                .iter()
                .position(|b| *b == b'\n')
                .map(|i| i + 1)
                .unwrap_or(0);
            bytes.drain(..cut);
            base += cut as u64;
        }
        let path = tmp.join(format!("{name}.gz"));
        let file = std::fs::File::create(&path).map_err(|e| LogsError::io(&path, e))?;
        let mut gz = GzEncoder::new(file, Compression::default());
        gz.write_all(&bytes).map_err(|e| LogsError::io(&path, e))?;
        gz.finish().map_err(|e| LogsError::io(&path, e))?;
        meta.bases.insert((*name).to_string(), base);
    }
    if meta.bases.is_empty() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Ok(None);
    }
    let body = serde_json::to_vec(&meta).unwrap_or_default();
    let run_file = tmp.join(RUN_FILE);
    std::fs::write(&run_file, body).map_err(|e| LogsError::io(&run_file, e))?;
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&tmp, &dest).map_err(|e| LogsError::io(&dest, e))?;
    Ok(Some(dest))
}

/// An archived run found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// Its directory.
    pub dir: PathBuf,
    /// Its summary.
    pub meta: ArchivedRun,
    /// Compressed bytes on disk.
    pub bytes: u64,
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect()
}

fn read_run(dir: &Path) -> Option<Archived> {
    let meta: ArchivedRun =
        serde_json::from_slice(&std::fs::read(dir.join(RUN_FILE)).ok()?).ok()?;
    let bytes = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    Some(Archived {
        dir: dir.to_path_buf(),
        meta,
        bytes,
    })
}

/// Every archived run, oldest first.
pub fn list(archive: &Path) -> Vec<Archived> {
    let mut out: Vec<Archived> = subdirs(archive)
        .iter()
        .flat_map(|fw| subdirs(fw))
        .flat_map(|ex| subdirs(&ex))
        .filter_map(|run| read_run(&run))
        .collect();
    out.sort_by(|a, b| (a.meta.archived_at, &a.dir).cmp(&(b.meta.archived_at, &b.dir)));
    out
}

/// Removes archived runs older than the age limit, then the oldest until the archive fits
/// the node's limit; answers the removed directories.
pub fn prune(archive: &Path, limits: &ArchiveLimits, now_secs: u64) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let mut kept = Vec::new();
    for a in list(archive) {
        if now_secs.saturating_sub(a.meta.archived_at) > limits.max_age.as_secs() {
            if std::fs::remove_dir_all(&a.dir).is_ok() {
                removed.push(a.dir);
            }
        } else {
            kept.push(a);
        }
    }
    let mut total: u64 = kept.iter().map(|a| a.bytes).sum();
    for a in kept {
        if total <= limits.max_node_bytes {
            break;
        }
        if std::fs::remove_dir_all(&a.dir).is_ok() {
            total = total.saturating_sub(a.bytes);
            removed.push(a.dir);
        }
    }
    removed
}

/// The archived run of `container` (`latest`: the newest archived run of the executor).
pub fn find(archive: &Path, framework: &str, executor: &str, container: &str) -> Option<PathBuf> {
    if container == "latest" {
        let dir = run_path(archive, framework, executor, "latest")?;
        let parent = dir.parent()?;
        return subdirs(parent)
            .iter()
            .filter_map(|d| read_run(d))
            .max_by(|a, b| (a.meta.archived_at, &a.dir).cmp(&(b.meta.archived_at, &b.dir)))
            .map(|a| a.dir);
    }
    run_path(archive, framework, executor, container).filter(|d| d.join(RUN_FILE).is_file())
}

/// The files an archived run holds, with their uncompressed sizes.
pub fn files(run: &Path) -> Vec<(String, u64)> {
    let Some(a) = read_run(run) else {
        return Vec::new();
    };
    a.meta
        .bases
        .keys()
        .filter_map(|name| {
            let bytes = decompress(run, name).ok()??;
            Some((name.clone(), bytes.len() as u64))
        })
        .collect()
}

fn decompress(run: &Path, name: &str) -> Result<Option<Vec<u8>>, LogsError> {
    if !ARCHIVED_FILES.contains(&name) {
        return Ok(None);
    }
    let path = run.join(format!("{name}.gz"));
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogsError::io(&path, e)),
    };
    let mut out = Vec::new();
    GzDecoder::new(file)
        .read_to_end(&mut out)
        .map_err(|e| LogsError::io(&path, e))?;
    Ok(Some(out))
}

/// The archived file `name` of run `run` as a stream at its original offsets; `None` if
/// the run kept no such file.
pub fn open(run: &Path, name: &str) -> Result<Option<Stream>, LogsError> {
    let Some(a) = read_run(run) else {
        return Ok(None);
    };
    let Some(base) = a.meta.bases.get(name).copied() else {
        return Ok(None);
    };
    Ok(decompress(run, name)?.map(|bytes| Stream::memory(base, bytes)))
}

/// The bytes of archived file `name` (as the files API reads them: from 0).
pub fn bytes(run: &Path, name: &str) -> Result<Option<Vec<u8>>, LogsError> {
    decompress(run, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Lines;

    fn sandbox(root: &Path, cid: &str) -> PathBuf {
        let run = root
            .join("slaves/S0/frameworks/fw/executors/task-1/runs")
            .join(cid);
        std::fs::create_dir_all(&run).expect("mkdir");
        run
    }

    fn text_of(stream: Stream) -> Vec<(u64, String)> {
        let start = stream.start();
        let mut l = Lines::new(stream, start);
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
    fn archived_tails_keep_their_offsets_and_limits_apply() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join(ARCHIVE_DIR);
        let run = sandbox(dir.path(), "c1");
        std::fs::write(run.join("stdout"), "one\ntwo\nthree\n").expect("write");
        std::fs::write(run.join("stderr"), "oops\n").expect("write");
        let limits = ArchiveLimits {
            max_task_bytes: 9,
            ..ArchiveLimits::default()
        };
        let kept = archive_run(&archive, &run, &limits, 100)
            .expect("archive")
            .expect("kept");
        assert_eq!(kept, archive.join("fw/task-1/c1"));
        // The last 9 bytes are "o\nthree\n": cut to the line start, "three" at offset 8.
        let s = open(&kept, "stdout").expect("open").expect("stdout");
        assert!(!s.live());
        assert_eq!(text_of(s), [(8, "three".to_string())]);
        let e = open(&kept, "stderr").expect("open").expect("stderr");
        assert_eq!(text_of(e), [(0, "oops".to_string())]);
        assert_eq!(find(&archive, "fw", "task-1", "latest"), Some(kept.clone()));
        assert_eq!(find(&archive, "fw", "task-1", "c1"), Some(kept.clone()));
        assert_eq!(find(&archive, "fw", "task-1", ".."), None);
        assert!(open(&kept, "../x").expect("open").is_none());
        assert_eq!(
            files(&kept),
            [("stderr".to_string(), 5), ("stdout".to_string(), 6)]
        );

        // A second run, later: `latest` is it; the node limit drops the oldest first.
        let run2 = sandbox(dir.path(), "c2");
        std::fs::write(run2.join("stdout"), "x\n").expect("write");
        let kept2 = archive_run(&archive, &run2, &limits, 200)
            .expect("archive")
            .expect("kept");
        assert_eq!(
            find(&archive, "fw", "task-1", "latest"),
            Some(kept2.clone())
        );
        let size2 = list(&archive).last().map(|a| a.bytes).unwrap_or(0);
        let tight = ArchiveLimits {
            max_node_bytes: size2,
            ..limits.clone()
        };
        assert_eq!(prune(&archive, &tight, 200), vec![kept.clone()]);
        assert!(kept2.exists());
        // The age limit.
        let short = ArchiveLimits {
            max_age: Duration::from_secs(50),
            ..limits.clone()
        };
        assert!(prune(&archive, &short, 240).is_empty());
        assert_eq!(prune(&archive, &short, 251), [kept2]);
        // Disabled, or nothing to keep.
        let off = ArchiveLimits {
            max_task_bytes: 0,
            ..limits
        };
        assert_eq!(archive_run(&archive, &run, &off, 1).expect("archive"), None);
        let empty = sandbox(dir.path(), "c3");
        assert_eq!(
            archive_run(&archive, &empty, &ArchiveLimits::default(), 1).expect("archive"),
            None
        );
    }
}
