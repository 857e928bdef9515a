//! Where a fetch URI points (`Source`: http(s) or a local file) and what the fetched file
//! is called in the sandbox (`dest_path`, or the URI's last path segment).

use super::FetchError;
use crate::http::Url;
use keel_model::FetchUri;
use std::path::{Component, Path, PathBuf};

/// The place a URI is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Http(Url),
    File(PathBuf),
}

impl Source {
    /// `http://`, `https://`, `file:///abs` (or `file://localhost/abs`) and `/abs`.
    pub fn parse(uri: &str) -> Result<Self, FetchError> {
        let unsupported = || FetchError::Unsupported {
            uri: uri.to_string(),
        };
        let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let url = Url::parse(uri).map_err(|source| FetchError::Http {
                uri: uri.to_string(),
                source,
            })?;
            return Ok(Source::Http(url));
        }
        let path = match lower.starts_with("file://") {
            true => uri.get(7..).unwrap_or(""),
            false => uri,
        };
        let path = path.strip_prefix("localhost").unwrap_or(path);
        match path.starts_with('/') {
            true => Ok(Source::File(PathBuf::from(path))),
            false => Err(unsupported()),
        }
    }

    /// The last segment of the source's path.
    fn basename(&self) -> Option<String> {
        let path = match self {
            Source::Http(url) => url.path().to_string(),
            Source::File(path) => path.to_string_lossy().into_owned(),
        };
        let name = path.rsplit('/').next()?;
        (!name.is_empty()).then(|| name.to_string())
    }
}

/// The fetched file's path relative to the sandbox: `dest_path` when set (relative, no
/// `..`), otherwise the URI's basename.
pub(crate) fn destination(uri: &FetchUri, source: &Source) -> Result<PathBuf, FetchError> {
    let bad = |why: &str| FetchError::Destination {
        uri: uri.uri.clone(),
        why: why.to_string(),
    };
    let name = match &uri.dest_path {
        Some(dest) if !dest.trim().is_empty() => dest.clone(),
        _ => source
            .basename()
            .ok_or_else(|| bad("the URI names no file; set dest_path"))?,
    };
    let path = PathBuf::from(&name);
    let plain = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    match plain && path.file_name().is_some() {
        true => Ok(path),
        false => Err(bad(&format!(
            "{name:?} must be a relative path inside the sandbox"
        ))),
    }
}

/// Whether `a` and `b` are the same existing file.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(uri: &str, dest: Option<&str>) -> FetchUri {
        FetchUri {
            uri: uri.into(),
            extract: true,
            executable: false,
            cache: false,
            dest_path: dest.map(String::from),
        }
    }

    /// `source -> destination`, or the error.
    fn check(text: &str, dest: Option<&str>, expect: &str) {
        let got = Source::parse(text).and_then(|source| {
            let dest = destination(&uri(text, dest), &source)?;
            Ok(match source {
                Source::Http(url) => format!("{url} -> {}", dest.display()),
                Source::File(path) => format!("file {} -> {}", path.display(), dest.display()),
            })
        });
        let got = got.unwrap_or_else(|e| format!("error: {e}"));
        assert_eq!(got, expect);
    }

    #[test]
    fn sources_and_destinations() {
        check(
            "http://example.com/a/b.tar.gz?x=1",
            None,
            "http://example.com/a/b.tar.gz?x=1 -> b.tar.gz",
        );
        check(
            "HTTPS://h:8443/tool",
            Some("bin/tool"),
            "https://h:8443/tool -> bin/tool",
        );
        check("file:///srv/app.zip", None, "file /srv/app.zip -> app.zip");
        check("file://localhost/srv/x", None, "file /srv/x -> x");
        check(
            "/srv/conf.json",
            Some("./c.json"),
            "file /srv/conf.json -> ./c.json",
        );
    }

    #[test]
    fn bad_uris_and_destinations() {
        check(
            "ftp://h/x",
            None,
            r#"error: unsupported URI "ftp://h/x": only http://, https://, file:// and absolute paths are fetched"#,
        );
        check(
            "relative/x",
            None,
            r#"error: unsupported URI "relative/x": only http://, https://, file:// and absolute paths are fetched"#,
        );
        check(
            "http://h/dir/",
            None,
            r#"error: cannot fetch http://h/dir/: the URI names no file; set dest_path"#,
        );
        check(
            "http://h/x",
            Some("../x"),
            r#"error: cannot fetch http://h/x: "../x" must be a relative path inside the sandbox"#,
        );
        check(
            "http://h/x",
            Some("/etc/x"),
            r#"error: cannot fetch http://h/x: "/etc/x" must be a relative path inside the sandbox"#,
        );
    }
}
