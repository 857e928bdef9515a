//! The few system calls std lacks: mknod, extended attributes without following symlinks,
//! timestamps of symlinks and directories, and rename without replacing.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "nul byte in name"))
}

fn cpath(path: &Path) -> io::Result<CString> {
    cstr(path.as_os_str().as_bytes())
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether this process runs as root (can chown and mknod).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Creates a device, fifo or socket node; `mode` includes the file type bits.
pub fn mknod(path: &Path, mode: u32, major: u32, minor: u32) -> io::Result<()> {
    let p = cpath(path)?;
    let dev = libc::makedev(major, minor);
    // SAFETY: `p` is a valid NUL-terminated string for the duration of the call.
    check(unsafe { libc::mknod(p.as_ptr(), mode as libc::mode_t, dev) })
}

/// Splits a `st_rdev` into (major, minor).
pub fn dev_parts(rdev: u64) -> (u32, u32) {
    (libc::major(rdev), libc::minor(rdev))
}

/// Sets an extended attribute on `path` itself (never on a symlink's target).
pub fn set_xattr(path: &Path, name: &OsStr, value: &[u8]) -> io::Result<()> {
    let p = cpath(path)?;
    let n = cstr(name.as_bytes())?;
    // SAFETY: valid C strings and a buffer of `value.len()` bytes.
    check(unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// Reads an extended attribute of `path` itself; `None` when it is not set.
pub fn get_xattr(path: &Path, name: impl AsRef<OsStr>) -> io::Result<Option<Vec<u8>>> {
    let p = cpath(path)?;
    let n = cstr(name.as_ref().as_bytes())?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: valid C strings and a writable buffer of `buf.len()` bytes.
        let ret =
            unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if ret >= 0 {
            buf.truncate(ret as usize);
            return Ok(Some(buf));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            _ => return Err(err),
        }
    }
}

/// Names of the extended attributes of `path` itself.
pub fn list_xattrs(path: &Path) -> io::Result<Vec<OsString>> {
    let p = cpath(path)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: a valid C string and a writable buffer of `buf.len()` bytes.
        let ret = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if ret >= 0 {
            buf.truncate(ret as usize);
            let names = buf
                .split(|&b| b == 0)
                .filter(|n| !n.is_empty())
                .map(|n| OsString::from_vec(n.to_vec()))
                .collect();
            return Ok(names);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Some(libc::ERANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            _ => return Err(err),
        }
    }
}

/// Sets access and modification time of `path` itself (symlinks included).
pub fn set_mtime(path: &Path, secs: i64, nsecs: i64) -> io::Result<()> {
    let p = cpath(path)?;
    let t = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: nsecs as _,
    };
    let times = [t, t];
    // SAFETY: a valid C string and an array of two timespecs.
    check(unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            p.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// Renames `from` to `to` only if `to` does not exist (`AlreadyExists` otherwise).
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let f = cpath(from)?;
    let t = cpath(to)?;
    // SAFETY: valid C strings for the duration of the call.
    let ret = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // Filesystems without RENAME_NOREPLACE: a directory rename still refuses a
        // non-empty target, which is what a layer always is once complete.
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            if to.symlink_metadata().is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            std::fs::rename(from, to)
        }
        Some(libc::ENOTEMPTY) => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
        _ => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_noreplace_refuses_an_existing_target() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a)?;
        std::fs::create_dir(&b)?;
        let err = rename_noreplace(&a, &b).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::AlreadyExists));
        std::fs::remove_dir(&b)?;
        rename_noreplace(&a, &b)?;
        assert!(b.is_dir() && !a.exists());
        Ok(())
    }
}
