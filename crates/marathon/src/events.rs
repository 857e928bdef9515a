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
        let v = serde_json::to_value(render::plan_group(
            &root,
            &["/a/b/web".into(), "/top".into()],
            "v1",
        ))
        .unwrap();
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

/// Rendering of each event Keel's Marathon emits (payloads typed in `keel-api`).
pub mod render {
    use crate::instance::InstanceRecord;
    use keel_api::marathon::events::Emitted;
    use keel_api::marathon::events::emitted::{
        ApiPost, AppTerminated, Attached, DeploymentDone, DeploymentFailed, GroupChange,
        HealthChanged, InstanceChanged, Plan, PlanApp, PlanGroup, PlanPod, PlanStep, StatusUpdate,
    };
    use keel_api::marathon::views::{ActionRef, StepRef};
    use keel_api::marathon::{AppDefinition, format_ts};
    use keel_deploy::{DeploymentPlan, RootGroup, RunSpecKind};
    use keel_model::TaskStatus;
    use serde::Serialize;
    use std::collections::BTreeMap;

    /// An event ready for the bus: `(eventType, SSE frame)`.
    pub type Rendered = (String, String);

    fn ts(unix_secs: f64) -> String {
        format_ts((unix_secs * 1000.0) as i64)
    }

    /// Frames `payload` (a struct) with its `eventType` and `timestamp` as
    /// `event: <type>\ndata: <json>\n\n`.
    pub fn frame<P: Serialize>(event_type: &str, now: f64, payload: P) -> Rendered {
        let e = Emitted {
            event_type,
            timestamp: ts(now),
            payload,
        };
        (event_type.to_string(), e.to_sse())
    }

    /// `{action, app|pod}` of one action.
    pub fn action_ref(a: &keel_deploy::Action) -> ActionRef<'_> {
        let pod = a.kind.run_spec_kind() == RunSpecKind::Pod;
        ActionRef::new(a.kind.as_str(), &a.run_spec, pod)
    }

    /// `{"actions": [...]}` of one step.
    pub fn step_ref(s: &keel_deploy::Step) -> StepRef<'_> {
        StepRef {
            actions: s.actions.iter().map(action_ref).collect(),
        }
    }

    /// The plan as events carry it: its steps, and as `original` and `target` the root
    /// group before and after with the run specs the plan touches, each in the group of
    /// its path (Marathon sends the whole root groups; the rest never changes here).
    pub fn plan_ref<'a>(p: &'a DeploymentPlan, affected: &'a [String]) -> Plan<'a> {
        Plan {
            id: &p.id,
            version: &p.version,
            steps: p.steps.iter().map(step_ref).collect(),
            original: plan_group(&p.original, affected, &p.version),
            target: plan_group(&p.target, affected, &p.version),
        }
    }

    /// The parent group of an absolute id: `/a/b` -> `/a`, `/a` -> `/`.
    fn parent(id: &str) -> &str {
        match id.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &id[..i],
        }
    }

    type Members<'a> = BTreeMap<&'a str, (Vec<PlanApp<'a>>, Vec<PlanPod<'a>>)>;

    /// The group `/` holding the run specs of `root` named in `ids`, nested by path, with
    /// the keys marathon-python 0.13.0 reads (`apps`, `groups`, `pods`, `dependencies`).
    pub fn plan_group<'a>(root: &'a RootGroup, ids: &[String], version: &'a str) -> PlanGroup<'a> {
        let mut members: Members<'a> = BTreeMap::new();
        members.entry("/").or_default();
        for spec in ids.iter().filter_map(|id| root.get(id)) {
            let mut g = parent(&spec.id);
            let entry = members.entry(g).or_default();
            match spec.kind {
                RunSpecKind::App => entry.0.push(PlanApp {
                    id: &spec.id,
                    instances: spec.instances,
                    dependencies: &spec.dependencies,
                    version: &spec.version,
                }),
                RunSpecKind::Pod => {
                    entry
                        .1
                        .push(PlanPod::new(&spec.id, spec.instances, &spec.version))
                }
            }
            while g != "/" {
                g = parent(g);
                members.entry(g).or_default();
            }
        }
        take_group("/", &mut members, version)
    }

    /// Takes group `id` and, nested, its subgroups out of `members`.
    fn take_group<'a>(id: &'a str, members: &mut Members<'a>, version: &'a str) -> PlanGroup<'a> {
        let (apps, pods) = members.remove(id).unwrap_or_default();
        let children: Vec<&'a str> = members
            .keys()
            .copied()
            .filter(|g| *g != "/" && *g != id && parent(g) == id)
            .collect();
        let groups = children
            .into_iter()
            .map(|g| take_group(g, members, version))
            .collect();
        PlanGroup {
            id,
            apps,
            groups,
            pods,
            dependencies: [],
            version,
        }
    }

    fn current_step(p: &DeploymentPlan, step: usize) -> StepRef<'_> {
        p.steps.get(step).map(step_ref).unwrap_or_default()
    }

    pub fn deployment_info(p: &DeploymentPlan, step: usize, now: f64) -> Rendered {
        let affected = p.affected();
        let payload = PlanStep {
            plan: plan_ref(p, &affected),
            current_step: current_step(p, step),
        };
        frame("deployment_info", now, payload)
    }

    pub fn step_success(p: &DeploymentPlan, step: usize, now: f64) -> Rendered {
        let affected = p.affected();
        let payload = PlanStep {
            plan: plan_ref(p, &affected),
            current_step: current_step(p, step),
        };
        frame("deployment_step_success", now, payload)
    }

    pub fn deployment_success(p: &DeploymentPlan, now: f64) -> Rendered {
        let affected = p.affected();
        let payload = DeploymentDone {
            id: &p.id,
            plan: plan_ref(p, &affected),
        };
        frame("deployment_success", now, payload)
    }

    pub fn deployment_failed(p: &DeploymentPlan, reason: &str, now: f64) -> Rendered {
        let affected = p.affected();
        let payload = DeploymentFailed {
            id: &p.id,
            plan: plan_ref(p, &affected),
            reason,
        };
        frame("deployment_failed", now, payload)
    }

    /// Marathon's `status_update_event`; `ip` is the agent's address (host networking),
    /// used when the status names no container address.
    pub fn status_update(
        rec: &InstanceRecord,
        s: &TaskStatus,
        ip: Option<std::net::IpAddr>,
        now: f64,
    ) -> Rendered {
        let payload = StatusUpdate {
            slave_id: &rec.agent_id,
            task_id: s.task_id.as_str(),
            task_status: s.state.as_str(),
            message: s.message.as_deref().unwrap_or_default(),
            app_id: rec.run_spec.to_string(),
            host: &rec.hostname,
            ip_addresses: crate::task_json::ip_addresses(&super::status_ips(s, ip)),
            ports: &rec.ports,
            version: &rec.version,
        };
        frame("status_update_event", now, payload)
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
        let payload = InstanceChanged {
            instance_id: &rec.id,
            condition: condition_name(s),
            run_spec_id: rec.run_spec.to_string(),
            agent_id: &rec.agent_id,
            host: &rec.hostname,
            run_spec_version: &rec.version,
        };
        frame("instance_changed_event", now, payload)
    }

    pub fn health_changed(rec: &InstanceRecord, s: &TaskStatus, now: f64) -> Rendered {
        let payload = HealthChanged {
            app_id: rec.run_spec.to_string(),
            instance_id: &rec.id,
            task_id: s.task_id.as_str(),
            version: &rec.version,
            alive: s.healthy.unwrap_or(false),
        };
        frame("health_status_changed_event", now, payload)
    }

    pub fn api_post(uri: &str, app: &AppDefinition, now: f64) -> Rendered {
        let payload = ApiPost {
            client_ip: "127.0.0.1",
            uri,
            app_definition: app,
        };
        frame("api_post_event", now, payload)
    }

    pub fn group_change_success(group: &str, version: &str, now: f64) -> Rendered {
        let payload = GroupChange {
            group_id: group,
            version,
        };
        frame("group_change_success", now, payload)
    }

    pub fn app_terminated(app: &str, now: f64) -> Rendered {
        frame("app_terminated_event", now, AppTerminated { app_id: app })
    }

    pub fn attached(remote: &str, now: f64) -> Rendered {
        let payload = Attached {
            remote_address: remote,
        };
        frame("event_stream_attached", now, payload)
    }
}

pub use render::{
    api_post, app_terminated, attached, deployment_failed, deployment_info, deployment_success,
    group_change_success, health_changed, instance_changed, status_update, step_success,
};

/// The addresses a status event names: the container's, else the agent's `ip`.
pub(crate) fn status_ips(
    s: &keel_model::TaskStatus,
    ip: Option<std::net::IpAddr>,
) -> Vec<std::net::IpAddr> {
    if s.container_ips.is_empty() {
        ip.into_iter().collect()
    } else {
        s.container_ips.clone()
    }
}
