//! End-to-end tests of `keel_executor::run`: real task processes, a real socket, and (where
//! `/sys/fs/cgroup` is writable) real cgroups.

mod support;

use keel_api::executor::{ExecutorMessage, LogRotation, PID_FILE, STATUS_FILE};
use keel_model::{Reason, TaskState};
use std::time::{Duration, Instant};
use support::*;

use TaskState::{Failed, Finished, Killed, Killing, Running, Starting};

#[test]
fn a_task_that_exits_0_finishes_and_its_output_is_in_the_sandbox() {
    let mut executor = Executor::start(config(sh("echo hello; echo oops >&2")));
    let mut agent = executor.connect();
    let hello = agent.next();
    let ExecutorMessage::Hello {
        container_id,
        task_id,
        executor_pid,
    } = hello
    else {
        panic!("expected hello, got {hello:?}");
    };
    assert_eq!(
        (container_id, task_id),
        (
            executor.config.container_id.clone(),
            executor.config.task.id.clone()
        )
    );
    assert_eq!(executor_pid, std::process::id());

    let statuses = agent.until(Finished);
    assert_eq!(
        states(&statuses),
        [(1, Starting), (2, Running), (3, Finished)]
    );
    assert_eq!(
        statuses[2].message.as_deref(),
        Some("Command exited with status 0")
    );
    assert!(
        statuses
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp)
    );
    agent.ack(3);

    let meta = executor.config.meta_dir.clone();
    let (stdout, stderr) = (
        executor.read_sandbox("stdout"),
        executor.read_sandbox("stderr"),
    );
    executor.join();
    assert_eq!((stdout.as_str(), stderr.as_str()), ("hello\n", "oops\n"));
    let logged = keel_executor::read_statuses(&meta.join(STATUS_FILE)).expect("status.jsonl");
    assert_eq!(logged, statuses);
    let pid = std::fs::read_to_string(meta.join(PID_FILE)).unwrap_or_default();
    assert_eq!(pid.trim(), std::process::id().to_string());
}

#[test]
fn a_non_zero_exit_fails_with_its_exit_code() {
    let mut executor = Executor::start(config(sh("exit 3")));
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Failed);
    assert_eq!(
        states(&statuses),
        [(1, Starting), (2, Running), (3, Failed)]
    );
    let last = &statuses[2];
    assert_eq!(
        (last.exit_code, last.message.as_deref()),
        (Some(3), Some("Command exited with status 3"))
    );
    assert_eq!(last.reason, None);
    agent.ack(3);
    executor.join();
}

#[test]
fn a_missing_program_fails_without_running() {
    let mut command = sh("/nonexistent/keel-program");
    command.shell = false;
    let mut executor = Executor::start(config(command));
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Failed);
    assert_eq!(states(&statuses), [(1, Starting), (2, Failed)]);
    assert_eq!(
        statuses[1].reason,
        Some(Reason::ReasonCommandExecutorFailed)
    );
    let message = statuses[1].message.clone().unwrap_or_default();
    assert!(
        message.contains("/nonexistent/keel-program") && message.contains("No such file"),
        "{message}"
    );
    agent.ack(2);
    executor.join();
}

#[test]
fn kill_terminates_a_sleeping_task() {
    let mut executor = Executor::start(config(sh("sleep 1000")));
    let mut agent = executor.connect();
    agent.hello_then_until(Running);
    let start = Instant::now();
    agent.kill(1.0);
    let statuses = agent.until(Killed);
    assert_eq!(states(&statuses), [(3, Killing), (4, Killed)]);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "SIGTERM should be enough"
    );
    let message = statuses[1].message.clone().unwrap_or_default();
    assert_eq!(message, "Command terminated with signal SIGTERM");
    agent.ack(4);
    executor.join();
}

#[test]
fn a_task_ignoring_sigterm_is_sigkilled_after_the_grace_period() {
    let mut executor = Executor::start(config(sh("trap '' TERM; echo > ready; sleep 1000")));
    let mut agent = executor.connect();
    agent.hello_then_until(Running);
    executor.wait_for_file("ready");
    let start = Instant::now();
    agent.kill(1.0);
    let statuses = agent.until(Killed);
    let waited = start.elapsed();
    assert_eq!(states(&statuses), [(3, Killing), (4, Killed)]);
    assert!(
        waited >= Duration::from_millis(950),
        "killed after {waited:?}, before the grace"
    );
    assert!(waited < Duration::from_secs(5), "took {waited:?}");
    let message = statuses[1].message.clone().unwrap_or_default();
    assert_eq!(message, "Command terminated with signal SIGKILL");
    agent.ack(4);
    executor.join();
}

/// Kills a task that left a background grandchild and checks nothing survives (not even a
/// zombie: orphans are reaped by the executor as subreaper).
fn kill_leaves_nothing_behind(config: keel_api::executor::ExecutorConfig) {
    let mut executor = Executor::start(config);
    let mut agent = executor.connect();
    agent.hello_then_until(Running);
    let grandchild = executor.wait_for_file("bg.pid");
    let deadline = Instant::now() + PATIENCE;
    while sleep_is_gone(&grandchild) {
        assert!(
            Instant::now() < deadline,
            "grandchild {grandchild} never ran sleep"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    agent.kill(1.0);
    let statuses = agent.until(Killed);
    assert_eq!(statuses.last().map(|s| s.state), Some(Killed));
    assert!(
        sleep_is_gone(&grandchild),
        "grandchild {grandchild} survived the kill"
    );
    agent.ack(4);
    executor.join();
}

#[test]
fn kill_reaches_background_grandchildren() {
    kill_leaves_nothing_behind(config(sh("sleep 1000 & echo $! > bg.pid; sleep 1000")));
}

#[test]
fn kill_reaches_processes_that_left_the_session_through_the_cgroup() {
    // `setsid` takes the grandchild out of the task's session and process group; only the
    // cgroup still knows it belongs to the container.
    let script = "setsid sleep 1000 & echo $! > bg.pid; sleep 1000";
    match with_cgroups(config(sh(script))) {
        Ok(config) => kill_leaves_nothing_behind(config),
        Err(why) => skip(&why),
    }
}

#[test]
fn leftover_processes_are_killed_when_the_main_process_exits() {
    let mut executor = Executor::start(config(sh("sleep 1000 & echo $! > bg.pid")));
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Finished);
    assert_eq!(
        states(&statuses),
        [(1, Starting), (2, Running), (3, Finished)]
    );
    let grandchild = executor.wait_for_file("bg.pid");
    assert!(
        sleep_is_gone(&grandchild),
        "grandchild {grandchild} outlived the task"
    );
    agent.ack(3);
    executor.join();
}

#[test]
fn exceeding_the_memory_limit_fails_with_a_memory_limitation() {
    let mut config = config(sh("head -c 200m /dev/zero | tail"));
    config.task.resources = keel_resources::Resources::new()
        .with_scalar("cpus", 0.5)
        .with_scalar("mem", 32.0);
    let config = match with_cgroups(config) {
        Ok(config) => config,
        Err(why) => return skip(&why),
    };
    let mut executor = Executor::start(config);
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Failed);
    assert_eq!(
        states(&statuses),
        [(1, Starting), (2, Running), (3, Failed)]
    );
    let last = &statuses[2];
    assert_eq!(last.reason, Some(Reason::ReasonContainerLimitationMemory));
    let message = last.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("Memory limit exceeded: Requested: 32MB Maximum Used: "),
        "{message}"
    );
    agent.ack(3);
    executor.join();
}

#[test]
fn cgroup_limits_are_applied_and_the_cgroup_removed() {
    let config = match with_cgroups(config(sh("echo > ready; sleep 1000"))) {
        Ok(config) => config,
        Err(why) => return skip(&why),
    };
    let layout = real_layout();
    let leaf = |mount: &std::path::Path| {
        mount
            .join(TEST_CGROUP_ROOT)
            .join(config.container_id.as_str())
    };
    let mut executor = Executor::start(config.clone());
    let mut agent = executor.connect();
    agent.hello_then_until(Running);
    executor.wait_for_file("ready");
    let read = |path: std::path::PathBuf| {
        std::fs::read_to_string(&path)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let dirs = match &layout {
        keel_executor::CgroupLayout::V1 { memory, cpu } => {
            let (memory, cpu) = (leaf(memory), leaf(cpu.as_ref().expect("cpu hierarchy")));
            assert_eq!(
                read(memory.join("memory.limit_in_bytes")),
                (64u64 << 20).to_string()
            );
            assert_eq!(read(cpu.join("cpu.shares")), "512");
            assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
            assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "50000");
            vec![memory, cpu]
        }
        keel_executor::CgroupLayout::V2 { mount } => {
            let dir = leaf(mount);
            assert_eq!(read(dir.join("memory.max")), (64u64 << 20).to_string());
            assert_eq!(read(dir.join("cpu.max")), "50000 100000");
            vec![dir]
        }
    };
    for dir in &dirs {
        let procs = read(dir.join("cgroup.procs"));
        assert_eq!(
            procs.lines().count(),
            2,
            "sh and sleep in {}: {procs:?}",
            dir.display()
        );
    }
    agent.kill(1.0);
    agent.until(Killed);
    for dir in &dirs {
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }
    agent.ack(4);
    executor.join();
}

#[test]
fn output_is_rotated_by_size() {
    let mut config = config(sh("seq 1 200"));
    config.log_rotation = LogRotation {
        max_size_bytes: 100,
        max_files: 2,
    };
    let mut executor = Executor::start(config);
    let mut agent = executor.connect();
    agent.hello_then_until(Finished);
    agent.ack(3);
    let files: Vec<String> = ["stdout.2", "stdout.1", "stdout"]
        .iter()
        .map(|f| executor.read_sandbox(f))
        .collect();
    assert!(!executor.sandbox_file("stdout.3").exists());
    let everything: String = (1..=200).map(|n| format!("{n}\n")).collect();
    let kept = files.concat();
    assert!(
        files.iter().all(|f| !f.is_empty() && f.len() <= 100),
        "{files:?}"
    );
    assert!(everything.ends_with(&kept), "{kept:?}");
    assert_eq!(
        files[0].len() + files[1].len(),
        200,
        "rolled files are full"
    );
    executor.join();
}

#[test]
fn reconnecting_replays_every_status_and_exit_waits_for_the_ack() {
    let mut executor = Executor::start(config(sh("echo hi")));
    let mut first = executor.connect();
    let before = first.hello_then_until(Finished);
    drop(first);

    let mut second = executor.connect();
    let after = second.hello_then_until(Finished);
    assert_eq!(after, before, "replay from seq 1");

    let mut third = executor.connect();
    assert_eq!(third.hello_then_until(Finished), before);
    assert_eq!(
        second.try_next(),
        None,
        "a new connection replaces the old one"
    );

    third.ack(2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !executor.is_finished(),
        "the terminal status is not acked yet"
    );
    third.ack(3);
    executor.join();
}

#[test]
fn the_environment_is_exactly_the_configured_one() {
    let mut command = sh("/usr/bin/env");
    command.shell = false;
    let mut config = config(command);
    config.env = [("FOO", "bar baz"), ("MESOS_TASK_ID", "t1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut executor = Executor::start(config);
    let mut agent = executor.connect();
    agent.hello_then_until(Finished);
    agent.ack(3);
    let mut lines: Vec<String> = executor
        .read_sandbox("stdout")
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    let path = format!("PATH={}", keel_executor::DEFAULT_PATH);
    assert_eq!(lines, ["FOO=bar baz", "MESOS_TASK_ID=t1", path.as_str()]);
    executor.join();
}

#[test]
fn the_task_runs_as_the_configured_user() {
    let mut command = sh("id -u; pwd");
    command.user = Some("nobody".into());
    let mut executor = Executor::start(config(command));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(executor.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Finished);
    assert_eq!(
        statuses.last().map(|s| s.state),
        Some(Finished),
        "{statuses:?}"
    );
    agent.ack(3);
    let stdout = executor.read_sandbox("stdout");
    assert_eq!(
        stdout,
        format!("65534\n{}\n", executor.config.sandbox.display())
    );
    executor.join();
}

#[test]
fn the_task_inherits_only_its_standard_descriptors() {
    // A descriptor without close-on-exec in the executor's process must not leak.
    let file = std::fs::File::open("/dev/null").expect("open");
    // SAFETY: dup(2) of an open descriptor; the copy is closed below.
    let leaked = unsafe { libc::dup(std::os::fd::AsRawFd::as_raw_fd(&file)) };
    assert!(leaked > 2);
    let mut command = sh("/bin/ls");
    command.shell = false;
    command.arguments = vec!["ls".into(), "/proc/self/fd".into()];
    let mut executor = Executor::start(config(command));
    let mut agent = executor.connect();
    agent.hello_then_until(Finished);
    agent.ack(3);
    // SAFETY: `leaked` is ours to close.
    unsafe { libc::close(leaked) };
    // 0-2 and the directory `ls` itself opened.
    assert_eq!(executor.read_sandbox("stdout"), "0\n1\n2\n3\n");
    executor.join();
}

#[test]
fn a_container_that_cannot_be_set_up_fails_the_launch() {
    let mut config = config(sh("echo never"));
    config.cgroups.enabled = true;
    config.cgroups.root = "../escape".into();
    let mut executor = Executor::start(config);
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Failed);
    assert_eq!(states(&statuses), [(1, Starting), (2, Failed)]);
    assert_eq!(
        statuses[1].reason,
        Some(Reason::ReasonContainerLaunchFailed)
    );
    let message = statuses[1].message.clone().unwrap_or_default();
    assert!(
        message.starts_with("Failed to launch container: "),
        "{message}"
    );
    agent.ack(2);
    executor.join();
    assert_eq!(executor.read_sandbox("stdout"), "");
}
