//! The container's filesystem, built by its init inside the new mount namespace: the root
//! (an overlay of the image's layers, or a prepared copy), `/proc`, `/sys`, a minimal
//! `/dev`, the sandbox and volumes, then `pivot_root` into it. Every mount vanishes with
//! the namespace, so nothing needs unmounting on the host.

use super::plan::{ContainerPlan, Mount, MountSource};
use crate::sys::{self, SysError};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Host device nodes bind-mounted into the container's `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Builds the container's filesystem and pivots into it. Errors name what failed.
pub fn build(plan: &ContainerPlan) -> Result<(), String> {
    let root = &plan.rootfs_dir;
    // Nothing mounted from here on may propagate back to the host.
    mount(
        None,
        Path::new("/"),
        None,
        sys::MS_REC | sys::MS_PRIVATE,
        None,
    )?;
    match &plan.rootfs {
        Some(source) => mount_source(source, root)?,
        None => bind(root, root)?,
    }
    proc_sys(root)?;
    dev(root)?;
    for m in &plan.mounts {
        volume(root, m)?;
    }
    pivot(root)
}

fn mount_source(source: &MountSource, target: &Path) -> Result<(), String> {
    match source {
        MountSource::Bind(host) => bind(host, target),
        MountSource::Overlay {
            layers,
            upper,
            work,
        } => {
            for d in [upper, work, &target.to_path_buf()] {
                mkdir_p(d)?;
            }
            // lowerdir lists the top layer first.
            let lower: Vec<String> = layers
                .iter()
                .rev()
                .map(|l| l.display().to_string())
                .collect();
            let data = format!(
                "lowerdir={},upperdir={},workdir={}",
                lower.join(":"),
                upper.display(),
                work.display()
            );
            mount(Some("overlay"), target, Some("overlay"), 0, Some(&data))
        }
    }
}

fn proc_sys(root: &Path) -> Result<(), String> {
    let flags = sys::MS_NOSUID | sys::MS_NODEV | sys::MS_NOEXEC;
    let proc_dir = root.join("proc");
    mkdir_p(&proc_dir)?;
    mount(Some("proc"), &proc_dir, Some("proc"), flags, None)?;
    let sys = root.join("sys");
    mkdir_p(&sys)?;
    // A fresh sysfs needs a network namespace of our own; with host networking, a
    // read-only view of the host's.
    if mount(
        Some("sysfs"),
        &sys,
        Some("sysfs"),
        flags | sys::MS_RDONLY,
        None,
    )
    .is_err()
    {
        bind(Path::new("/sys"), &sys)?;
        remount_readonly(&sys)?;
    }
    Ok(())
}

/// A tmpfs `/dev` with the usual nodes (bind-mounted from the host), `pts`, `shm` and the
/// standard symlinks.
fn dev(root: &Path) -> Result<(), String> {
    let dev = root.join("dev");
    mkdir_p(&dev)?;
    let flags = sys::MS_NOSUID | sys::MS_STRICTATIME;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        flags,
        Some("mode=755,size=65536k"),
    )?;
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if host.exists() {
            let node = dev.join(name);
            touch(&node)?;
            bind(&host, &node)?;
        }
    }
    let pts = dev.join("pts");
    mkdir_p(&pts)?;
    let pts_flags = sys::MS_NOSUID | sys::MS_NOEXEC;
    let pts_data = "newinstance,ptmxmode=0666,mode=0620";
    if mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        pts_flags,
        Some(pts_data),
    )
    .is_ok()
    {
        symlink("pts/ptmx", &dev.join("ptmx"))?;
    }
    let shm = dev.join("shm");
    mkdir_p(&shm)?;
    let shm_flags = sys::MS_NOSUID | sys::MS_NODEV | sys::MS_NOEXEC;
    mount(
        Some("shm"),
        &shm,
        Some("tmpfs"),
        shm_flags,
        Some("mode=1777,size=65536k"),
    )?;
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, &dev.join(link))?;
    }
    Ok(())
}

/// One volume (or the sandbox) at its place under `root`.
fn volume(root: &Path, m: &Mount) -> Result<(), String> {
    let target = inside(root, &m.target)?;
    match &m.source {
        MountSource::Bind(host) if !host.is_dir() => {
            if !host.exists() {
                return Err(format!(
                    "volume host path {} does not exist",
                    host.display()
                ));
            }
            touch(&target)?;
        }
        _ => mkdir_p(&target)?,
    }
    mount_source(&m.source, &target)?;
    if m.readonly {
        remount_readonly(&target)?;
    }
    Ok(())
}

/// `path` under `root`, refusing paths whose existing parts resolve (through symlinks in
/// the image) outside of it.
fn inside(root: &Path, path: &str) -> Result<PathBuf, String> {
    let rel = Path::new(path);
    if rel.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "container path {path:?} climbs out of the container"
        ));
    }
    let target = root.join(rel.strip_prefix("/").unwrap_or(rel));
    let mut existing = target.as_path();
    while !existing.exists() {
        match existing.parent() {
            Some(p) => existing = p,
            None => break,
        }
    }
    let resolved = existing
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", existing.display()))?;
    let root = root
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", root.display()))?;
    match resolved.starts_with(&root) {
        true => Ok(target),
        false => Err(format!(
            "container path {path:?} resolves outside the container"
        )),
    }
}

/// Makes `root` the process's root and drops the old one.
fn pivot(root: &Path) -> Result<(), String> {
    let c = cpath(root)?;
    // pivot_root with "." twice stacks the old root under the new one, which the
    // MNT_DETACH umount then drops.
    sys::chdir(&c).map_err(|e| os_err("chdir", root, e))?;
    sys::pivot_root_here().map_err(|e| os_err("pivot_root", root, e))?;
    sys::detach(c".").map_err(|e| os_err("umount old root", root, e))?;
    sys::chdir(c"/").map_err(|e| os_err("chdir", Path::new("/"), e))
}

fn bind(source: &Path, target: &Path) -> Result<(), String> {
    let flags = sys::MS_BIND | sys::MS_REC;
    let src = source.display().to_string();
    mount(Some(&src), target, None, flags, None)
}

fn remount_readonly(target: &Path) -> Result<(), String> {
    let flags = sys::MS_BIND | sys::MS_REMOUNT | sys::MS_RDONLY;
    mount(None, target, None, flags, None)
}

fn mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: sys::MountFlags,
    data: Option<&str>,
) -> Result<(), String> {
    let cs = |s: Option<&str>| s.map(CString::new).transpose();
    let (Ok(src), Ok(fs), Ok(d)) = (cs(source), cs(fstype), cs(data)) else {
        return Err(format!("mount of {} has a NUL byte", target.display()));
    };
    let tgt = cpath(target)?;
    sys::mount(src.as_deref(), &tgt, fs.as_deref(), flags, d.as_deref()).map_err(|e| {
        let what = fstype.or(source).unwrap_or("remount");
        os_err(&format!("mount {what} on"), target, e)
    })
}

fn mkdir_p(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn touch(file: &Path) -> Result<(), String> {
    if let Some(parent) = file.parent() {
        mkdir_p(parent)?;
    }
    if file.exists() {
        return Ok(());
    }
    std::fs::File::create(file)
        .map(drop)
        .map_err(|e| format!("cannot create {}: {e}", file.display()))
}

fn symlink(to: &str, link: &Path) -> Result<(), String> {
    match std::os::unix::fs::symlink(to, link) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot create {}: {e}", link.display())),
    }
}

fn cpath(p: &Path) -> Result<CString, String> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| format!("{} contains a NUL byte", p.display()))
}

fn os_err(what: &str, path: &Path, e: SysError) -> String {
    format!("{what} {}: {}", path.display(), e.source)
}
