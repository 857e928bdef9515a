//! The master role: agent registry and health, task lifecycle, allocation through
//! `keel-allocator`, persistence through `keel-store`, and the HTTP entry that serves the
//! Mesos state endpoints, DC/OS metadata, the agent proxy and Keel's internal APIs.
//!
//! Architecture Invariant: every change that must survive a crash is written to the store
//! before the request that caused it is answered.

#![forbid(unsafe_code)]

mod agents;
mod changes;
mod core;
mod dcos;
mod decide;
mod dns;
mod error;
mod exposition;
mod group_commit;
mod history;
mod http;
mod json_errors;
mod launch;
mod membership;
mod records;
mod security;
mod status_feed;
mod stream;
mod tasks;
mod views;
mod vips;

pub use crate::core::{Core, MasterConfig, State};
pub use decide::LaunchUnit;
pub use dns::DnsCursor;
pub use error::MasterError;
pub use exposition::{Exposition, Source as MetricsSource};
pub use history::{HISTORY_HOUR, History};
pub use http::{UI_ROOTS, normalize_uri, ui_redirect};
pub use json_errors::json_errors;
pub use launch::{AgentView, TaskChangeSet, TaskLaunch, TaskView};
pub use security::{Security, SecurityMode};
pub use status_feed::{FEED_CAPACITY, StatusBatch, StatusFeed, StatusReader};
pub use tasks::DEFAULT_KILL_GRACE_SECS;
pub use vips::{VIPS, Vips};

use keel_api::internal::MasterEvent;
use keel_clock::{Clock, Ids};
use keel_store::Store;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A running master: shared by every handler and background task.
#[derive(Clone)]
pub struct Master {
    core: Arc<Mutex<Core>>,
    pub(crate) http: reqwest::Client,
    pub(crate) advertise: SocketAddr,
    pub(crate) security: Security,
    /// Agents' status batches on their way to the group commit.
    pub(crate) statuses: tokio::sync::mpsc::UnboundedSender<group_commit::Pending>,
    /// The Prometheus exposition's sources and latency histograms.
    pub(crate) exposition: Exposition,
}

impl Master {
    /// Opens the master's state from `store`.
    pub fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: MasterConfig,
    ) -> Result<Self, MasterError> {
        Self::open_with(store, clock, Arc::new(keel_clock::RandomIds), config)
    }

    /// As [`Master::open`], with the master's ids taken from `ids` (e.g. `SeqIds` in tests).
    pub fn open_with(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
        config: MasterConfig,
    ) -> Result<Self, MasterError> {
        let advertise = config.advertise;
        let core = Arc::new(Mutex::new(Core::open_with(store, clock, ids, config)?));
        Ok(Self {
            statuses: group_commit::start(core.clone()),
            core,
            http: reqwest::Client::new(),
            advertise,
            security: Security::default(),
            exposition: Exposition::new(),
        })
    }

    /// Where the binary adds sources to the master's Prometheus text.
    pub fn exposition(&self) -> &Exposition {
        &self.exposition
    }

    /// Runs `f` with the state locked. Never call from within `f`.
    pub fn with_core<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        let mut guard = self.core.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// The cluster entry: the master's routes plus `services` (Marathon, Metronome, ...),
    /// all behind the authentication layer. Serve it wrapped with [`normalize_uri`].
    pub fn entry(&self, services: Vec<axum::Router>) -> axum::Router {
        let mut r = http::router(self.clone());
        for s in services {
            r = r.merge(s);
        }
        r.layer(axum::middleware::from_fn_with_state(
            self.clone(),
            exposition::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            self.security.clone(),
            security::authenticate,
        ))
    }

    /// The master's `state-summary` (what Admin Router's `/service/` reads frameworks from).
    pub fn state_summary(&self) -> keel_api::mesos::StateSummary {
        self.with_core(|c| c.summary_json())
    }

    /// Background duties: agent liveness and heartbeats to agents. Runs until dropped.
    pub async fn run_background(self) {
        let (interval, clock) =
            self.with_core(|c| (c.config.heartbeat_interval, c.io.clock.clone()));
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        let mut last_beat = clock.monotonic();
        loop {
            tick.tick().await;
            if let Err(e) = self.with_core(|c| c.tick()) {
                tracing::error!("master tick: {e}");
            }
            let now = clock.monotonic();
            if now.saturating_sub(last_beat) >= interval {
                last_beat = now;
                self.with_core(|c| {
                    let ids: Vec<_> = c.agents.keys().cloned().collect();
                    for id in ids {
                        c.send(&id, MasterEvent::Heartbeat);
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod decide_tests;
#[cfg(test)]
mod tests;
