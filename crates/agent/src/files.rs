//! Mesos's `/files` API on the agent: `browse`, `read` (with the `offset=-1` size probe)
//! and `download`, over the sandbox virtual paths.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use keel_api::mesos::{FileInfo, ReadChunk};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mesos caps one read at 16 pages.
pub const MAX_READ: u64 = 16 * 4096;

/// A failed `/files` request.
#[derive(Debug)]
pub struct FilesError(pub StatusCode, pub String);

impl IntoResponse for FilesError {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// Maps a virtual or absolute path to a real path inside `<work_dir>/slaves/<agent>`.
pub fn resolve(work_dir: &Path, agent: &str, path: &str) -> Result<PathBuf, FilesError> {
    if path.is_empty() {
        return Err(FilesError(
            StatusCode::BAD_REQUEST,
            "Expecting 'path=value' in query".into(),
        ));
    }
    let root = work_dir.join("slaves").join(agent);
    let trimmed = path.trim_end_matches('/');
    let candidate = if let Some(rest) = trimmed.strip_prefix("/frameworks/") {
        root.join("frameworks").join(rest)
    } else {
        PathBuf::from(trimmed)
    };
    let not_found = || {
        FilesError(
            StatusCode::NOT_FOUND,
            format!("No file or directory found at path {path:?}"),
        )
    };
    let real = candidate.canonicalize().map_err(|_| not_found())?;
    let root = root.canonicalize().map_err(|_| not_found())?;
    if !real.starts_with(&root) {
        return Err(not_found());
    }
    Ok(real)
}

/// `/files/browse`: the entries of a directory, sorted by path.
pub fn browse(real: &Path, shown: &str) -> Result<Vec<FileInfo>, FilesError> {
    let rd = std::fs::read_dir(real).map_err(|e| {
        FilesError(
            StatusCode::BAD_REQUEST,
            format!("cannot browse {shown:?}: {e}"),
        )
    })?;
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let Ok(md) = entry.path().symlink_metadata() else {
            continue;
        };
        let name = entry.file_name().to_string_lossy().to_string();
        out.push(FileInfo {
            path: format!("{}/{}", shown.trim_end_matches('/'), name),
            nlink: md.nlink(),
            size: md.len(),
            mtime: md.mtime() as f64,
            mode: mode_string(&md),
            uid: user_name(md.uid()),
            gid: group_name(md.gid()),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// `/files/read`: `offset < 0` answers the file size; otherwise up to `length` bytes.
pub fn read(real: &Path, offset: i64, length: Option<i64>) -> Result<ReadChunk, FilesError> {
    if real.is_dir() {
        return Err(FilesError(
            StatusCode::BAD_REQUEST,
            "Cannot read a directory".into(),
        ));
    }
    let mut f = std::fs::File::open(real)
        .map_err(|e| FilesError(StatusCode::NOT_FOUND, format!("opening file: {e}")))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    if offset < 0 {
        return Ok(ReadChunk {
            offset: size,
            data: String::new(),
        });
    }
    let offset = offset as u64;
    if offset >= size {
        return Ok(ReadChunk {
            offset,
            data: String::new(),
        });
    }
    let want = match length {
        Some(l) if l >= 0 => (l as u64).min(MAX_READ),
        _ => MAX_READ,
    };
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| FilesError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut buf = Vec::with_capacity(want as usize);
    f.take(want)
        .read_to_end(&mut buf)
        .map_err(|e| FilesError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(ReadChunk {
        offset,
        data: String::from_utf8_lossy(&buf).into_owned(),
    })
}

/// `/files/read` of bytes in memory (a file of the log archive), as [`read`] answers.
pub fn read_bytes(bytes: &[u8], offset: i64, length: Option<i64>) -> ReadChunk {
    let size = bytes.len() as u64;
    if offset < 0 {
        return ReadChunk {
            offset: size,
            data: String::new(),
        };
    }
    let offset = offset as u64;
    let want = match length {
        Some(l) if l >= 0 => (l as u64).min(MAX_READ),
        _ => MAX_READ,
    };
    let from = usize::try_from(offset.min(size)).unwrap_or(bytes.len());
    let to = usize::try_from(offset.saturating_add(want).min(size)).unwrap_or(bytes.len());
    ReadChunk {
        offset,
        data: String::from_utf8_lossy(bytes.get(from..to).unwrap_or_default()).into_owned(),
    }
}

/// `/files/download`: the raw bytes as an attachment.
pub async fn download(real: PathBuf) -> Result<Response, FilesError> {
    if real.is_dir() {
        return Err(FilesError(
            StatusCode::BAD_REQUEST,
            "Cannot download a directory".into(),
        ));
    }
    let f = tokio::fs::File::open(&real)
        .await
        .map_err(|e| FilesError(StatusCode::NOT_FOUND, format!("opening file: {e}")))?;
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let body = Body::from_stream(tokio_util_stream(f));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={name}"),
            ),
        ],
        body,
    )
        .into_response())
}

fn tokio_util_stream(
    f: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    futures_util::stream::unfold(f, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}

fn mode_string(md: &std::fs::Metadata) -> String {
    let mode = md.permissions().mode();
    let kind = if md.is_dir() {
        'd'
    } else if md.file_type().is_symlink() {
        'l'
    } else {
        '-'
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn user_name(uid: u32) -> String {
    lookup("/etc/passwd", uid).unwrap_or_else(|| uid.to_string())
}

fn group_name(gid: u32) -> String {
    lookup("/etc/group", gid).unwrap_or_else(|| gid.to_string())
}

fn lookup(file: &str, id: u32) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.split(':');
        let name = parts.next()?;
        let num: u32 = parts.nth(1)?.parse().ok()?;
        (num == id).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_and_read() {
        let dir = std::env::temp_dir().join(format!("keel-files-{}", std::process::id()));
        let run = dir.join("slaves/a-S0/frameworks/f/executors/t/runs/c1");
        std::fs::create_dir_all(&run).unwrap_or_default();
        std::fs::write(run.join("stdout"), b"hello world").unwrap_or_default();
        let real = resolve(&dir, "a-S0", "/frameworks/f/executors/t/runs/c1/stdout");
        let real = match real {
            Ok(r) => r,
            Err(e) => panic!("resolve: {}", e.1),
        };
        assert_eq!(read(&real, -1, None).map(|c| c.offset).ok(), Some(11));
        assert_eq!(
            read(&real, 6, Some(3)).map(|c| c.data).ok(),
            Some("wor".into())
        );
        assert_eq!(
            read(&real, 20, None).map(|c| c.data).ok(),
            Some(String::new())
        );
        assert!(resolve(&dir, "a-S0", "/etc/passwd").is_err());
        assert!(resolve(&dir, "a-S0", "/frameworks/../../../etc/passwd").is_err());
        assert!(resolve(&dir, "a-S0", "").is_err());
        let listing = browse(&run, "/x")
            .map(|v| v.into_iter().map(|f| (f.path, f.size)).collect::<Vec<_>>())
            .ok();
        assert_eq!(listing, Some(vec![("/x/stdout".to_string(), 11)]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
