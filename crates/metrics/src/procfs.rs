//! Parsers of the procfs files node and process metrics come from: `/proc/stat`,
//! `/proc/loadavg`, `/proc/meminfo`, `/proc/net/dev`, `/proc/uptime`, `/proc/mounts` and
//! `/proc/<pid>/stat`. Missing or odd fields read as 0; a line that is not understood is
//! skipped.

/// The aggregate `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    pub fn total(&self) -> u64 {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }

    /// Field-wise `self - earlier` (0 where a counter went backwards).
    pub fn since(&self, earlier: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(earlier.user),
            nice: self.nice.saturating_sub(earlier.nice),
            system: self.system.saturating_sub(earlier.system),
            idle: self.idle.saturating_sub(earlier.idle),
            iowait: self.iowait.saturating_sub(earlier.iowait),
            irq: self.irq.saturating_sub(earlier.irq),
            softirq: self.softirq.saturating_sub(earlier.softirq),
            steal: self.steal.saturating_sub(earlier.steal),
        }
    }
}

/// What `/proc/stat` says: the aggregate cpu times, the number of `cpuN` lines, and the
/// processes running now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub cpu: CpuTimes,
    pub cores: u64,
    pub procs_running: u64,
}

fn nums(rest: &str) -> Vec<u64> {
    rest.split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect()
}

/// Parses `/proc/stat`.
pub fn parse_stat(text: &str) -> Stat {
    let mut s = Stat::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        if key == "cpu" {
            let n = nums(rest);
            let at = |i: usize| n.get(i).copied().unwrap_or(0);
            s.cpu = CpuTimes {
                user: at(0),
                nice: at(1),
                system: at(2),
                idle: at(3),
                iowait: at(4),
                irq: at(5),
                softirq: at(6),
                steal: at(7),
            };
        } else if key.starts_with("cpu") {
            s.cores += 1;
        } else if key == "procs_running" {
            s.procs_running = rest.trim().parse().unwrap_or(0);
        }
    }
    s
}

/// `/proc/loadavg`: the 1, 5 and 15 minute load and the number of processes (the total
/// of `running/total`).
pub fn parse_loadavg(text: &str) -> ([f64; 3], u64) {
    let f: Vec<&str> = text.split_whitespace().collect();
    let load = |i: usize| f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let procs = f
        .get(3)
        .and_then(|rt| rt.split_once('/'))
        .and_then(|(_, t)| t.parse().ok())
        .unwrap_or(0);
    ([load(0), load(1), load(2)], procs)
}

/// The parts of `/proc/meminfo` node metrics report, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub total: u64,
    pub free: u64,
    pub available: u64,
    pub buffers: u64,
    pub cached: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

/// Parses `/proc/meminfo` (its `kB` values become bytes).
pub fn parse_meminfo(text: &str) -> MemInfo {
    let mut m = MemInfo::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let v: u64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        let v = if f.next() == Some("kB") { v * 1024 } else { v };
        match key {
            "MemTotal" => m.total = v,
            "MemFree" => m.free = v,
            "MemAvailable" => m.available = v,
            "Buffers" => m.buffers = v,
            "Cached" => m.cached = v,
            "SwapTotal" => m.swap_total = v,
            "SwapFree" => m.swap_free = v,
            _ => {}
        }
    }
    m
}

/// One interface of `/proc/net/dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetDev {
    pub interface: String,
    pub in_bytes: u64,
    pub in_packets: u64,
    pub in_errors: u64,
    pub in_dropped: u64,
    pub out_bytes: u64,
    pub out_packets: u64,
    pub out_errors: u64,
    pub out_dropped: u64,
}

/// Parses `/proc/net/dev` (also a container's `/proc/<pid>/net/dev`).
pub fn parse_net_dev(text: &str) -> Vec<NetDev> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let n = nums(rest);
            if n.len() < 16 {
                return None;
            }
            Some(NetDev {
                interface: name.trim().to_string(),
                in_bytes: n[0],
                in_packets: n[1],
                in_errors: n[2],
                in_dropped: n[3],
                out_bytes: n[8],
                out_packets: n[9],
                out_errors: n[10],
                out_dropped: n[11],
            })
        })
        .collect()
}

/// `/proc/uptime`: seconds since boot.
pub fn parse_uptime(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Mount points of `/proc/mounts` that hold real storage (a block device, or the root),
/// each once, in order.
pub fn real_filesystems(mounts: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dev), Some(point)) = (f.first(), f.get(1)) else {
            continue;
        };
        let point = point.replace("\\040", " ");
        let real = dev.starts_with("/dev/") && !dev.starts_with("/dev/loop") || point == "/";
        if real && !out.contains(&point) {
            out.push(point);
        }
    }
    if !out.iter().any(|p| p == "/") {
        out.insert(0, "/".into());
    }
    out
}

/// User and system ticks of `/proc/<pid>/stat`, including its waited-for children's.
pub fn parse_pid_stat(text: &str) -> Option<(u64, u64)> {
    // The command may hold spaces and parentheses: fields start after the last ')'.
    let (_, rest) = text.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let at = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some((at(11)? + at(13)?, at(12)? + at(14)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 5 50 800 20 1 2 3 0 0
cpu0 50 2 25 400 10 0 1 1 0 0
cpu1 50 3 25 400 10 1 1 2 0 0
intr 1234
procs_running 3
procs_blocked 0
";

    #[test]
    fn stat_gives_the_aggregate_and_the_cores() {
        let s = parse_stat(STAT);
        assert_eq!(s.cores, 2);
        assert_eq!(s.procs_running, 3);
        assert_eq!(s.cpu.total(), 981);
        assert_eq!(s.cpu.user, 100);
        assert_eq!(s.cpu.iowait, 20);
    }

    #[test]
    fn loadavg_and_uptime() {
        assert_eq!(
            parse_loadavg("0.52 0.58 0.59 2/731 12345\n"),
            ([0.52, 0.58, 0.59], 731)
        );
        assert_eq!(parse_uptime("3600.25 7000.00\n"), 3600.25);
        assert_eq!(parse_loadavg(""), ([0.0; 3], 0));
    }

    #[test]
    fn meminfo_in_bytes() {
        let m = parse_meminfo(
            "MemTotal:       16000 kB\nMemFree:  1000 kB\nMemAvailable: 8000 kB\nBuffers: 10 kB\nCached: 20 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nHugePages_Total: 0\n",
        );
        assert_eq!(m.total, 16000 * 1024);
        assert_eq!(m.free, 1000 * 1024);
        assert_eq!(m.cached, 20 * 1024);
        assert_eq!(m.swap_total, 0);
    }

    #[test]
    fn net_dev_skips_headers() {
        let text = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0
  eth0: 5000 50 1 2 0 0 0 0 6000 60 3 4 0 0 0 0
";
        let d = parse_net_dev(text);
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].interface, "eth0");
        assert_eq!(
            (d[1].in_bytes, d[1].in_errors, d[1].in_dropped),
            (5000, 1, 2)
        );
        assert_eq!(
            (d[1].out_packets, d[1].out_errors, d[1].out_dropped),
            (60, 3, 4)
        );
    }

    #[test]
    fn real_filesystems_keep_block_devices_and_root() {
        let mounts = "overlay / overlay rw 0 0
proc /proc proc rw 0 0
/dev/sda1 /var/lib/docker ext4 rw 0 0
/dev/loop0 /snap/core squashfs ro 0 0
/dev/sda1 /var/lib/docker ext4 rw 0 0
/dev/sdb1 /mnt/my\\040data xfs rw 0 0
";
        assert_eq!(
            real_filesystems(mounts),
            ["/", "/var/lib/docker", "/mnt/my data"]
        );
        assert_eq!(real_filesystems(""), ["/"]);
    }

    #[test]
    fn pid_stat_with_a_tricky_name() {
        let text =
            "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 70 30 5 2 20 0 1 0 100 0 0";
        assert_eq!(parse_pid_stat(text), Some((75, 32)));
        assert_eq!(parse_pid_stat("garbage"), None);
    }
}
