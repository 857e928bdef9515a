//! The job service: loads its state from the store, serves the operations behind the HTTP
//! API (jobs, schedules, runs), and runs the scheduler (`tick`, task statuses, reconciliation).
//! One mutex guards the state; it is never held across an await.

use crate::cluster::Cluster;
use crate::error::JobsError;
use crate::keys::{self, PendingArchive, StoredCursor, StoredJob};
use crate::state::{Ctx, Effects, JobEntry, State, sched_entry};
use crate::validate::{self, Errors};
use keel_api::metronome::{JobSpec, Schedule};
use keel_clock::{Clock, Ids, RandomIds};
use keel_jobs::{CronSyntax, FinishedRun, History, HistorySummary, MissedSlot, Run, creates_cycle};
use keel_model::{TaskState, TaskStatus};
use keel_store::{Expect, Op, Store, Txn};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Tunables of the job service.
#[derive(Debug, Clone)]
pub struct MetronomeConfig {
    /// How often the scheduler evaluates schedules and runs.
    pub tick: Duration,
    /// Cron dialect; [`CronSyntax::WithSeconds`] only for tests that need near slots.
    pub cron_syntax: CronSyntax,
    /// The cluster entry (`http://host:port`), for copying task output; `None` disables it.
    pub entry_url: Option<String>,
}

impl Default for MetronomeConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            cron_syntax: CronSyntax::Metronome,
            entry_url: None,
        }
    }
}

/// Records the revision the cursors of `schedules` were written at, where no later write
/// replaced them.
fn armed(job: &mut JobEntry, schedules: &[Schedule], revision: keel_store::Revision) {
    for s in schedules {
        if let Some(e) = job.scheds.get_mut(&s.id)
            && e.rev.is_none()
        {
            e.rev = Some(revision);
        }
    }
}

/// The running job service.
pub struct Service {
    state: Mutex<State>,
    pub(crate) store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn Ids>,
    cluster: Arc<dyn Cluster>,
    pub config: MetronomeConfig,
}

impl Service {
    /// Loads every job, cursor, active run and history record, arms schedules that have no
    /// cursor yet, and reconciles active runs with the cluster.
    pub fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        cluster: Arc<dyn Cluster>,
        config: MetronomeConfig,
    ) -> Result<Arc<Self>, JobsError> {
        let svc = Arc::new(Self {
            state: Mutex::new(State::default()),
            store,
            clock,
            ids: Arc::new(RandomIds),
            cluster,
            config,
        });
        let loaded = svc.load()?;
        *svc.lock() = loaded;
        svc.reconcile()?;
        Ok(svc)
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn now(&self) -> f64 {
        self.clock.unix_secs()
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            store: &*self.store,
            cluster: &*self.cluster,
            now: self.now(),
            syntax: self.config.cron_syntax,
            ids: &*self.ids,
        }
    }

    /// Runs `f` on the locked state, then settles the effects it produced.
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&mut State, &Ctx, &mut Effects) -> Result<R, JobsError>,
    ) -> Result<R, JobsError> {
        let ctx = self.ctx();
        let mut st = self.lock();
        let mut fx = Effects::default();
        let r = f(&mut st, &ctx, &mut fx);
        st.settle(&ctx, fx)?;
        r
    }

    /// Reads the locked state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    fn load(&self) -> Result<State, JobsError> {
        let now = self.now().floor() as i64;
        let mut st = State::default();
        for kv in self.store.list(&format!("{}jobs/", keys::PREFIX))? {
            let j: StoredJob = keys::decode(&kv.key, &kv.value)?;
            st.jobs.insert(
                j.spec.id.clone(),
                JobEntry {
                    stored: j,
                    scheds: BTreeMap::new(),
                    active: BTreeMap::new(),
                    history: History::default(),
                },
            );
        }
        let mut arm = Txn::new();
        for (id, entry) in &mut st.jobs {
            for s in entry.stored.spec.schedules.clone() {
                let key = keys::cursor(id, &s.id);
                let (cursor, rev) = match self.store.get(&key)? {
                    Some(kv) => (
                        keys::decode::<StoredCursor>(&key, &kv.value)?.cursor,
                        Some(kv.mod_revision),
                    ),
                    None => {
                        arm = arm.then(Op::put(key, keys::encode(&StoredCursor { cursor: now })?));
                        (now, None)
                    }
                };
                entry.scheds.insert(
                    s.id.clone(),
                    sched_entry(&s, self.config.cron_syntax, cursor, rev),
                );
            }
        }
        if !arm.success.is_empty() {
            let out = self.store.txn(arm)?;
            for e in st.jobs.values_mut() {
                for s in e.scheds.values_mut().filter(|s| s.rev.is_none()) {
                    s.rev = Some(out.revision);
                }
            }
        }
        self.load_runs(&mut st)?;
        self.load_history(&mut st)?;
        Ok(st)
    }

    fn load_runs(&self, st: &mut State) -> Result<(), JobsError> {
        for kv in self.store.list(&format!("{}runs/", keys::PREFIX))? {
            let r: Run = keys::decode(&kv.key, &kv.value)?;
            let Some(entry) = st.jobs.get_mut(&r.job_id) else {
                continue;
            };
            for t in r
                .tasks
                .iter()
                .map(|t| t.id.clone())
                .chain(r.launching.clone())
            {
                st.tasks.insert(t, (r.job_id.clone(), r.id.clone()));
            }
            entry.active.insert(r.id.clone(), r);
        }
        for kv in self.store.list(&format!("{}archive/", keys::PREFIX))? {
            let a: PendingArchive = keys::decode(&kv.key, &kv.value)?;
            st.archives.insert(kv.key, a);
        }
        Ok(())
    }

    fn load_history(&self, st: &mut State) -> Result<(), JobsError> {
        let mut finished: BTreeMap<String, Vec<FinishedRun>> = BTreeMap::new();
        for kv in self.store.list(&format!("{}history/", keys::PREFIX))? {
            let job = job_of(&kv.key, "history/");
            finished
                .entry(job)
                .or_default()
                .push(keys::decode(&kv.key, &kv.value)?);
        }
        for (job, mut runs) in finished {
            let Some(e) = st.jobs.get_mut(&job) else {
                continue;
            };
            runs.sort_by(|a, b| b.finished_at.total_cmp(&a.finished_at));
            for r in runs {
                if r.success {
                    e.history.successful.push_back(r);
                } else {
                    e.history.failed.push_back(r);
                }
            }
        }
        for kv in self.store.list(&format!("{}missed/", keys::PREFIX))? {
            let job = job_of(&kv.key, "missed/");
            let m: MissedSlot = keys::decode(&kv.key, &kv.value)?;
            if let Some(e) = st.jobs.get_mut(&job) {
                e.history.missed.push_front(m);
            }
        }
        for kv in self.store.list(&format!("{}summary/", keys::PREFIX))? {
            let job = job_of(&kv.key, "summary/");
            let s: HistorySummary = keys::decode(&kv.key, &kv.value)?;
            if let Some(e) = st.jobs.get_mut(&job) {
                e.history.summary = s;
            }
        }
        Ok(())
    }

    /// Brings active runs in line with what the master knows: adopts tasks whose launch was
    /// in flight, relaunches ones the master never saw, applies missed statuses.
    pub fn reconcile(&self) -> Result<(), JobsError> {
        let cluster = self.cluster.clone();
        self.with(|st, ctx, fx| {
            let runs: Vec<(String, String, Vec<String>, Option<String>)> = st
                .jobs
                .values()
                .flat_map(|j| j.active.values())
                .map(|r| {
                    let live = r
                        .tasks
                        .iter()
                        .filter(|t| !t.state.is_terminal())
                        .map(|t| t.id.clone())
                        .collect();
                    (r.job_id.clone(), r.id.clone(), live, r.launching.clone())
                })
                .collect();
            for (job, run, live, launching) in runs {
                if let Some(t) = launching {
                    match cluster.observe(&t) {
                        Some(o) => st.on_task(&t, o.state, o.updated_at, ctx, fx),
                        None => {
                            if let Some(r) =
                                st.jobs.get_mut(&job).and_then(|j| j.active.get_mut(&run))
                            {
                                r.launch_failed(&t, ctx.now);
                                st.tasks.remove(&t);
                                fx.dirty.insert((job.clone(), run.clone()));
                            }
                        }
                    }
                }
                for t in live {
                    match cluster.observe(&t) {
                        Some(o) => st.on_task(&t, o.state, o.updated_at, ctx, fx),
                        None => st.on_task(&t, TaskState::Lost, ctx.now, ctx, fx),
                    }
                }
            }
            let dependents: Vec<String> = st
                .jobs
                .iter()
                .filter(|(_, j)| !j.spec().dependencies.is_empty())
                .map(|(id, _)| id.clone())
                .collect();
            for j in dependents {
                st.maybe_start_dependent(&j, ctx, fx)?;
            }
            Ok(())
        })
    }

    /// One scheduler tick: decide due slots, then poll every active run.
    pub fn tick(&self) -> Result<usize, JobsError> {
        self.with(|st, ctx, fx| {
            let n = st.fire_due(ctx, fx)?;
            st.poll_runs(ctx, fx);
            Ok(n)
        })
    }

    /// A task status recorded by the master.
    pub fn on_status(&self, s: &TaskStatus) -> Result<(), JobsError> {
        let known = self.read(|st| st.tasks.contains_key(s.task_id.as_str()));
        if !known {
            return Ok(());
        }
        self.with(|st, ctx, fx| {
            st.on_task(s.task_id.as_str(), s.state, s.timestamp, ctx, fx);
            Ok(())
        })
    }

    // ---- jobs ----

    /// Validates a JobSpec document (schema, model, dependencies) into a normalized spec.
    pub fn parse_job(&self, doc: &serde_json::Value) -> Result<JobSpec, JobsError> {
        let mut e = Errors::default();
        validate::job_schema(doc, &mut e);
        if !e.is_empty() {
            return Err(JobsError::Invalid(e.into_details()));
        }
        let mut spec: JobSpec = serde_json::from_value(doc.clone())
            .map_err(|err| JobsError::invalid("/", err.to_string()))?;
        validate::job_model(
            &spec,
            self.config.cron_syntax,
            self.now().floor() as i64,
            &mut e,
        );
        if !e.is_empty() {
            return Err(JobsError::Invalid(e.into_details()));
        }
        validate::normalize(&mut spec);
        Ok(spec)
    }

    /// Validates a Schedule document.
    pub fn parse_schedule(&self, doc: &serde_json::Value) -> Result<Schedule, JobsError> {
        let mut e = Errors::default();
        validate::schedule_schema(doc, "", &mut e);
        if !e.is_empty() {
            return Err(JobsError::Invalid(e.into_details()));
        }
        let s: Schedule = serde_json::from_value(doc.clone())
            .map_err(|err| JobsError::invalid("/", err.to_string()))?;
        validate::schedule_model(
            &s,
            "",
            self.config.cron_syntax,
            self.now().floor() as i64,
            &mut e,
        );
        if !e.is_empty() {
            return Err(JobsError::Invalid(e.into_details()));
        }
        Ok(s)
    }

    fn check_dependencies(st: &State, spec: &JobSpec) -> Result<(), JobsError> {
        if spec.dependencies.is_empty() {
            return Ok(());
        }
        let unknown: Vec<&str> = spec
            .dependencies
            .iter()
            .map(|d| d.id.as_str())
            .filter(|d| !st.jobs.contains_key(*d))
            .collect();
        if !unknown.is_empty() {
            return Err(JobsError::Unprocessable(format!(
                "Dependencies contain unknown jobs. unknown=[{}]",
                unknown.join(", ")
            )));
        }
        let graph: BTreeMap<String, Vec<String>> = st
            .jobs
            .iter()
            .map(|(id, j)| {
                (
                    id.clone(),
                    j.spec().dependencies.iter().map(|d| d.id.clone()).collect(),
                )
            })
            .collect();
        let deps: Vec<String> = spec.dependencies.iter().map(|d| d.id.clone()).collect();
        if creates_cycle(&graph, &spec.id, &deps) {
            return Err(JobsError::Unprocessable(
                "Dependencies have a cycle.".into(),
            ));
        }
        Ok(())
    }

    /// POST /v1/jobs (and /v0/scheduled-jobs). The job's transaction is submitted under the
    /// state lock and waited for after releasing it, so reads and other writers go on while
    /// it is made durable (and concurrent creates share a commit); answered once durable.
    pub fn create_job(&self, spec: JobSpec) -> Result<JobSpec, JobsError> {
        let syntax = self.config.cron_syntax;
        let (ticket, created_at) = self.with(|st, ctx, _| {
            if st.jobs.contains_key(&spec.id) {
                return Err(JobsError::Conflict(
                    "Job with this id already exists".into(),
                ));
            }
            Self::check_dependencies(st, &spec)?;
            let stored = StoredJob {
                spec: spec.clone(),
                created_at: ctx.now,
            };
            let now = ctx.now.floor() as i64;
            let mut txn = Txn::new()
                .when(keys::job(&spec.id), Expect::Absent)
                .then(Op::put(keys::job(&spec.id), keys::encode(&stored)?));
            for s in &spec.schedules {
                txn = txn.then(Op::put(
                    keys::cursor(&spec.id, &s.id),
                    keys::encode(&StoredCursor { cursor: now })?,
                ));
            }
            let ticket = ctx.store.submit(txn);
            // The cursors' revision is known once committed (`armed` below).
            let scheds = spec
                .schedules
                .iter()
                .map(|s| (s.id.clone(), sched_entry(s, syntax, now, None)))
                .collect();
            st.jobs.insert(
                spec.id.clone(),
                JobEntry {
                    stored,
                    scheds,
                    active: BTreeMap::new(),
                    history: History::default(),
                },
            );
            Ok((ticket, ctx.now))
        })?;
        let out = self.store.wait(ticket);
        let mut st = self.lock();
        let mine = |st: &State| {
            st.jobs
                .get(&spec.id)
                .is_some_and(|j| j.stored.created_at == created_at)
        };
        match out {
            Ok(out) if out.succeeded => {
                if let Some(j) = st.jobs.get_mut(&spec.id) {
                    armed(j, &spec.schedules, out.revision);
                }
                Ok(spec)
            }
            failed => {
                if mine(&st) {
                    st.jobs.remove(&spec.id);
                }
                failed?;
                Err(JobsError::Conflict(
                    "Job with this id already exists".into(),
                ))
            }
        }
    }

    /// PUT /v1/jobs/{id} (schedules kept) or PUT /v0/scheduled-jobs/{id} (replaced).
    pub fn update_job(
        &self,
        id: &str,
        mut spec: JobSpec,
        keep_schedules: bool,
    ) -> Result<JobSpec, JobsError> {
        spec.id = id.to_string();
        self.with(|st, ctx, _| {
            let current = st.job(id)?.spec().clone();
            if keep_schedules {
                spec.schedules = current.schedules.clone();
            }
            if !spec.schedules.is_empty() && !spec.dependencies.is_empty() {
                return Err(JobsError::invalid(
                    "/",
                    "Jobs may not have both dependencies and schedules specified",
                ));
            }
            Self::check_dependencies(st, &spec)?;
            self.write_job(st, ctx, spec.clone(), &current.schedules)?;
            Ok(spec)
        })
    }

    /// Writes a changed job, re-arming schedules that are new or changed.
    fn write_job(
        &self,
        st: &mut State,
        ctx: &Ctx,
        spec: JobSpec,
        old: &[Schedule],
    ) -> Result<(), JobsError> {
        let now = ctx.now.floor() as i64;
        let entry = st.job_mut(&spec.id)?;
        let stored = StoredJob {
            spec: spec.clone(),
            created_at: entry.stored.created_at,
        };
        let mut txn = Txn::new().then(Op::put(keys::job(&spec.id), keys::encode(&stored)?));
        let mut rearmed = Vec::new();
        for s in &spec.schedules {
            if !old.contains(s) {
                txn = txn.then(Op::put(
                    keys::cursor(&spec.id, &s.id),
                    keys::encode(&StoredCursor { cursor: now })?,
                ));
                rearmed.push(s.clone());
            }
        }
        for s in old
            .iter()
            .filter(|o| !spec.schedules.iter().any(|n| n.id == o.id))
        {
            txn = txn.then(Op::delete(keys::cursor(&spec.id, &s.id)));
            entry.scheds.remove(&s.id);
        }
        let out = ctx.store.txn(txn)?;
        for s in rearmed {
            entry.scheds.insert(
                s.id.clone(),
                sched_entry(&s, ctx.syntax, now, Some(out.revision)),
            );
        }
        entry.stored = stored;
        Ok(())
    }

    /// DELETE /v1/jobs/{id}.
    pub fn delete_job(&self, id: &str, stop_runs: bool) -> Result<JobSpec, JobsError> {
        self.with(|st, ctx, fx| {
            let entry = st.job(id)?;
            if !entry.active.is_empty() && !stop_runs {
                return Err(JobsError::Conflict(
                    "There are active job runs. Override with stopCurrentJobRuns=true".into(),
                ));
            }
            let children: Vec<&str> = st
                .jobs
                .iter()
                .filter(|(_, j)| j.spec().dependencies.iter().any(|d| d.id == id))
                .map(|(c, _)| c.as_str())
                .collect();
            if !children.is_empty() {
                return Err(JobsError::Conflict(format!(
                    "There are jobs with a dependency on {id}. children=[{}]",
                    children.join(", ")
                )));
            }
            let entry = st.job_mut(id)?;
            let mut kills = Vec::new();
            for r in entry.active.values_mut() {
                for c in r.stop(ctx.now) {
                    if let keel_jobs::RunCommand::Kill { task_id } = c {
                        kills.push(task_id);
                    }
                }
            }
            let spec = entry.spec().clone();
            let mut txn = Txn::new()
                .then(Op::delete(keys::job(id)))
                .then(Op::delete(keys::summary(id)));
            for prefix in keys::per_job_prefixes(id) {
                for kv in ctx.store.list(&prefix)? {
                    txn = txn.then(Op::delete(kv.key));
                }
            }
            ctx.store.txn(txn)?;
            let grace = spec.run.task_kill_grace_period_seconds;
            fx.kills.extend(kills.into_iter().map(|t| (t, grace)));
            st.jobs.remove(id);
            st.tasks.retain(|_, (j, _)| j != id);
            st.archives.retain(|_, a| a.job != id);
            Ok(spec)
        })
    }

    // ---- schedules ----

    /// POST /v1/jobs/{id}/schedules.
    pub fn add_schedule(&self, id: &str, s: Schedule) -> Result<Schedule, JobsError> {
        self.with(|st, ctx, _| {
            let mut spec = st.job(id)?.spec().clone();
            if spec.schedules.iter().any(|x| x.id == s.id) {
                return Err(JobsError::Conflict(format!(
                    "A schedule with id {} already exists",
                    s.id
                )));
            }
            if !spec.schedules.is_empty() {
                return Err(JobsError::Conflict(
                    "Only one schedule supported at the moment".into(),
                ));
            }
            if !spec.dependencies.is_empty() {
                return Err(JobsError::Conflict(
                    "Jobs may not have both dependencies and schedules specified".into(),
                ));
            }
            let old = spec.schedules.clone();
            spec.schedules.insert(0, s.clone());
            self.write_job(st, ctx, spec, &old)?;
            Ok(s)
        })
    }

    /// PUT /v1/jobs/{id}/schedules/{sid}.
    pub fn update_schedule(
        &self,
        id: &str,
        sid: &str,
        mut s: Schedule,
    ) -> Result<Schedule, JobsError> {
        s.id = sid.to_string();
        self.with(|st, ctx, _| {
            let mut spec = st.job(id)?.spec().clone();
            if !spec.schedules.iter().any(|x| x.id == sid) {
                return Err(JobsError::UnknownSchedule(sid.to_string()));
            }
            let old = spec.schedules.clone();
            spec.schedules.retain(|x| x.id != sid);
            spec.schedules.insert(0, s.clone());
            self.write_job(st, ctx, spec, &old)?;
            Ok(s)
        })
    }

    /// DELETE /v1/jobs/{id}/schedules/{sid}.
    pub fn delete_schedule(&self, id: &str, sid: &str) -> Result<(), JobsError> {
        self.with(|st, ctx, _| {
            let mut spec = st.job(id)?.spec().clone();
            if !spec.schedules.iter().any(|x| x.id == sid) {
                return Err(JobsError::UnknownSchedule(sid.to_string()));
            }
            let old = spec.schedules.clone();
            spec.schedules.retain(|x| x.id != sid);
            self.write_job(st, ctx, spec, &old)
        })
    }

    // ---- runs ----

    /// POST /v1/jobs/{id}/runs.
    pub fn start_run(&self, id: &str) -> Result<Run, JobsError> {
        self.with(|st, ctx, fx| {
            let run = st.start_manual(id, ctx, fx)?;
            st.job(id)?
                .active
                .get(&run)
                .cloned()
                .ok_or_else(|| JobsError::UnknownJob(id.to_string()))
        })
    }

    /// POST /v1/jobs/{id}/runs/{run}/actions/stop.
    pub fn stop_run(&self, id: &str, run: &str) -> Result<Run, JobsError> {
        self.with(|st, ctx, fx| {
            let entry = st.job_mut(id)?;
            let r = entry
                .active
                .get_mut(run)
                .ok_or_else(|| JobsError::UnknownRun {
                    job: id.to_string(),
                    run: run.to_string(),
                })?;
            let cmds = r.stop(ctx.now);
            let snapshot = r.clone();
            st.absorb(id, run, cmds, fx);
            Ok(snapshot)
        })
    }

    /// Task output archives that are due; see [`crate::logs`].
    pub(crate) fn pending_archives(&self) -> Vec<(String, PendingArchive)> {
        self.read(|st| {
            st.archives
                .iter()
                .map(|(k, a)| (k.clone(), a.clone()))
                .collect()
        })
    }

    /// Stores archived output (files name → bytes) and drops the pending entry.
    pub(crate) fn store_archive(
        &self,
        key: &str,
        a: &PendingArchive,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<(), JobsError> {
        let mut txn = Txn::new().then(Op::delete(key.to_string()));
        let job_exists = self.read(|st| st.jobs.contains_key(&a.job));
        if job_exists {
            for (name, bytes) in files {
                txn = txn.then(Op::put(keys::log(&a.job, &a.run, &a.task, &name), bytes));
            }
        }
        self.store.txn(txn)?;
        self.lock().archives.remove(key);
        self.trim_logs(&a.job)
    }

    /// Keeps the output of the newest [`crate::logs::LOG_RUNS_KEPT`] runs of a job (run ids
    /// start with their creation time, so key order is age order).
    fn trim_logs(&self, job: &str) -> Result<(), JobsError> {
        let prefix = format!("{}logs/{job}/", keys::PREFIX);
        let kvs = self.store.list(&prefix)?;
        let mut runs: Vec<&str> = kvs
            .iter()
            .filter_map(|kv| kv.key.strip_prefix(&prefix)?.split('/').next())
            .collect();
        runs.dedup();
        let excess = runs.len().saturating_sub(crate::logs::LOG_RUNS_KEPT);
        if excess == 0 {
            return Ok(());
        }
        let old: Vec<String> = runs[..excess]
            .iter()
            .map(|r| format!("{prefix}{r}/"))
            .collect();
        let mut txn = Txn::new();
        for kv in kvs
            .iter()
            .filter(|kv| old.iter().any(|o| kv.key.starts_with(o)))
        {
            txn = txn.then(Op::delete(kv.key.clone()));
        }
        self.store.txn(txn)?;
        Ok(())
    }
}

/// `<job>` of `/keel/metronome/<kind><job>/...`.
fn job_of(key: &str, kind: &str) -> String {
    key.strip_prefix(keys::PREFIX)
        .and_then(|k| k.strip_prefix(kind))
        .map(|k| k.split('/').next().unwrap_or(k))
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests;

impl Service {
    /// Whether the master has seen `task` end (or does not know it).
    pub(crate) fn task_ended(&self, task: &str) -> bool {
        self.cluster
            .observe(task)
            .is_none_or(|o| o.state.is_terminal())
    }
}
