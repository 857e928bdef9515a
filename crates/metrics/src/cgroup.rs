//! A container's resource usage from its cgroup files, v1 or v2, as the agent read them
//! (each `None` when the file is missing), and from the Docker Engine's stats.

use std::collections::BTreeMap;

/// The control files of one container's cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupTexts {
    /// Legacy hierarchies. `cpuacct.stat` is in clock ticks, `cpu.stat`'s
    /// `throttled_time` in nanoseconds.
    V1 {
        cpuacct_stat: Option<String>,
        cpu_stat: Option<String>,
        cfs_quota_us: Option<String>,
        cfs_period_us: Option<String>,
        memory_usage: Option<String>,
        memory_limit: Option<String>,
        memory_stat: Option<String>,
    },
    /// The unified hierarchy (`cpu.stat` in microseconds).
    V2 {
        cpu_stat: Option<String>,
        cpu_max: Option<String>,
        memory_current: Option<String>,
        memory_max: Option<String>,
        memory_stat: Option<String>,
    },
}

/// What a container used, in seconds and bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerUsage {
    pub user_secs: f64,
    pub system_secs: f64,
    pub throttled_secs: f64,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    /// The cpu quota in cpus, when one is set.
    pub cpus_quota: Option<f64>,
    pub mem_total: u64,
    /// The memory limit, when one is set.
    pub mem_limit: Option<u64>,
    pub mem_rss: u64,
    pub mem_cache: u64,
    /// False when no cpu accounting was found (the times are then 0).
    pub has_cpu_times: bool,
}

/// `key value` lines (`cpu.stat`, `cpuacct.stat`, `memory.stat`).
pub fn parse_kv(text: &str) -> BTreeMap<&str, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k, v.trim().parse().ok()?))
        })
        .collect()
}

fn number(text: &Option<String>) -> Option<u64> {
    text.as_deref()?.trim().parse().ok()
}

/// v1 reports "no limit" as a huge number (page-rounded `i64::MAX`).
fn real_limit(v: u64) -> Option<u64> {
    (v < (1 << 62)).then_some(v)
}

/// Usage from cgroup files; `ticks_per_sec` is `USER_HZ` (100 on Linux).
pub fn usage(texts: &CgroupTexts, ticks_per_sec: u64) -> ContainerUsage {
    match texts {
        CgroupTexts::V1 {
            cpuacct_stat,
            cpu_stat,
            cfs_quota_us,
            cfs_period_us,
            memory_usage,
            memory_limit,
            memory_stat,
        } => {
            let mut u = ContainerUsage::default();
            if let Some(t) = cpuacct_stat {
                let kv = parse_kv(t);
                let hz = ticks_per_sec.max(1) as f64;
                u.user_secs = kv.get("user").copied().unwrap_or(0) as f64 / hz;
                u.system_secs = kv.get("system").copied().unwrap_or(0) as f64 / hz;
                u.has_cpu_times = true;
            }
            if let Some(t) = cpu_stat {
                let kv = parse_kv(t);
                u.nr_periods = kv.get("nr_periods").copied().unwrap_or(0);
                u.nr_throttled = kv.get("nr_throttled").copied().unwrap_or(0);
                u.throttled_secs = kv.get("throttled_time").copied().unwrap_or(0) as f64 / 1e9;
            }
            let quota = cfs_quota_us
                .as_deref()
                .and_then(|q| q.trim().parse::<i64>().ok());
            if let (Some(q), Some(p)) = (quota.filter(|q| *q > 0), number(cfs_period_us)) {
                u.cpus_quota = (p > 0).then(|| q as f64 / p as f64);
            }
            u.mem_total = number(memory_usage).unwrap_or(0);
            u.mem_limit = number(memory_limit).and_then(real_limit);
            if let Some(t) = memory_stat {
                let kv = parse_kv(t);
                let get = |a: &str, b: &str| kv.get(a).or(kv.get(b)).copied().unwrap_or(0);
                u.mem_rss = get("total_rss", "rss");
                u.mem_cache = get("total_cache", "cache");
            }
            u
        }
        CgroupTexts::V2 {
            cpu_stat,
            cpu_max,
            memory_current,
            memory_max,
            memory_stat,
        } => {
            let mut u = ContainerUsage::default();
            if let Some(t) = cpu_stat {
                let kv = parse_kv(t);
                let secs = |k: &str| kv.get(k).copied().unwrap_or(0) as f64 / 1e6;
                u.user_secs = secs("user_usec");
                u.system_secs = secs("system_usec");
                u.throttled_secs = secs("throttled_usec");
                u.nr_periods = kv.get("nr_periods").copied().unwrap_or(0);
                u.nr_throttled = kv.get("nr_throttled").copied().unwrap_or(0);
                u.has_cpu_times = true;
            }
            if let Some(t) = cpu_max {
                let mut f = t.split_whitespace();
                if let (Some(Ok(q)), Some(Ok(p))) = (
                    f.next().map(str::parse::<f64>),
                    f.next().map(str::parse::<f64>),
                ) {
                    u.cpus_quota = (p > 0.0).then(|| q / p);
                }
            }
            u.mem_total = number(memory_current).unwrap_or(0);
            u.mem_limit = number(memory_max);
            if let Some(t) = memory_stat {
                let kv = parse_kv(t);
                u.mem_rss = kv.get("anon").copied().unwrap_or(0);
                u.mem_cache = kv.get("file").copied().unwrap_or(0);
            }
            u
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn v1_files() {
        let t = CgroupTexts::V1 {
            cpuacct_stat: s("user 250\nsystem 50\n"),
            cpu_stat: s("nr_periods 10\nnr_throttled 2\nthrottled_time 1500000000\n"),
            cfs_quota_us: s("50000\n"),
            cfs_period_us: s("100000\n"),
            memory_usage: s("1048576\n"),
            memory_limit: s("9223372036854771712\n"),
            memory_stat: s("cache 10\nrss 20\ntotal_cache 100\ntotal_rss 200\n"),
        };
        let u = usage(&t, 100);
        assert_eq!(
            (u.user_secs, u.system_secs, u.throttled_secs),
            (2.5, 0.5, 1.5)
        );
        assert_eq!((u.nr_periods, u.nr_throttled), (10, 2));
        assert_eq!(u.cpus_quota, Some(0.5));
        assert_eq!((u.mem_total, u.mem_limit), (1_048_576, None));
        assert_eq!((u.mem_rss, u.mem_cache), (200, 100));
        assert!(u.has_cpu_times);
    }

    #[test]
    fn v1_without_cpuacct_or_quota() {
        let t = CgroupTexts::V1 {
            cpuacct_stat: None,
            cpu_stat: None,
            cfs_quota_us: s("-1\n"),
            cfs_period_us: s("100000\n"),
            memory_usage: s("42\n"),
            memory_limit: s("134217728\n"),
            memory_stat: None,
        };
        let u = usage(&t, 100);
        assert!(!u.has_cpu_times);
        assert_eq!(u.cpus_quota, None);
        assert_eq!(u.mem_limit, Some(134_217_728));
    }

    #[test]
    fn v2_files() {
        let t = CgroupTexts::V2 {
            cpu_stat: s(
                "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 4\nnr_throttled 1\nthrottled_usec 250000\n",
            ),
            cpu_max: s("150000 100000\n"),
            memory_current: s("4096\n"),
            memory_max: s("max\n"),
            memory_stat: s("anon 1024\nfile 2048\nkernel 5\n"),
        };
        let u = usage(&t, 100);
        assert_eq!(
            (u.user_secs, u.system_secs, u.throttled_secs),
            (2.0, 1.0, 0.25)
        );
        assert_eq!(u.cpus_quota, Some(1.5));
        assert_eq!(
            (u.mem_total, u.mem_limit, u.mem_rss, u.mem_cache),
            (4096, None, 1024, 2048)
        );
        let unlimited = CgroupTexts::V2 {
            cpu_stat: None,
            cpu_max: s("max 100000\n"),
            memory_current: None,
            memory_max: s("1000\n"),
            memory_stat: None,
        };
        let u = usage(&unlimited, 100);
        assert_eq!((u.cpus_quota, u.mem_limit), (None, Some(1000)));
    }
}
