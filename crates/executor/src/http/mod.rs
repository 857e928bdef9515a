//! A minimal blocking HTTP/1.1 client on `std::net` (and `rustls` for https), enough for
//! health checks (status of a GET) and the fetcher (a GET body, with redirects): one request
//! per connection, `Content-Length`, chunked and close-delimited bodies.

mod conn;
mod response;
mod tls;
mod url;

#[cfg(test)]
mod tests;

pub(crate) use conn::Limits;
pub(crate) use response::Head;
pub(crate) use tls::{SYSTEM_CA_FILE, TlsError, TlsMode};
pub(crate) use url::Url;

use conn::Conn;
use response::Body;
use std::io::{self, BufReader, Read, Write};

/// Redirects followed before giving up (curl's default is 50; browsers use 20).
pub(crate) const MAX_REDIRECTS: usize = 10;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {url:?}: {why}")]
    Url { url: String, why: &'static str },
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("TLS with {host} failed: {source}")]
    Tls { host: String, source: io::Error },
    #[error(transparent)]
    TlsSetup(#[from] TlsError),
    #[error("cannot {op} {url}: {source}")]
    Io {
        op: &'static str,
        url: String,
        source: io::Error,
    },
    #[error("invalid response from {url}: {why}")]
    Response { url: String, why: String },
    #[error("too many redirects (more than {MAX_REDIRECTS}) from {url}")]
    TooManyRedirects { url: String },
    #[error("redirect from {url} without a Location header")]
    RedirectWithoutLocation { url: String },
}

/// A response whose head has been read; reading it yields the (de-chunked) body.
pub(crate) struct Response {
    pub head: Head,
    pub url: Url,
    body: Body<BufReader<Conn>>,
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

/// Sends `GET url` and reads the response head (one request, `Connection: close`).
pub(crate) fn get(url: &Url, tls: &TlsMode, limits: &Limits) -> Result<Response, HttpError> {
    let conn = Conn::open(url, tls, limits)?;
    let mut reader = BufReader::new(conn);
    let io_err = |op| {
        let url = url.to_string();
        move |source| HttpError::Io { op, url, source }
    };
    reader
        .get_mut()
        .write_all(request(url).as_bytes())
        .map_err(io_err("send a request to"))?;
    reader
        .get_mut()
        .flush()
        .map_err(io_err("send a request to"))?;
    let head = response::read_head(&mut reader).map_err(|e| match e {
        response::HeadError::Io(source) => io_err("read the response of")(source),
        other => HttpError::Response {
            url: url.to_string(),
            why: other.to_string(),
        },
    })?;
    let framing = head.framing().map_err(|why| HttpError::Response {
        url: url.to_string(),
        why,
    })?;
    Ok(Response {
        head,
        url: url.clone(),
        body: Body::new(reader, framing),
    })
}

/// `GET url`, following redirects; the final response may have any status.
pub(crate) fn get_following(
    url: &Url,
    tls: &TlsMode,
    limits: &Limits,
) -> Result<Response, HttpError> {
    let mut url = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let response = get(&url, tls, limits)?;
        if !response.head.is_redirect() {
            return Ok(response);
        }
        let location =
            response
                .head
                .header("location")
                .ok_or_else(|| HttpError::RedirectWithoutLocation {
                    url: url.to_string(),
                })?;
        tracing::debug!(from = %url, to = location, "following redirect");
        url = url.join(location)?;
    }
    Err(HttpError::TooManyRedirects {
        url: url.to_string(),
    })
}

/// The request bytes of `GET url`.
fn request(url: &Url) -> String {
    format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: keel/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.target(),
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
    )
}
