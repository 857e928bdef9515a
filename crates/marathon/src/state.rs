//! The Marathon service's state: apps (with their versions), groups, instances, running
//! deployments, backoff and queue bookkeeping; its persistence in the store (every write
//! of an API call in one transaction, before the call is answered); and the reduction of
//! apps to `keel-deploy` run specs.

use crate::error::MarathonError;
use crate::instance::InstanceRecord;
pub use crate::pod::PodRecord;
use keel_api::marathon::spec::{KillSelection, UnreachableStrategy};
use keel_api::marathon::{AppDefinition, PathId, Timestamp};
use keel_deploy::{BackoffPolicy, BackoffState, DeploymentPlan, RootGroup, RunSpec, RunSpecKind};
use keel_store::{Expect, Op, Store, Txn};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) const APPS: &str = "/keel/marathon/apps/";
pub(crate) const APP_VERSIONS: &str = "/keel/marathon/app-versions/";
pub(crate) const GROUPS: &str = "/keel/marathon/groups/";
pub(crate) const INSTANCES: &str = "/keel/marathon/instances/";
pub(crate) const DEPLOYMENTS: &str = "/keel/marathon/deployments/";
pub(crate) const PODS: &str = "/keel/marathon/pods/";
pub(crate) const POD_VERSIONS: &str = "/keel/marathon/pod-versions/";

/// Versions kept per app (Marathon's `--zk_max_versions` default).
pub const MAX_VERSIONS: usize = 50;

/// A group's own data (apps and subgroups are implied by ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub id: PathId,
    pub dependencies: Vec<PathId>,
    pub version: Timestamp,
}

/// A running deployment and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub plan: DeploymentPlan,
    /// Index of the current step (0-based).
    pub step: usize,
    /// Unix seconds when it started (for the progress deadline).
    #[serde(default)]
    pub started_at: f64,
    /// Created by Keel to roll back a deployment past its progress deadline; never rolled
    /// back itself.
    #[serde(default)]
    pub automatic: bool,
}

/// App label that bounds how long a deployment touching the app may run before Keel rolls
/// it back on its own (seconds). Marathon deployments otherwise run forever.
pub const PROGRESS_DEADLINE_LABEL: &str = "KEEL_DEPLOYMENT_PROGRESS_DEADLINE_SECONDS";

/// Why an app's or pod's instances wait: the allocator's rejections at the last attempt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueEntry {
    pub since: f64,
    pub waiting: u32,
    pub rejections: BTreeMap<String, u32>,
    pub agents: u32,
    pub last_attempt: f64,
}

/// Instances of one launch attempt that found no agent, per run spec: how many, and the
/// most agents any of them was rejected by, per reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unplaced(pub BTreeMap<PathId, (u32, BTreeMap<String, u32>)>);

impl Unplaced {
    /// Counts one instance of `id` that `rejections` (reason -> agents) kept off every agent.
    pub fn add(&mut self, id: PathId, rejections: BTreeMap<String, u32>) {
        let e = self.0.entry(id).or_default();
        e.0 += 1;
        for (k, v) in rejections {
            let slot = e.1.entry(k).or_default();
            *slot = (*slot).max(v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The launch queue after an attempt at `now` with `agents` active agents: exactly
    /// the run specs of this attempt that wait, each keeping the time it started waiting.
    pub fn record(self, queue: &mut BTreeMap<PathId, QueueEntry>, agents: u32, now: f64) {
        queue.retain(|k, _| self.0.contains_key(k));
        for (id, (n, rejections)) in self.0 {
            let q = queue.entry(id).or_insert_with(|| QueueEntry {
                since: now,
                ..QueueEntry::default()
            });
            q.waiting = n;
            q.rejections = rejections;
            q.agents = agents;
            q.last_attempt = now;
        }
    }
}

/// The last task failure of an app (`lastTaskFailure`).
#[derive(Debug, Clone, PartialEq)]
pub struct LastFailure {
    pub task_id: String,
    pub host: String,
    pub slave_id: String,
    pub state: String,
    pub message: String,
    pub timestamp: f64,
    pub version: String,
}

/// Everything the service keeps. Apps and pods are shared maps, copied on write: a write
/// starts from them without copying (`api/tracked.rs`) and applies its changes in place.
#[derive(Debug, Default)]
pub struct State {
    pub apps: Arc<BTreeMap<PathId, AppDefinition>>,
    pub pods: Arc<BTreeMap<PathId, PodRecord>>,
    pub groups: BTreeMap<PathId, GroupRecord>,
    pub instances: BTreeMap<String, InstanceRecord>,
    pub deployments: Vec<DeploymentRecord>,
    pub backoff: BTreeMap<PathId, BackoffState>,
    pub queue: BTreeMap<PathId, QueueEntry>,
    pub last_failure: BTreeMap<PathId, LastFailure>,
}

impl State {
    /// Loads everything from the store.
    pub fn load(store: &dyn Store) -> Result<State, MarathonError> {
        let mut s = State::default();
        let apps = Arc::make_mut(&mut s.apps);
        for app in list::<AppDefinition>(store, APPS)? {
            apps.insert(app.id.clone(), app);
        }
        let pods = Arc::make_mut(&mut s.pods);
        for p in list::<PodRecord>(store, PODS)? {
            pods.insert(p.pod.path_id(), p);
        }
        for g in list::<GroupRecord>(store, GROUPS)? {
            s.groups.insert(g.id.clone(), g);
        }
        for i in list::<InstanceRecord>(store, INSTANCES)? {
            s.instances.insert(i.id.clone(), i);
        }
        s.deployments = list::<DeploymentRecord>(store, DEPLOYMENTS)?;
        s.deployments.sort_by(|a, b| {
            a.plan
                .version
                .cmp(&b.plan.version)
                .then(a.plan.id.cmp(&b.plan.id))
        });
        Ok(s)
    }

    /// The root group as `keel-deploy` sees it.
    pub fn root(&self) -> RootGroup {
        root_of(self.apps.values(), self.pods.values(), &self.groups)
    }

    /// Instances of one app. Instance ids start with the app's safe path, so they are
    /// one contiguous range of the map.
    pub fn instances_of<'a>(
        &'a self,
        app: &'a PathId,
    ) -> impl Iterator<Item = &'a InstanceRecord> + 'a {
        let prefix = format!("{}.instance-", app.safe_path());
        self.instances
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(_, i)| i)
            .filter(move |i| &i.run_spec == app)
    }

    /// The running deployment holding `run_spec`, if any.
    pub fn locking(&self, run_spec: &str) -> Vec<String> {
        self.deployments
            .iter()
            .filter(|d| d.plan.affects(run_spec))
            .map(|d| d.plan.id.clone())
            .collect()
    }
}

/// The root group of `apps` and `pods`, with group dependencies applied to the run specs
/// under them.
pub fn root_of<'a>(
    apps: impl Iterator<Item = &'a AppDefinition>,
    pods: impl Iterator<Item = &'a PodRecord>,
    groups: &BTreeMap<PathId, GroupRecord>,
) -> RootGroup {
    let specs = apps
        .map(|a| (a.id.clone(), run_spec(a)))
        .chain(pods.map(|p| (p.pod.path_id(), p.run_spec())));
    let run_specs = specs
        .map(|(id, mut spec)| {
            for g in groups.values().filter(|g| id.is_descendant_of(&g.id)) {
                spec.dependencies
                    .extend(g.dependencies.iter().map(|d| d.to_string()));
            }
            (id.to_string(), spec)
        })
        .collect();
    RootGroup { run_specs }
}

/// Marathon's unreachable strategy as deployment decisions read it (seconds as `f64`).
pub fn unreachable_strategy(s: UnreachableStrategy) -> keel_deploy::UnreachableStrategy {
    match s {
        UnreachableStrategy::Disabled => keel_deploy::UnreachableStrategy::Disabled,
        UnreachableStrategy::Enabled {
            inactive_after_seconds,
            expunge_after_seconds,
        } => keel_deploy::UnreachableStrategy::Enabled {
            inactive_after: inactive_after_seconds as f64,
            expunge_after: expunge_after_seconds as f64,
        },
    }
}

/// An app reduced to what deployment decisions read.
pub fn run_spec(a: &AppDefinition) -> RunSpec {
    let unreachable = unreachable_strategy(a.unreachable_strategy);
    RunSpec {
        id: a.id.to_string(),
        kind: RunSpecKind::App,
        version: a.version.to_string(),
        config_version: a.version_info.last_config_change_at.to_string(),
        instances: a.instances,
        dependencies: a.dependencies.iter().map(|d| d.to_string()).collect(),
        upgrade: keel_deploy::UpgradeStrategy {
            minimum_health_capacity: a.upgrade_strategy.minimum_health_capacity,
            maximum_over_capacity: a.upgrade_strategy.maximum_over_capacity,
        },
        kill_selection: match a.kill_selection {
            KillSelection::YoungestFirst => keel_deploy::KillSelection::YoungestFirst,
            KillSelection::OldestFirst => keel_deploy::KillSelection::OldestFirst,
        },
        backoff: BackoffPolicy {
            seconds: f64::from(a.backoff_seconds),
            factor: a.backoff_factor,
            max_launch_delay: f64::from(a.max_launch_delay_seconds),
        },
        unreachable,
        resident: a.is_resident(),
        has_health_checks: !a.health_checks.is_empty(),
        has_readiness_checks: !a.readiness_checks.is_empty(),
    }
}

/// A batch of store writes, committed in one transaction.
#[derive(Default)]
pub struct Writes {
    txn: Txn,
}

impl Writes {
    pub fn put<T: Serialize>(&mut self, key: String, v: &T) -> Result<(), MarathonError> {
        let bytes = serde_json::to_vec(v).map_err(|e| MarathonError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        self.txn.success.push(Op::put(key, bytes));
        Ok(())
    }

    pub fn delete(&mut self, key: String) {
        self.txn.success.push(Op::delete(key));
    }

    pub fn app(&mut self, app: &AppDefinition) -> Result<(), MarathonError> {
        self.put(format!("{APPS}{}", app.id), app)?;
        self.put(format!("{APP_VERSIONS}{}/{}", app.id, app.version), app)
    }

    pub fn remove_app(&mut self, id: &PathId) {
        self.delete(format!("{APPS}{id}"));
    }

    pub fn group(&mut self, g: &GroupRecord) -> Result<(), MarathonError> {
        self.put(format!("{GROUPS}{}", g.id), g)
    }

    pub fn pod(&mut self, p: &PodRecord) -> Result<(), MarathonError> {
        let id = p.pod.path_id();
        self.put(format!("{PODS}{id}"), p)?;
        self.put(format!("{POD_VERSIONS}{id}/{}", p.version()), p)
    }

    pub fn remove_pod(&mut self, id: &PathId) {
        self.delete(format!("{PODS}{id}"));
    }

    pub fn remove_group(&mut self, id: &PathId) {
        self.delete(format!("{GROUPS}{id}"));
    }

    pub fn instance(&mut self, i: &InstanceRecord) -> Result<(), MarathonError> {
        self.put(format!("{INSTANCES}{}", i.id), i)
    }

    pub fn remove_instance(&mut self, id: &str) {
        self.delete(format!("{INSTANCES}{id}"));
    }

    pub fn deployment(&mut self, d: &DeploymentRecord) -> Result<(), MarathonError> {
        self.put(format!("{DEPLOYMENTS}{}", d.plan.id), d)
    }

    pub fn remove_deployment(&mut self, id: &str) {
        self.delete(format!("{DEPLOYMENTS}{id}"));
    }

    /// Commits every write atomically: within an API request, answered once durable by the
    /// request's layer (`durable`), after the handler released its locks; elsewhere now.
    pub fn commit(self, store: &dyn Store) -> Result<(), MarathonError> {
        match self.submit(store) {
            Some(ticket) => crate::durable::park(store, ticket),
            None => Ok(()),
        }
    }

    /// Queues every write as one transaction, in the store's order from now on; the ticket
    /// must be waited for (`None`: nothing to write).
    pub fn submit(self, store: &dyn Store) -> Option<keel_store::Ticket> {
        (!self.txn.success.is_empty()).then(|| store.submit(self.txn))
    }
}

/// Stored versions of an app, newest first.
pub fn app_versions(store: &dyn Store, id: &PathId) -> Result<Vec<AppDefinition>, MarathonError> {
    let mut v = list::<AppDefinition>(store, &format!("{APP_VERSIONS}{id}/"))?;
    v.retain(|a| &a.id == id);
    v.sort_by_key(|a| std::cmp::Reverse(a.version));
    Ok(v)
}

/// Stored versions of a pod, newest first.
pub fn pod_versions(store: &dyn Store, id: &PathId) -> Result<Vec<PodRecord>, MarathonError> {
    let mut v = list::<PodRecord>(store, &format!("{POD_VERSIONS}{id}/"))?;
    v.retain(|p| &p.pod.path_id() == id);
    v.sort_by_key(|p| std::cmp::Reverse(p.pod.version));
    Ok(v)
}

/// Drops pod versions beyond [`MAX_VERSIONS`].
pub fn prune_pod_versions(store: &dyn Store, id: &PathId) -> Result<(), MarathonError> {
    for old in pod_versions(store, id)?.iter().skip(MAX_VERSIONS) {
        store.delete(
            &format!("{POD_VERSIONS}{id}/{}", old.version()),
            Expect::Any,
        )?;
    }
    Ok(())
}

/// Drops versions beyond [`MAX_VERSIONS`].
pub fn prune_versions(store: &dyn Store, id: &PathId) -> Result<(), MarathonError> {
    let versions = app_versions(store, id)?;
    for old in versions.iter().skip(MAX_VERSIONS) {
        store.delete(&format!("{APP_VERSIONS}{id}/{}", old.version), Expect::Any)?;
    }
    Ok(())
}

fn list<T: DeserializeOwned>(store: &dyn Store, prefix: &str) -> Result<Vec<T>, MarathonError> {
    store
        .list(prefix)?
        .into_iter()
        .map(|kv| {
            serde_json::from_slice(&kv.value).map_err(|e| MarathonError::Corrupt {
                key: kv.key.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}
