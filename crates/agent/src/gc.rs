//! Garbage collection on the agent, on a configurable interval: sandboxes of completed
//! tasks and the ephemeral volume directories of task groups none of whose tasks is live
//! (Mesos `gc_delay`, sooner under disk pressure as with `disk_watch_interval`), and
//! Docker leftovers (exited Keel containers, images only Keel containers used, and on the
//! first pass after a start, running containers of this agent that no task owns).
//! Nothing a live task uses is ever removed. Each collector logs what it removed and counts
//! it for `/metrics/snapshot`.

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptions, RemoveContainerOptions, RemoveImageOptions,
};
use keel_executor::{LABEL_AGENT, LABEL_CONTAINER};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// How and how often the agent collects garbage.
#[derive(Debug, Clone)]
pub struct GcConfig {
    /// Time between passes.
    pub interval: Duration,
    /// How long a completed task's sandbox is kept with an empty disk (Mesos `gc_delay`).
    pub sandbox_delay: Duration,
    /// Disk share kept free: the age allowed shrinks to 0 as usage reaches `1 - headroom`
    /// (Mesos `gc_disk_headroom`).
    pub disk_headroom: f64,
    /// Collect Docker containers and images.
    pub docker: bool,
    /// Exited Keel containers and unused images Keel used are removed past this age.
    pub docker_max_age: Duration,
    /// Cached images (Keel's own runtime) no container used for this long are removed;
    /// shortened under disk pressure like sandboxes.
    pub image_max_age: Duration,
    /// What the log archive keeps of collected sandboxes (`keel_logs::archive`).
    pub archive: keel_logs::archive::ArchiveLimits,
}

impl Default for GcConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            sandbox_delay: Duration::from_secs(7 * 24 * 3600),
            disk_headroom: 0.1,
            docker: true,
            docker_max_age: Duration::from_secs(3600),
            image_max_age: Duration::from_secs(7 * 24 * 3600),
            archive: keel_logs::archive::ArchiveLimits::default(),
        }
    }
}

/// What the collectors removed since the agent started.
#[derive(Debug, Default)]
pub struct GcCounters {
    pub sandboxes_removed: AtomicU64,
    pub docker_containers_removed: AtomicU64,
    pub docker_images_removed: AtomicU64,
    pub images_removed: AtomicU64,
    pub image_layers_removed: AtomicU64,
}

impl GcCounters {
    /// `(metric name, value)` pairs for `/metrics/snapshot`.
    pub fn snapshot(&self) -> [(&'static str, u64); 5] {
        [
            (
                "gc/sandboxes_removed",
                self.sandboxes_removed.load(Ordering::Relaxed),
            ),
            (
                "gc/docker_containers_removed",
                self.docker_containers_removed.load(Ordering::Relaxed),
            ),
            (
                "gc/docker_images_removed",
                self.docker_images_removed.load(Ordering::Relaxed),
            ),
            (
                "gc/images_removed",
                self.images_removed.load(Ordering::Relaxed),
            ),
            (
                "gc/image_layers_removed",
                self.image_layers_removed.load(Ordering::Relaxed),
            ),
        ]
    }
}

/// Mesos's rule: the age a sandbox may reach at disk usage `usage` (0..1).
pub fn allowed_age(delay: Duration, headroom: f64, usage: f64) -> Duration {
    let factor = (1.0 - headroom - usage).clamp(0.0, 1.0);
    delay.mul_f64(factor)
}

/// The used share of the filesystem holding `path`.
pub fn disk_usage(path: &Path) -> Option<f64> {
    let st = crate::sys::statvfs(path).filter(|st| st.blocks > 0)?;
    Some(1.0 - st.available as f64 / st.blocks as f64)
}

/// Removes run directories (`slaves/*/frameworks/*/executors/*/runs/<container>`) and their
/// meta directories older than `max_age`, except those of `live` containers. Returns the
/// removed sandboxes.
pub fn collect_sandboxes(
    work_dir: &Path,
    live: &BTreeSet<String>,
    max_age: Duration,
    now: SystemTime,
) -> Vec<PathBuf> {
    collect_sandboxes_archiving(work_dir, live, max_age, now, None)
}

/// [`collect_sandboxes`], keeping each removed sandbox's `stdout`/`stderr` in the log
/// archive (`<work_dir>/log-archive`) within `archive`'s limits first; the archive is then
/// pruned to its age and size limits.
pub fn collect_sandboxes_archiving(
    work_dir: &Path,
    live: &BTreeSet<String>,
    max_age: Duration,
    now: SystemTime,
    archive: Option<&keel_logs::archive::ArchiveLimits>,
) -> Vec<PathBuf> {
    let archive_dir = work_dir.join(keel_logs::archive::ARCHIVE_DIR);
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut removed = Vec::new();
    for run in run_dirs(work_dir) {
        let Some(container) = run.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if live.contains(&container) || container == "latest" {
            continue;
        }
        let age = now.duration_since(newest_mtime(&run)).unwrap_or_default();
        if age < max_age {
            continue;
        }
        if let Some(limits) = archive {
            match keel_logs::archive::archive_run(&archive_dir, &run, limits, now_secs) {
                Ok(Some(kept)) => {
                    tracing::info!(dir = %run.display(), archive = %kept.display(), "gc: archived the task's logs")
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(dir = %run.display(), error = %e, "gc: cannot archive the task's logs")
                }
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&run) {
            tracing::warn!(dir = %run.display(), error = %e, "gc: cannot remove sandbox");
            continue;
        }
        let _ = std::fs::remove_dir_all(work_dir.join("meta").join("runs").join(&container));
        if let Some(runs) = run.parent() {
            let latest = runs.join("latest");
            if std::fs::read_link(&latest).is_ok_and(|t| t == Path::new(&container)) {
                let _ = std::fs::remove_file(&latest);
            }
        }
        tracing::info!(dir = %run.display(), age_secs = age.as_secs(), "gc: removed sandbox");
        removed.push(run);
    }
    if let Some(limits) = archive {
        for dir in keel_logs::archive::prune(&archive_dir, limits, now_secs) {
            tracing::info!(archive = %dir.display(), "gc: removed archived logs");
        }
    }
    removed
}

fn run_dirs(work_dir: &Path) -> Vec<PathBuf> {
    let mut level = vec![work_dir.join("slaves")];
    for step in ["", "frameworks", "", "executors", "", "runs", ""] {
        level = level
            .iter()
            .flat_map(|dir| {
                if step.is_empty() {
                    subdirs(dir)
                } else {
                    vec![dir.join(step)]
                }
            })
            .collect();
    }
    level
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// The latest modification of `dir` or a file directly in it (the task's output files).
fn newest_mtime(dir: &Path) -> SystemTime {
    let mtime = |p: &Path| std::fs::symlink_metadata(p).and_then(|m| m.modified()).ok();
    let own = mtime(dir).unwrap_or(SystemTime::UNIX_EPOCH);
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| mtime(&e.path()))
        .fold(own, SystemTime::max)
}

/// Connects to the local Docker Engine, or `None` when there is none.
pub async fn connect_docker() -> Option<Docker> {
    let docker = Docker::connect_with_local_defaults().ok()?;
    match tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version()).await {
        Ok(Ok(docker)) => Some(docker),
        _ => None,
    }
}

/// What one Docker pass removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DockerRemoved {
    pub containers: Vec<String>,
    pub images: Vec<String>,
}

/// One Docker pass for `agent_id`: removes its containers that no `live` container id owns,
/// when they have exited and were created more than `max_age` ago, or whatever their state
/// and age when `orphans` is set (the first pass after a start); then images that Keel's
/// containers used (`used_images`: image → last seen in use, Unix seconds), that no
/// container uses any more and that were last used more than `max_age` ago.
pub async fn collect_docker(
    docker: &Docker,
    agent_id: &str,
    live: &BTreeSet<String>,
    max_age: Duration,
    orphans: bool,
    used_images: &mut BTreeMap<String, f64>,
    now: f64,
) -> DockerRemoved {
    let mut removed = DockerRemoved::default();
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_AGENT}={agent_id}")],
    )]);
    let options = ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    let Ok(mine) = docker.list_containers(Some(options)).await else {
        return removed;
    };
    for c in mine {
        let labels = c.labels.clone().unwrap_or_default();
        let owner = labels.get(LABEL_CONTAINER).cloned().unwrap_or_default();
        let image = c.image.clone().unwrap_or_default();
        let running = c.state.map(|s| s.to_string()) == Some("running".into());
        if !image.is_empty() {
            used_images.insert(image, now);
        }
        if live.contains(&owner) {
            continue;
        }
        let old = now - c.created.unwrap_or(0) as f64 >= max_age.as_secs_f64();
        let remove = if running { orphans } else { orphans || old };
        let Some(id) = c.id.filter(|_| remove) else {
            continue;
        };
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => {
                let what = if running { "orphan" } else { "exited" };
                tracing::info!(container = %id, task_container = %owner, "gc: removed {what} docker container");
                removed.containers.push(id);
            }
            Err(e) => tracing::warn!(container = %id, error = %e, "gc: cannot remove container"),
        }
    }
    removed.images = collect_images(docker, max_age, used_images, now).await;
    removed
}

/// Removes the images Keel used that no container (of anyone) uses and that were last
/// used more than `max_age` ago.
async fn collect_images(
    docker: &Docker,
    max_age: Duration,
    used_images: &mut BTreeMap<String, f64>,
    now: f64,
) -> Vec<String> {
    let options = ListContainersOptions {
        all: true,
        ..Default::default()
    };
    let Ok(all) = docker.list_containers(Some(options)).await else {
        return Vec::new();
    };
    let in_use: BTreeSet<String> = all
        .iter()
        .flat_map(|c| [c.image.clone(), c.image_id.clone()])
        .flatten()
        .collect();
    let mut removed = Vec::new();
    for (image, last_used) in used_images.clone() {
        if in_use.contains(&image) {
            used_images.insert(image, now);
            continue;
        }
        if now - last_used < max_age.as_secs_f64() {
            continue;
        }
        match docker
            .remove_image(&image, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => {
                tracing::info!(%image, "gc: removed unused docker image");
                removed.push(image.clone());
            }
            Err(e) => tracing::debug!(%image, error = %e, "gc: image not removed"),
        }
        used_images.remove(&image);
    }
    removed
}

/// The layers of Keel's image cache that live containers use (recorded by their executors).
fn layers_in_use(meta_dirs: &[PathBuf]) -> BTreeSet<String> {
    meta_dirs
        .iter()
        .filter_map(|d| std::fs::read(d.join(keel_executor::LAYERS_FILE)).ok())
        .filter_map(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
        .flatten()
        .collect()
}

/// Keel's image-cache GC: images unused for `max_age` whose layers no live container uses.
async fn collect_image_cache(agent: &crate::Agent, max_age: Duration) {
    let meta_dirs: Vec<PathBuf> = agent.with_core(|c| {
        c.tasks
            .values()
            .filter(|e| !e.rec.completed)
            .map(|e| e.rec.meta_dir.clone())
            .collect()
    });
    let store_dir = agent.settings.images.store_dir.clone();
    if !store_dir.exists() {
        return;
    }
    let report = tokio::task::spawn_blocking(move || {
        let in_use = layers_in_use(&meta_dirs);
        keel_image::ImageStore::open(&store_dir)
            .and_then(|store| store.gc(max_age, &in_use, keel_clock::wall()))
    })
    .await;
    match report {
        Ok(Ok(r)) => {
            for image in &r.images {
                tracing::info!(%image, "gc: removed cached image");
            }
            if !r.layers.is_empty() {
                tracing::info!(
                    layers = r.layers.len(),
                    bytes = r.bytes,
                    "gc: removed cached layers"
                );
            }
            let c = &agent.gc_counters;
            c.images_removed
                .fetch_add(r.images.len() as u64, Ordering::Relaxed);
            c.image_layers_removed
                .fetch_add(r.layers.len() as u64, Ordering::Relaxed);
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "gc: image cache"),
        Err(e) => tracing::warn!(error = %e, "gc: image cache task"),
    }
}

/// Runs the collectors every `config.interval` until the task is aborted.
pub(crate) async fn run(agent: crate::Agent) {
    let config = agent.gc.clone();
    let mut used_images = BTreeMap::new();
    let mut first = true;
    loop {
        pass(&agent, &config, &mut used_images, first).await;
        first = false;
        tokio::time::sleep(config.interval).await;
    }
}

/// One pass of every collector.
async fn pass(
    agent: &crate::Agent,
    config: &GcConfig,
    used_images: &mut BTreeMap<String, f64>,
    orphans: bool,
) {
    let live: BTreeSet<String> = agent.with_core(|c| {
        c.tasks
            .values()
            .filter(|e| !e.rec.completed)
            .map(|e| e.rec.container_id.to_string())
            .collect()
    });
    // A task group's volume directory lives as long as a task of the group does.
    let groups: BTreeSet<String> = agent.with_core(|c| {
        c.tasks
            .values()
            .filter(|e| !e.rec.completed)
            .flat_map(|e| crate::volumes::groups_of(&e.rec.spec).map(str::to_string))
            .collect()
    });
    let work_dir = agent.settings.work_dir.clone();
    let usage = disk_usage(&work_dir).unwrap_or(0.0);
    let max_age = allowed_age(config.sandbox_delay, config.disk_headroom, usage);
    let (dir, sandbox_live) = (work_dir.clone(), &live | &groups);
    let limits = config.archive.clone();
    let removed = tokio::task::spawn_blocking(move || {
        collect_sandboxes_archiving(
            &dir,
            &sandbox_live,
            max_age,
            keel_clock::wall(),
            Some(&limits),
        )
    })
    .await
    .unwrap_or_default();
    let counters = &agent.gc_counters;
    counters
        .sandboxes_removed
        .fetch_add(removed.len() as u64, Ordering::Relaxed);
    let image_age = allowed_age(config.image_max_age, config.disk_headroom, usage);
    collect_image_cache(agent, image_age).await;
    let Some(agent_id) = agent.id().filter(|_| config.docker) else {
        return;
    };
    let Some(docker) = connect_docker().await else {
        return;
    };
    let now = agent.clock.unix_secs();
    let removed = collect_docker(
        &docker,
        agent_id.as_str(),
        &live,
        config.docker_max_age,
        orphans,
        used_images,
        now,
    )
    .await;
    counters
        .docker_containers_removed
        .fetch_add(removed.containers.len() as u64, Ordering::Relaxed);
    counters
        .docker_images_removed
        .fetch_add(removed.images.len() as u64, Ordering::Relaxed);
}
