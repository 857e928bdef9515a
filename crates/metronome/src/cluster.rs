//! The narrow seam between the job scheduler and the cluster: launch a batch of tasks, kill
//! one, observe one. [`Master`] implements it for real; tests use a recording double.
//! Also turns a job's `run` into the master's [`TaskLaunch`].

use keel_api::metronome::JobSpec;
use keel_api::to_model::literal_env;
use keel_master::{DEFAULT_KILL_GRACE_SECS, Master, MasterError, TaskLaunch};
use keel_model::{
    CommandSpec, Constraint, ContainerKind, ContainerSpec, DockerSpec, FetchUri, TaskId, TaskState,
};
use keel_resources::Resources;

/// The framework name job tasks run under.
pub const FRAMEWORK: &str = "metronome";

/// What the scheduler needs to know about a task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskObservation {
    pub state: TaskState,
    pub staged_at: f64,
    pub updated_at: f64,
}

/// The cluster as the job scheduler sees it.
pub trait Cluster: Send + Sync + 'static {
    /// Launches a batch; per task `Ok`, or `Err(reason)` when no agent can take it now.
    fn launch(&self, batch: Vec<TaskLaunch>) -> Vec<Result<(), String>>;
    /// Kills a task (no error if it is already gone).
    fn kill(&self, task_id: &str, grace: Option<f64>);
    /// The task's current state, if the master knows it.
    fn observe(&self, task_id: &str) -> Option<TaskObservation>;
}

impl Cluster for Master {
    fn launch(&self, batch: Vec<TaskLaunch>) -> Vec<Result<(), String>> {
        self.launch_tasks(batch)
            .into_iter()
            .map(|r| r.map(|_| ()).map_err(|e| describe(&e)))
            .collect()
    }

    fn kill(&self, task_id: &str, grace: Option<f64>) {
        let Ok(id) = TaskId::new(task_id) else {
            return;
        };
        if let Err(e) = self.kill_task(&id, grace)
            && !matches!(e, MasterError::TaskTerminal { .. })
        {
            tracing::warn!("metronome: killing {task_id}: {e}");
        }
    }

    fn observe(&self, task_id: &str) -> Option<TaskObservation> {
        let id = TaskId::new(task_id).ok()?;
        self.task_view(&id).map(|t| TaskObservation {
            state: t.state,
            staged_at: t.staged_at,
            updated_at: t.updated_at,
        })
    }
}

fn describe(e: &MasterError) -> String {
    match e {
        MasterError::Unplaceable { rejections } if !rejections.is_empty() => {
            let parts: Vec<String> = rejections
                .iter()
                .map(|(why, n)| format!("{n} agent(s): {why}"))
                .collect();
            format!("{e} ({})", parts.join("; "))
        }
        _ => e.to_string(),
    }
}

/// Whether the job has something Keel can run today: a command, or a Docker image (run by
/// the Docker containerizer). UCR images are accepted and validated, but until Keel's own
/// runtime lands a UCR job's command runs as a plain process, and a UCR job with no command
/// cannot run.
pub fn runnable(job: &JobSpec) -> Result<(), String> {
    let r = &job.run;
    if r.cmd.is_some() || r.args.as_ref().is_some_and(|a| !a.is_empty()) || r.docker.is_some() {
        return Ok(());
    }
    let image = r
        .docker
        .as_ref()
        .map(|d| d.image.clone())
        .or_else(|| r.ucr.as_ref().map(|u| u.image.id.clone()))
        .unwrap_or_default();
    Err(format!(
        "UCR image {image} has no cmd or args: Keel's own container runtime is not available yet"
    ))
}

/// The master launch for attempt `task_id` of a run of `job`.
pub fn task_launch(job: &JobSpec, run_id: &str, task_id: TaskId) -> TaskLaunch {
    let r = &job.run;
    // Secret references are accepted; values are injected by the secrets issue.
    let env = literal_env(&r.env);
    let command = match (&r.cmd, &r.args) {
        (Some(cmd), _) => CommandSpec {
            shell: true,
            value: cmd.clone(),
            arguments: Vec::new(),
            env,
            user: r.user.clone(),
        },
        (None, args) => {
            let args = args.clone().unwrap_or_default();
            // With an image, args follow its entrypoint.
            let has_image = r.docker.is_some() || r.ucr.is_some();
            CommandSpec {
                shell: false,
                value: match has_image {
                    true => String::new(),
                    false => args.first().cloned().unwrap_or_default(),
                },
                arguments: args,
                env,
                user: r.user.clone(),
            }
        }
    };
    let mut labels = job.labels.clone();
    labels.insert("KEEL_JOB_ID".into(), job.id.clone());
    labels.insert("KEEL_JOB_RUN_ID".into(), run_id.to_string());
    TaskLaunch {
        task_id,
        name: job.id.clone(),
        framework: FRAMEWORK.into(),
        role: "*".into(),
        command,
        resources: Resources::new()
            .with_scalar("cpus", r.cpus)
            .with_scalar("mem", r.mem)
            .with_scalar("disk", r.disk),
        ports: Vec::new(),
        constraints: r
            .placement
            .constraints
            .iter()
            .filter_map(|c| Constraint::try_from(c).ok())
            .collect(),
        kill_grace_secs: r
            .task_kill_grace_period_seconds
            .unwrap_or(DEFAULT_KILL_GRACE_SECS),
        labels,
        health_checks: Vec::new(),
        fetch: r.artifacts.iter().map(FetchUri::from).collect(),
        port_names: Vec::new(),
        placement_scope: Some(job.id.clone()),
        container: docker_container(job).or_else(|| ucr_container(job)),
        discovery: None,
    }
}

/// A job's `run.ucr` as a container of Keel's own runtime, with its host volumes.
fn ucr_container(job: &JobSpec) -> Option<ContainerSpec> {
    let u = job.run.ucr.as_ref()?;
    Some(ContainerSpec {
        kind: ContainerKind::Mesos,
        docker: Some(DockerSpec::from(u)),
        volumes: host_volumes(job),
    })
}

/// The job's host volumes (secret volumes are not mounted here).
fn host_volumes(job: &JobSpec) -> Vec<keel_model::Volume> {
    job.run
        .volumes
        .iter()
        .filter_map(|v| keel_model::Volume::try_from(v).ok())
        .collect()
}

/// A job's `run.docker` as a Docker container spec (host networking, as Metronome runs
/// jobs).
fn docker_container(job: &JobSpec) -> Option<ContainerSpec> {
    let d = job.run.docker.as_ref()?;
    Some(ContainerSpec {
        kind: ContainerKind::Docker,
        docker: Some(DockerSpec::from(d)),
        volumes: host_volumes(job),
    })
}

#[cfg(test)]
mod docker_tests {
    use super::*;
    use keel_model::DockerNetwork;

    #[test]
    fn a_ucr_job_runs_its_image_in_keels_runtime_with_its_host_volumes() {
        let job: JobSpec = serde_json::from_value(serde_json::json!({
            "id": "ucr", "run": {"cpus": 0.1, "mem": 32, "disk": 0, "cmd": "ls /data",
            "ucr": {"image": {"id": "busybox:1", "forcePull": true}},
            "volumes": [{"containerPath": "/data", "hostPath": "/srv", "mode": "RW"},
                        {"containerPath": "/s", "secret": "pw"}]}
        }))
        .expect("job");
        let c = ucr_container(&job).expect("a container");
        assert_eq!(c.kind, ContainerKind::Mesos);
        let d = c.docker.expect("image");
        assert_eq!((d.image.as_str(), d.force_pull), ("busybox:1", true));
        assert_eq!(c.volumes.len(), 1);
        assert_eq!(c.volumes[0].mode, keel_model::VolumeMode::ReadWrite);
    }

    #[test]
    fn a_docker_job_runs_its_image_through_the_docker_containerizer() {
        let job: JobSpec = serde_json::from_value(serde_json::json!({
            "id": "img", "run": {"cpus": 0.1, "mem": 32, "disk": 0,
            "docker": {"image": "busybox:1", "forcePullImage": true, "parameters": [{"key": "label", "value": "a=b"}]}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runnable(&job), Ok(()));
        let l = task_launch(
            &job,
            "r1",
            TaskId::new("img.r1").unwrap_or_else(|e| panic!("{e}")),
        );
        let c = l.container.unwrap_or_else(|| panic!("no container"));
        let d = c.docker.unwrap_or_else(|| panic!("no docker"));
        assert_eq!(
            (c.kind, d.image.as_str(), d.network, d.force_pull),
            (
                ContainerKind::Docker,
                "busybox:1",
                DockerNetwork::Host,
                true
            )
        );
        assert_eq!(d.parameters, vec![("label".to_string(), "a=b".to_string())]);
        assert!(l.command.value.is_empty() && l.command.arguments.is_empty());
    }
}
