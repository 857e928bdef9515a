//! Unpacking fetched archives with the system's tools, as Mesos's fetcher does: `tar` for
//! tarballs (any compression), `unzip` for zip files, `gunzip` for single gzip'ed files.
//! The tools' own output goes to the sandbox's stderr.

use super::FetchError;
use crate::procs;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Longest an extraction may take.
const EXTRACT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The kinds of archives the fetcher unpacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Archive {
    Tar,
    Zip,
    Gzip,
}

/// The archive kind a file name says, if any.
pub(crate) fn kind(name: &str) -> Option<Archive> {
    const TAR: [&str; 8] = [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst",
    ];
    let name = name.to_ascii_lowercase();
    if TAR.iter().any(|ext| name.ends_with(ext)) {
        return Some(Archive::Tar);
    }
    if name.ends_with(".zip") {
        return Some(Archive::Zip);
    }
    name.ends_with(".gz").then_some(Archive::Gzip)
}

/// The command that unpacks `archive` into `dir`, and the file its stdout goes to
/// (gunzip writes the uncompressed file to stdout).
pub(crate) fn command(kind: Archive, archive: &Path, dir: &Path) -> (Command, Option<PathBuf>) {
    let mut cmd;
    let mut stdout_to = None;
    match kind {
        Archive::Tar => {
            cmd = Command::new("tar");
            cmd.arg("--no-same-owner")
                .arg("-C")
                .arg(dir)
                .arg("-xf")
                .arg(archive);
        }
        Archive::Zip => {
            cmd = Command::new("unzip");
            cmd.arg("-o").arg("-q").arg(archive).arg("-d").arg(dir);
        }
        Archive::Gzip => {
            cmd = Command::new("gunzip");
            cmd.arg("-c").arg(archive);
            let name = archive
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            let stem = name
                .as_deref()
                .and_then(|n| n.get(..n.len().saturating_sub(3)));
            stdout_to = Some(dir.join(stem.unwrap_or("unzipped")));
        }
    }
    (cmd, stdout_to)
}

/// How a command is shown in the log: `tar --no-same-owner -C '/s' -xf '/s/a.tgz'`.
fn render(cmd: &Command, stdout_to: Option<&Path>) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        match arg.starts_with('-') {
            true => text.push_str(&format!(" {arg}")),
            false => text.push_str(&format!(" '{arg}'")),
        }
    }
    if let Some(out) = stdout_to {
        text.push_str(&format!(" > '{}'", out.display()));
    }
    text
}

/// Unpacks `archive` into its directory; `log` (the sandbox's stderr) gets the command
/// line and the tool's own error output.
pub(crate) fn extract(
    kind: Archive,
    archive: &Path,
    log: Option<&File>,
) -> Result<String, FetchError> {
    let dir = archive.parent().unwrap_or(Path::new("."));
    let (mut cmd, stdout_to) = command(kind, archive, dir);
    let shown = render(&cmd, stdout_to.as_deref());
    let fail = |why: String| FetchError::Extract {
        archive: archive.to_path_buf(),
        command: shown.clone(),
        why,
    };
    let stdout = match &stdout_to {
        Some(path) => File::create(path)
            .map(Stdio::from)
            .map_err(|e| fail(format!("cannot create {}: {e}", path.display())))?,
        None => Stdio::null(),
    };
    let stderr = log
        .and_then(|f| f.try_clone().ok())
        .map_or_else(Stdio::null, Stdio::from);
    cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let mut child = procs::spawn_claimed(&mut cmd).map_err(|e| fail(e.to_string()))?;
    let waited = procs::wait_until(
        &mut child,
        keel_clock::monotonic() + EXTRACT_TIMEOUT,
        &|| false,
    );
    if !matches!(waited, Ok(Some(_))) {
        procs::kill_and_reap(&mut child);
    }
    procs::unclaim(&child);
    match waited {
        Ok(Some(status)) if status.success() => Ok(shown),
        Ok(Some(status)) => Err(fail(format!("{status}"))),
        Ok(None) => Err(fail(format!("timed out after {EXTRACT_TIMEOUT:?}"))),
        Err(e) => Err(fail(format!("cannot wait for it: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        let kinds: Vec<_> = [
            "a.tar",
            "a.TGZ",
            "a.tar.bz2",
            "a.tar.xz",
            "a.zip",
            "conf.json.gz",
            "a.txt",
            "tar",
        ]
        .iter()
        .map(|n| kind(n))
        .collect();
        use Archive::*;
        assert_eq!(
            kinds,
            [
                Some(Tar),
                Some(Tar),
                Some(Tar),
                Some(Tar),
                Some(Zip),
                Some(Gzip),
                None,
                None
            ]
        );
    }

    #[test]
    fn commands() {
        let show = |kind, archive: &str| {
            let (cmd, out) = command(kind, Path::new(archive), Path::new("/s"));
            render(&cmd, out.as_deref())
        };
        assert_eq!(
            show(Archive::Tar, "/s/a.tgz"),
            "tar --no-same-owner -C '/s' -xf '/s/a.tgz'"
        );
        assert_eq!(
            show(Archive::Zip, "/s/a.zip"),
            "unzip -o -q '/s/a.zip' -d '/s'"
        );
        assert_eq!(
            show(Archive::Gzip, "/s/c.json.gz"),
            "gunzip -c '/s/c.json.gz' > '/s/c.json'"
        );
    }
}
