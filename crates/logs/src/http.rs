//! The agent's dcos-log task routes,
//! `/system/v1/logs/v2/task/frameworks/<fw>/executors/<ex>/runs/<cid>/<file>` (also the pod
//! form `.../runs/<cid>/tasks/<task>/<file>`), `<file>/download` and `files/browse`:
//! range reads in text or JSON, SSE follow (`id:` = the line's stream offset;
//! `Last-Event-ID` resumes after it), 204 for a missing file or no line, 404 for an unknown
//! run, 400 for bad parameters, 403 for paths that leave the sandbox. Also dcos-log v1's
//! task forms `/system/v1/logs/v1/{range,stream}/framework/<fw>/executor/<ex>/container/<cid>`.

// Handlers answer early with a ready `Response` as their error; it is built once per request.
#![allow(clippy::result_large_err)]

use crate::stream::{Lines, Stream, lines_forward};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keel_api::logs::{Cursor, LogEntry, LogFormat, LogQuery};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the routes need from the agent.
pub trait TaskDirs: Send + Sync + 'static {
    /// This agent's id, once registered.
    fn agent_id(&self) -> Option<String>;
    /// The sandbox of a run (it may not exist).
    fn run_dir(&self, framework: &str, executor: &str, container: &str) -> Option<PathBuf>;
    /// Mesos's browse listing of a sandbox directory, as JSON.
    fn browse(&self, dir: &Path, shown: &str) -> Result<serde_json::Value, String>;
    /// The log archive of collected sandboxes (`crate::archive`), if the agent keeps one.
    fn archive_dir(&self) -> Option<PathBuf> {
        None
    }
}

/// Where a run's files are: its sandbox, or the archive once the sandbox was collected.
#[derive(Debug, Clone)]
enum Source {
    Sandbox(PathBuf),
    Archive(PathBuf),
}

/// Where one file of a run is read from.
#[derive(Debug, Clone)]
enum FileAt {
    Sandbox { dir: PathBuf, name: String },
    Archive { run: PathBuf, name: String },
}

impl FileAt {
    fn open(&self) -> Result<Option<Stream>, crate::LogsError> {
        match self {
            FileAt::Sandbox { dir, name } => Stream::open(dir, name),
            FileAt::Archive { run, name } => crate::archive::open(run, name),
        }
    }

    /// The file in `source`; 403 if it leaves the sandbox.
    fn of(source: &Source, file: &str) -> Result<Self, Response> {
        match source {
            Source::Sandbox(sandbox) => {
                locate(sandbox, file).map(|(dir, name)| FileAt::Sandbox { dir, name })
            }
            Source::Archive(run) => Ok(FileAt::Archive {
                run: run.clone(),
                name: file.to_string(),
            }),
        }
    }
}

/// The state of the routes.
#[derive(Clone)]
pub struct Logs {
    dirs: Arc<dyn TaskDirs>,
}

impl Logs {
    /// Routes over `dirs`.
    pub fn new(dirs: Arc<dyn TaskDirs>) -> Self {
        Logs { dirs }
    }
}

/// The task routes (relative to the node's root).
pub fn router(logs: Logs) -> Router {
    Router::new()
        .route(
            "/system/v1/logs/v2/task/frameworks/{fw}/executors/{ex}/runs/{cid}/{*rest}",
            get(task),
        )
        .route(
            "/system/v1/logs/v1/range/framework/{fw}/executor/{ex}/container/{cid}",
            get(v1_range),
        )
        .route(
            "/system/v1/logs/v1/stream/framework/{fw}/executor/{ex}/container/{cid}",
            get(v1_stream),
        )
        .with_state(logs)
}

fn reply(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, msg.into()).into_response()
}

/// Where a task file request points.
enum Target {
    Browse,
    Read(String),
    Download(String),
}

fn target(rest: &str) -> Result<Target, Response> {
    let mut rest = rest.trim_matches('/');
    // The pod form: Keel gives every task of a group its own executor directory.
    if let Some(r) = rest.strip_prefix("tasks/") {
        rest = r.split_once('/').map(|(_, f)| f).unwrap_or("");
    }
    if rest == "files/browse" {
        return Ok(Target::Browse);
    }
    let (file, download) = match rest.strip_suffix("/download") {
        Some(f) => (f, true),
        None => (rest, false),
    };
    if file.is_empty() {
        return Err(reply(StatusCode::BAD_REQUEST, "no file named"));
    }
    if Path::new(file)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(reply(
            StatusCode::FORBIDDEN,
            format!("file {file:?} leaves the sandbox"),
        ));
    }
    Ok(if download {
        Target::Download(file.to_string())
    } else {
        Target::Read(file.to_string())
    })
}

/// The real directory and name of `file` in `sandbox`; 403 if a symlink leads out.
fn locate(sandbox: &Path, file: &str) -> Result<(PathBuf, String), Response> {
    let joined = sandbox.join(file);
    let dir = joined.parent().unwrap_or(sandbox).to_path_buf();
    let name = joined
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let root = sandbox
        .canonicalize()
        .unwrap_or_else(|_| sandbox.to_path_buf());
    let forbidden = || {
        reply(
            StatusCode::FORBIDDEN,
            format!("file {file:?} leaves the sandbox"),
        )
    };
    if let Ok(real_dir) = dir.canonicalize()
        && !real_dir.starts_with(&root)
    {
        return Err(forbidden());
    }
    if let Ok(real) = joined.canonicalize()
        && !real.starts_with(&root)
    {
        return Err(forbidden());
    }
    Ok((dir, name))
}

async fn task(
    State(logs): State<Logs>,
    UrlPath((fw, ex, cid, rest)): UrlPath<(String, String, String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let query = match LogQuery::from_pairs(&pairs) {
        Ok(q) => q,
        Err(e) => return reply(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let run = Run { fw, ex, cid };
    serve_task(logs, run, rest, query, &headers, None).await
}

/// dcos-log v1's task forms, `/v1/range|stream/framework/<fw>/executor/<ex>/container/<cid>`
/// (older clients with the journald strategy): the task's `stdout`, or `stderr` with
/// `filter=STREAM:STDERR`; `skip_prev`/`skip_next` as v1 has them; `stream` follows.
async fn v1_task(
    logs: Logs,
    run: Run,
    pairs: Vec<(String, String)>,
    headers: HeaderMap,
    follow: bool,
) -> Response {
    let (mut query, _) = match crate::component::v1_query(&pairs) {
        Ok(q) => q,
        Err(e) => return reply(StatusCode::BAD_REQUEST, e),
    };
    let stderr = query
        .filters
        .iter()
        .any(|(k, v)| k == "STREAM" && v.eq_ignore_ascii_case("STDERR"));
    query.filters.retain(|(k, _)| k != "STREAM");
    let file = if stderr { "stderr" } else { "stdout" };
    let format = follow.then_some(LogFormat::EventStream);
    serve_task(logs, run, file.to_string(), query, &headers, format).await
}

async fn v1_range(
    State(logs): State<Logs>,
    UrlPath((fw, ex, cid)): UrlPath<(String, String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    v1_task(logs, Run { fw, ex, cid }, pairs, headers, false).await
}

async fn v1_stream(
    State(logs): State<Logs>,
    UrlPath((fw, ex, cid)): UrlPath<(String, String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    v1_task(logs, Run { fw, ex, cid }, pairs, headers, true).await
}

/// A run of an executor.
struct Run {
    fw: String,
    ex: String,
    cid: String,
}

/// Serves `rest` (a file, its download, or browse) of `run`; `format` overrides `Accept`.
async fn serve_task(
    logs: Logs,
    run: Run,
    rest: String,
    query: LogQuery,
    headers: &HeaderMap,
    format: Option<LogFormat>,
) -> Response {
    let Run { fw, ex, cid } = run;
    let target = match target(&rest) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let sandbox = logs.dirs.run_dir(&fw, &ex, &cid).filter(|d| d.is_dir());
    let source = match sandbox {
        Some(s) => Source::Sandbox(s),
        None => match logs
            .dirs
            .archive_dir()
            .and_then(|a| crate::archive::find(&a, &fw, &ex, &cid))
        {
            Some(run) => Source::Archive(run),
            None => {
                return reply(
                    StatusCode::NOT_FOUND,
                    format!("no run {cid} of executor {ex} of framework {fw} on this agent"),
                );
            }
        },
    };
    let file = match target {
        Target::Browse => {
            let listing = match &source {
                Source::Sandbox(sandbox) => logs.dirs.browse(sandbox, &format!("/{rest}")),
                Source::Archive(run) => Ok(archived_listing(run, &format!("/{rest}"))),
            };
            return match listing {
                Ok(v) => axum::Json(v).into_response(),
                Err(e) => reply(StatusCode::BAD_REQUEST, e),
            };
        }
        Target::Download(f) => return download(&source, f).await,
        Target::Read(f) => f,
    };
    let at = match FileAt::of(&source, &file) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let format = format.unwrap_or_else(|| {
        LogFormat::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
    });
    let last_event = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut fields = BTreeMap::new();
    fields.insert(
        "AGENT_ID".to_string(),
        logs.dirs.agent_id().unwrap_or_default(),
    );
    fields.insert("EXECUTOR_ID".to_string(), ex);
    fields.insert("FRAMEWORK_ID".to_string(), fw);
    fields.insert("CONTAINER_ID".to_string(), cid);
    fields.insert("FILE".to_string(), file);
    let job = Job {
        at,
        query,
        last_event,
        format,
        fields,
    };
    match tokio::task::spawn_blocking(move || job.start()).await {
        Ok(Ok(r)) => r,
        Ok(Err(r)) => r,
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The browse listing of an archived run (Mesos's shape; sizes uncompressed).
fn archived_listing(run: &Path, shown: &str) -> serde_json::Value {
    let dir = shown
        .trim_end_matches('/')
        .trim_end_matches("files/browse")
        .trim_end_matches('/');
    let mtime = run
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as f64)
        .unwrap_or(0.0);
    let list: Vec<keel_api::mesos::FileInfo> = crate::archive::files(run)
        .into_iter()
        .map(|(name, size)| keel_api::mesos::FileInfo {
            path: format!("{dir}/{name}"),
            nlink: 1,
            size,
            mtime,
            mode: "-rw-r--r--".into(),
            uid: String::new(),
            gid: String::new(),
        })
        .collect();
    serde_json::to_value(list).unwrap_or_default()
}

async fn download(source: &Source, file: String) -> Response {
    let at = match FileAt::of(source, &file) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let opened = tokio::task::spawn_blocking(move || at.open()).await;
    let stream = match opened {
        Ok(Ok(Some(s))) => s,
        Ok(Ok(None)) => return reply(StatusCode::NO_CONTENT, "File not found"),
        Ok(Err(e)) => return reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(8);
    tokio::task::spawn_blocking(move || {
        let mut stream = stream;
        let mut pos = stream.start();
        let end = stream.end();
        while pos < end {
            let mut buf = vec![0u8; 256 * 1024];
            match stream.read_at(pos, &mut buf) {
                Ok((_, 0)) => break,
                Ok((at, n)) => {
                    buf.truncate(n.min(usize::try_from(end - at).unwrap_or(n)));
                    pos = at + buf.len() as u64;
                    if tx.blocking_send(Ok(buf)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    break;
                }
            }
        }
    });
    let name = Path::new(&file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={name}"),
            ),
        ],
        Body::from_stream(tokio_stream_of(rx)),
    )
        .into_response()
}

fn tokio_stream_of(
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

/// One read of a task file, run on a blocking thread.
struct Job {
    at: FileAt,
    query: LogQuery,
    last_event: Option<String>,
    format: LogFormat,
    fields: BTreeMap<String, String>,
}

/// How long a follower sleeps at the end of the stream, and how often it sends a comment
/// to learn that the client left.
const FOLLOW_POLL: Duration = Duration::from_millis(100);
const KEEPALIVE_POLLS: u32 = 100;

impl Job {
    fn start(self) -> Result<Response, Response> {
        let bad = |m: String| reply(StatusCode::BAD_REQUEST, m);
        let internal =
            |e: crate::LogsError| reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        let follow = self.format == LogFormat::EventStream;
        let Some(mut stream) = self.at.open().map_err(internal)? else {
            return Err(reply(StatusCode::NO_CONTENT, "File not found"));
        };
        // A range read answers the lines that start before the end as of the request.
        let end = (!follow).then(|| stream.end());
        let (cursor, skip) = match &self.last_event {
            Some(id) => (Some(Cursor::At(id.clone())), 1),
            None => (self.query.cursor.clone(), self.query.skip),
        };
        let pos = match cursor {
            None if skip < 0 => stream.end(),
            None | Some(Cursor::Beg) => stream.start(),
            Some(Cursor::End) => stream.end(),
            Some(Cursor::At(c)) => {
                let at: u64 = c
                    .parse()
                    .map_err(|_| bad(format!("cursor {c:?} is not a byte offset")))?;
                if !follow && at > stream.end() {
                    return Err(bad(format!(
                        "cursor {at} is past the end of the file ({})",
                        stream.end()
                    )));
                }
                at
            }
        };
        let (stream, pos) = if skip < 0 {
            let p = stream
                .lines_back(pos, skip.unsigned_abs())
                .map_err(internal)?;
            (stream, p)
        } else {
            lines_forward(stream, pos, skip.unsigned_abs()).map_err(internal)?
        };
        let mut lines = Lines::new(stream, pos);
        let limit = self.query.limit.unwrap_or(u64::MAX);
        let first = if follow || limit == 0 {
            None
        } else {
            match lines.next_line(true).map_err(internal)? {
                Some(l) if end.is_none_or(|e| l.offset < e) => Some(l),
                _ => return Err(reply(StatusCode::NO_CONTENT, "No match found")),
            }
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(16);
        let format = self.format;
        let fields = self.fields;
        std::thread::Builder::new()
            .name("log-reader".into())
            .spawn(move || pump(lines, first, limit, end, format, &fields, &tx))
            .map_err(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let mut r = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, format.content_type());
        if follow {
            r = r
                .header(header::CACHE_CONTROL, "no-cache")
                .header(header::CONNECTION, "keep-alive")
                .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
                .header("X-Accel-Buffering", "no");
        }
        r.body(Body::from_stream(tokio_stream_of(rx)))
            .map_err(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    }
}

fn render(
    out: &mut Vec<u8>,
    format: LogFormat,
    fields: &BTreeMap<String, String>,
    l: &crate::stream::Line,
) {
    match format {
        LogFormat::Text => {
            out.extend_from_slice(&l.text);
            out.push(b'\n');
        }
        LogFormat::Json | LogFormat::EventStream => {
            let mut f = fields.clone();
            f.insert(
                "MESSAGE".into(),
                String::from_utf8_lossy(&l.text).into_owned(),
            );
            let entry = LogEntry {
                fields: f,
                cursor: l.offset.to_string(),
                monotonic_timestamp: None,
                realtime_timestamp: None,
            };
            let json = serde_json::to_string(&entry).unwrap_or_default();
            if format == LogFormat::EventStream {
                out.extend_from_slice(format!("id: {}\ndata: {json}\n\n", l.offset).as_bytes());
            } else {
                out.extend_from_slice(json.as_bytes());
                out.push(b'\n');
            }
        }
    }
}

/// Sends the lines in chunks until the limit, the end (range) or the client's leaving.
#[allow(clippy::too_many_arguments)]
fn pump(
    mut lines: Lines,
    first: Option<crate::stream::Line>,
    limit: u64,
    end: Option<u64>,
    format: LogFormat,
    fields: &BTreeMap<String, String>,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
) {
    let follow = format == LogFormat::EventStream;
    let mut sent = 0u64;
    let mut out = Vec::with_capacity(64 * 1024);
    if let Some(l) = first {
        render(&mut out, format, fields, &l);
        sent += 1;
    }
    let mut idle = 0u32;
    while sent < limit {
        match lines.next_line(!follow) {
            // Written after the range read began: not part of it.
            Ok(Some(l)) if end.is_some_and(|e| l.offset >= e) => {}
            Ok(Some(l)) => {
                render(&mut out, format, fields, &l);
                sent += 1;
                if out.len() >= 64 * 1024 && tx.blocking_send(Ok(std::mem::take(&mut out))).is_err()
                {
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                return;
            }
        }
        if !out.is_empty() && tx.blocking_send(Ok(std::mem::take(&mut out))).is_err() {
            return;
        }
        if !follow {
            return;
        }
        idle += 1;
        if idle >= KEEPALIVE_POLLS {
            idle = 0;
            if tx.blocking_send(Ok(b":\n\n".to_vec())).is_err() {
                return;
            }
        }
        if tx.is_closed() {
            return;
        }
        std::thread::sleep(FOLLOW_POLL);
        if lines.refresh().is_err() {
            return;
        }
    }
    if !out.is_empty() {
        let _ = tx.blocking_send(Ok(out));
    }
}
