//! Reading an HTTP/1.1 response: the head (status line and headers, size-capped), how its
//! body is framed, and `Body`, a reader that stops where the body ends (`Content-Length`,
//! chunked transfer coding, or the connection's end).

use std::io::{self, BufRead, Read};

/// The most bytes a response head may take.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The longest chunk-size line accepted (size plus extensions).
const MAX_CHUNK_LINE: usize = 4096;

/// Status line and headers of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub status: u16,
    pub reason: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
}

/// Why a response head could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeadError {
    #[error("{0}")]
    Io(io::Error),
    #[error("connection closed before a complete response head")]
    Closed,
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    TooLarge,
    #[error("invalid status line {0:?}")]
    StatusLine(String),
    #[error("invalid header line {0:?}")]
    HeaderLine(String),
}

/// Where the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// The body is everything until the server closes the connection.
    UntilClose,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// 301, 302, 303, 307 or 308.
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }

    /// `200 OK`, as messages show a status.
    pub fn status_text(&self) -> String {
        format!("{} {}", self.status, self.reason)
            .trim_end()
            .to_string()
    }

    /// How the body is delimited (RFC 9112 §6.3): chunked wins over `Content-Length`;
    /// differing `Content-Length`s are an error.
    pub fn framing(&self) -> Result<Framing, String> {
        if (100..200).contains(&self.status) || matches!(self.status, 204 | 304) {
            return Ok(Framing::Empty);
        }
        if let Some(te) = self.header("transfer-encoding") {
            let last = te.rsplit(',').next().unwrap_or("").trim();
            return match last.eq_ignore_ascii_case("chunked") {
                true => Ok(Framing::Chunked),
                false => Ok(Framing::UntilClose),
            };
        }
        let mut lengths = self
            .headers
            .iter()
            .filter(|(n, _)| n == "content-length")
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().parse::<u64>());
        let Some(first) = lengths.next() else {
            return Ok(Framing::UntilClose);
        };
        let first = first.map_err(|_| "invalid Content-Length".to_string())?;
        match lengths.all(|l| l == Ok(first)) {
            true => Ok(Framing::Length(first)),
            false => Err("conflicting Content-Length headers".to_string()),
        }
    }
}

/// Reads the status line and headers, leaving `reader` at the start of the body.
pub(crate) fn read_head(reader: &mut impl BufRead) -> Result<Head, HeadError> {
    let mut budget = MAX_HEAD_BYTES;
    let status_line = read_line(reader, &mut budget)?.ok_or(HeadError::Closed)?;
    let (status, reason) = parse_status_line(&status_line)?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget)?.ok_or(HeadError::Closed)?;
        if line.is_empty() {
            return Ok(Head {
                status,
                reason,
                headers,
            });
        }
        headers.push(parse_header_line(&line)?);
    }
}

/// One line without its `\r\n` (or bare `\n`), `None` at end of stream.
fn read_line(reader: &mut impl BufRead, budget: &mut usize) -> Result<Option<String>, HeadError> {
    let mut line = Vec::new();
    let limit = u64::try_from(*budget).unwrap_or(u64::MAX).saturating_add(1);
    let n = reader
        .by_ref()
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(HeadError::Io)?;
    if n == 0 {
        return Ok(None);
    }
    *budget = budget.checked_sub(n).ok_or(HeadError::TooLarge)?;
    if line.pop() != Some(b'\n') {
        return Err(HeadError::Closed);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// `HTTP/1.1 200 OK` → (200, "OK"); the reason phrase may be empty.
pub(crate) fn parse_status_line(line: &str) -> Result<(u16, String), HeadError> {
    let bad = || HeadError::StatusLine(line.to_string());
    let (version, rest) = line.split_once(' ').ok_or_else(bad)?;
    if !version.starts_with("HTTP/1.") {
        return Err(bad());
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let status = code.parse().map_err(|_| bad())?;
    Ok((status, reason.trim().to_string()))
}

/// `Name: value` → ("name", "value").
pub(crate) fn parse_header_line(line: &str) -> Result<(String, String), HeadError> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| HeadError::HeaderLine(line.to_string()))?;
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(HeadError::HeaderLine(line.to_string()));
    }
    Ok((name.to_ascii_lowercase(), value.trim().to_string()))
}

/// The size of a chunk from its size line (`1a;ext=1` → 26).
pub(crate) fn parse_chunk_size(line: &str) -> Option<u64> {
    let size = line.split(';').next()?.trim();
    if size.is_empty() || size.len() > 16 {
        return None;
    }
    u64::from_str_radix(size, 16).ok()
}

/// A response body: reads end where the framing says the body ends.
pub(crate) enum Body<R> {
    Empty,
    Length { reader: R, left: u64 },
    Chunked(Chunked<R>),
    UntilClose(R),
}

impl<R: BufRead> Body<R> {
    pub fn new(reader: R, framing: Framing) -> Self {
        match framing {
            Framing::Empty => Body::Empty,
            Framing::Length(left) => Body::Length { reader, left },
            Framing::Chunked => Body::Chunked(Chunked::new(reader)),
            Framing::UntilClose => Body::UntilClose(reader),
        }
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Empty => Ok(0),
            Body::Length { reader, left } => read_length(reader, left, buf),
            Body::Chunked(chunked) => chunked.read(buf),
            Body::UntilClose(reader) => reader.read(buf),
        }
    }
}

fn read_length(reader: &mut impl Read, left: &mut u64, buf: &mut [u8]) -> io::Result<usize> {
    if *left == 0 || buf.is_empty() {
        return Ok(0);
    }
    let want = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
    let n = reader.read(&mut buf[..want])?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("connection closed with {left} body bytes still to come"),
        ));
    }
    *left -= n as u64;
    Ok(n)
}

/// Decodes the chunked transfer coding; trailers are read and dropped.
pub(crate) struct Chunked<R> {
    reader: R,
    /// Bytes left in the current chunk.
    left: u64,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            left: 0,
            done: false,
        }
    }

    /// Reads a chunk-size line; at the last chunk, the trailers too.
    fn next_chunk(&mut self) -> io::Result<()> {
        let line = self.line()?;
        self.left =
            parse_chunk_size(&line).ok_or_else(|| invalid(format!("bad chunk size {line:?}")))?;
        if self.left == 0 {
            while !self.line()?.is_empty() {}
            self.done = true;
        }
        Ok(())
    }

    fn line(&mut self) -> io::Result<String> {
        let mut budget = MAX_CHUNK_LINE;
        match read_line(&mut self.reader, &mut budget) {
            Ok(Some(line)) => Ok(line),
            Ok(None) | Err(HeadError::Closed) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunked body",
            )),
            Err(HeadError::Io(e)) => Err(e),
            Err(e) => Err(invalid(e.to_string())),
        }
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            self.next_chunk()?;
            if self.done {
                return Ok(0);
            }
        }
        let n = read_length(&mut self.reader, &mut self.left, buf)?;
        if self.left == 0 && !self.line()?.is_empty() {
            return Err(invalid("chunk not followed by CRLF".to_string()));
        }
        Ok(n)
    }
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}
