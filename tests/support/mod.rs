//! Helpers for the end-to-end suites: temporary directories, spawning `keel` processes,
//! reading their URLs, calling their APIs and waiting for conditions.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const KEEL: &str = env!("CARGO_BIN_EXE_keel");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("keel-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        kill_processes_under(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SIGKILLs every process working in or started from `dir`: the executors and tasks a
/// test's cluster left behind (they outlive `keel` by design).
pub fn kill_processes_under(dir: &Path) {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    let needle = dir.to_string_lossy().to_string();
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        let cwd = std::fs::read_link(p.path().join("cwd"))
            .map(|c| c.starts_with(dir))
            .unwrap_or(false);
        let cmd = std::fs::read(p.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(&needle))
            .unwrap_or(false);
        if cwd || cmd {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// A running keel process; SIGKILLed when dropped unless stopped.
pub struct Proc {
    pub child: Child,
    pub url: String,
}

impl Proc {
    /// Starts `keel <args>` and waits for the line `... running at <url>` on stdout.
    pub fn start(args: &[&str]) -> Proc {
        Self::start_with_env(args, &[])
    }

    /// [`Proc::start`] with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut child = Command::new(KEEL)
            .args(args)
            .env("KEEL_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn keel");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read url line");
        let url = line
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_string();
        assert!(url.starts_with("http://"), "keel {args:?} printed {line:?}");
        Proc { child, url }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGKILL, like a crash.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait; returns whether it exited successfully.
    pub fn stop(mut self) -> bool {
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `keel dev` as the suites start it: data under `dir/data`, the API on a free loopback
/// port, and agent resources with a host-port range of this test's own. The one starter
/// every suite shares; each adds its own flags and environment.
///
/// ```ignore
/// let keel = Dev::new(&dir).resources("cpus:8;mem:8192").args(&["--dns-listen", &l]).start();
/// ```
pub struct Dev {
    data: String,
    resources: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Dev {
    pub fn new(dir: &TempDir) -> Dev {
        Dev {
            data: dir.path().join("data").to_string_lossy().into_owned(),
            resources: resources_with_own_ports("cpus:4;mem:4096"),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Scalar resources (`cpus:8;mem:8192`); a port range of this test's own is added.
    pub fn resources(mut self, scalars: &str) -> Dev {
        self.resources = resources_with_own_ports(scalars);
        self
    }

    /// Resources exactly as given (no port range is added).
    pub fn exact_resources(mut self, resources: &str) -> Dev {
        self.resources = resources.to_string();
        self
    }

    pub fn args(mut self, args: &[&str]) -> Dev {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Dev {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn start(self) -> Proc {
        let mut args = vec![
            "dev",
            "--data-dir",
            &self.data,
            "--listen",
            "127.0.0.1:0",
            "--resources",
            &self.resources,
        ];
        args.extend(self.args.iter().map(String::as_str));
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let agents = self
            .args
            .iter()
            .position(|a| a == "--agents")
            .and_then(|i| self.args.get(i + 1))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(1);
        let keel = Proc::start_with_env(&args, &env);
        // A task run before its agent registered finds no agent: wait for them, as a user
        // of `keel dev` would see them in `keel node list`.
        let url = keel.url.clone();
        wait_for(30, "keel dev's agents to register", || {
            let (_, v) = get(&format!("{url}/master/slaves"));
            let active = v["slaves"]
                .as_array()
                .map_or(0, |s| s.iter().filter(|a| a["active"] == true).count());
            (active >= agents).then_some(())
        });
        keel
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

pub fn get(url: &str) -> (u16, Value) {
    let r = client().get(url).send().expect("GET");
    let code = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn post(url: &str, body: &str) -> (u16, Value) {
    let r = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("POST");
    let code = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Polls `f` until it returns Some, or panics after `secs` with `what`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the CLI against `url`; returns (success, stdout, stderr).
pub fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(KEEL)
        .args(args)
        .env("KEEL_URL", url)
        .output()
        .expect("run keel cli");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The task object from `/master/tasks`.
pub fn task(url: &str, id: &str) -> Option<Value> {
    let (_, v) = get(&format!("{url}/master/tasks?limit=-1&task_id={id}"));
    v["tasks"].as_array().and_then(|t| t.first().cloned())
}

pub fn task_state(url: &str, id: &str) -> String {
    task(url, id)
        .and_then(|t| t["state"].as_str().map(String::from))
        .unwrap_or_default()
}

/// Waits until task `id` is in `state`.
pub fn wait_state(url: &str, id: &str, state: &str, secs: u64) -> Value {
    wait_for(secs, &format!("task {id} to be {state}"), || {
        task(url, id).filter(|t| t["state"] == state)
    })
}

/// Launches a shell-command task through the CLI; returns its id.
pub fn run_task(url: &str, extra: &[&str], cmd: &str) -> String {
    let mut args = vec!["task", "run"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--shell", "--", cmd]);
    let (ok, out, err) = cli(url, &args);
    assert!(ok, "keel task run failed: {err}");
    out.trim().to_string()
}

/// Reads a sandbox file of a task through the master's agent proxy.
pub fn read_sandbox(url: &str, t: &Value, file: &str) -> String {
    let path = format!(
        "/frameworks/{}/executors/{}/runs/latest/{file}",
        t["framework_id"].as_str().unwrap_or_default(),
        t["id"].as_str().unwrap_or_default()
    );
    let agent = t["slave_id"].as_str().unwrap_or_default();
    let (code, v) = get(&format!(
        "{url}/agent/{agent}/files/read?path={path}&offset=0"
    ));
    assert_eq!(code, 200, "files/read {path}: {v}");
    v["data"].as_str().unwrap_or_default().to_string()
}

/// Whether a process exists.
pub fn alive(pid: i32) -> bool {
    // A zombie still "exists"; treat it as dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.split(") ").nth(1).unwrap_or("").starts_with('Z'),
        Err(_) => false,
    }
}

static PORT_BLOCK: AtomicUsize = AtomicUsize::new(0);

/// Agent resources with a host-port range of its own, so clusters that tests run side by
/// side never hand the same port to two tasks.
///
/// `KEEL_TEST_PORT_BASE` moves the ranges (40 blocks of 100 from that port), so suites of
/// separate checkouts can run on one machine at once.
pub fn resources_with_own_ports(base: &str) -> String {
    let block = PORT_BLOCK.fetch_add(1, Ordering::SeqCst);
    let start = match std::env::var("KEEL_TEST_PORT_BASE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(first) => first + (block % 40) * 100,
        // Below the kernel's ephemeral ports (32768..) and the agents' default range
        // (31000-32000): a client socket must never hold a port a task is to listen on.
        None => 21_000 + (block % 100) * 100,
    };
    format!("{base};ports:[{start}-{}]", start + 99)
}
