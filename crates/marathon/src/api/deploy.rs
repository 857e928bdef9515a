//! The write path shared by every endpoint that changes apps or groups: compute the new
//! root, plan it, check locks (409, or cancel with `force`), persist definitions, versions
//! and the deployment in one transaction, then start it. Also `/v2/deployments`.

use super::{Params, deployment_result, flag, json_response};
use crate::Marathon;
use crate::error::HttpError;
use crate::events;
use crate::state::{
    DeploymentRecord, GroupRecord, PodRecord, State, Writes, prune_versions, root_of,
};
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keel_api::marathon::{ApiErrorBody, AppDefinition, PathId, Timestamp};
use keel_deploy::{DeploymentPlan, conflicts, plan, rollback};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A requested change of the whole app/group set.
pub(crate) struct Change {
    pub apps: BTreeMap<PathId, AppDefinition>,
    pub pods: BTreeMap<PathId, PodRecord>,
    pub groups: BTreeMap<PathId, GroupRecord>,
    pub restart: BTreeSet<String>,
    /// Instances each Scale action must kill (kill-and-scale).
    pub sentenced: BTreeMap<String, Vec<String>>,
    pub force: bool,
}

impl Change {
    /// Starts from the current state.
    pub fn from(st: &State, force: bool) -> Change {
        Change {
            apps: st.apps.clone(),
            pods: st.pods.clone(),
            groups: st.groups.clone(),
            restart: BTreeSet::new(),
            sentenced: BTreeMap::new(),
            force,
        }
    }
}

/// The version stamp of a write happening now.
pub(crate) fn version_now(m: &Marathon) -> Timestamp {
    Timestamp::from_millis((m.now() * 1000.0) as i64)
}

impl Marathon {
    /// Assigns the service ports `change` leaves 0, then plans, persists and starts it;
    /// returns the plan.
    pub(crate) fn deploy(
        &self,
        st: &mut State,
        mut change: Change,
    ) -> Result<DeploymentPlan, HttpError> {
        crate::limits::check(&self.inner.limits, st, &change.apps, &change.pods)?;
        shared_ids(st, &change)?;
        let now = self.now();
        let version = version_now(self);
        assign_service_ports(st, &mut change)?;
        let original = st.root();
        let target = root_of(change.apps.values(), change.pods.values(), &change.groups);
        let id = uuid::Uuid::new_v4().to_string();
        let p = plan(&original, &target, &change.restart, id, version.to_string())?
            .with_sentenced(&change.sentenced);
        let blocking = conflicts(&p, st.deployments.iter().map(|d| &d.plan));
        let mut w = Writes::default();
        if !blocking.is_empty() {
            if !change.force {
                return Err(HttpError(ApiErrorBody::locked(&blocking)));
            }
            st.deployments.retain(|d| !blocking.contains(&d.plan.id));
            for id in &blocking {
                w.remove_deployment(id);
            }
        }
        let changed: Vec<&AppDefinition> = change
            .apps
            .values()
            .filter(|a| st.apps.get(&a.id) != Some(*a))
            .collect();
        for a in &changed {
            w.app(a)?;
        }
        for id in st.apps.keys().filter(|id| !change.apps.contains_key(*id)) {
            w.remove_app(id);
        }
        let changed_pods: Vec<&PodRecord> = change
            .pods
            .iter()
            .filter(|(id, p)| st.pods.get(*id) != Some(*p))
            .map(|(_, p)| p)
            .collect();
        for p in &changed_pods {
            w.pod(p)?;
        }
        for id in st.pods.keys().filter(|id| !change.pods.contains_key(*id)) {
            w.remove_pod(id);
        }
        for g in change
            .groups
            .values()
            .filter(|g| st.groups.get(&g.id) != Some(*g))
        {
            w.group(g)?;
        }
        for id in st
            .groups
            .keys()
            .filter(|id| !change.groups.contains_key(*id))
        {
            w.remove_group(id);
        }
        let record = DeploymentRecord {
            plan: p.clone(),
            step: 0,
            started_at: now,
            automatic: false,
        };
        if !p.is_empty() {
            w.deployment(&record)?;
        }
        w.commit(&*self.inner.store)?;
        for a in &changed {
            st.backoff.remove(&a.id);
            let _ = prune_versions(&*self.inner.store, &a.id);
        }
        for p in &changed_pods {
            st.backoff.remove(&p.id());
            let _ = crate::state::prune_pod_versions(&*self.inner.store, &p.id());
        }
        let removed: Vec<PathId> = st
            .apps
            .keys()
            .filter(|id| !change.apps.contains_key(*id))
            .cloned()
            .collect();
        st.apps = change.apps;
        st.pods = change.pods;
        st.groups = change.groups;
        if !p.is_empty() {
            st.deployments.push(record);
            self.emit(events::deployment_info(&p, 0, now));
        } else {
            self.emit(events::deployment_success(&p, now));
        }
        self.emit(events::group_change_success("/", &p.version, now));
        for id in removed {
            self.emit(events::app_terminated(&id.to_string(), now));
        }
        self.inner.wake.notify_one();
        Ok(p)
    }
}

/// Marathon's service port assignment; an app it changed whose configuration is then the
/// same as before (it re-posted 0s and got its ports back) keeps its `lastConfigChangeAt`.
/// 409 when the change would make one path both an app and a pod (the run specs of a plan
/// are keyed by path: the pod would hide the app).
fn shared_ids(st: &State, change: &Change) -> Result<(), HttpError> {
    match change.apps.keys().find(|id| change.pods.contains_key(*id)) {
        Some(id) if st.apps.contains_key(id) => Err(HttpError(ApiErrorBody::app_exists(id))),
        Some(id) => Err(HttpError(ApiErrorBody::pod_exists(id))),
        None => Ok(()),
    }
}

fn assign_service_ports(st: &State, change: &mut Change) -> Result<(), HttpError> {
    let assigned = crate::service_ports::assign(&st.apps, &mut change.apps)
        .map_err(|e| HttpError(ApiErrorBody::new(500, e.to_string())))?;
    for id in assigned {
        if let (Some(app), Some(prev)) = (change.apps.get_mut(&id), st.apps.get(&id))
            && !app.is_upgrade(prev)
        {
            app.version_info.last_config_change_at = prev.version_info.last_config_change_at;
        }
    }
    Ok(())
}

/// `GET /v2/deployments`.
pub(crate) async fn list(AxState(m): AxState<Marathon>) -> Response {
    let st = m.lock();
    let v: Vec<Value> = st
        .deployments
        .iter()
        .map(crate::views::deployment_json)
        .collect();
    json_response(StatusCode::OK, &Value::Array(v))
}

/// `DELETE /v2/deployments/{id}`: roll back (a new deployment), or with `force` just stop.
pub(crate) async fn cancel(
    AxState(m): AxState<Marathon>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, HttpError> {
    let force = flag(&q, "force", false);
    let mut st = m.lock();
    match m.cancel_deployment(&mut st, &id, force, "cancelled")? {
        Some(p) => Ok(deployment_result(StatusCode::OK, &p.id, &p.version)),
        None => Ok(StatusCode::ACCEPTED.into_response()),
    }
}

impl Marathon {
    /// Cancels deployment `id`: with `force` it just stops (`None`); otherwise a new
    /// deployment restores the definitions the cancelled one replaced (`Some(plan)`).
    pub(crate) fn cancel_deployment(
        &self,
        st: &mut State,
        id: &str,
        force: bool,
        reason: &str,
    ) -> Result<Option<DeploymentPlan>, HttpError> {
        let Some(idx) = st.deployments.iter().position(|d| d.plan.id == id) else {
            return Err(HttpError(ApiErrorBody::deployment_not_found(id)));
        };
        let d = st.deployments.remove(idx);
        let mut w = Writes::default();
        w.remove_deployment(id);
        w.commit(&*self.inner.store)?;
        self.emit(events::deployment_failed(&d.plan, reason, self.now()));
        self.inner.wake.notify_one();
        if force {
            return Ok(None);
        }
        let back = rollback(
            &d.plan,
            &st.root(),
            uuid::Uuid::new_v4().to_string(),
            version_now(self).to_string(),
        )?;
        let mut change = Change::from(st, true);
        for spec_id in d.plan.affected() {
            let pid = PathId::parse_unchecked(&spec_id);
            match back.target.run_specs.get(&spec_id) {
                Some(spec) if spec.kind == keel_deploy::RunSpecKind::Pod => {
                    let versions = crate::state::pod_versions(&*self.inner.store, &pid)?;
                    if let Some(old) = versions
                        .into_iter()
                        .find(|p| p.version().to_string() == spec.version)
                    {
                        let current = st.pods.get(&pid).cloned();
                        let back = PodRecord::new(old.pod, version_now(self), current.as_ref());
                        change.pods.insert(pid, back);
                    }
                }
                Some(spec) => {
                    let versions = crate::state::app_versions(&*self.inner.store, &pid)?;
                    if let Some(old) = versions
                        .into_iter()
                        .find(|a| a.version.to_string() == spec.version)
                    {
                        // The original definition, version and all (Marathon's reverter):
                        // instances launched from it are not restarted.
                        change.apps.insert(pid, old);
                    }
                }
                // Added by the cancelled deployment: it goes.
                None if back.original.get(&spec_id).is_some() => {
                    change.apps.remove(&pid);
                    change.pods.remove(&pid);
                }
                // Already as it was before the cancelled deployment.
                None => {}
            }
        }
        Ok(Some(self.deploy(st, change)?))
    }
}
