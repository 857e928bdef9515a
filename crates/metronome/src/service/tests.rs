//! The job service driven by a manual clock, an in-memory store and a recording cluster:
//! schedules firing on time, FORBID, ON_FAILURE, restarts (reopening the service on the
//! same store) that neither duplicate nor lose a slot, dependencies, placement retries.

use super::*;
use crate::cluster::TaskObservation;
use keel_clock::ManualClock;
use keel_master::TaskLaunch;
use keel_model::{Source, TaskId};
use keel_store::{GatedStore, MemStore};
use std::collections::HashMap;

/// 2024-01-01T00:00:00Z.
const T0: f64 = 1_704_067_200.0;

/// A cluster double: records launches and kills, answers observations from what it was told.
#[derive(Default)]
struct FakeCluster {
    inner: Mutex<FakeInner>,
}

#[derive(Default)]
struct FakeInner {
    launched: Vec<String>,
    killed: Vec<String>,
    refuse: u32,
    tasks: HashMap<String, TaskObservation>,
}

impl FakeCluster {
    fn launched(&self) -> Vec<String> {
        self.inner.lock().unwrap().launched.clone()
    }
    fn killed(&self) -> Vec<String> {
        self.inner.lock().unwrap().killed.clone()
    }
    fn refuse_next(&self, n: u32) {
        self.inner.lock().unwrap().refuse = n;
    }
    fn set(&self, task: &str, state: TaskState, at: f64) {
        self.inner.lock().unwrap().tasks.insert(
            task.to_string(),
            TaskObservation {
                state,
                staged_at: at,
                updated_at: at,
            },
        );
    }
}

impl Cluster for FakeCluster {
    fn launch(&self, batch: Vec<TaskLaunch>) -> Vec<Result<(), String>> {
        let mut g = self.inner.lock().unwrap();
        batch
            .into_iter()
            .map(|l| {
                if g.refuse > 0 {
                    g.refuse -= 1;
                    return Err("no agent can run this task".into());
                }
                g.launched.push(l.task_id.to_string());
                let obs = TaskObservation {
                    state: TaskState::Staging,
                    staged_at: 0.0,
                    updated_at: 0.0,
                };
                g.tasks.insert(l.task_id.to_string(), obs);
                Ok(())
            })
            .collect()
    }
    fn kill(&self, task_id: &str, _grace: Option<f64>) {
        self.inner.lock().unwrap().killed.push(task_id.to_string());
    }
    fn observe(&self, task_id: &str) -> Option<TaskObservation> {
        self.inner.lock().unwrap().tasks.get(task_id).copied()
    }
}

/// A service plus everything it runs on; `restart` reopens it on the same store.
struct Harness {
    clock: Arc<ManualClock>,
    store: Arc<MemStore>,
    cluster: Arc<FakeCluster>,
    svc: Arc<Service>,
}

impl Harness {
    fn new(start: f64) -> Self {
        let clock = Arc::new(ManualClock::new(start));
        let store = Arc::new(MemStore::new(clock.clone()));
        let cluster = Arc::new(FakeCluster::default());
        let svc = Self::open(&clock, &store, &cluster);
        Self {
            clock,
            store,
            cluster,
            svc,
        }
    }

    fn open(
        clock: &Arc<ManualClock>,
        store: &Arc<MemStore>,
        cluster: &Arc<FakeCluster>,
    ) -> Arc<Service> {
        Service::open(
            store.clone(),
            clock.clone(),
            cluster.clone(),
            MetronomeConfig::default(),
        )
        .unwrap()
    }

    /// Drops the service and opens a new one on the same store after `down` seconds.
    fn restart(&mut self, down: f64) {
        self.clock.advance(Duration::from_secs_f64(down));
        self.svc = Self::open(&self.clock, &self.store, &self.cluster);
    }

    fn at(&self, t: f64) {
        let now = self.clock.unix_secs();
        assert!(t >= now, "time only moves forward");
        self.clock.advance(Duration::from_secs_f64(t - now));
    }

    fn add(&self, doc: serde_json::Value) {
        let spec = self.svc.parse_job(&doc).unwrap();
        self.svc.create_job(spec).unwrap();
    }

    fn tick_at(&self, t: f64) {
        self.at(t);
        self.svc.tick().unwrap();
    }

    fn status(&self, task: &str, state: TaskState) {
        let now = self.clock.unix_secs();
        self.cluster.set(task, state, now);
        let s = TaskStatus {
            task_id: TaskId::new(task).unwrap(),
            state,
            source: Source::SourceExecutor,
            reason: None,
            message: None,
            agent_id: None,
            container_id: None,
            timestamp: now,
            uuid: None,
            exit_code: None,
            healthy: None,
            container_ips: Vec::new(),
        };
        self.svc.on_status(&s).unwrap();
    }

    fn info(&self, job: &str) -> serde_json::Value {
        let e = crate::views::Embeds {
            active_runs: true,
            history: true,
            history_summary: true,
        };
        let now = self.svc.now();
        let info = self
            .svc
            .read(|st| crate::views::job_info(st.job(job).unwrap(), e, now));
        serde_json::to_value(info).unwrap()
    }

    fn active(&self, job: &str) -> Vec<Run> {
        self.svc
            .read(|st| st.job(job).unwrap().active.values().cloned().collect())
    }
}

fn job(id: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "id": id,
        "run": {"cpus": 0.1, "mem": 32, "disk": 0, "cmd": "true"},
    });
    if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if k == "run" {
                if let (Some(r), Some(v)) = (d["run"].as_object_mut(), v.as_object()) {
                    r.extend(v.clone());
                }
            } else {
                d.insert(k.clone(), v.clone());
            }
        }
    }
    doc
}

fn every_minute(policy: &str) -> serde_json::Value {
    serde_json::json!({"schedules": [{"id": "every-minute", "cron": "* * * * *", "concurrencyPolicy": policy}]})
}

#[test]
fn a_schedule_fires_on_time_exactly_once() {
    let h = Harness::new(T0 + 5.0);
    h.add(job("report", every_minute("ALLOW")));
    h.tick_at(T0 + 59.0);
    assert!(h.cluster.launched().is_empty());
    h.tick_at(T0 + 60.0);
    h.tick_at(T0 + 60.5);
    let launched = h.cluster.launched();
    assert_eq!(launched.len(), 1, "{launched:?}");
    let runs = h.active("report");
    assert!(
        matches!(runs[0].trigger, keel_jobs::Trigger::Schedule { slot, .. } if slot as f64 == T0 + 60.0)
    );
    assert_eq!(
        h.info("report")["schedules"][0]["nextRunAt"],
        "2024-01-01T00:02:00.000+0000"
    );
}

#[test]
fn forbid_skips_a_slot_while_a_run_is_active_and_refuses_manual_starts() {
    let h = Harness::new(T0 + 5.0);
    h.add(job("etl", every_minute("FORBID")));
    h.tick_at(T0 + 60.0);
    let first = h.cluster.launched()[0].clone();
    h.status(&first, TaskState::Running);
    h.tick_at(T0 + 120.0);
    assert_eq!(h.cluster.launched().len(), 1);
    let info = h.info("etl");
    assert_eq!(
        info["history"]["missedRuns"][0]["reason"],
        "CONCURRENCY_FORBIDDEN"
    );
    assert_eq!(
        info["history"]["missedRuns"][0]["scheduledAt"],
        "2024-01-01T00:02:00.000+0000"
    );
    assert!(matches!(
        h.svc.start_run("etl"),
        Err(JobsError::Conflict(_))
    ));
    h.status(&first, TaskState::Finished);
    h.tick_at(T0 + 180.0);
    assert_eq!(h.cluster.launched().len(), 2);
}

#[test]
fn on_failure_retries_a_failing_run_until_it_succeeds() {
    let h = Harness::new(T0);
    h.add(job(
        "flaky",
        serde_json::json!({"run": {"restart": {"policy": "ON_FAILURE"}}}),
    ));
    let run = h.svc.start_run("flaky").unwrap();
    let t1 = run.task_id(1);
    assert_eq!(h.cluster.launched(), vec![t1.clone()]);
    h.status(&t1, TaskState::Running);
    h.status(&t1, TaskState::Failed);
    h.tick_at(T0 + 0.5);
    assert_eq!(h.cluster.launched().len(), 1, "backoff holds the retry");
    h.tick_at(T0 + 1.5);
    let t2 = run.task_id(2);
    assert_eq!(h.cluster.launched(), vec![t1, t2.clone()]);
    h.status(&t2, TaskState::Finished);
    let info = h.info("flaky");
    assert_eq!(info["history"]["successCount"], 1);
    assert_eq!(
        info["history"]["successfulFinishedRuns"][0]["tasks"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(info["activeRuns"], serde_json::json!([]));
}

#[test]
fn never_fails_the_run_and_counts_the_failure() {
    let h = Harness::new(T0);
    h.add(job("once", serde_json::json!({})));
    let run = h.svc.start_run("once").unwrap();
    h.status(&run.task_id(1), TaskState::Failed);
    let info = h.info("once");
    assert_eq!(info["historySummary"]["failureCount"], 1);
    assert_eq!(
        info["historySummary"]["lastFailureAt"],
        "2024-01-01T00:00:00.000+0000"
    );
}

#[test]
fn a_restart_after_a_slot_fired_does_not_fire_it_again() {
    let mut h = Harness::new(T0 + 5.0);
    h.add(job("report", every_minute("ALLOW")));
    h.tick_at(T0 + 60.0);
    h.restart(1.0);
    h.svc.tick().unwrap();
    assert_eq!(h.cluster.launched().len(), 1);
    assert_eq!(h.active("report").len(), 1, "the run survives the restart");
}

#[test]
fn a_launch_cut_short_by_a_crash_is_retried_under_the_same_task_id() {
    let mut h = Harness::new(T0 + 5.0);
    h.add(job("report", every_minute("ALLOW")));
    // The slot's run is committed with its task marked launching, but the master never
    // got the launch (the cluster refuses it here and we "crash" before the retry).
    h.cluster.refuse_next(1);
    h.tick_at(T0 + 60.0);
    assert!(h.cluster.launched().is_empty());
    h.restart(2.0);
    h.svc.tick().unwrap();
    let launched = h.cluster.launched();
    assert_eq!(launched.len(), 1);
    assert!(launched[0].ends_with(".1"), "{launched:?}");
    assert_eq!(h.active("report").len(), 1);
}

#[test]
fn a_slot_missed_while_down_runs_at_start_up_within_its_deadline() {
    let mut h = Harness::new(T0 + 5.0);
    h.add(job("report", every_minute("ALLOW")));
    h.tick_at(T0 + 30.0);
    h.restart(60.0); // down across the 00:01:00 slot, back at 00:01:30
    h.svc.tick().unwrap();
    assert_eq!(h.cluster.launched().len(), 1);
    h.tick_at(T0 + 100.0);
    assert_eq!(h.cluster.launched().len(), 1, "no duplicate");
}

#[test]
fn a_slot_missed_beyond_its_deadline_is_recorded_as_missed() {
    let mut h = Harness::new(T0 + 5.0);
    h.add(job(
        "hourly",
        serde_json::json!({"schedules": [{"id": "top", "cron": "0 * * * *", "startingDeadlineSeconds": 60}]}),
    ));
    h.tick_at(T0 + 3540.0); // 00:59:00
    h.restart(360.0); // back at 01:05:00; the 01:00 slot is 300 s late
    h.svc.tick().unwrap();
    assert!(h.cluster.launched().is_empty());
    let info = h.info("hourly");
    assert_eq!(
        info["history"]["missedRuns"][0]["reason"],
        "DEADLINE_EXCEEDED"
    );
    assert_eq!(
        info["history"]["missedRuns"][0]["scheduledAt"],
        "2024-01-01T01:00:00.000+0000"
    );
    h.restart(0.0);
    assert_eq!(
        h.info("hourly")["history"]["missedRuns"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn disabled_schedules_do_not_fire() {
    let h = Harness::new(T0 + 5.0);
    h.add(job(
        "off",
        serde_json::json!({"schedules": [{"id": "every-minute", "cron": "* * * * *", "enabled": false}]}),
    ));
    h.tick_at(T0 + 200.0);
    assert!(h.cluster.launched().is_empty());
}

#[test]
fn a_dependent_job_starts_after_its_parents_succeed() {
    let h = Harness::new(T0);
    h.add(job("extract", serde_json::json!({})));
    h.add(job(
        "load",
        serde_json::json!({"dependencies": [{"id": "extract"}]}),
    ));
    let r = h.svc.start_run("extract").unwrap();
    h.at(T0 + 1.0);
    h.status(&r.task_id(1), TaskState::Finished);
    let launched = h.cluster.launched();
    assert_eq!(launched.len(), 2, "{launched:?}");
    assert!(launched[1].starts_with("load_"));
    assert!(matches!(
        h.svc.delete_job("extract", false),
        Err(JobsError::Conflict(m)) if m.contains("children=[load]")
    ));
}

#[test]
fn unplaceable_launches_are_retried() {
    let h = Harness::new(T0);
    h.add(job("big", serde_json::json!({})));
    h.cluster.refuse_next(1);
    h.svc.start_run("big").unwrap();
    assert!(h.cluster.launched().is_empty());
    h.tick_at(T0 + 1.0);
    assert_eq!(h.cluster.launched().len(), 1);
}

#[test]
fn stopping_a_run_kills_its_task_and_deleting_needs_stop_current_runs() {
    let h = Harness::new(T0);
    h.add(job("long", serde_json::json!({})));
    let r = h.svc.start_run("long").unwrap();
    assert!(matches!(
        h.svc.delete_job("long", false),
        Err(JobsError::Conflict(_))
    ));
    let stopped = h.svc.stop_run("long", &r.id).unwrap();
    assert_eq!(stopped.status, keel_jobs::RunStatus::Failed);
    assert_eq!(h.cluster.killed(), vec![r.task_id(1)]);
    let r2 = h.svc.start_run("long").unwrap();
    h.svc.delete_job("long", true).unwrap();
    assert_eq!(h.cluster.killed(), vec![r.task_id(1), r2.task_id(1)]);
    assert!(h.store.list("/keel/metronome/").unwrap().is_empty());
}

#[test]
fn ucr_image_only_jobs_fail_with_the_reason() {
    let h = Harness::new(T0);
    let mut doc = job(
        "img",
        serde_json::json!({"run": {"ucr": {"image": {"id": "busybox"}}}}),
    );
    doc["run"].as_object_mut().unwrap().remove("cmd");
    h.add(doc);
    let r = h.svc.start_run("img").unwrap();
    assert_eq!(r.status, keel_jobs::RunStatus::Failed);
    assert!(h.cluster.launched().is_empty());
    assert_eq!(h.info("img")["history"]["failureCount"], 1);
}

#[test]
fn docker_image_jobs_are_launched() {
    let h = Harness::new(T0);
    let mut doc = job(
        "dimg",
        serde_json::json!({"run": {"docker": {"image": "busybox"}}}),
    );
    doc["run"].as_object_mut().unwrap().remove("cmd");
    h.add(doc);
    let r = h.svc.start_run("dimg").unwrap();
    assert_ne!(r.status, keel_jobs::RunStatus::Failed);
    assert_eq!(h.cluster.launched().len(), 1);
}

#[test]
fn output_is_kept_for_the_newest_runs_only() {
    let h = Harness::new(T0);
    h.add(job("chatty", serde_json::json!({})));
    for i in 0..crate::logs::LOG_RUNS_KEPT + 5 {
        let a = PendingArchive {
            job: "chatty".into(),
            run: format!("20240101{i:06}abcde"),
            task: format!("chatty_20240101{i:06}abcde.1"),
            since: T0,
        };
        let files = vec![("stdout".to_string(), b"hi\n".to_vec())];
        h.svc
            .store_archive("/keel/metronome/archive/x", &a, files)
            .unwrap();
    }
    let kept = h.store.list("/keel/metronome/logs/chatty/").unwrap();
    assert_eq!(kept.len(), crate::logs::LOG_RUNS_KEPT);
    assert!(
        kept[0].key.contains("20240101000005abcde"),
        "{}",
        kept[0].key
    );
}

#[test]
fn a_run_whose_launches_fail_backs_off_between_them() {
    const WATCH: f64 = 30.0;
    let h = Harness::new(T0);
    h.add(job(
        "unpullable",
        serde_json::json!({"run": {"restart": {"policy": "ON_FAILURE"}}}),
    ));
    h.svc.start_run("unpullable").unwrap();
    // Every launch fails before it runs, as one whose image cannot be pulled does; the
    // failure paths take turns.
    let failures = [TaskState::Failed, TaskState::Error, TaskState::Dropped];
    let mut t = T0;
    while t < T0 + WATCH {
        let launched = h.cluster.launched();
        if let Some(last) = launched.last()
            && h.cluster
                .observe(last)
                .is_some_and(|o| !o.state.is_terminal())
        {
            h.status(last, failures[launched.len() % failures.len()]);
        }
        t += 0.1;
        h.tick_at(t);
    }
    // The first launch at once, then one after each delay of the schedule.
    let (mut allowed, mut at) = (1, 0.0);
    for attempt in 1.. {
        at += keel_jobs::backoff(attempt, 3600.0);
        if at > WATCH {
            break;
        }
        allowed += 1;
    }
    let n = h.cluster.launched().len();
    assert!(n >= 2, "the run is retried: {n}");
    assert!(
        n <= allowed,
        "{n} launches in {WATCH} s; backoff allows {allowed}"
    );
}

#[test]
fn creating_a_job_holds_no_lock_while_its_commit_is_made_durable() {
    let clock = Arc::new(ManualClock::new(T0 + 5.0));
    let store = Arc::new(GatedStore::new(MemStore::new(clock.clone())));
    let cluster = Arc::new(FakeCluster::default());
    let config = MetronomeConfig::default();
    let svc = Service::open(store.clone(), clock.clone(), cluster.clone(), config).unwrap();
    store.set_open(false);
    let before = store.submitted();
    let spec = svc.parse_job(&job("slow", every_minute("ALLOW"))).unwrap();
    let creating = std::thread::spawn({
        let svc = svc.clone();
        move || svc.create_job(spec)
    });
    for _ in 0..10_000 {
        if store.submitted() > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn({
        let svc = svc.clone();
        move || tx.send(svc.read(|st| st.jobs.len()))
    });
    let read = rx.recv_timeout(Duration::from_secs(20));
    let answered_early = creating.is_finished();
    store.set_open(true);
    assert!(read.is_ok(), "a read waited behind the commit");
    assert!(!answered_early, "answered before its commit was durable");
    creating.join().unwrap().unwrap();
    // The schedule was armed with its cursor's revision: it fires, once.
    clock.advance(Duration::from_secs(55));
    svc.tick().unwrap();
    svc.tick().unwrap();
    assert_eq!(cluster.launched().len(), 1);
}
