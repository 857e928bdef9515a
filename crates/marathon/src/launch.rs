//! Turning an app into a task launch: Marathon's task id format, the task environment
//! (`MARATHON_APP_*`, named ports), host ports, constraints, health checks and fetch URIs.

use keel_api::marathon::checks::HealthCheckProtocol;
use keel_api::marathon::{AppDefinition, task_id};
use keel_api::to_model::literal_env;
use keel_clock::Ids;
use keel_master::TaskLaunch;
use keel_model::{
    CommandSpec, Discovery, DiscoveryPort, FetchUri, HealthCheck, HealthProtocol, TaskId,
};
use keel_resources::Resources;
use std::collections::BTreeMap;

/// The framework name Keel's Marathon registers under.
pub const FRAMEWORK: &str = "marathon";
/// Mesos's default when an app sets no `taskKillGracePeriodSeconds`.
const DEFAULT_GRACE: f64 = 3.0;

/// The most new instances of one app or pod a scheduler pass launches; the rest wait for
/// the next passes (the deployment or reconciliation asks again for what is missing), so a
/// pass costs at most this much per run spec whatever count was requested.
pub const LAUNCHES_PER_PASS: u32 = 1_000;

/// A new instance's ids: `(instance id, task id)` for incarnation 1.
pub fn new_ids(app: &AppDefinition, ids: &dyn Ids) -> (String, String) {
    let uuid = ids.uuid();
    (
        task_id::instance_id(&app.id, uuid),
        task_id::mint(&app.id, uuid, 1),
    )
}

/// The launch of one task of `app` with id `task`; its host ports follow the app's port
/// order (see [`AppDefinition::host_ports`]).
pub fn task_launch(app: &AppDefinition, task: TaskId) -> TaskLaunch {
    let has_image = crate::container::container_spec(app).is_some();
    let (shell, value, arguments) = match (&app.cmd, &app.args) {
        (Some(cmd), _) => (true, cmd.clone(), Vec::new()),
        // With an image, args follow the image's entrypoint (they replace its cmd).
        (None, Some(args)) if !args.is_empty() && has_image => (false, String::new(), args.clone()),
        (None, Some(args)) if !args.is_empty() => (false, args[0].clone(), args.clone()),
        // An image without cmd or args runs its own entrypoint and command.
        _ if has_image => (true, String::new(), Vec::new()),
        _ => (true, "true".to_string(), Vec::new()),
    };
    let command = CommandSpec {
        shell,
        value,
        arguments,
        env: env(app),
        user: app.user.clone(),
    };
    let resources = Resources::new()
        .with_scalar("cpus", app.cpus)
        .with_scalar("mem", app.mem)
        .with_scalar("disk", app.disk)
        .with_scalar("gpus", f64::from(app.gpus));
    let mut labels = app.labels.clone();
    labels.insert("MARATHON_APP_ID".into(), app.id.to_string());
    labels.insert("MARATHON_APP_VERSION".into(), app.version.to_string());
    let (ports, port_names): (Vec<_>, Vec<_>) = app
        .host_ports()
        .into_iter()
        .map(|(port, name)| (port, name.unwrap_or_default()))
        .unzip();
    let indices = app.host_port_indices();
    TaskLaunch {
        task_id: task,
        name: app
            .id
            .segments()
            .last()
            .cloned()
            .unwrap_or_else(|| "app".into()),
        framework: FRAMEWORK.into(),
        role: app.role.clone(),
        command,
        resources,
        ports,
        constraints: app
            .constraints
            .iter()
            .filter_map(|c| keel_model::Constraint::try_from(c).ok())
            .collect(),
        kill_grace_secs: app
            .task_kill_grace_period_seconds
            .map(f64::from)
            .unwrap_or(DEFAULT_GRACE),
        labels,
        health_checks: app
            .health_checks
            .iter()
            .filter_map(|h| health_check(h, &indices))
            .collect(),
        fetch: app.fetch.iter().map(FetchUri::from).collect(),
        port_names,
        placement_scope: Some(app.id.to_string()),
        container: crate::container::container_spec(app),
        discovery: Some(discovery(app)),
    }
}

/// One app port as discovery reads it: (container or definition port, host-port index,
/// name, protocols, labels).
type WantedPort<'a> = (
    i64,
    Option<usize>,
    Option<String>,
    &'a str,
    &'a BTreeMap<String, String>,
);

/// The task's discovery info as Marathon's `PortDiscovery` builds it: the name is the
/// app's hostname form (`/group/app` → `app.group`); one port per port and protocol
/// (`"tcp,udp"` gives two), with the port's labels (VIPs) and its `network-scope`: `host`
/// with the host port (resolved by the master after placement) where there is one, else
/// `container` with the container port and the container network's name.
pub fn discovery(app: &AppDefinition) -> Discovery {
    let name = app
        .id
        .segments()
        .iter()
        .rev()
        .cloned()
        .collect::<Vec<_>>()
        .join(".");
    let network_name = app
        .networks
        .iter()
        .find_map(|n| n.name.clone())
        .unwrap_or_default();
    let indices = app.host_port_indices();
    let mappings = app
        .container
        .as_ref()
        .and_then(|c| c.port_mappings.as_deref())
        .filter(|m| !m.is_empty());
    let wanted: Vec<WantedPort<'_>> = match mappings {
        Some(ms) => ms
            .iter()
            .zip(&indices)
            .map(|(m, i)| {
                (
                    m.container_port,
                    *i,
                    m.name.clone(),
                    m.protocol.as_str(),
                    &m.labels,
                )
            })
            .collect(),
        None => app
            .port_definitions
            .iter()
            .zip(&indices)
            .map(|(d, i)| (d.port, *i, d.name.clone(), d.protocol.as_str(), &d.labels))
            .collect(),
    };
    let mut ports = Vec::new();
    for (number, index, port_name, protocols, labels) in wanted {
        for protocol in protocols
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let mut labels = labels.clone();
            let (number, host_port_index) = match index {
                Some(i) => {
                    labels.insert("network-scope".into(), "host".into());
                    (0, Some(i))
                }
                None => {
                    labels.insert("network-scope".into(), "container".into());
                    if !network_name.is_empty() {
                        labels.insert("network-name".into(), network_name.clone());
                    }
                    (u32::try_from(number).unwrap_or(0), None)
                }
            };
            ports.push(DiscoveryPort {
                number,
                name: port_name.clone().unwrap_or_default(),
                protocol: protocol.to_string(),
                labels,
                host_port_index,
            });
        }
    }
    Discovery {
        visibility: "FRAMEWORK".into(),
        name,
        ports,
        labels: BTreeMap::new(),
    }
}

/// Marathon's task environment (docs/task-environment-vars.md); the agent adds HOST,
/// PORT0.., PORTS, PORT_<NAME> and MESOS_*.
fn env(app: &AppDefinition) -> BTreeMap<String, String> {
    let mut env = literal_env(&app.env);
    env.insert("MARATHON_APP_ID".into(), app.id.to_string());
    env.insert("MARATHON_APP_VERSION".into(), app.version.to_string());
    env.insert("MARATHON_APP_RESOURCE_CPUS".into(), app.cpus.to_string());
    env.insert("MARATHON_APP_RESOURCE_MEM".into(), app.mem.to_string());
    env.insert("MARATHON_APP_RESOURCE_DISK".into(), app.disk.to_string());
    env.insert("MARATHON_APP_RESOURCE_GPUS".into(), app.gpus.to_string());
    let image = app
        .container
        .as_ref()
        .and_then(|c| c.docker.as_ref())
        .map(|d| d.image.clone())
        .unwrap_or_default();
    env.insert("MARATHON_APP_DOCKER_IMAGE".into(), image);
    let label_names: Vec<String> = app.labels.keys().cloned().collect();
    env.insert("MARATHON_APP_LABELS".into(), label_names.join(" "));
    for (k, v) in &app.labels {
        let name = keel_model::env_name(k);
        env.insert(format!("MARATHON_APP_LABEL_{name}"), v.clone());
    }
    env
}

/// A Marathon health check as the executor runs it; its `portIndex` (into the app's
/// ports) becomes an index into the task's host ports (`indices`).
fn health_check(
    h: &keel_api::marathon::checks::HealthCheck,
    indices: &[Option<usize>],
) -> Option<HealthCheck> {
    let protocol = match h.protocol {
        HealthCheckProtocol::Http | HealthCheckProtocol::MesosHttp => HealthProtocol::Http,
        HealthCheckProtocol::Https | HealthCheckProtocol::MesosHttps => HealthProtocol::Https,
        HealthCheckProtocol::Tcp | HealthCheckProtocol::MesosTcp => HealthProtocol::Tcp,
        HealthCheckProtocol::Command => HealthProtocol::Command,
    };
    Some(HealthCheck {
        protocol,
        port_index: if h.port.is_some() {
            None
        } else {
            let i = h.port_index.unwrap_or(0).max(0) as usize;
            Some(indices.get(i).copied().flatten().unwrap_or(i))
        },
        port: h.port.and_then(|p| u16::try_from(p).ok()),
        path: h.path.clone(),
        command: h.command.as_ref().map(|c| c.value.clone()),
        grace_period_secs: h.grace_period_seconds as f64,
        interval_secs: h.interval_seconds.max(1) as f64,
        timeout_secs: h.timeout_seconds.max(1) as f64,
        max_consecutive_failures: u32::try_from(h.max_consecutive_failures).unwrap_or(0),
        delay_secs: if protocol == HealthProtocol::Command || h.protocol.is_agent_run() {
            h.delay_seconds as f64
        } else {
            0.0
        },
        ignore_http1xx: h.ignore_http1xx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::marathon::{PathId, parse_app_update};

    fn app(body: &str) -> AppDefinition {
        let update = parse_app_update(body.as_bytes()).expect("valid app");
        AppDefinition::create(update, &PathId::root()).expect("valid app")
    }

    type Port<'a> = (u32, Option<usize>, &'a str, &'a str, Option<&'a str>);

    fn ports(d: &Discovery) -> Vec<Port<'_>> {
        d.ports
            .iter()
            .map(|p| {
                let scope = p.labels.get("network-scope").map(String::as_str);
                (
                    p.number,
                    p.host_port_index,
                    p.name.as_str(),
                    p.protocol.as_str(),
                    scope,
                )
            })
            .collect()
    }

    #[test]
    fn host_networking_publishes_each_definition_and_protocol_with_its_host_port() {
        let a = app(r#"{"id":"/shop/web","cmd":"x","portDefinitions":[
            {"port":0,"name":"http","labels":{"VIP_0":"/shop/web:80"}},
            {"port":0,"protocol":"udp,tcp"}]}"#);
        let d = discovery(&a);
        assert_eq!(d.name, "web.shop");
        assert_eq!(d.visibility, "FRAMEWORK");
        assert_eq!(
            ports(&d),
            vec![
                (0, Some(0), "http", "tcp", Some("host")),
                (0, Some(1), "", "udp", Some("host")),
                (0, Some(1), "", "tcp", Some("host")),
            ]
        );
        assert_eq!(
            d.ports[0].labels.get("VIP_0").map(String::as_str),
            Some("/shop/web:80")
        );
    }

    #[test]
    fn container_ports_without_a_host_port_publish_the_container_port() {
        let a = app(r#"{"id":"/db","cmd":"x",
            "networks":[{"mode":"container","name":"dcos"}],
            "container":{"type":"DOCKER","docker":{"image":"postgres"},
              "portMappings":[{"containerPort":5432,"name":"pg","labels":{"VIP_0":"10.1.2.3:5432"}},
                              {"containerPort":8080,"hostPort":0}]}}"#);
        let d = discovery(&a);
        assert_eq!(
            ports(&d),
            vec![
                (5432, None, "pg", "tcp", Some("container")),
                (0, Some(0), "", "tcp", Some("host")),
            ]
        );
        assert_eq!(
            d.ports[0].labels.get("network-name").map(String::as_str),
            Some("dcos")
        );
    }
}
