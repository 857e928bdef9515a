//! Turning an `AppUpdate` into a complete `AppDefinition`: merge onto defaults (create) or
//! onto the current app (partial update), translate deprecated fields (`ports`, `uris`,
//! `ipAddress`, `docker.network`, `docker.portMappings`) and fill the defaults that depend
//! on other fields (port definitions, port mappings, resident strategies, health check
//! `portIndex`, readiness status codes).

use super::app::{AppDefinition, AppUpdate};
use super::checks::HealthCheckProtocol;
use super::container::{Container, DockerNetwork, PortMapping, VolumeMode};
use super::error::Violations;
use super::network::{Network, NetworkMode, PortDefinition, has_non_host_networking};
use super::path_id::PathId;
use super::spec::{
    Artifact, CONSTRAINT_OPERATORS, Constraint, UnreachableStrategy, UpgradeStrategy,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Resolves the `id` of a new app against `base`, recording id violations at `/id`.
pub(crate) fn resolve_id(raw: Option<&str>, base: &PathId, v: &mut Violations) -> PathId {
    let Some(raw) = raw else {
        v.add("/id", "error.path.missing");
        return PathId::root();
    };
    let id = match PathId::parse(raw) {
        Ok(id) => id.canonical(base),
        Err(e) => {
            v.add("/id", e.to_string());
            return PathId::parse_unchecked(raw).canonical(base);
        }
    };
    if id.is_root() {
        v.add("/id", "Path must contain at least one path element");
    }
    id
}

/// Merges `u` onto `app` (the defaults for a create, the current app for an update) and
/// normalizes the result. `existing` is the current app of an update.
pub(crate) fn merge(
    mut app: AppDefinition,
    existing: Option<&AppDefinition>,
    u: &AppUpdate,
    base: &PathId,
) -> AppDefinition {
    merge_command(&mut app, u);
    merge_resources(&mut app, u);
    merge_scheduling(&mut app, u, base);
    merge_networking(&mut app, existing, u);
    fill_dependent_defaults(&mut app, existing, u);
    app
}

fn merge_command(app: &mut AppDefinition, u: &AppUpdate) {
    set(&mut app.cmd, u.cmd.clone().map(Some));
    set(
        &mut app.args,
        u.args.clone().map(|a| Some(a).filter(|a| !a.is_empty())),
    );
    set(&mut app.user, u.user.clone().map(Some));
    set(&mut app.env, u.env.clone());
    set(&mut app.executor, u.executor.clone());
    set(&mut app.secrets, u.secrets.clone());
    set(&mut app.labels, u.labels.clone());
    set(&mut app.fetch, merged_fetch(u));
    set(&mut app.tty, u.tty.map(Some));
    set(&mut app.check, u.check.clone().map(Some));
}

fn merged_fetch(u: &AppUpdate) -> Option<Vec<Artifact>> {
    match (&u.uris, &u.fetch) {
        (Some(uris), fetch) if !uris.is_empty() && fetch.as_ref().is_none_or(Vec::is_empty) => {
            Some(uris.iter().map(|uri| Artifact::from_uri(uri)).collect())
        }
        (_, fetch) => fetch.clone(),
    }
}

fn merge_resources(app: &mut AppDefinition, u: &AppUpdate) {
    set(&mut app.instances, u.instances.map(to_u32));
    set(&mut app.cpus, u.cpus);
    set(&mut app.mem, u.mem);
    set(&mut app.disk, u.disk);
    set(&mut app.gpus, u.gpus.map(to_u32));
    set(
        &mut app.resource_limits,
        u.resource_limits.clone().map(Some),
    );
    set(
        &mut app.executor_resources,
        u.executor_resources.clone().map(Some),
    );
    set(&mut app.role, u.role.clone());
    set(
        &mut app.accepted_resource_roles,
        u.accepted_resource_roles.clone().map(Some),
    );
}

fn merge_scheduling(app: &mut AppDefinition, u: &AppUpdate, base: &PathId) {
    set(
        &mut app.constraints,
        u.constraints
            .as_ref()
            .map(|cs| cs.iter().map(canonical_constraint).collect()),
    );
    set(&mut app.backoff_seconds, u.backoff_seconds.map(to_u32));
    set(&mut app.backoff_factor, u.backoff_factor);
    set(
        &mut app.max_launch_delay_seconds,
        u.max_launch_delay_seconds.map(to_u32),
    );
    set(&mut app.health_checks, u.health_checks.clone());
    set(&mut app.readiness_checks, u.readiness_checks.clone());
    let deps = u
        .dependencies
        .as_ref()
        .map(|ds| ds.iter().map(|d| canonical_dependency(d, base)).collect());
    set(&mut app.dependencies, deps);
    set(&mut app.upgrade_strategy, u.upgrade_strategy);
    set(&mut app.unreachable_strategy, u.unreachable_strategy);
    set(&mut app.kill_selection, u.kill_selection);
    set(
        &mut app.task_kill_grace_period_seconds,
        u.task_kill_grace_period_seconds.map(|s| Some(to_u32(s))),
    );
    set(&mut app.residency, u.residency.clone().map(Some));
}

/// Upper-cases a known operator (`unique` → `UNIQUE`); anything else stays for validation.
fn canonical_constraint(c: &Constraint) -> Constraint {
    let mut parts = c.0.clone();
    if let Some(op) = parts.get_mut(1) {
        let upper = op.to_ascii_uppercase();
        if CONSTRAINT_OPERATORS.contains(&upper.as_str()) {
            *op = upper;
        }
    }
    Constraint(parts)
}

fn canonical_dependency(raw: &str, base: &PathId) -> PathId {
    PathId::parse_unchecked(raw).canonical(base)
}

fn merge_networking(app: &mut AppDefinition, existing: Option<&AppDefinition>, u: &AppUpdate) {
    app.networks = merged_networks(std::mem::take(&mut app.networks), u);
    let non_host = has_non_host_networking(&app.networks);
    let bridge = app
        .networks
        .iter()
        .any(|n| n.mode == NetworkMode::ContainerBridge);
    app.container = merged_container(app.container.take(), u, non_host, bridge);
    let was_host = existing.is_none_or(|e| !has_non_host_networking(&e.networks));
    let current = std::mem::take(&mut app.port_definitions);
    app.port_definitions = merged_port_definitions(current, was_host, u, non_host);
    set(&mut app.require_ports, u.require_ports);
    if non_host {
        app.require_ports = false;
    }
}

/// `networks` from the update, else from the deprecated `docker.network`/`ipAddress`,
/// else the current ones; an empty list means host networking.
fn merged_networks(current: Vec<Network>, u: &AppUpdate) -> Vec<Network> {
    let docker_network = u
        .container
        .as_ref()
        .and_then(|c| c.docker.as_ref()?.network);
    let translated = match (&u.networks, docker_network, &u.ip_address) {
        (Some(n), _, _) => Some(n.clone()),
        (None, Some(net), ip) => translate_docker_network(net, ip.as_ref()),
        (None, None, Some(ip)) => Some(vec![ip_network(ip, NetworkMode::Container)]),
        (None, None, None) => None,
    };
    let networks = translated.unwrap_or(current);
    if networks.is_empty() {
        vec![Network::host()]
    } else {
        networks
    }
}

fn translate_docker_network(net: DockerNetwork, ip: Option<&Value>) -> Option<Vec<Network>> {
    let empty = json!({});
    let ip = ip.unwrap_or(&empty);
    match net {
        DockerNetwork::Host => Some(vec![Network::host()]),
        DockerNetwork::Bridge => Some(vec![Network {
            name: None,
            ..ip_network(ip, NetworkMode::ContainerBridge)
        }]),
        DockerNetwork::User => Some(vec![ip_network(ip, NetworkMode::Container)]),
        DockerNetwork::None => None,
    }
}

/// The network of a deprecated `ipAddress` object (`networkName`, `labels`).
fn ip_network(ip: &Value, mode: NetworkMode) -> Network {
    let name = ip
        .get("networkName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let labels: BTreeMap<String, String> = ip
        .get("labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    Network { mode, name, labels }
}

fn merged_container(
    current: Option<Container>,
    u: &AppUpdate,
    non_host: bool,
    bridge: bool,
) -> Option<Container> {
    let mut container = u.container.clone().or(current);
    if container.is_none() && (non_host || u.ip_address.is_some()) {
        container = Some(Container::mesos());
    }
    let mut c = container?;
    if let Some(d) = c.docker.as_mut() {
        let legacy = d.port_mappings.take().filter(|m| !m.is_empty());
        if c.port_mappings.as_ref().is_none_or(Vec::is_empty) && legacy.is_some() {
            c.port_mappings = legacy;
        }
        d.network = None;
    }
    c.port_mappings = if non_host {
        Some(mappings_for(c.port_mappings.take(), bridge))
    } else {
        None
    };
    for vol in &mut c.volumes {
        let needs_mode =
            vol.host_path.is_some() || vol.persistent.is_some() || vol.external.is_some();
        if vol.mode.is_none() && needs_mode {
            vol.mode = Some(VolumeMode::ReadWrite);
        }
    }
    Some(c)
}

fn mappings_for(mappings: Option<Vec<PortMapping>>, bridge: bool) -> Vec<PortMapping> {
    let mut mappings = mappings
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| vec![PortMapping::default_mapping()]);
    if bridge {
        for m in &mut mappings {
            m.host_port.get_or_insert(0);
        }
    }
    mappings
}

fn merged_port_definitions(
    current: Vec<PortDefinition>,
    was_host: bool,
    u: &AppUpdate,
    non_host: bool,
) -> Vec<PortDefinition> {
    if non_host {
        return Vec::new();
    }
    if let Some(pd) = &u.port_definitions {
        return pd.clone();
    }
    if let Some(ports) = &u.ports {
        return ports.iter().map(|p| PortDefinition::new(*p)).collect();
    }
    if was_host {
        current
    } else {
        PortDefinition::defaults()
    }
}

fn fill_dependent_defaults(
    app: &mut AppDefinition,
    existing: Option<&AppDefinition>,
    u: &AppUpdate,
) {
    let has_ports = !app.port_definitions.is_empty()
        || app
            .container
            .as_ref()
            .and_then(|c| c.port_mappings.as_ref())
            .is_some_and(|m| !m.is_empty());
    for hc in &mut app.health_checks {
        if hc.protocol != HealthCheckProtocol::Command
            && hc.port.is_none()
            && hc.port_index.is_none()
            && has_ports
        {
            hc.port_index = Some(0);
        }
    }
    for rc in &mut app.readiness_checks {
        if rc.http_status_codes_for_ready.is_empty() {
            rc.http_status_codes_for_ready = vec![200];
        }
    }
    let newly_resident = app.is_resident() && existing.is_none_or(|e| !e.is_resident());
    if newly_resident && u.upgrade_strategy.is_none() {
        app.upgrade_strategy = UpgradeStrategy::RESIDENT;
    }
    if newly_resident && u.unreachable_strategy.is_none() {
        app.unreachable_strategy = UnreachableStrategy::Disabled;
    }
    if !app.is_resident() {
        app.residency = None;
    } else if app.residency.is_none() {
        app.residency = Some(
            json!({"relaunchEscalationTimeoutSeconds": 3600, "taskLostBehavior": "WAIT_FOREVER"}),
        );
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Converts a validated count; out-of-range values were reported by validation.
fn to_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}
