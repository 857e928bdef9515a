//! A layer for the JSON APIs served beside the master (Marathon, Metronome): an error
//! answer that is not JSON (axum's own rejections of a path, query or body, a 405, a 413
//! past the body limit) becomes `{"message": ...}` with the same status, the error body
//! both APIs share, so clients that parse every 4xx as JSON never meet plain text.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keel_api::marathon::Message;

/// The most of a plain-text error body kept as the message.
const MAX_MESSAGE: usize = 4 << 10;

/// Middleware (`axum::middleware::from_fn(json_errors)`): see the module doc.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&resp) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_MESSAGE * 4)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let mut message: String = text.trim().chars().take(MAX_MESSAGE).collect();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_owned();
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_string(&Message { message }).unwrap_or_default();
    (parts, body).into_response()
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}
