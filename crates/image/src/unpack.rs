//! Unpacking one layer tar (plain or gzip) into a directory in overlayfs form: modes,
//! ownership, symlinks, hard links, devices, mtimes and `SCHILY.xattr` are kept; `.wh.NAME`
//! becomes a 0:0 character device `NAME`, `.wh..wh..opq` the xattr
//! `trusted.overlay.opaque=y` on its directory. Entries that would land outside the layer
//! (`..`, a path through a symlink, a hard link to outside) are refused.

use std::ffi::OsStr;
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

use crate::digest::HashingReader;
use crate::sys;

/// The overlayfs xattr that hides lower layers' content of a directory.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_WHITEOUT: &[u8] = b".wh..wh..opq";

/// Why a layer could not be unpacked.
#[derive(Debug)]
pub enum LayerError {
    /// A digest the source promised does not match the content.
    Mismatch {
        what: &'static str,
        expected: String,
        actual: String,
    },
    /// A malformed or hostile layer, or a write that failed.
    Bad(String),
}

/// The digests a layer must have.
pub struct Expected<'a> {
    /// `sha256:<hex>` of the uncompressed tar (the config's `diff_id`).
    pub diff_id: &'a str,
    /// `sha256:<hex>` of the blob as stored, when the source names it.
    pub blob: Option<&'a str>,
}

/// Unpacks the layer blob `blob` (tar, maybe gzip) into the existing empty directory
/// `dest` and verifies both digests.
pub fn unpack_layer(blob: impl Read, dest: &Path, expected: &Expected) -> Result<(), LayerError> {
    let mut stored = HashingReader::new(blob);
    let mut tar = HashingReader::new(decompress(BufReader::new(&mut stored))?);
    unpack_tar(&mut tar, dest)?;
    let (diff_id, _) = tar
        .finish()
        .map_err(|e| LayerError::Bad(format!("reading: {e}")))?;
    let (blob_digest, _) = stored
        .finish()
        .map_err(|e| LayerError::Bad(format!("reading: {e}")))?;
    if let Some(want) = expected.blob
        && want != blob_digest
    {
        return Err(LayerError::Mismatch {
            what: "blob",
            expected: want.to_string(),
            actual: blob_digest,
        });
    }
    if expected.diff_id != diff_id {
        return Err(LayerError::Mismatch {
            what: "uncompressed content",
            expected: expected.diff_id.to_string(),
            actual: diff_id,
        });
    }
    Ok(())
}

/// Picks the decompressor from the blob's magic bytes.
fn decompress<'a, R: BufRead + 'a>(mut r: R) -> Result<Box<dyn Read + 'a>, LayerError> {
    let head = r
        .fill_buf()
        .map_err(|e| LayerError::Bad(format!("reading: {e}")))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Err(LayerError::Bad(
            "zstd-compressed layers are not supported".into(),
        ))
    } else {
        Ok(Box::new(r))
    }
}

/// Unpacks an uncompressed layer tar into `dest` in overlay form.
pub fn unpack_tar(r: impl Read, dest: &Path) -> Result<(), LayerError> {
    let mut unpacker = Unpacker {
        dest,
        root: sys::is_root(),
        dirs: Vec::new(),
    };
    let mut archive = tar::Archive::new(r);
    let entries = archive
        .entries()
        .map_err(|e| LayerError::Bad(format!("invalid tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| LayerError::Bad(format!("invalid tar: {e}")))?;
        let raw = entry
            .path()
            .map_err(|e| LayerError::Bad(format!("invalid tar entry name: {e}")))?
            .into_owned();
        let shown = raw.display().to_string();
        let Some(rel) = relative(&raw).map_err(|e| LayerError::Bad(format!("{shown}: {e}")))?
        else {
            continue;
        };
        unpacker
            .entry(&mut entry, &rel)
            .map_err(|e| LayerError::Bad(format!("{shown}: {e}")))?;
    }
    // Directory mtimes last: creating their children changed them.
    for (dir, mtime) in unpacker.dirs.iter().rev() {
        sys::set_mtime(dir, *mtime, 0)
            .map_err(|e| LayerError::Bad(format!("{}: {e}", dir.display())))?;
    }
    Ok(())
}

/// The entry's path inside the layer: leading '/' and '.' dropped; `None` for the layer
/// root itself; an error for `..`.
pub fn relative(path: &Path) -> Result<Option<PathBuf>, String> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => return Err("path contains '..'".into()),
            Component::Normal(n) => out.push(n),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

struct Unpacker<'a> {
    dest: &'a Path,
    root: bool,
    dirs: Vec<(PathBuf, i64)>,
}

/// The metadata of a tar header this unpacker applies.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>, rel: &Path) -> io::Result<()> {
        let parent = ensure_dirs(self.dest, rel.parent().unwrap_or(Path::new("")), true)?;
        let Some(name) = rel.file_name() else {
            return Ok(());
        };
        if let Some(hidden) = name.as_bytes().strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(&parent, name, hidden);
        }
        let target = parent.join(name);
        let h = entry.header();
        let kind = h.entry_type();
        let meta = Meta {
            mode: h.mode()? & 0o7777,
            uid: h.uid()? as u32,
            gid: h.gid()? as u32,
            mtime: h.mtime()? as i64,
        };
        let xattrs = pax_xattrs(entry)?;
        match kind {
            EntryType::Directory => {
                self.directory(&target, &meta)?;
                set_xattrs(&target, &xattrs);
                return Ok(());
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name()?
                    .ok_or_else(|| bad("symlink without target"))?;
                remove_any(&target)?;
                std::os::unix::fs::symlink(&link, &target)?;
                self.chown(&target, &meta)?;
            }
            EntryType::Link => return self.hard_link(entry, &target),
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.node(entry, kind, &target, &meta)?;
            }
            EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink => return Ok(()),
            // POSIX: unknown types are regular files.
            _ => self.file(entry, &target, &meta)?,
        }
        set_xattrs(&target, &xattrs);
        sys::set_mtime(&target, meta.mtime, 0)
    }

    fn whiteout(&self, parent: &Path, name: &OsStr, hidden: &[u8]) -> io::Result<()> {
        if name.as_bytes() == OPAQUE_WHITEOUT {
            return sys::set_xattr(parent, OsStr::new(OPAQUE_XATTR), b"y");
        }
        if hidden.starts_with(WHITEOUT_PREFIX) {
            // Other `.wh..wh.` names are aufs bookkeeping, not content.
            return Ok(());
        }
        let target = parent.join(OsStr::from_bytes(hidden));
        remove_any(&target)?;
        sys::mknod(&target, libc::S_IFCHR, 0, 0)
    }

    fn directory(&mut self, target: &Path, meta: &Meta) -> io::Result<()> {
        match fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                remove_any(target)?;
                fs::create_dir(target)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(target)?,
            Err(e) => return Err(e),
        }
        self.chown(target, meta)?;
        fs::set_permissions(target, Permissions::from_mode(meta.mode))?;
        self.dirs.push((target.to_path_buf(), meta.mtime));
        Ok(())
    }

    fn file<R: Read>(
        &self,
        entry: &mut tar::Entry<R>,
        target: &Path,
        meta: &Meta,
    ) -> io::Result<()> {
        remove_any(target)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(target)?;
        io::copy(entry, &mut f)?;
        if self.root {
            std::os::unix::fs::fchown(&f, Some(meta.uid), Some(meta.gid))?;
        }
        // After chown, which clears set-id bits.
        f.set_permissions(Permissions::from_mode(meta.mode))
    }

    fn node<R: Read>(
        &self,
        entry: &tar::Entry<R>,
        kind: EntryType,
        target: &Path,
        meta: &Meta,
    ) -> io::Result<()> {
        let h = entry.header();
        let (file_type, major, minor) = match kind {
            EntryType::Char | EntryType::Block => {
                let major = h.device_major()?.unwrap_or(0);
                let minor = h.device_minor()?.unwrap_or(0);
                let t = if kind == EntryType::Char {
                    libc::S_IFCHR
                } else {
                    libc::S_IFBLK
                };
                (t, major, minor)
            }
            _ => (libc::S_IFIFO, 0, 0),
        };
        remove_any(target)?;
        sys::mknod(target, file_type | 0o600, major, minor)?;
        self.chown(target, meta)?;
        fs::set_permissions(target, Permissions::from_mode(meta.mode))
    }

    fn hard_link<R: Read>(&self, entry: &tar::Entry<R>, target: &Path) -> io::Result<()> {
        let link = entry
            .link_name()?
            .ok_or_else(|| bad("hard link without target"))?;
        let rel = relative(&link)
            .map_err(|e| bad(&e))?
            .ok_or_else(|| bad("hard link to the layer root"))?;
        let parent = ensure_dirs(self.dest, rel.parent().unwrap_or(Path::new("")), false)?;
        let source = parent.join(rel.file_name().unwrap_or_default());
        match fs::symlink_metadata(&source) {
            Ok(m) if m.is_dir() => return Err(bad("hard link to a directory")),
            Ok(_) => {}
            Err(_) => return Err(bad(&format!("hard link to missing {}", rel.display()))),
        }
        remove_any(target)?;
        // linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
        fs::hard_link(&source, target)
    }

    fn chown(&self, path: &Path, meta: &Meta) -> io::Result<()> {
        if self.root {
            std::os::unix::fs::lchown(path, Some(meta.uid), Some(meta.gid))?;
        }
        Ok(())
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Walks `rel` below `dest`, requiring real directories (never symlinks); missing ones are
/// created (mode 0755) when `create`. Returns `dest/rel`.
pub fn ensure_dirs(dest: &Path, rel: &Path, create: bool) -> io::Result<PathBuf> {
    let mut p = dest.to_path_buf();
    for c in rel.components() {
        p.push(c);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                let what = format!("{} is not a directory (a symlink or file)", p.display());
                return Err(bad(&what));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                DirBuilder::new().mode(0o755).create(&p)?;
                fs::set_permissions(&p, Permissions::from_mode(0o755))?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(p)
}

/// Removes whatever is at `path` (never following a symlink); fine if nothing is there.
pub fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `SCHILY.xattr.*` records of the entry's PAX header, except overlayfs's own.
fn pax_xattrs<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.")
                && !name.starts_with(b"trusted.overlay.")
            {
                out.push((name.to_vec(), ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

fn set_xattrs(path: &Path, xattrs: &[(Vec<u8>, Vec<u8>)]) {
    for (name, value) in xattrs {
        let name = OsStr::from_bytes(name);
        if let Err(e) = sys::set_xattr(path, name, value) {
            tracing::warn!(path = %path.display(), name = ?name, "cannot set xattr: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
