//! `CgroupFs`: the narrow file-system surface the cgroup code needs, so the limit-writing
//! logic runs against a temp dir in tests; `HostFs` maps absolute paths under a root.

use std::io;
use std::path::{Path, PathBuf};

/// File operations on cgroup hierarchies. Paths are absolute host paths
/// (`/sys/fs/cgroup/memory/keel/<id>`); an implementation may relocate them.
pub trait CgroupFs: Send + Sync {
    /// Creates `dir` and any missing parents; an existing directory is fine.
    fn create_dir(&self, dir: &Path) -> io::Result<()>;
    /// Removes the (empty) cgroup directory `dir`.
    fn remove_dir(&self, dir: &Path) -> io::Result<()>;
    /// Writes `value` to the control file `file`.
    fn write(&self, file: &Path, value: &str) -> io::Result<()>;
    /// Reads the control file `file`.
    fn read(&self, file: &Path) -> io::Result<String>;
    /// Whether `file` exists.
    fn exists(&self, file: &Path) -> bool;
    /// Where `path` really is, for code that must open it without this trait (the child
    /// process joining its cgroup between fork and exec).
    fn host_path(&self, path: &Path) -> PathBuf;
}

/// The real file system, with every absolute path taken relative to `root` (`/` in
/// production, a temp dir in tests).
#[derive(Debug, Clone)]
pub struct HostFs {
    root: PathBuf,
}

impl HostFs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl Default for HostFs {
    fn default() -> Self {
        Self::new("/")
    }
}

impl CgroupFs for HostFs {
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(self.host_path(dir))
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_dir(self.host_path(dir))
    }

    fn write(&self, file: &Path, value: &str) -> io::Result<()> {
        std::fs::write(self.host_path(file), value)
    }

    fn read(&self, file: &Path) -> io::Result<String> {
        std::fs::read_to_string(self.host_path(file))
    }

    fn exists(&self, file: &Path) -> bool {
        self.host_path(file).exists()
    }

    fn host_path(&self, path: &Path) -> PathBuf {
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }
}
