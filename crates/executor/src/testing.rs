//! Fixtures shared by the executor's unit tests: a task command and an executor config
//! with fixed ids and paths.

use keel_api::executor::{CgroupConfig, ExecutorConfig, LogRotation};
use keel_model::{AgentId, CommandSpec, ContainerId, ContainerSpec, FrameworkId, TaskId, TaskSpec};
use std::collections::BTreeMap;

/// A task command: `value` run by the shell, or as a program with `args` as its argv.
pub(crate) fn command(shell: bool, value: &str, args: &[&str]) -> CommandSpec {
    CommandSpec {
        shell,
        value: value.into(),
        arguments: args.iter().map(|s| s.to_string()).collect(),
        env: BTreeMap::new(),
        user: None,
    }
}

/// The config of task `t1` (container `c1` on agent `a1`, sandbox `/work/sb`, meta dir
/// `/work/meta`) running `command` in `container`, with no resources and environment `env`.
pub(crate) fn config(
    command: CommandSpec,
    container: Option<ContainerSpec>,
    env: &[(&str, &str)],
) -> ExecutorConfig {
    ExecutorConfig {
        task: TaskSpec {
            id: TaskId::new("t1").expect("id"),
            name: "t1".into(),
            framework_id: FrameworkId::new("fw").expect("id"),
            role: "*".into(),
            command,
            resources: keel_resources::Resources::new(),
            kill_grace_secs: 1.0,
            labels: BTreeMap::new(),
            health_checks: Vec::new(),
            fetch: Vec::new(),
            port_names: Vec::new(),
            placement_scope: None,
            host_ports: Vec::new(),
            discovery: None,
            container,
        },
        container_id: ContainerId::new("c1").expect("id"),
        agent_id: AgentId::new("a1").expect("id"),
        sandbox: "/work/sb".into(),
        meta_dir: "/work/meta".into(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cgroups: CgroupConfig::default(),
        log_rotation: LogRotation::default(),
        socket_name: "s".into(),
        images: Default::default(),
        dns: None,
    }
}
