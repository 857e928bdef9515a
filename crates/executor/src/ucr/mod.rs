//! Keel's own container runtime (Mesos's "UCR"), for `container.type MESOS` with an image:
//! provisions the image through `keel-image`, decides the container (`plan`), and starts
//! `keel container-init` in new mount, UTS, IPC and PID namespaces to build it (`init`,
//! `mount`) and run the task as the image's user (`user`). Networking is the host's.
//!
//! Everything the container writes outside its volumes lands in `<meta_dir>/container`,
//! which is removed when the task ends.

mod init;
mod mount;
pub(crate) mod plan;
mod user;

pub use init::container_init;

use keel_api::executor::{ExecutorConfig, ImageSettings, RootfsBackend};
use keel_image::{Image, ImageStore, Sources};
use keel_model::DockerSpec;
use plan::{Dirs, ImageDefaults, Layers};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The plan file `container-init` reads.
pub const PLAN_FILE: &str = "container.json";
/// The image layers a live container uses (read by the agent's image GC).
pub const LAYERS_FILE: &str = "image-layers.json";
/// Environment variable naming the program that implements `container-init` (default: this
/// executable).
pub const INIT_PROGRAM_ENV: &str = "KEEL_CONTAINER_INIT";
/// How long a pull may take when the agent sets no limit.
const DEFAULT_PULL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long building the container may take before the launch is given up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// A container ready to start: its plan on disk and its directories.
pub(crate) struct Prepared {
    pub plan_path: PathBuf,
    pub dirs: Dirs,
}

/// Why a container could not be prepared or started: the message of its TASK_FAILED.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UcrError {
    #[error(transparent)]
    Image(#[from] keel_image::ImageError),
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error("{0}")]
    Setup(String),
}

/// The image of a task that runs in Keel's own runtime.
pub(crate) fn image_of(task: &keel_model::TaskSpec) -> Option<&DockerSpec> {
    let c = task.container.as_ref()?;
    (c.kind == keel_model::ContainerKind::Mesos)
        .then_some(c.docker.as_ref())
        .flatten()
        .filter(|d| !d.image.is_empty())
}

/// Provisions the task's image and image volumes and writes the container's plan.
pub(crate) fn prepare(config: &ExecutorConfig, docker: &DockerSpec) -> Result<Prepared, UcrError> {
    let settings = &config.images;
    let store = ImageStore::open(&settings.store_dir)?;
    let sources = sources(settings);
    let reference = qualify(&docker.image, settings.default_registry.as_deref());
    let image = store.provision(&reference, &sources, docker.force_pull)?;
    let mut volumes = BTreeMap::new();
    let mut used: Vec<String> = image.layer_ids.clone();
    let task_volumes = config.task.container.iter().flat_map(|c| &c.volumes);
    for (i, v) in task_volumes.enumerate() {
        if let Some(name) = &v.image {
            let reference = qualify(name, settings.default_registry.as_deref());
            let vol = store.provision(&reference, &sources, false)?;
            used.extend(vol.layer_ids.iter().cloned());
            volumes.insert(i, vol.layers);
        }
    }
    // Sandbox-relative host paths are created, as Mesos does.
    for v in config.task.container.iter().flat_map(|c| &c.volumes) {
        if v.image.is_none() && !v.host_path.is_empty() && !v.host_path.starts_with('/') {
            let dir = config.sandbox.join(&v.host_path);
            std::fs::create_dir_all(&dir)
                .map_err(|e| UcrError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    let dirs = Dirs::under(&config.meta_dir);
    if let Some(dns) = &config.dns {
        if let Some(d) = dirs.resolv_conf.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| UcrError::Setup(format!("cannot create {}: {e}", d.display())))?;
        }
        std::fs::write(&dirs.resolv_conf, dns.resolv_conf()).map_err(|e| {
            UcrError::Setup(format!("cannot write {}: {e}", dirs.resolv_conf.display()))
        })?;
    }
    let overlay = use_overlay(settings.backend);
    if !overlay {
        keel_image::copy_rootfs(&image.layers, &dirs.rootfs)?;
    }
    let layers = Layers {
        rootfs: overlay.then_some(image.layers.as_slice()),
        volumes,
    };
    let plan = plan::plan(config, &reference, &defaults(&image), &layers, &dirs)?;
    let plan_path = config.meta_dir.join(PLAN_FILE);
    write_json(&plan_path, &plan)?;
    write_json(&config.meta_dir.join(LAYERS_FILE), &used)?;
    Ok(Prepared { plan_path, dirs })
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), UcrError> {
    let bytes = serde_json::to_vec(value).map_err(|e| UcrError::Setup(e.to_string()))?;
    std::fs::write(path, bytes)
        .map_err(|e| UcrError::Setup(format!("cannot write {}: {e}", path.display())))
}

fn defaults(image: &Image) -> ImageDefaults {
    let c = &image.config;
    ImageDefaults {
        entrypoint: c.entrypoint.clone(),
        cmd: c.cmd.clone(),
        env: c.env.clone(),
        working_dir: c.working_dir.clone(),
        user: c.user.clone(),
    }
}

fn sources(s: &ImageSettings) -> Sources {
    let mut insecure = s.insecure_registries.clone();
    if let Some(default) = &s.default_registry
        && let Some(host) = default.strip_prefix("http://")
    {
        insecure.push(host.trim_end_matches('/').to_string());
    }
    Sources {
        local_dir: s.local_dir.clone(),
        insecure_registries: insecure,
        ca_certs: s.ca_certs.clone(),
        credentials: s.credentials.clone(),
        timeout: match s.pull_timeout_secs {
            0 => DEFAULT_PULL_TIMEOUT,
            n => Duration::from_secs(n),
        },
    }
}

/// `image` with the default registry in front when it names none (Mesos's
/// `--docker_registry` as a URL).
fn qualify(image: &str, default_registry: Option<&str>) -> String {
    let Some(registry) = default_registry else {
        return image.to_string();
    };
    let host = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let names_registry = image.split_once('/').is_some_and(|(first, _)| {
        first.contains('.') || first.contains(':') || first == "localhost"
    });
    match names_registry || host.is_empty() {
        true => image.to_string(),
        false => format!("{host}/{image}"),
    }
}

/// Whether the root filesystem is an overlay (else a copy).
fn use_overlay(backend: RootfsBackend) -> bool {
    match backend {
        RootfsBackend::Overlay => true,
        RootfsBackend::Copy => false,
        RootfsBackend::Auto => std::fs::read_to_string("/proc/filesystems")
            .is_ok_and(|f| f.lines().any(|l| l.trim_end().ends_with("\toverlay"))),
    }
}

/// The program `container-init` runs as.
pub(crate) fn init_program() -> PathBuf {
    std::env::var_os(INIT_PROGRAM_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
}

/// The host pid of a container's init: the only child of `container-init`'s outer
/// process `outer`.
pub(crate) fn init_pid(outer: i32) -> Option<i32> {
    let children = std::fs::read_to_string(format!("/proc/{outer}/task/{outer}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

/// Waits for `container-init`'s verdict on the launch pipe: `Ok` once the task's program
/// runs, else why the container could not be built or the program not started.
pub(crate) fn await_launch(read: OwnedFd) -> Result<(), String> {
    let timeout = SETUP_TIMEOUT.as_millis() as i32;
    // On an error the read below tells what happened.
    if matches!(crate::sys::poll_in(read.as_raw_fd(), timeout), Ok(false)) {
        return Err(format!(
            "the container was not ready within {}s",
            SETUP_TIMEOUT.as_secs()
        ));
    }
    let mut line = String::new();
    let _ = BufReader::new(std::fs::File::from(read)).read_line(&mut line);
    match line.trim_end() {
        "ok" => Ok(()),
        "" => Err("the container's init exited before starting the task".into()),
        other => Err(other.strip_prefix("error: ").unwrap_or(other).to_string()),
    }
}

/// Removes what the container left on the host (its writable layer and copy).
pub(crate) fn remove(dirs: &Dirs) {
    if let Some(parent) = dirs.rootfs.parent()
        && let Err(e) = std::fs::remove_dir_all(parent)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %parent.display(), error = %e, "cannot remove the container's files");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_registry_prefixes_bare_names_only() {
        let r = Some("http://127.0.0.1:5000/");
        assert_eq!(qualify("busybox", r), "127.0.0.1:5000/busybox");
        assert_eq!(qualify("lib/busybox:1", r), "127.0.0.1:5000/lib/busybox:1");
        assert_eq!(qualify("quay.io/x/y", r), "quay.io/x/y");
        assert_eq!(qualify("localhost/y", r), "localhost/y");
        assert_eq!(qualify("h:5000/y", r), "h:5000/y");
        assert_eq!(qualify("busybox", None), "busybox");
        let s = sources(&ImageSettings {
            default_registry: Some("http://127.0.0.1:5000".into()),
            ..ImageSettings::default()
        });
        assert_eq!(s.insecure_registries, ["127.0.0.1:5000"]);
        assert_eq!(s.timeout, DEFAULT_PULL_TIMEOUT);
    }
}
