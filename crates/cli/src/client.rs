//! A thin HTTP client for the cluster entry, turning error bodies into readable errors.

use anyhow::{Context, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The cluster, as seen from the CLI.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// GET `path` and decode JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        decode(resp, &url).await
    }

    /// GET `path` as a raw response (downloads); fails on a non-2xx status.
    pub async fn get_raw(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        anyhow::ensure!(resp.status().is_success(), "GET {url}: {}", resp.status());
        Ok(resp)
    }

    /// Any method with an optional JSON body; decodes the JSON reply (`null` when empty).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        decode(resp, &url).await
    }

    /// POST a raw body (a file, streamed) to `path` and decode the JSON reply.
    pub async fn post_body<T: DeserializeOwned>(
        &self,
        path: &str,
        body: reqwest::Body,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-tar")
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        decode(resp, &url).await
    }

    /// POST JSON to `path` and decode the JSON reply (or `null` for an empty one).
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        decode(resp, &url).await
    }
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response, url: &str) -> anyhow::Result<T> {
    let status = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("reading reply from {url}"))?;
    if !status.is_success() {
        return Err(anyhow!("{}", error_message(status, &text)));
    }
    let text = if text.trim().is_empty() {
        "null".to_string()
    } else {
        text
    };
    serde_json::from_str(&text).with_context(|| format!("unexpected reply from {url}"))
}

/// `message` of a JSON error body, plus placement rejections when present.
fn error_message(status: reqwest::StatusCode, text: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return format!("{status}: {}", text.trim());
    };
    let mut msg = v
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or(text)
        .to_string();
    if let Some(r) = v.get("rejections").and_then(Value::as_object) {
        let parts: Vec<String> = r
            .iter()
            .map(|(k, n)| format!("{n} agent(s): {k}"))
            .collect();
        if !parts.is_empty() {
            msg = format!("{msg} ({})", parts.join("; "));
        }
    }
    if let Some(details) = v.get("details").and_then(Value::as_array) {
        for d in details {
            let path = d.get("path").and_then(Value::as_str).unwrap_or("/");
            let errors: Vec<&str> = d
                .get("errors")
                .and_then(Value::as_array)
                .map(|e| e.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            msg.push_str(&format!("\n  {path}: {}", errors.join("; ")));
        }
    }
    if let Some(deps) = v.get("deployments").and_then(Value::as_array) {
        let ids: Vec<&str> = deps
            .iter()
            .filter_map(|d| d.get("id").and_then(Value::as_str))
            .collect();
        if !ids.is_empty() {
            msg.push_str(&format!(" (deployments: {})", ids.join(", ")));
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_name_rejections() {
        let body =
            r#"{"message":"no agent can run this task","rejections":{"insufficient cpus":2}}"#;
        assert_eq!(
            error_message(reqwest::StatusCode::SERVICE_UNAVAILABLE, body),
            "no agent can run this task (2 agent(s): insufficient cpus)"
        );
        assert_eq!(
            error_message(reqwest::StatusCode::NOT_FOUND, "nope"),
            "404 Not Found: nope"
        );
        let body = r#"{"message":"Object is not valid","details":[{"path":"/cpus","errors":["error.min"]}]}"#;
        assert_eq!(
            error_message(reqwest::StatusCode::UNPROCESSABLE_ENTITY, body),
            "Object is not valid\n  /cpus: error.min"
        );
    }
}
