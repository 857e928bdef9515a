//! `copy_rootfs`: merges layers in overlayfs form into one plain directory, as overlayfs
//! would show them, for hosts where an overlay mount is not possible.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, Metadata, Permissions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::ImageError;
use crate::sys;
use crate::unpack::{OPAQUE_XATTR, remove_any};

/// Applies `layers` (bottom to top, as in `Image::layers`) into the directory `dest`
/// (created if missing): a 0:0 character device deletes the path below it, a directory with
/// `trusted.overlay.opaque=y` replaces the directory below instead of merging with it.
/// Modes, ownership (when root), symlinks, hard links within a layer, devices, xattrs and
/// mtimes are kept.
pub fn copy_rootfs(layers: &[PathBuf], dest: &Path) -> Result<(), ImageError> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImageError::Rootfs { path, source }
    };
    fs::create_dir_all(dest).map_err(fail(dest))?;
    let mut copier = Copier {
        root: sys::is_root(),
        dirs: Vec::new(),
        links: HashMap::new(),
    };
    for layer in layers {
        copier.links.clear();
        copier.dir(layer, dest).map_err(fail(layer))?;
    }
    for (dir, md) in copier.dirs.iter().rev() {
        sys::set_mtime(dir, md.mtime(), md.mtime_nsec()).map_err(fail(dir))?;
    }
    Ok(())
}

struct Copier {
    root: bool,
    /// Directories written, with the metadata whose mtime they get at the end.
    dirs: Vec<(PathBuf, Metadata)>,
    /// (dev, ino) of multiply linked files of the current layer -> first copy.
    links: HashMap<(u64, u64), PathBuf>,
}

impl Copier {
    fn dir(&mut self, src: &Path, dst: &Path) -> io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(src)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            self.entry(&src.join(&name), &dst.join(&name))
                .map_err(|e| {
                    io::Error::new(e.kind(), format!("{}: {e}", src.join(&name).display()))
                })?;
        }
        Ok(())
    }

    fn entry(&mut self, src: &Path, dst: &Path) -> io::Result<()> {
        let md = fs::symlink_metadata(src)?;
        let ft = md.file_type();
        if ft.is_char_device() && md.rdev() == 0 {
            return remove_any(dst);
        }
        if ft.is_dir() {
            let opaque = sys::get_xattr(src, OPAQUE_XATTR)?.is_some_and(|v| v == b"y");
            match fs::symlink_metadata(dst) {
                Ok(d) if d.is_dir() && !opaque => {}
                Ok(_) => {
                    remove_any(dst)?;
                    fs::create_dir(dst)?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(dst)?,
                Err(e) => return Err(e),
            }
            self.attributes(src, dst, &md)?;
            self.dirs.push((dst.to_path_buf(), md));
            return self.dir(src, dst);
        }
        remove_any(dst)?;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
            self.owner(dst, &md)?;
        } else if ft.is_file() {
            if self.file(src, dst, &md)? {
                return Ok(());
            }
        } else {
            let (major, minor) = sys::dev_parts(md.rdev());
            sys::mknod(dst, md.mode(), major, minor)?;
            self.attributes(src, dst, &md)?;
        }
        sys::set_mtime(dst, md.mtime(), md.mtime_nsec())
    }

    /// Copies a regular file; true when it was a hard link to an earlier copy.
    fn file(&mut self, src: &Path, dst: &Path, md: &Metadata) -> io::Result<bool> {
        let key = (md.dev(), md.ino());
        if md.nlink() > 1 {
            if let Some(first) = self.links.get(&key) {
                fs::hard_link(first, dst)?;
                return Ok(true);
            }
            self.links.insert(key, dst.to_path_buf());
        }
        fs::copy(src, dst)?;
        self.attributes(src, dst, md)?;
        Ok(false)
    }

    /// Owner, then mode (chown clears set-id bits), then xattrs, of a non-symlink.
    fn attributes(&self, src: &Path, dst: &Path, md: &Metadata) -> io::Result<()> {
        self.owner(dst, md)?;
        fs::set_permissions(dst, Permissions::from_mode(md.mode() & 0o7777))?;
        for name in sys::list_xattrs(src)? {
            if name.as_encoded_bytes().starts_with(b"trusted.overlay.") {
                continue;
            }
            if let Some(value) = sys::get_xattr(src, &name)? {
                copy_xattr(dst, &name, &value);
            }
        }
        Ok(())
    }

    fn owner(&self, dst: &Path, md: &Metadata) -> io::Result<()> {
        if self.root {
            std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid()))?;
        }
        Ok(())
    }
}

fn copy_xattr(dst: &Path, name: &OsStr, value: &[u8]) {
    if let Err(e) = sys::set_xattr(dst, name, value) {
        tracing::warn!(path = %dst.display(), name = ?name, "cannot copy xattr: {e}");
    }
}

#[cfg(test)]
mod tests;
