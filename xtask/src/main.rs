//! `cargo xtask`: the one command CI runs (`ci`: install prerequisites, tidy checks, fmt,
//! clippy, every test, client compatibility tests, benchmark smoke), plus `tidy` and `bench`.

mod bench;
mod bench_containers;
mod bench_dns;
mod bench_http;
mod bench_logs;
mod bench_metrics;
mod bench_net;
mod bench_writes;
mod tidy;

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages the tests need.
const APT_PACKAGES: &[&str] = &[
    "busybox-static",
    "docker-registry",
    "skopeo",
    "apache2-utils",
    "openssl",
    // DNS: dig for tests/dns.rs, unbound as the test upstream and benchmark peer, dnsperf.
    "dnsutils",
    "unbound",
    "dnsperf",
    "nginx",
    "wrk",
    // The VIP benchmark's peer.
    "haproxy",
    // tests/metrics.rs: a real Prometheus server scrapes keel dev.
    "prometheus",
];
/// Python packages of the client compatibility tests.
const PIP_PACKAGES: &[&str] = &[
    "avmesos-cli==1.0.0",
    "marathon==0.13.0",
    "toml",
    "requests",
    "dnspython",
    "websockets==15.0.1",
];

/// The DC/OS CLI gets its own venv: its old pins (virtualenv<16, jsonschema<3, ...) clash
/// with the other clients. Installed as `shared/reference/clients.md` says: the two
/// packages without their dependencies (dcoscli pins a cryptography that does not build on
/// OpenSSL 3), then the dependencies that work.
const DCOS_CLI: &[&str] = &["dcoscli==0.6.1", "dcos==0.6.1"];
const DCOS_CLI_DEPS: &[&str] = &[
    "docopt",
    "pkginfo==1.2.1",
    "toml",
    "virtualenv<16",
    "sseclient==0.0.19",
    "retrying==1.3.3",
    "jsonschema<3",
    "pager",
    "prettytable<1",
    "PyJWT==1.4.2",
    "pygments<3",
    "requests",
    "six",
    "cryptography",
];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("tidy") => tidy::run(&root),
        Some("deps") => install_prereqs(&root),
        Some("bench") => bench::run(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | tidy | deps | bench <allocator|submit|idle-rss|agent-restart|store|writes|jobs|marathon|placement|containers|dns|proxy|vip|all> [--smoke]"
            );
            bail!("unknown command {:?}", args.first())
        }
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command, echoing it, failing on a non-zero exit.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("$ {cmd:?}");
    let st = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !st.success() {
        bail!("{cmd:?} failed with {st}");
    }
    Ok(())
}

fn ci(root: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    install_prereqs(root)?;
    tidy::run(root)?;
    run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
    run(Command::new("cargo").args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(Command::new("cargo").args(["build", "--workspace", "--all-targets"]))?;
    run(Command::new("cargo").args(["test", "--workspace", "--", "--test-threads", "2"]))?;
    let keel = root.join("target/debug/keel");
    run(Command::new(venv_python(root))
        .arg(root.join("tests/compat/test_mesos_clients.py"))
        .env("KEEL_BIN", &keel))?;
    // marathon-python 0.13.0 needs the `collections` aliases of tests/compat/sitecustomize.py.
    run(Command::new(venv_python(root))
        .arg(root.join("tests/compat/test_marathon_python.py"))
        .env("KEEL_BIN", &keel)
        .env("PYTHONPATH", root.join("tests/compat")))?;
    // dnspython against Keel's DNS (the keel dev of tests/compat/dcos_env.py, no CLI).
    run(Command::new(venv_python(root))
        .arg(root.join("tests/compat/test_dnspython.py"))
        .env("KEEL_BIN", &keel))?;
    // dcoscli 0.6.1 (own venv); tests/compat/dcos_env.py sets DCOS_DIR and PYTHONPATH.
    for script in [
        "test_dcos_job.py",
        "test_dcos_marathon.py",
        "test_dcos_logs.py",
        "test_dcos_node.py",
        "test_dcos_diagnostics.py",
        "test_dcos_metrics.py",
    ] {
        run(Command::new(root.join(".venv-dcos/bin/python"))
            .arg(root.join("tests/compat").join(script))
            .env("KEEL_BIN", &keel))?;
    }
    bench::run(root, &["all".into(), "--smoke".into()])?;
    eprintln!("ci passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn venv_python(root: &Path) -> PathBuf {
    root.join(".venv/bin/python")
}

/// Installs Debian packages (when missing) and the Python venv of the compatibility tests.
fn install_prereqs(root: &Path) -> anyhow::Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg")
                .args(["-s", p])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
        .collect();
    if !missing.is_empty() {
        run(Command::new("apt-get").arg("update").arg("-q"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let py = venv_python(root);
    if !py.exists() {
        run(Command::new("python3")
            .args(["-m", "venv"])
            .arg(root.join(".venv")))?;
    }
    run(Command::new(&py)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(PIP_PACKAGES))?;
    install_dcos_cli(root)
}

/// The DC/OS CLI in `.venv-dcos` (see [`DCOS_CLI`]).
fn install_dcos_cli(root: &Path) -> anyhow::Result<()> {
    let venv = root.join(".venv-dcos");
    let py = venv.join("bin/python");
    if !py.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let pip = ["-m", "pip", "install", "-q", "--disable-pip-version-check"];
    run(Command::new(&py).args(pip).arg("--no-deps").args(DCOS_CLI))?;
    run(Command::new(&py).args(pip).args(DCOS_CLI_DEPS))?;
    Ok(())
}
