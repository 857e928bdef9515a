//! Long-lived streams: an agent's registration stream (newline-delimited `MasterEvent`s,
//! whose end marks the agent disconnected) and the task status event stream.

use crate::Master;
use crate::http::{ApiError, parse_json};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use keel_api::internal::{MasterEvent, RegisterAgent};
use keel_model::AgentId;
use tokio::sync::{broadcast, mpsc};

/// Marks the agent disconnected when the response stream is dropped.
struct DisconnectGuard {
    master: Master,
    agent: AgentId,
    generation: u64,
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        let (agent, generation) = (self.agent.clone(), self.generation);
        self.master.with_core(|c| c.disconnect(&agent, generation));
    }
}

fn line<T: serde::Serialize>(v: &T) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

/// `POST /internal/v1/agents/register`: registers, then streams events until disconnect.
pub async fn register(State(m): State<Master>, body: Bytes) -> Result<Response, ApiError> {
    let req: RegisterAgent = parse_json(&body)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let (agent, generation) = m.with_core(|c| c.register(req, tx))?;
    let guard = DisconnectGuard {
        master: m.clone(),
        agent,
        generation,
    };
    let s = stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let ev: MasterEvent = rx.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(line(&ev)), (rx, guard)))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(s),
    )
        .into_response())
}

/// `GET /internal/v1/events`: every task status the master records, one JSON per line.
pub async fn events(State(m): State<Master>) -> Response {
    let rx = m.with_core(|c| c.subscribe());
    let s = stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(status) => return Some((Ok::<_, std::convert::Infallible>(line(&status)), rx)),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("event stream subscriber lagged by {n} events");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(s),
    )
        .into_response()
}
