//! The task's cgroups: created with limits before the task starts, watched for OOM kills
//! while it runs, listed to find every process of the container, removed at the end.

mod fs;
mod layout;
mod limits;

pub use fs::{CgroupFs, HostFs};
pub use layout::CgroupLayout;
pub use limits::{CgroupLimits, Controller, Setting};

use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// A cgroup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("no cgroup hierarchy with the memory controller is mounted")]
    NotMounted,
    #[error("invalid cgroup root {root:?}: must be a relative path without '..'")]
    InvalidRoot { root: String },
    #[error("cannot create cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot write {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    #[error("cannot remove cgroup {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
}

impl CgroupError {
    fn read(path: &Path, source: io::Error) -> Self {
        Self::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The cgroup version in use; decides file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// One container's cgroup directories (one per v1 hierarchy, or one v2 directory).
pub struct ContainerCgroup {
    fs: Box<dyn CgroupFs>,
    version: Version,
    /// The directory holding the memory controller's files.
    memory: PathBuf,
    /// The directory holding the cpu controller's files (may equal `memory`).
    cpu: Option<PathBuf>,
}

impl std::fmt::Debug for ContainerCgroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerCgroup")
            .field("version", &self.version)
            .field("memory", &self.memory)
            .field("cpu", &self.cpu)
            .finish()
    }
}

/// Attempts and pause between them when removing a cgroup whose last process is exiting.
const REMOVE_ATTEMPTS: u32 = 40;
const REMOVE_PAUSE: Duration = Duration::from_millis(50);

impl ContainerCgroup {
    /// Creates `<mount>/<root>/<container_id>` in each hierarchy of `layout` and applies
    /// `limits`. On failure, whatever was created is removed again.
    pub fn create(
        fs: Box<dyn CgroupFs>,
        layout: &CgroupLayout,
        root: &str,
        container_id: &str,
        limits: &CgroupLimits,
    ) -> Result<Self, CgroupError> {
        let rel = relative_dir(root)?.join(container_id);
        let cgroup = match layout {
            CgroupLayout::V1 { memory, cpu } => Self {
                fs,
                version: Version::V1,
                memory: memory.join(&rel),
                cpu: cpu.as_ref().map(|c| c.join(&rel)),
            },
            CgroupLayout::V2 { mount } => Self {
                fs,
                version: Version::V2,
                memory: mount.join(&rel),
                cpu: Some(mount.join(&rel)),
            },
        };
        let setup = match layout {
            CgroupLayout::V1 { .. } => cgroup.setup_v1(limits),
            CgroupLayout::V2 { mount } => cgroup.setup_v2(mount, limits),
        };
        if let Err(e) = setup {
            cgroup.remove_quietly();
            return Err(e);
        }
        Ok(cgroup)
    }

    fn setup_v1(&self, limits: &CgroupLimits) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            self.create_dir(dir)?;
        }
        for setting in limits.v1_settings() {
            match (setting.controller, &self.cpu) {
                (Controller::Memory, _) => self.apply(&self.memory, &setting)?,
                (Controller::Cpu, Some(cpu)) => self.apply(cpu, &setting)?,
                (Controller::Cpu, None) => tracing::warn!(file = setting.file, "no cpu hierarchy"),
            }
        }
        Ok(())
    }

    fn setup_v2(&self, mount: &Path, limits: &CgroupLimits) -> Result<(), CgroupError> {
        self.create_dir(&self.memory)?;
        // Top-down: a controller must be enabled in a parent before its child can enable it.
        let parents: Vec<&Path> = self
            .memory
            .ancestors()
            .skip(1)
            .take_while(|p| p.starts_with(mount))
            .collect();
        for parent in parents.into_iter().rev() {
            self.write(&parent.join("cgroup.subtree_control"), "+cpu +memory")?;
        }
        for setting in limits.v2_settings() {
            self.apply(&self.memory, &setting)?;
        }
        Ok(())
    }

    fn create_dir(&self, dir: &Path) -> Result<(), CgroupError> {
        let host = self.fs.host_path(dir);
        self.fs
            .create_dir(dir)
            .map_err(|source| CgroupError::Create { path: host, source })
    }

    fn apply(&self, dir: &Path, setting: &Setting) -> Result<(), CgroupError> {
        let file = dir.join(setting.file);
        if setting.optional && !self.fs.exists(&file) {
            return Ok(());
        }
        match self.write(&file, &setting.value) {
            Err(e) if setting.optional => {
                tracing::warn!(error = %e, "ignoring failure of optional cgroup setting");
                Ok(())
            }
            other => other,
        }
    }

    fn write(&self, file: &Path, value: &str) -> Result<(), CgroupError> {
        self.fs
            .write(file, value)
            .map_err(|source| CgroupError::Write {
                path: self.fs.host_path(file),
                value: value.to_string(),
                source,
            })
    }

    /// The container's cgroup directories (memory first), each once.
    pub fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.memory).chain(self.cpu.as_ref().filter(|c| **c != self.memory))
    }

    /// The `cgroup.procs` files a process must be written to (host paths).
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs()
            .map(|d| self.fs.host_path(&d.join("cgroup.procs")))
            .collect()
    }

    /// Every process in any of the container's cgroups, sorted, without duplicates.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs()
            .filter_map(|d| self.fs.read(&d.join("cgroup.procs")).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<_>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// How many processes the kernel's OOM killer has killed in this container.
    pub fn oom_kills(&self) -> u64 {
        let file = match self.version {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        self.fs
            .read(&self.memory.join(file))
            .ok()
            .and_then(|text| keyed_value(&text, "oom_kill"))
            .unwrap_or(0)
    }

    /// The container's peak memory usage, when the kernel reports it.
    pub fn peak_memory(&self) -> Option<u64> {
        let file = match self.version {
            Version::V1 => "memory.max_usage_in_bytes",
            Version::V2 => "memory.peak",
        };
        self.fs
            .read(&self.memory.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Removes the container's cgroup directories, retrying while the kernel still counts
    /// exiting processes. The shared `<root>` parent is left in place.
    pub fn remove(&self) -> Result<(), CgroupError> {
        self.dirs().try_for_each(|dir| self.remove_dir(dir))
    }

    fn remove_dir(&self, dir: &Path) -> Result<(), CgroupError> {
        let mut attempt = 1;
        loop {
            match self.fs.remove_dir(dir) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(_) if attempt < REMOVE_ATTEMPTS => std::thread::sleep(REMOVE_PAUSE),
                Err(source) => {
                    return Err(CgroupError::Remove {
                        path: self.fs.host_path(dir),
                        source,
                    });
                }
            }
            attempt += 1;
        }
    }

    fn remove_quietly(&self) {
        for dir in self.dirs() {
            let _ = self.fs.remove_dir(dir);
        }
    }
}

/// Checks that the configured root is a plain relative path (`keel`, `keel/tasks`).
fn relative_dir(root: &str) -> Result<PathBuf, CgroupError> {
    let path = Path::new(root);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    if root.is_empty() || !plain {
        return Err(CgroupError::InvalidRoot {
            root: root.to_string(),
        });
    }
    Ok(path.to_path_buf())
}

/// The number after `key` in a `key value` per line file (`memory.events`, `oom_control`).
fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests;
