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
    /// Chosen among `of` tasks matching `how` ("named so", "whose id starts so").
    Chosen {
        task: &'a Task,
        how: &'static str,
        of: usize,
        rule: Rule,
    },
    None,
    /// More than one live task matches the same way.
    Ambiguous(Vec<&'a Task>),
}

/// Which rule chose among the tasks that match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// It is the only one.
    Only,
    /// The only live one.
    OnlyLive,
    /// The newest, none being live.
    Newest,
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
        return among(prefixed, "whose id starts so");
    }
    Pick::None
}

fn among<'a>(candidates: Vec<&'a Task>, how: &'static str) -> Pick<'a> {
    let of = candidates.len();
    let chosen = |task, rule| Pick::Chosen {
        task,
        how,
        of,
        rule,
    };
    let live: Vec<&Task> = candidates
        .iter()
        .copied()
        .filter(|t| !is_terminal(&t.state))
        .collect();
    match live.as_slice() {
        [one] if of == 1 => chosen(one, Rule::Only),
        [one] => chosen(one, Rule::OnlyLive),
        [] => match candidates
            .iter()
            .copied()
            .max_by(|a, b| last_change(a).total_cmp(&last_change(b)))
        {
            Some(task) if of == 1 => chosen(task, Rule::Only),
            Some(task) => chosen(task, Rule::Newest),
            None => Pick::None,
        },
        _ => Pick::Ambiguous(live),
    }
}

impl Pick<'_> {
    /// The note on stderr saying which task `text` was taken for (none for an exact id).
    pub fn note(&self, text: &str) -> Option<String> {
        let Pick::Chosen {
            task,
            how,
            of,
            rule,
        } = self
        else {
            return None;
        };
        let state = task.state.trim_start_matches("TASK_").to_lowercase();
        let why = match rule {
            Rule::Only => String::new(),
            Rule::OnlyLive => format!(", the only live one of {of} tasks {how}"),
            Rule::Newest => format!(", the newest of {of} tasks {how} (none is live)"),
        };
        Some(format!("{text:?} is task {} ({state}){why}", task.id))
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
                source: None,
                reason: None,
            }],
            labels: None,
            reason: None,
            message: None,
            container: None,
            discovery: None,
        }
    }

    /// `text` against `tasks`: the note for the chosen task, `exact: id`, `none` or
    /// `ambiguous: ids`.
    fn check(tasks: &[Task], text: &str, expect: &str) {
        let p = pick(tasks, text);
        let got = match &p {
            Pick::Exact(t) => format!("exact: {}", t.id),
            Pick::Chosen { .. } => p.note(text).unwrap_or_default(),
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
        check(&tasks, "hello", r#""hello" is task hello.1234 (running)"#);
        check(&tasks, "hello.1234", "exact: hello.1234");
        check(
            &tasks,
            "hello.12",
            r#""hello.12" is task hello.1234 (running)"#,
        );
        check(
            &tasks,
            "hello-job",
            r#""hello-job" is task hello-job_4.x (finished), the newest of 5 tasks whose id starts so (none is live)"#,
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
        check(
            &tasks,
            "web",
            r#""web" is task web.2 (running), the only live one of 3 tasks named so"#,
        );
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
        check(&tasks, "web.3", "exact: web.3");
    }
}
