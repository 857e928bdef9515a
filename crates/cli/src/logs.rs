//! dcos-log v2 for the CLI: a range read (`Accept: text/plain`, or `application/json` with
//! `--json`) or an SSE follow (`Accept: text/event-stream`), printed line by line. Used by
//! `keel task log` and `keel node log`.

use crate::Client;
use anyhow::{Context, bail};
use futures_util::StreamExt;
use keel_api::logs::LogEntry;
use std::io::Write;
use std::time::Duration;

/// How entries print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Task output: the line itself.
    Raw,
    /// Component entries: `YYYY-MM-DD HH:MM:SS: MESSAGE`.
    Timed,
    /// One JSON entry per line.
    Json,
}

/// The text of one SSE entry (`None`: nothing to print).
pub fn entry_line(data: &str, style: Style) -> Option<String> {
    if style == Style::Json {
        return Some(data.to_string());
    }
    let e: LogEntry = serde_json::from_str(data).ok()?;
    let msg = e.fields.get("MESSAGE")?;
    Some(match (style, e.realtime_timestamp) {
        (Style::Timed, Some(t)) => format!("{}: {msg}", keel_logs::journal::format_time(t)),
        _ => msg.clone(),
    })
}

/// Splits SSE bytes into `data:` payloads; `pending` keeps a partial line.
pub fn sse_data(pending: &mut Vec<u8>, chunk: &[u8]) -> Vec<String> {
    pending.extend_from_slice(chunk);
    let mut out = Vec::new();
    while let Some(i) = pending.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = pending.drain(..=i).collect();
        let line = String::from_utf8_lossy(&line);
        if let Some(d) = line.trim_end_matches(['\n', '\r']).strip_prefix("data:") {
            out.push(d.strip_prefix(' ').unwrap_or(d).to_string());
        }
    }
    out
}

/// A range read of `path` (with its query); prints every line. A 204 prints nothing and
/// says so on stderr.
pub async fn range(c: &Client, path: &str, style: Style) -> anyhow::Result<()> {
    let url = format!("{}{path}", c.base);
    let accept = if style == Style::Json {
        "application/json"
    } else {
        "text/plain"
    };
    let resp = c
        .http
        .get(&url)
        .header("Accept", accept)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let code = resp.status().as_u16();
    if code == 204 {
        eprintln!("keel: no log lines");
        return Ok(());
    }
    let body = resp.bytes().await.context("reading the log")?;
    if code != 200 {
        bail!("{url}: {code} {}", String::from_utf8_lossy(&body).trim());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&body)?;
    out.flush()?;
    Ok(())
}

/// Follows `path` (SSE) and prints entries until the stream ends, or `stop` answers true
/// (asked every second; the stream is drained for a second more first).
pub async fn follow<F, Fut>(c: &Client, path: &str, style: Style, mut stop: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let url = format!("{}{path}", c.base);
    let resp = c
        .http
        .get(&url)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let code = resp.status().as_u16();
    if code == 204 {
        eprintln!("keel: no log file yet");
        return Ok(());
    }
    if code != 200 {
        let body = resp.text().await.unwrap_or_default();
        bail!("{url}: {code} {}", body.trim());
    }
    let mut body = resp.bytes_stream();
    let mut pending = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut stopping = false;
    loop {
        tokio::select! {
            chunk = body.next() => {
                let Some(chunk) = chunk else { return Ok(()) };
                let chunk = chunk.context("reading the log stream")?;
                let mut out = std::io::stdout().lock();
                for d in sse_data(&mut pending, &chunk) {
                    if let Some(l) = entry_line(&d, style) {
                        writeln!(out, "{l}")?;
                    }
                }
                out.flush()?;
            }
            _ = tick.tick() => {
                if stopping {
                    return Ok(());
                }
                stopping = stop().await;
            }
        }
    }
}

/// A query value, percent-encoded.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_entries_print_as_lines() {
        let mut p = Vec::new();
        let a = sse_data(
            &mut p,
            b"id: 0\ndata: {\"fields\":{\"MESSAGE\":\"hi\"},\"cursor\":\"0\"}\n\nid: 3\nda",
        );
        assert_eq!(a.len(), 1);
        assert_eq!(entry_line(&a[0], Style::Raw).as_deref(), Some("hi"));
        let b = sse_data(&mut p, b"ta: {\"fields\":{\"MESSAGE\":\"yo\"},\"cursor\":\"3\",\"realtime_timestamp\":0}\n\n:\n\n");
        assert_eq!(
            entry_line(&b[0], Style::Timed).as_deref(),
            Some("1970-01-01 00:00:00: yo")
        );
        assert_eq!(
            entry_line("{\"fields\":{},\"cursor\":\"1\"}", Style::Raw),
            None
        );
        assert_eq!(entry_line("x", Style::Json).as_deref(), Some("x"));
        assert_eq!(encode("KEEL_ROLE:agent"), "KEEL_ROLE%3Aagent");
    }
}
