//! The scheduling loop: on every task status and API change (and once a second), advance
//! the running deployments step by step with `keel-deploy`, reconcile every app no
//! deployment holds, and carry out the kills, expunges and launches through the master.

use crate::Marathon;
use crate::error::MarathonError;
use crate::events;
use crate::instance::InstanceRecord;
use crate::launch;
use crate::state::{PROGRESS_DEADLINE_LABEL, State, Unplaced, Writes, run_spec};
use crate::task_views::{Changed, Views};
use keel_api::marathon::{PathId, task_id};
use keel_deploy::{Goal, Instance, advance, reconcile};
use keel_master::{MasterError, TaskView};
use keel_model::{TaskId, TaskState};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How many times its own duration the loop rests after a pass.
const PASS_REST: u32 = 2;
/// The longest rest after a pass.
const MAX_REST: Duration = Duration::from_secs(1);
/// Task statuses handled under one lock of the views and the state.
const STATUS_BATCH: usize = 4096;

/// What one pass decided.
#[derive(Default)]
struct Moves {
    kill: Vec<(String, Goal)>,
    expunge: Vec<String>,
    inactive: Vec<String>,
    launch: BTreeMap<PathId, u32>,
}

impl Marathon {
    /// Runs the loop forever. After a pass the loop rests [`PASS_REST`] times as long as the
    /// pass took (statuses that arrive meanwhile are handled and wait for the next pass), so
    /// passes over many instances cannot take the whole machine during a storm of statuses.
    pub async fn run(self) {
        let mut statuses = self.inner.cluster.status_reader();
        tokio::spawn(self.clone().run_readiness());
        loop {
            let started = self.inner.clock.monotonic();
            if let Err(e) = self.tick() {
                tracing::error!("marathon scheduler: {e}");
            }
            let took = self.inner.clock.monotonic().saturating_sub(started);
            let rest = tokio::time::sleep((took * PASS_REST).min(MAX_REST));
            tokio::pin!(rest);
            loop {
                tokio::select! {
                    b = statuses.next(STATUS_BATCH) => self.received(b),
                    _ = &mut rest => break,
                }
            }
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                b = statuses.next(STATUS_BATCH) => self.received(b),
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            // Coalesce bursts of statuses into one pass.
            loop {
                let b = statuses.try_next(STATUS_BATCH);
                if b.statuses.is_empty() && b.missed == 0 {
                    break;
                }
                self.received(b);
            }
        }
    }

    /// Handles a batch from the master's status feed.
    fn received(&self, b: keel_master::StatusBatch) {
        if b.missed > 0 {
            tracing::warn!(
                "marathon missed {} task statuses (events, backoff)",
                b.missed
            );
        }
        self.on_statuses(&b.statuses);
    }

    /// One pass of the loop.
    pub fn tick(&self) -> Result<(), MarathonError> {
        let now = self.inner.clock.unix_secs();
        let mut views = self.tasks();
        let changed = views.take_changed();
        let mut st = self.lock();
        let tasks = PassViews {
            pods: crate::pod_scheduler::pod_views(&st, &views),
            all: &views,
        };
        let mut w = Writes::default();
        observe_unreachable(&mut st, &tasks, &changed, &mut w)?;
        let instances = deploy_instances(&st, &tasks, &self.readiness());
        let mut moves = Moves::default();
        self.enforce_deadlines(&mut st, now);
        let locked = self.advance_deployments(&mut st, &instances, now, &mut moves, &mut w)?;
        reconcile_free(&mut st, &instances, &locked, now, &mut moves);
        self.apply(&mut st, &tasks, moves, now, &mut w)?;
        // In order under the locks, durable after them: reads need not wait for the disk.
        let ticket = w.submit(&*self.inner.store);
        drop(st);
        drop(views);
        if let Some(t) = ticket {
            self.inner.store.wait(t)?;
        }
        Ok(())
    }

    fn advance_deployments(
        &self,
        st: &mut State,
        instances: &BTreeMap<String, Vec<Instance>>,
        now: f64,
        moves: &mut Moves,
        w: &mut Writes,
    ) -> Result<BTreeSet<String>, MarathonError> {
        let mut locked = BTreeSet::new();
        let mut finished = Vec::new();
        for (idx, d) in st.deployments.iter_mut().enumerate() {
            locked.extend(d.plan.affected());
            let Some(step) = d.plan.steps.get(d.step) else {
                finished.push(idx);
                continue;
            };
            let mut all_done = true;
            for action in &step.actions {
                let spec = d.plan.target.run_specs.get(&action.run_spec);
                let mine = instances
                    .get(&action.run_spec)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let p = advance(action, spec, mine, now)?;
                moves
                    .kill
                    .extend(p.kill.into_iter().map(|k| (k, p.kill_goal)));
                moves.expunge.extend(p.expunge);
                // A deployment's launches wait out the backoff too (Marathon's launch
                // queue rate-limits every launch): a task that fails before it ever runs
                // keeps its deployment going, which must not relaunch it at once.
                let held_back = p.launch > 0
                    && spec.is_some_and(|spec| {
                        let pid = PathId::parse_unchecked(&action.run_spec);
                        let b = st.backoff.entry(pid).or_default();
                        b.maybe_reset(&spec.backoff, now);
                        !b.ready(now)
                    });
                if p.launch > 0 && !held_back {
                    *moves
                        .launch
                        .entry(PathId::parse_unchecked(&action.run_spec))
                        .or_default() += p.launch;
                }
                all_done &= p.done;
            }
            if !all_done {
                continue;
            }
            self.emit(events::step_success(&d.plan, d.step, now));
            d.step += 1;
            w.deployment(d)?;
            if d.step >= d.plan.steps.len() {
                finished.push(idx);
                continue;
            }
            self.emit(events::deployment_info(&d.plan, d.step, now));
            // The next step starts in the next pass, which sees this pass's effects.
            self.inner.wake.notify_one();
        }
        for idx in finished.into_iter().rev() {
            let d = st.deployments.remove(idx);
            w.remove_deployment(&d.plan.id);
            self.emit(events::deployment_success(&d.plan, now));
            tracing::info!(deployment = %d.plan.id, "deployment finished");
            self.inner.wake.notify_one();
        }
        Ok(locked)
    }

    /// Rolls back deployments that ran past the progress deadline of an app they touch
    /// (label [`PROGRESS_DEADLINE_LABEL`]); the rollback itself has no deadline.
    fn enforce_deadlines(&self, st: &mut State, now: f64) {
        let overdue: Vec<(String, f64)> = st
            .deployments
            .iter()
            .filter(|d| !d.automatic)
            .filter_map(|d| {
                let deadline = d
                    .plan
                    .affected()
                    .iter()
                    .filter_map(|id| st.apps.get(&PathId::parse_unchecked(id)))
                    .filter_map(|a| a.labels.get(PROGRESS_DEADLINE_LABEL)?.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .fold(f64::INFINITY, f64::min);
                (now - d.started_at > deadline).then(|| (d.plan.id.clone(), deadline))
            })
            .collect();
        for (id, deadline) in overdue {
            let reason = format!("progress deadline of {deadline} s exceeded; rolled back");
            tracing::warn!(deployment = %id, "{reason}");
            match self.cancel_deployment(st, &id, false, &reason) {
                Ok(Some(p)) => {
                    if let Some(d) = st.deployments.iter_mut().find(|d| d.plan.id == p.id) {
                        d.automatic = true;
                        let mut w = Writes::default();
                        if w.deployment(d)
                            .and_then(|_| w.commit(&*self.inner.store))
                            .is_err()
                        {
                            tracing::error!(deployment = %p.id, "persisting the rollback mark");
                        }
                    }
                }
                Ok(None) => {}
                // Gone meanwhile: nothing to roll back.
                Err(MarathonError::DeploymentNotFound { .. }) => {}
                Err(e) => tracing::error!(deployment = %id, "rolling back: {e}"),
            }
        }
    }

    /// Carries out a pass's moves.
    fn apply(
        &self,
        st: &mut State,
        tasks: &PassViews<'_>,
        moves: Moves,
        now: f64,
        w: &mut Writes,
    ) -> Result<(), MarathonError> {
        for (id, goal) in moves.kill {
            let Some(rec) = st.instances.get_mut(&id) else {
                continue;
            };
            rec.goal = goal;
            w.instance(rec)?;
            kill(self, rec, tasks);
        }
        for id in moves.inactive {
            if let Some(rec) = st.instances.get_mut(&id) {
                rec.inactive = true;
                w.instance(rec)?;
            }
        }
        for id in moves.expunge {
            if let Some(rec) = st.instances.remove(&id) {
                w.remove_instance(&id);
                kill(self, &rec, tasks);
            }
        }
        // Instances told to go whose task ended are forgotten.
        let done: Vec<String> = st
            .instances
            .values()
            .filter(|r| r.goal != Goal::Running && crate::pod_scheduler::all_ended(r, tasks))
            .map(|r| r.id.clone())
            .collect();
        for id in done {
            st.instances.remove(&id);
            w.remove_instance(&id);
        }
        self.launch(st, moves.launch, now, w)
    }

    /// Launches the wanted instances of pods and apps; those no agent takes make up the
    /// launch queue (`/v2/queue`), with the reasons.
    fn launch(
        &self,
        st: &mut State,
        wanted: BTreeMap<PathId, u32>,
        now: f64,
        w: &mut Writes,
    ) -> Result<(), MarathonError> {
        let mut unplaced = self.launch_pods(st, &wanted, now, w)?;
        self.launch_apps(st, &wanted, now, w, &mut unplaced)?;
        let agents = if unplaced.is_empty() {
            0
        } else {
            self.inner.cluster.active_agents()
        };
        unplaced.record(&mut st.queue, agents, now);
        Ok(())
    }

    /// Launches the wanted instances of apps, one task each, in one batch.
    fn launch_apps(
        &self,
        st: &mut State,
        wanted: &BTreeMap<PathId, u32>,
        now: f64,
        w: &mut Writes,
        unplaced: &mut Unplaced,
    ) -> Result<(), MarathonError> {
        let mut batch = Vec::new();
        let mut owners = Vec::new();
        for (app_id, n) in wanted {
            let Some(app) = st.apps.get(app_id) else {
                continue;
            };
            if *n > launch::LAUNCHES_PER_PASS {
                self.inner.wake.notify_one();
            }
            for _ in 0..(*n).min(launch::LAUNCHES_PER_PASS) {
                let (instance, task) = launch::new_ids(app, &*self.inner.ids);
                let Ok(task_id) = TaskId::new(task) else {
                    continue;
                };
                batch.push(launch::task_launch(app, task_id.clone()));
                owners.push((app_id.clone(), instance, task_id));
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        let results = self.inner.cluster.launch_tasks(batch);
        let placed: Vec<TaskId> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|l| l.task_id.clone()))
            .collect();
        let mut views: BTreeMap<TaskId, TaskView> = self
            .inner
            .cluster
            .task_views(&placed)
            .into_iter()
            .flatten()
            .map(|v| (v.id.clone(), v))
            .collect();
        for ((app_id, instance, task_id), r) in owners.into_iter().zip(results) {
            match r {
                Ok(resp) => {
                    let Some(app) = st.apps.get(&app_id) else {
                        continue;
                    };
                    let view = views.remove(&task_id);
                    let rec = InstanceRecord {
                        id: instance,
                        run_spec: app_id.clone(),
                        version: app.version.to_string(),
                        config_version: app.version_info.last_config_change_at.to_string(),
                        incarnation: 1,
                        task_id,
                        goal: Goal::Running,
                        agent_id: resp.agent_id.to_string(),
                        hostname: view
                            .as_ref()
                            .map(|v| v.hostname.clone())
                            .unwrap_or_default(),
                        ports: view.as_ref().map(|v| v.ports.clone()).unwrap_or_default(),
                        staged_at: now,
                        unreachable_since: None,
                        inactive: false,
                        tasks: Vec::new(),
                    };
                    w.instance(&rec)?;
                    st.instances.insert(rec.id.clone(), rec);
                }
                Err(MasterError::Unplaceable { rejections }) => unplaced.add(app_id, rejections),
                Err(e) => tracing::warn!(app = %app_id, "launch failed: {e}"),
            }
        }
        Ok(())
    }

    /// Handles task statuses from the master in order: events, backoff, last failure.
    pub(crate) fn on_statuses(&self, statuses: &[keel_model::TaskStatus]) {
        if statuses.is_empty() {
            return;
        }
        let now = self.inner.clock.unix_secs();
        let watched = self.inner.bus.watched();
        // Events name the agent's address (`ipAddresses`); only listeners need it.
        let ips: BTreeMap<TaskId, std::net::IpAddr> = if watched {
            let ids: Vec<TaskId> = statuses.iter().map(|s| s.task_id.clone()).collect();
            self.inner
                .cluster
                .task_views(&ids)
                .into_iter()
                .flatten()
                .filter_map(|v| v.agent_ip.map(|ip| (v.id, ip)))
                .collect()
        } else {
            BTreeMap::new()
        };
        let mut st = self.lock();
        for status in statuses {
            let ip = ips.get(&status.task_id).copied();
            self.on_status(&mut st, status, watched.then_some(ip), now);
        }
    }

    /// Handles one task status from the master: events, backoff, last failure. `watched`
    /// holds the agent's address when someone listens to events.
    fn on_status(
        &self,
        st: &mut State,
        status: &keel_model::TaskStatus,
        watched: Option<Option<std::net::IpAddr>>,
        now: f64,
    ) {
        let Ok((app_id, instance_id)) = keel_api::marathon::task_id::parse(status.task_id.as_str())
        else {
            return;
        };
        let Some(rec) = st.instances.get(&instance_id) else {
            return;
        };
        let replaced = status.state.is_terminal() && rec.goal == Goal::Running;
        let failed = matches!(
            status.state,
            TaskState::Failed
                | TaskState::Error
                | TaskState::Lost
                | TaskState::Dropped
                | TaskState::Gone
        );
        if !replaced && !failed && watched.is_none() {
            return;
        }
        let rec = rec.clone();
        let policy = st
            .apps
            .get(&app_id)
            .map(|a| run_spec(a).backoff)
            .or_else(|| st.pods.get(&app_id).map(|p| p.run_spec().backoff));
        if replaced && let Some(policy) = policy {
            // The status itself says how the task ended: the master may have pruned the
            // task's view by now (a storm of failures).
            let cond = crate::instance::state_condition(status.state);
            st.backoff
                .entry(app_id.clone())
                .or_default()
                .on_condition(&policy, cond, now);
        }
        if failed {
            st.last_failure.insert(
                app_id.clone(),
                crate::state::LastFailure {
                    task_id: status.task_id.to_string(),
                    host: rec.hostname.clone(),
                    slave_id: rec.agent_id.clone(),
                    state: status.state.to_string(),
                    message: status.message.clone().unwrap_or_default(),
                    timestamp: status.timestamp,
                    version: rec.version.clone(),
                },
            );
        }
        if let Some(ip) = watched {
            self.emit(events::status_update(&rec, status, ip, now));
            self.emit(events::instance_changed(&rec, status, now));
            if status.healthy.is_some() && status.state == TaskState::Running {
                self.emit(events::health_changed(&rec, status, now));
            }
        }
    }
}

/// The task views a pass reads: Marathon's, with the first task of each pod instance
/// standing for the whole instance (see [`crate::pod_scheduler::pod_views`]).
pub(crate) struct PassViews<'a> {
    pub all: &'a Views,
    pub pods: BTreeMap<TaskId, TaskView>,
}

impl PassViews<'_> {
    /// The view of `id`, combined for the first task of a pod instance.
    pub fn get(&self, id: &TaskId) -> Option<&TaskView> {
        self.pods.get(id).or_else(|| self.all.get(id))
    }
}

/// Kills every live task of an instance. A pod instance's view in `tasks` is the combined
/// one, so its tasks are asked one by one (a task that already ended refuses quietly).
fn kill(m: &Marathon, rec: &InstanceRecord, tasks: &PassViews<'_>) {
    let pod = !rec.tasks.is_empty();
    for task in rec.all_tasks() {
        if (pod || tasks.get(task).is_some_and(|t| !t.state.is_terminal()))
            && let Err(e) = m.inner.cluster.kill_task(task, None)
        {
            tracing::debug!(task = %task, "kill: {e}");
        }
    }
}

/// Records when instances were first seen unreachable, and clears it when they return.
/// Looks at just the instances of the tasks whose views `changed` (a pod task's id names
/// its instance too).
fn observe_unreachable(
    st: &mut State,
    tasks: &PassViews<'_>,
    changed: &Changed,
    w: &mut Writes,
) -> Result<(), MarathonError> {
    let ids: Vec<String> = match changed {
        Changed::All => st.instances.keys().cloned().collect(),
        Changed::Some(ids) => ids
            .iter()
            .filter_map(|t| task_id::parse(t.as_str()).ok().map(|(_, i)| i))
            .collect(),
    };
    for id in ids {
        let Some(rec) = st.instances.get_mut(&id) else {
            continue;
        };
        let Some(t) = tasks.get(&rec.task_id) else {
            continue;
        };
        let unreachable = t.state == TaskState::Unreachable;
        let changed = match (unreachable, rec.unreachable_since) {
            (true, None) => {
                rec.unreachable_since = Some(t.updated_at);
                true
            }
            (false, Some(_)) if !rec.inactive => {
                rec.unreachable_since = None;
                true
            }
            _ => false,
        };
        if changed {
            w.instance(rec)?;
        }
    }
    Ok(())
}

/// Every instance as `keel-deploy` sees it, grouped by run spec id. Instance ids start
/// with their run spec's safe path, so a run spec's instances come one after another: the
/// run spec's id and whether it has readiness checks are worked out once per run.
fn deploy_instances(
    st: &State,
    tasks: &PassViews<'_>,
    readiness: &crate::readiness::Readiness,
) -> BTreeMap<String, Vec<Instance>> {
    let mut by_spec: BTreeMap<String, Vec<Instance>> = BTreeMap::new();
    let mut run: Option<(&PathId, String, bool, Vec<Instance>)> = None;
    for r in st.instances.values() {
        if run.as_ref().is_none_or(|(id, ..)| *id != &r.run_spec) {
            if let Some((_, spec, _, v)) = run.take() {
                by_spec.entry(spec).or_default().extend(v);
            }
            let checked = st
                .apps
                .get(&r.run_spec)
                .is_some_and(|a| !a.readiness_checks.is_empty());
            run = Some((&r.run_spec, r.run_spec.to_string(), checked, Vec::new()));
        }
        if let Some((_, spec, checked, v)) = run.as_mut() {
            let ready = !*checked || readiness.is_ready(&r.id);
            v.push(r.to_deploy(spec, tasks.get(&r.task_id), ready));
        }
    }
    if let Some((_, spec, _, v)) = run {
        by_spec.entry(spec).or_default().extend(v);
    }
    by_spec
}

fn reconcile_free(
    st: &mut State,
    instances: &BTreeMap<String, Vec<Instance>>,
    locked: &BTreeSet<String>,
    now: f64,
    moves: &mut Moves,
) {
    let State {
        apps,
        pods,
        backoff,
        ..
    } = st;
    // A run spec is built only for the apps and pods no deployment holds.
    let free = apps
        .iter()
        .map(|(pid, a)| (pid, pid.to_string(), Some(a), None))
        .chain(
            pods.iter()
                .map(|(pid, p)| (pid, pid.to_string(), None, Some(p))),
        )
        .filter(|(_, id, ..)| !locked.contains(id));
    for (pid, id, app, pod) in free {
        let spec = match (app, pod) {
            (Some(a), _) => run_spec(a),
            (None, Some(p)) => p.run_spec(),
            (None, None) => continue,
        };
        if !backoff.contains_key(pid) {
            backoff.insert(pid.clone(), Default::default());
        }
        let Some(backoff) = backoff.get_mut(pid) else {
            continue;
        };
        backoff.maybe_reset(&spec.backoff, now);
        let mine = instances.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let r = reconcile(&spec, mine, backoff, now);
        moves
            .kill
            .extend(r.kill.into_iter().map(|k| (k, Goal::Decommissioned)));
        moves.expunge.extend(r.expunge);
        moves.inactive.extend(r.mark_inactive);
        if r.launch > 0 {
            *moves.launch.entry(pid.clone()).or_default() += r.launch;
        }
    }
    // Instances of apps that no longer exist and no deployment stops.
    let known: BTreeSet<String> = st
        .apps
        .keys()
        .chain(st.pods.keys())
        .map(|k| k.to_string())
        .collect();
    for i in instances.values().flatten().filter(|i| {
        !known.contains(&i.run_spec) && !locked.contains(&i.run_spec) && !i.is_going_away()
    }) {
        moves.kill.push((i.id.clone(), Goal::Decommissioned));
    }
}
