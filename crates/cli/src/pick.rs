//! Which task a name on the command line means (`keel task log|kill <task>`): pure, so
//! the rules are tested without a cluster.
//!
//! In order: the task whose id is the text; the tasks whose name is the text; the tasks
//! whose id starts with it. Within the first tier that matches anything, a live task wins
//! over finished ones; several live ones are ambiguous; of finished ones only, the newest.

use keel_api::mesos::Task;

/// The task chosen, and why (for a note on stderr), or why none could be.
#[derive(Debug)]
pub enum Pick<'a> {
    /// The text is a task id.
    Exact(&'a Task),
    /// Chosen among `of` candidates by the rule `why`.
    Chosen {
        task: &'a Task,
        why: &'static str,
        of: usize,
    },
    None,
    /// More than one live task matches the same way.
    Ambiguous(Vec<&'a Task>),
}

/// Task states after which nothing runs any more.
pub fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_ERROR"
            | "TASK_LOST"
            | "TASK_DROPPED"
            | "TASK_GONE"
            | "TASK_GONE_BY_OPERATOR"
    )
}

/// Picks the task `text` stands for among `tasks`.
pub fn pick<'a>(tasks: &'a [Task], text: &str) -> Pick<'a> {
    if let Some(t) = tasks.iter().find(|t| t.id == text) {
        return Pick::Exact(t);
    }
    let named: Vec<&Task> = tasks.iter().filter(|t| t.name == text).collect();
    if !named.is_empty() {
        return among(named, "named so");
    }
    let prefixed: Vec<&Task> = tasks.iter().filter(|t| t.id.starts_with(text)).collect();
    if !prefixed.is_empty() {
        return among(prefixed, "id starts so");
    }
    Pick::None
}

fn among<'a>(candidates: Vec<&'a Task>, how: &'static str) -> Pick<'a> {
    let of = candidates.len();
    let live: Vec<&Task> = candidates
        .iter()
        .copied()
        .filter(|t| !is_terminal(&t.state))
        .collect();
    match live.as_slice() {
        [one] if of == 1 => Pick::Chosen {
            task: one,
            why: how,
            of,
        },
        [one] => Pick::Chosen {
            task: one,
            why: "the only live one",
            of,
        },
        [] => {
            let newest = candidates
                .iter()
                .copied()
                .max_by(|a, b| last_change(a).total_cmp(&last_change(b)));
            match newest {
                Some(task) if of == 1 => Pick::Chosen { task, why: how, of },
                Some(task) => Pick::Chosen {
                    task,
                    why: "the newest, none is live",
                    of,
                },
                None => Pick::None,
            }
        }
        _ => Pick::Ambiguous(live),
    }
}

fn last_change(t: &Task) -> f64 {
    t.statuses
        .iter()
        .map(|s| s.timestamp)
        .fold(f64::MIN, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::mesos::Status;
    use serde_json::Value;

    fn task(id: &str, state: &str, at: f64) -> Task {
        Task {
            id: id.into(),
            name: id.split('.').next().unwrap_or(id).into(),
            framework_id: "f".into(),
            executor_id: String::new(),
            slave_id: "a".into(),
            state: state.into(),
            resources: Value::Null,
            role: "*".into(),
            statuses: vec![Status {
                state: state.into(),
                timestamp: at,
                container_status: None,
                healthy: None,
            }],
            labels: None,
            reason: None,
            message: None,
        }
    }

    /// `text` against `tasks`: the chosen id and rule, or `none`, or `ambiguous: ids`.
    fn check(tasks: &[Task], text: &str, expect: &str) {
        let got = match pick(tasks, text) {
            Pick::Exact(t) => format!("{} (exact)", t.id),
            Pick::Chosen { task, why, of } => format!("{} ({why}, of {of})", task.id),
            Pick::None => "none".into(),
            Pick::Ambiguous(ts) => format!(
                "ambiguous: {}",
                ts.iter()
                    .map(|t| t.id.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        };
        assert_eq!(got, expect, "{text:?}");
    }

    #[test]
    fn a_name_beats_longer_names_sharing_its_prefix() {
        // The case of issue 11: a job `hello-job` ran 5 times beside the task `hello`.
        let mut tasks: Vec<Task> = (0..5)
            .map(|i| task(&format!("hello-job_{i}.x"), "TASK_FINISHED", f64::from(i)))
            .collect();
        tasks.push(task("hello.1234", "TASK_RUNNING", 1.0));
        check(&tasks, "hello", "hello.1234 (named so, of 1)");
        check(&tasks, "hello.1234", "hello.1234 (exact)");
        check(&tasks, "hello.12", "hello.1234 (id starts so, of 1)");
        check(
            &tasks,
            "hello-job",
            "hello-job_4.x (the newest, none is live, of 5)",
        );
        check(&tasks, "bye", "none");
    }

    #[test]
    fn a_live_task_beats_finished_ones_of_the_same_name() {
        let tasks = [
            task("web.1", "TASK_KILLED", 1.0),
            task("web.2", "TASK_RUNNING", 2.0),
            task("web.3", "TASK_FAILED", 3.0),
        ];
        check(&tasks, "web", "web.2 (the only live one, of 3)");
    }

    #[test]
    fn several_live_tasks_are_ambiguous() {
        let tasks = [
            task("web.1", "TASK_RUNNING", 1.0),
            task("web.2", "TASK_STAGING", 2.0),
            task("web.3", "TASK_FINISHED", 3.0),
        ];
        check(&tasks, "web", "ambiguous: web.1 web.2");
        check(&tasks, "we", "ambiguous: web.1 web.2");
        check(&tasks, "web.3", "web.3 (exact)");
    }
}
