//! The Marathon event bus and `GET /v2/events` (server-sent events): `event_stream_attached`
//! first, then every event, filtered by repeated `event_type=` parameters, with a comment
//! heartbeat so idle connections stay open through proxies.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// One rendered event: its type (for filtering) and its SSE frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub event_type: String,
    pub sse: Arc<str>,
}

/// Event types marathon-python 0.13.0 does not know: sent only when asked for by name.
const ONLY_ON_REQUEST: &[&str] = &[
    "scheduler_registered_event",
    "scheduler_reregistered_event",
    "scheduler_disconnected_event",
];

/// Fan-out of events to every SSE subscriber.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Frame>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(16384);
        Self { tx }
    }

    /// Publishes a rendered event.
    pub fn publish(&self, event_type: &str, sse: String) {
        let _ = self.tx.send(Frame {
            event_type: event_type.to_string(),
            sse: sse.into(),
        });
    }

    /// Whether anyone listens (events nobody listens to need not be rendered).
    pub fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }
}

fn wanted(filter: &BTreeSet<String>, event_type: &str) -> bool {
    if filter.is_empty() {
        !ONLY_ON_REQUEST.contains(&event_type)
    } else {
        filter.contains(event_type)
    }
}

/// Serves one SSE connection. `attached` is the rendered `event_stream_attached` event.
pub fn serve(
    bus: &Bus,
    headers: &HeaderMap,
    filter: BTreeSet<String>,
    attached: (String, String),
) -> Response {
    let accepts = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream") || v.contains("*/*"));
    if !accepts {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "the event stream needs Accept: text/event-stream",
        )
            .into_response();
    }
    let rx = bus.subscribe();
    let first = wanted(&filter, &attached.0).then(|| Bytes::from(attached.1));
    let s = stream::unfold(
        (rx, filter, first),
        |(mut rx, filter, mut first)| async move {
            if let Some(b) = first.take() {
                return Some((Ok::<_, std::convert::Infallible>(b), (rx, filter, first)));
            }
            loop {
                match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
                    Err(_) => return Some((Ok(Bytes::from_static(b":\n\n")), (rx, filter, first))),
                    Ok(Ok(f)) if wanted(&filter, &f.event_type) => {
                        return Some((Ok(Bytes::from(f.sse.to_string())), (rx, filter, first)));
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                        tracing::warn!(
                            "an event stream subscriber fell {n} events behind; disconnecting it"
                        );
                        return None;
                    }
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                }
            }
        },
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(s),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_type_and_hides_unknown_types_by_default() {
        let none = BTreeSet::new();
        assert!(wanted(&none, "status_update_event"));
        assert!(!wanted(&none, "scheduler_registered_event"));
        let some: BTreeSet<String> = ["scheduler_registered_event".to_string()].into();
        assert!(wanted(&some, "scheduler_registered_event"));
        assert!(!wanted(&some, "status_update_event"));
    }

    #[test]
    fn plan_groups_nest_the_affected_run_specs_by_path() {
        use keel_deploy::{RootGroup, RunSpec};
        let root = RootGroup::new(["/a/b/web", "/top", "/other"].map(RunSpec::app));
        let v = render::group_json(&root, &["/a/b/web".into(), "/top".into()], "v1");
        let ids = |v: &serde_json::Value, key: &str| -> Vec<String> {
            v[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x["id"].as_str().unwrap_or("?").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(v["id"], "/");
        assert_eq!(ids(&v, "apps"), ["/top"]);
        assert_eq!(ids(&v, "groups"), ["/a"]);
        assert_eq!(ids(&v["groups"][0], "groups"), ["/a/b"]);
        assert_eq!(ids(&v["groups"][0]["groups"][0], "apps"), ["/a/b/web"]);
        assert_eq!(v["groups"][0]["groups"][0]["apps"][0]["instances"], 1);
        assert_eq!(v["pods"], serde_json::json!([]));
    }
}

/// Rendering of each event Keel's Marathon emits (payload fields as Marathon names them).
pub mod render {
    use crate::instance::InstanceRecord;
    use keel_api::marathon::format_ts;
    use keel_deploy::{DeploymentPlan, RootGroup, RunSpecKind};
    use keel_model::TaskStatus;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    /// An event ready for the bus: `(eventType, SSE frame)`.
    pub type Rendered = (String, String);

    fn ts(unix_secs: f64) -> String {
        format_ts((unix_secs * 1000.0) as i64)
    }

    /// Frames `payload` (an object) as `event: <type>\ndata: <json>\n\n`.
    pub fn frame(event_type: &str, now: f64, mut payload: Value) -> Rendered {
        if let Some(o) = payload.as_object_mut() {
            o.insert("eventType".into(), json!(event_type));
            o.insert("timestamp".into(), json!(ts(now)));
        }
        let data = serde_json::to_string(&payload).unwrap_or_default();
        (
            event_type.to_string(),
            format!("event: {event_type}\ndata: {data}\n\n"),
        )
    }

    /// `{action, app|pod}` of one action.
    pub fn action_json(a: &keel_deploy::Action) -> Value {
        let key = match a.kind.run_spec_kind() {
            RunSpecKind::App => "app",
            RunSpecKind::Pod => "pod",
        };
        json!({"action": a.kind.as_str(), key: a.run_spec})
    }

    /// The plan as events carry it: its steps, and as `original` and `target` the root
    /// group before and after with the run specs the plan touches, each in the group of
    /// its path (Marathon sends the whole root groups; the rest never changes here).
    pub fn plan_json(p: &DeploymentPlan) -> Value {
        let affected = p.affected();
        json!({
            "id": p.id,
            "version": p.version,
            "steps": p.steps.iter().map(|s| json!({"actions": s.actions.iter().map(action_json).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "original": group_json(&p.original, &affected, &p.version),
            "target": group_json(&p.target, &affected, &p.version),
        })
    }

    /// The parent group of an absolute id: `/a/b` -> `/a`, `/a` -> `/`.
    fn parent(id: &str) -> &str {
        match id.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &id[..i],
        }
    }

    /// The group `/` holding the run specs of `root` named in `ids`, nested by path, with
    /// the keys marathon-python 0.13.0 reads (`apps`, `groups`, `pods`, `dependencies`).
    pub fn group_json(root: &RootGroup, ids: &[String], version: &str) -> Value {
        let mut members: BTreeMap<String, (Vec<Value>, Vec<Value>)> = BTreeMap::new();
        members.entry("/".into()).or_default();
        for spec in ids.iter().filter_map(|id| root.get(id)) {
            let mut g = parent(&spec.id);
            let entry = members.entry(g.to_string()).or_default();
            match spec.kind {
                RunSpecKind::App => entry.0.push(json!({
                    "id": spec.id,
                    "instances": spec.instances,
                    "dependencies": spec.dependencies,
                    "version": spec.version,
                })),
                RunSpecKind::Pod => entry.1.push(json!({
                    "id": spec.id,
                    "scaling": {"kind": "fixed", "instances": spec.instances},
                    "version": spec.version,
                })),
            }
            while g != "/" {
                g = parent(g);
                members.entry(g.to_string()).or_default();
            }
        }
        render_group("/", &members, version)
    }

    fn render_group(
        id: &str,
        members: &BTreeMap<String, (Vec<Value>, Vec<Value>)>,
        version: &str,
    ) -> Value {
        let (apps, pods) = members.get(id).cloned().unwrap_or_default();
        let groups: Vec<Value> = members
            .keys()
            .filter(|g| g.as_str() != "/" && g.as_str() != id && parent(g) == id)
            .map(|g| render_group(g, members, version))
            .collect();
        json!({"id": id, "apps": apps, "groups": groups, "pods": pods, "dependencies": [], "version": version})
    }

    fn step_json(p: &DeploymentPlan, step: usize) -> Value {
        let actions: Vec<Value> = p
            .steps
            .get(step)
            .map(|s| s.actions.iter().map(action_json).collect())
            .unwrap_or_default();
        json!({"actions": actions})
    }

    pub fn deployment_info(p: &DeploymentPlan, step: usize, now: f64) -> Rendered {
        frame(
            "deployment_info",
            now,
            json!({"plan": plan_json(p), "currentStep": step_json(p, step)}),
        )
    }

    pub fn step_success(p: &DeploymentPlan, step: usize, now: f64) -> Rendered {
        frame(
            "deployment_step_success",
            now,
            json!({"plan": plan_json(p), "currentStep": step_json(p, step)}),
        )
    }

    pub fn deployment_success(p: &DeploymentPlan, now: f64) -> Rendered {
        frame(
            "deployment_success",
            now,
            json!({"id": p.id, "plan": plan_json(p)}),
        )
    }

    pub fn deployment_failed(p: &DeploymentPlan, reason: &str, now: f64) -> Rendered {
        frame(
            "deployment_failed",
            now,
            json!({"id": p.id, "plan": plan_json(p), "reason": reason}),
        )
    }

    /// Marathon's `status_update_event`; `ip` is the agent's address (host networking).
    pub fn status_update(
        rec: &InstanceRecord,
        s: &TaskStatus,
        ip: Option<std::net::IpAddr>,
        now: f64,
    ) -> Rendered {
        let ips = crate::task_json::ip_addresses(ip);
        frame(
            "status_update_event",
            now,
            json!({
                "slaveId": rec.agent_id,
                "taskId": s.task_id,
                "taskStatus": s.state.as_str(),
                "message": s.message.clone().unwrap_or_default(),
                "appId": rec.run_spec.to_string(),
                "host": rec.hostname,
                "ipAddresses": ips,
                "ports": rec.ports,
                "version": rec.version,
            }),
        )
    }

    fn condition_name(s: &TaskStatus) -> &'static str {
        use keel_model::TaskState as S;
        match s.state {
            S::Staging => "Staging",
            S::Starting => "Starting",
            S::Running => "Running",
            S::Killing => "Killing",
            S::Finished => "Finished",
            S::Failed => "Failed",
            S::Killed => "Killed",
            S::Error => "Error",
            S::Lost | S::Gone | S::GoneByOperator => "Gone",
            S::Dropped => "Dropped",
            S::Unreachable => "Unreachable",
            S::Unknown => "Unknown",
        }
    }

    pub fn instance_changed(rec: &InstanceRecord, s: &TaskStatus, now: f64) -> Rendered {
        frame(
            "instance_changed_event",
            now,
            json!({
                "instanceId": rec.id,
                "condition": condition_name(s),
                "runSpecId": rec.run_spec.to_string(),
                "agentId": rec.agent_id,
                "host": rec.hostname,
                "runSpecVersion": rec.version,
            }),
        )
    }

    pub fn health_changed(rec: &InstanceRecord, s: &TaskStatus, now: f64) -> Rendered {
        frame(
            "health_status_changed_event",
            now,
            json!({"appId": rec.run_spec.to_string(), "instanceId": rec.id, "taskId": s.task_id, "version": rec.version, "alive": s.healthy.unwrap_or(false)}),
        )
    }

    pub fn api_post(uri: &str, app: &Value, now: f64) -> Rendered {
        frame(
            "api_post_event",
            now,
            json!({"clientIp": "127.0.0.1", "uri": uri, "appDefinition": app}),
        )
    }

    pub fn group_change_success(group: &str, version: &str, now: f64) -> Rendered {
        frame(
            "group_change_success",
            now,
            json!({"groupId": group, "version": version}),
        )
    }

    pub fn app_terminated(app: &str, now: f64) -> Rendered {
        frame("app_terminated_event", now, json!({"appId": app}))
    }

    pub fn attached(remote: &str, now: f64) -> Rendered {
        frame(
            "event_stream_attached",
            now,
            json!({"remoteAddress": remote}),
        )
    }
}

pub use render::{
    api_post, app_terminated, attached, deployment_failed, deployment_info, deployment_success,
    group_change_success, health_changed, instance_changed, status_update, step_success,
};
