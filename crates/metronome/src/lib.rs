//! Metronome-compatible jobs as a service beside the master: the v1 HTTP API (jobs,
//! schedules, runs, history), persistence in the master's store, and the scheduler loop
//! that fires schedule slots exactly once, drives runs through `keel-jobs`' state machine,
//! launches their tasks through the master, and keeps their output after the sandbox goes.
//!
//! Architecture Invariant: decisions (cron, slots, concurrency, restart policy, backoff,
//! dependencies) live in `keel-jobs`; this crate only executes them and persists state
//! before it acts on it.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bench;
mod cluster;
mod error;
mod http;
mod keys;
mod logs;
mod service;
mod state;
mod validate;
mod views;

pub use cluster::{Cluster, FRAMEWORK, TaskObservation};
pub use error::JobsError;
pub use http::router;
pub use keel_jobs::CronSyntax;
pub use service::{MetronomeConfig, Service};

use keel_master::{Master, StatusBatch, StatusReader};
use std::sync::Arc;
use std::time::Duration;

/// Opens the job service on the master's store and returns its routes and the background
/// loop to spawn (scheduler ticks, task statuses, reconciliation, log copying).
pub fn start(
    master: &Master,
    mut config: MetronomeConfig,
) -> Result<(axum::Router, impl Future<Output = ()> + Send + 'static), JobsError> {
    if config.entry_url.is_none() {
        config.entry_url = Some(format!("http://{}", master.advertise()));
    }
    let statuses = master.status_reader();
    let svc = Service::open(
        master.store(),
        master.clock(),
        Arc::new(master.clone()),
        config,
    )?;
    Ok((router(svc.clone()), run(svc, statuses)))
}

/// Task statuses handled per turn of the loop.
const STATUS_BATCH: usize = 4096;

/// The scheduler loop.
pub async fn run(svc: Arc<Service>, mut statuses: StatusReader) {
    tokio::spawn(logs::archive_loop(svc.clone(), Duration::from_secs(2)));
    let mut tick = tokio::time::interval(svc.config.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut resync = tokio::time::interval(Duration::from_secs(30));
    loop {
        let result = tokio::select! {
            _ = tick.tick() => svc.tick().map(|_| ()),
            _ = resync.tick() => svc.reconcile(),
            b = statuses.next(STATUS_BATCH) => on_batch(&svc, b),
        };
        if let Err(e) = result {
            tracing::error!("metronome: {e}");
        }
    }
}

/// Applies a batch of task statuses; reconciles when the feed lost some.
fn on_batch(svc: &Service, b: StatusBatch) -> Result<(), JobsError> {
    for s in &b.statuses {
        if let Err(e) = svc.on_status(s) {
            tracing::error!(task = %s.task_id, "metronome: {e}");
        }
    }
    if b.missed > 0 {
        tracing::warn!("metronome: missed {} task statuses; reconciling", b.missed);
        svc.reconcile()?;
    }
    Ok(())
}
