//! Detects the machine's resources the way Mesos does, and merges `--resources` overrides.

use keel_resources::{Ranges, Resources};
use std::path::Path;

/// Ports offered when `--resources` names none (Mesos's default).
pub const DEFAULT_PORTS: (u64, u64) = (31000, 32000);

/// cpus, mem (MB), disk (MB) and ports of this machine, less what Mesos leaves for the OS.
pub fn detect(work_dir: &Path) -> Resources {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as f64)
        .unwrap_or(1.0);
    let mem = mem_total_mb().map(leave_for_os_mem).unwrap_or(1024.0);
    let disk = disk_total_mb(work_dir)
        .map(leave_for_os_disk)
        .unwrap_or(10240.0);
    Resources::new()
        .with_scalar("cpus", cpus)
        .with_scalar("mem", mem)
        .with_scalar("disk", disk)
        .with_ranges("ports", Ranges::new(vec![DEFAULT_PORTS]))
}

/// Detected resources with every resource named in `overrides` replaced.
pub fn merge(detected: Resources, overrides: &Resources) -> Resources {
    let mut out = detected;
    for (k, v) in &overrides.scalars {
        out.scalars.insert(k.clone(), *v);
    }
    for (k, v) in &overrides.ranges {
        out.ranges.insert(k.clone(), v.clone());
    }
    for (k, v) in &overrides.sets {
        out.sets.insert(k.clone(), v.clone());
    }
    out
}

fn leave_for_os_mem(total: f64) -> f64 {
    if total >= 2048.0 {
        total - 1024.0
    } else {
        total / 2.0
    }
}

fn leave_for_os_disk(total: f64) -> f64 {
    if total >= 10240.0 {
        total - 5120.0
    } else {
        total / 2.0
    }
}

fn mem_total_mb() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0).floor())
}

fn disk_total_mb(path: &Path) -> Option<f64> {
    let st = crate::sys::statvfs(path)?;
    Some(((st.blocks as f64) * (st.fragment_size as f64) / 1048576.0).floor())
}

/// This machine's hostname.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_detected_values() {
        let detected = Resources::parse("cpus:8;mem:16000;ports:[31000-32000]").unwrap_or_default();
        let over = Resources::parse("cpus:2;ports:[40000-40010]").unwrap_or_default();
        assert_eq!(
            merge(detected, &over).to_string(),
            "cpus:2;mem:16000;ports:[40000-40010]"
        );
    }

    #[test]
    fn os_share() {
        assert_eq!(leave_for_os_mem(16384.0), 15360.0);
        assert_eq!(leave_for_os_mem(1024.0), 512.0);
        assert_eq!(leave_for_os_disk(100000.0), 94880.0);
    }

    #[test]
    fn detects_something() {
        let r = detect(Path::new("/"));
        assert!(r.cpus() >= 1.0 && r.mem() > 0.0 && r.ports().count() == 1001);
    }
}
