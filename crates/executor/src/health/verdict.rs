//! The task's health verdict, sans-IO: probe results in (with the time since the task
//! started), commands out (report a changed verdict, kill the task). Mesos's rules: failures
//! inside the grace period are ignored until the first success; a verdict is reported when
//! it changes; `max_failures` consecutive failures kill the task.

use std::time::Duration;

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    Passed,
    Failed(String),
    /// Neither success nor failure (an HTTP 1xx answer with `ignore_http1xx`).
    Ignored,
}

/// What the supervisor must do after a probe result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HealthCommand {
    /// Send TASK_RUNNING with this verdict (it changed).
    Report(bool),
    /// Kill the task; `message` names the check and its last failure.
    Kill { message: String },
}

/// How one check's results are judged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckRules {
    /// How messages name the check (`HTTP health check of http://127.0.0.1:31000/`).
    pub name: String,
    pub grace: Duration,
    /// Consecutive failures that kill the task; 0 = never.
    pub max_failures: u32,
}

#[derive(Debug, Clone)]
struct CheckState {
    rules: CheckRules,
    passed_once: bool,
    failures: u32,
    verdict: Option<bool>,
}

/// The verdicts of all of a task's checks; healthy means every check passes.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    checks: Vec<CheckState>,
    reported: Option<bool>,
    killing: bool,
}

impl Health {
    pub fn new(rules: Vec<CheckRules>) -> Self {
        let checks = rules
            .into_iter()
            .map(|rules| CheckState {
                rules,
                passed_once: false,
                failures: 0,
                verdict: None,
            })
            .collect();
        Self {
            checks,
            reported: None,
            killing: false,
        }
    }

    /// Takes the result of a probe of check `index`, `since_start` after the task started.
    pub fn observe(
        &mut self,
        index: usize,
        probe: Probe,
        since_start: Duration,
    ) -> Vec<HealthCommand> {
        let Some(check) = self.checks.get_mut(index) else {
            return Vec::new();
        };
        if self.killing {
            return Vec::new();
        }
        let kill = check.observe(probe, since_start);
        let mut commands = Vec::new();
        if let Some(verdict) = self.verdict().filter(|v| self.reported != Some(*v)) {
            self.reported = Some(verdict);
            commands.push(HealthCommand::Report(verdict));
        }
        if let Some(message) = kill {
            self.killing = true;
            commands.push(HealthCommand::Kill { message });
        }
        commands
    }

    /// Unhealthy when any check fails, healthy when all pass, unknown otherwise.
    fn verdict(&self) -> Option<bool> {
        if self.checks.iter().any(|c| c.verdict == Some(false)) {
            return Some(false);
        }
        self.checks
            .iter()
            .all(|c| c.verdict == Some(true))
            .then_some(true)
    }
}

impl CheckState {
    /// Records `probe`; returns the kill message when the check has failed too often.
    fn observe(&mut self, probe: Probe, since_start: Duration) -> Option<String> {
        let why = match probe {
            Probe::Ignored => return None,
            Probe::Passed => {
                self.passed_once = true;
                self.failures = 0;
                self.verdict = Some(true);
                return None;
            }
            Probe::Failed(why) => why,
        };
        if !self.passed_once && since_start < self.rules.grace {
            return None;
        }
        self.failures = self.failures.saturating_add(1);
        self.verdict = Some(false);
        let max = self.rules.max_failures;
        (max > 0 && self.failures >= max).then(|| {
            format!(
                "{} failed {} times consecutively: {why}",
                self.rules.name, self.failures
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(name: &str, grace_secs: u64, max_failures: u32) -> CheckRules {
        CheckRules {
            name: name.into(),
            grace: Duration::from_secs(grace_secs),
            max_failures,
        }
    }

    /// Feeds `(check, probe, seconds since start)` and renders every command, one per line
    /// (`-` when a probe produced none).
    fn check(rules: Vec<CheckRules>, probes: &[(usize, &str, u64)], expect: &str) {
        let mut health = Health::new(rules);
        let mut got = Vec::new();
        for (index, probe, at) in probes {
            let probe = match *probe {
                "ok" => Probe::Passed,
                "1xx" => Probe::Ignored,
                why => Probe::Failed(why.to_string()),
            };
            let commands = health.observe(*index, probe, Duration::from_secs(*at));
            let line: Vec<String> = commands
                .iter()
                .map(|c| match c {
                    HealthCommand::Report(v) => format!("report {v}"),
                    HealthCommand::Kill { message } => format!("kill {message:?}"),
                })
                .collect();
            got.push(if line.is_empty() {
                "-".into()
            } else {
                line.join(", ")
            });
        }
        assert_eq!(got.join("\n"), expect.trim());
    }

    #[test]
    fn reports_only_changes() {
        check(
            vec![rules("c", 0, 0)],
            &[
                (0, "ok", 1),
                (0, "ok", 2),
                (0, "e1", 3),
                (0, "e2", 4),
                (0, "ok", 5),
            ],
            "report true\n-\nreport false\n-\nreport true",
        );
    }

    #[test]
    fn grace_ignores_failures_until_the_first_success() {
        check(
            vec![rules("c", 10, 1)],
            &[(0, "e", 1), (0, "e", 9), (0, "ok", 9), (0, "e", 9)],
            r#"-
-
report true
report false, kill "c failed 1 times consecutively: e""#,
        );
        check(
            vec![rules("c", 10, 2)],
            &[(0, "e", 9), (0, "e", 10), (0, "e", 11)],
            r#"-
report false
kill "c failed 2 times consecutively: e""#,
        );
    }

    #[test]
    fn consecutive_failures_kill_once() {
        check(
            vec![rules("HTTP check", 0, 2)],
            &[
                (0, "500", 1),
                (0, "ok", 2),
                (0, "500", 3),
                (0, "503", 4),
                (0, "503", 5),
            ],
            r#"report false
report true
report false
kill "HTTP check failed 2 times consecutively: 503"
-"#,
        );
    }

    #[test]
    fn zero_max_failures_never_kills_and_1xx_changes_nothing() {
        check(
            vec![rules("c", 0, 0)],
            &[(0, "1xx", 1), (0, "e", 2), (0, "1xx", 3), (0, "e", 4)],
            "-\nreport false\n-\n-",
        );
    }

    #[test]
    fn several_checks_are_healthy_only_when_all_pass() {
        check(
            vec![rules("a", 0, 0), rules("b", 0, 3)],
            &[
                (0, "ok", 1),
                (1, "ok", 1),
                (1, "e", 2),
                (0, "ok", 3),
                (1, "ok", 3),
                (7, "e", 3),
            ],
            "-\nreport true\nreport false\n-\nreport true\n-",
        );
    }
}
