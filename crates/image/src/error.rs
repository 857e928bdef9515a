//! `ImageError`: what can go wrong while provisioning an image, with messages short enough
//! for a TASK_FAILED status and naming the image, registry or path.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::reference::ReferenceError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    InvalidReference(#[from] ReferenceError),
    #[error("image {image}: registry {registry} unreachable: {reason}")]
    Unreachable {
        image: String,
        registry: String,
        reason: String,
    },
    #[error(
        "image {image}: registry {registry} answers plain HTTP, not HTTPS: \
         start the agent with --insecure-registry {registry}"
    )]
    PlainHttp { image: String, registry: String },
    #[error("image {image}: not found in {place}")]
    NotFound { image: String, place: String },
    #[error("image {image}: registry {registry} unauthorized: {reason}")]
    Unauthorized {
        image: String,
        registry: String,
        reason: String,
    },
    #[error("image {image}: digest mismatch for {blob}: expected {expected}, got {actual}")]
    DigestMismatch {
        image: String,
        blob: String,
        expected: String,
        actual: String,
    },
    #[error("image {image}: pull from registry {registry} timed out after {after:?}")]
    Timeout {
        image: String,
        registry: String,
        after: Duration,
    },
    #[error("image {image}: registry {registry}: {reason}")]
    Registry {
        image: String,
        registry: String,
        reason: String,
    },
    #[error("image archive {path}: {reason}")]
    BadArchive { path: PathBuf, reason: String },
    #[error("image {image}: layer {layer}: {reason}")]
    BadLayer {
        image: String,
        layer: String,
        reason: String,
    },
    #[error("image cache {path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("rootfs {path}: {source}")]
    Rootfs {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ImageError {
    pub(crate) fn cache(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Cache { path, source }
    }
}
