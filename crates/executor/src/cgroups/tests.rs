//! Cgroup writer tests: a recording double for exact operation sequences, and `HostFs` on a
//! temp dir for the real file handling. No root needed.

use super::*;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Records every operation; `fail` names a file whose write fails; `present` lists files
/// that exist (for optional settings); reads are served from `files`.
#[derive(Default)]
struct RecordingFs {
    ops: Mutex<Vec<String>>,
    fail: Option<&'static str>,
    present: BTreeSet<PathBuf>,
    files: Vec<(PathBuf, String)>,
}

impl RecordingFs {
    fn record(&self, op: String) {
        self.ops.lock().expect("ops lock").push(op);
    }
}

impl CgroupFs for std::sync::Arc<RecordingFs> {
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        self.record(format!("mkdir {}", dir.display()));
        Ok(())
    }
    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        self.record(format!("rmdir {}", dir.display()));
        Ok(())
    }
    fn write(&self, file: &Path, value: &str) -> io::Result<()> {
        self.record(format!("write {} {value}", file.display()));
        match self.fail {
            Some(name) if file.ends_with(name) => {
                Err(io::Error::from_raw_os_error(crate::sys::EINVAL))
            }
            _ => Ok(()),
        }
    }
    fn read(&self, file: &Path) -> io::Result<String> {
        let hit = self
            .files
            .iter()
            .find(|(p, _)| p == file)
            .map(|(_, text)| text.clone());
        hit.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn exists(&self, file: &Path) -> bool {
        self.present.contains(file)
    }
    fn host_path(&self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }
}

fn v1() -> CgroupLayout {
    CgroupLayout::V1 {
        memory: "/cg/memory".into(),
        cpu: Some("/cg/cpu".into()),
    }
}

fn v2() -> CgroupLayout {
    CgroupLayout::V2 {
        mount: "/cg".into(),
    }
}

/// Creates a cgroup for 0.5 cpus / 64 MiB on `fs` and returns (result, recorded operations).
fn check(fs: RecordingFs, layout: CgroupLayout, expect: &[&str]) -> Option<ContainerCgroup> {
    let fs = std::sync::Arc::new(fs);
    let limits = CgroupLimits::new(0.5, 64.0);
    let result = ContainerCgroup::create(Box::new(fs.clone()), &layout, "keel", "c1", &limits);
    let ops = fs.ops.lock().expect("ops lock").clone();
    assert_eq!(ops, expect);
    result.ok()
}

#[test]
fn v1_writes_limits_into_each_hierarchy() {
    let cgroup = check(
        RecordingFs::default(),
        v1(),
        &[
            "mkdir /cg/memory/keel/c1",
            "mkdir /cg/cpu/keel/c1",
            "write /cg/memory/keel/c1/memory.limit_in_bytes 67108864",
            "write /cg/cpu/keel/c1/cpu.shares 512",
            "write /cg/cpu/keel/c1/cpu.cfs_period_us 100000",
            "write /cg/cpu/keel/c1/cpu.cfs_quota_us 50000",
        ],
    );
    let procs = cgroup.map(|c| c.procs_files()).unwrap_or_default();
    let expect = [
        "/cg/memory/keel/c1/cgroup.procs",
        "/cg/cpu/keel/c1/cgroup.procs",
    ];
    assert_eq!(procs, expect.map(PathBuf::from));
}

#[test]
fn v1_writes_memsw_when_present_and_ignores_its_failure() {
    let memsw = PathBuf::from("/cg/memory/keel/c1/memory.memsw.limit_in_bytes");
    let fs = RecordingFs {
        fail: Some("memory.memsw.limit_in_bytes"),
        present: [memsw].into(),
        ..RecordingFs::default()
    };
    let layout = CgroupLayout::V1 {
        memory: "/cg/memory".into(),
        cpu: None,
    };
    let cgroup = check(
        fs,
        layout,
        &[
            "mkdir /cg/memory/keel/c1",
            "write /cg/memory/keel/c1/memory.limit_in_bytes 67108864",
            "write /cg/memory/keel/c1/memory.memsw.limit_in_bytes 67108864",
        ],
    );
    assert!(cgroup.is_some(), "optional failure must not fail the setup");
}

#[test]
fn v2_enables_controllers_in_every_parent() {
    check(
        RecordingFs::default(),
        v2(),
        &[
            "mkdir /cg/keel/c1",
            "write /cg/cgroup.subtree_control +cpu +memory",
            "write /cg/keel/cgroup.subtree_control +cpu +memory",
            "write /cg/keel/c1/memory.max 67108864",
            "write /cg/keel/c1/cpu.max 50000 100000",
            "write /cg/keel/c1/cpu.weight 20",
        ],
    );
}

#[test]
fn a_failed_setting_removes_what_was_created() {
    let fs = RecordingFs {
        fail: Some("cpu.shares"),
        ..RecordingFs::default()
    };
    let cgroup = check(
        fs,
        v1(),
        &[
            "mkdir /cg/memory/keel/c1",
            "mkdir /cg/cpu/keel/c1",
            "write /cg/memory/keel/c1/memory.limit_in_bytes 67108864",
            "write /cg/cpu/keel/c1/cpu.shares 512",
            "rmdir /cg/memory/keel/c1",
            "rmdir /cg/cpu/keel/c1",
        ],
    );
    assert!(cgroup.is_none());
}

#[test]
fn bad_roots_are_rejected() {
    for root in ["", "/abs", "../up", "a/../b"] {
        let fs = Box::new(std::sync::Arc::new(RecordingFs::default()));
        let result = ContainerCgroup::create(fs, &v2(), root, "c1", &CgroupLimits::new(1.0, 32.0));
        assert!(
            matches!(result, Err(CgroupError::InvalidRoot { .. })),
            "{root:?}"
        );
    }
}

#[test]
fn reads_pids_oom_kills_and_peak() {
    let file = |p: &str, t: &str| (PathBuf::from(p), t.to_string());
    let fs = RecordingFs {
        files: vec![
            file("/cg/memory/keel/c1/cgroup.procs", "12\n7\n"),
            file("/cg/cpu/keel/c1/cgroup.procs", "7\n30\n"),
            file(
                "/cg/memory/keel/c1/memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            ),
            file("/cg/memory/keel/c1/memory.max_usage_in_bytes", "67108864\n"),
        ],
        ..RecordingFs::default()
    };
    let fs = Box::new(std::sync::Arc::new(fs));
    let cgroup = ContainerCgroup::create(fs, &v1(), "keel", "c1", &CgroupLimits::new(1.0, 64.0))
        .expect("create");
    assert_eq!(cgroup.pids(), [7, 12, 30]);
    assert_eq!(cgroup.oom_kills(), 2);
    assert_eq!(cgroup.peak_memory(), Some(64 << 20));
}

#[test]
fn v2_reads_memory_events_and_peak() {
    let file = |p: &str, t: &str| (PathBuf::from(p), t.to_string());
    let fs = RecordingFs {
        files: vec![
            file(
                "/cg/keel/c1/memory.events",
                "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n",
            ),
            file("/cg/keel/c1/memory.peak", "1048576\n"),
        ],
        ..RecordingFs::default()
    };
    let fs = Box::new(std::sync::Arc::new(fs));
    let cgroup = ContainerCgroup::create(fs, &v2(), "keel", "c1", &CgroupLimits::new(1.0, 64.0))
        .expect("create");
    assert_eq!(
        (cgroup.oom_kills(), cgroup.peak_memory()),
        (1, Some(1 << 20))
    );
    assert_eq!(cgroup.dirs().count(), 1);
}

#[test]
fn host_fs_writes_real_files_under_its_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = HostFs::new(dir.path());
    let memsw = Path::new("/sys/fs/cgroup/memory/keel/c9/memory.memsw.limit_in_bytes");
    fs.create_dir(Path::new("/sys/fs/cgroup/memory/keel/c9"))
        .expect("mkdir");
    fs.write(memsw, "").expect("touch memsw");
    let layout = CgroupLayout::V1 {
        memory: "/sys/fs/cgroup/memory".into(),
        cpu: None,
    };
    let limits = CgroupLimits::new(1.0, 100.0);
    let cgroup =
        ContainerCgroup::create(Box::new(fs), &layout, "keel", "c9", &limits).expect("create");

    let leaf = dir.path().join("sys/fs/cgroup/memory/keel/c9");
    let read = |name: &str| std::fs::read_to_string(leaf.join(name)).unwrap_or_default();
    assert_eq!(read("memory.limit_in_bytes"), "104857600");
    assert_eq!(read("memory.memsw.limit_in_bytes"), "104857600");
    assert_eq!(cgroup.procs_files(), [leaf.join("cgroup.procs")]);

    for name in ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"] {
        std::fs::remove_file(leaf.join(name)).expect("rm");
    }
    cgroup.remove().expect("remove");
    assert!(!leaf.exists());
    assert!(
        leaf.parent().is_some_and(Path::exists),
        "the shared root stays"
    );
}

#[test]
fn keyed_values() {
    assert_eq!(keyed_value("a 1\noom_kill 42\n", "oom_kill"), Some(42));
    assert_eq!(keyed_value("oom_kill_disable 1\n", "oom_kill"), None);
    assert_eq!(keyed_value("", "oom_kill"), None);
}
