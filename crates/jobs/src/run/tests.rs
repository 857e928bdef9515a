//! The run state machine driven through a harness that records every command; each case
//! is a script of events and the expected log.

use super::*;

const NEVER: RunPolicy = RunPolicy {
    restart: RestartPolicy::Never,
    active_deadline_secs: None,
    max_launch_delay_secs: 3600.0,
    starting_deadline_secs: None,
};

/// Holds one run and records, per event, the commands it emitted and the status after.
struct Harness {
    run: Run,
    log: Vec<String>,
}

impl Harness {
    fn new(policy: RunPolicy) -> Self {
        Self {
            run: Run::new(
                "prod.report",
                "20240101000000abcde",
                100.0,
                policy,
                Trigger::Manual,
            ),
            log: Vec::new(),
        }
    }

    fn record(&mut self, what: &str, cmds: Vec<RunCommand>) {
        let cmds: Vec<String> = cmds
            .iter()
            .map(|c| match c {
                RunCommand::Launch { task_id } => format!("launch {}", short(task_id)),
                RunCommand::Kill { task_id } => format!("kill {}", short(task_id)),
                RunCommand::Finished => "finished".into(),
            })
            .collect();
        self.log.push(format!(
            "{what}: [{}] {}",
            cmds.join(", "),
            self.run.status.as_str()
        ));
    }

    fn poll(&mut self, now: f64) -> &mut Self {
        let c = self.run.poll(now);
        self.record(&format!("poll@{now}"), c);
        self
    }

    /// Launch accepted for the task being launched.
    fn accept(&mut self, now: f64) -> &mut Self {
        let id = self.run.launching.clone().expect("a launch in flight");
        self.run.launched(&id, now);
        self.record(&format!("accepted@{now}"), Vec::new());
        self
    }

    fn refuse(&mut self, now: f64) -> &mut Self {
        let id = self.run.launching.clone().expect("a launch in flight");
        self.run.launch_failed(&id, now);
        self.record(&format!("refused@{now}"), Vec::new());
        self
    }

    fn task(&mut self, n: u32, state: TaskState, now: f64) -> &mut Self {
        let id = self.run.task_id(n);
        let c = self.run.on_task(&id, state, now, now);
        self.record(&format!("{}={state}@{now}", short(&id)), c);
        self
    }

    fn stop(&mut self, now: f64) -> &mut Self {
        let c = self.run.stop(now);
        self.record(&format!("stop@{now}"), c);
        self
    }

    fn check(&self, expect: &[&str]) {
        assert_eq!(self.log, expect);
    }
}

fn short(task_id: &str) -> String {
    task_id
        .rsplit('.')
        .next()
        .map(|n| format!("#{n}"))
        .unwrap_or_default()
}

#[test]
fn task_ids_name_job_and_run() {
    let h = Harness::new(NEVER);
    assert_eq!(h.run.task_id(2), "prod_report_20240101000000abcde.2");
}

#[test]
fn a_run_succeeds_when_its_task_finishes() {
    let mut h = Harness::new(NEVER);
    h.poll(100.0)
        .accept(100.1)
        .task(1, TaskState::Running, 101.0)
        .task(1, TaskState::Finished, 105.0)
        .poll(106.0);
    h.check(&[
        "poll@100: [launch #1] STARTING",
        "accepted@100.1: [] STARTING",
        "#1=TASK_RUNNING@101: [] ACTIVE",
        "#1=TASK_FINISHED@105: [finished] SUCCESS",
        "poll@106: [] SUCCESS",
    ]);
    assert_eq!(h.run.completed_at, Some(105.0));
}

#[test]
fn never_fails_on_the_first_failure() {
    let mut h = Harness::new(NEVER);
    h.poll(100.0)
        .accept(100.0)
        .task(1, TaskState::Failed, 102.0);
    h.check(&[
        "poll@100: [launch #1] STARTING",
        "accepted@100: [] STARTING",
        "#1=TASK_FAILED@102: [finished] FAILED",
    ]);
    assert_eq!(
        h.run.reason.as_deref(),
        Some("task prod_report_20240101000000abcde.1 ended TASK_FAILED")
    );
}

#[test]
fn on_failure_relaunches_with_backoff_until_success() {
    let mut h = Harness::new(RunPolicy {
        restart: RestartPolicy::OnFailure,
        ..NEVER
    });
    h.poll(100.0)
        .accept(100.0)
        .task(1, TaskState::Failed, 101.0)
        .poll(101.5)
        .poll(102.0)
        .accept(102.0)
        .task(2, TaskState::Killed, 103.0)
        .poll(104.0)
        .poll(104.15)
        .accept(104.2)
        .task(3, TaskState::Running, 104.5)
        .task(3, TaskState::Finished, 110.0);
    h.check(&[
        "poll@100: [launch #1] STARTING",
        "accepted@100: [] STARTING",
        "#1=TASK_FAILED@101: [] STARTING",
        "poll@101.5: [] STARTING",
        "poll@102: [launch #2] STARTING",
        "accepted@102: [] STARTING",
        "#2=TASK_KILLED@103: [] STARTING",
        "poll@104: [] STARTING",
        "poll@104.15: [launch #3] STARTING",
        "accepted@104.2: [] STARTING",
        "#3=TASK_RUNNING@104.5: [] ACTIVE",
        "#3=TASK_FINISHED@110: [finished] SUCCESS",
    ]);
    assert_eq!(h.run.tasks.len(), 3);
}

#[test]
fn on_failure_gives_up_after_the_active_deadline() {
    let mut h = Harness::new(RunPolicy {
        restart: RestartPolicy::OnFailure,
        active_deadline_secs: Some(10.0),
        ..NEVER
    });
    h.poll(100.0)
        .accept(100.0)
        .task(1, TaskState::Failed, 105.0)
        .poll(106.0)
        .accept(106.0)
        .task(2, TaskState::Failed, 111.0);
    h.check(&[
        "poll@100: [launch #1] STARTING",
        "accepted@100: [] STARTING",
        "#1=TASK_FAILED@105: [] STARTING",
        "poll@106: [launch #2] STARTING",
        "accepted@106: [] STARTING",
        "#2=TASK_FAILED@111: [finished] FAILED",
    ]);
}

#[test]
fn backoff_grows_and_is_capped_by_max_launch_delay() {
    assert_eq!(backoff(1, 3600.0), 1.0);
    assert!((backoff(2, 3600.0) - 1.15).abs() < 1e-9);
    assert_eq!(backoff(100, 60.0), 60.0);
}

#[test]
fn unplaceable_launches_are_retried() {
    let mut h = Harness::new(NEVER);
    h.poll(100.0)
        .refuse(100.0)
        .poll(100.5)
        .poll(101.0)
        .accept(101.0);
    h.check(&[
        "poll@100: [launch #1] STARTING",
        "refused@100: [] STARTING",
        "poll@100.5: [] STARTING",
        "poll@101: [launch #1] STARTING",
        "accepted@101: [] STARTING",
    ]);
}

#[test]
fn a_scheduled_run_fails_when_not_started_within_its_deadline() {
    let mut h = Harness::new(RunPolicy {
        starting_deadline_secs: Some(60.0),
        ..NEVER
    });
    h.poll(100.0)
        .refuse(100.0)
        .poll(159.0)
        .refuse(159.0)
        .poll(160.0);
    h.check(&[
        "poll@100: [launch #1] STARTING",
        "refused@100: [] STARTING",
        "poll@159: [launch #1] STARTING",
        "refused@159: [] STARTING",
        "poll@160: [finished] FAILED",
    ]);
}

#[test]
fn stop_kills_live_tasks_and_fails_the_run() {
    let mut h = Harness::new(RunPolicy {
        restart: RestartPolicy::OnFailure,
        ..NEVER
    });
    h.poll(100.0)
        .accept(100.0)
        .task(1, TaskState::Running, 101.0)
        .stop(102.0)
        .task(1, TaskState::Killed, 103.0)
        .poll(110.0);
    h.check(&[
        "poll@100: [launch #1] STARTING",
        "accepted@100: [] STARTING",
        "#1=TASK_RUNNING@101: [] ACTIVE",
        "stop@102: [kill #1, finished] FAILED",
        "#1=TASK_KILLED@103: [] FAILED",
        "poll@110: [] FAILED",
    ]);
    assert_eq!(h.run.tasks[0].state, TaskState::Killed);
}

#[test]
fn a_status_for_a_launch_in_flight_adopts_the_task() {
    // After a restart the master may know a task the run only recorded as launching.
    let mut h = Harness::new(NEVER);
    h.poll(100.0).task(1, TaskState::Running, 100.5);
    h.check(&[
        "poll@100: [launch #1] STARTING",
        "#1=TASK_RUNNING@100.5: [] ACTIVE",
    ]);
    assert_eq!(h.run.launching, None);
}
