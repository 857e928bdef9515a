//! `keel agent --write-resolv-conf`: the node's resolv.conf pointed at the task DNS
//! address, as DC/OS's gen-resolvconf did, and the previous file put back when the agent
//! stops. The previous content is also kept beside the file (`<path>.keel-orig`), so an
//! agent that crashed restores the true original on its next clean exit, not its own copy.

use crate::error::AgentError;
use std::path::{Path, PathBuf};

/// The node's resolv.conf while the agent has replaced it.
#[derive(Debug)]
pub struct ResolvConf {
    path: PathBuf,
    /// The content to put back (`None`: there was no file).
    original: Option<Vec<u8>>,
}

impl ResolvConf {
    /// Where the previous content of `path` is kept while the agent runs.
    pub fn backup_path(path: &Path) -> PathBuf {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".keel-orig");
        path.with_file_name(name)
    }

    /// Saves the current file (or the backup a crashed agent left) and writes `content`.
    pub fn install(path: &Path, content: &str) -> Result<ResolvConf, AgentError> {
        let backup = Self::backup_path(path);
        let original = match std::fs::read(&backup) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::read(path) {
                Ok(b) => {
                    write_atomic(&backup, &b)?;
                    Some(b)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(AgentError::io(path, e)),
            },
            Err(e) => return Err(AgentError::io(&backup, e)),
        };
        write_atomic(path, content.as_bytes())?;
        Ok(ResolvConf {
            path: path.to_path_buf(),
            original,
        })
    }

    /// Puts the previous file back (removes ours if there was none) and drops the backup.
    pub fn restore(self) -> Result<(), AgentError> {
        match &self.original {
            Some(b) => write_atomic(&self.path, b)?,
            None => match std::fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(AgentError::io(&self.path, e)),
            },
        }
        let backup = Self::backup_path(&self.path);
        match std::fs::remove_file(&backup) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AgentError::io(&backup, e)),
        }
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`,
/// so readers see the old or the new file, never a partial one. A bind-mounted file
/// (a container's /etc/resolv.conf) cannot be renamed over: it is rewritten in place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    use std::io::Write;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".keel-tmp");
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        // EBUSY: a mount point; write in place.
        if e.raw_os_error() == Some(16) {
            return std::fs::write(path, bytes).map_err(|e| AgentError::io(path, e));
        }
        return Err(AgentError::io(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_and_restores_and_survives_a_crash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("resolv.conf");
        std::fs::write(&path, "nameserver 192.0.2.53\n").expect("write");
        let r = ResolvConf::install(&path, "nameserver 127.0.0.1\n").expect("install");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "nameserver 127.0.0.1\n"
        );
        // A crash (no restore), then a new agent: the original is still what comes back.
        drop(r);
        let r = ResolvConf::install(&path, "nameserver 127.0.0.2\n").expect("install");
        r.restore().expect("restore");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "nameserver 192.0.2.53\n"
        );
        assert!(!ResolvConf::backup_path(&path).exists());
    }

    #[test]
    fn a_missing_file_is_removed_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("resolv.conf");
        let r = ResolvConf::install(&path, "nameserver 127.0.0.1\n").expect("install");
        assert!(path.exists());
        r.restore().expect("restore");
        assert!(!path.exists());
    }
}
