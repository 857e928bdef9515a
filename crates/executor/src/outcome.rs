//! How a task ended → its terminal status. Pure: the supervisor gathers the facts (exit
//! status, whether a kill was requested, OOM kills) and this decides what to report.

use crate::status::StatusUpdate;
use keel_model::{Reason, TaskState};

/// How the task's main process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    Exited(i32),
    Signaled(i32),
    /// The exit status could not be collected.
    Unknown(String),
}

/// The kernel's OOM killer struck the container.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OomReport {
    pub requested_mb: f64,
    pub peak_bytes: Option<u64>,
}

/// Everything that decides the terminal status.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub ending: Ending,
    pub kill_requested: bool,
    /// The task was killed because a health check failed too often: why.
    pub health_kill: Option<String>,
    pub oom: Option<OomReport>,
}

impl Outcome {
    /// The terminal status: a kill wins (TASK_KILLED whatever the exit; unhealthy with
    /// Mesos's health reason when a health check asked for it), then a memory limitation,
    /// then the exit status itself.
    pub fn terminal_update(&self) -> StatusUpdate {
        let described = describe(&self.ending);
        let exit_code = match self.ending {
            Ending::Exited(code) => Some(code),
            _ => None,
        };
        if let Some(why) = &self.health_kill {
            return StatusUpdate::new(TaskState::Killed)
                .reason(Reason::ReasonTaskHealthCheckStatusUpdated)
                .message(format!("Task killed: {why} ({described})"))
                .healthy(false)
                .exit_code(exit_code);
        }
        if self.kill_requested {
            return StatusUpdate::new(TaskState::Killed)
                .message(described)
                .exit_code(exit_code);
        }
        if let Some(oom) = &self.oom {
            return StatusUpdate::new(TaskState::Failed)
                .reason(Reason::ReasonContainerLimitationMemory)
                .message(oom.message());
        }
        match self.ending {
            Ending::Exited(0) => StatusUpdate::new(TaskState::Finished).message(described),
            _ => StatusUpdate::new(TaskState::Failed)
                .message(described)
                .exit_code(exit_code),
        }
    }
}

impl OomReport {
    /// Mesos's wording: `Memory limit exceeded: Requested: 64MB Maximum Used: 64MB`.
    fn message(&self) -> String {
        let requested = format_bytes((self.requested_mb.max(0.0) * 1024.0 * 1024.0) as u64);
        let mut msg = format!("Memory limit exceeded: Requested: {requested}");
        if let Some(peak) = self.peak_bytes {
            msg.push_str(&format!(" Maximum Used: {}", format_bytes(peak)));
        }
        msg
    }
}

fn describe(ending: &Ending) -> String {
    match ending {
        Ending::Exited(code) => format!("Command exited with status {code}"),
        Ending::Signaled(sig) => format!("Command terminated with signal {}", signal_name(*sig)),
        Ending::Unknown(why) => format!("Command exit status unknown: {why}"),
    }
}

/// Bytes as Mesos prints them: the largest unit that divides the value exactly.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TB"),
        (1 << 30, "GB"),
        (1 << 20, "MB"),
        (1 << 10, "KB"),
    ];
    UNITS
        .iter()
        .find(|(size, _)| bytes > 0 && bytes.is_multiple_of(*size))
        .map(|(size, unit)| format!("{}{unit}", bytes / size))
        .unwrap_or_else(|| format!("{bytes}B"))
}

/// `SIGKILL` for 9, and so on; `signal 42` for numbers without a name.
pub(crate) fn signal_name(sig: i32) -> String {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(sig - 1)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("signal {sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(outcome: Outcome, expect: &str) {
        let u = outcome.terminal_update();
        let got = format!(
            "{} {:?} {:?} {:?}",
            u.state,
            u.reason,
            u.message.unwrap_or_default(),
            u.exit_code
        );
        assert_eq!(got, expect);
    }

    fn ended(ending: Ending) -> Outcome {
        Outcome {
            ending,
            kill_requested: false,
            health_kill: None,
            oom: None,
        }
    }

    #[test]
    fn exits() {
        check(
            ended(Ending::Exited(0)),
            r#"TASK_FINISHED None "Command exited with status 0" None"#,
        );
        check(
            ended(Ending::Exited(3)),
            r#"TASK_FAILED None "Command exited with status 3" Some(3)"#,
        );
        check(
            ended(Ending::Signaled(9)),
            r#"TASK_FAILED None "Command terminated with signal SIGKILL" None"#,
        );
        check(
            ended(Ending::Unknown("ECHILD".into())),
            r#"TASK_FAILED None "Command exit status unknown: ECHILD" None"#,
        );
    }

    #[test]
    fn a_requested_kill_is_killed_whatever_the_exit() {
        let killed = |ending| Outcome {
            kill_requested: true,
            ..ended(ending)
        };
        check(
            killed(Ending::Signaled(15)),
            r#"TASK_KILLED None "Command terminated with signal SIGTERM" None"#,
        );
        check(
            killed(Ending::Exited(0)),
            r#"TASK_KILLED None "Command exited with status 0" Some(0)"#,
        );
    }

    #[test]
    fn a_health_kill_is_killed_unhealthy_with_the_health_reason() {
        let outcome = Outcome {
            kill_requested: true,
            health_kill: Some("HTTP health check of / failed 3 times consecutively: x".into()),
            ..ended(Ending::Signaled(15))
        };
        check(
            outcome.clone(),
            r#"TASK_KILLED Some(ReasonTaskHealthCheckStatusUpdated) "Task killed: HTTP health check of / failed 3 times consecutively: x (Command terminated with signal SIGTERM)" None"#,
        );
        assert_eq!(outcome.terminal_update().healthy, Some(false));
        assert_eq!(ended(Ending::Exited(0)).terminal_update().healthy, None);
    }

    #[test]
    fn memory_limitation() {
        let oom = |peak| Outcome {
            oom: Some(OomReport {
                requested_mb: 64.0,
                peak_bytes: peak,
            }),
            ..ended(Ending::Signaled(9))
        };
        check(
            oom(Some(64 << 20)),
            r#"TASK_FAILED Some(ReasonContainerLimitationMemory) "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB" None"#,
        );
        check(
            oom(None),
            r#"TASK_FAILED Some(ReasonContainerLimitationMemory) "Memory limit exceeded: Requested: 64MB" None"#,
        );
    }

    #[test]
    fn byte_and_signal_names() {
        let bytes: Vec<String> = [0, 1000, 2048, 3 << 20, 5 << 30, (1 << 20) + 1]
            .into_iter()
            .map(format_bytes)
            .collect();
        assert_eq!(bytes, ["0B", "1000B", "2KB", "3MB", "5GB", "1048577B"]);
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(31), "SIGSYS");
        assert_eq!(signal_name(0), "signal 0");
        assert_eq!(signal_name(64), "signal 64");
    }
}
