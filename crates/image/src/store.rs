//! `ImageStore`: the on-disk image cache shared by every executor of an agent.
//!
//! Layout under the root:
//! - `layers/sha256/<hex>/`: one unpacked layer in overlay form, named by the digest of its
//!   uncompressed tar (the config's `diff_id`, the same whatever the compression or source);
//!   written only by renaming a finished staging directory into place, never changed after.
//! - `images/<escaped reference>.json`: a `Record` per normalized reference (digest, layer
//!   ids, config, last use), replaced atomically.
//! - `tmp/`: staging directories and downloads; a loser of a race discards its copy.
//! - `lock`: `flock`ed shared while an image is read or recorded, exclusive by gc, so gc
//!   never removes a layer between a provision's check and its record.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::ImageConfig;
use crate::digest::sha256_hex;
use crate::error::ImageError;
use crate::reference::Reference;
use crate::sources::Sources;
use crate::unpack::{Expected, LayerError, remove_any, unpack_layer};
use crate::{archive, registry};

/// How often a provision retries when gc removed a layer between its fetch and its record.
const COMMIT_ATTEMPTS: usize = 3;

/// An image ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Normalized reference, e.g. `docker.io/library/busybox:latest`.
    pub reference: String,
    /// Manifest digest `sha256:...`; for a `docker save` archive (which has no manifest),
    /// the image id (digest of its config).
    pub digest: String,
    /// Layer ids bottom to top: digests of the uncompressed layer tars (`diff_id`s).
    pub layer_ids: Vec<String>,
    /// Unpacked layer directories bottom to top, ready as overlayfs lowerdirs (the last
    /// one is the top: overlayfs wants them reversed in `lowerdir=`).
    pub layers: Vec<PathBuf>,
    pub config: ImageConfig,
}

/// What the cache stores per reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub reference: String,
    pub digest: String,
    pub layer_ids: Vec<String>,
    pub config: ImageConfig,
    /// Last provision, milliseconds since the Unix epoch.
    pub last_used_ms: u64,
}

/// An image fetched from a source whose layers are in the cache, not yet recorded.
pub(crate) struct Staged {
    pub reference: Reference,
    pub digest: String,
    pub layer_ids: Vec<String>,
    pub config: ImageConfig,
}

/// The image cache rooted at one directory.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

/// A directory or file under `tmp/` removed when dropped (unless renamed away first).
pub(crate) struct Staging(PathBuf);

impl Staging {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(e) = remove_any(&self.0) {
            tracing::warn!(path = %self.0.display(), "cannot remove staging path: {e}");
        }
    }
}

impl ImageStore {
    /// Opens (creating if needed) the cache at `root`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let store = ImageStore {
            root: root.to_path_buf(),
        };
        for dir in [store.layers_dir(), store.images_dir(), store.tmp_dir()] {
            fs::create_dir_all(&dir).map_err(ImageError::cache(&dir))?;
        }
        let lock = store.root.join("lock");
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&lock)
            .map_err(ImageError::cache(&lock))?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Makes `reference` available locally and returns it. Uses the cache unless
    /// `force_pull` (then it re-resolves the manifest; layers already cached by digest are
    /// reused). Sources in order: `sources.local_dir`, then the registry.
    pub fn provision(
        &self,
        reference: &str,
        sources: &Sources,
        force_pull: bool,
    ) -> Result<Image, ImageError> {
        let r: Reference = reference.parse()?;
        if !force_pull && let Some(image) = self.cached(&r)? {
            return Ok(image);
        }
        self.stage_and_commit(|| match sources.local_archive(&r) {
            Some(path) => archive::stage(self, &path, Some(&r)),
            None => registry::stage(self, &r, sources),
        })
    }

    /// Loads a `docker save` archive or an OCI image layout (a `.tar`, maybe gzipped, or an
    /// unpacked directory) into the cache, under `reference` or else the name the archive
    /// gives its image.
    pub fn load_archive(&self, path: &Path, reference: Option<&str>) -> Result<Image, ImageError> {
        let r = reference.map(str::parse::<Reference>).transpose()?;
        self.stage_and_commit(|| archive::stage(self, path, r.as_ref()))
    }

    fn stage_and_commit(
        &self,
        stage: impl Fn() -> Result<Staged, ImageError>,
    ) -> Result<Image, ImageError> {
        for _ in 0..COMMIT_ATTEMPTS {
            if let Some(image) = self.commit(stage()?)? {
                return Ok(image);
            }
        }
        let msg = "layers keep being removed by a concurrent gc";
        Err(ImageError::Cache {
            path: self.root.clone(),
            source: io::Error::other(msg),
        })
    }

    /// The cached image for `r` if it is complete, marked as used now.
    fn cached(&self, r: &Reference) -> Result<Option<Image>, ImageError> {
        let _lock = self.lock(false)?;
        let Some(mut record) = self.read_record(&self.record_path(&r.to_string())) else {
            return Ok(None);
        };
        if !record.layer_ids.iter().all(|id| self.has_layer(id)) {
            return Ok(None);
        }
        record.last_used_ms = now_ms();
        self.write_record(&record)?;
        Ok(Some(self.image(record)))
    }

    /// Records a staged image; `None` when one of its layers vanished meanwhile.
    fn commit(&self, staged: Staged) -> Result<Option<Image>, ImageError> {
        let _lock = self.lock(false)?;
        if !staged.layer_ids.iter().all(|id| self.has_layer(id)) {
            return Ok(None);
        }
        let record = Record {
            reference: staged.reference.to_string(),
            digest: staged.digest,
            layer_ids: staged.layer_ids,
            config: staged.config,
            last_used_ms: now_ms(),
        };
        self.write_record(&record)?;
        Ok(Some(self.image(record)))
    }

    pub(crate) fn image(&self, record: Record) -> Image {
        let layers = record
            .layer_ids
            .iter()
            .map(|id| self.layer_path(id))
            .collect();
        Image {
            reference: record.reference,
            digest: record.digest,
            layer_ids: record.layer_ids,
            layers,
            config: record.config,
        }
    }

    pub(crate) fn layers_dir(&self) -> PathBuf {
        self.root.join("layers").join("sha256")
    }

    pub(crate) fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Where layer `id` (`sha256:<hex>`) lives once cached.
    pub(crate) fn layer_path(&self, id: &str) -> PathBuf {
        self.layers_dir()
            .join(sha256_hex(id).unwrap_or("invalid-digest"))
    }

    pub(crate) fn has_layer(&self, id: &str) -> bool {
        sha256_hex(id).is_some() && self.layer_path(id).is_dir()
    }

    /// Takes the cache lock, shared or exclusive; released when the file drops.
    pub(crate) fn lock(&self, exclusive: bool) -> Result<File, ImageError> {
        let path = self.root.join("lock");
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(ImageError::cache(&path))?;
        let locked = if exclusive { f.lock() } else { f.lock_shared() };
        locked.map_err(ImageError::cache(&path))?;
        Ok(f)
    }

    /// A fresh path under `tmp/`, nothing created yet.
    pub(crate) fn staging(&self, label: &str) -> Staging {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{label}-{}-{n}", std::process::id());
        Staging(self.tmp_dir().join(name))
    }

    /// Unpacks the layer `diff_id` from `blob` unless it is cached, verifying `diff_id` and
    /// (when given) `blob_digest`; `image` names the image in errors.
    pub(crate) fn install_layer(
        &self,
        image: &str,
        diff_id: &str,
        blob: impl Read,
        blob_digest: Option<&str>,
    ) -> Result<(), ImageError> {
        if self.has_layer(diff_id) {
            return Ok(());
        }
        let staging = self.staging("layer");
        let dir = staging.path();
        fs::create_dir(dir).map_err(ImageError::cache(dir))?;
        let expected = Expected {
            diff_id,
            blob: blob_digest,
        };
        unpack_layer(blob, dir, &expected).map_err(|e| layer_error(image, diff_id, e))?;
        let dest = self.layer_path(diff_id);
        match crate::sys::rename_noreplace(dir, &dest) {
            Ok(()) => Ok(()),
            // Another provision won the race; ours is discarded with `staging`.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(ImageError::cache(dest)(e)),
        }
    }

    pub(crate) fn record_path(&self, reference: &str) -> PathBuf {
        self.images_dir().join(record_file_name(reference))
    }

    /// Reads a record; a missing or unreadable one is `None` (it is only a cache).
    pub(crate) fn read_record(&self, path: &Path) -> Option<Record> {
        let bytes = fs::read(path).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(record) => Some(record),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unreadable image record: {e}");
                None
            }
        }
    }

    fn write_record(&self, record: &Record) -> Result<(), ImageError> {
        let path = self.record_path(&record.reference);
        let staging = self.staging("record");
        let tmp = staging.path();
        let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other);
        bytes
            .and_then(|b| File::create(tmp)?.write_all(&b))
            .and_then(|()| fs::rename(tmp, &path))
            .map_err(ImageError::cache(&path))
    }
}

fn layer_error(image: &str, diff_id: &str, e: LayerError) -> ImageError {
    match e {
        LayerError::Mismatch {
            what,
            expected,
            actual,
        } => ImageError::DigestMismatch {
            image: image.to_string(),
            blob: format!("layer {diff_id} ({what})"),
            expected,
            actual,
        },
        LayerError::Bad(reason) => ImageError::BadLayer {
            image: image.to_string(),
            layer: diff_id.to_string(),
            reason,
        },
    }
}

/// A file name for a reference: readable (`%XX` escapes) unless too long, then hashed.
fn record_file_name(reference: &str) -> String {
    let mut name = String::new();
    for b in reference.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.len() > 200 {
        name = format!("h-{}", &crate::digest::sha256(reference.as_bytes())[7..]);
    }
    name + ".json"
}

pub(crate) fn now_ms() -> u64 {
    to_ms(keel_clock::wall())
}

pub(crate) fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

#[cfg(test)]
mod tests;
