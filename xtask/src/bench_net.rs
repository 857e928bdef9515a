//! What the network benchmarks share: peer daemons (Debian `unbound`, `nginx`, `haproxy`)
//! killed when dropped, CPU pinning with `taskset` (the server under test on core 0, the
//! load generator on core 1, so "per core" is real), `wrk` runs and their figures, and a
//! minimal DNS query for polling loops.

use anyhow::{Context, bail};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The core servers under test run on.
pub(crate) const SERVER_CORE: &str = "0";
/// The core load generators (dnsperf, wrk) run on: core 1, or core 0 on a one-core
/// machine.
pub(crate) fn client_core() -> &'static str {
    match std::thread::available_parallelism() {
        Ok(n) if n.get() >= 2 => "1",
        _ => "0",
    }
}

/// A peer process, stopped when dropped.
pub(crate) struct Daemon {
    child: Child,
    what: String,
}

impl Daemon {
    /// Starts `program args` pinned to `core`, output discarded (stderr kept).
    pub(crate) fn pinned(core: &str, program: &str, args: &[&str]) -> anyhow::Result<Daemon> {
        let child = Command::new("taskset")
            .args(["-c", core, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {program} (Debian package)"))?;
        Ok(Daemon {
            child,
            what: program.to_string(),
        })
    }

    /// Fails if the process already exited.
    pub(crate) fn check(&mut self) -> anyhow::Result<()> {
        if let Some(st) = self.child.try_wait()? {
            bail!("{} exited: {st}", self.what);
        }
        Ok(())
    }
}

impl Drop for Daemon {
    /// SIGTERM first, so a master process (nginx, haproxy) takes its workers along; SIGKILL
    /// if it is still there after 3 s.
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Moves every thread of process `pid` onto `core`.
pub(crate) fn pin(pid: u32, core: &str) -> anyhow::Result<()> {
    crate::run(
        Command::new("taskset")
            .args(["-a", "-c", "-p", core, &pid.to_string()])
            .stdout(Stdio::null()),
    )
}

/// A free loopback port.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits (at most `secs`) until `addr` accepts TCP connections.
pub(crate) fn wait_tcp(addr: SocketAddr, secs: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("nothing accepts connections on {addr}")
}

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Wrk {
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Non-2xx/3xx answers plus socket errors.
    pub(crate) errors: u64,
}

impl std::fmt::Display for Wrk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>9.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms",
            self.rps, self.p50_ms, self.p99_ms
        )?;
        if self.errors > 0 {
            write!(f, "  ({} errors)", self.errors)?;
        }
        Ok(())
    }
}

/// Runs `wrk` on the client core: `conns` connections over one thread for `secs`, extra
/// arguments (headers) before the URL.
pub(crate) fn wrk(url: &str, conns: u32, secs: u64, extra: &[&str]) -> anyhow::Result<Wrk> {
    let out = Command::new("taskset")
        .args(["-c", client_core(), "wrk", "--latency", "-t1"])
        .arg(format!("-c{conns}"))
        .arg(format!("-d{secs}s"))
        .args(extra)
        .arg(url)
        .output()
        .context("running wrk (Debian wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!("wrk {url}: {}\n{text}", out.status);
    }
    parse_wrk(&text).with_context(|| format!("wrk {url} printed:\n{text}"))
}

fn parse_wrk(text: &str) -> anyhow::Result<Wrk> {
    let mut w = Wrk::default();
    let mut in_dist = false;
    for line in text.lines().map(str::trim) {
        let mut f = line.split_whitespace();
        match (f.next(), f.next()) {
            (Some("Requests/sec:"), Some(v)) => w.rps = v.parse()?,
            (Some("Latency"), Some("Distribution")) => in_dist = true,
            (Some("50%"), Some(v)) if in_dist => w.p50_ms = duration_ms(v)?,
            (Some("99%"), Some(v)) if in_dist => w.p99_ms = duration_ms(v)?,
            (Some("Non-2xx"), _) => {
                w.errors += line.rsplit(' ').next().unwrap_or("0").parse::<u64>()?;
            }
            (Some("Socket"), Some("errors:")) => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                w.errors += line
                    .split(',')
                    .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    if w.rps == 0.0 {
        bail!("no Requests/sec line");
    }
    Ok(w)
}

/// `wrk`'s `1.23ms`, `456.00us`, `1.01s` in milliseconds.
fn duration_ms(v: &str) -> anyhow::Result<f64> {
    let split = v
        .find(|c: char| c.is_ascii_alphabetic())
        .context("duration without a unit")?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse()?;
    Ok(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => bail!("unit {unit:?}"),
    })
}

/// An nginx config serving `www` on `port` (a backend for the proxy and VIP benches): one
/// worker, no logs, keep-alive without a request limit.
pub(crate) fn nginx_static_conf(port: &str, www: &Path) -> String {
    format!(
        "worker_processes 1;\n{user}daemon off;\npid nginx-{port}.pid;\nerror_log stderr error;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 100000000;\n  keepalive_timeout 300s;\n\
           server {{ listen 127.0.0.1:{port} reuseport backlog=4096; root {www}; location / {{ }} }}\n}}\n",
        user = root_user(),
        www = www.display()
    )
}

/// nginx as root wants `user root;` for its workers to read our temp files.
pub(crate) fn root_user() -> &'static str {
    if unsafe { libc::geteuid() } == 0 {
        "user root;\n"
    } else {
        ""
    }
}

/// The body files of the HTTP benches: `0b` (empty) and `4k` (4096 bytes).
pub(crate) fn write_bodies(www: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(www)?;
    std::fs::write(www.join("0b"), b"")?;
    std::fs::write(www.join("4k"), vec![b'k'; 4096])?;
    Ok(())
}

/// Calls `f` until it succeeds, every 100 ms for at most `secs`; the last error otherwise.
pub(crate) fn retry<T>(secs: u64, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A bench's temp directory: when dropped (also on an early error), the processes under it
/// are killed ([`kill_under`]) and it is removed.
pub(crate) struct Scratch(pub(crate) std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        kill_under(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SIGKILLs the processes a bench's cluster left behind: those started from or working in
/// `dir` (tasks outlive `keel` by design). `dir` is the bench's own temp directory.
pub(crate) fn kill_under(dir: &Path) {
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
        let cwd = std::fs::read_link(p.path().join("cwd")).is_ok_and(|c| c.starts_with(dir));
        let cmd = std::fs::read(p.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle));
        if cwd || cmd {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// A DNS query for `name` and `qtype` (1 = A, 33 = SRV) with id `id`.
pub(crate) fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    p.extend(id.to_be_bytes());
    p.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        p.push(label.len().min(63) as u8);
        p.extend(label.as_bytes().iter().take(63));
    }
    p.push(0);
    p.extend(qtype.to_be_bytes());
    p.extend(1u16.to_be_bytes());
    p
}

/// What one query got: (rcode, answer count), or None on a timeout or a stray reply.
pub(crate) fn dns_ask(
    sock: &UdpSocket,
    server: SocketAddr,
    id: u16,
    name: &str,
    qtype: u16,
) -> Option<(u8, u16)> {
    sock.send_to(&dns_query(id, name, qtype), server).ok()?;
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            return None;
        };
        if n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            return Some((buf[3] & 0x0f, u16::from_be_bytes([buf[6], buf[7]])));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_parsed() {
        let out = "Running 1s test @ http://127.0.0.1:1/\n  1 threads and 1 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency    61.00us   10.00us 500.00us   90.00%\n  Latency Distribution\n     50%   58.00us\n     75%   62.00us\n     90%   70.00us\n     99%    1.20ms\n  16000 requests in 1.00s, 2.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 4\nRequests/sec:  16000.50\nTransfer/sec:      2.00MB\n";
        let w = parse_wrk(out).expect("parsed");
        assert_eq!(w.rps, 16000.5);
        assert!((w.p50_ms - 0.058).abs() < 1e-9);
        assert!((w.p99_ms - 1.2).abs() < 1e-9);
        assert_eq!(w.errors, 7);
    }

    #[test]
    fn dns_query_encodes_labels() {
        let q = dns_query(7, "a.bc.", 33);
        assert_eq!(&q[..2], &[0, 7]);
        assert_eq!(&q[12..], &[1, b'a', 2, b'b', b'c', 0, 0, 33, 0, 1]);
    }
}
