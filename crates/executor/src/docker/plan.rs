//! The Docker container a task becomes: image, command, environment, labels, port bindings,
//! network mode, binds, `parameters` and resource limits, computed from the executor config
//! without talking to the engine.

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use keel_api::executor::ExecutorConfig;
use keel_model::{DockerNetwork, DockerSpec, PortProtocol, VolumeMode};
use std::collections::HashMap;

/// Where the sandbox is mounted inside the container (Mesos's `MESOS_SANDBOX` for Docker).
pub(crate) const CONTAINER_SANDBOX: &str = "/mnt/mesos/sandbox";
/// Labels on every container Keel creates.
pub(crate) const LABEL_TASK: &str = "keel.task_id";
pub const LABEL_CONTAINER: &str = "keel.container_id";
pub const LABEL_AGENT: &str = "keel.agent_id";
pub(crate) const LABEL_FRAMEWORK: &str = "keel.framework_id";

/// The engine's name for the container of `config` (Mesos names them `mesos-<id>`).
pub(crate) fn container_name(config: &ExecutorConfig) -> String {
    format!("keel-{}", config.container_id)
}

/// The create request for `config`'s task; `docker` is its Docker settings. Unknown
/// `parameters` are returned by name so the caller can warn about them.
pub(crate) fn create_body(
    config: &ExecutorConfig,
    docker: &DockerSpec,
) -> (ContainerCreateBody, Vec<String>) {
    let mut body = ContainerCreateBody {
        image: Some(docker.image.clone()),
        cmd: command(&config.task.command),
        env: Some(env(config)),
        labels: Some(labels(config)),
        host_config: Some(host_config(config, docker)),
        ..Default::default()
    };
    if publishes_ports(&docker.network) {
        body.exposed_ports = Some(port_bindings(config, docker).into_keys().collect());
    }
    let unknown = apply_parameters(&mut body, &docker.parameters);
    (body, unknown)
}

/// `sh -c <value>` for a shell command, the argv otherwise, the image default when empty.
fn command(command: &keel_model::CommandSpec) -> Option<Vec<String>> {
    if command.shell {
        return (!command.value.is_empty())
            .then(|| vec!["sh".into(), "-c".into(), command.value.clone()]);
    }
    if !command.arguments.is_empty() {
        return Some(command.arguments.clone());
    }
    (!command.value.is_empty()).then(|| vec![command.value.clone()])
}

/// The task environment, with `MESOS_SANDBOX` pointing at the mounted sandbox.
fn env(config: &ExecutorConfig) -> Vec<String> {
    let mut env = config.env.clone();
    for key in ["MESOS_SANDBOX", "MESOS_DIRECTORY"] {
        if env.contains_key(key) {
            env.insert(key.into(), CONTAINER_SANDBOX.into());
        }
    }
    env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn labels(config: &ExecutorConfig) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_TASK.into(), config.task.id.to_string()),
        (LABEL_CONTAINER.into(), config.container_id.to_string()),
        (LABEL_AGENT.into(), config.agent_id.to_string()),
        (LABEL_FRAMEWORK.into(), config.task.framework_id.to_string()),
    ])
}

fn host_config(config: &ExecutorConfig, docker: &DockerSpec) -> HostConfig {
    let resources = &config.task.resources;
    let mem = resources.mem();
    let cpus = resources.cpus();
    let mut binds = vec![format!(
        "{}:{CONTAINER_SANDBOX}:rw",
        config.sandbox.display()
    )];
    if let Some(container) = &config.task.container {
        binds.extend(container.volumes.iter().map(|v| {
            let mode = match v.mode {
                VolumeMode::ReadOnly => "ro",
                VolumeMode::ReadWrite => "rw",
            };
            format!("{}:{}:{mode}", v.host_path, v.container_path)
        }));
    }
    // The agent's task DNS (`--task-dns`): bridge and user networks always, the host's
    // network only when the operator asked for it.
    let dns = config
        .dns
        .as_ref()
        .filter(|d| d.host_network || !matches!(docker.network, DockerNetwork::Host))
        .filter(|d| !d.servers.is_empty());
    HostConfig {
        dns: dns.map(|d| d.servers.iter().map(ToString::to_string).collect()),
        dns_search: dns.map(|d| d.search.clone()).filter(|s| !s.is_empty()),
        binds: Some(binds),
        network_mode: Some(network_mode(&docker.network)),
        port_bindings: publishes_ports(&docker.network).then(|| port_bindings(config, docker)),
        privileged: Some(docker.privileged),
        memory: (mem > 0.0).then_some((mem * 1024.0 * 1024.0) as i64),
        nano_cpus: (cpus > 0.0).then_some((cpus * 1e9) as i64),
        ..Default::default()
    }
}

fn network_mode(network: &DockerNetwork) -> String {
    match network {
        DockerNetwork::Bridge => "bridge".into(),
        DockerNetwork::Host => "host".into(),
        DockerNetwork::None => "none".into(),
        DockerNetwork::User(name) if name.is_empty() => "bridge".into(),
        DockerNetwork::User(name) => name.clone(),
    }
}

fn publishes_ports(network: &DockerNetwork) -> bool {
    matches!(network, DockerNetwork::Bridge | DockerNetwork::User(_))
}

/// `<containerPort>/<proto>` → the assigned host port at the mapping's index (PORT0 = 0),
/// on 0.0.0.0. Mappings without an index (no host port wanted) or whose index has no
/// assigned port are left unpublished.
fn port_bindings(
    config: &ExecutorConfig,
    docker: &DockerSpec,
) -> HashMap<String, Option<Vec<PortBinding>>> {
    let host_ports = config.task.host_ports();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for m in &docker.port_mappings {
        let Some(index) = m.host_port_index else {
            continue;
        };
        let Some(host_port) = host_ports.get(index) else {
            tracing::warn!(index, "port mapping without a host port");
            continue;
        };
        let proto = match m.protocol {
            PortProtocol::Tcp => "tcp",
            PortProtocol::Udp => "udp",
        };
        let binding = PortBinding {
            host_ip: Some("0.0.0.0".into()),
            host_port: Some(host_port.to_string()),
        };
        bindings
            .entry(format!("{}/{proto}", m.container_port))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    bindings
}

/// Applies the `docker run` options Keel knows; returns the keys of the others.
fn apply_parameters(
    body: &mut ContainerCreateBody,
    parameters: &[(String, String)],
) -> Vec<String> {
    let mut unknown = Vec::new();
    for (key, value) in parameters {
        let host = body.host_config.get_or_insert_with(HostConfig::default);
        match key.trim_start_matches('-') {
            "label" | "l" => {
                let (k, v) = value.split_once('=').unwrap_or((value, ""));
                body.labels
                    .get_or_insert_with(HashMap::new)
                    .insert(k.into(), v.into());
            }
            "env" | "e" => body.env.get_or_insert_with(Vec::new).push(value.clone()),
            "hostname" | "h" => body.hostname = Some(value.clone()),
            "user" | "u" => body.user = Some(value.clone()),
            "workdir" | "w" => body.working_dir = Some(value.clone()),
            "entrypoint" => body.entrypoint = Some(vec![value.clone()]),
            "volume" | "v" => host.binds.get_or_insert_with(Vec::new).push(value.clone()),
            "cap-add" => host
                .cap_add
                .get_or_insert_with(Vec::new)
                .push(value.clone()),
            "dns" => host.dns.get_or_insert_with(Vec::new).push(value.clone()),
            "add-host" => host
                .extra_hosts
                .get_or_insert_with(Vec::new)
                .push(value.clone()),
            "init" => host.init = Some(value != "false"),
            _ => unknown.push(key.clone()),
        }
    }
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, command};
    use keel_model::{ContainerKind, ContainerSpec, PortMapping, Volume};
    use keel_resources::{Ranges, Resources};

    fn docker() -> DockerSpec {
        DockerSpec {
            image: "keel-test/busybox:1".into(),
            network: DockerNetwork::Bridge,
            port_mappings: vec![PortMapping {
                container_port: 80,
                host_port_index: Some(1),
                protocol: PortProtocol::Tcp,
            }],
            parameters: vec![
                ("label".into(), "a=b".into()),
                ("env".into(), "X=1".into()),
                ("hostname".into(), "web".into()),
                ("blkio-weight".into(), "10".into()),
            ],
            privileged: false,
            force_pull: false,
        }
    }

    fn config(shell: bool, value: &str, args: &[&str]) -> ExecutorConfig {
        let container = ContainerSpec {
            kind: ContainerKind::Docker,
            docker: Some(docker()),
            volumes: vec![Volume {
                container_path: "/data".into(),
                host_path: "/srv/data".into(),
                mode: VolumeMode::ReadOnly,
                image: None,
                group: None,
            }],
        };
        let env = [("MESOS_SANDBOX", "/work/sb"), ("PORT0", "31000")];
        let mut config = testing::config(command(shell, value, args), Some(container), &env);
        config.task.resources = Resources::new()
            .with_scalar("cpus", 0.5)
            .with_scalar("mem", 64.0)
            .with_ranges("ports", Ranges::new(vec![(31000, 31001)]));
        // PORT0 = 31001: mapping index 1 publishes on 31000.
        config.task.host_ports = vec![31001, 31000];
        config
    }

    #[test]
    fn task_dns_for_bridge_always_and_for_host_networking_when_asked() {
        let mut config = config(true, "echo hi", &[]);
        config.dns = Some(keel_api::executor::TaskDns {
            servers: vec!["172.17.0.1".parse().expect("ip")],
            search: vec!["marathon.mesos".into(), "mesos".into()],
            host_network: false,
        });
        let host = |config: &ExecutorConfig, network| {
            let mut d = docker();
            d.network = network;
            let (body, _) = create_body(config, &d);
            let json = serde_json::to_value(&body).expect("json");
            (
                json["HostConfig"]["Dns"].clone(),
                json["HostConfig"]["DnsSearch"].clone(),
            )
        };
        assert_eq!(
            host(&config, DockerNetwork::Bridge),
            (
                serde_json::json!(["172.17.0.1"]),
                serde_json::json!(["marathon.mesos", "mesos"])
            )
        );
        assert_eq!(
            host(&config, DockerNetwork::Host),
            (serde_json::Value::Null, serde_json::Value::Null)
        );
        if let Some(d) = config.dns.as_mut() {
            d.host_network = true;
        }
        assert_eq!(
            host(&config, DockerNetwork::Host).0,
            serde_json::json!(["172.17.0.1"])
        );
    }

    #[test]
    fn commands() {
        let cmd =
            |shell, value, args: &[&str]| super::command(&config(shell, value, args).task.command);
        assert_eq!(
            cmd(true, "echo hi", &[]),
            Some(vec!["sh".into(), "-c".into(), "echo hi".into()])
        );
        assert_eq!(cmd(true, "", &[]), None);
        assert_eq!(cmd(false, "", &[]), None);
        assert_eq!(
            cmd(false, "httpd", &["httpd", "-f"]),
            Some(vec!["httpd".into(), "-f".into()])
        );
    }

    #[test]
    fn the_create_body() {
        let config = config(true, "echo hi", &[]);
        let (body, unknown) = create_body(&config, &docker());
        assert_eq!(unknown, ["blkio-weight"]);
        let json = serde_json::to_value(&body).expect("json");
        let host = &json["HostConfig"];
        assert_eq!(
            host["PortBindings"]["80/tcp"],
            serde_json::json!([{"HostIp": "0.0.0.0", "HostPort": "31000"}])
        );
        assert_eq!(json["ExposedPorts"], serde_json::json!({"80/tcp": {}}));
        assert_eq!(host["NetworkMode"], "bridge");
        assert_eq!(host["Memory"], 64 << 20);
        assert_eq!(host["NanoCpus"], 500_000_000);
        assert_eq!(
            host["Binds"],
            serde_json::json!(["/work/sb:/mnt/mesos/sandbox:rw", "/srv/data:/data:ro"])
        );
        assert_eq!(json["Hostname"], "web");
        assert_eq!(
            json["Env"],
            serde_json::json!(["MESOS_SANDBOX=/mnt/mesos/sandbox", "PORT0=31000", "X=1"])
        );
        let labels = &json["Labels"];
        assert_eq!(
            (
                &labels["keel.task_id"],
                &labels["keel.container_id"],
                &labels["keel.agent_id"],
                &labels["a"]
            ),
            (
                &serde_json::json!("t1"),
                &serde_json::json!("c1"),
                &serde_json::json!("a1"),
                &serde_json::json!("b")
            )
        );
    }
}
