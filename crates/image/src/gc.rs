//! Image garbage collection: drops records of images unused for a while, then every layer
//! no remaining record references, and stale staging leftovers.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::error::ImageError;
use crate::store::{ImageStore, to_ms};
use crate::unpack::remove_any;

/// Staging leftovers older than this are from a crashed process.
const STALE_STAGING: Duration = Duration::from_secs(3600);

/// What a gc pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GcReport {
    /// Normalized references whose records were removed.
    pub images: Vec<String>,
    /// Layer ids removed.
    pub layers: Vec<String>,
    /// Bytes of the removed layers' files.
    pub bytes: u64,
}

impl ImageStore {
    /// Removes images not used (provisioned) for `older_than` and whose layers are not in
    /// `in_use`, then every layer no remaining image references (and not in `in_use`).
    /// Returns what was removed. Waits for provisions that are recording an image.
    pub fn gc(
        &self,
        older_than: Duration,
        in_use: &BTreeSet<String>,
        now: SystemTime,
    ) -> Result<GcReport, ImageError> {
        let _lock = self.lock(true)?;
        let mut report = GcReport::default();
        let mut referenced = BTreeSet::new();
        let cutoff = to_ms(now).saturating_sub(older_than.as_millis() as u64);
        let images_dir = self.images_dir();
        for path in list(&images_dir)? {
            let Some(record) = self.read_record(&path) else {
                continue;
            };
            let expired = record.last_used_ms <= cutoff;
            let busy = record.layer_ids.iter().any(|id| in_use.contains(id));
            if expired && !busy {
                fs::remove_file(&path).map_err(ImageError::cache(&path))?;
                report.images.push(record.reference);
            } else {
                referenced.extend(record.layer_ids);
            }
        }
        for path in list(&self.layers_dir())? {
            let Some(hex) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let id = format!("sha256:{hex}");
            if referenced.contains(&id) || in_use.contains(&id) {
                continue;
            }
            report.bytes += self.remove_layer(&path, hex)?;
            report.layers.push(id);
        }
        self.remove_stale_staging(now)?;
        report.images.sort();
        Ok(report)
    }

    /// Moves the layer out of `layers/` first, so that it is never seen half removed.
    fn remove_layer(&self, path: &Path, hex: &str) -> Result<u64, ImageError> {
        let bytes = disk_usage(path).map_err(ImageError::cache(path))?;
        let doomed = self.staging(&format!("gc-{hex}"));
        fs::rename(path, doomed.path()).map_err(ImageError::cache(path))?;
        remove_any(doomed.path()).map_err(ImageError::cache(doomed.path()))?;
        Ok(bytes)
    }

    fn remove_stale_staging(&self, now: SystemTime) -> Result<(), ImageError> {
        for path in list(&self.tmp_dir())? {
            let stale = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > STALE_STAGING));
            if stale {
                remove_any(&path).map_err(ImageError::cache(&path))?;
            }
        }
        Ok(())
    }
}

/// The entries of `dir`, sorted.
fn list(dir: &Path) -> Result<Vec<std::path::PathBuf>, ImageError> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .and_then(|rd| rd.map(|e| e.map(|e| e.path())).collect::<io::Result<_>>())
        .map_err(ImageError::cache(dir))?;
    out.sort();
    Ok(out)
}

/// Bytes of the regular files below `dir`, each inode counted once.
fn disk_usage(dir: &Path) -> io::Result<u64> {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let md = entry.metadata()?;
            if md.is_dir() {
                stack.push(entry.path());
            } else if md.is_file() && seen.insert((md.dev(), md.ino())) {
                total += md.len();
            }
        }
    }
    Ok(total)
}
