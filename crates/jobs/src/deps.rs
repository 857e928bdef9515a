//! Dependencies between jobs (beyond Metronome 0.x, as in its newer releases): a job with
//! dependencies starts once every job it depends on has finished successfully since the
//! dependent job last started (or was created), and never while it has an active run.

use std::collections::{BTreeMap, BTreeSet};

/// The last finished run of a parent job: whether it succeeded, and when it finished.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParentOutcome {
    pub success: bool,
    pub completed_at: f64,
}

/// Whether a dependent job should start now. `baseline` is the later of the job's creation
/// and its last run's creation; `parents` holds each parent's last finished run.
pub fn dependencies_ready(parents: &[Option<ParentOutcome>], baseline: f64, active: bool) -> bool {
    !active
        && !parents.is_empty()
        && parents
            .iter()
            .all(|p| p.is_some_and(|p| p.success && p.completed_at > baseline))
}

/// Whether making `job` depend on `deps` closes a cycle in `graph` (job → its dependencies).
pub fn creates_cycle(graph: &BTreeMap<String, Vec<String>>, job: &str, deps: &[String]) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = deps.iter().map(String::as_str).collect();
    while let Some(j) = stack.pop() {
        if j == job {
            return true;
        }
        if seen.insert(j) {
            stack.extend(graph.get(j).into_iter().flatten().map(String::as_str));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(at: f64) -> Option<ParentOutcome> {
        Some(ParentOutcome {
            success: true,
            completed_at: at,
        })
    }

    #[test]
    fn waits_for_every_parent_to_succeed_after_the_baseline() {
        assert!(dependencies_ready(&[ok(20.0), ok(30.0)], 10.0, false));
        assert!(!dependencies_ready(&[ok(20.0), ok(5.0)], 10.0, false));
        assert!(!dependencies_ready(&[ok(20.0), None], 10.0, false));
        let failed = Some(ParentOutcome {
            success: false,
            completed_at: 30.0,
        });
        assert!(!dependencies_ready(&[ok(20.0), failed], 10.0, false));
        assert!(!dependencies_ready(&[ok(20.0)], 10.0, true));
        assert!(!dependencies_ready(&[], 10.0, false));
    }

    #[test]
    fn detects_cycles() {
        let g: BTreeMap<String, Vec<String>> = [
            ("b".to_string(), vec!["a".to_string()]),
            ("c".to_string(), vec!["b".to_string()]),
        ]
        .into();
        assert!(creates_cycle(&g, "a", &["c".into()]));
        assert!(!creates_cycle(&g, "d", &["c".into()]));
        assert!(creates_cycle(&g, "a", &["a".into()]));
    }
}
