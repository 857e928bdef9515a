//! dcos-log v2 shapes (`/system/v1/logs/v2/...`): the log entry of the JSON and SSE
//! formats, the query (`cursor`, `skip`, `limit`, `filter`) and the response format the
//! `Accept` header selects, plus the rotation index the executor writes beside a task's
//! rotated `stdout`/`stderr`, which gives every byte a stable offset across rotations.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One log entry as dcos-log renders it in JSON and in SSE `data:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// journald-style fields: `MESSAGE`, `UNIT`, `PRIORITY`, ... (task lines carry
    /// `MESSAGE`, `AGENT_ID`, `EXECUTOR_ID`, `FRAMEWORK_ID`, `CONTAINER_ID`, `FILE`).
    pub fields: BTreeMap<String, String>,
    /// The entry's resumable position (a byte offset for task files).
    pub cursor: String,
    /// Microseconds since the process started (component entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monotonic_timestamp: Option<u64>,
    /// Microseconds since the Unix epoch (component entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_timestamp: Option<u64>,
}

/// Where a read starts, before `skip` moves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The oldest entry kept.
    Beg,
    /// Past the newest entry.
    End,
    /// An entry's cursor (a byte offset for task files, `<µs>-<seq>` for components).
    At(String),
}

/// The v2 query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQuery {
    /// `cursor=`; `None` when absent.
    pub cursor: Option<Cursor>,
    /// `skip=`: lines (or entries) to move, negative = backwards.
    pub skip: i64,
    /// `limit=`: the most lines (entries) to answer.
    pub limit: Option<u64>,
    /// `filter=KEY:value` pairs (keys upper-cased), all of which must match.
    pub filters: Vec<(String, String)>,
}

/// A query parameter that cannot be used (answered 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQueryError(pub String);

impl std::fmt::Display for LogQueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LogQueryError {}

impl LogQuery {
    /// Reads the query's `(name, value)` pairs (already percent-decoded, in order; `filter`
    /// may repeat). Unknown parameters are ignored, as dcos-log does.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, LogQueryError> {
        let mut q = LogQuery::default();
        for (k, v) in pairs {
            match k.as_str() {
                "cursor" => {
                    q.cursor = Some(match v.as_str() {
                        "BEG" => Cursor::Beg,
                        "END" => Cursor::End,
                        "" => return Err(LogQueryError("cursor is empty".into())),
                        other => Cursor::At(other.to_string()),
                    })
                }
                "skip" => {
                    q.skip = v.trim_start_matches('+').parse().map_err(|_| {
                        LogQueryError(format!("skip {v:?} is not an integer (+N or -N)"))
                    })?
                }
                "limit" => {
                    q.limit = Some(v.parse().map_err(|_| {
                        LogQueryError(format!("limit {v:?} is not a non-negative integer"))
                    })?)
                }
                "filter" => {
                    let Some((key, value)) = v.split_once(':') else {
                        return Err(LogQueryError(format!(
                            "filter {v:?} must be of the form key:value"
                        )));
                    };
                    if key.is_empty() {
                        return Err(LogQueryError(format!("filter {v:?} has an empty key")));
                    }
                    q.filters.push((key.to_uppercase(), value.to_string()));
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// Whether `fields` passes every filter.
    pub fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        self.filters
            .iter()
            .all(|(k, v)| fields.get(k).is_some_and(|f| f == v))
    }
}

/// The response format, chosen by exact comparison of the `Accept` header (dcos-log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `text/plain`: lines (components: `YYYY-MM-DD HH:MM:SS: MESSAGE`).
    Text,
    /// `application/json`: one [`LogEntry`] per line.
    Json,
    /// `text/event-stream`: follow, one SSE event per entry, `id:` = its cursor.
    EventStream,
}

impl LogFormat {
    /// The format for an `Accept` header value (anything unknown is text).
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept.map(str::trim) {
            Some("application/json") => LogFormat::Json,
            Some("text/event-stream") => LogFormat::EventStream,
            _ => LogFormat::Text,
        }
    }

    /// The Content-Type answered.
    pub fn content_type(self) -> &'static str {
        match self {
            LogFormat::Text => "text/plain; charset=utf-8",
            LogFormat::Json => "application/json",
            LogFormat::EventStream => "text/event-stream",
        }
    }
}

/// Written by the executor as `.<stream>.index` after every rotation: each kept file of
/// the stream with its inode and the stream offset of its first byte, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RotationIndex {
    /// The kept files, oldest first; the last one is the file being written.
    pub files: Vec<RotatedFile>,
}

/// One file of a rotated stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedFile {
    /// The file name (`stdout.2`, `stdout.1`, `stdout`).
    pub name: String,
    /// Its inode, so a reader can tell a rename in progress from a settled index.
    pub ino: u64,
    /// The stream offset of its first byte.
    pub base: u64,
}

/// The index file's name for `stream` (`stdout` -> `.stdout.index`).
pub fn index_name(stream: &str) -> String {
    format!(".{stream}.index")
}

/// The summary the agent's log archive keeps beside a collected task's compressed files.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ArchivedRun {
    /// The task (= executor) id.
    pub task_id: String,
    /// Per file name (`stdout`): the stream offset of the first archived byte.
    pub bases: BTreeMap<String, u64>,
    /// When it was archived (seconds since the epoch).
    pub archived_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn queries_parse_and_reject() {
        let q = LogQuery::from_pairs(&pairs(&[
            ("cursor", "END"),
            ("skip", "-10"),
            ("filter", "stream:STDERR"),
        ]))
        .unwrap();
        assert_eq!(q.cursor, Some(Cursor::End));
        assert_eq!(q.skip, -10);
        assert_eq!(q.filters, vec![("STREAM".into(), "STDERR".into())]);
        assert_eq!(
            LogQuery::from_pairs(&pairs(&[("skip", "+3")]))
                .unwrap()
                .skip,
            3
        );
        for bad in [
            ("skip", "x"),
            ("limit", "-1"),
            ("filter", "nocolon"),
            ("cursor", ""),
        ] {
            assert!(LogQuery::from_pairs(&pairs(&[bad])).is_err(), "{bad:?}");
        }
        assert_eq!(
            LogFormat::from_accept(Some("text/event-stream")),
            LogFormat::EventStream
        );
        assert_eq!(LogFormat::from_accept(Some("*/*")), LogFormat::Text);
    }
}
