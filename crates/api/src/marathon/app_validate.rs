//! App validation with Marathon's JSON paths and messages. `validate_update` checks what
//! only the request body shows (deprecated fields, numeric ranges, rollback bodies);
//! `validate_app` checks the merged, normalized app. Every violation is collected.

use super::app::{AppDefinition, AppUpdate};
use super::checks::{HealthCheck, HealthCheckProtocol, IpProtocol, ReadinessCheck};
use super::container::{
    AppVolume, Container, ContainerType, DockerNetwork, PortMapping, VolumeMode,
};
use super::error::Violations;
use super::network::{
    Network, NetworkMode, PORT_PROTOCOLS, PortDefinition, has_non_host_networking,
};
use super::path_id::PathId;
use super::spec::{Constraint, EnvValue, SecretDef, UnreachableStrategy};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

pub(crate) const CMD_ARGS_OR_CONTAINER: &str =
    "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.";
const HEALTH_PORT_INDEX: &str = "Health check port indices must address an element of the ports array or container port mappings.";
pub(crate) const OPERATOR_INVALID: &str =
    "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS";
const INT32_MAX: i64 = i32::MAX as i64;

static LEGACY_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("static regex"));
static EXECUTOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?://cmd|/?[^/]+(?:/[^/]+)*|)$").expect("static regex"));
static IS_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_/.-]*$").expect("static regex"));

/// Checks of the request body itself.
pub(crate) fn validate_update(u: &AppUpdate, v: &mut Violations) {
    let only_version = AppUpdate {
        id: None,
        version: None,
        ..u.clone()
    } == AppUpdate::default();
    if u.version.is_some() && !only_version {
        v.add(
            "/",
            "The 'version' field may only be combined with the 'id' field.",
        );
    }
    int_range(v, "/instances", u.instances, 0, INT32_MAX);
    num_min(v, "/cpus", u.cpus, 0.0);
    num_min(v, "/mem", u.mem, 0.0);
    num_min(v, "/disk", u.disk, 0.0);
    int_range(v, "/gpus", u.gpus, 0, INT32_MAX);
    int_range(v, "/backoffSeconds", u.backoff_seconds, 0, INT32_MAX);
    num_min(v, "/backoffFactor", u.backoff_factor, 1.0);
    int_range(
        v,
        "/maxLaunchDelaySeconds",
        u.max_launch_delay_seconds,
        0,
        INT32_MAX,
    );
    int_range(
        v,
        "/taskKillGracePeriodSeconds",
        u.task_kill_grace_period_seconds,
        0,
        INT32_MAX,
    );
    validate_deprecated(u, v);
    for (i, dep) in u.dependencies.iter().flatten().enumerate() {
        if let Err(e) = PathId::parse(dep) {
            v.add(&format!("/dependencies({i})"), e.to_string());
        }
    }
}

fn validate_deprecated(u: &AppUpdate, v: &mut Violations) {
    let ports = u.ports.as_deref().unwrap_or_default();
    let non_random: Vec<i64> = ports.iter().copied().filter(|p| *p != 0).collect();
    v.check(all_unique(&non_random), "/", "ports must be unique");
    if let (Some(ports), Some(defs)) = (&u.ports, &u.port_definitions) {
        let same = defs.iter().map(|d| d.port).eq(ports.iter().copied());
        v.check(same, "/", "cannot specify both ports and port definitions");
    }
    let uris = u.uris.as_ref().is_some_and(|x| !x.is_empty());
    let fetch = u.fetch.as_ref().is_some_and(|x| !x.is_empty());
    v.check(
        !(uris && fetch),
        "/uris",
        "may not be set in conjunction with fetch",
    );
    let docker = u.container.as_ref().and_then(|c| c.docker.as_ref());
    let docker_network = docker.and_then(|d| d.network);
    v.check(
        !(docker_network.is_some() && u.networks.is_some()),
        "/",
        "must not specify both container.docker.network and networks",
    );
    if docker_network == Some(DockerNetwork::None) {
        v.add(
            "/container/docker/network",
            "unsupported docker network type NONE",
        );
    }
    v.check(
        !(u.ip_address.is_some() && u.networks.is_some()),
        "/",
        "must not specify both networks and ipAddress",
    );
    let legacy_mappings = docker
        .and_then(|d| d.port_mappings.as_ref())
        .is_some_and(|m| !m.is_empty());
    let mappings = u
        .container
        .as_ref()
        .and_then(|c| c.port_mappings.as_ref())
        .is_some_and(|m| !m.is_empty());
    v.check(
        !(legacy_mappings && mappings),
        "/container",
        "cannot specify both portMappings and docker.portMappings",
    );
}

/// Checks of the merged app; `u` tells which fields the request itself set.
pub(crate) fn validate_app(app: &AppDefinition, u: &AppUpdate, v: &mut Violations) {
    validate_command(app, v);
    validate_port_placement(app, u, v);
    validate_networks(&app.networks, "/networks", v);
    validate_port_definitions(&app.port_definitions, v);
    if let Some(c) = &app.container {
        validate_container(c, &app.secrets, v);
    }
    validate_health_checks(app, v);
    validate_readiness_checks(app, v);
    for (i, c) in app.constraints.iter().enumerate() {
        if let Err(msg) = check_app_constraint(c) {
            v.add(&format!("/constraints({i})"), msg);
        }
    }
    validate_strategies(app, v);
    validate_env(&app.env, &app.secrets, "/env", v);
    validate_secrets(&app.secrets, "/secrets", v);
    validate_roles(app, v);
    v.check(
        EXECUTOR.is_match(&app.executor),
        "/executor",
        "error.pattern",
    );
    validate_resource_limits(app, v);
}

fn validate_command(app: &AppDefinition, v: &mut Violations) {
    if app.cmd.as_deref() == Some("") {
        v.add("/cmd", "must not be empty");
    }
    let cmd = app.cmd.is_some();
    let args = app.args.as_ref().is_some_and(|a| !a.is_empty());
    let container = app
        .container
        .as_ref()
        .is_some_and(|c| match (&c.docker, c.kind) {
            (Some(_), _) => true,
            (None, kind) => kind == ContainerType::Mesos,
        });
    v.check(
        (cmd ^ args) || (!(cmd && args) && container),
        "/",
        CMD_ARGS_OR_CONTAINER,
    );
    if app.gpus > 0
        && app
            .container
            .as_ref()
            .is_some_and(|c| c.kind == ContainerType::Docker)
    {
        v.add("/", "GPU resources only work with the Mesos containerizer");
    }
}

/// Port definitions belong to host networking and port mappings to the others; only what
/// the request itself asked for can break this (inherited values are dropped).
fn validate_port_placement(app: &AppDefinition, u: &AppUpdate, v: &mut Violations) {
    let non_host = has_non_host_networking(&app.networks);
    let defs_given = u.port_definitions.as_ref().is_some_and(|d| !d.is_empty())
        || u.ports.as_ref().is_some_and(|p| !p.is_empty());
    if non_host && defs_given {
        v.add("/", "portDefinitions are only allowed with host-networking");
    }
    let container = u.container.as_ref();
    let mappings_given = container.is_some_and(|c| {
        let legacy = c.docker.as_ref().and_then(|d| d.port_mappings.as_ref());
        c.port_mappings.iter().chain(legacy).any(|m| !m.is_empty())
    });
    if !non_host && mappings_given {
        v.add("/", "portMappings are not allowed with host-networking");
    }
}

pub(crate) fn validate_networks(networks: &[Network], path: &str, v: &mut Violations) {
    let named = |n: &Network| n.name.as_ref().is_some_and(|s| !s.is_empty());
    let hosts: Vec<&Network> = networks
        .iter()
        .filter(|n| n.mode == NetworkMode::Host)
        .collect();
    let bridges: Vec<&Network> = networks
        .iter()
        .filter(|n| n.mode == NetworkMode::ContainerBridge)
        .collect();
    let containers = networks
        .iter()
        .filter(|n| n.mode == NetworkMode::Container)
        .count();
    v.check(
        !hosts.iter().any(|n| named(n) || !n.labels.is_empty()),
        path,
        "Host networks may not have names or labels",
    );
    v.check(
        !bridges.iter().any(|n| named(n)),
        path,
        "Bridge networks may not have names",
    );
    let unnamed = networks
        .iter()
        .filter(|n| n.mode == NetworkMode::Container && n.name.is_none())
        .count();
    let names: Vec<&String> = networks.iter().filter_map(|n| n.name.as_ref()).collect();
    v.check(
        unnamed < 2 && all_unique(&names),
        path,
        "Duplicate networks are not allowed",
    );
    let combination = (hosts.len() <= 1 && bridges.is_empty() && containers == 0)
        || (hosts.is_empty() && bridges.len() <= 1 && containers == 0)
        || (hosts.is_empty() && bridges.is_empty() && containers > 0);
    v.check(
        combination,
        path,
        "May specify a single host network, single bridge network, or else 1-to-n container networks",
    );
}

fn validate_port_definitions(defs: &[PortDefinition], v: &mut Violations) {
    for (i, d) in defs.iter().enumerate() {
        let path = format!("/portDefinitions({i})");
        int_range(v, &format!("{path}/port"), Some(d.port), 0, 65535);
        check_protocol(&d.protocol, &format!("{path}/protocol"), v);
        check_name(d.name.as_deref(), &format!("{path}/name"), v);
    }
    let names: Vec<&String> = defs.iter().filter_map(|d| d.name.as_ref()).collect();
    v.check(
        all_unique(&names),
        "/portDefinitions",
        "Port names must be unique.",
    );
    let ports: Vec<i64> = defs.iter().map(|d| d.port).filter(|p| *p != 0).collect();
    v.check(
        all_unique(&ports),
        "/portDefinitions",
        "Ports must be unique.",
    );
}

fn check_protocol(protocol: &str, path: &str, v: &mut Violations) {
    v.check(
        PORT_PROTOCOLS.contains(&protocol),
        path,
        "is not one of (tcp,udp,udp,tcp)",
    );
}

fn check_name(name: Option<&str>, path: &str, v: &mut Violations) {
    if let Some(name) = name {
        v.check(LEGACY_NAME.is_match(name), path, "error.pattern");
    }
}

fn validate_container(c: &Container, secrets: &BTreeMap<String, SecretDef>, v: &mut Violations) {
    match (&c.docker, c.kind) {
        (None, ContainerType::Docker) => v.add("/container/docker", "not defined"),
        (Some(d), kind) => {
            v.check(
                !d.image.is_empty(),
                "/container/docker/image",
                "must not be empty",
            );
            if kind == ContainerType::Mesos {
                v.check(
                    d.parameters.is_empty(),
                    "/container/docker/parameters",
                    "must be empty",
                );
            }
            if kind == ContainerType::Docker && d.pull_config.is_some() {
                v.add(
                    "/container/docker/pullConfig",
                    "pullConfig is not supported with Docker containerizer",
                );
            }
        }
        (None, ContainerType::Mesos) => {}
    }
    if let Some(mappings) = &c.port_mappings {
        validate_port_mappings(mappings, v);
    }
    for (i, vol) in c.volumes.iter().enumerate() {
        validate_volume(vol, &format!("/container/volumes({i})"), secrets, v);
    }
}

fn validate_port_mappings(mappings: &[PortMapping], v: &mut Violations) {
    for (i, m) in mappings.iter().enumerate() {
        let path = format!("/container/portMappings({i})");
        int_range(
            v,
            &format!("{path}/containerPort"),
            Some(m.container_port),
            0,
            65535,
        );
        int_range(v, &format!("{path}/hostPort"), m.host_port, 0, 65535);
        int_range(
            v,
            &format!("{path}/servicePort"),
            Some(m.service_port),
            0,
            65535,
        );
        check_protocol(&m.protocol, &format!("{path}/protocol"), v);
        check_name(m.name.as_deref(), &format!("{path}/name"), v);
    }
    let names: Vec<&String> = mappings.iter().filter_map(|m| m.name.as_ref()).collect();
    v.check(
        all_unique(&names),
        "/container/portMappings",
        "Port names must be unique.",
    );
}

fn validate_volume(
    vol: &AppVolume,
    path: &str,
    secrets: &BTreeMap<String, SecretDef>,
    v: &mut Violations,
) {
    let kinds = [
        vol.host_path.is_some(),
        vol.persistent.is_some(),
        vol.external.is_some(),
        vol.secret.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        v.add(path, "Unknown app volume type");
        return;
    }
    v.check(
        !vol.container_path.is_empty(),
        &format!("{path}/containerPath"),
        "must not be empty",
    );
    if let Some(host) = &vol.host_path {
        v.check(
            !host.is_empty(),
            &format!("{path}/hostPath"),
            "must not be empty",
        );
    }
    if let Some(p) = &vol.persistent {
        v.check(
            !vol.container_path.contains('/'),
            &format!("{path}/containerPath"),
            "value must not contain \"/\"",
        );
        v.check(
            vol.mode == Some(VolumeMode::ReadWrite),
            &format!("{path}/mode"),
            "got RO, expected RW",
        );
        v.check(
            p.size > 0,
            &format!("{path}/persistent/size"),
            format!("got {}, expected more than 0", p.size),
        );
        let mount = p.kind.as_deref() == Some("mount");
        v.check(
            mount || p.max_size.is_none(),
            &format!("{path}/persistent"),
            "Only mount volumes can have maxSize",
        );
        v.check(
            p.max_size.is_none_or(|m| m > p.size),
            &format!("{path}/persistent"),
            "Max size must be larger than size",
        );
    }
    if let Some(secret) = &vol.secret {
        v.check(
            secrets.contains_key(secret),
            path,
            "volume.secret must refer to an existing secret",
        );
    }
}

fn validate_health_checks(app: &AppDefinition, v: &mut Violations) {
    let port_count = app.service_ports().len() as i64;
    let docker = app
        .container
        .as_ref()
        .is_some_and(|c| c.kind == ContainerType::Docker);
    for (i, hc) in app.health_checks.iter().enumerate() {
        let path = format!("/healthChecks({i})");
        validate_health_check(hc, &path, port_count, docker, v);
    }
    let mesos_checks = app
        .health_checks
        .iter()
        .filter(|hc| hc.command.is_none() && hc.protocol.is_agent_run())
        .count();
    v.check(
        mesos_checks <= 1,
        "/",
        "AppDefinition can contain at most one Mesos health check",
    );
}

fn validate_health_check(
    hc: &HealthCheck,
    path: &str,
    port_count: i64,
    docker: bool,
    v: &mut Violations,
) {
    if hc.command.is_none() && hc.protocol.is_scheduler_run() {
        let ok = match hc.port_index {
            Some(idx) => (0..port_count).contains(&idx),
            None => hc.port.is_some() || port_count == 1,
        };
        v.check(ok, path, HEALTH_PORT_INDEX);
    }
    if hc.protocol == HealthCheckProtocol::Command && hc.command.is_none() {
        v.add(&format!("{path}/command"), "not defined");
    }
    int_range(v, &format!("{path}/port"), hc.port, 0, 65535);
    int_range(
        v,
        &format!("{path}/gracePeriodSeconds"),
        Some(hc.grace_period_seconds),
        0,
        INT32_MAX,
    );
    int_range(
        v,
        &format!("{path}/intervalSeconds"),
        Some(hc.interval_seconds),
        0,
        INT32_MAX,
    );
    int_range(
        v,
        &format!("{path}/timeoutSeconds"),
        Some(hc.timeout_seconds),
        0,
        INT32_MAX,
    );
    int_range(
        v,
        &format!("{path}/maxConsecutiveFailures"),
        Some(hc.max_consecutive_failures),
        0,
        INT32_MAX,
    );
    int_range(
        v,
        &format!("{path}/delaySeconds"),
        Some(hc.delay_seconds),
        0,
        INT32_MAX,
    );
    let mesos_net = matches!(
        hc.protocol,
        HealthCheckProtocol::MesosHttp
            | HealthCheckProtocol::MesosHttps
            | HealthCheckProtocol::MesosTcp
    );
    v.check(
        hc.ip_protocol == IpProtocol::IPv4 || (mesos_net && docker),
        path,
        "IPv6 can only be used for container type DOCKER and Mesos http/https/tcp health checks",
    );
}

fn validate_readiness_checks(app: &AppDefinition, v: &mut Violations) {
    let n = app.readiness_checks.len();
    v.check(
        n <= 1,
        "/readinessChecks",
        format!("got {n}, expected 1 or less"),
    );
    let names: BTreeSet<String> = app.port_names().into_iter().flatten().collect();
    for (i, rc) in app.readiness_checks.iter().enumerate() {
        validate_readiness_check(rc, &format!("/readinessChecks({i})"), &names, v);
    }
}

fn validate_readiness_check(
    rc: &ReadinessCheck,
    path: &str,
    port_names: &BTreeSet<String>,
    v: &mut Violations,
) {
    v.check(
        port_names.contains(&rc.port_name),
        &format!("{path}/portName"),
        format!("No port definition reference for portName {}", rc.port_name),
    );
    v.check(
        rc.timeout_seconds < rc.interval_seconds,
        &format!("{path}/timeoutSeconds"),
        format!(
            "got {}, expected less than {}",
            rc.timeout_seconds, rc.interval_seconds
        ),
    );
    int_range(
        v,
        &format!("{path}/intervalSeconds"),
        Some(rc.interval_seconds),
        0,
        INT32_MAX,
    );
    int_range(
        v,
        &format!("{path}/timeoutSeconds"),
        Some(rc.timeout_seconds),
        1,
        INT32_MAX,
    );
    v.check(
        !rc.name.is_empty(),
        &format!("{path}/name"),
        "must not be empty",
    );
    for (j, code) in rc.http_status_codes_for_ready.iter().enumerate() {
        int_range(
            v,
            &format!("{path}/httpStatusCodesForReady({j})"),
            Some(*code),
            100,
            999,
        );
    }
}

/// Marathon's rules for one app constraint; `Err` holds the message.
pub(crate) fn check_app_constraint(c: &Constraint) -> Result<(), String> {
    let parts = &c.0;
    if parts.len() < 2 || parts.len() > 3 {
        return Err("Each constraint must have either 2 or 3 fields".into());
    }
    if parts[0].is_empty() {
        return Err("illegal constraint specification".into());
    }
    check_constraint_rule(
        &parts[0],
        &parts[1].to_ascii_uppercase(),
        parts.get(2).map(String::as_str),
    )
}

/// The operator and value rules shared by app and pod constraints.
pub(crate) fn check_constraint_rule(
    field: &str,
    op: &str,
    value: Option<&str>,
) -> Result<(), String> {
    if field.is_empty() {
        return Err("missing field for constraint declaration".into());
    }
    let is_int = |s: &str| s.parse::<i32>().is_ok();
    let failure = match op {
        "UNIQUE" if value.is_some() => "UNIQUE does not accept a value",
        "GROUP_BY" if !value.is_none_or(is_int) => {
            "GROUP BY must define an integer value or else no value at all"
        }
        "MAX_PER" if !value.is_some_and(is_int) => "MAX_PER requires an integer value",
        "LIKE" | "UNLIKE" if value.is_none() => {
            "LIKE and UNLIKE require a non-empty, regular expression value"
        }
        "LIKE" | "UNLIKE" if Regex::new(value.unwrap_or_default()).is_err() => {
            "is not a valid regular expression"
        }
        "IS" if !IS_VALUE.is_match(value.unwrap_or_default()) => IS_ONLY_TEXT,
        "UNIQUE" | "CLUSTER" | "GROUP_BY" | "MAX_PER" | "LIKE" | "UNLIKE" | "IS" => return Ok(()),
        _ => OPERATOR_INVALID,
    };
    Err(failure.to_owned())
}

const IS_ONLY_TEXT: &str = "IS only supports Mesos text and float values \
    (see http://mesos.apache.org/documentation/latest/attributes-resources/)";

fn validate_strategies(app: &AppDefinition, v: &mut Violations) {
    let us = &app.upgrade_strategy;
    num_range(
        v,
        "/upgradeStrategy/minimumHealthCapacity",
        us.minimum_health_capacity,
        0.0,
        1.0,
    );
    num_range(
        v,
        "/upgradeStrategy/maximumOverCapacity",
        us.maximum_over_capacity,
        0.0,
        1.0,
    );
    if app.is_resident() {
        let moc = us.maximum_over_capacity;
        v.check(
            moc == 0.0,
            "/upgradeStrategy/maximumOverCapacity",
            format!("got {moc}, expected 0"),
        );
        v.check(
            app.unreachable_strategy == UnreachableStrategy::Disabled,
            "/",
            "unreachableStrategy must be disabled for resident tasks",
        );
        let roles = app.accepted_resource_roles.as_deref();
        v.check(
            roles.is_none_or(|r| r == ["*"]),
            "/acceptedResourceRoles",
            "A resident app must have `acceptedResourceRoles = [\"*\"]`.",
        );
    }
    if let UnreachableStrategy::Enabled {
        inactive_after_seconds: i,
        expunge_after_seconds: e,
    } = app.unreachable_strategy
    {
        let path = "/unreachableStrategy/inactiveAfterSeconds";
        v.check(
            i >= 0,
            path,
            format!("inactiveAfterSeconds ({i}) must be greater than or equal to 0"),
        );
        v.check(
            i <= e,
            path,
            format!("inactiveAfterSeconds ({i}) must be less or equal to expungeAfterSeconds, which is {e}"),
        );
    }
}

pub(crate) fn validate_env(
    env: &BTreeMap<String, EnvValue>,
    secrets: &BTreeMap<String, SecretDef>,
    path: &str,
    v: &mut Violations,
) {
    for (name, value) in env {
        v.check(!name.is_empty(), path, "must not be empty");
        if let EnvValue::Secret { secret } = value {
            v.check(
                secrets.contains_key(secret),
                &format!("{path}/{name}/secret"),
                "references an undefined secret",
            );
        }
    }
}

pub(crate) fn validate_secrets(
    secrets: &BTreeMap<String, SecretDef>,
    path: &str,
    v: &mut Violations,
) {
    for (name, def) in secrets {
        v.check(!name.is_empty(), path, "must not be empty");
        v.check(
            !def.source.is_empty(),
            &format!("{path}/{name}/source"),
            "must not be empty",
        );
    }
}

fn validate_roles(app: &AppDefinition, v: &mut Violations) {
    v.check(!app.role.is_empty(), "/role", "must not be empty");
    if let Some(roles) = &app.accepted_resource_roles {
        v.check(
            !roles.is_empty(),
            "/acceptedResourceRoles",
            "must not be empty",
        );
        v.check(
            all_unique(roles),
            "/acceptedResourceRoles",
            "Elements must be unique.",
        );
    }
}

fn validate_resource_limits(app: &AppDefinition, v: &mut Violations) {
    let Some(limits) = &app.resource_limits else {
        return;
    };
    for (key, requested) in [("cpus", app.cpus), ("mem", app.mem)] {
        let path = format!("/resourceLimits/{key}");
        match limits.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == "unlimited" => {}
            Some(Value::Number(n)) if n.as_f64().is_some_and(|x| x >= requested) => {}
            Some(Value::Number(_)) => v.add(
                &path,
                format!("resource limit must be greater than or equal to requested resource ({requested})"),
            ),
            Some(other) => v.add(
                &path,
                format!("'{other}' is an invalid resource limit. It must be 'unlimited' or a number"),
            ),
        }
    }
}

/// `is less than {min}` / `is greater than {max}` for an integer field that is present.
pub(crate) fn int_range(v: &mut Violations, path: &str, value: Option<i64>, min: i64, max: i64) {
    match value {
        Some(x) if x < min => v.add(path, format!("is less than {min}")),
        Some(x) if x > max => v.add(path, format!("is greater than {max}")),
        _ => {}
    }
}

pub(crate) fn num_min(v: &mut Violations, path: &str, value: Option<f64>, min: f64) {
    if value.is_some_and(|x| x < min) {
        v.add(path, format!("is less than {min}"));
    }
}

pub(crate) fn num_range(v: &mut Violations, path: &str, value: f64, min: f64, max: f64) {
    if value < min {
        v.add(path, format!("is less than {min}"));
    } else if value > max {
        v.add(path, format!("is greater than {max}"));
    }
}

pub(crate) fn all_unique<T: Ord>(items: &[T]) -> bool {
    let set: BTreeSet<&T> = items.iter().collect();
    set.len() == items.len()
}
