//! One client connection: TCP with a connect timeout, reads and writes bounded by an idle
//! timeout and an optional overall deadline, and TLS on top for https.

use super::tls::TlsMode;
use super::{HttpError, Url};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long a request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Longest wait for one connection attempt.
    pub connect: Duration,
    /// Longest wait for any single read or write.
    pub idle: Duration,
    /// Everything must be done by then.
    pub deadline: Option<Instant>,
}

impl Limits {
    /// Everything within `timeout` from now (health checks).
    pub fn total(timeout: Duration) -> Self {
        Self {
            connect: timeout,
            idle: timeout,
            deadline: keel_clock::monotonic().checked_add(timeout),
        }
    }

    /// `base`, shortened to what is left before the deadline; an error once it passed.
    fn timeout(&self, base: Duration) -> io::Result<Duration> {
        let left = match self.deadline {
            Some(deadline) => deadline
                .saturating_duration_since(keel_clock::monotonic())
                .min(base),
            None => base,
        };
        match left.is_zero() {
            true => Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            false => Ok(left),
        }
    }
}

/// A TCP stream whose every read and write is bounded by [`Limits`].
pub(crate) struct TimedStream {
    tcp: TcpStream,
    limits: Limits,
}

impl Read for TimedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = self.limits.timeout(self.limits.idle)?;
        self.tcp.set_read_timeout(Some(timeout))?;
        self.tcp.read(buf)
    }
}

impl Write for TimedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let timeout = self.limits.timeout(self.limits.idle)?;
        self.tcp.set_write_timeout(Some(timeout))?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// A plain or TLS connection.
pub(crate) enum Conn {
    Plain(TimedStream),
    Tls(Box<StreamOwned<ClientConnection, TimedStream>>),
}

impl Conn {
    /// Connects to `url`'s host and port; for https, completes the TLS handshake.
    pub fn open(url: &Url, tls: &TlsMode, limits: &Limits) -> Result<Self, HttpError> {
        let tcp = connect(&url.host, url.port, limits)?;
        let stream = TimedStream {
            tcp,
            limits: *limits,
        };
        if !url.https {
            return Ok(Conn::Plain(stream));
        }
        let tls_err = |source| HttpError::Tls {
            host: url.host.clone(),
            source,
        };
        let name = ServerName::try_from(url.host.clone())
            .map_err(|e| tls_err(io::Error::new(io::ErrorKind::InvalidInput, e.to_string())))?;
        let client = ClientConnection::new(tls.client_config()?, name)
            .map_err(|e| tls_err(io::Error::other(e)))?;
        let mut stream = StreamOwned::new(client, stream);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).map_err(tls_err)?;
        }
        Ok(Conn::Tls(Box::new(stream)))
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// Connects to the first address of `host` that accepts within the limits.
fn connect(host: &str, port: u16, limits: &Limits) -> Result<TcpStream, HttpError> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| HttpError::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
    for addr in &addrs {
        let attempt = limits
            .timeout(limits.connect)
            .and_then(|t| TcpStream::connect_timeout(addr, t));
        match attempt {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = e,
        }
    }
    let addr = match addrs.first() {
        Some(first) => first.to_string(),
        None => format!("{host}:{port}"),
    };
    Err(HttpError::Connect { addr, source: last })
}
