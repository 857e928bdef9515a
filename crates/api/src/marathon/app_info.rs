//! `AppInfo`: the app JSON of responses, i.e. the `AppDefinition` plus the embeds (task
//! counts, deployments, tasks, last task failure, readiness results, `taskStats`).

use super::app::AppDefinition;
use super::checks::ReadinessCheckResult;
use super::deployment::DeploymentRef;
use super::task::{MarathonTask, TaskFailure};
use serde::Serialize;

/// `tasksStaged`, `tasksRunning`, `tasksHealthy`, `tasksUnhealthy` (embed `counts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCounts {
    pub tasks_staged: u32,
    pub tasks_running: u32,
    pub tasks_healthy: u32,
    pub tasks_unhealthy: u32,
}

/// `{staged, running, healthy, unhealthy}` inside `taskStats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StatsCounts {
    pub staged: u32,
    pub running: u32,
    pub healthy: u32,
    pub unhealthy: u32,
}

/// `{averageSeconds, medianSeconds}` of running tasks.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LifeTime {
    pub average_seconds: f64,
    pub median_seconds: f64,
}

/// `{"stats": {"counts": ..., "lifeTime": ...}}`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStats {
    pub counts: StatsCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub life_time: Option<LifeTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TaskStatsEntry {
    pub stats: TaskStats,
}

/// Embed `taskStats`, spelled as marathon-python 0.13.0 expects (not `tasksStats`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatsByVersion {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_after_last_scaling: Option<TaskStatsEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_latest_config: Option<TaskStatsEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_outdated_config: Option<TaskStatsEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_summary: Option<TaskStatsEntry>,
}

/// An app in a response. `GET /v2/apps` always fills `counts` and `deployments`;
/// `GET /v2/apps/{id}` also `tasks` and `lastTaskFailure`; `POST /v2/apps` answers with
/// zero counts and the new deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    #[serde(flatten)]
    pub app: AppDefinition,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub counts: Option<TaskCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployments: Option<Vec<DeploymentRef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<MarathonTask>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_task_failure: Option<TaskFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_check_results: Option<Vec<ReadinessCheckResult>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_stats: Option<TaskStatsByVersion>,
}

impl AppInfo {
    /// The bare app with no embeds.
    pub fn new(app: AppDefinition) -> AppInfo {
        AppInfo {
            app,
            counts: None,
            deployments: None,
            tasks: None,
            last_task_failure: None,
            readiness_check_results: None,
            task_stats: None,
        }
    }
}
