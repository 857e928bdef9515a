//! The Metronome v1 HTTP API, at the root (`/v1/...`, `/v0/scheduled-jobs`) and under
//! `/service/metronome/` (plus `ping`, `info`, `leader` there), with Metronome's status
//! codes and error bodies. Keel extension: `GET .../runs/{run}/logs`.

use crate::error::JobsError;
use crate::service::Service;
use crate::validate::{is_job_id, is_schedule_id};
use crate::views::{self, Embeds};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keel_api::marathon::views::Gauge;
use keel_api::metronome::{
    Counter, Info, Leader, Message, Metrics, MetricsCounters, MetricsGauges, QueueEntry, QueuedRun,
    RouteNotFound, UnknownId, UnknownRun, ValidationFailure,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

type Svc = State<Arc<Service>>;
type Params = Query<Vec<(String, String)>>;

fn json<T: Serialize>(code: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(body) => (code, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn message(code: StatusCode, m: impl Into<String>) -> Response {
    json(code, &Message { message: m.into() })
}

impl IntoResponse for JobsError {
    fn into_response(self) -> Response {
        let msg = self.to_string();
        match self {
            JobsError::UnknownJob(id) | JobsError::UnknownSchedule(id) => {
                json(StatusCode::NOT_FOUND, &UnknownId { id, message: msg })
            }
            JobsError::UnknownRun { job, run } => json(
                StatusCode::NOT_FOUND,
                &UnknownRun {
                    job_spec: job,
                    id: run,
                    message: msg,
                },
            ),
            JobsError::Invalid(details) => json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ValidationFailure {
                    message: msg,
                    details,
                },
            ),
            JobsError::Unprocessable(_) => message(StatusCode::UNPROCESSABLE_ENTITY, msg),
            JobsError::Conflict(_) => message(StatusCode::CONFLICT, msg),
            JobsError::BadRequest(_) => message(StatusCode::BAD_REQUEST, msg),
            JobsError::Store(_) | JobsError::Corrupt { .. } => {
                tracing::error!("metronome: {msg}");
                message(StatusCode::INTERNAL_SERVER_ERROR, msg)
            }
        }
    }
}

type R = Result<Response, JobsError>;

fn body_json(body: &[u8]) -> Result<serde_json::Value, JobsError> {
    serde_json::from_slice(body).map_err(|e| JobsError::BadRequest(format!("Invalid JSON: {e}")))
}

fn job_id(id: &str) -> Result<&str, JobsError> {
    if is_job_id(id) {
        Ok(id)
    } else {
        Err(JobsError::BadRequest(format!("Not a valid id: {id}")))
    }
}

fn flag(q: &[(String, String)], name: &str) -> bool {
    q.iter()
        .any(|(k, v)| k == name && v.eq_ignore_ascii_case("true"))
}

fn embeds(q: &[(String, String)]) -> Result<Embeds, JobsError> {
    Embeds::parse(
        q.iter()
            .filter(|(k, _)| k == "embed")
            .map(|(_, v)| v.as_str()),
    )
    .map_err(JobsError::BadRequest)
}

/// Every route, at both prefixes.
pub fn router(svc: Arc<Service>) -> Router {
    let mut r = Router::new();
    for p in ["", "/service/metronome"] {
        r = r
            .route(&format!("{p}/v1/jobs"), get(list_jobs).post(create_job))
            .route(
                &format!("{p}/v1/jobs/{{id}}"),
                get(get_job).put(update_job).delete(delete_job),
            )
            .route(
                &format!("{p}/v1/jobs/{{id}}/runs"),
                get(list_runs).post(start_run),
            )
            .route(&format!("{p}/v1/jobs/{{id}}/runs/{{run}}"), get(get_run))
            .route(
                &format!("{p}/v1/jobs/{{id}}/runs/{{run}}/actions/stop"),
                post(stop_run),
            )
            .route(
                &format!("{p}/v1/jobs/{{id}}/runs/{{run}}/logs"),
                get(crate::logs::run_logs),
            )
            .route(
                &format!("{p}/v1/jobs/{{id}}/schedules"),
                get(list_schedules).post(add_schedule),
            )
            .route(
                &format!("{p}/v1/jobs/{{id}}/schedules/{{sid}}"),
                get(get_schedule)
                    .put(update_schedule)
                    .delete(delete_schedule),
            )
            .route(&format!("{p}/v0/scheduled-jobs"), post(create_scheduled))
            .route(
                &format!("{p}/v0/scheduled-jobs/{{id}}"),
                axum::routing::put(replace_scheduled),
            )
            .route(&format!("{p}/v1/queue"), get(queue))
            .route(&format!("{p}/v1/metrics"), get(metrics));
    }
    // Unknown Metronome routes answer as Metronome's error handler does.
    r = r
        .route("/v1/{*rest}", axum::routing::any(unknown_route))
        .route(
            "/service/metronome/{*rest}",
            axum::routing::any(unknown_route),
        );
    r.route("/service/metronome/ping", get(|| async { "pong" }))
        .route("/service/metronome/info", get(info))
        .route("/service/metronome/v1/info", get(info))
        .route("/service/metronome/leader", get(leader))
        .with_state(svc)
}

async fn list_jobs(State(s): Svc, Query(q): Params) -> R {
    let e = embeds(&q)?;
    let now = s.now();
    let jobs: Vec<_> = s.read(|st| {
        st.jobs
            .values()
            .map(|j| views::job_info(j, e, now))
            .collect()
    });
    Ok(json(StatusCode::OK, &jobs))
}

async fn create_job(State(s): Svc, body: Bytes) -> R {
    let spec = s.parse_job(&body_json(&body)?)?;
    let created = create_durably(s, spec).await?;
    Ok(json(StatusCode::CREATED, &created))
}

/// Creates a job on the blocking pool: its wait for the commit holds no runtime worker.
async fn create_durably(
    s: Arc<Service>,
    spec: keel_api::metronome::JobSpec,
) -> Result<keel_api::metronome::JobSpec, JobsError> {
    tokio::task::spawn_blocking(move || s.create_job(spec))
        .await
        .map_err(|e| keel_store::StoreError::Backend(format!("creating the job: {e}")))?
}

async fn get_job(State(s): Svc, Path(id): Path<String>, Query(q): Params) -> R {
    let e = embeds(&q)?;
    let now = s.now();
    let info = s.read(|st| st.job(&id).map(|j| views::job_info(j, e, now)))?;
    Ok(json(StatusCode::OK, &info))
}

async fn update_job(State(s): Svc, Path(id): Path<String>, body: Bytes) -> R {
    let mut doc = body_json(&body)?;
    if let Some(o) = doc.as_object_mut() {
        o.insert("id".into(), serde_json::Value::String(id.clone()));
    }
    let spec = s.parse_job(&doc)?;
    let updated = s.update_job(job_id(&id)?, spec, true)?;
    Ok(json(StatusCode::OK, &updated))
}

async fn delete_job(State(s): Svc, Path(id): Path<String>, Query(q): Params) -> R {
    let deleted = s.delete_job(job_id(&id)?, flag(&q, "stopCurrentJobRuns"))?;
    Ok(json(StatusCode::OK, &deleted))
}

async fn create_scheduled(State(s): Svc, body: Bytes) -> R {
    let spec = s.parse_job(&body_json(&body)?)?;
    Ok(json(StatusCode::CREATED, &create_durably(s, spec).await?))
}

async fn replace_scheduled(State(s): Svc, Path(id): Path<String>, body: Bytes) -> R {
    let mut doc = body_json(&body)?;
    if let Some(o) = doc.as_object_mut() {
        o.insert("id".into(), serde_json::Value::String(id.clone()));
    }
    let spec = s.parse_job(&doc)?;
    Ok(json(
        StatusCode::OK,
        &s.update_job(job_id(&id)?, spec, false)?,
    ))
}

async fn list_runs(State(s): Svc, Path(id): Path<String>) -> R {
    let runs = s.read(|st| {
        st.job(&id)
            .map(|j| j.active.values().map(views::job_run).collect::<Vec<_>>())
    })?;
    Ok(json(StatusCode::OK, &runs))
}

async fn start_run(State(s): Svc, Path(id): Path<String>) -> R {
    let run = s.start_run(job_id(&id)?)?;
    Ok(json(StatusCode::CREATED, &views::job_run(&run)))
}

async fn get_run(State(s): Svc, Path((id, run)): Path<(String, String)>) -> R {
    let r = s.read(|st| {
        st.jobs
            .get(&id)
            .and_then(|j| j.active.get(&run))
            .map(views::job_run)
    });
    match r {
        Some(r) => Ok(json(StatusCode::OK, &r)),
        None => Err(JobsError::UnknownRun { job: id, run }),
    }
}

async fn stop_run(State(s): Svc, Path((id, run)): Path<(String, String)>) -> R {
    let r = s.stop_run(&id, &run)?;
    Ok(json(StatusCode::OK, &views::job_run(&r)))
}

async fn list_schedules(State(s): Svc, Path(id): Path<String>) -> R {
    let now = s.now();
    let scheds = s.read(|st| st.job(&id).map(|j| views::schedules(j, now)))?;
    Ok(json(StatusCode::OK, &scheds))
}

async fn get_schedule(State(s): Svc, Path((id, sid)): Path<(String, String)>) -> R {
    let now = s.now();
    let sched = s.read(|st| {
        let j = st.job(&id)?;
        j.spec()
            .schedules
            .iter()
            .find(|x| x.id == sid)
            .map(|x| views::schedule(x, j.scheds.get(&sid), now))
            .ok_or_else(|| JobsError::UnknownSchedule(sid.clone()))
    })?;
    Ok(json(StatusCode::OK, &sched))
}

fn schedule_out(
    s: &Service,
    id: &str,
    sched: &keel_api::metronome::Schedule,
) -> keel_api::metronome::Schedule {
    let now = s.now();
    s.read(|st| {
        let entry = st.jobs.get(id).and_then(|j| j.scheds.get(&sched.id));
        views::schedule(sched, entry, now)
    })
}

async fn add_schedule(State(s): Svc, Path(id): Path<String>, body: Bytes) -> R {
    s.read(|st| st.job(&id).map(|_| ()))?;
    let sched = s.parse_schedule(&body_json(&body)?)?;
    let added = s.add_schedule(&id, sched)?;
    Ok(json(StatusCode::CREATED, &schedule_out(&s, &id, &added)))
}

async fn update_schedule(State(s): Svc, Path((id, sid)): Path<(String, String)>, body: Bytes) -> R {
    s.read(|st| st.job(&id).map(|_| ()))?;
    let mut doc = body_json(&body)?;
    if let Some(o) = doc.as_object_mut() {
        o.insert("id".into(), serde_json::Value::String(sid.clone()));
    }
    if !is_schedule_id(&sid) {
        return Err(JobsError::UnknownSchedule(sid));
    }
    let sched = s.parse_schedule(&doc)?;
    let updated = s.update_schedule(&id, &sid, sched)?;
    Ok(json(StatusCode::OK, &schedule_out(&s, &id, &updated)))
}

async fn delete_schedule(State(s): Svc, Path((id, sid)): Path<(String, String)>) -> R {
    s.delete_schedule(&id, &sid)?;
    Ok(StatusCode::OK.into_response())
}

async fn queue(State(s): Svc) -> R {
    let q: Vec<QueueEntry> = s.read(|st| {
        st.jobs
            .iter()
            .filter_map(|(id, j)| {
                let runs: Vec<QueuedRun> = j
                    .active
                    .values()
                    .filter(|r| r.launching.is_some() || r.launch_at.is_some())
                    .map(|r| QueuedRun {
                        run_id: r.id.clone(),
                    })
                    .collect();
                (!runs.is_empty()).then(|| QueueEntry {
                    job_id: id.clone(),
                    runs,
                })
            })
            .collect()
    });
    Ok(json(StatusCode::OK, &q))
}

/// 404 `{"message", "requestPath"}` for a path no route matches.
async fn unknown_route(uri: axum::http::Uri) -> Response {
    let body = RouteNotFound {
        message: "Not Found".into(),
        request_path: uri.path().to_owned(),
    };
    json(StatusCode::NOT_FOUND, &body)
}

/// Metronome's metrics document (Dropwizard's shape): job, schedule and run gauges and the
/// run outcome counters.
async fn metrics(State(s): Svc) -> Response {
    let doc = s.read(|st| {
        let jobs = st.jobs.len();
        let schedules: usize = st.jobs.values().map(|j| j.scheds.len()).sum();
        let active: usize = st.jobs.values().map(|j| j.active.len()).sum();
        let success: u64 = st
            .jobs
            .values()
            .map(|j| j.history.summary.success_count)
            .sum();
        let failure: u64 = st
            .jobs
            .values()
            .map(|j| j.history.summary.failure_count)
            .sum();
        let gauge = |value: usize| Gauge { value };
        let counter = |count: u64| Counter { count };
        let gauges = MetricsGauges {
            jobs: gauge(jobs),
            schedules: gauge(schedules),
            runs_active: gauge(active),
            tasks_active: gauge(st.tasks.len()),
        };
        let counters = MetricsCounters {
            succeeded: counter(success),
            failed: counter(failure),
        };
        Metrics::new(gauges, counters)
    });
    json(StatusCode::OK, &doc)
}

async fn info(State(s): Svc) -> Response {
    let mut config = BTreeMap::new();
    config.insert(
        "scheduler_tick_ms".to_string(),
        serde_json::Value::from(s.config.tick.as_millis() as u64),
    );
    config.insert(
        "history_count".to_string(),
        serde_json::Value::from(keel_jobs::HISTORY_COUNT),
    );
    json(
        StatusCode::OK,
        &Info {
            version: "0.6.0".into(),
            lib_version: format!("keel-{}", env!("CARGO_PKG_VERSION")),
            config,
        },
    )
}

async fn leader(State(s): Svc) -> Response {
    match &s.config.entry_url {
        Some(u) => json(
            StatusCode::OK,
            &Leader {
                leader: u.trim_start_matches("http://").to_string(),
            },
        ),
        None => message(StatusCode::NOT_FOUND, "There is no leader"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_and_unknown_routes_are_the_json_they_were() {
        let gauges = MetricsGauges {
            jobs: Gauge { value: 1 },
            schedules: Gauge { value: 2 },
            runs_active: Gauge { value: 3 },
            tasks_active: Gauge { value: 4 },
        };
        let counters = MetricsCounters {
            succeeded: Counter { count: 5 },
            failed: Counter { count: 6 },
        };
        let old = serde_json::json!({
            "version": "4.0.0",
            "gauges": {
                "dcos.metronome.jobs.count": {"value": 1},
                "dcos.metronome.schedules.count": {"value": 2},
                "dcos.metronome.runs.active": {"value": 3},
                "dcos.metronome.tasks.active": {"value": 4},
            },
            "counters": {
                "dcos.metronome.runs.succeeded": {"count": 5},
                "dcos.metronome.runs.failed": {"count": 6},
            },
            "histograms": {}, "meters": {}, "timers": {},
        });
        let new = serde_json::to_value(Metrics::new(gauges, counters)).unwrap();
        assert_eq!(new, old);
        let body = RouteNotFound {
            message: "Not Found".into(),
            request_path: "/v1/nope".into(),
        };
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            serde_json::json!({"message": "Not Found", "requestPath": "/v1/nope"})
        );
    }
}
