//! Image archives: `docker save` output (`manifest.json` with `<id>/layer.tar` or the newer
//! `blobs/sha256/<hex>` paths) and OCI image layouts (`index.json` + `blobs/`), as a `.tar`
//! (maybe gzipped) or an unpacked directory. Every blob named by a digest is verified; the
//! layers against the config's `diff_ids` too.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{self, ParsedConfig};
use crate::digest::{sha256, sha256_hex};
use crate::error::ImageError;
use crate::reference::Reference;
use crate::store::{ImageStore, Staged};
use crate::unpack::relative;

const MANIFEST_LIST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const NAME_ANNOTATIONS: &[&str] = &[
    "io.containerd.image.name",
    "org.opencontainers.image.ref.name",
];

/// An image found in an archive, its layers not yet installed.
struct Found {
    /// The name the archive gives the image, if any.
    name: Option<Reference>,
    digest: String,
    config: ParsedConfig,
    /// Each layer's file and, when the archive names it, its blob digest.
    layers: Vec<(PathBuf, Option<String>)>,
}

/// Reads the archive at `path`, installs its layers into `store` and returns the image,
/// named `want` or else as the archive names it.
pub(crate) fn stage(
    store: &ImageStore,
    path: &Path,
    want: Option<&Reference>,
) -> Result<Staged, ImageError> {
    let bad = |reason: String| ImageError::BadArchive {
        path: path.to_path_buf(),
        reason,
    };
    let md = fs::metadata(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let extracted;
    let dir = if md.is_dir() {
        path
    } else {
        extracted = store.staging("archive");
        extract(path, extracted.path()).map_err(bad)?;
        extracted.path()
    };
    let found = find(dir, want).map_err(bad)?;
    let reference = match (want, found.name) {
        (Some(want), _) => want.clone(),
        (None, Some(name)) => name,
        (None, None) => return Err(bad("the image has no name: pass a reference".into())),
    };
    let image = reference.to_string();
    for ((file, blob_digest), diff_id) in found.layers.iter().zip(&found.config.diff_ids) {
        if store.has_layer(diff_id) {
            continue;
        }
        let blob = File::open(file).map_err(|e| bad(format!("{}: {e}", file.display())))?;
        store.install_layer(&image, diff_id, blob, blob_digest.as_deref())?;
    }
    Ok(Staged {
        reference,
        digest: found.digest,
        layer_ids: found.config.diff_ids,
        config: found.config.config,
    })
}

/// Extracts the outer archive (plain or gzip tar) into `dest`.
fn extract(path: &Path, dest: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(|e| format!("cannot read: {e}"))?;
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    fs::create_dir(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    archive
        .unpack(dest)
        .map_err(|e| format!("invalid tar: {e}"))
}

fn find(dir: &Path, want: Option<&Reference>) -> Result<Found, String> {
    if dir.join("manifest.json").is_file() {
        docker_save(dir, want)
    } else if dir.join("index.json").is_file() {
        oci_layout(dir, want)
    } else {
        Err("neither manifest.json (docker save) nor index.json (OCI layout) found".into())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn docker_save(dir: &Path, want: Option<&Reference>) -> Result<Found, String> {
    let entries: Vec<SaveEntry> = read_json(dir, "manifest.json")?;
    let tags = |e: &SaveEntry| -> Vec<Reference> {
        let tags = e.repo_tags.iter().flatten();
        tags.filter_map(|t| t.parse().ok()).collect()
    };
    let entry = pick(&entries, want, |e| tags(e))?;
    let config_blob = read_inside(dir, &entry.config)?;
    if let Some(expected) = digest_in_name(&entry.config) {
        verify(&entry.config, &config_blob, &expected)?;
    }
    let config = config::parse(&config_blob)?;
    if config.diff_ids.len() != entry.layers.len() {
        return Err(format!(
            "manifest.json lists {} layers but the config {}",
            entry.layers.len(),
            config.diff_ids.len()
        ));
    }
    let layers = entry
        .layers
        .iter()
        .map(|l| {
            Ok((
                inside(dir, l)?,
                digest_in_name(l).filter(|_| l.contains("blobs/")),
            ))
        })
        .collect::<Result<_, String>>()?;
    Ok(Found {
        name: tags(entry).into_iter().next(),
        digest: sha256(&config_blob),
        config,
        layers,
    })
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    os: String,
    architecture: String,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

fn oci_layout(dir: &Path, want: Option<&Reference>) -> Result<Found, String> {
    let index: Index = read_json(dir, "index.json")?;
    let names = |d: &Descriptor| -> Vec<Reference> {
        let names = NAME_ANNOTATIONS
            .iter()
            .filter_map(|a| d.annotations.get(*a));
        // A bare tag ("latest") is not a name.
        let full = names.filter(|n| n.contains([':', '/']));
        full.filter_map(|n| n.parse().ok()).collect()
    };
    let top = pick(&index.manifests, want, |d| names(d))?;
    let name = names(top).into_iter().next();
    let mut desc_digest = top.digest.clone();
    let mut blob = read_blob(dir, &desc_digest)?;
    if MANIFEST_LIST_TYPES.contains(&top.media_type.as_str()) {
        let nested: Index = serde_json::from_slice(&blob)
            .map_err(|e| format!("invalid index {desc_digest}: {e}"))?;
        let platform = nested
            .manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(is_this_platform))
            .ok_or_else(|| format!("no {} manifest in index {desc_digest}", this_platform()))?;
        desc_digest = platform.digest.clone();
        blob = read_blob(dir, &desc_digest)?;
    }
    let manifest: Manifest = serde_json::from_slice(&blob)
        .map_err(|e| format!("invalid manifest {desc_digest}: {e}"))?;
    let config = config::parse(&read_blob(dir, &manifest.config.digest)?)?;
    if config.diff_ids.len() != manifest.layers.len() {
        return Err(format!(
            "manifest {desc_digest} has {} layers but its config {}",
            manifest.layers.len(),
            config.diff_ids.len()
        ));
    }
    let layers = manifest
        .layers
        .iter()
        .map(|l| Ok((blob_path(dir, &l.digest)?, Some(l.digest.clone()))))
        .collect::<Result<_, String>>()?;
    Ok(Found {
        name,
        digest: desc_digest,
        config,
        layers,
    })
}

/// The entry named `want`, else the only one.
fn pick<'a, T>(
    entries: &'a [T],
    want: Option<&Reference>,
    names: impl Fn(&T) -> Vec<Reference>,
) -> Result<&'a T, String> {
    if let Some(want) = want
        && let Some(e) = entries.iter().find(|e| names(e).contains(want))
    {
        return Ok(e);
    }
    match entries {
        [only] => Ok(only),
        [] => Err("the archive holds no image".into()),
        _ => match want {
            Some(want) => Err(format!(
                "the archive holds {} images, none named {want}",
                entries.len()
            )),
            None => Err(format!(
                "the archive holds {} images: pass a reference",
                entries.len()
            )),
        },
    }
}

fn is_this_platform(p: &Platform) -> bool {
    p.os == "linux" && p.architecture == arch()
}

fn this_platform() -> String {
    format!("linux/{}", arch())
}

/// The OCI name of this machine's architecture.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T, String> {
    let bytes = read_inside(dir, name)?;
    serde_json::from_slice(&bytes).map_err(|e| format!("invalid {name}: {e}"))
}

/// `dir/rel`, refusing anything that leads outside `dir` (`..`, symlinks).
fn inside(dir: &Path, rel: &str) -> Result<PathBuf, String> {
    let clean = relative(Path::new(rel))
        .map_err(|e| format!("{rel}: {e}"))?
        .ok_or_else(|| format!("{rel:?} is not a file name"))?;
    let path = dir.join(clean);
    let real = path.canonicalize().map_err(|e| format!("{rel}: {e}"))?;
    let base = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    if !real.starts_with(&base) {
        return Err(format!("{rel} points outside the archive"));
    }
    Ok(real)
}

fn read_inside(dir: &Path, rel: &str) -> Result<Vec<u8>, String> {
    fs::read(inside(dir, rel)?).map_err(|e| format!("{rel}: {e}"))
}

fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, String> {
    let hex = sha256_hex(digest).ok_or_else(|| format!("unsupported digest {digest:?}"))?;
    inside(dir, &format!("blobs/sha256/{hex}"))
}

/// Reads the blob `digest` of an OCI layout and verifies it.
fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>, String> {
    let path = blob_path(dir, digest)?;
    let bytes = fs::read(&path).map_err(|e| format!("blob {digest}: {e}"))?;
    verify(digest, &bytes, digest)?;
    Ok(bytes)
}

fn verify(what: &str, bytes: &[u8], expected: &str) -> Result<(), String> {
    let actual = sha256(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "digest mismatch for {what}: expected {expected}, got {actual}"
        ))
    }
}

/// The digest a `docker save` path names: `<hex>.json` or `blobs/sha256/<hex>`.
fn digest_in_name(rel: &str) -> Option<String> {
    let last = Path::new(rel).file_name()?.to_str()?;
    let hex = last.strip_suffix(".json").unwrap_or(last);
    let digest = format!("sha256:{hex}");
    sha256_hex(&digest).is_some().then_some(digest)
}

#[cfg(test)]
mod tests;
