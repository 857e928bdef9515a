//! An app's `container` as the executor runs it: the Docker image and options, the network,
//! port mappings onto the task's assigned host ports (PORT0.. follow the mappings) and host
//! volumes. MESOS containers without an image run as plain commands.

use keel_api::marathon::AppDefinition;
use keel_api::marathon::container::{Container, ContainerType, DockerNetwork as WireNetwork};
use keel_api::marathon::network::NetworkMode;
use keel_model::{
    ContainerKind, ContainerSpec, DockerNetwork, DockerSpec, PortMapping, PortProtocol, Volume,
};

/// The container of `app`'s tasks; `None` when it runs on the host (no container, or a
/// MESOS container without an image).
pub fn container_spec(app: &AppDefinition) -> Option<ContainerSpec> {
    let c = app.container.as_ref()?;
    let kind = match c.kind {
        ContainerType::Docker => ContainerKind::Docker,
        ContainerType::Mesos => ContainerKind::Mesos,
    };
    let docker = c.docker.as_ref().filter(|d| !d.image.is_empty());
    if kind == ContainerKind::Mesos && docker.is_none() {
        return None;
    }
    let docker = docker.map(|d| DockerSpec {
        network: network(app, d.network),
        port_mappings: port_mappings(c),
        ..DockerSpec::from(d)
    });
    Some(ContainerSpec {
        kind,
        docker,
        volumes: volumes(c),
    })
}

/// The deprecated `docker.network` when still set, else the app's first network.
fn network(app: &AppDefinition, legacy: Option<WireNetwork>) -> DockerNetwork {
    let first = app.networks.first();
    match legacy {
        Some(WireNetwork::Bridge) => return DockerNetwork::Bridge,
        Some(WireNetwork::Host) => return DockerNetwork::Host,
        Some(WireNetwork::None) => return DockerNetwork::None,
        Some(WireNetwork::User) => {
            let name = first.and_then(|n| n.name.clone()).unwrap_or_default();
            return DockerNetwork::User(name);
        }
        None => {}
    }
    match first {
        None => DockerNetwork::Host,
        Some(n) => match n.mode {
            NetworkMode::Host => DockerNetwork::Host,
            NetworkMode::ContainerBridge => DockerNetwork::Bridge,
            NetworkMode::Container => DockerNetwork::User(n.name.clone().unwrap_or_default()),
        },
    }
}

/// Each mapping with a `hostPort` (0 or fixed) is published on the task's next host port,
/// in order (PORT0 for the first such mapping); one without is not published.
fn port_mappings(c: &Container) -> Vec<PortMapping> {
    let mappings = c
        .port_mappings
        .as_ref()
        .or_else(|| c.docker.as_ref().and_then(|d| d.port_mappings.as_ref()));
    let mut next = 0;
    mappings
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let host_port_index = m.host_port.map(|_| {
                next += 1;
                next - 1
            });
            Some(PortMapping {
                container_port: u16::try_from(m.container_port).ok()?,
                host_port_index,
                protocol: if m.protocol.eq_ignore_ascii_case("udp") {
                    PortProtocol::Udp
                } else {
                    PortProtocol::Tcp
                },
            })
        })
        .collect()
}

/// Host-path volumes (persistent, external and secret volumes are not mounted here).
fn volumes(c: &Container) -> Vec<Volume> {
    c.volumes
        .iter()
        .filter_map(|v| Volume::try_from(v).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::marathon::PathId;
    use keel_api::marathon::app::parse_app_update;
    use keel_model::{HostPort, VolumeMode};

    fn app(json: &str) -> AppDefinition {
        let update = parse_app_update(json.as_bytes()).expect("app json");
        AppDefinition::create(update, &PathId::root()).expect("valid app")
    }

    #[test]
    fn a_docker_bridge_app() {
        let app = app(r#"{"id": "/web", "cpus": 0.1, "mem": 32,
            "container": {"type": "DOCKER",
              "docker": {"image": "keel-test/busybox:1", "network": "BRIDGE",
                         "forcePullImage": true,
                         "parameters": [{"key": "label", "value": "a=b"}]},
              "portMappings": [{"containerPort": 8080, "hostPort": 0},
                               {"containerPort": 53, "protocol": "udp"}],
              "volumes": [{"containerPath": "/data", "hostPath": "/srv", "mode": "RW"}]}}"#);
        let spec = container_spec(&app).expect("a container");
        let docker = spec.docker.clone().expect("docker");
        assert_eq!(spec.kind, ContainerKind::Docker);
        assert_eq!(docker.network, DockerNetwork::Bridge);
        assert!(docker.force_pull && !docker.privileged);
        assert_eq!(
            docker.parameters,
            [("label".to_string(), "a=b".to_string())]
        );
        let mappings: Vec<_> = docker
            .port_mappings
            .iter()
            .map(|m| (m.container_port, m.host_port_index, m.protocol))
            .collect();
        assert_eq!(
            mappings,
            [
                (8080, Some(0), PortProtocol::Tcp),
                (53, Some(1), PortProtocol::Udp)
            ]
        );
        assert_eq!(
            spec.volumes,
            [Volume {
                container_path: "/data".into(),
                host_path: "/srv".into(),
                mode: VolumeMode::ReadWrite,
                image: None,
                group: None,
            }]
        );
        let launch = crate::launch::task_launch(&app, keel_model::TaskId::new("t").expect("id"));
        assert_eq!(launch.ports, [HostPort::Any, HostPort::Any]);
        assert_eq!(launch.command.value, "");
        assert_eq!(launch.container, Some(spec));
    }

    #[test]
    fn fixed_dynamic_and_absent_host_ports_of_mappings() {
        let app = app(r#"{"id": "/u", "cpus": 0.1, "mem": 32,
            "networks": [{"mode": "container", "name": "net"}],
            "container": {"type": "DOCKER", "docker": {"image": "busybox"},
              "portMappings": [{"containerPort": 80, "hostPort": 31005, "name": "web"},
                               {"containerPort": 81},
                               {"containerPort": 82, "hostPort": 0, "name": "admin"}]}}"#);
        let docker = container_spec(&app).and_then(|c| c.docker).expect("docker");
        assert_eq!(docker.network, DockerNetwork::User("net".into()));
        let mappings: Vec<_> = docker
            .port_mappings
            .iter()
            .map(|m| (m.container_port, m.host_port_index))
            .collect();
        assert_eq!(mappings, [(80, Some(0)), (81, None), (82, Some(1))]);
        let launch = crate::launch::task_launch(&app, keel_model::TaskId::new("t").expect("id"));
        assert_eq!(launch.ports, [HostPort::Fixed(31005), HostPort::Any]);
        assert_eq!(launch.port_names, ["web", "admin"]);
    }

    #[test]
    fn no_container_or_an_imageless_mesos_one_runs_on_the_host() {
        assert_eq!(
            container_spec(&app(r#"{"id": "/a", "cmd": "sleep 1"}"#)),
            None
        );
        let mesos = r#"{"id": "/b", "cmd": "sleep 1", "container": {"type": "MESOS"}}"#;
        assert_eq!(container_spec(&app(mesos)), None);
    }
}
