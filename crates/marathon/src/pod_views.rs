//! Rendering pods as Marathon JSON: `PodStatus` (`/v2/pods/{id}::status`) with one
//! `PodInstanceStatus` per live instance, and the `Instance` records returned when pod
//! instances are killed.

use crate::instance::{InstanceRecord, condition};
use crate::pod::{PodRecord, combined_view};
use crate::state::State;
use crate::task_views::Views;
use keel_api::marathon::pod::PodContainer;
use keel_api::marathon::pod_status::{
    AgentInfo, ContainerEndpointStatus, ContainerStatus, Goal, InstanceState, PodInstanceState,
    PodState,
};
use keel_api::marathon::spec::UnreachableStrategy;
use keel_api::marathon::{Instance, PodInstanceStatus, PodStatus, Timestamp};
use keel_master::TaskView;
use keel_model::TaskState;

fn ts(secs: f64) -> Timestamp {
    Timestamp::from_millis((secs * 1000.0) as i64)
}

/// Why instances of a pod wait (the status `message`): how many, and which reasons kept
/// them off how many agents, e.g. `1 instance not placed: insufficient cpus (1 of 1 agents)`.
fn waiting_message(q: &crate::state::QueueEntry) -> String {
    let reasons: Vec<String> = q
        .rejections
        .iter()
        .map(|(reason, n)| format!("{reason} ({n} of {} agents)", q.agents))
        .collect();
    let noun = if q.waiting == 1 {
        "instance"
    } else {
        "instances"
    };
    format!("{} {noun} not placed: {}", q.waiting, reasons.join(", "))
}

/// The status of pod `p`; `tasks` are the master's real task views.
pub fn pod_status(st: &State, p: &PodRecord, tasks: &Views, now: f64) -> PodStatus {
    let id = p.id();
    let instances: Vec<PodInstanceStatus> = st
        .instances_of(&id)
        .filter_map(|r| instance_status(p, r, tasks))
        .collect();
    let stable = instances
        .iter()
        .filter(|i| i.status == PodInstanceState::Stable)
        .count();
    let status = if stable as u32 >= p.instances() {
        PodState::Stable
    } else {
        PodState::Degraded
    };
    let changed = instances
        .iter()
        .map(|i| i.last_changed)
        .max()
        .unwrap_or(p.version());
    PodStatus {
        id: id.to_string(),
        spec: p.pod.clone(),
        status,
        status_since: changed,
        message: st.queue.get(&id).map(waiting_message),
        instances,
        termination_history: Vec::new(),
        last_updated: ts(now),
        last_changed: changed,
    }
}

/// One live instance (None once every task of an instance told to go has ended).
fn instance_status(p: &PodRecord, r: &InstanceRecord, tasks: &Views) -> Option<PodInstanceStatus> {
    let views: Vec<&TaskView> = r.all_tasks().iter().filter_map(|t| tasks.get(t)).collect();
    let checked = p
        .pod
        .containers
        .iter()
        .filter(|c| c.health_check.is_some())
        .count();
    let combined = combined_view(&views, checked);
    let alive = views.iter().any(|v| !v.state.is_terminal());
    if r.goal != keel_deploy::Goal::Running && !alive {
        return None;
    }
    let status = match combined.as_ref() {
        None => PodInstanceState::Pending,
        Some(v) if v.state.is_terminal() => PodInstanceState::Terminal,
        Some(v) => match v.state {
            TaskState::Staging | TaskState::Starting => PodInstanceState::Staging,
            TaskState::Running if v.healthy != Some(false) => PodInstanceState::Stable,
            _ => PodInstanceState::Degraded,
        },
    };
    let since = combined.as_ref().map_or(r.staged_at, |v| v.updated_at);
    let containers = views
        .iter()
        .map(|v| container_status(p.pod.containers.iter().find(|c| c.name == v.name), v))
        .collect();
    Some(PodInstanceStatus {
        id: r.id.clone(),
        status,
        status_since: ts(since),
        message: None,
        agent_hostname: Some(r.hostname.clone()),
        agent_id: Some(r.agent_id.clone()),
        agent_region: None,
        agent_zone: None,
        resources: Some(p.pod.instance_resources()),
        networks: Vec::new(),
        containers,
        spec_reference: Some(format!("/v2/pods{}::versions/{}", p.id(), r.version)),
        local_volumes: Vec::new(),
        last_updated: ts(since),
        last_changed: ts(since),
        role: p.pod.role.clone(),
    })
}

fn container_status(spec: Option<&PodContainer>, v: &TaskView) -> ContainerStatus {
    let ports: Vec<u64> = v.ports.clone();
    let endpoints = spec
        .map(|c| {
            c.endpoints
                .iter()
                .filter(|e| e.host_port.is_some())
                .zip(ports.iter().map(Some).chain(std::iter::repeat(None)))
                .map(|(e, port)| ContainerEndpointStatus {
                    name: e.name.clone(),
                    allocated_host_port: port.and_then(|p| u32::try_from(*p).ok()),
                    healthy: c.health_check.as_ref().and(v.healthy),
                })
                .collect()
        })
        .unwrap_or_default();
    ContainerStatus {
        name: v.name.clone(),
        status: v.state.as_str().to_string(),
        status_since: ts(v.updated_at),
        message: v.message.clone(),
        container_id: Some(v.id.to_string()),
        endpoints,
        resources: spec.map(|c| c.resources),
        termination: None,
        last_updated: ts(v.updated_at),
        last_changed: ts(v.updated_at),
    }
}

/// The `Instance` record of a pod instance (kill results). `combined` is its combined
/// task view, if any task is known.
pub fn instance_json(
    p: Option<&PodRecord>,
    r: &InstanceRecord,
    combined: Option<&TaskView>,
) -> Instance {
    let cond = condition(combined);
    Instance {
        instance_id: r.id.clone(),
        state: InstanceState {
            condition: format!("{cond:?}"),
            since: ts(combined.map_or(r.staged_at, |v| v.updated_at)),
            active_since: combined.and_then(|v| v.started_at).map(ts),
            healthy: combined.and_then(|v| v.healthy),
            goal: match r.goal {
                keel_deploy::Goal::Running => Goal::Running,
                keel_deploy::Goal::Stopped => Goal::Stopped,
                keel_deploy::Goal::Decommissioned => Goal::Decommissioned,
            },
        },
        agent_info: Some(AgentInfo {
            host: r.hostname.clone(),
            agent_id: Some(r.agent_id.clone()),
            region: None,
            zone: None,
            attributes: Vec::new(),
        }),
        run_spec_version: Timestamp::parse(&r.version).unwrap_or_default(),
        unreachable_strategy: p
            .and_then(|p| p.pod.scheduling.unreachable_strategy)
            .unwrap_or(UnreachableStrategy::DEFAULT),
    }
}
