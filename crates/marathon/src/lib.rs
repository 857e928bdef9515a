//! The Marathon-compatible service scheduler that runs beside the master: apps, groups,
//! deployments, tasks, the launch queue, events and the v2 REST API at `/v2/...` and
//! `/marathon/v2/...`, for existing Marathon clients.
//!
//! Decisions come from `keel-deploy` (plans, rolling restarts, scaling, backoff,
//! unreachable handling); tasks are launched and killed through the master's in-process
//! scheduler API; task state is read from the master.
//!
//! Architecture Invariant: every API write is persisted (definitions, versions and the
//! deployment, in one store transaction) before it is answered; a master restart resumes
//! every deployment from the store.

#![forbid(unsafe_code)]

mod api;
mod cluster;
mod container;
mod deploy;
mod durable;
mod error;
mod events;
mod instance;
mod launch;
mod limits;
mod pod;
mod pod_scheduler;
mod pod_views;
mod readiness;
mod scheduler;
mod service_ports;
mod state;
mod task_json;
mod task_views;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod tracked;
mod views;

pub use error::MarathonError;
pub use limits::Limits;

use cluster::Cluster;
use keel_clock::{Clock, Ids};
use keel_master::Master;
use keel_store::Store;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// The running Marathon service.
#[derive(Clone)]
pub struct Marathon {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub cluster: Arc<dyn Cluster>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Deployment, instance and task ids.
    pub ids: Arc<dyn Ids>,
    /// Lock order: `tasks` before `state` (and both before the master's).
    pub tasks: Mutex<task_views::TaskViews>,
    pub state: Mutex<state::State>,
    pub bus: events::Bus,
    pub wake: Notify,
    pub readiness: Mutex<readiness::Readiness>,
    pub limits: Limits,
}

impl Marathon {
    /// Loads the service's state from the master's store, with the default [`Limits`].
    pub fn open(master: &Master) -> Result<Marathon, MarathonError> {
        Marathon::open_with(master, Limits::default())
    }

    /// [`Marathon::open`] with the given ceilings on requested counts.
    pub fn open_with(master: &Master, limits: Limits) -> Result<Marathon, MarathonError> {
        let cluster: Arc<dyn Cluster> = Arc::new(master.clone());
        let ids = Arc::new(keel_clock::RandomIds);
        Marathon::open_on(cluster, master.store(), master.clock(), ids, limits)
    }

    /// [`Marathon::open_with`] on any [`Cluster`], store and clock.
    pub(crate) fn open_on(
        cluster: Arc<dyn Cluster>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
        limits: Limits,
    ) -> Result<Marathon, MarathonError> {
        let st = state::State::load(&*store)?;
        tracing::info!(
            apps = st.apps.len(),
            instances = st.instances.len(),
            deployments = st.deployments.len(),
            "marathon recovered its state"
        );
        Ok(Marathon {
            inner: Arc::new(Inner {
                cluster,
                store,
                clock,
                ids,
                tasks: Mutex::new(task_views::TaskViews::new()),
                state: Mutex::new(st),
                bus: events::Bus::new(),
                wake: Notify::new(),
                readiness: Mutex::new(readiness::Readiness::default()),
                limits,
            }),
        })
    }

    /// Gives up leadership and, as the only candidate, is elected again: the in-memory
    /// state (definitions, instances, deployments, task views, readiness, backoff) is
    /// dropped and recovered from the store, as a new Marathon leader would recover it.
    /// Running tasks are not touched; deployments resume where their records say.
    pub(crate) fn reelect(&self) -> Result<(), MarathonError> {
        let mut tasks = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = self.lock();
        let fresh = state::State::load(&*self.inner.store)?;
        tracing::info!(
            apps = fresh.apps.len(),
            instances = fresh.instances.len(),
            deployments = fresh.deployments.len(),
            "marathon abdicated and was re-elected; state recovered from the store"
        );
        *st = fresh;
        *tasks = task_views::TaskViews::new();
        *self
            .inner
            .readiness
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = readiness::Readiness::default();
        drop(st);
        drop(tasks);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// The v2 API routes, at the root and under `/marathon` (DC/OS's Admin Router layout,
    /// also `/service/marathon`).
    pub fn router(&self) -> axum::Router {
        let api = api::routes(self.clone());
        use axum::http::StatusCode;
        use keel_master::ui_redirect;
        axum::Router::new()
            .merge(api.clone())
            .nest("/marathon", api.clone())
            .nest("/service/marathon", api)
            .route(
                "/marathon",
                axum::routing::get(|| async {
                    ui_redirect(StatusCode::TEMPORARY_REDIRECT, "/marathon/")
                }),
            )
            .route(
                "/service/marathon",
                axum::routing::get(|| async {
                    ui_redirect(StatusCode::MOVED_PERMANENTLY, "/service/marathon/")
                }),
            )
            .route("/marathon/", axum::routing::get(api::index))
            .route("/service/marathon/", axum::routing::get(api::index))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, state::State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marathon's task views, brought up to date. Take it before [`Marathon::lock`].
    pub(crate) fn tasks(&self) -> MutexGuard<'_, task_views::TaskViews> {
        let mut t = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
        t.sync(&*self.inner.cluster);
        t
    }

    pub(crate) fn emit(&self, (event_type, sse): (String, String)) {
        self.inner.bus.publish(&event_type, sse);
    }

    pub(crate) fn now(&self) -> f64 {
        self.inner.clock.unix_secs()
    }
}
