//! Test harness: runs `keel_executor::run` on a thread with a temp sandbox and meta dir and
//! a unique abstract socket, and plays the agent over a std `UnixStream`.

#![allow(dead_code)]

pub mod busybox;
pub mod server;

use keel_api::executor::{
    AgentMessage, CONFIG_FILE, CgroupConfig, ExecutorConfig, ExecutorMessage, ExecutorStatus,
    LogRotation,
};
use keel_executor::{CgroupLayout, ExecutorError, HostFs};
use keel_model::{
    AgentId, CommandSpec, ContainerId, FrameworkId, HealthCheck, HealthProtocol, TaskId, TaskSpec,
    TaskState,
};
use keel_resources::{Ranges, Resources};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The cgroup root the tests use, apart from a real agent's `keel`.
pub const TEST_CGROUP_ROOT: &str = "keel-test";
/// Nothing in these tests should take longer than this.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A shell command.
pub fn sh(script: &str) -> CommandSpec {
    CommandSpec {
        shell: true,
        value: script.into(),
        arguments: Vec::new(),
        env: BTreeMap::new(),
        user: None,
    }
}

/// A config for `command` with 0.5 cpus and 64 MiB, cgroups off (`config.sandbox` and
/// `config.meta_dir` are filled in by `Executor::start`).
pub fn config(command: CommandSpec) -> ExecutorConfig {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let unique = format!("{}-{n}", std::process::id());
    ExecutorConfig {
        task: TaskSpec {
            id: TaskId::new(format!("task-{unique}")).expect("task id"),
            name: "test".into(),
            framework_id: FrameworkId::new("fw-0001").expect("framework id"),
            role: "*".into(),
            command,
            resources: Resources::new()
                .with_scalar("cpus", 0.5)
                .with_scalar("mem", 64.0),
            kill_grace_secs: 1.0,
            labels: BTreeMap::new(),
            health_checks: Vec::new(),
            fetch: Vec::new(),
            port_names: Vec::new(),
            placement_scope: None,
            host_ports: Vec::new(),
            discovery: None,
            container: None,
        },
        container_id: ContainerId::new(format!("container-{unique}")).expect("container id"),
        agent_id: AgentId::new("m1-S1").expect("agent id"),
        sandbox: PathBuf::new(),
        meta_dir: PathBuf::new(),
        env: BTreeMap::new(),
        cgroups: CgroupConfig {
            enabled: false,
            root: TEST_CGROUP_ROOT.into(),
        },
        log_rotation: LogRotation::default(),
        socket_name: format!("keel-executor-test-{unique}"),
        images: Default::default(),
        dns: None,
    }
}

/// Gives the task `ports` as its assigned host ports (PORT0 first).
pub fn with_ports(mut config: ExecutorConfig, ports: &[u16]) -> ExecutorConfig {
    let ranges = ports
        .iter()
        .map(|p| (u64::from(*p), u64::from(*p)))
        .collect();
    config.task.resources = config
        .task
        .resources
        .with_ranges("ports", Ranges::new(ranges));
    config
}

/// A health check probing every 0.1 s with a 1 s timeout, no grace, no delay, never
/// killing; on PORT0 for network protocols.
pub fn health_check(protocol: HealthProtocol) -> HealthCheck {
    HealthCheck {
        protocol,
        port_index: Some(0),
        port: None,
        path: None,
        command: None,
        grace_period_secs: 0.0,
        interval_secs: 0.1,
        timeout_secs: 1.0,
        max_consecutive_failures: 0,
        delay_secs: 0.0,
        ignore_http1xx: false,
    }
}

/// Enables cgroups in `config`, or explains why this host cannot run cgroup tests (only
/// when `/sys/fs/cgroup` is not writable; any other problem fails the test).
pub fn with_cgroups(mut config: ExecutorConfig) -> Result<ExecutorConfig, String> {
    let root = Path::new("/sys/fs/cgroup");
    let c_root = c"/sys/fs/cgroup";
    // SAFETY: access(2) with a valid NUL-terminated path.
    if unsafe { libc::access(c_root.as_ptr(), libc::W_OK) } != 0 {
        let err = std::io::Error::last_os_error();
        return Err(format!("{} is not writable: {err}", root.display()));
    }
    let layout = real_layout();
    let probe = memory_mount(&layout).join(TEST_CGROUP_ROOT);
    if let Err(e) = std::fs::create_dir_all(&probe) {
        let denied = matches!(
            e.raw_os_error(),
            Some(libc::EACCES | libc::EPERM | libc::EROFS)
        );
        assert!(denied, "cannot create {}: {e}", probe.display());
        return Err(format!("{} is not writable: {e}", probe.display()));
    }
    config.cgroups.enabled = true;
    Ok(config)
}

/// Prints why a cgroup test is skipped.
pub fn skip(why: &str) {
    eprintln!("SKIPPED (cgroups unavailable): {why}");
}

/// The host's cgroup layout; cgroup tests need one.
pub fn real_layout() -> CgroupLayout {
    CgroupLayout::detect(&HostFs::default()).expect("a cgroup hierarchy with memory")
}

pub fn memory_mount(layout: &CgroupLayout) -> PathBuf {
    match layout {
        CgroupLayout::V1 { memory, .. } => memory.clone(),
        CgroupLayout::V2 { mount } => mount.clone(),
    }
}

/// A running executor.
pub struct Executor {
    pub dir: tempfile::TempDir,
    pub config: ExecutorConfig,
    thread: Option<JoinHandle<Result<i32, ExecutorError>>>,
}

impl Executor {
    /// Writes `config` (with fresh sandbox and meta dirs) and starts `run` on a thread.
    pub fn start(mut config: ExecutorConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        config.sandbox = dir.path().join("sandbox");
        config.meta_dir = dir.path().join("meta");
        for d in [&config.sandbox, &config.meta_dir] {
            std::fs::create_dir(d).expect("mkdir");
        }
        let config_path = config.meta_dir.join(CONFIG_FILE);
        let json = serde_json::to_vec_pretty(&config).expect("config json");
        std::fs::write(&config_path, json).expect("write config");
        let listener = keel_executor::bind_abstract(&config.socket_name).expect("bind");
        let thread = std::thread::spawn(move || keel_executor::run(&config_path, listener));
        Self {
            dir,
            config,
            thread: Some(thread),
        }
    }

    /// Connects as an agent.
    pub fn connect(&self) -> Agent {
        let addr = SocketAddr::from_abstract_name(self.config.socket_name.as_bytes())
            .expect("abstract name");
        let stream = UnixStream::connect_addr(&addr).expect("connect");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("read timeout");
        let writer = stream.try_clone().expect("clone");
        Agent {
            reader: BufReader::new(stream),
            writer,
        }
    }

    pub fn sandbox_file(&self, name: &str) -> PathBuf {
        self.config.sandbox.join(name)
    }

    pub fn read_sandbox(&self, name: &str) -> String {
        std::fs::read_to_string(self.sandbox_file(name)).unwrap_or_default()
    }

    /// Waits until the task created `name` in its sandbox; returns its trimmed content.
    pub fn wait_for_file(&self, name: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.read_sandbox(name);
            if text.ends_with('\n') {
                return text.trim().to_string();
            }
            assert!(Instant::now() < deadline, "task never wrote {name}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether `run` has returned.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for `run` to return and checks it returned exit code 0.
    pub fn join(&mut self) {
        let thread = self.thread.take().expect("joined once");
        let result = thread.join().expect("executor thread panicked");
        assert_eq!(result.map_err(|e| e.to_string()), Ok(0));
    }
}

impl Drop for Executor {
    /// A test that failed half-way still kills its task, so nothing outlives the test run.
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        let Ok(addr) = SocketAddr::from_abstract_name(self.config.socket_name.as_bytes()) else {
            return;
        };
        let Ok(mut stream) = UnixStream::connect_addr(&addr) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(PATIENCE));
        let _ = stream.write_all(b"{\"type\":\"kill\",\"grace_secs\":0}\n");
        let mut last_seq = 0;
        for line in BufReader::new(stream.try_clone().expect("clone")).lines() {
            let Ok(ExecutorMessage::Status(status)) =
                serde_json::from_str(&line.unwrap_or_default())
            else {
                continue;
            };
            last_seq = status.seq;
            if status.state.is_terminal() {
                break;
            }
        }
        let _ = stream.write_all(format!("{{\"type\":\"ack\",\"seq\":{last_seq}}}\n").as_bytes());
        let _ = thread.join();
    }
}

/// The agent's end of a connection.
pub struct Agent {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Agent {
    /// The next message; panics on timeout or end of stream.
    pub fn next(&mut self) -> ExecutorMessage {
        self.try_next().expect("connection closed")
    }

    /// The next message, `None` at end of stream.
    pub fn try_next(&mut self) -> Option<ExecutorMessage> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read (timed out?)");
        (n > 0).then(|| serde_json::from_str(&line).expect("executor message json"))
    }

    /// The next message, which must be a status.
    pub fn status(&mut self) -> ExecutorStatus {
        match self.next() {
            ExecutorMessage::Status(status) => status,
            other => panic!("expected a status, got {other:?}"),
        }
    }

    /// Reads the hello, then statuses until `state` (inclusive).
    pub fn hello_then_until(&mut self, state: TaskState) -> Vec<ExecutorStatus> {
        assert!(matches!(self.next(), ExecutorMessage::Hello { .. }));
        self.until(state)
    }

    /// Reads statuses until `state` (inclusive) or a terminal one.
    pub fn until(&mut self, state: TaskState) -> Vec<ExecutorStatus> {
        let mut seen = Vec::new();
        loop {
            let status = self.status();
            let done = status.state == state || status.state.is_terminal();
            seen.push(status);
            if done {
                return seen;
            }
        }
    }

    pub fn send(&mut self, message: &AgentMessage) {
        let mut line = serde_json::to_vec(message).expect("json");
        line.push(b'\n');
        self.writer.write_all(&line).expect("send");
    }

    pub fn kill(&mut self, grace_secs: f64) {
        self.send(&AgentMessage::Kill { grace_secs });
    }

    pub fn ack(&mut self, seq: u64) {
        self.send(&AgentMessage::Ack { seq });
    }
}

/// `(seq, state)` of each status, for compact assertions.
pub fn states(statuses: &[ExecutorStatus]) -> Vec<(u64, TaskState)> {
    statuses.iter().map(|s| (s.seq, s.state)).collect()
}

/// Whether `pid` is gone (or reused by something other than `sleep`); a zombie `sleep`
/// counts as still there, so this also proves the orphan was reaped.
pub fn sleep_is_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => !stat.contains("(sleep)"),
    }
}
