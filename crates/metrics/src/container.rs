//! A container's dcos-metrics datapoints: `cpus.*`, `mem.*` and `disk.*` from its usage and
//! the resources the task was given.

use crate::cgroup::ContainerUsage;
use keel_api::metrics::Datapoint;
use std::collections::BTreeMap;

/// What the task asked for (cpus, bytes of memory and disk).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContainerLimits {
    pub cpus: f64,
    pub mem_bytes: u64,
    pub disk_bytes: u64,
}

/// The datapoints of one container; `disk_used` is the sandbox's size when measured.
pub fn container_datapoints(
    u: &ContainerUsage,
    limits: &ContainerLimits,
    disk_used: Option<u64>,
    ts: &str,
) -> Vec<Datapoint> {
    let p = |name: &str, value: f64, unit: &str| Datapoint {
        name: name.into(),
        value,
        unit: unit.into(),
        timestamp: ts.into(),
        tags: BTreeMap::new(),
    };
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut out = vec![
        p("cpus.limit", limits.cpus, "count"),
        p("cpus.user.time", round(u.user_secs), "seconds"),
        p("cpus.system.time", round(u.system_secs), "seconds"),
        p("cpus.throttled.time", round(u.throttled_secs), "seconds"),
        p("cpus.nr.periods", u.nr_periods as f64, "count"),
        p("cpus.nr.throttled", u.nr_throttled as f64, "count"),
        p(
            "mem.limit",
            u.mem_limit.unwrap_or(limits.mem_bytes) as f64,
            "bytes",
        ),
        p("mem.total", u.mem_total as f64, "bytes"),
        p("mem.rss", u.mem_rss as f64, "bytes"),
        p("mem.cache", u.mem_cache as f64, "bytes"),
        p("disk.limit", limits.disk_bytes as f64, "bytes"),
    ];
    if let Some(d) = disk_used {
        out.push(p("disk.used", d as f64, "bytes"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_fall_back_to_the_task_resources() {
        let u = ContainerUsage {
            user_secs: 1.23456,
            mem_total: 10,
            ..ContainerUsage::default()
        };
        let l = ContainerLimits {
            cpus: 0.5,
            mem_bytes: 64 << 20,
            disk_bytes: 0,
        };
        let d = container_datapoints(&u, &l, Some(4096), "T");
        let get = |n: &str| d.iter().find(|p| p.name == n).map(|p| p.value);
        assert_eq!(get("cpus.limit"), Some(0.5));
        assert_eq!(get("cpus.user.time"), Some(1.235));
        assert_eq!(get("mem.limit"), Some((64u64 << 20) as f64));
        assert_eq!(get("disk.used"), Some(4096.0));
        let with_cgroup_limit = ContainerUsage {
            mem_limit: Some(1000),
            ..u
        };
        let d = container_datapoints(&with_cgroup_limit, &l, None, "T");
        assert_eq!(
            d.iter().find(|p| p.name == "mem.limit").map(|p| p.value),
            Some(1000.0)
        );
        assert!(d.iter().all(|p| p.name != "disk.used"));
    }
}
