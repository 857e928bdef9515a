//! The `/v2/events` stream: every Marathon event type with its payload field names, each
//! carrying `eventType` and `timestamp`, and the SSE framing (`event:` line, one-line JSON
//! `data:` line, blank line).

use super::app::AppDefinition;
use super::checks::HealthCheck;
use super::deployment::{DeploymentStep, EventPlan};
use super::path_id::PathId;
use super::task::IpAddress;
use super::time::Timestamp;
use keel_model::TaskState;
use serde::Serialize;

/// A Marathon event. Serializes as the `data:` payload (`eventType` first).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "eventType", rename_all_fields = "camelCase")]
pub enum Event {
    #[serde(rename = "api_post_event")]
    ApiPost {
        client_ip: String,
        uri: String,
        app_definition: Box<AppDefinition>,
        timestamp: Timestamp,
    },
    #[serde(rename = "pod_created_event")]
    PodCreated {
        client_ip: String,
        uri: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "pod_updated_event")]
    PodUpdated {
        client_ip: String,
        uri: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "pod_deleted_event")]
    PodDeleted {
        client_ip: String,
        uri: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "status_update_event")]
    StatusUpdate {
        slave_id: String,
        task_id: String,
        task_status: TaskState,
        message: String,
        app_id: PathId,
        host: String,
        ip_addresses: Vec<IpAddress>,
        ports: Vec<u32>,
        version: Timestamp,
        timestamp: Timestamp,
    },
    #[serde(rename = "instance_changed_event")]
    InstanceChanged {
        instance_id: String,
        /// Marathon's condition name: `Running`, `Failed`, `Killed`, ...
        condition: String,
        run_spec_id: PathId,
        #[serde(skip_serializing_if = "Option::is_none")]
        agent_id: Option<String>,
        host: String,
        run_spec_version: Timestamp,
        timestamp: Timestamp,
    },
    #[serde(rename = "instance_health_changed_event")]
    InstanceHealthChanged {
        instance_id: String,
        run_spec_id: PathId,
        /// `null` while health is unknown.
        healthy: Option<bool>,
        run_spec_version: Timestamp,
        timestamp: Timestamp,
    },
    #[serde(rename = "unknown_instance_terminated_event")]
    UnknownInstanceTerminated {
        instance_id: String,
        run_spec_id: PathId,
        condition: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "add_health_check_event")]
    AddHealthCheck {
        app_id: PathId,
        health_check: HealthCheck,
        version: Timestamp,
        timestamp: Timestamp,
    },
    #[serde(rename = "remove_health_check_event")]
    RemoveHealthCheck {
        app_id: PathId,
        timestamp: Timestamp,
    },
    /// `taskId` holds the instance id, as in Marathon.
    #[serde(rename = "failed_health_check_event")]
    FailedHealthCheck {
        app_id: PathId,
        task_id: String,
        health_check: HealthCheck,
        timestamp: Timestamp,
    },
    #[serde(rename = "health_status_changed_event")]
    HealthStatusChanged {
        app_id: PathId,
        instance_id: String,
        version: Timestamp,
        alive: bool,
        timestamp: Timestamp,
    },
    #[serde(rename = "unhealthy_instance_kill_event")]
    UnhealthyInstanceKill {
        app_id: PathId,
        task_id: String,
        instance_id: String,
        version: Timestamp,
        reason: String,
        host: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        slave_id: Option<String>,
        timestamp: Timestamp,
    },
    #[serde(rename = "group_change_success")]
    GroupChangeSuccess {
        group_id: PathId,
        version: Timestamp,
        timestamp: Timestamp,
    },
    #[serde(rename = "group_change_failed")]
    GroupChangeFailed {
        group_id: PathId,
        version: Timestamp,
        reason: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "deployment_info")]
    DeploymentInfo {
        plan: EventPlan,
        current_step: DeploymentStep,
        timestamp: Timestamp,
    },
    #[serde(rename = "deployment_step_success")]
    DeploymentStepSuccess {
        plan: EventPlan,
        current_step: DeploymentStep,
        timestamp: Timestamp,
    },
    #[serde(rename = "deployment_step_failure")]
    DeploymentStepFailure {
        plan: EventPlan,
        current_step: DeploymentStep,
        timestamp: Timestamp,
    },
    #[serde(rename = "deployment_success")]
    DeploymentSuccess {
        id: String,
        plan: EventPlan,
        timestamp: Timestamp,
    },
    #[serde(rename = "deployment_failed")]
    DeploymentFailed {
        id: String,
        plan: EventPlan,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        timestamp: Timestamp,
    },
    #[serde(rename = "app_terminated_event")]
    AppTerminated {
        app_id: PathId,
        timestamp: Timestamp,
    },
    #[serde(rename = "scheduler_registered_event")]
    SchedulerRegistered {
        framework_id: String,
        master: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "scheduler_reregistered_event")]
    SchedulerReregistered {
        master: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "scheduler_disconnected_event")]
    SchedulerDisconnected { timestamp: Timestamp },
    #[serde(rename = "event_stream_attached")]
    EventStreamAttached {
        remote_address: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "event_stream_detached")]
    EventStreamDetached {
        remote_address: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "framework_message_event")]
    FrameworkMessage {
        executor_id: String,
        slave_id: String,
        message: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "subscribe_event")]
    Subscribe {
        client_ip: String,
        callback_url: String,
        timestamp: Timestamp,
    },
    #[serde(rename = "unsubscribe_event")]
    Unsubscribe {
        client_ip: String,
        callback_url: String,
        timestamp: Timestamp,
    },
}

impl Event {
    /// The `eventType` (also the SSE `event:` name and the `event_type` filter value).
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::ApiPost { .. } => "api_post_event",
            Event::PodCreated { .. } => "pod_created_event",
            Event::PodUpdated { .. } => "pod_updated_event",
            Event::PodDeleted { .. } => "pod_deleted_event",
            Event::StatusUpdate { .. } => "status_update_event",
            Event::InstanceChanged { .. } => "instance_changed_event",
            Event::InstanceHealthChanged { .. } => "instance_health_changed_event",
            Event::UnknownInstanceTerminated { .. } => "unknown_instance_terminated_event",
            Event::AddHealthCheck { .. } => "add_health_check_event",
            Event::RemoveHealthCheck { .. } => "remove_health_check_event",
            Event::FailedHealthCheck { .. } => "failed_health_check_event",
            Event::HealthStatusChanged { .. } => "health_status_changed_event",
            Event::UnhealthyInstanceKill { .. } => "unhealthy_instance_kill_event",
            Event::GroupChangeSuccess { .. } => "group_change_success",
            Event::GroupChangeFailed { .. } => "group_change_failed",
            Event::DeploymentInfo { .. } => "deployment_info",
            Event::DeploymentStepSuccess { .. } => "deployment_step_success",
            Event::DeploymentStepFailure { .. } => "deployment_step_failure",
            Event::DeploymentSuccess { .. } => "deployment_success",
            Event::DeploymentFailed { .. } => "deployment_failed",
            Event::AppTerminated { .. } => "app_terminated_event",
            Event::SchedulerRegistered { .. } => "scheduler_registered_event",
            Event::SchedulerReregistered { .. } => "scheduler_reregistered_event",
            Event::SchedulerDisconnected { .. } => "scheduler_disconnected_event",
            Event::EventStreamAttached { .. } => "event_stream_attached",
            Event::EventStreamDetached { .. } => "event_stream_detached",
            Event::FrameworkMessage { .. } => "framework_message_event",
            Event::Subscribe { .. } => "subscribe_event",
            Event::Unsubscribe { .. } => "unsubscribe_event",
        }
    }

    /// False for the scheduler connection events, which end an unfiltered marathon-python
    /// 0.13.0 stream (unknown `eventType`): send them only when asked for by `event_type`.
    pub fn sent_without_filter(&self) -> bool {
        !matches!(
            self,
            Event::SchedulerRegistered { .. }
                | Event::SchedulerReregistered { .. }
                | Event::SchedulerDisconnected { .. }
        )
    }

    /// The event as one SSE frame: `event: <type>\ndata: <one-line JSON>\n\n`.
    pub fn to_sse(&self) -> String {
        let data = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        format!("event: {}\ndata: {}\n\n", self.event_type(), data)
    }
}

/// An event as Keel's Marathon emits it: `eventType`, `timestamp` and the keys of its
/// payload `P` (one of the borrowed payloads of [`emitted`]), values as the service stores
/// them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Emitted<'a, P> {
    pub event_type: &'a str,
    pub timestamp: String,
    #[serde(flatten)]
    pub payload: P,
}

impl<P: Serialize> Emitted<'_, P> {
    /// The event as one SSE frame: `event: <type>\ndata: <one-line JSON>\n\n` (an empty
    /// `data` if the payload cannot be serialized).
    pub fn to_sse(&self) -> String {
        let data = serde_json::to_string(self).unwrap_or_default();
        format!("event: {}\ndata: {}\n\n", self.event_type, data)
    }
}

/// The payloads of the events Keel's Marathon emits, borrowed from its state.
pub mod emitted {
    use super::super::app::AppDefinition;
    use super::super::task::IpRef;
    use super::super::views::StepRef;
    use serde::Serialize;

    /// `api_post_event`.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ApiPost<'a> {
        pub client_ip: &'a str,
        pub uri: &'a str,
        pub app_definition: &'a AppDefinition,
    }

    /// `pod_created_event`, `pod_updated_event`, `pod_deleted_event`.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PodChange<'a> {
        pub client_ip: &'a str,
        pub uri: &'a str,
    }

    /// `status_update_event`.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct StatusUpdate<'a> {
        pub slave_id: &'a str,
        pub task_id: &'a str,
        pub task_status: &'a str,
        pub message: &'a str,
        pub app_id: String,
        pub host: &'a str,
        pub ip_addresses: Vec<IpRef>,
        pub ports: &'a [u64],
        pub version: &'a str,
    }

    /// `instance_changed_event`.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct InstanceChanged<'a> {
        pub instance_id: &'a str,
        pub condition: &'a str,
        pub run_spec_id: String,
        pub agent_id: &'a str,
        pub host: &'a str,
        pub run_spec_version: &'a str,
    }

    /// `health_status_changed_event`.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct HealthChanged<'a> {
        pub app_id: String,
        pub instance_id: &'a str,
        pub task_id: &'a str,
        pub version: &'a str,
        pub alive: bool,
    }

    /// `group_change_success`.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct GroupChange<'a> {
        pub group_id: &'a str,
        pub version: &'a str,
    }

    /// `app_terminated_event`.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AppTerminated<'a> {
        pub app_id: &'a str,
    }

    /// `event_stream_attached`.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Attached<'a> {
        pub remote_address: &'a str,
    }

    /// An app of a plan group: what marathon-python 0.13.0 reads of it.
    #[derive(Debug, Serialize)]
    pub struct PlanApp<'a> {
        pub id: &'a str,
        pub instances: u32,
        pub dependencies: &'a [String],
        pub version: &'a str,
    }

    /// `scaling` of a plan group's pod.
    #[derive(Debug, Serialize)]
    pub struct FixedScaling {
        pub kind: &'static str,
        pub instances: u32,
    }

    /// A pod of a plan group.
    #[derive(Debug, Serialize)]
    pub struct PlanPod<'a> {
        pub id: &'a str,
        pub scaling: FixedScaling,
        pub version: &'a str,
    }

    impl<'a> PlanPod<'a> {
        pub fn new(id: &'a str, instances: u32, version: &'a str) -> PlanPod<'a> {
            PlanPod {
                id,
                scaling: FixedScaling {
                    kind: "fixed",
                    instances,
                },
                version,
            }
        }
    }

    /// A group of a plan's `original` or `target` (no dependencies of its own).
    #[derive(Debug, Serialize)]
    pub struct PlanGroup<'a> {
        pub id: &'a str,
        pub apps: Vec<PlanApp<'a>>,
        pub groups: Vec<PlanGroup<'a>>,
        pub pods: Vec<PlanPod<'a>>,
        pub dependencies: [&'a str; 0],
        pub version: &'a str,
    }

    /// The `plan` of deployment events.
    #[derive(Debug, Serialize)]
    pub struct Plan<'a> {
        pub id: &'a str,
        pub version: &'a str,
        pub steps: Vec<StepRef<'a>>,
        pub original: PlanGroup<'a>,
        pub target: PlanGroup<'a>,
    }

    /// `deployment_info` and `deployment_step_success`.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PlanStep<'a> {
        pub plan: Plan<'a>,
        pub current_step: StepRef<'a>,
    }

    /// `deployment_success`.
    #[derive(Debug, Serialize)]
    pub struct DeploymentDone<'a> {
        pub id: &'a str,
        pub plan: Plan<'a>,
    }

    /// `deployment_failed`.
    #[derive(Debug, Serialize)]
    pub struct DeploymentFailed<'a> {
        pub id: &'a str,
        pub plan: Plan<'a>,
        pub reason: &'a str,
    }
}
