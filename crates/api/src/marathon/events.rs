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
