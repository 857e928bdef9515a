//! A busybox image for Docker tests, built once per machine without a registry: a rootfs
//! tar of Debian's `busybox-static` (`/bin/busybox` plus one symlink per applet) fed to
//! `docker import`. Also shared by the `keel` crate's end-to-end tests (`#[path]`).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The image the tests run.
pub const BUSYBOX_IMAGE: &str = "keel-test/busybox:1";

/// Makes sure [`BUSYBOX_IMAGE`] exists in the local engine (idempotent; builds it the first
/// time) and returns its name. Panics with the reason when it cannot.
pub fn busybox_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if !image_exists(BUSYBOX_IMAGE) {
            build(BUSYBOX_IMAGE);
        }
        assert!(
            image_exists(BUSYBOX_IMAGE),
            "{BUSYBOX_IMAGE} missing after import"
        );
    });
    BUSYBOX_IMAGE
}

/// Whether the local engine has `image`.
pub fn image_exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn build(image: &str) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox missing: install Debian's busybox-static (cargo xtask ci does)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    std::fs::create_dir_all(dir.path().join("tmp")).expect("mkdir tmp");
    std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if !applet.is_empty() && applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet symlink");
        }
    }
    let script = format!(
        "tar -C {} -c . | docker import --change 'ENV PATH=/bin' --change 'CMD [\"sh\"]' - {image}",
        dir.path().display()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("run tar | docker import");
    assert!(
        out.status.success(),
        "docker import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether a container named `name` exists (in any state).
pub fn container_exists(name: &str) -> bool {
    Command::new("docker")
        .args(["container", "inspect", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `docker inspect -f <format> <name>`, trimmed.
pub fn inspect(name: &str, format: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", format, name])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
