//! The agent's system calls beyond the standard library: safe wrappers around `libc`, the
//! only module of the agent with `libc::` or `unsafe` (`xtask tidy` checks this).

use std::os::fd::RawFd;
use std::path::Path;

/// What statvfs(3) says about a filesystem.
pub(crate) struct FsStats {
    /// Size in fragments (`f_frsize` bytes each).
    pub blocks: u64,
    /// Fragments free for unprivileged users.
    pub available: u64,
    /// Fragments free (root's reserve included).
    pub free: u64,
    pub fragment_size: u64,
    /// Inodes, and those free.
    pub files: u64,
    pub files_free: u64,
}

/// statvfs(3) of the filesystem holding `path`; `None` when it cannot be read.
pub(crate) fn statvfs(path: &Path) -> Option<FsStats> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a zeroed statvfs is a valid out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(FsStats {
        blocks: st.f_blocks,
        available: st.f_bavail,
        free: st.f_bfree,
        fragment_size: st.f_frsize,
        files: st.f_files,
        files_free: st.f_ffree,
    })
}

/// Between fork and exec of `cmd`: a new session (setsid), and descriptor `fd` as the
/// child's descriptor 3, open across exec (dup2, or clearing FD_CLOEXEC when it already
/// is 3). Only async-signal-safe calls run in the child.
pub(crate) fn detach_with_fd3(cmd: &mut tokio::process::Command, fd: RawFd) {
    // SAFETY: the closure only calls async-signal-safe functions (setsid, dup2, fcntl).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
