//! The write path shared by every endpoint that changes apps or groups: compute the new
//! root, plan it, check locks ([`MarathonError::Locked`], or cancel them with `force`),
//! persist definitions, versions and the deployment in one transaction, then start it.
//! Also cancelling a deployment (rolled back, or just stopped). Errors are the domain's;
//! `api/` answers them.

use crate::Marathon;
use crate::error::MarathonError;
use crate::events;
use crate::state::{
    DeploymentRecord, GroupRecord, PodRecord, State, Writes, prune_versions, root_of,
};
use crate::tracked::Tracked;
use keel_api::marathon::{AppDefinition, PathId, Timestamp};
use keel_deploy::{DeploymentPlan, RootGroup, conflicts, plan, rollback};
use std::collections::{BTreeMap, BTreeSet};

/// A requested change of the whole app/group set. Apps and pods remember which ids the
/// caller touched: only those are diffed, planned and persisted.
pub(crate) struct Change {
    pub apps: Tracked<PathId, AppDefinition>,
    pub pods: Tracked<PathId, PodRecord>,
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
            apps: Tracked::new(st.apps.clone()),
            pods: Tracked::new(st.pods.clone()),
            groups: st.groups.clone(),
            restart: BTreeSet::new(),
            sentenced: BTreeMap::new(),
            force,
        }
    }

    /// Ids of the apps this change may alter (touched, or named in `restart`).
    fn app_ids(&self) -> BTreeSet<PathId> {
        let restart = self.restart.iter().map(|id| PathId::parse_unchecked(id));
        self.apps.touched().iter().cloned().chain(restart).collect()
    }

    /// Like [`Change::app_ids`], for pods.
    fn pod_ids(&self) -> BTreeSet<PathId> {
        let restart = self.restart.iter().map(|id| PathId::parse_unchecked(id));
        self.pods.touched().iter().cloned().chain(restart).collect()
    }
}

/// The version stamp of a write happening now.
pub(crate) fn version_now(m: &Marathon) -> Timestamp {
    Timestamp::from_millis((m.now() * 1000.0) as i64)
}

/// The root groups to plan from and to. When the groups are unchanged, a run spec the
/// change did not touch is the same on both sides and gets no action; if moreover no
/// touched run spec has a dependency, no dependency level or cycle involves a touched
/// one beyond itself. Then the two roots of the touched run specs alone give the plan of
/// the whole roots; otherwise the whole roots are planned.
fn roots(st: &State, change: &Change) -> (RootGroup, RootGroup) {
    if change.groups == st.groups {
        let (apps, pods) = (change.app_ids(), change.pod_ids());
        let target = root_of(
            apps.iter().filter_map(|id| change.apps.get(id)),
            pods.iter().filter_map(|id| change.pods.get(id)),
            &change.groups,
        );
        if target.run_specs.values().all(|s| s.dependencies.is_empty()) {
            let original = root_of(
                apps.iter().filter_map(|id| st.apps.get(id)),
                pods.iter().filter_map(|id| st.pods.get(id)),
                &st.groups,
            );
            return (original, target);
        }
    }
    let target = root_of(change.apps.values(), change.pods.values(), &change.groups);
    (st.root(), target)
}

impl Marathon {
    /// Assigns the service ports `change` leaves 0, then plans, persists and starts it;
    /// returns the plan.
    pub(crate) fn deploy(
        &self,
        st: &mut State,
        mut change: Change,
    ) -> Result<DeploymentPlan, MarathonError> {
        let (app_ids, pod_ids) = (change.app_ids(), change.pod_ids());
        crate::limits::check(
            &self.inner.limits,
            st,
            app_ids
                .iter()
                .filter_map(|id| change.apps.get_key_value(id)),
            pod_ids
                .iter()
                .filter_map(|id| change.pods.get_key_value(id)),
        )
        .map_err(MarathonError::Invalid)?;
        shared_ids(st, &change)?;
        let now = self.now();
        let version = version_now(self);
        assign_service_ports(st, &mut change)?;
        let (changed_ids, changed_pod_ids) = (change.app_ids(), change.pod_ids());
        let (original, target) = roots(st, &change);
        let id = self.inner.ids.uuid().to_string();
        let p = plan(&original, &target, &change.restart, id, version.to_string())
            .map_err(MarathonError::Unplannable)?
            .with_sentenced(&change.sentenced);
        let blocking = conflicts(&p, st.deployments.iter().map(|d| &d.plan));
        let mut w = Writes::default();
        if !blocking.is_empty() {
            if !change.force {
                return Err(MarathonError::Locked {
                    deployments: blocking,
                });
            }
            st.deployments.retain(|d| !blocking.contains(&d.plan.id));
            for id in &blocking {
                w.remove_deployment(id);
            }
        }
        let changed: Vec<&AppDefinition> = changed_ids
            .iter()
            .filter_map(|id| change.apps.get(id))
            .filter(|a| st.apps.get(&a.id) != Some(*a))
            .collect();
        for a in &changed {
            w.app(a)?;
        }
        let removed: Vec<PathId> = changed_ids
            .iter()
            .filter(|id| st.apps.contains_key(*id) && !change.apps.contains_key(*id))
            .cloned()
            .collect();
        for id in &removed {
            w.remove_app(id);
        }
        let changed_pods: Vec<&PodRecord> = changed_pod_ids
            .iter()
            .filter_map(|id| change.pods.get_key_value(id))
            .filter(|(id, p)| st.pods.get(*id) != Some(*p))
            .map(|(_, p)| p)
            .collect();
        for p in &changed_pods {
            w.pod(p)?;
        }
        for id in changed_pod_ids
            .iter()
            .filter(|id| st.pods.contains_key(*id) && !change.pods.contains_key(*id))
        {
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
        change.apps.store_in(&mut st.apps);
        change.pods.store_in(&mut st.pods);
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
fn shared_ids(st: &State, change: &Change) -> Result<(), MarathonError> {
    // The state holds no such path: one the change touched is needed to make one.
    let touched = change.apps.touched().union(change.pods.touched());
    let shared = touched
        .filter(|id| change.apps.contains_key(*id) && change.pods.contains_key(*id))
        .min();
    match shared {
        Some(id) if st.apps.contains_key(id) => Err(MarathonError::AppExists { id: id.clone() }),
        Some(id) => Err(MarathonError::PodExists { id: id.clone() }),
        None => Ok(()),
    }
}

fn assign_service_ports(st: &State, change: &mut Change) -> Result<(), MarathonError> {
    let assigned = change
        .apps
        .update(|base, changes| crate::service_ports::assign_changes(&st.apps, base, changes))?;
    for id in assigned {
        if let (Some(app), Some(prev)) = (change.apps.get_mut(&id), st.apps.get(&id))
            && !app.is_upgrade(prev)
        {
            app.version_info.last_config_change_at = prev.version_info.last_config_change_at;
        }
    }
    Ok(())
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
    ) -> Result<Option<DeploymentPlan>, MarathonError> {
        let Some(idx) = st.deployments.iter().position(|d| d.plan.id == id) else {
            return Err(MarathonError::DeploymentNotFound { id: id.to_string() });
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
            self.inner.ids.uuid().to_string(),
            version_now(self).to_string(),
        )
        .map_err(MarathonError::Unplannable)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::marathon::parse_app_update;

    fn app(id: &str, instances: u32, deps: &[&str], at: i64) -> AppDefinition {
        let body = serde_json::json!({"id": id, "cmd": "serve", "instances": instances,
            "dependencies": deps, "portDefinitions": []});
        let update = parse_app_update(body.to_string().as_bytes()).unwrap();
        AppDefinition::create(update, &PathId::root())
            .unwrap()
            .with_version(Timestamp::from_millis(at), None)
    }

    fn state() -> State {
        let mut st = State::default();
        for a in [
            app("/a", 1, &[], 1),
            app("/b", 2, &["/g"], 1),
            app("/g/x", 1, &[], 1),
            app("/h/y", 3, &[], 1),
        ] {
            std::sync::Arc::make_mut(&mut st.apps).insert(a.id.clone(), a);
        }
        let g = PathId::parse_unchecked("/h");
        let rec = GroupRecord {
            id: g.clone(),
            dependencies: vec![PathId::parse_unchecked("/a")],
            version: Timestamp::from_millis(1),
        };
        st.groups.insert(g, rec);
        st
    }

    /// The plan of `roots` is the plan of the whole root groups, error or not.
    fn check(edit: impl FnOnce(&State, &mut Change)) {
        let st = state();
        let mut change = Change::from(&st, false);
        edit(&st, &mut change);
        let plan_of = |(original, target): (RootGroup, RootGroup)| {
            format!(
                "{:?}",
                plan(&original, &target, &change.restart, "p".into(), "v".into())
            )
        };
        let whole = (
            st.root(),
            root_of(change.apps.values(), change.pods.values(), &change.groups),
        );
        assert_eq!(plan_of(roots(&st, &change)), plan_of(whole));
    }

    fn put(change: &mut Change, a: AppDefinition) {
        change.apps.insert(a.id.clone(), a);
    }

    #[test]
    fn planning_the_touched_run_specs_gives_the_plan_of_the_whole_roots() {
        check(|_, c| put(c, app("/new", 2, &[], 5)));
        check(|_, c| put(c, app("/g/new", 2, &[], 5)));
        check(|_, c| put(c, app("/h/new", 2, &[], 5)));
        check(|_, c| put(c, app("/new", 2, &["/a"], 5)));
        check(|_, c| put(c, app("/new", 2, &["/b"], 5)));
        check(|st, c| put(c, st.apps[&PathId::parse_unchecked("/a")].clone()));
        check(|st, c| {
            let a = &st.apps[&PathId::parse_unchecked("/a")];
            put(
                c,
                AppDefinition {
                    instances: 4,
                    ..a.clone()
                },
            );
        });
        check(|st, c| {
            let a = &st.apps[&PathId::parse_unchecked("/a")];
            let changed = AppDefinition {
                cmd: Some("other".into()),
                ..a.clone()
            };
            put(c, changed.with_version(Timestamp::from_millis(9), Some(a)));
        });
        check(|_, c| {
            c.apps.remove(&PathId::parse_unchecked("/g/x"));
        });
        check(|_, c| c.apps.retain(|id, _| id.to_string() != "/a"));
        check(|_, c| {
            c.restart.insert("/a".into());
        });
        // A cycle through an added app: /b depends on /g, /g/z on /b.
        check(|_, c| put(c, app("/g/z", 1, &["/b"], 5)));
        check(|_, c| {
            c.groups.remove(&PathId::parse_unchecked("/h"));
        });
    }
}
