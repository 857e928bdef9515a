//! A node's dcos-metrics datapoints from one sample of its procfs files and filesystems:
//! `cpu.*` (percentages over the interval since the previous sample, or since boot),
//! `load.*`, `memory.*`, `swap.*`, `process.count`, `system.uptime`, `filesystem.*` (tag
//! `path`) and `network.*` (tag `interface`), in dcos-metrics' names and units.

use crate::procfs::{CpuTimes, MemInfo, NetDev};
use keel_api::metrics::Datapoint;
use std::collections::BTreeMap;

/// One filesystem's capacity and inodes (from statvfs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsUsage {
    pub path: String,
    pub total: u64,
    pub used: u64,
    pub free: u64,
    pub inodes_total: u64,
    pub inodes_used: u64,
    pub inodes_free: u64,
}

/// Everything a node message is made of, read at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSample {
    pub cpu: CpuTimes,
    pub cores: u64,
    pub load: [f64; 3],
    pub mem: MemInfo,
    pub processes: u64,
    pub uptime: f64,
    pub filesystems: Vec<FsUsage>,
    pub network: Vec<NetDev>,
}

fn point(name: &str, value: f64, unit: &str, ts: &str) -> Datapoint {
    Datapoint {
        name: name.into(),
        value,
        unit: unit.into(),
        timestamp: ts.into(),
        tags: BTreeMap::new(),
    }
}

fn tagged(name: &str, value: f64, unit: &str, ts: &str, tag: (&str, &str)) -> Datapoint {
    let mut p = point(name, value, unit, ts);
    p.tags.insert(tag.0.into(), tag.1.into());
    p
}

/// Percentages of `part` in `whole`, rounded to two decimals as dcos-metrics shows them.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 10_000.0 / whole as f64).round() / 100.0
}

/// The node's datapoints; `previous` is the cpu line of the last sample (the interval's
/// start), `None` for percentages since boot.
pub fn node_datapoints(now: &NodeSample, previous: Option<&CpuTimes>, ts: &str) -> Vec<Datapoint> {
    let d = match previous {
        Some(p) => now.cpu.since(p),
        None => now.cpu,
    };
    let whole = d.total();
    let busy = whole - d.idle - d.iowait;
    let mut out = vec![
        point("cpu.cores", now.cores as f64, "count", ts),
        point("cpu.total", percent(busy, whole), "percent", ts),
        point("cpu.user", percent(d.user + d.nice, whole), "percent", ts),
        point("cpu.system", percent(d.system, whole), "percent", ts),
        point("cpu.idle", percent(d.idle, whole), "percent", ts),
        point("cpu.wait", percent(d.iowait, whole), "percent", ts),
        point("load.1min", now.load[0], "count", ts),
        point("load.5min", now.load[1], "count", ts),
        point("load.15min", now.load[2], "count", ts),
        point("memory.total", now.mem.total as f64, "bytes", ts),
        point("memory.free", now.mem.free as f64, "bytes", ts),
        point("memory.buffers", now.mem.buffers as f64, "bytes", ts),
        point("memory.cached", now.mem.cached as f64, "bytes", ts),
        point("swap.total", now.mem.swap_total as f64, "bytes", ts),
        point("swap.free", now.mem.swap_free as f64, "bytes", ts),
        point(
            "swap.used",
            now.mem.swap_total.saturating_sub(now.mem.swap_free) as f64,
            "bytes",
            ts,
        ),
        point("process.count", now.processes as f64, "count", ts),
        point("system.uptime", now.uptime.floor(), "count", ts),
    ];
    for f in &now.filesystems {
        let tag = ("path", f.path.as_str());
        for (name, v) in [
            ("filesystem.capacity.total", f.total),
            ("filesystem.capacity.used", f.used),
            ("filesystem.capacity.free", f.free),
        ] {
            out.push(tagged(name, v as f64, "bytes", ts, tag));
        }
        for (name, v) in [
            ("filesystem.inode.total", f.inodes_total),
            ("filesystem.inode.used", f.inodes_used),
            ("filesystem.inode.free", f.inodes_free),
        ] {
            out.push(tagged(name, v as f64, "count", ts, tag));
        }
    }
    for n in &now.network {
        let tag = ("interface", n.interface.as_str());
        for (name, v, unit) in [
            ("network.in", n.in_bytes, "bytes"),
            ("network.out", n.out_bytes, "bytes"),
            ("network.in.packets", n.in_packets, "count"),
            ("network.out.packets", n.out_packets, "count"),
            ("network.in.errors", n.in_errors, "count"),
            ("network.out.errors", n.out_errors, "count"),
            ("network.in.dropped", n.in_dropped, "count"),
            ("network.out.dropped", n.out_dropped, "count"),
        ] {
            out.push(tagged(name, v as f64, unit, ts, tag));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn render(points: &[Datapoint]) -> String {
        points
            .iter()
            .map(|p| {
                let tags: Vec<String> = p.tags.iter().map(|(k, v)| format!(" {k}={v}")).collect();
                format!("{} {} {}{}\n", p.name, p.value, p.unit, tags.concat())
            })
            .collect()
    }

    #[test]
    fn a_node_sample_becomes_dcos_datapoints() {
        let sample = NodeSample {
            cpu: CpuTimes {
                user: 300,
                system: 100,
                idle: 550,
                iowait: 50,
                ..CpuTimes::default()
            },
            cores: 2,
            load: [0.5, 0.25, 0.125],
            mem: MemInfo {
                total: 8 << 30,
                free: 2 << 30,
                swap_total: 100,
                swap_free: 40,
                ..MemInfo::default()
            },
            processes: 321,
            uptime: 99.9,
            filesystems: vec![FsUsage {
                path: "/".into(),
                total: 1000,
                used: 600,
                free: 400,
                inodes_total: 10,
                inodes_used: 4,
                inodes_free: 6,
            }],
            network: vec![NetDev {
                interface: "lo".into(),
                in_bytes: 7,
                ..NetDev::default()
            }],
        };
        let earlier = CpuTimes {
            user: 100,
            system: 50,
            idle: 500,
            iowait: 50,
            ..CpuTimes::default()
        };
        let points = node_datapoints(&sample, Some(&earlier), "T");
        assert!(points.iter().all(|p| p.timestamp == "T"));
        expect![[r#"
            cpu.cores 2 count
            cpu.total 83.33 percent
            cpu.user 66.67 percent
            cpu.system 16.67 percent
            cpu.idle 16.67 percent
            cpu.wait 0 percent
            load.1min 0.5 count
            load.5min 0.25 count
            load.15min 0.125 count
            memory.total 8589934592 bytes
            memory.free 2147483648 bytes
            memory.buffers 0 bytes
            memory.cached 0 bytes
            swap.total 100 bytes
            swap.free 40 bytes
            swap.used 60 bytes
            process.count 321 count
            system.uptime 99 count
            filesystem.capacity.total 1000 bytes path=/
            filesystem.capacity.used 600 bytes path=/
            filesystem.capacity.free 400 bytes path=/
            filesystem.inode.total 10 count path=/
            filesystem.inode.used 4 count path=/
            filesystem.inode.free 6 count path=/
            network.in 7 bytes interface=lo
            network.out 0 bytes interface=lo
            network.in.packets 0 count interface=lo
            network.out.packets 0 count interface=lo
            network.in.errors 0 count interface=lo
            network.out.errors 0 count interface=lo
            network.in.dropped 0 count interface=lo
            network.out.dropped 0 count interface=lo
        "#]]
        .assert_eq(&render(&points));
    }

    #[test]
    fn without_a_previous_sample_percentages_are_since_boot() {
        let sample = NodeSample {
            cpu: CpuTimes {
                user: 25,
                idle: 75,
                ..CpuTimes::default()
            },
            ..NodeSample::default()
        };
        let points = node_datapoints(&sample, None, "T");
        assert_eq!(points[1].value, 25.0);
        let zero = node_datapoints(&NodeSample::default(), None, "T");
        assert_eq!(zero[1].value, 0.0);
    }
}
