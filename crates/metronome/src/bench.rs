//! The scheduler benchmark (`cargo xtask bench jobs`): N jobs, each with a per-minute
//! schedule, in a service over an in-memory store and a cluster that accepts every launch.
//! Measures an idle tick (no slot due: the common case) and the tick where every schedule
//! is due at once (N runs created in one transaction and launched in one batch).

use crate::cluster::{Cluster, TaskObservation};
use crate::service::{MetronomeConfig, Service};
use keel_clock::{Clock, ManualClock};
use keel_master::TaskLaunch;
use keel_store::MemStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cluster that accepts every launch and knows no task.
#[derive(Debug, Default)]
pub struct NullCluster;

impl Cluster for NullCluster {
    fn launch(&self, batch: Vec<TaskLaunch>) -> Vec<Result<(), String>> {
        batch.iter().map(|_| Ok(())).collect()
    }
    fn kill(&self, _task_id: &str, _grace: Option<f64>) {}
    fn observe(&self, _task_id: &str) -> Option<TaskObservation> {
        None
    }
}

/// What the benchmark measured.
#[derive(Debug, Clone)]
pub struct TickFigures {
    pub jobs: usize,
    pub create: Duration,
    /// Median of idle ticks.
    pub idle_tick: Duration,
    pub due_tick: Duration,
    pub fired: usize,
}

/// 2024-01-01T00:00:30Z: half a minute before the first slot.
const START: f64 = 1_704_067_230.0;

/// Builds `n` scheduled jobs, calls `created` (e.g. to measure memory), then measures ticks.
pub fn tick_cost(
    n: usize,
    created: impl FnOnce(),
) -> Result<(TickFigures, Arc<Service>), crate::JobsError> {
    let clock = Arc::new(ManualClock::new(START));
    let store = Arc::new(MemStore::new(clock.clone()));
    let svc = Service::open(
        store,
        clock.clone(),
        Arc::new(NullCluster),
        MetronomeConfig::default(),
    )?;
    let t = Instant::now();
    for i in 0..n {
        let doc = serde_json::json!({
            "id": format!("bench.job-{i}"),
            "run": {"cpus": 0.01, "mem": 32, "disk": 0, "cmd": "true"},
            "schedules": [{"id": "every-minute", "cron": "* * * * *", "timezone": "Europe/Berlin"}],
        });
        svc.create_job(svc.parse_job(&doc)?)?;
    }
    let create = t.elapsed();
    created();
    clock.advance(Duration::from_secs(10));
    let mut idle = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        svc.tick()?;
        idle.push(t.elapsed());
    }
    idle.sort();
    clock.advance(Duration::from_secs(20));
    let t = Instant::now();
    svc.tick()?;
    let due_tick = t.elapsed();
    let fired = svc.read(|st| st.jobs.values().map(|j| j.active.len()).sum());
    debug_assert!(clock.unix_secs() > START);
    Ok((
        TickFigures {
            jobs: n,
            create,
            idle_tick: idle[idle.len() / 2],
            due_tick,
            fired,
        },
        svc,
    ))
}
