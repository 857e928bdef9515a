//! Garbage collection against the real filesystem and the machine's Docker Engine: stale
//! sandboxes and exited Keel containers (and images only they used) are removed, while
//! what a live task uses is kept.

#[path = "../../executor/tests/support/busybox.rs"]
mod busybox;

use busybox::{busybox_image, container_exists, image_exists};
use keel_agent::gc::{allowed_age, collect_docker, collect_sandboxes, connect_docker};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn the_allowed_age_shrinks_with_disk_usage() {
    let week = 7 * 24 * HOUR;
    assert_eq!(allowed_age(week, 0.1, 0.0), week.mul_f64(0.9));
    assert_eq!(allowed_age(week, 0.1, 0.45), week.mul_f64(0.45));
    assert_eq!(allowed_age(week, 0.1, 0.95), Duration::ZERO);
}

#[test]
fn stale_sandboxes_are_removed_and_live_ones_kept() {
    let work = tempfile::tempdir().expect("tempdir");
    let runs = work
        .path()
        .join("slaves/a1/frameworks/fw/executors/t1/runs");
    for run in ["stale", "live"] {
        std::fs::create_dir_all(runs.join(run)).expect("mkdir");
        std::fs::write(runs.join(run).join("stdout"), "out\n").expect("write");
        std::fs::create_dir_all(work.path().join("meta/runs").join(run)).expect("mkdir meta");
    }
    std::os::unix::fs::symlink("stale", runs.join("latest")).expect("symlink");
    let live = BTreeSet::from(["live".to_string()]);
    let in_two_hours = SystemTime::now() + 2 * HOUR;

    assert!(collect_sandboxes(work.path(), &live, 3 * HOUR, in_two_hours).is_empty());
    let removed = collect_sandboxes(work.path(), &live, HOUR, in_two_hours);
    assert_eq!(removed, [runs.join("stale")]);
    assert!(!runs.join("stale").exists() && !runs.join("latest").exists());
    assert!(!work.path().join("meta/runs/stale").exists());
    assert!(runs.join("live/stdout").exists() && work.path().join("meta/runs/live").exists());
}

#[test]
fn a_group_volume_directory_goes_once_no_task_of_the_group_lives() {
    let work = tempfile::tempdir().expect("tempdir");
    let group = "p.instance-1";
    let dir = work
        .path()
        .join("slaves/a1/frameworks/fw/executors")
        .join(group)
        .join("runs")
        .join(group);
    std::fs::create_dir_all(dir.join("shared")).expect("mkdir");
    std::fs::write(dir.join("shared/msg"), "hi\n").expect("write");
    let in_two_hours = SystemTime::now() + 2 * HOUR;
    let live = BTreeSet::from([group.to_string()]);
    assert!(collect_sandboxes(work.path(), &live, HOUR, in_two_hours).is_empty());
    let removed = collect_sandboxes(work.path(), &BTreeSet::new(), HOUR, in_two_hours);
    assert_eq!(removed, std::slice::from_ref(&dir));
    assert!(!dir.exists());
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A stopped container labelled as Keel's container `owner` of `agent`.
fn keel_container(agent: &str, owner: &str, image: &str) -> String {
    docker(&[
        "create",
        "--label",
        &format!("keel.agent_id={agent}"),
        "--label",
        &format!("keel.container_id={owner}"),
        image,
        "true",
    ])
}

#[tokio::test]
async fn exited_keel_containers_and_their_unused_images_are_removed_live_ones_kept() {
    let image = busybox_image();
    let agent = format!("gc-test-{}", std::process::id());
    let victim_image = format!("keel-test/gc-victim:{}", std::process::id());
    docker(&["tag", image, &victim_image]);
    let dead = keel_container(&agent, "dead", &victim_image);
    let alive = keel_container(&agent, "alive", image);
    let stranger = docker(&[
        "create",
        "--label",
        "keel.agent_id=someone-else",
        image,
        "true",
    ]);

    let engine = connect_docker().await.expect("a docker engine");
    let live = BTreeSet::from(["alive".to_string()]);
    let mut used = BTreeMap::new();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    // Young containers stay.
    let removed = collect_docker(&engine, &agent, &live, HOUR, false, &mut used, now).await;
    assert!(
        removed.containers.is_empty() && removed.images.is_empty(),
        "{removed:?}"
    );

    let removed = collect_docker(
        &engine,
        &agent,
        &live,
        Duration::ZERO,
        false,
        &mut used,
        now,
    )
    .await;
    let kept = [
        container_exists(&alive),
        container_exists(&stranger),
        image_exists(image),
    ];
    for id in [&alive, &stranger] {
        docker(&["rm", "-f", id]);
    }
    assert_eq!(removed.containers, std::slice::from_ref(&dead));
    assert!(!container_exists(&dead));
    assert_eq!(removed.images, std::slice::from_ref(&victim_image));
    assert!(!image_exists(&victim_image));
    assert_eq!(kept, [true, true, true]);
    assert!(Path::new("/var/run/docker.sock").exists() || std::env::var("DOCKER_HOST").is_ok());
}
