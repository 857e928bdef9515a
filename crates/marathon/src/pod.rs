//! Marathon pods as run specs: the stored record (spec plus config version), its reduction
//! to a `keel-deploy` run spec, and the launch of one instance as a task group (one task
//! per container, all on one agent). Containers with an image run in Keel's own runtime,
//! others as plain processes; ephemeral pod volumes are one directory per instance on the
//! agent, shared by the instance's containers.

use crate::launch::FRAMEWORK;
use keel_api::marathon::pod::{Pod, PodContainer, PodHealthCheck, VolumeMount};
use keel_api::marathon::spec::{Constraint, KillSelection, UnreachableStrategy, UpgradeStrategy};
use keel_api::marathon::{PathId, Timestamp, task_id};
use keel_api::to_model::literal_env;
use keel_deploy::{BackoffPolicy, RunSpec, RunSpecKind};
use keel_master::{TaskLaunch, TaskView};
use keel_model::{
    CommandSpec, ContainerKind, ContainerSpec, DockerNetwork, DockerSpec, FetchUri, GroupVolume,
    HealthCheck, HealthProtocol, HostPort, TaskId, TaskState, Volume, VolumeMode,
};
use keel_resources::Resources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Kill grace when a container sets no `lifecycle.killGracePeriodSeconds`.
const DEFAULT_GRACE: f64 = 3.0;

/// A stored pod: the normalized spec (with `version` set) and the version of its last
/// change other than scaling (Marathon's `lastConfigChangeAt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodRecord {
    pub pod: Pod,
    pub config_version: Timestamp,
}

impl PodRecord {
    /// `pod` as written at `now`, replacing `current` (a scale-only change keeps the
    /// config version).
    pub fn new(mut pod: Pod, now: Timestamp, current: Option<&PodRecord>) -> PodRecord {
        pod.version = Some(now);
        let config_version = match current {
            Some(cur) if same_config(&cur.pod, &pod) => cur.config_version,
            _ => now,
        };
        PodRecord {
            pod,
            config_version,
        }
    }

    pub fn id(&self) -> PathId {
        self.pod.path_id()
    }

    pub fn version(&self) -> Timestamp {
        self.pod.version.unwrap_or_default()
    }

    pub fn instances(&self) -> u32 {
        u32::try_from(self.pod.scaling.instances.max(0)).unwrap_or(u32::MAX)
    }

    /// True if any container has a health check.
    pub fn has_health_checks(&self) -> bool {
        self.pod.containers.iter().any(|c| c.health_check.is_some())
    }

    /// The pod reduced to what deployment decisions read.
    pub fn run_spec(&self) -> RunSpec {
        let s = &self.pod.scheduling;
        let upgrade = s.upgrade.unwrap_or(UpgradeStrategy::DEFAULT);
        let unreachable = crate::state::unreachable_strategy(
            s.unreachable_strategy
                .unwrap_or(UnreachableStrategy::DEFAULT),
        );
        RunSpec {
            id: self.id().to_string(),
            kind: RunSpecKind::Pod,
            version: self.version().to_string(),
            config_version: self.config_version.to_string(),
            instances: self.instances(),
            dependencies: Vec::new(),
            upgrade: keel_deploy::UpgradeStrategy {
                minimum_health_capacity: upgrade.minimum_health_capacity,
                maximum_over_capacity: upgrade.maximum_over_capacity,
            },
            kill_selection: match s.kill_selection {
                KillSelection::YoungestFirst => keel_deploy::KillSelection::YoungestFirst,
                KillSelection::OldestFirst => keel_deploy::KillSelection::OldestFirst,
            },
            backoff: BackoffPolicy {
                seconds: s.backoff.backoff,
                factor: s.backoff.backoff_factor,
                max_launch_delay: s.backoff.max_launch_delay,
            },
            unreachable,
            resident: self.pod.is_resident(),
            has_health_checks: self.has_health_checks(),
            has_readiness_checks: false,
        }
    }

    /// A new instance: its id and one launch per container (task ids in container order).
    pub fn new_instance(&self, ids: &dyn keel_clock::Ids) -> (String, Vec<TaskLaunch>) {
        let id = self.id();
        let uuid = ids.uuid();
        let instance = task_id::instance_id(&id, uuid);
        let launches = self
            .pod
            .containers
            .iter()
            .filter_map(|c| {
                let task = TaskId::new(task_id::mint_pod_task(&id, uuid, &c.name, 1)).ok()?;
                Some(self.container_launch(c, task, &instance))
            })
            .collect();
        (instance, launches)
    }

    fn container_launch(&self, c: &PodContainer, task: TaskId, instance: &str) -> TaskLaunch {
        let pod = &self.pod;
        let mut labels = pod.labels.clone();
        labels.extend(c.labels.clone());
        labels.insert("MARATHON_APP_ID".into(), self.id().to_string());
        labels.insert("MARATHON_APP_VERSION".into(), self.version().to_string());
        // Marathon's PortsMatcher: hostPort n is fixed, 0 any free port, absent none.
        let (ports, port_names): (Vec<HostPort>, Vec<String>) = c
            .endpoints
            .iter()
            .filter_map(|e| Some((HostPort::from_port(e.host_port?), e.name.clone())))
            .unzip();
        TaskLaunch {
            command: self.command(c, &task),
            task_id: task,
            name: c.name.clone(),
            framework: FRAMEWORK.into(),
            role: pod.role.clone(),
            resources: Resources::new()
                .with_scalar("cpus", c.resources.cpus)
                .with_scalar("mem", c.resources.mem)
                .with_scalar("disk", c.resources.disk)
                .with_scalar("gpus", c.resources.gpus as f64),
            ports,
            constraints: pod
                .scheduling
                .placement
                .constraints
                .iter()
                .filter_map(|k| {
                    Constraint::new(&k.field_name, &k.operator, k.value.as_deref()).to_model()
                })
                .collect(),
            kill_grace_secs: c
                .lifecycle
                .and_then(|l| l.kill_grace_period_seconds)
                .unwrap_or(DEFAULT_GRACE),
            labels,
            health_checks: c
                .health_check
                .as_ref()
                .and_then(|h| health_check(c, h))
                .into_iter()
                .collect(),
            fetch: c.artifacts.iter().map(FetchUri::from).collect(),
            port_names,
            placement_scope: Some(self.id().to_string()),
            container: self.container(c, instance),
            discovery: None,
        }
    }

    /// A container with an image runs in Keel's own runtime (Marathon pods are UCR pods);
    /// one without an image but with volume mounts is a MESOS container without an image
    /// (it runs on the host; the agent links its volumes into the sandbox). Either way it
    /// gets the pod's volumes it mounts (see [`PodRecord::volume`]).
    fn container(&self, c: &PodContainer, instance: &str) -> Option<ContainerSpec> {
        let image = c.image.as_ref().filter(|i| !i.id.is_empty());
        let volumes: Vec<Volume> = c
            .volume_mounts
            .iter()
            .filter_map(|m| self.volume(m, instance))
            .collect();
        if image.is_none() && volumes.is_empty() {
            return None;
        }
        Some(ContainerSpec {
            kind: ContainerKind::Mesos,
            docker: image.map(|image| DockerSpec {
                image: image.id.clone(),
                network: DockerNetwork::Host,
                port_mappings: Vec::new(),
                parameters: Vec::new(),
                privileged: false,
                force_pull: image.force_pull.unwrap_or(false),
            }),
            volumes,
        })
    }

    /// The volume a mount refers to: a host volume (`host`: an absolute path on the agent,
    /// or relative to the sandbox), or an ephemeral volume (neither `host`, `secret` nor
    /// `persistent`), which every container of `instance` shares (Mesos's `SANDBOX_PATH`
    /// volume of type PARENT). Other kinds are not mounted.
    fn volume(&self, m: &VolumeMount, instance: &str) -> Option<Volume> {
        let v = self.pod.volumes.iter().find(|v| v.name == m.name)?;
        let ephemeral = v.host.is_none() && v.secret.is_none() && v.persistent.is_none();
        let group = match ephemeral {
            true => Some(GroupVolume::new(instance, &v.name).ok()?),
            false => None,
        };
        Some(Volume {
            container_path: m.mount_path.clone(),
            host_path: match &group {
                Some(_) => String::new(),
                None => v.host.clone()?,
            },
            mode: match m.read_only {
                Some(true) => VolumeMode::ReadOnly,
                _ => VolumeMode::ReadWrite,
            },
            image: None,
            group,
        })
    }

    /// The container's command (`exec.command.shell` or `argv`) with Marathon's pod
    /// environment; the agent adds `PORT_<NAME>`, the master `ENDPOINT_<NAME>`.
    fn command(&self, c: &PodContainer, task: &TaskId) -> CommandSpec {
        let cmd = c.exec.as_ref().map(|e| &e.command);
        let (shell, value, arguments) = match (
            cmd.and_then(|c| c.shell.clone()),
            cmd.and_then(|c| c.argv.clone()),
        ) {
            (Some(sh), _) => (true, sh, Vec::new()),
            (None, Some(argv)) if !argv.is_empty() => (false, argv[0].clone(), argv),
            // An image without a command runs its entrypoint and cmd.
            _ if c.image.as_ref().is_some_and(|i| !i.id.is_empty()) => {
                (false, String::new(), Vec::new())
            }
            _ => (true, "true".to_string(), Vec::new()),
        };
        CommandSpec {
            shell,
            value,
            arguments,
            env: self.env(c, task),
            user: c.user.clone().or_else(|| self.pod.user.clone()),
        }
    }

    fn env(&self, c: &PodContainer, task: &TaskId) -> BTreeMap<String, String> {
        let mut env = literal_env(&self.pod.environment);
        env.extend(literal_env(&c.environment));
        let r = &c.resources;
        for (k, v) in [
            ("MESOS_TASK_ID", task.to_string()),
            ("MARATHON_APP_ID", self.id().to_string()),
            ("MARATHON_APP_VERSION", self.version().to_string()),
            ("MARATHON_CONTAINER_ID", c.name.clone()),
            ("MARATHON_APP_RESOURCE_CPUS", r.cpus.to_string()),
            ("MARATHON_APP_RESOURCE_MEM", r.mem.to_string()),
            ("MARATHON_APP_RESOURCE_DISK", r.disk.to_string()),
            ("MARATHON_APP_RESOURCE_GPUS", r.gpus.to_string()),
            ("MARATHON_CONTAINER_RESOURCE_CPUS", r.cpus.to_string()),
            ("MARATHON_CONTAINER_RESOURCE_MEM", r.mem.to_string()),
            ("MARATHON_CONTAINER_RESOURCE_DISK", r.disk.to_string()),
            ("MARATHON_CONTAINER_RESOURCE_GPUS", r.gpus.to_string()),
        ] {
            env.insert(k.into(), v);
        }
        let names: Vec<String> = self.pod.labels.keys().cloned().collect();
        env.insert("MARATHON_APP_LABELS".into(), names.join(" "));
        for (k, v) in &self.pod.labels {
            env.insert(
                format!("MARATHON_APP_LABEL_{}", keel_model::env_name(k)),
                v.clone(),
            );
        }
        env
    }
}

/// True if `a` and `b` differ at most in scaling and version.
fn same_config(a: &Pod, b: &Pod) -> bool {
    let strip = |p: &Pod| {
        let mut p = p.clone();
        p.version = None;
        p.scaling.instances = 0;
        p
    };
    strip(a) == strip(b)
}

/// A pod health check as the executor runs it; the endpoint is found among the
/// container's host-port endpoints.
fn health_check(c: &PodContainer, h: &PodHealthCheck) -> Option<HealthCheck> {
    let port_index = |name: &str| {
        c.endpoints
            .iter()
            .filter(|e| e.host_port.is_some())
            .position(|e| e.name == name)
    };
    let (protocol, port_index, path, command) = if let Some(http) = &h.http {
        let protocol = match http.scheme.as_deref() {
            Some(s) if s.eq_ignore_ascii_case("https") => HealthProtocol::Https,
            _ => HealthProtocol::Http,
        };
        (
            protocol,
            Some(port_index(&http.endpoint)?),
            http.path.clone(),
            None,
        )
    } else if let Some(tcp) = &h.tcp {
        (
            HealthProtocol::Tcp,
            Some(port_index(&tcp.endpoint)?),
            None,
            None,
        )
    } else {
        let cmd = &h.exec.as_ref()?.command;
        let line = cmd
            .shell
            .clone()
            .or_else(|| cmd.argv.as_ref().map(|a| a.join(" ")))?;
        (HealthProtocol::Command, None, None, Some(line))
    };
    Some(HealthCheck {
        protocol,
        port_index,
        port: None,
        path,
        command,
        grace_period_secs: h.grace_period_seconds.max(0) as f64,
        interval_secs: h.interval_seconds.max(1) as f64,
        timeout_secs: h.timeout_seconds.max(1) as f64,
        max_consecutive_failures: u32::try_from(h.max_consecutive_failures).unwrap_or(0),
        delay_secs: h.delay_seconds.max(0) as f64,
        ignore_http1xx: false,
    })
}

/// One view of a pod instance's tasks, as if it were one task: the worst state (any
/// terminal task makes it terminal; running only when all run), healthy only when every
/// checked container is, started when the last one started. `checked` is the number of
/// containers with a health check. `None` if no task is known.
pub fn combined_view(tasks: &[&TaskView], checked: usize) -> Option<TaskView> {
    let first = tasks.first()?;
    let rank = |s: TaskState| match s {
        s if s.is_terminal() => 0,
        TaskState::Unreachable => 1,
        TaskState::Killing => 2,
        TaskState::Unknown => 3,
        TaskState::Staging => 4,
        TaskState::Starting => 5,
        _ => 6,
    };
    let worst = tasks.iter().min_by_key(|t| rank(t.state)).unwrap_or(first);
    let verdicts: Vec<bool> = tasks.iter().filter_map(|t| t.healthy).collect();
    let healthy = if verdicts.contains(&false) {
        Some(false)
    } else if checked > 0 && verdicts.len() >= checked {
        Some(true)
    } else {
        None
    };
    let started_at = tasks
        .iter()
        .map(|t| t.started_at)
        .try_fold(0.0f64, |acc, s| s.map(|s| acc.max(s)));
    Some(TaskView {
        id: first.id.clone(),
        state: worst.state,
        reason: worst.reason,
        message: worst.message.clone(),
        started_at,
        updated_at: tasks.iter().map(|t| t.updated_at).fold(0.0, f64::max),
        staged_at: tasks.iter().map(|t| t.staged_at).fold(f64::MAX, f64::min),
        healthy,
        ..(*first).clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_model::AgentId;

    fn view(state: TaskState, healthy: Option<bool>, started: Option<f64>) -> TaskView {
        TaskView {
            id: TaskId::new("p.instance-1.c.1").unwrap_or_else(|_| unreachable!()),
            name: "c".into(),
            framework: FRAMEWORK.into(),
            agent_id: AgentId::new("a-S0").unwrap_or_else(|_| unreachable!()),
            hostname: "h".into(),
            agent_ip: None,
            container_ips: Vec::new(),
            state,
            reason: None,
            message: None,
            ports: Vec::new(),
            staged_at: 1.0,
            started_at: started,
            updated_at: 2.0,
            healthy,
        }
    }

    fn check(tasks: &[TaskView], checked: usize, expect: (TaskState, Option<bool>, Option<f64>)) {
        let refs: Vec<&TaskView> = tasks.iter().collect();
        let v = combined_view(&refs, checked).map(|v| (v.state, v.healthy, v.started_at));
        assert_eq!(v, Some(expect), "{tasks:?}");
    }

    #[test]
    fn an_instance_is_as_good_as_its_worst_task() {
        use TaskState::*;
        let run = |h, s| view(Running, h, Some(s));
        check(
            &[run(None, 3.0), run(None, 5.0)],
            0,
            (Running, None, Some(5.0)),
        );
        check(
            &[run(None, 3.0), view(Staging, None, None)],
            0,
            (Staging, None, None),
        );
        check(
            &[run(None, 3.0), view(Failed, None, None)],
            0,
            (Failed, None, None),
        );
        check(
            &[run(Some(true), 3.0), run(None, 3.0)],
            1,
            (Running, Some(true), Some(3.0)),
        );
        check(
            &[run(Some(true), 3.0), run(None, 3.0)],
            2,
            (Running, None, Some(3.0)),
        );
        check(
            &[run(Some(true), 3.0), run(Some(false), 3.0)],
            2,
            (Running, Some(false), Some(3.0)),
        );
        assert!(combined_view(&[], 0).is_none());
    }

    #[test]
    fn an_instance_shares_its_ephemeral_volumes() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "id": "/p",
            "volumes": [{"name": "shared"}, {"name": "etc", "host": "/srv/etc"}],
            "containers": [
                {"name": "a", "volumeMounts": [{"name": "shared", "mountPath": "data"},
                                               {"name": "etc", "mountPath": "conf", "readOnly": true}]},
                {"name": "b", "image": {"kind": "DOCKER", "id": "busybox"},
                 "volumeMounts": [{"name": "shared", "mountPath": "/data", "readOnly": true}]},
                {"name": "c"}
            ]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let rec = PodRecord::new(pod, Timestamp::from_millis(1000), None);
        let (instance, launches) = rec.new_instance(&keel_clock::RandomIds);
        let shared = GroupVolume::new(&instance, "shared").ok();
        let volumes = |i: usize| {
            let c = launches[i].container.as_ref();
            let v: Vec<(String, String, VolumeMode, Option<GroupVolume>)> = c
                .iter()
                .flat_map(|c| &c.volumes)
                .map(|v| {
                    let path = v.container_path.clone();
                    (path, v.host_path.clone(), v.mode, v.group.clone())
                })
                .collect();
            (c.map(|c| (c.kind, c.docker.is_some())), v)
        };
        let rw = VolumeMode::ReadWrite;
        let ro = VolumeMode::ReadOnly;
        assert_eq!(
            volumes(0),
            (
                Some((ContainerKind::Mesos, false)),
                vec![
                    ("data".into(), String::new(), rw, shared.clone()),
                    ("conf".into(), "/srv/etc".into(), ro, None),
                ]
            )
        );
        assert_eq!(
            volumes(1),
            (
                Some((ContainerKind::Mesos, true)),
                vec![("/data".into(), String::new(), ro, shared)]
            )
        );
        assert_eq!(volumes(2), (None, Vec::new()));
    }

    #[test]
    fn scaling_keeps_the_config_version() {
        let pod: Pod =
            serde_json::from_value(serde_json::json!({"id": "/p", "containers": [{"name": "c"}]}))
                .unwrap_or_else(|e| panic!("{e}"));
        let first = PodRecord::new(pod.clone(), Timestamp::from_millis(1000), None);
        let mut scaled = pod.clone();
        scaled.scaling.instances = 3;
        let second = PodRecord::new(scaled, Timestamp::from_millis(2000), Some(&first));
        assert_eq!(second.config_version, first.config_version);
        assert_eq!(second.run_spec().instances, 3);
        let mut changed = pod;
        changed.labels.insert("a".into(), "b".into());
        let third = PodRecord::new(changed, Timestamp::from_millis(3000), Some(&second));
        assert_eq!(third.config_version, Timestamp::from_millis(3000));
        assert_eq!(third.run_spec().kind, RunSpecKind::Pod);
    }

    #[test]
    fn endpoint_host_ports_fixed_dynamic_or_none() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
        "id": "/p",
        "networks": [{"mode": "container", "name": "n"}],
        "containers": [
            {"name": "a", "endpoints": [
                {"name": "web", "containerPort": 80, "hostPort": 31007},
                {"name": "inner", "containerPort": 81},
                {"name": "admin", "containerPort": 82, "hostPort": 0}]},
            {"name": "b", "endpoints": [{"name": "log", "containerPort": 83, "hostPort": 0}]}
        ]}))
        .unwrap_or_else(|e| panic!("{e}"));
        let pod = pod.normalize().unwrap_or_else(|e| panic!("{e:?}"));
        let record = PodRecord::new(pod, Timestamp::from_millis(1000), None);
        let (_, launches) = record.new_instance(&keel_clock::RandomIds);
        let ports: Vec<(Vec<HostPort>, Vec<String>)> = launches
            .into_iter()
            .map(|l| (l.ports, l.port_names))
            .collect();
        assert_eq!(
            ports,
            [
                (
                    vec![HostPort::Fixed(31007), HostPort::Any],
                    vec!["web".to_string(), "admin".to_string()]
                ),
                (vec![HostPort::Any], vec!["log".to_string()]),
            ]
        );
    }
}
