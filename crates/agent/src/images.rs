//! `POST /images/load` (as in Docker's Engine API): an image archive in the request body
//! (`docker save` output or an OCI layout, as a tar, maybe gzipped) is loaded into the
//! agent's image cache, so tasks in Keel's own runtime find it at once, without a
//! registry and without restarting the agent. `?reference=` names the image when the
//! archive does not (or to load it under another name).

use crate::Agent;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use keel_image::{ImageError, ImageStore};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The largest archive accepted.
pub const MAX_ARCHIVE_BYTES: u64 = 32 << 30;

/// A JSON `{"message"}` error with its status.
struct LoadError(StatusCode, String);

impl IntoResponse for LoadError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"message": self.1}))).into_response()
    }
}

impl From<ImageError> for LoadError {
    fn from(e: ImageError) -> Self {
        let code = match e {
            ImageError::BadArchive { .. }
            | ImageError::BadLayer { .. }
            | ImageError::DigestMismatch { .. }
            | ImageError::InvalidReference(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        LoadError(code, e.to_string())
    }
}

/// `POST /images/load[?reference=REF]`: answers the image loaded, `{reference, digest,
/// layers}`.
pub(crate) async fn load(
    State(agent): State<Agent>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Response {
    match load_into_cache(&agent, q.get("reference").cloned(), body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn load_into_cache(
    agent: &Agent,
    reference: Option<String>,
    body: Body,
) -> Result<Response, LoadError> {
    let dir = agent.settings.work_dir.join("uploads");
    let path = dir.join(format!("{}.tar", agent.ids.uuid()));
    let received = receive(body, &dir, &path).await;
    let result = match received {
        Ok(()) => {
            let store_dir = agent.settings.images.store_dir.clone();
            let archive = path.clone();
            tokio::task::spawn_blocking(move || {
                let store = ImageStore::open(&store_dir)?;
                store.load_archive(&archive, reference.as_deref())
            })
            .await
            .map_err(|e| LoadError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
            .and_then(|r| r.map_err(LoadError::from))
        }
        Err(e) => Err(e),
    };
    if let Err(e) = tokio::fs::remove_file(&path).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), "cannot remove an uploaded archive: {e}");
    }
    let image = result?;
    tracing::info!(image = %image.reference, digest = %image.digest, "image loaded");
    let body = json!({
        "reference": image.reference,
        "digest": image.digest,
        "layers": image.layer_ids,
    });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// Writes the request body to `path` (in `dir`), at most [`MAX_ARCHIVE_BYTES`].
async fn receive(body: Body, dir: &Path, path: &PathBuf) -> Result<(), LoadError> {
    let io = |what: &str, e: std::io::Error| {
        LoadError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{what} {}: {e}", path.display()),
        )
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io("cannot create the directory of", e))?;
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| io("cannot create", e))?;
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            LoadError(
                StatusCode::BAD_REQUEST,
                format!("reading the archive from the request: {e}"),
            )
        })?;
        written += chunk.len() as u64;
        if written > MAX_ARCHIVE_BYTES {
            return Err(LoadError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("image archive larger than {MAX_ARCHIVE_BYTES} bytes"),
            ));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| io("cannot write", e))?;
    }
    if written == 0 {
        return Err(LoadError(
            StatusCode::BAD_REQUEST,
            "no image archive in the request body".into(),
        ));
    }
    file.flush().await.map_err(|e| io("cannot write", e))
}
