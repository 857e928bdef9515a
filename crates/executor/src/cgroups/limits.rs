//! Resource → cgroup limit math (Mesos's cgroups isolators) and the control-file writes
//! each cgroup version needs. Pure: no I/O.

const MIB: u64 = 1024 * 1024;
/// Mesos's floor for a container's memory limit.
pub const MIN_MEMORY_BYTES: u64 = 32 * MIB;
/// Mesos's floor for `cpu.shares`.
pub const MIN_CPU_SHARES: u64 = 2;
/// `cpu.shares` for one whole cpu.
pub const CPU_SHARES_PER_CPU: u64 = 1024;
/// The CFS period every container gets.
pub const CFS_PERIOD_US: u64 = 100_000;
/// Mesos's floor for the CFS quota (1 ms per period).
pub const MIN_CFS_QUOTA_US: u64 = 1_000;

/// The limits derived from a task's `cpus` and `mem` resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupLimits {
    pub memory_bytes: u64,
    pub cpu_shares: u64,
    pub cfs_period_us: u64,
    pub cfs_quota_us: u64,
}

impl CgroupLimits {
    /// Limits for `cpus` cpus and `mem_mb` MiB of memory, with Mesos's floors.
    pub fn new(cpus: f64, mem_mb: f64) -> Self {
        let cpus = cpus.max(0.0);
        Self {
            memory_bytes: ((mem_mb.max(0.0) * MIB as f64) as u64).max(MIN_MEMORY_BYTES),
            cpu_shares: ((cpus * CPU_SHARES_PER_CPU as f64) as u64).max(MIN_CPU_SHARES),
            cfs_period_us: CFS_PERIOD_US,
            cfs_quota_us: ((cpus * CFS_PERIOD_US as f64) as u64).max(MIN_CFS_QUOTA_US),
        }
    }

    /// cgroup v2 `cpu.weight` for these shares (the runc/systemd mapping of [2, 262144]
    /// onto [1, 10000]).
    pub fn cpu_weight(&self) -> u64 {
        let shares = self.cpu_shares.clamp(2, 262_144);
        1 + (shares - 2) * 9_999 / 262_142
    }

    /// The control files to write on a v1 host, in order.
    pub fn v1_settings(&self) -> Vec<Setting> {
        use Controller::{Cpu, Memory};
        vec![
            Setting::required(Memory, "memory.limit_in_bytes", self.memory_bytes),
            Setting::optional(Memory, "memory.memsw.limit_in_bytes", self.memory_bytes),
            Setting::required(Cpu, "cpu.shares", self.cpu_shares),
            Setting::required(Cpu, "cpu.cfs_period_us", self.cfs_period_us),
            Setting::required(Cpu, "cpu.cfs_quota_us", self.cfs_quota_us),
        ]
    }

    /// The control files to write on a v2 host, in order.
    pub fn v2_settings(&self) -> Vec<Setting> {
        use Controller::{Cpu, Memory};
        let cpu_max = format!("{} {}", self.cfs_quota_us, self.cfs_period_us);
        vec![
            Setting::required(Memory, "memory.max", self.memory_bytes),
            Setting::optional(Memory, "memory.swap.max", 0),
            Setting::required(Cpu, "cpu.max", cpu_max),
            Setting::required(Cpu, "cpu.weight", self.cpu_weight()),
        ]
    }
}

/// The controller a control file belongs to (on v1 each has its own directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Memory,
    Cpu,
}

/// One control-file write. An `optional` file is skipped when absent and its failure ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub controller: Controller,
    pub file: &'static str,
    pub value: String,
    pub optional: bool,
}

impl Setting {
    fn required(controller: Controller, file: &'static str, value: impl ToString) -> Self {
        Self {
            controller,
            file,
            value: value.to_string(),
            optional: false,
        }
    }

    fn optional(controller: Controller, file: &'static str, value: impl ToString) -> Self {
        Self {
            optional: true,
            ..Self::required(controller, file, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cpus: f64, mem_mb: f64, expect: (u64, u64, u64, u64)) {
        let l = CgroupLimits::new(cpus, mem_mb);
        assert_eq!(
            (
                l.memory_bytes / MIB,
                l.cpu_shares,
                l.cfs_quota_us,
                l.cpu_weight()
            ),
            expect
        );
        assert_eq!(l.cfs_period_us, 100_000);
    }

    #[test]
    fn limit_math() {
        check(1.0, 128.0, (128, 1024, 100_000, 39));
        check(0.5, 64.0, (64, 512, 50_000, 20));
        check(2.5, 4096.0, (4096, 2560, 250_000, 98));
        check(0.001, 32.0, (32, 2, 1_000, 1));
        check(0.0, 0.0, (32, 2, 1_000, 1));
        check(-1.0, 1.0, (32, 2, 1_000, 1));
        check(256.0, 1.0e6, (1_000_000, 262_144, 25_600_000, 10_000));
    }

    #[test]
    fn fractional_memory_is_exact_bytes() {
        assert_eq!(
            CgroupLimits::new(1.0, 40.5).memory_bytes,
            40 * MIB + MIB / 2
        );
    }

    #[test]
    fn settings_per_version() {
        let l = CgroupLimits::new(0.25, 64.0);
        let render = |s: Vec<Setting>| -> Vec<String> {
            s.iter()
                .map(|s| {
                    format!(
                        "{}={}{}",
                        s.file,
                        s.value,
                        if s.optional { "?" } else { "" }
                    )
                })
                .collect()
        };
        assert_eq!(
            render(l.v1_settings()),
            [
                "memory.limit_in_bytes=67108864",
                "memory.memsw.limit_in_bytes=67108864?",
                "cpu.shares=256",
                "cpu.cfs_period_us=100000",
                "cpu.cfs_quota_us=25000",
            ]
        );
        assert_eq!(
            render(l.v2_settings()),
            [
                "memory.max=67108864",
                "memory.swap.max=0?",
                "cpu.max=25000 100000",
                "cpu.weight=10"
            ]
        );
    }
}
