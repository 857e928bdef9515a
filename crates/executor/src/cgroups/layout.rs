//! Which cgroup hierarchy holds the memory and cpu controllers, read from
//! `/proc/self/mountinfo`: v1 (one mount per controller) or v2 (one unified mount).

use super::{CgroupError, CgroupFs};
use std::path::{Path, PathBuf};

/// Where the controllers the executor uses are mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupLayout {
    /// Legacy hierarchies: the memory controller's mount, and the cpu controller's if any.
    V1 {
        memory: PathBuf,
        cpu: Option<PathBuf>,
    },
    /// The unified hierarchy, with the memory controller available at its root.
    V2 { mount: PathBuf },
}

/// One cgroup mount from mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    point: PathBuf,
    version: u8,
    controllers: Vec<String>,
}

impl CgroupLayout {
    /// Reads `/proc/self/mountinfo` (through `fs`) and picks the layout.
    pub fn detect(fs: &dyn CgroupFs) -> Result<Self, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = fs.read(path).map_err(|e| CgroupError::read(path, e))?;
        Self::from_mountinfo(&text, fs)
    }

    /// Picks the layout from mountinfo text: a v1 hierarchy with the memory controller
    /// wins (hybrid hosts keep only leftovers such as hugetlb in their v2 mount); otherwise
    /// a v2 mount whose `cgroup.controllers` lists `memory`.
    pub fn from_mountinfo(text: &str, fs: &dyn CgroupFs) -> Result<Self, CgroupError> {
        let mounts: Vec<CgroupMount> = text.lines().filter_map(parse_line).collect();
        let v1 = |name: &str| {
            mounts
                .iter()
                .find(|m| m.version == 1 && m.controllers.iter().any(|c| c == name))
                .map(|m| m.point.clone())
        };
        if let Some(memory) = v1("memory") {
            return Ok(Self::V1 {
                memory,
                cpu: v1("cpu"),
            });
        }
        mounts
            .iter()
            .filter(|m| m.version == 2)
            .find(|m| has_memory(fs, &m.point))
            .map(|m| Self::V2 {
                mount: m.point.clone(),
            })
            .ok_or(CgroupError::NotMounted)
    }
}

fn has_memory(fs: &dyn CgroupFs, mount: &Path) -> bool {
    fs.read(&mount.join("cgroup.controllers"))
        .is_ok_and(|text| text.split_whitespace().any(|c| c == "memory"))
}

/// Parses one mountinfo line (`id parent maj:min root point opts [tags] - fstype src sopts`)
/// into a cgroup mount, or `None` for other file systems.
fn parse_line(line: &str) -> Option<CgroupMount> {
    let (left, right) = line.split_once(" - ")?;
    let point = left.split(' ').nth(4)?;
    let mut right = right.split(' ');
    let fstype = right.next()?;
    let super_opts = right.nth(1).unwrap_or("");
    let version = match fstype {
        "cgroup" => 1,
        "cgroup2" => 2,
        _ => return None,
    };
    let controllers = super_opts.split(',').map(str::to_string).collect();
    Some(CgroupMount {
        point: PathBuf::from(unescape(point)),
        version,
        controllers,
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push(
                    d.iter()
                        .fold(0u8, |acc, b| acc.wrapping_mul(8).wrapping_add(b - b'0')),
                );
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::HostFs;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const PURE_V2: &str = "\
25 23 0:22 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate
26 23 0:23 / /proc rw - proc proc rw
";

    const CPU_CPUACCT: &str = "\
30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/mem\\040ory rw shared:11 - cgroup cgroup rw,memory
";

    fn check(mountinfo: &str, v2_controllers: &str, expect: Result<CgroupLayout, ()>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = HostFs::new(dir.path());
        fs.create_dir(Path::new("/sys/fs/cgroup/unified"))
            .expect("mkdir");
        for dir in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
            let file = Path::new(dir).join("cgroup.controllers");
            fs.write(&file, v2_controllers).expect("write");
        }
        let got = CgroupLayout::from_mountinfo(mountinfo, &fs).map_err(|_| ());
        assert_eq!(got, expect);
    }

    #[test]
    fn hybrid_host_uses_v1_for_memory_and_cpu() {
        let memory = PathBuf::from("/sys/fs/cgroup/memory");
        let cpu = Some(PathBuf::from("/sys/fs/cgroup/cpu"));
        check(HYBRID, "hugetlb", Ok(CgroupLayout::V1 { memory, cpu }));
    }

    #[test]
    fn pure_v2_host_uses_the_unified_mount() {
        let mount = PathBuf::from("/sys/fs/cgroup");
        check(
            PURE_V2,
            "cpuset cpu io memory pids",
            Ok(CgroupLayout::V2 { mount }),
        );
    }

    #[test]
    fn v2_without_memory_controller_is_not_usable() {
        check(PURE_V2, "cpu io pids", Err(()));
        check("", "memory", Err(()));
    }

    #[test]
    fn comounted_controllers_and_escapes() {
        let memory = PathBuf::from("/sys/fs/cgroup/mem ory");
        let cpu = Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        check(CPU_CPUACCT, "", Ok(CgroupLayout::V1 { memory, cpu }));
    }
}
