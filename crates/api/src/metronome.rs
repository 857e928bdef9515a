//! Metronome v1 wire types: JobSpec (request and, with every default filled in, response),
//! Schedule, JobRun, job history, JobInfo with its embeds, and the error bodies — named and
//! shaped as `dcos/metronome`'s `api/v1/models` writes them. Dates use Metronome's
//! `yyyy-MM-dd'T'HH:mm:ss.SSS+0000` form, produced by the caller.
//!
//! Keel extension: `history.missedRuns` (only when non-empty) lists schedule slots that did
//! not run, with the reason.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn default_cpus() -> f64 {
    1.0
}
fn default_mem() -> f64 {
    128.0
}
fn default_max_launch_delay() -> i64 {
    3600
}
fn default_true() -> bool {
    true
}
fn default_timezone() -> String {
    "UTC".into()
}
fn default_starting_deadline() -> i64 {
    900
}
fn default_image_kind() -> String {
    "docker".into()
}

/// A job: what to run and when. `schedules` is accepted on create and always written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<JobRef>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    pub run: RunSpec,
}

/// `{"id": "<job id>"}` in `dependencies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    pub id: String,
}

/// `run` of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSpec {
    #[serde(default = "default_cpus")]
    pub cpus: f64,
    #[serde(default = "default_mem")]
    pub mem: f64,
    #[serde(default)]
    pub disk: f64,
    #[serde(default)]
    pub gpus: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    #[serde(default)]
    pub placement: Placement,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    #[serde(default = "default_max_launch_delay")]
    pub max_launch_delay: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<Docker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ucr: Option<Ucr>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub restart: Restart,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_kill_grace_period_seconds: Option<f64>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretDef>,
    #[serde(default)]
    pub networks: Vec<Network>,
}

/// An environment value: a string, or a reference to a secret named in `run.secrets`
/// (the same shape as Marathon's).
pub use crate::marathon::spec::EnvValue;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    #[serde(default)]
    pub constraints: Vec<ConstraintSpec>,
}

/// `{attribute, operator: IS|LIKE|UNLIKE (EQ is read as IS), value?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConstraintSpec {
    pub attribute: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub uri: String,
    #[serde(default = "default_true")]
    pub extract: bool,
    #[serde(default)]
    pub executable: bool,
    #[serde(default)]
    pub cache: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Docker {
    pub image: String,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub force_pull_image: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ucr {
    pub image: UcrImage,
    #[serde(default)]
    pub privileged: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UcrImage {
    pub id: String,
    #[serde(default = "default_image_kind")]
    pub kind: String,
    #[serde(default)]
    pub force_pull: bool,
}

/// A host volume `{containerPath, hostPath, mode}` or a file secret `{containerPath, secret}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Volume {
    #[serde(rename_all = "camelCase")]
    Host {
        container_path: String,
        host_path: String,
        mode: String,
    },
    #[serde(rename_all = "camelCase")]
    Secret {
        container_path: String,
        secret: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restart {
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
}

impl Default for Restart {
    fn default() -> Self {
        Self {
            policy: "NEVER".into(),
            active_deadline_seconds: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretDef {
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub mode: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A schedule; `nextRunAt` is written in responses only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub id: String,
    pub cron: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default = "default_starting_deadline")]
    pub starting_deadline_seconds: i64,
    #[serde(default = "default_concurrency")]
    pub concurrency_policy: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub next_run_at: Option<String>,
}

fn default_concurrency() -> String {
    "ALLOW".into()
}

/// A job run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRun {
    pub id: String,
    pub job_id: String,
    pub status: String,
    pub created_at: String,
    /// Written as `null` while the run is active, as Metronome does.
    pub completed_at: Option<String>,
    pub tasks: Vec<JobRunTask>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunTask {
    pub id: String,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    pub status: String,
}

/// `history` embed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobHistory {
    pub success_count: u64,
    pub failure_count: u64,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub successful_finished_runs: Vec<JobRunInfo>,
    pub failed_finished_runs: Vec<JobRunInfo>,
    /// Keel extension: schedule slots that did not run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missed_runs: Vec<MissedRun>,
}

/// `historySummary` embed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobHistorySummary {
    pub success_count: u64,
    pub failure_count: u64,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
}

/// A finished run in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunInfo {
    pub id: String,
    pub created_at: String,
    pub finished_at: String,
    pub tasks: Vec<String>,
}

/// Keel extension: a schedule slot that did not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MissedRun {
    pub schedule_id: String,
    /// The slot's time.
    pub scheduled_at: String,
    pub recorded_at: String,
    /// `DEADLINE_EXCEEDED`, `SUPERSEDED` or `CONCURRENCY_FORBIDDEN`.
    pub reason: String,
}

/// `GET /v1/jobs[/{id}]`: the job with the requested embeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub dependencies: Vec<JobRef>,
    pub labels: BTreeMap<String, String>,
    pub run: RunSpec,
    pub schedules: Vec<Schedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_runs: Option<Vec<JobRun>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<JobHistory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_summary: Option<JobHistorySummary>,
}

/// `{"message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub message: String,
}

/// 422 `{"message":"Object is not valid","details":[{path, errors}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationFailure {
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub path: String,
    pub errors: Vec<String>,
}

/// 404 `{"id": <job or schedule id>, "message": "Job not found" | "Schedule not found"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownId {
    pub id: String,
    pub message: String,
}

/// 404 `{"jobSpec": <job id>, "id": <run id>, "message": "Job Run not found"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnknownRun {
    pub job_spec: String,
    pub id: String,
    pub message: String,
}

/// `GET /info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub version: String,
    pub lib_version: String,
    pub config: BTreeMap<String, serde_json::Value>,
}

/// `GET /leader`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leader {
    pub leader: String,
}

/// An entry of `GET /v1/queue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueEntry {
    pub job_id: String,
    pub runs: Vec<QueuedRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedRun {
    pub run_id: String,
}

/// Keel extension, `GET /v1/jobs/{id}/runs/{runId}/logs` without `task`: the run's tasks
/// and whether their output is archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunLogs {
    pub job_id: String,
    pub run_id: String,
    pub tasks: Vec<TaskLogs>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskLogs {
    pub task_id: String,
    /// Archived files (`stdout`, `stderr`) with their sizes in bytes.
    pub archived: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_job_gets_every_default() {
        let j: JobSpec = serde_json::from_str(
            r#"{"id":"hello","run":{"cpus":0.1,"mem":32,"disk":0,"cmd":"echo hi"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let out = serde_json::to_value(&j).unwrap_or_default();
        assert_eq!(
            out,
            serde_json::json!({
                "id": "hello", "dependencies": [], "labels": {}, "schedules": [],
                "run": {"cpus": 0.1, "mem": 32.0, "disk": 0.0, "gpus": 0, "cmd": "echo hi",
                        "env": {}, "placement": {"constraints": []}, "artifacts": [],
                        "maxLaunchDelay": 3600, "volumes": [], "restart": {"policy": "NEVER"},
                        "secrets": {}, "networks": []}
            })
        );
    }

    #[test]
    fn env_volumes_and_docker_round_trip() {
        let text = r#"{"id":"a","run":{"cpus":1,"mem":64,"disk":0,
            "env":{"A":"b","S":{"secret":"s1"}},
            "secrets":{"s1":{"source":"db/pass"}},
            "volumes":[{"containerPath":"/a","hostPath":"/b","mode":"RO"},{"containerPath":"/c","secret":"s1"}],
            "docker":{"image":"busybox"}}}"#;
        let j: JobSpec = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            j.run.env.get("S"),
            Some(&EnvValue::Secret {
                secret: "s1".into()
            })
        );
        assert!(matches!(j.run.volumes[1], Volume::Secret { .. }));
        let docker = serde_json::to_value(&j.run.docker).unwrap_or_default();
        assert_eq!(
            docker,
            serde_json::json!({"image":"busybox","privileged":false,"parameters":[],"forcePullImage":false})
        );
    }

    #[test]
    fn schedules_default_and_write_next_run_at() {
        let mut s: Schedule =
            serde_json::from_str(r#"{"id":"nightly","cron":"0 2 * * *","nextRunAt":"x"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.next_run_at, None);
        assert_eq!(
            (s.timezone.as_str(), s.starting_deadline_seconds),
            ("UTC", 900)
        );
        s.next_run_at = Some("2024-01-01T02:00:00.000+0000".into());
        let v = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(v["concurrencyPolicy"], "ALLOW");
        assert_eq!(v["nextRunAt"], "2024-01-01T02:00:00.000+0000");
    }
}

/// 404 `{"message", "requestPath"}` for a path no route matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteNotFound {
    pub message: String,
    pub request_path: String,
}

/// `{"count": n}` of a Dropwizard counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub count: u64,
}

/// The gauges of Metronome's `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricsGauges {
    #[serde(rename = "dcos.metronome.jobs.count")]
    pub jobs: crate::marathon::views::Gauge,
    #[serde(rename = "dcos.metronome.schedules.count")]
    pub schedules: crate::marathon::views::Gauge,
    #[serde(rename = "dcos.metronome.runs.active")]
    pub runs_active: crate::marathon::views::Gauge,
    #[serde(rename = "dcos.metronome.tasks.active")]
    pub tasks_active: crate::marathon::views::Gauge,
}

/// The counters of Metronome's `/metrics`: run outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricsCounters {
    #[serde(rename = "dcos.metronome.runs.succeeded")]
    pub succeeded: Counter,
    #[serde(rename = "dcos.metronome.runs.failed")]
    pub failed: Counter,
}

/// `GET /metrics` (Dropwizard's shape, format version 4.0.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metrics {
    pub version: &'static str,
    pub gauges: MetricsGauges,
    pub counters: MetricsCounters,
    pub histograms: crate::marathon::views::Empty,
    pub meters: crate::marathon::views::Empty,
    pub timers: crate::marathon::views::Empty,
}

impl Metrics {
    pub fn new(gauges: MetricsGauges, counters: MetricsCounters) -> Metrics {
        use crate::marathon::views::Empty;
        Metrics {
            version: "4.0.0",
            gauges,
            counters,
            histograms: Empty {},
            meters: Empty {},
            timers: Empty {},
        }
    }
}
