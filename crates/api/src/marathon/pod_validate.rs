//! Pod validation with Marathon's paths and messages (`PodsValidation`): containers,
//! endpoints against the network mode, health checks, volumes and mounts, secrets,
//! scaling and scheduling, resident rules.

use super::app_validate::{
    all_unique, check_constraint_rule, int_range, num_min, num_range, validate_env,
    validate_networks, validate_secrets,
};
use super::error::Violations;
use super::network::NetworkMode;
use super::path_id::PathId;
use super::pod::{Endpoint, Pod, PodContainer, PodHealthCheck};
use super::spec::UnreachableStrategy;
use regex::Regex;
use std::sync::LazyLock;

static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("static regex"));

pub(crate) fn validate_pod(pod: &Pod, v: &mut Violations) {
    if PathId::parse(&pod.id).is_ok_and(|id| id.is_empty()) {
        v.add("/id", "Path must contain at least one path element");
    }
    if pod.user.as_deref() == Some("") {
        v.add("/user", "must not be empty");
    }
    validate_env(&pod.environment, &pod.secrets, "/environment", v);
    validate_secrets(&pod.secrets, "/secrets", v);
    validate_volumes(pod, v);
    validate_containers(pod, v);
    validate_networks(&pod.networks, "/networks", v);
    validate_scaling_and_scheduling(pod, v);
    validate_ports(pod, v);
}

fn validate_volumes(pod: &Pod, v: &mut Violations) {
    for (i, vol) in pod.volumes.iter().enumerate() {
        let path = format!("/volumes({i})");
        v.check(
            NAME.is_match(&vol.name) && vol.name.len() <= 63,
            &format!("{path}/name"),
            "error.pattern",
        );
        let mounted = pod
            .containers
            .iter()
            .any(|c| c.volume_mounts.iter().any(|m| m.name == vol.name));
        v.check(
            mounted,
            &path,
            "volume must be referenced by at least one container",
        );
        if let Some(secret) = &vol.secret {
            v.check(
                pod.secrets.contains_key(secret),
                &format!("{path}/secret"),
                "volume.secret must refer to an existing secret",
            );
        }
        if let Some(p) = &vol.persistent {
            v.check(
                p.size > 0,
                &format!("{path}/persistent/size"),
                format!("got {}, expected more than 0", p.size),
            );
        }
    }
    let names: Vec<&String> = pod.volumes.iter().map(|v| &v.name).collect();
    v.check(
        all_unique(&names),
        "/volumes",
        "volume names must be unique",
    );
}

fn validate_containers(pod: &Pod, v: &mut Violations) {
    v.check(
        !pod.containers.is_empty(),
        "/containers",
        "must not be empty",
    );
    let names: Vec<&String> = pod.containers.iter().map(|c| &c.name).collect();
    v.check(
        all_unique(&names),
        "/containers",
        "container names must be unique",
    );
    for (i, c) in pod.containers.iter().enumerate() {
        validate_container(pod, c, &format!("/containers({i})"), v);
    }
}

fn validate_container(pod: &Pod, c: &PodContainer, path: &str, v: &mut Violations) {
    v.check(
        NAME.is_match(&c.name) && c.name.len() <= 63,
        &format!("{path}/name"),
        "error.pattern",
    );
    let r = &c.resources;
    num_min(v, &format!("{path}/resources/cpus"), Some(r.cpus), 0.0);
    num_min(v, &format!("{path}/resources/mem"), Some(r.mem), 0.0);
    num_min(v, &format!("{path}/resources/disk"), Some(r.disk), 0.0);
    int_range(
        v,
        &format!("{path}/resources/gpus"),
        Some(r.gpus),
        0,
        i64::from(i32::MAX),
    );
    if let Some(exec) = &c.exec {
        let cmd = &exec.command;
        let one = cmd.shell.as_ref().is_some_and(|s| !s.is_empty())
            ^ cmd.argv.as_ref().is_some_and(|a| !a.is_empty());
        v.check(
            one,
            &format!("{path}/exec/command"),
            "must specify exactly one of shell or argv",
        );
    }
    if let Some(image) = &c.image {
        v.check(
            image.kind == "DOCKER",
            &format!("{path}/image/kind"),
            "is not one of (DOCKER)",
        );
        v.check(
            !image.id.is_empty(),
            &format!("{path}/image/id"),
            "must not be empty",
        );
    }
    for (j, ep) in c.endpoints.iter().enumerate() {
        validate_endpoint(pod, ep, &format!("{path}/endpoints({j})"), v);
    }
    if let Some(hc) = &c.health_check {
        validate_health_check(hc, &c.endpoints, &format!("{path}/healthCheck"), v);
    }
    validate_env(
        &c.environment,
        &pod.secrets,
        &format!("{path}/environment"),
        v,
    );
    for (j, m) in c.volume_mounts.iter().enumerate() {
        let mpath = format!("{path}/volumeMounts({j})");
        let exists = pod.volumes.iter().any(|vol| vol.name == m.name);
        v.check(
            exists,
            &format!("{mpath}/name"),
            "Referenced Volume in VolumeMount should exist",
        );
        v.check(
            !m.mount_path.is_empty(),
            &format!("{mpath}/mountPath"),
            "must not be empty",
        );
    }
    for (j, a) in c.artifacts.iter().enumerate() {
        v.check(
            !a.uri.is_empty(),
            &format!("{path}/artifacts({j})/uri"),
            "must not be empty",
        );
    }
}

fn validate_endpoint(pod: &Pod, ep: &Endpoint, path: &str, v: &mut Violations) {
    v.check(
        NAME.is_match(&ep.name),
        &format!("{path}/name"),
        "error.pattern",
    );
    let host = pod.networks.iter().any(|n| n.mode == NetworkMode::Host);
    let container_nets = pod
        .networks
        .iter()
        .filter(|n| n.mode == NetworkMode::Container)
        .count();
    let cp_path = format!("{path}/containerPort");
    if host {
        v.check(
            ep.container_port.is_none(),
            &cp_path,
            "is not allowed when using host-mode networking",
        );
    }
    if container_nets > 0 {
        v.check(
            ep.container_port.is_some(),
            &cp_path,
            "is required when using container-mode networking",
        );
    }
    int_range(v, &cp_path, ep.container_port, 0, 65535);
    int_range(v, &format!("{path}/hostPort"), ep.host_port, 0, 65535);
    v.check(
        all_unique(&ep.protocol),
        &format!("{path}/protocol"),
        "Duplicate protocols within the same endpoint are not allowed",
    );
    let net_names: Vec<&String> = pod
        .networks
        .iter()
        .filter_map(|n| n.name.as_ref())
        .collect();
    for (k, name) in ep.network_names.iter().enumerate() {
        v.check(
            net_names.contains(&name),
            &format!("{path}/networkNames({k})"),
            "is not one of the pod's network names",
        );
    }
    if container_nets > 1 && ep.host_port.is_some() && ep.network_names.len() != 1 {
        v.add(
            path,
            "networkNames must be a single item list when hostPort is specified and more than 1 container network is defined",
        );
    }
}

fn validate_health_check(
    hc: &PodHealthCheck,
    endpoints: &[Endpoint],
    path: &str,
    v: &mut Violations,
) {
    let kinds = [hc.http.is_some(), hc.tcp.is_some(), hc.exec.is_some()];
    v.check(
        kinds.iter().filter(|k| **k).count() == 1,
        path,
        "Only one of http, tcp, or command may be specified",
    );
    let known = |name: &str| endpoints.iter().any(|e| e.name == name);
    if let Some(http) = &hc.http {
        v.check(
            known(&http.endpoint),
            &format!("{path}/http/endpoint"),
            "contained in the container endpoints",
        );
    }
    if let Some(tcp) = &hc.tcp {
        v.check(
            known(&tcp.endpoint),
            &format!("{path}/tcp/endpoint"),
            "contained in the container endpoints",
        );
    }
    int_range(
        v,
        &format!("{path}/gracePeriodSeconds"),
        Some(hc.grace_period_seconds),
        0,
        i64::MAX,
    );
    int_range(
        v,
        &format!("{path}/intervalSeconds"),
        Some(hc.interval_seconds),
        0,
        i64::MAX,
    );
    int_range(
        v,
        &format!("{path}/maxConsecutiveFailures"),
        Some(hc.max_consecutive_failures),
        0,
        i64::MAX,
    );
    int_range(
        v,
        &format!("{path}/delaySeconds"),
        Some(hc.delay_seconds),
        0,
        i64::MAX,
    );
    v.check(
        hc.timeout_seconds < hc.interval_seconds,
        &format!("{path}/timeoutSeconds"),
        format!(
            "got {}, expected less than {}",
            hc.timeout_seconds, hc.interval_seconds
        ),
    );
}

fn validate_scaling_and_scheduling(pod: &Pod, v: &mut Violations) {
    v.check(
        pod.scaling.kind == "fixed",
        "/scaling",
        "Not a fixed scaling policy",
    );
    int_range(
        v,
        "/scaling/instances",
        Some(pod.scaling.instances),
        0,
        i64::from(i32::MAX),
    );
    let s = &pod.scheduling;
    num_min(
        v,
        "/scheduling/backoff/backoff",
        Some(s.backoff.backoff),
        0.0,
    );
    num_min(
        v,
        "/scheduling/backoff/backoffFactor",
        Some(s.backoff.backoff_factor),
        0.0,
    );
    num_min(
        v,
        "/scheduling/backoff/maxLaunchDelay",
        Some(s.backoff.max_launch_delay),
        0.0,
    );
    if let Some(u) = &s.upgrade {
        num_range(
            v,
            "/scheduling/upgrade/minimumHealthCapacity",
            u.minimum_health_capacity,
            0.0,
            1.0,
        );
        num_range(
            v,
            "/scheduling/upgrade/maximumOverCapacity",
            u.maximum_over_capacity,
            0.0,
            1.0,
        );
        if pod.is_resident() {
            let moc = u.maximum_over_capacity;
            v.check(
                moc == 0.0,
                "/upgrade/maximumOverCapacity",
                format!("got {moc}, expected 0"),
            );
        }
    }
    if pod.is_resident()
        && s.unreachable_strategy
            .is_some_and(|u| u != UnreachableStrategy::Disabled)
    {
        v.add(
            "/",
            "unreachableStrategy must be disabled for pods with persistent volumes",
        );
    }
    for (i, c) in s.placement.constraints.iter().enumerate() {
        if let Err(msg) = check_constraint_rule(&c.field_name, &c.operator, c.value.as_deref()) {
            v.add(&format!("/scheduling/placement/constraints({i})"), msg);
        }
    }
    if pod.is_resident() && !s.placement.accepted_resource_roles.is_empty() {
        v.check(
            s.placement.accepted_resource_roles == ["*"],
            "/acceptedResourceRoles",
            "A resident pod must have `acceptedResourceRoles = [\"*\"]`.",
        );
    }
    v.check(!pod.role.is_empty(), "/role", "must not be empty");
}

fn validate_ports(pod: &Pod, v: &mut Violations) {
    let endpoints: Vec<&Endpoint> = pod.containers.iter().flat_map(|c| &c.endpoints).collect();
    let names: Vec<&String> = endpoints.iter().map(|e| &e.name).collect();
    v.check(
        all_unique(&names),
        "/",
        "endpoint names nust be unique across all containers",
    );
    let cports: Vec<i64> = endpoints
        .iter()
        .filter_map(|e| e.container_port)
        .filter(|p| *p != 0)
        .collect();
    v.check(
        all_unique(&cports),
        "/",
        "container ports must be unique across all containers",
    );
    let hports: Vec<i64> = endpoints
        .iter()
        .filter_map(|e| e.host_port)
        .filter(|p| *p != 0)
        .collect();
    v.check(
        all_unique(&hports),
        "/",
        "host ports must be unique across all containers",
    );
}
