//! The job service's in-memory state and how every change reaches the store: jobs with
//! their schedules (cursor, next slot), active runs, history; plus [`Effects`], the
//! commands an operation produced, settled in order (persist, kill, launch, finish).
//!
//! Architecture Invariant: a run that names a task as launching is in the store before the
//! launch call, and a schedule's cursor moves in the same transaction that creates the
//! slot's run, so a slot fires at most once even across restarts.

use crate::cluster::{Cluster, runnable, task_launch};
use crate::error::JobsError;
use crate::keys::{self, PendingArchive, StoredCursor, StoredJob};
use keel_api::metronome::{JobSpec, Schedule};
use keel_jobs::{
    ConcurrencyPolicy, CronSchedule, CronSyntax, FinishedRun, History, MissedSlot, ParentOutcome,
    RestartPolicy, Run, RunCommand, RunPolicy, SlotParams, Trigger, dependencies_ready,
};
use keel_model::{TaskId, TaskState};
use keel_store::{Expect, Op, Revision, Store, Txn};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One schedule's live bookkeeping. The parsed cron is not kept (croner's pattern takes
/// ~5 KB); it is parsed again when a slot is due or a view needs it.
#[derive(Debug, Clone)]
pub struct SchedEntry {
    pub expr: String,
    pub zone: String,
    pub syntax: CronSyntax,
    pub params: SlotParams,
    pub cursor: i64,
    /// `mod_revision` of the cursor key, for compare-and-set.
    pub rev: Option<Revision>,
    pub next_slot: Option<i64>,
}

/// One job with its schedules, active runs and history.
#[derive(Debug, Clone)]
pub struct JobEntry {
    pub stored: StoredJob,
    pub scheds: BTreeMap<String, SchedEntry>,
    pub active: BTreeMap<String, Run>,
    pub history: History,
}

impl JobEntry {
    pub fn spec(&self) -> &JobSpec {
        &self.stored.spec
    }

    fn forbids_overlap(&self) -> bool {
        self.scheds
            .values()
            .any(|s| s.params.policy == ConcurrencyPolicy::Forbid)
    }

    /// The later of the job's creation and its newest run's creation.
    fn baseline(&self) -> f64 {
        let newest = self
            .active
            .values()
            .map(|r| r.created_at)
            .chain(self.history.successful.front().map(|r| r.created_at))
            .chain(self.history.failed.front().map(|r| r.created_at))
            .fold(f64::MIN, f64::max);
        newest.max(self.stored.created_at)
    }
}

/// Everything the service holds in memory.
#[derive(Debug, Default)]
pub struct State {
    pub jobs: BTreeMap<String, JobEntry>,
    /// task id → (job id, run id), for the runs that are active.
    pub tasks: HashMap<String, (String, String)>,
    pub archives: BTreeMap<String, PendingArchive>,
}

/// What an operation asks the runtime to do, in order.
#[derive(Debug, Default)]
pub struct Effects {
    /// Runs to write (or, once finished, to move to the history).
    pub dirty: BTreeSet<(String, String)>,
    pub launches: Vec<(String, String, String)>,
    pub kills: Vec<(String, Option<f64>)>,
}

/// The runtime an operation runs against.
pub struct Ctx<'a> {
    pub store: &'a dyn Store,
    pub cluster: &'a dyn Cluster,
    pub now: f64,
    pub syntax: CronSyntax,
    /// Where run ids get their random part.
    pub ids: &'a dyn keel_clock::Ids,
}

/// The slot-independent params of a schedule.
pub fn slot_params(s: &Schedule) -> SlotParams {
    SlotParams {
        starting_deadline_secs: s.starting_deadline_seconds,
        policy: if s.concurrency_policy == "FORBID" {
            ConcurrencyPolicy::Forbid
        } else {
            ConcurrencyPolicy::Allow
        },
        enabled: s.enabled,
    }
}

impl SchedEntry {
    /// The schedule's cron, parsed (`None` if it no longer parses).
    pub fn cron(&self) -> Option<CronSchedule> {
        CronSchedule::parse(&self.expr, &self.zone, self.syntax).ok()
    }
}

/// A schedule entry armed at `cursor` (slots after it are considered).
pub fn sched_entry(
    s: &Schedule,
    syntax: CronSyntax,
    cursor: i64,
    rev: Option<Revision>,
) -> SchedEntry {
    let cron = CronSchedule::parse(&s.cron, &s.timezone, syntax).ok();
    let next_slot = cron.as_ref().and_then(|c| c.next_after(cursor));
    SchedEntry {
        expr: s.cron.clone(),
        zone: s.timezone.clone(),
        syntax,
        params: slot_params(s),
        cursor,
        rev,
        next_slot,
    }
}

/// The policy a run of `job` runs under.
pub fn run_policy(job: &JobSpec, starting_deadline: Option<i64>) -> RunPolicy {
    RunPolicy {
        restart: if job.run.restart.policy == "ON_FAILURE" {
            RestartPolicy::OnFailure
        } else {
            RestartPolicy::Never
        },
        active_deadline_secs: job.run.restart.active_deadline_seconds.map(|d| d as f64),
        max_launch_delay_secs: job.run.max_launch_delay.max(1) as f64,
        starting_deadline_secs: starting_deadline.map(|d| d as f64),
    }
}

/// A Metronome run id: `yyyyMMddHHmmss` plus 5 random lowercase letters and digits.
pub fn new_run_id(now: f64, ids: &dyn keel_clock::Ids) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let random = ids.uuid().as_u128();
    let suffix: String = (0..5)
        .map(|i| CHARS[((random >> (i * 24)) % CHARS.len() as u128) as usize] as char)
        .collect();
    format!("{}{suffix}", keel_jobs::run_id_prefix(now))
}

impl State {
    pub fn job(&self, id: &str) -> Result<&JobEntry, JobsError> {
        self.jobs
            .get(id)
            .ok_or_else(|| JobsError::UnknownJob(id.to_string()))
    }

    pub fn job_mut(&mut self, id: &str) -> Result<&mut JobEntry, JobsError> {
        self.jobs
            .get_mut(id)
            .ok_or_else(|| JobsError::UnknownJob(id.to_string()))
    }

    /// Creates a run of `job` (not yet persisted: it is marked dirty) and polls it once so
    /// its first launch is requested. Jobs Keel cannot run yet fail at once with the reason.
    pub fn create_run(
        &mut self,
        job: &str,
        trigger: Trigger,
        starting_deadline: Option<i64>,
        ctx: &Ctx,
        fx: &mut Effects,
    ) -> Result<String, JobsError> {
        let entry = self.job_mut(job)?;
        let mut id = new_run_id(ctx.now, ctx.ids);
        while entry.active.contains_key(&id) {
            id = new_run_id(ctx.now, ctx.ids);
        }
        let policy = run_policy(entry.spec(), starting_deadline);
        let mut run = Run::new(job, &id, ctx.now, policy, trigger);
        let cmds = match runnable(entry.spec()) {
            Ok(()) => run.poll(ctx.now),
            Err(reason) => run.abort(ctx.now, reason),
        };
        entry.active.insert(id.clone(), run);
        self.absorb(job, &id, cmds, fx);
        Ok(id)
    }

    /// Records the commands one run emitted.
    pub fn absorb(&mut self, job: &str, run: &str, cmds: Vec<RunCommand>, fx: &mut Effects) {
        fx.dirty.insert((job.to_string(), run.to_string()));
        let grace = self
            .jobs
            .get(job)
            .and_then(|j| j.spec().run.task_kill_grace_period_seconds);
        for c in cmds {
            match c {
                RunCommand::Launch { task_id } => {
                    self.tasks
                        .insert(task_id.clone(), (job.to_string(), run.to_string()));
                    fx.launches
                        .push((job.to_string(), run.to_string(), task_id));
                }
                RunCommand::Kill { task_id } => fx.kills.push((task_id, grace)),
                RunCommand::Finished => {}
            }
        }
    }

    /// Applies a task status to its run, if the task belongs to an active run.
    pub fn on_task(&mut self, task: &str, state: TaskState, at: f64, ctx: &Ctx, fx: &mut Effects) {
        let Some((job, run)) = self.tasks.get(task).cloned() else {
            return;
        };
        let Some(r) = self.jobs.get_mut(&job).and_then(|j| j.active.get_mut(&run)) else {
            return;
        };
        let before = r.clone();
        let cmds = r.on_task(task, state, at, ctx.now);
        if *r != before {
            self.absorb(&job, &run, cmds, fx);
        }
    }

    /// Time-driven run decisions (launch due, starting deadlines) for every active run.
    pub fn poll_runs(&mut self, ctx: &Ctx, fx: &mut Effects) {
        let mut out = Vec::new();
        for (jid, j) in &mut self.jobs {
            for (rid, r) in &mut j.active {
                let due = r.launch_at.is_some_and(|t| t <= ctx.now)
                    || r.policy.starting_deadline_secs.is_some();
                if !due {
                    continue;
                }
                let before = r.clone();
                let cmds = r.poll(ctx.now);
                if *r != before {
                    out.push((jid.clone(), rid.clone(), cmds));
                }
            }
        }
        for (j, r, cmds) in out {
            self.absorb(&j, &r, cmds, fx);
        }
    }

    /// Persists, kills, launches and retires runs until nothing is left to do.
    pub fn settle(&mut self, ctx: &Ctx, mut fx: Effects) -> Result<(), JobsError> {
        for _ in 0..8 {
            if fx.dirty.is_empty() && fx.launches.is_empty() && fx.kills.is_empty() {
                break;
            }
            let finished_jobs = self.flush(ctx, &mut fx)?;
            for (task, grace) in std::mem::take(&mut fx.kills) {
                ctx.cluster.kill(&task, grace);
            }
            self.launch(ctx, &mut fx);
            for parent in finished_jobs {
                self.trigger_dependents(&parent, ctx, &mut fx)?;
            }
        }
        Ok(())
    }

    /// Writes dirty runs in one transaction; finished runs move to the history. Returns the
    /// jobs that had a run finish.
    fn flush(&mut self, ctx: &Ctx, fx: &mut Effects) -> Result<Vec<String>, JobsError> {
        let mut txn = Txn::new();
        let mut finished = Vec::new();
        for (job, run) in std::mem::take(&mut fx.dirty) {
            let Some(r) = self.jobs.get(&job).and_then(|j| j.active.get(&run)) else {
                continue;
            };
            if r.status.is_finished() {
                finished.push((job, run));
            } else {
                txn = txn.then(Op::put(keys::run(&job, &run), keys::encode(r)?));
            }
        }
        for (job, run) in &finished {
            txn = self.retire(job, run, ctx, txn)?;
        }
        if !txn.success.is_empty() {
            ctx.store.txn(txn)?;
        }
        let mut jobs: Vec<String> = finished.into_iter().map(|(j, _)| j).collect();
        jobs.dedup();
        Ok(jobs)
    }

    /// Moves a finished run into the history (in memory now; `txn` carries the writes).
    fn retire(&mut self, job: &str, run: &str, ctx: &Ctx, mut txn: Txn) -> Result<Txn, JobsError> {
        let Some(entry) = self.jobs.get_mut(job) else {
            return Ok(txn);
        };
        let Some(r) = entry.active.remove(run) else {
            return Ok(txn);
        };
        let fin = FinishedRun::of(&r);
        txn = txn
            .then(Op::delete(keys::run(job, run)))
            .then(Op::put(keys::history(job, run), keys::encode(&fin)?));
        for gone in entry.history.record_run(fin) {
            txn = txn.then(Op::delete(keys::history(job, &gone)));
            for kv in ctx.store.list(&keys::logs_of_run(job, &gone))? {
                txn = txn.then(Op::delete(kv.key));
            }
        }
        txn = txn.then(Op::put(
            keys::summary(job),
            keys::encode(&entry.history.summary)?,
        ));
        for t in &r.tasks {
            self.tasks.remove(&t.id);
            let a = PendingArchive {
                job: job.to_string(),
                run: run.to_string(),
                task: t.id.clone(),
                since: ctx.now,
            };
            let key = keys::archive(job, run, &t.id);
            txn = txn.then(Op::put(key.clone(), keys::encode(&a)?));
            self.archives.insert(key, a);
        }
        if let Some(t) = &r.launching {
            self.tasks.remove(t);
        }
        Ok(txn)
    }

    fn launch(&mut self, ctx: &Ctx, fx: &mut Effects) {
        let wanted = std::mem::take(&mut fx.launches);
        if wanted.is_empty() {
            return;
        }
        let mut batch = Vec::new();
        let mut which = Vec::new();
        for (job, run, task) in wanted {
            let (Some(entry), Ok(id)) = (self.jobs.get(&job), TaskId::new(task.clone())) else {
                continue;
            };
            batch.push(task_launch(entry.spec(), &run, id));
            which.push((job, run, task));
        }
        let results = ctx.cluster.launch(batch);
        for ((job, run, task), res) in which.into_iter().zip(results) {
            let Some(r) = self.jobs.get_mut(&job).and_then(|j| j.active.get_mut(&run)) else {
                continue;
            };
            match res {
                Ok(()) => r.launched(&task, ctx.now),
                Err(why) => {
                    tracing::debug!("metronome: launching {task}: {why}");
                    r.launch_failed(&task, ctx.now);
                    self.tasks.remove(&task);
                }
            }
            fx.dirty.insert((job, run));
        }
    }

    /// Starts the jobs that depend on `parent` and are now ready.
    fn trigger_dependents(
        &mut self,
        parent: &str,
        ctx: &Ctx,
        fx: &mut Effects,
    ) -> Result<(), JobsError> {
        let children: Vec<String> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.spec().dependencies.iter().any(|d| d.id == parent))
            .map(|(id, _)| id.clone())
            .collect();
        for child in children {
            self.maybe_start_dependent(&child, ctx, fx)?;
        }
        Ok(())
    }

    /// Starts `job` if it has dependencies that are all satisfied.
    pub fn maybe_start_dependent(
        &mut self,
        job: &str,
        ctx: &Ctx,
        fx: &mut Effects,
    ) -> Result<(), JobsError> {
        let Some(entry) = self.jobs.get(job) else {
            return Ok(());
        };
        let parents: Vec<Option<ParentOutcome>> = entry
            .spec()
            .dependencies
            .iter()
            .map(|d| {
                self.jobs
                    .get(&d.id)
                    .and_then(|p| p.history.last_finished())
                    .map(|(success, completed_at)| ParentOutcome {
                        success,
                        completed_at,
                    })
            })
            .collect();
        if dependencies_ready(&parents, entry.baseline(), !entry.active.is_empty()) {
            tracing::info!("metronome: every dependency of {job} succeeded; starting a run");
            self.create_run(job, Trigger::Dependency, None, ctx, fx)?;
        }
        Ok(())
    }

    /// Manually starts a run, honouring FORBID.
    pub fn start_manual(
        &mut self,
        job: &str,
        ctx: &Ctx,
        fx: &mut Effects,
    ) -> Result<String, JobsError> {
        let entry = self.job(job)?;
        if entry.forbids_overlap() && !entry.active.is_empty() {
            return Err(JobsError::Conflict(format!(
                "Job {job} has an active run and a schedule with concurrencyPolicy FORBID"
            )));
        }
        self.create_run(job, Trigger::Manual, None, ctx, fx)
    }

    /// Decides every due schedule slot and commits the decisions (cursors, new runs, missed
    /// slots) in one transaction. Returns how many schedules were evaluated.
    pub fn fire_due(&mut self, ctx: &Ctx, fx: &mut Effects) -> Result<usize, JobsError> {
        let now = ctx.now.floor() as i64;
        let due: Vec<(String, String)> = self
            .jobs
            .iter()
            .flat_map(|(jid, j)| {
                j.scheds
                    .iter()
                    .filter(|(_, s)| s.next_slot.is_some_and(|n| n <= now))
                    .map(move |(sid, _)| (jid.clone(), sid.clone()))
            })
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        let mut txn = Txn::new();
        let mut local = Effects::default();
        let mut applied = Vec::new();
        for (jid, sid) in &due {
            let (plan, expect) = {
                let j = &self.jobs[jid];
                let s = &j.scheds[sid];
                let Some(cron) = s.cron() else { continue };
                let plan =
                    keel_jobs::plan_slots(&cron, s.params, s.cursor, now, !j.active.is_empty());
                let expect = s.rev.map_or(Expect::Absent, Expect::ModRevision);
                (plan, expect)
            };
            let ck = keys::cursor(jid, sid);
            txn = txn.when(ck.clone(), expect).then(Op::put(
                ck,
                keys::encode(&StoredCursor {
                    cursor: plan.cursor,
                })?,
            ));
            txn = self.apply_plan(jid, sid, &plan, ctx, txn, &mut local)?;
            applied.push((jid.clone(), sid.clone(), plan));
        }
        for (job, run) in &local.dirty {
            if let Some(r) = self.jobs.get(job).and_then(|j| j.active.get(run)) {
                txn = txn.then(Op::put(keys::run(job, run), keys::encode(r)?));
            }
        }
        let out = ctx.store.txn(txn)?;
        if !out.succeeded {
            tracing::error!("metronome: a schedule cursor changed under us; reloading");
            return self.reload_after_conflict(
                ctx,
                applied.into_iter().map(|(j, s, _)| (j, s)).collect(),
                local,
            );
        }
        for (jid, sid, plan) in applied {
            if let Some(s) = self.jobs.get_mut(&jid).and_then(|j| j.scheds.get_mut(&sid)) {
                s.cursor = plan.cursor;
                s.rev = Some(out.revision);
                s.next_slot = plan.next_slot;
            }
        }
        fx.launches.extend(local.launches);
        fx.kills.extend(local.kills);
        // Runs created here are written already; runs that failed at once still need retiring.
        fx.dirty.extend(local.dirty.into_iter().filter(|(j, r)| {
            self.jobs
                .get(j)
                .and_then(|e| e.active.get(r))
                .is_some_and(|r| r.status.is_finished())
        }));
        Ok(due.len())
    }

    fn apply_plan(
        &mut self,
        jid: &str,
        sid: &str,
        plan: &keel_jobs::SlotPlan,
        ctx: &Ctx,
        mut txn: Txn,
        fx: &mut Effects,
    ) -> Result<Txn, JobsError> {
        let deadline = self.jobs[jid].scheds[sid].params.starting_deadline_secs;
        for d in &plan.decisions {
            match *d {
                keel_jobs::SlotDecision::Fire { slot } => {
                    let trigger = Trigger::Schedule {
                        schedule_id: sid.to_string(),
                        slot,
                    };
                    let run = self.create_run(jid, trigger, Some(deadline), ctx, fx)?;
                    tracing::info!("metronome: schedule {jid}/{sid} fired slot {slot}: run {run}");
                }
                keel_jobs::SlotDecision::Missed { slot, reason } => {
                    tracing::info!(
                        "metronome: schedule {jid}/{sid} missed slot {slot}: {reason:?}"
                    );
                    let m = MissedSlot {
                        schedule_id: sid.to_string(),
                        slot,
                        recorded_at: ctx.now,
                        reason,
                    };
                    txn = txn.then(Op::put(keys::missed(jid, slot, sid), keys::encode(&m)?));
                    let entry = self.job_mut(jid)?;
                    for gone in entry.history.record_missed(m) {
                        txn = txn.then(Op::delete(keys::missed(jid, gone.slot, &gone.schedule_id)));
                    }
                }
            }
        }
        let entry = self.job_mut(jid)?;
        entry.history.summary.missed_count += plan.unrecorded_missed;
        if !plan.decisions.is_empty() || plan.unrecorded_missed > 0 {
            txn = txn.then(Op::put(
                keys::summary(jid),
                keys::encode(&entry.history.summary)?,
            ));
        }
        Ok(txn)
    }

    fn reload_after_conflict(
        &mut self,
        ctx: &Ctx,
        scheds: Vec<(String, String)>,
        local: Effects,
    ) -> Result<usize, JobsError> {
        for (job, run) in local.dirty {
            if let Some(j) = self.jobs.get_mut(&job) {
                j.active.remove(&run);
            }
        }
        for (_, _, task) in local.launches {
            self.tasks.remove(&task);
        }
        for (jid, sid) in &scheds {
            let key = keys::cursor(jid, sid);
            if let Some(kv) = ctx.store.get(&key)? {
                let c: StoredCursor = keys::decode(&key, &kv.value)?;
                if let Some(s) = self.jobs.get_mut(jid).and_then(|j| j.scheds.get_mut(sid)) {
                    s.cursor = c.cursor;
                    s.rev = Some(kv.mod_revision);
                    s.next_slot = s.cron().and_then(|cr| cr.next_after(c.cursor));
                }
            }
        }
        Ok(0)
    }
}
