//! The agent flags shared by `keel agent` and `keel dev`: where images come from and how
//! they are kept (Mesos's `--docker_registry`, `--docker_store_dir`, `--docker_config`,
//! `--image_provisioner_backend`) and garbage collection (`--gc_delay`,
//! `--disk_watch_interval`, `--gc_disk_headroom`, Docker GC).

use anyhow::{Context, bail};
use clap::Args;
use keel_agent::GcConfig;
use keel_api::executor::{ImageSettings, RootfsBackend};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Args, Clone, Default)]
pub struct NodeOpts {
    /// Disable cgroup limits (for hosts where cgroups are not writable).
    #[arg(long)]
    pub no_cgroups: bool,
    /// Default registry for image names without one (`https://host[:port]`, `http://` for
    /// plain HTTP), or a directory of `<repo>:<tag>.tar` image archives.
    #[arg(long)]
    docker_registry: Option<String>,
    /// Where pulled image layers are cached (default: `<work-dir>/store/docker`).
    #[arg(long)]
    docker_store_dir: Option<PathBuf>,
    /// A Docker `config.json` whose `auths` give registry credentials.
    #[arg(long)]
    docker_config: Option<PathBuf>,
    /// A registry (`host[:port]`) reached over plain HTTP; repeatable. Registries on
    /// loopback (localhost, 127.0.0.0/8, ::1) fall back to plain HTTP without it.
    #[arg(long = "insecure-registry")]
    insecure_registries: Vec<String>,
    /// A PEM CA certificate trusted for HTTPS registries; repeatable.
    #[arg(long = "registry-ca")]
    registry_cas: Vec<PathBuf>,
    /// How containers get their root filesystem: auto, overlay or copy.
    #[arg(long, default_value = "auto")]
    image_provisioner_backend: String,
    /// Time limit of one image pull (e.g. 10mins).
    #[arg(long, default_value = "10mins")]
    image_pull_timeout: String,
    /// How long a finished task's sandbox is kept when the disk is empty (e.g. 1weeks).
    #[arg(long, default_value = "1weeks")]
    gc_delay: String,
    /// Time between garbage collection passes and disk usage checks.
    #[arg(long, default_value = "1mins")]
    disk_watch_interval: String,
    /// Disk share to keep free; sandboxes are collected sooner as usage approaches it.
    #[arg(long, default_value_t = 0.1)]
    gc_disk_headroom: f64,
    /// Age past which exited Keel Docker containers and unused images are removed.
    #[arg(long, default_value = "1hrs")]
    docker_gc_max_age: String,
    /// Do not collect Docker containers and images.
    #[arg(long)]
    no_docker_gc: bool,
    /// Age past which cached images no container uses are removed.
    #[arg(long, default_value = "1weeks")]
    image_gc_max_age: String,
    /// Size in bytes at which a task's `stdout`/`stderr` is rotated (0: never).
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub log_rotate_max_size: u64,
    /// Rotated files kept per stream (`stdout.1` .. `stdout.N`).
    #[arg(long, default_value_t = 5)]
    pub log_rotate_max_files: u32,
    /// Bytes of each of a task's `stdout`/`stderr` (its tail) kept, compressed, in the log
    /// archive when the GC removes the sandbox (0: no archive).
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    log_archive_max_task_bytes: u64,
    /// Compressed bytes the node's log archive may hold; the oldest runs go first.
    #[arg(long, default_value_t = 1024 * 1024 * 1024)]
    log_archive_max_node_bytes: u64,
    /// Age past which archived task logs are removed.
    #[arg(long, default_value = "2weeks")]
    log_archive_max_age: String,
}

impl NodeOpts {
    /// The image settings of an agent whose work directory is `work_dir`.
    pub fn images(&self, work_dir: &Path) -> anyhow::Result<ImageSettings> {
        let mut s = ImageSettings {
            store_dir: self
                .docker_store_dir
                .clone()
                .unwrap_or_else(|| work_dir.join("store").join("docker")),
            insecure_registries: self.insecure_registries.clone(),
            ca_certs: self.registry_cas.clone(),
            pull_timeout_secs: duration("--image-pull-timeout", &self.image_pull_timeout)?
                .as_secs(),
            backend: match self.image_provisioner_backend.as_str() {
                "auto" => RootfsBackend::Auto,
                "overlay" => RootfsBackend::Overlay,
                "copy" => RootfsBackend::Copy,
                other => {
                    bail!("--image-provisioner-backend {other:?}: expected auto, overlay or copy")
                }
            },
            ..ImageSettings::default()
        };
        match self.docker_registry.as_deref() {
            Some(r) if r.starts_with('/') || Path::new(r).is_dir() => {
                s.local_dir = Some(PathBuf::from(r));
            }
            Some(r) => s.default_registry = Some(r.to_string()),
            None => {}
        }
        if let Some(path) = &self.docker_config {
            s.credentials = docker_credentials(path)?;
        }
        Ok(s)
    }

    /// The garbage collection settings.
    pub fn gc(&self) -> anyhow::Result<GcConfig> {
        if !(0.0..1.0).contains(&self.gc_disk_headroom) {
            bail!(
                "--gc-disk-headroom {}: expected a share in [0, 1)",
                self.gc_disk_headroom
            );
        }
        Ok(GcConfig {
            interval: duration("--disk-watch-interval", &self.disk_watch_interval)?,
            sandbox_delay: duration("--gc-delay", &self.gc_delay)?,
            disk_headroom: self.gc_disk_headroom,
            docker: !self.no_docker_gc,
            docker_max_age: duration("--docker-gc-max-age", &self.docker_gc_max_age)?,
            image_max_age: duration("--image-gc-max-age", &self.image_gc_max_age)?,
            archive: keel_logs::archive::ArchiveLimits {
                max_task_bytes: self.log_archive_max_task_bytes,
                max_node_bytes: self.log_archive_max_node_bytes,
                max_age: duration("--log-archive-max-age", &self.log_archive_max_age)?,
            },
        })
    }
}

/// A Mesos duration: a number and a unit (`ns`, `us`, `ms`, `secs`, `mins`, `hrs`,
/// `days`, `weeks`; also `s`, `m`, `h`, `d`, `w`), e.g. `90secs`, `1.5hrs`.
pub fn duration(flag: &str, text: &str) -> anyhow::Result<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .with_context(|| format!("{flag} {text:?}: expected a number and a unit, e.g. 10mins"))?;
    let unit_secs = match unit.trim() {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "" | "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hrs" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        other => bail!("{flag} {text:?}: unknown unit {other:?}"),
    };
    let secs = value * unit_secs;
    if !secs.is_finite() || secs < 0.0 {
        bail!("{flag} {text:?}: out of range");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `auths` of a Docker `config.json`: `auth` (base64 of `user:password`) or `username`
/// and `password` per registry; `https://` prefixes and `/v1/`-style suffixes dropped.
fn docker_credentials(path: &Path) -> anyhow::Result<BTreeMap<String, (String, String)>> {
    use base64::Engine;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --docker-config {}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("parsing --docker-config {}", path.display()))?;
    let mut out = BTreeMap::new();
    let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else {
        return Ok(out);
    };
    for (registry, entry) in auths {
        let host = registry
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let field = |k: &str| entry.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let pair = match (field("auth"), field("username"), field("password")) {
            (_, Some(u), Some(p)) => (u, p),
            (Some(auth), _, _) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .with_context(|| format!("--docker-config: bad auth for {registry}"))?;
                let text = String::from_utf8(raw)
                    .with_context(|| format!("--docker-config: bad auth for {registry}"))?;
                match text.split_once(':') {
                    Some((u, p)) => (u.to_string(), p.to_string()),
                    None => bail!("--docker-config: auth for {registry} is not user:password"),
                }
            }
            _ => continue,
        };
        out.insert(host, pair);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |t: &str| duration("--x", t).map(|d| d.as_secs_f64()).ok();
        assert_eq!(ok("90secs"), Some(90.0));
        assert_eq!(ok("1.5hrs"), Some(5400.0));
        assert_eq!(ok("1weeks"), Some(604_800.0));
        assert_eq!(ok("250ms"), Some(0.25));
        assert_eq!(ok("30"), Some(30.0));
        for bad in ["", "x", "10parsecs", "-1s"] {
            let err = duration("--gc-delay", bad).expect_err(bad).to_string();
            assert!(err.contains("--gc-delay"), "{err}");
        }
    }

    #[test]
    fn docker_config_auths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.json");
        // "alice:s3cret" in base64.
        let doc = r#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcmV0"},
            "127.0.0.1:5000": {"username": "bob", "password": "pw"},
            "other": {}}}"#;
        std::fs::write(&path, doc).expect("write");
        let creds = docker_credentials(&path).expect("parse");
        assert_eq!(
            creds,
            BTreeMap::from([
                (
                    "127.0.0.1:5000".to_string(),
                    ("bob".to_string(), "pw".to_string())
                ),
                (
                    "index.docker.io".to_string(),
                    ("alice".to_string(), "s3cret".to_string())
                ),
            ])
        );
    }
}
