//! The fetcher: before the task starts, every URI of `TaskSpec.fetch` is downloaded (http,
//! https verified against the system's CAs, following redirects) or copied (`file://`,
//! absolute paths) into the sandbox, then unpacked or made executable, as Mesos's fetcher
//! does. Each step is logged to the sandbox's `stderr`. `cache` is accepted and ignored.

mod archive;
mod source;

use crate::http::{self, HttpError, Limits, TlsMode};
use keel_model::{FetchUri, TaskSpec};
use source::Source;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a URI could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "unsupported URI {uri:?}: only http://, https://, file:// and absolute paths are fetched"
    )]
    Unsupported { uri: String },
    #[error("cannot fetch {uri}: {why}")]
    Destination { uri: String, why: String },
    #[error("cannot fetch {uri}: {source}")]
    Http {
        uri: String,
        #[source]
        source: HttpError,
    },
    #[error("cannot fetch {uri}: the server answered HTTP {status}")]
    Status { uri: String, status: String },
    #[error("cannot fetch {uri}: cannot {op} {path}: {source}")]
    Io {
        uri: String,
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot extract {archive} with `{command}`: {why}")]
    Extract {
        archive: PathBuf,
        command: String,
        why: String,
    },
}

/// How the fetcher reaches the outside world.
#[derive(Debug, Clone)]
pub(crate) struct FetchOptions {
    /// PEM bundle of the CAs that https servers must chain to.
    pub ca_file: PathBuf,
    pub connect_timeout: Duration,
    /// A download that receives nothing for this long fails (Mesos's stall timeout).
    pub stall_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            ca_file: PathBuf::from(http::SYSTEM_CA_FILE),
            connect_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(60),
        }
    }
}

/// Fetches every URI of `task` into `sandbox`, in order; the first failure stops.
pub(crate) fn fetch_all(
    task: &TaskSpec,
    sandbox: &Path,
    options: &FetchOptions,
) -> Result<(), FetchError> {
    if task.fetch.is_empty() {
        return Ok(());
    }
    let mut fetcher = Fetcher::new(sandbox, options);
    for uri in &task.fetch {
        if let Err(e) = fetcher.fetch(uri) {
            fetcher.log(&format!("Failed to fetch '{}': {e}", uri.uri));
            return Err(e);
        }
    }
    if let Some(user) = &task.command.user {
        give_to_user(sandbox, user);
    }
    fetcher.log(&format!(
        "Successfully fetched all URIs into '{}'",
        sandbox.display()
    ));
    Ok(())
}

/// One fetch session: the sandbox, its `stderr` log and the TLS settings.
struct Fetcher<'a> {
    sandbox: &'a Path,
    log: Option<File>,
    tls: TlsMode,
    limits: Limits,
}

impl<'a> Fetcher<'a> {
    fn new(sandbox: &'a Path, options: &FetchOptions) -> Self {
        let path = sandbox.join("stderr");
        let log = OpenOptions::new().create(true).append(true).open(&path);
        if let Err(e) = &log {
            tracing::warn!(path = %path.display(), error = %e, "cannot open the fetcher log");
        }
        Self {
            sandbox,
            log: log.ok(),
            tls: TlsMode::verified(&options.ca_file),
            limits: Limits {
                connect: options.connect_timeout,
                idle: options.stall_timeout,
                deadline: None,
            },
        }
    }

    /// A line in the sandbox's stderr (and the executor's log).
    fn log(&mut self, line: &str) {
        tracing::info!("fetcher: {line}");
        if let Some(file) = &mut self.log {
            let _ = writeln!(file, "keel-fetcher: {line}");
        }
    }

    fn fetch(&mut self, uri: &FetchUri) -> Result<(), FetchError> {
        self.log(&format!("Fetching URI '{}'", uri.uri));
        if uri.cache {
            self.log("Caching is not supported; fetching directly into the sandbox directory");
        }
        let source = Source::parse(&uri.uri)?;
        let dest = self.sandbox.join(source::destination(uri, &source)?);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(uri, "create", dir))?;
        }
        match &source {
            Source::Http(url) => {
                let shown = dest.display();
                self.log(&format!("Downloading resource from '{url}' to '{shown}'"));
                self.download(uri, url, &dest)
            }
            Source::File(path) => {
                let (from, to) = (path.display(), dest.display());
                self.log(&format!("Copying resource from '{from}' to '{to}'"));
                copy(uri, path, &dest)
            }
        }?;
        self.finish(uri, &dest)?;
        self.log(&format!("Fetched '{}' to '{}'", uri.uri, dest.display()));
        Ok(())
    }

    /// Downloads `url` into `dest`; a partial file is removed.
    fn download(&mut self, uri: &FetchUri, url: &http::Url, dest: &Path) -> Result<(), FetchError> {
        let http_err = |source| FetchError::Http {
            uri: uri.uri.clone(),
            source,
        };
        let mut response = http::get_following(url, &self.tls, &self.limits).map_err(http_err)?;
        if response.url != *url {
            self.log(&format!("Redirected to '{}'", response.url));
        }
        if !(200..300).contains(&response.head.status) {
            return Err(FetchError::Status {
                uri: uri.uri.clone(),
                status: response.head.status_text(),
            });
        }
        let mut file = File::create(dest).map_err(io_err(uri, "create", dest))?;
        let copied = copy_body(&mut response, &mut file, uri, dest);
        if copied.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        copied
    }

    /// Makes the file executable, or unpacks it when asked to and it is an archive.
    fn finish(&mut self, uri: &FetchUri, dest: &Path) -> Result<(), FetchError> {
        if uri.executable {
            let mode = std::fs::Permissions::from_mode(0o755);
            return std::fs::set_permissions(dest, mode).map_err(io_err(uri, "chmod", dest));
        }
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(kind) = name
            .as_deref()
            .and_then(archive::kind)
            .filter(|_| uri.extract)
        else {
            return Ok(());
        };
        let dir = dest.parent().unwrap_or(self.sandbox).display().to_string();
        let command = archive::extract(kind, dest, self.log.as_ref())?;
        self.log(&format!(
            "Extracted '{}' into '{dir}' with: {command}",
            dest.display()
        ));
        Ok(())
    }
}

fn io_err<'a>(
    uri: &'a FetchUri,
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> FetchError + 'a {
    move |source| FetchError::Io {
        uri: uri.uri.clone(),
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Copies the body into `file`, telling read (network) from write (disk) failures.
fn copy_body(
    body: &mut impl Read,
    file: &mut File,
    uri: &FetchUri,
    dest: &Path,
) -> Result<(), FetchError> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                let source = HttpError::Io {
                    op: "download",
                    url: uri.uri.clone(),
                    source,
                };
                let uri = uri.uri.clone();
                return Err(FetchError::Http { uri, source });
            }
        };
        let chunk = buf.get(..n).unwrap_or_default();
        file.write_all(chunk).map_err(io_err(uri, "write", dest))?;
    }
    file.flush().map_err(io_err(uri, "write", dest))
}

/// Copies a local file (a URI naming the destination itself is left alone).
fn copy(uri: &FetchUri, from: &Path, to: &Path) -> Result<(), FetchError> {
    if source::same_file(from, to) {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(drop)
        .map_err(io_err(uri, "copy", from))
}

/// Gives everything in the sandbox to the task's user, as Mesos's fetcher runs as that
/// user; best effort (a failure shows up when the task cannot use its files).
fn give_to_user(sandbox: &Path, user: &str) {
    let ids = match crate::spawn::lookup_user(user) {
        Ok(ids) => ids,
        Err(e) => return tracing::warn!(user, error = %e, "cannot chown fetched files"),
    };
    if ids.uid == crate::sys::geteuid() {
        return;
    }
    chown_tree(sandbox, ids.uid, ids.gid);
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    if let Err(e) = std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
        tracing::warn!(path = %path.display(), error = %e, "cannot chown");
    }
    let is_dir = path.symlink_metadata().is_ok_and(|m| m.is_dir());
    if let (true, Ok(entries)) = (is_dir, std::fs::read_dir(path)) {
        for entry in entries.flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}
