//! End-to-end tests of health checks: real probes (HTTP, HTTPS, TCP, shell commands) against
//! servers the tests run, verdicts as TASK_RUNNING statuses, and kills by failing checks.

mod support;

use keel_api::executor::ExecutorStatus;
use keel_model::{HealthProtocol, Reason, TaskState};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::server::{TestServer, response, self_signed};
use support::*;

use TaskState::{Killed, Killing, Running, Starting};

const HEALTH: Option<Reason> = Some(Reason::ReasonTaskHealthCheckStatusUpdated);

/// An HTTP handler answering 200 on `/health` while `healthy` is set, 500 otherwise.
fn switchable(healthy: &Arc<AtomicBool>) -> support::server::Handler {
    let healthy = healthy.clone();
    Box::new(move |path| match (path, healthy.load(Ordering::SeqCst)) {
        ("/health", true) => response("200 OK", b"ok"),
        _ => response("500 Internal Server Error", b"no"),
    })
}

/// Reads the next status, which must be a health verdict.
fn verdict(agent: &mut Agent) -> ExecutorStatus {
    let status = agent.status();
    assert_eq!(
        (status.state, status.reason),
        (Running, HEALTH),
        "{status:?}"
    );
    status
}

/// Starts `config`, reads STARTING and RUNNING; returns the executor and the agent.
fn running(config: keel_api::executor::ExecutorConfig) -> (Executor, Agent) {
    let executor = Executor::start(config);
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Running);
    assert_eq!(states(&statuses), [(1, Starting), (2, Running)]);
    assert_eq!(statuses[1].healthy, None);
    (executor, agent)
}

/// Kills the task through the agent and checks it ends TASK_KILLED as usual.
fn kill_normally(mut executor: Executor, mut agent: Agent) {
    agent.kill(0.0);
    let statuses = agent.until(Killed);
    let last = statuses.last().expect("a terminal status");
    assert_eq!(
        (last.state, last.reason, last.healthy),
        (Killed, None, None)
    );
    agent.ack(last.seq);
    executor.join();
}

#[test]
fn http_check_turns_healthy_then_unhealthy_and_kills_the_task() {
    let healthy = Arc::new(AtomicBool::new(true));
    let server = TestServer::http(switchable(&healthy));
    let mut check = health_check(HealthProtocol::Http);
    check.path = Some("/health".into());
    check.max_consecutive_failures = 2;
    let mut config = with_ports(config(sh("sleep 1000")), &[server.port]);
    config.task.health_checks = vec![check];
    let (mut executor, mut agent) = running(config);

    let first = verdict(&mut agent);
    assert_eq!((first.seq, first.healthy), (3, Some(true)));
    std::thread::sleep(Duration::from_millis(350));
    healthy.store(false, Ordering::SeqCst);

    let rest = agent.until(Killed);
    assert_eq!(states(&rest), [(4, Running), (5, Killing), (6, Killed)]);
    assert_eq!((rest[0].reason, rest[0].healthy), (HEALTH, Some(false)));
    let last = &rest[2];
    assert_eq!((last.reason, last.healthy), (HEALTH, Some(false)));
    let expect = format!(
        "Task killed: HTTP health check of http://127.0.0.1:{}/health failed 2 times \
         consecutively: unexpected HTTP status 500 Internal Server Error (Command terminated \
         with signal SIGTERM)",
        server.port
    );
    assert_eq!(last.message.as_deref(), Some(expect.as_str()));
    agent.ack(6);
    executor.join();
}

#[test]
fn tcp_check_follows_the_listener_without_killing() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut config = with_ports(config(sh("sleep 1000")), &[port]);
    config.task.health_checks = vec![health_check(HealthProtocol::Tcp)];
    let (executor, mut agent) = running(config);

    assert_eq!(verdict(&mut agent).healthy, Some(true));
    drop(listener);
    let unhealthy = verdict(&mut agent);
    assert_eq!((unhealthy.seq, unhealthy.healthy), (4, Some(false)));
    // max_consecutive_failures 0: failing goes on without a kill (or a repeated verdict).
    std::thread::sleep(Duration::from_millis(500));
    kill_normally(executor, agent);
}

#[test]
fn command_check_runs_in_the_sandbox_with_the_task_env_and_kills_on_failure() {
    let mut check = health_check(HealthProtocol::Command);
    check.command = Some(r#"test "$GREETING" = hello && test ! -e broken"#.into());
    check.max_consecutive_failures = 3;
    let mut config = config(sh("sleep 1000"));
    config.env = [("GREETING".to_string(), "hello".to_string())].into();
    config.task.health_checks = vec![check];
    let (mut executor, mut agent) = running(config);

    assert_eq!(verdict(&mut agent).healthy, Some(true));
    std::fs::write(executor.sandbox_file("broken"), "").expect("write");
    let rest = agent.until(Killed);
    assert_eq!(states(&rest), [(4, Running), (5, Killing), (6, Killed)]);
    assert_eq!(rest[0].healthy, Some(false));
    let last = &rest[2];
    assert_eq!((last.reason, last.healthy), (HEALTH, Some(false)));
    let message = last.message.clone().unwrap_or_default();
    assert!(
        message.starts_with(
            r#"Task killed: COMMAND health check "test \"$GREETING\" = hello && test ! -e broken" failed 3 times consecutively: command exited with status 1"#
        ),
        "{message}"
    );
    agent.ack(6);
    executor.join();
}

#[test]
fn a_command_check_that_hangs_times_out() {
    let mut check = health_check(HealthProtocol::Command);
    check.command = Some("sleep 1000".into());
    check.timeout_secs = 0.2;
    check.max_consecutive_failures = 1;
    let mut config = config(sh("sleep 1000"));
    config.task.health_checks = vec![check];
    let (mut executor, mut agent) = running(config);

    let rest = agent.until(Killed);
    assert_eq!(states(&rest), [(3, Running), (4, Killing), (5, Killed)]);
    let message = rest[2].message.clone().unwrap_or_default();
    assert!(
        message.contains("failed 1 times consecutively: command timed out after 200ms"),
        "{message}"
    );
    agent.ack(5);
    executor.join();
}

#[test]
fn failures_in_the_grace_period_are_ignored_until_the_first_success() {
    // Fails from the start: nothing is reported before the grace period ends.
    let mut check = health_check(HealthProtocol::Command);
    check.command = Some("test -e ok".into());
    check.grace_period_secs = 1.5;
    check.max_consecutive_failures = 1;
    let mut config = config(sh("sleep 1000"));
    config.task.health_checks = vec![check.clone()];
    let started = Instant::now();
    let (mut executor, mut agent) = running(config);
    let rest = agent.until(Killed);
    let waited = started.elapsed();
    assert_eq!(states(&rest), [(3, Running), (4, Killing), (5, Killed)]);
    assert_eq!(rest[0].healthy, Some(false));
    assert!(waited >= Duration::from_millis(1500), "after {waited:?}");
    agent.ack(5);
    executor.join();

    // A success ends the grace period early: the next failure counts at once.
    check.grace_period_secs = 60.0;
    check.max_consecutive_failures = 0;
    let mut config = support::config(sh("sleep 1000"));
    config.task.health_checks = vec![check];
    let executor = Executor::start(config);
    std::fs::write(executor.sandbox_file("ok"), "").expect("write");
    let mut agent = executor.connect();
    agent.hello_then_until(Running);
    assert_eq!(verdict(&mut agent).healthy, Some(true));
    std::fs::remove_file(executor.sandbox_file("ok")).expect("remove");
    assert_eq!(verdict(&mut agent).healthy, Some(false));
    kill_normally(executor, agent);
}

#[test]
fn https_check_accepts_a_self_signed_certificate() {
    let server = TestServer::https(Box::new(|_| response("204 No Content", b"")), self_signed());
    let mut check = health_check(HealthProtocol::Https);
    check.port_index = None;
    check.port = Some(server.port);
    let mut config = config(sh("sleep 1000"));
    config.task.health_checks = vec![check];
    let (executor, mut agent) = running(config);
    assert_eq!(verdict(&mut agent).healthy, Some(true));
    kill_normally(executor, agent);
}

#[test]
fn delay_postpones_the_first_probe_and_all_checks_must_pass() {
    let healthy = Arc::new(AtomicBool::new(true));
    let server = TestServer::http(switchable(&healthy));
    let mut http = health_check(HealthProtocol::Http);
    http.path = Some("/health".into());
    http.delay_secs = 0.5;
    let mut command = health_check(HealthProtocol::Command);
    command.command = Some("true".into());
    let mut config = with_ports(config(sh("sleep 1000")), &[server.port]);
    config.task.health_checks = vec![http, command];
    let started = Instant::now();
    let (executor, mut agent) = running(config);

    // Healthy only once the delayed HTTP check has passed too.
    assert_eq!(verdict(&mut agent).healthy, Some(true));
    assert!(started.elapsed() >= Duration::from_millis(500));
    healthy.store(false, Ordering::SeqCst);
    assert_eq!(verdict(&mut agent).healthy, Some(false));
    kill_normally(executor, agent);
}

#[test]
fn a_check_on_a_missing_port_fails_and_says_why() {
    let mut check = health_check(HealthProtocol::Tcp);
    check.port_index = Some(1);
    check.max_consecutive_failures = 1;
    let mut config = config(sh("sleep 1000"));
    config.task.health_checks = vec![check];
    let (mut executor, mut agent) = running(config);
    let rest = agent.until(Killed);
    let message = rest
        .last()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    assert!(
        message.starts_with(
            "Task killed: TCP health check (port_index 1 is out of range: the task has 0 \
             assigned port(s)) failed 1 times consecutively"
        ),
        "{message}"
    );
    agent.ack(5);
    executor.join();
}
