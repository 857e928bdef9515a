//! Container benchmarks: create+start+stop of `/bin/true` from a cached image through
//! Keel's own runtime (`keel container-init`, the step the executor runs per container),
//! side by side with `docker run --rm` of the same image; and 100 containers launched on
//! one agent through Marathon, timed until all are RUNNING.

use crate::bench::{keel_bin, post_json, start, tempdir, wait_agents, wait_marathon_running};
use anyhow::{Context, bail};
use serde_json::json;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

pub fn containers(root: &Path, smoke: bool) -> anyhow::Result<()> {
    let bin = keel_bin(root)?;
    let dir = tempdir("containers");
    let archive = keel_image::testing::busybox_archive(&dir.join("build"));
    let store = keel_image::ImageStore::open(&dir.join("store"))?;
    let image = store.load_archive(&archive, Some("busybox:latest"))?;
    let (n, docker_n, instances) = if smoke { (5, 1, 5) } else { (100, 20, 100) };
    let keel_ms = runtime_cycles(&bin, &dir, &image.layers, n)?;
    let docker_ms = docker_cycles(&archive, docker_n)?;
    println!(
        "containers: create+start+stop of /bin/true from a cached image, median of {n}: \
         keel runtime {keel_ms:.1} ms; docker run --rm (median of {docker_n}) {docker_ms:.0} ms   \
         (goal <= 20 ms; libcontainer alone ~8 ms, crun 47 ms, runc 225 ms published)"
    );
    let secs = many_on_one_agent(&bin, &dir, &archive, instances)?;
    println!(
        "containers: {instances} busybox containers (Keel's runtime) on one agent via Marathon: \
         all RUNNING after {secs:.2} s"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Median milliseconds of `n` runs of `keel container-init` for `/bin/true` over `layers`,
/// including removing the container's writable layer.
fn runtime_cycles(
    bin: &Path,
    dir: &Path,
    layers: &[std::path::PathBuf],
    n: usize,
) -> anyhow::Result<f64> {
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(&sandbox)?;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let c = dir.join(format!("c{i}"));
        let plan = json!({
            "rootfs_dir": c.join("rootfs"),
            "rootfs": {"Overlay": {"layers": layers, "upper": c.join("upper"), "work": c.join("work")}},
            "mounts": [{"source": {"Bind": sandbox}, "target": "/mnt/mesos/sandbox", "readonly": false}],
            "program": "/bin/true",
            "argv": ["true"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "user": null,
        });
        std::fs::create_dir_all(&c)?;
        let plan_path = c.join("plan.json");
        std::fs::write(&plan_path, serde_json::to_vec(&plan)?)?;
        let t0 = Instant::now();
        let (read, write) = pipe()?;
        let fd = write.as_raw_fd();
        let mut cmd = Command::new(bin);
        cmd.arg("container-init")
            .arg(&plan_path)
            .arg(fd.to_string())
            .stdin(Stdio::null());
        // SAFETY: fcntl on an inherited descriptor number is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                libc::fcntl(fd, libc::F_SETFD, 0);
                Ok(())
            })
        };
        let status = cmd.status().context("running keel container-init")?;
        drop(write);
        let verdict = std::fs::read_to_string(format!("/proc/self/fd/{}", read.as_raw_fd()))
            .unwrap_or_default();
        std::fs::remove_dir_all(&c)?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        if !status.success() || verdict.trim() != "ok" {
            bail!("container-init: {status}, launch pipe said {verdict:?}");
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!("pipe2: {}", std::io::Error::last_os_error());
    }
    // SAFETY: freshly opened descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Median milliseconds of `docker run --rm busybox /bin/true` (the archive loaded first).
fn docker_cycles(archive: &Path, n: usize) -> anyhow::Result<f64> {
    let load = Command::new("docker")
        .arg("load")
        .arg("-i")
        .arg(archive)
        .output()
        .context("docker load")?;
    if !load.status.success() {
        bail!("docker load: {}", String::from_utf8_lossy(&load.stderr));
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let out = Command::new("docker")
            .args([
                "run",
                "--rm",
                "--network",
                "host",
                "busybox:latest",
                "/bin/true",
            ])
            .output()
            .context("docker run")?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        if !out.status.success() {
            bail!("docker run: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Seconds from posting an app of `n` UCR instances until all run, on one `keel dev` agent
/// that loads the image from an archive directory.
fn many_on_one_agent(bin: &Path, dir: &Path, archive: &Path, n: usize) -> anyhow::Result<f64> {
    let archives = dir.join("archives");
    std::fs::create_dir_all(&archives)?;
    std::fs::copy(archive, archives.join("busybox:latest.tar"))?;
    let data = dir.join("dev");
    let path = |p: &Path| p.to_str().unwrap_or_default().to_string();
    let resources = format!("cpus:{};mem:{}", n, n * 64 + 1024);
    let keel = start(
        bin,
        &[
            "dev",
            "--data-dir",
            &path(&data),
            "--listen",
            "127.0.0.1:0",
            "--resources",
            &resources,
            "--docker-registry",
            &path(&archives),
        ],
    )?;
    wait_agents(&keel.url, 1)?;
    let app = json!({"id": "/bench-ucr", "cmd": "exec sleep 3600", "cpus": 0.01, "mem": 16,
        "instances": n, "portDefinitions": [],
        "container": {"type": "MESOS", "docker": {"image": "busybox"}}});
    let t0 = Instant::now();
    post_json(&format!("{}/v2/apps", keel.url), &app)?;
    wait_marathon_running(&keel.url, n, 300)?;
    let secs = t0.elapsed().as_secs_f64();
    // Kill the tasks before the cluster goes (executors outlive `keel dev` by design).
    crate::bench::send_json(
        reqwest::Method::DELETE,
        &format!("{}/v2/apps/bench-ucr", keel.url),
        &json!({}),
    )?;
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    while crate::bench::marathon_running(&keel.url) > 0 && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(secs)
}
