//! dcos-log's component routes over the node's journal ([`crate::journal`]):
//! `/system/v1/logs/v2/component[/<unit>]` (range reads in text or JSON, SSE follow with
//! `id:` = the entry's byte offset, `cursor`/`skip`/`limit`/`filter`, `Last-Event-ID`) and
//! the v1 forms `/v1/range/`, `/v1/stream/` (`skip_prev`, `skip_next`, `read_reverse`) and
//! `/v1/fields/<field>`. A unit Keel does not play is read from journald where the node
//! runs systemd, else it is unknown (404). No matching entry in a range: 204.

// Handlers answer early with a ready `Response` as their error; it is built once per request.
#![allow(clippy::result_large_err)]

use crate::journal::{JOURNAL_NAME, Record, Unit, format_time, parse_journalctl, unit_named};
use crate::stream::{Lines, Stream};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keel_api::logs::{Cursor, LogEntry, LogFormat, LogQuery};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// The state of the routes: where the journal is, and whether journald is there too.
#[derive(Clone, Debug)]
pub struct Components {
    dir: PathBuf,
    journald: bool,
}

impl Components {
    /// The journal in `dir` (a process's `<work>/logs`); journald when the node runs systemd.
    pub fn new(dir: PathBuf) -> Self {
        Components {
            dir,
            journald: crate::journal::journald_available(),
        }
    }
}

/// The routes, under each of `prefixes` (`/system/v1/logs` on every node; the master also
/// answers `/system/v1/leader/mesos/logs` and `/system/v1/leader/marathon/logs`).
pub fn router(c: Components, prefixes: &[&str]) -> Router {
    let mut r = Router::new();
    for p in prefixes {
        r = r
            .route(&format!("{p}/v2/component"), get(all))
            .route(&format!("{p}/v2/component/{{unit}}"), get(one));
        for slash in ["", "/"] {
            r = r
                .route(&format!("{p}/v1/range{slash}"), get(v1_range))
                .route(&format!("{p}/v1/stream{slash}"), get(v1_stream));
        }
        r = r.route(&format!("{p}/v1/fields/{{field}}"), get(v1_fields));
    }
    r.with_state(c)
}

fn reply(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, msg.into()).into_response()
}

type Pairs = Query<Vec<(String, String)>>;

async fn all(State(c): State<Components>, Query(pairs): Pairs, headers: HeaderMap) -> Response {
    serve(c, None, &pairs, &headers, Mode::V2).await
}

async fn one(
    State(c): State<Components>,
    UrlPath(unit): UrlPath<String>,
    Query(pairs): Pairs,
    headers: HeaderMap,
) -> Response {
    serve(c, Some(unit), &pairs, &headers, Mode::V2).await
}

async fn v1_range(
    State(c): State<Components>,
    Query(pairs): Pairs,
    headers: HeaderMap,
) -> Response {
    serve(c, None, &pairs, &headers, Mode::V1Range).await
}

async fn v1_stream(
    State(c): State<Components>,
    Query(pairs): Pairs,
    headers: HeaderMap,
) -> Response {
    serve(c, None, &pairs, &headers, Mode::V1Stream).await
}

/// `/v1/fields/<field>`: the distinct values of a field in the journal, as a JSON array.
async fn v1_fields(State(c): State<Components>, UrlPath(field): UrlPath<String>) -> Response {
    let field = field.to_uppercase();
    let values = tokio::task::spawn_blocking(move || -> Result<BTreeSet<String>, String> {
        let mut out = BTreeSet::new();
        let Some(stream) = Stream::open(&c.dir, JOURNAL_NAME).map_err(|e| e.to_string())? else {
            return Ok(out);
        };
        let start = stream.start();
        let mut lines = Lines::new(stream, start);
        while let Some(l) = lines.next_line(false).map_err(|e| e.to_string())? {
            if let Ok(r) = serde_json::from_slice::<Record>(&l.text)
                && let Some(v) = r.fields.get(&field)
            {
                out.insert(v.clone());
            }
        }
        Ok(out)
    })
    .await;
    match values {
        Ok(Ok(v)) if v.is_empty() => reply(StatusCode::NO_CONTENT, "No match found"),
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => reply(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Which API form a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    V2,
    V1Range,
    V1Stream,
}

/// A read of the journal, decided from the request.
#[derive(Debug, Clone)]
struct Read {
    unit: Option<&'static Unit>,
    query: LogQuery,
    last_event: Option<String>,
    format: LogFormat,
    follow: bool,
    reverse: bool,
}

/// v1's parameters as v2's: `skip_prev=N` is `skip=-N`, `skip_next=N` is `skip=N`,
/// `read_reverse=true` answers newest first.
pub(crate) fn v1_query(pairs: &[(String, String)]) -> Result<(LogQuery, bool), String> {
    let mut v2 = Vec::new();
    let mut reverse = false;
    for (k, v) in pairs {
        match k.as_str() {
            "skip_prev" | "skip_next" => {
                let n: u64 = v
                    .parse()
                    .map_err(|_| format!("{k} {v:?} is not a non-negative integer"))?;
                let sign = if k == "skip_prev" { "-" } else { "" };
                v2.push(("skip".to_string(), format!("{sign}{n}")));
            }
            "read_reverse" => reverse = v == "true" || v == "1",
            "skip" => {}
            _ => v2.push((k.clone(), v.clone())),
        }
    }
    LogQuery::from_pairs(&v2)
        .map(|q| (q, reverse))
        .map_err(|e| e.to_string())
}

async fn serve(
    c: Components,
    unit: Option<String>,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    mode: Mode,
) -> Response {
    let parsed = match mode {
        Mode::V2 => LogQuery::from_pairs(pairs)
            .map(|q| (q, false))
            .map_err(|e| e.to_string()),
        Mode::V1Range | Mode::V1Stream => v1_query(pairs),
    };
    let (query, reverse) = match parsed {
        Ok(x) => x,
        Err(e) => return reply(StatusCode::BAD_REQUEST, e),
    };
    let mut format =
        LogFormat::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    if mode == Mode::V1Stream {
        format = LogFormat::EventStream;
    }
    let last_event = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let keel_unit = match unit.as_deref() {
        None => None,
        Some(name) => match unit_named(name) {
            Some(u) => Some(u),
            None if c.journald => {
                return journald(name.to_string(), query, last_event, format).await;
            }
            None => {
                return reply(
                    StatusCode::NOT_FOUND,
                    format!("unit {name:?} is not a component of this node"),
                );
            }
        },
    };
    let read = Read {
        unit: keel_unit,
        query,
        last_event,
        format,
        follow: format == LogFormat::EventStream,
        reverse,
    };
    let dir = c.dir.clone();
    match tokio::task::spawn_blocking(move || start(&dir, read)).await {
        Ok(Ok(r)) => r,
        Ok(Err(r)) => r,
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Whether `hay` contains `needle`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// A value JSON writes as itself (no escapes), so its bytes must appear in the line.
fn plain_json(v: &str) -> bool {
    v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.:@ ".contains(&b))
}

impl Read {
    /// A cheap first test on the raw line: every wanted value must appear in it.
    fn might_match(&self, line: &[u8]) -> bool {
        self.unit.is_none_or(|u| contains(line, u.name.as_bytes()))
            && self
                .query
                .filters
                .iter()
                .all(|(_, v)| !plain_json(v) || contains(line, v.as_bytes()))
    }

    fn matches(&self, r: &Record) -> bool {
        self.unit.is_none_or(|u| r.is_of(u.name)) && self.query.matches(&r.fields)
    }
}

/// An entry read from the journal at its offset.
struct Entry {
    offset: u64,
    next: u64,
    record: Record,
}

/// The next matching entry from `lines` (complete lines only: the writer may be mid-line).
fn next_match(lines: &mut Lines, read: &Read) -> Result<Option<Entry>, crate::LogsError> {
    while let Some(l) = lines.next_line(false)? {
        if !read.might_match(&l.text) {
            continue;
        }
        let Ok(record) = serde_json::from_slice::<Record>(&l.text) else {
            continue;
        };
        if read.matches(&record) {
            return Ok(Some(Entry {
                offset: l.offset,
                next: l.next,
                record,
            }));
        }
    }
    Ok(None)
}

/// The offset of the `n`th matching entry back from `pos` (or the oldest kept): looks back
/// in growing windows of lines.
fn back_matching(
    mut stream: Stream,
    pos: u64,
    n: u64,
    read: &Read,
) -> Result<(Stream, u64), crate::LogsError> {
    let mut window = n.max(64);
    loop {
        let from = stream.lines_back(pos, window)?;
        let mut lines = Lines::new(stream, from);
        let mut offsets = Vec::new();
        while let Some(l) = lines.next_line(false)? {
            if l.offset >= pos {
                break;
            }
            if read.might_match(&l.text)
                && serde_json::from_slice::<Record>(&l.text).is_ok_and(|r| read.matches(&r))
            {
                offsets.push(l.offset);
            }
        }
        stream = lines.into_stream();
        let count = offsets.len() as u64;
        if count >= n {
            let at = offsets
                .get(usize::try_from(count - n).unwrap_or(0))
                .copied()
                .unwrap_or(from);
            return Ok((stream, at));
        }
        if from <= stream.start() {
            return Ok((stream, from));
        }
        window = window.saturating_mul(4);
    }
}

fn start(dir: &std::path::Path, read: Read) -> Result<Response, Response> {
    let bad = |m: String| reply(StatusCode::BAD_REQUEST, m);
    let internal = |e: crate::LogsError| reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let Some(stream) = Stream::open(dir, JOURNAL_NAME).map_err(internal)? else {
        return Err(reply(StatusCode::NO_CONTENT, "No match found"));
    };
    let (cursor, skip) = match &read.last_event {
        Some(id) => (Some(Cursor::At(id.clone())), 1),
        None => (read.query.cursor.clone(), read.query.skip),
    };
    let pos = match cursor {
        None if skip < 0 => stream.end(),
        None if read.follow && skip == 0 => stream.end(),
        None | Some(Cursor::Beg) => stream.start(),
        Some(Cursor::End) => stream.end(),
        Some(Cursor::At(c)) => {
            let at: u64 = c
                .parse()
                .map_err(|_| bad(format!("cursor {c:?} is not a journal cursor")))?;
            if at > stream.end() {
                return Err(bad(format!("cursor {at} is past the end of the journal")));
            }
            at
        }
    };
    let (stream, pos) = if skip < 0 {
        back_matching(stream, pos, skip.unsigned_abs(), &read).map_err(internal)?
    } else {
        let mut lines = Lines::new(stream, pos);
        let mut at = pos;
        for _ in 0..skip.unsigned_abs() {
            match next_match(&mut lines, &read).map_err(internal)? {
                Some(e) => at = e.next,
                None => break,
            }
        }
        (lines.into_stream(), at)
    };
    let mut lines = Lines::new(stream, pos);
    let limit = read.query.limit.unwrap_or(u64::MAX);
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(16);
    if !read.follow {
        // Range: the entries up to the end as of now, streamed after the first (204 if
        // none); newest first (`read_reverse`) is collected whole.
        let end = lines.stream().end();
        let first = match next_match(&mut lines, &read).map_err(internal)? {
            Some(e) if e.offset < end => e,
            _ => return Err(reply(StatusCode::NO_CONTENT, "No match found")),
        };
        if read.reverse {
            let mut entries = vec![first];
            while (entries.len() as u64) < limit {
                match next_match(&mut lines, &read).map_err(internal)? {
                    Some(e) if e.offset < end => entries.push(e),
                    _ => break,
                }
            }
            let mut out = Vec::new();
            for e in entries.iter().rev() {
                render(&mut out, read.format, e);
            }
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, read.format.content_type())
                .body(Body::from(out))
                .map_err(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
        }
        let format = read.format;
        std::thread::Builder::new()
            .name("journal-range".into())
            .spawn(move || {
                let mut out = Vec::with_capacity(64 * 1024);
                render(&mut out, format, &first);
                let mut sent = 1u64;
                while sent < limit {
                    match next_match(&mut lines, &read) {
                        Ok(Some(e)) if e.offset < end => {
                            render(&mut out, format, &e);
                            sent += 1;
                            if out.len() >= 64 * 1024
                                && tx.blocking_send(Ok(std::mem::take(&mut out))).is_err()
                            {
                                return;
                            }
                        }
                        Ok(_) => break,
                        Err(e) => {
                            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                            return;
                        }
                    }
                }
                if !out.is_empty() {
                    let _ = tx.blocking_send(Ok(out));
                }
            })
            .map_err(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, format.content_type())
            .body(Body::from_stream(stream_of(rx)))
            .map_err(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
    }
    std::thread::Builder::new()
        .name("journal-follow".into())
        .spawn(move || follow(lines, limit, &read, &tx))
        .map_err(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    sse_response(Body::from_stream(stream_of(rx)))
}

fn sse_response(body: Body) -> Result<Response, Response> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, LogFormat::EventStream.content_type())
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::CONNECTION, "keep-alive")
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .header("X-Accel-Buffering", "no")
        .body(body)
        .map_err(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn stream_of(
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

fn entry_json(cursor: String, r: &Record) -> String {
    let entry = LogEntry {
        fields: r.fields.clone(),
        cursor,
        monotonic_timestamp: Some(r.monotonic_timestamp),
        realtime_timestamp: Some(r.realtime_timestamp),
    };
    serde_json::to_string(&entry).unwrap_or_default()
}

fn render_record(out: &mut Vec<u8>, format: LogFormat, cursor: &str, r: &Record) {
    match format {
        LogFormat::Text => {
            // dcos-log skips entries without a MESSAGE in text.
            if let Some(m) = r.fields.get("MESSAGE") {
                out.extend_from_slice(
                    format!("{}: {m}\n", format_time(r.realtime_timestamp)).as_bytes(),
                );
            }
        }
        LogFormat::Json => {
            out.extend_from_slice(entry_json(cursor.to_string(), r).as_bytes());
            out.push(b'\n');
        }
        LogFormat::EventStream => {
            let json = entry_json(cursor.to_string(), r);
            out.extend_from_slice(format!("id: {cursor}\ndata: {json}\n\n").as_bytes());
        }
    }
}

fn render(out: &mut Vec<u8>, format: LogFormat, e: &Entry) {
    render_record(out, format, &e.offset.to_string(), &e.record);
}

/// How long a follower sleeps at the end of the journal, and how many sleeps between the
/// comments that tell it the client left.
const FOLLOW_POLL: Duration = Duration::from_millis(100);
const KEEPALIVE_POLLS: u32 = 100;

fn follow(
    mut lines: Lines,
    limit: u64,
    read: &Read,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
) {
    let mut sent = 0u64;
    let mut idle = 0u32;
    let mut out = Vec::new();
    while sent < limit {
        match next_match(&mut lines, read) {
            Ok(Some(e)) => {
                render(&mut out, read.format, &e);
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

/// A unit of journald (systemd nodes): `journalctl -o json -u <unit>`, the cursor being
/// journald's own. Range: the last `-skip` (or the first `limit`) entries; follow: `-f`.
async fn journald(
    unit: String,
    query: LogQuery,
    last_event: Option<String>,
    format: LogFormat,
) -> Response {
    let mut cmd = tokio::process::Command::new("journalctl");
    cmd.args(["-o", "json", "--no-pager", "-u", &unit]);
    let cursor = last_event.or(match &query.cursor {
        Some(Cursor::At(c)) => Some(c.clone()),
        _ => None,
    });
    if let Some(c) = &cursor {
        cmd.arg(format!("--after-cursor={c}"));
    }
    if query.skip < 0 {
        cmd.arg(format!("--lines={}", query.skip.unsigned_abs()));
    }
    let follow = format == LogFormat::EventStream;
    if follow {
        cmd.arg("--follow");
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("journalctl: {e}"),
            );
        }
    };
    let Some(stdout) = child.stdout.take() else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, "journalctl: no output");
    };
    let limit = query.limit.unwrap_or(u64::MAX);
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(stdout).lines();
    if !follow {
        let mut out = Vec::new();
        let mut n = 0u64;
        while n < limit {
            let Ok(Some(line)) = reader.next_line().await else {
                break;
            };
            if let Some((cursor, r)) = parse_journalctl(&line)
                && query.matches(&r.fields)
            {
                render_record(&mut out, format, &cursor, &r);
                n += 1;
            }
        }
        let _ = child.kill().await;
        if n == 0 {
            return reply(StatusCode::NO_CONTENT, "No match found");
        }
        return ([(header::CONTENT_TYPE, format.content_type())], out).into_response();
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(16);
    tokio::spawn(async move {
        let _child = child;
        let mut n = 0u64;
        while n < limit {
            let Ok(Some(line)) = reader.next_line().await else {
                break;
            };
            if let Some((cursor, r)) = parse_journalctl(&line)
                && query.matches(&r.fields)
            {
                let mut out = Vec::new();
                render_record(&mut out, format, &cursor, &r);
                n += 1;
                if tx.send(Ok(out)).await.is_err() {
                    break;
                }
            }
        }
    });
    match sse_response(Body::from_stream(stream_of(rx))) {
        Ok(r) | Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_parameters_become_v2_ones() {
        let p = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let (q, rev) = v1_query(&p(&[
            ("skip_prev", "5"),
            ("filter", "_systemd_unit:dcos-mesos-master.service"),
            ("read_reverse", "true"),
        ]))
        .expect("query");
        assert_eq!(q.skip, -5);
        assert!(rev);
        assert_eq!(
            q.filters,
            vec![("_SYSTEMD_UNIT".into(), "dcos-mesos-master.service".into())]
        );
        assert_eq!(v1_query(&p(&[("skip_next", "2")])).expect("q").0.skip, 2);
        assert!(v1_query(&p(&[("skip_prev", "-1")])).is_err());
    }
}
