//! `Url`: the `http://` and `https://` URLs the client understands (host, port, request
//! target), and resolution of redirect `Location`s against them.

use super::HttpError;
use std::fmt;

/// An absolute http(s) URL, without user info or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub https: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Path and query, always starting with `/`.
    pub target: String,
}

impl Url {
    /// Parses `http://host[:port][/path][?query][#fragment]` (or https).
    pub fn parse(text: &str) -> Result<Self, HttpError> {
        let bad = |why| HttpError::Url {
            url: text.to_string(),
            why,
        };
        let (https, rest) = match text.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            _ => return Err(bad("not an http:// or https:// URL")),
        };
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err(bad("user info in URLs is not supported"));
        }
        let (host, port) = split_authority(authority, if https { 443 } else { 80 }).map_err(bad)?;
        if text
            .chars()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
        {
            return Err(bad("contains whitespace or control characters"));
        }
        let target = match target.starts_with('/') {
            true => target.to_string(),
            false => format!("/{target}"),
        };
        Ok(Self {
            https,
            host,
            port,
            target,
        })
    }

    /// The request target (`/path?query`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("/")
    }

    /// The `Host` header: the port only when not the scheme's default.
    pub fn host_header(&self) -> String {
        let host = self.bracketed_host();
        match self.port == self.default_port() {
            true => host,
            false => format!("{host}:{}", self.port),
        }
    }

    fn default_port(&self) -> u16 {
        if self.https { 443 } else { 80 }
    }

    fn bracketed_host(&self) -> String {
        match self.host.contains(':') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        }
    }

    /// Resolves a redirect `Location` (absolute, scheme-relative, absolute-path or relative).
    pub fn join(&self, location: &str) -> Result<Url, HttpError> {
        let location = location.trim();
        if location.contains("://") {
            return Url::parse(location);
        }
        let scheme = if self.https { "https" } else { "http" };
        if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("{scheme}://{rest}"));
        }
        let origin = format!("{scheme}://{}", self.host_header());
        if location.starts_with('/') {
            return Url::parse(&format!("{origin}{location}"));
        }
        let path = self.path();
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        Url::parse(&format!("{origin}{dir}/{location}"))
    }
}

/// `host[:port]` or `[v6][:port]` → host and port.
fn split_authority(authority: &str, default_port: u16) -> Result<(String, u16), &'static str> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or("unclosed '[' in host")?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err("no host");
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p.parse().map_err(|_| "invalid port")?,
    };
    Ok((host.to_string(), port))
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.target)
    }
}
