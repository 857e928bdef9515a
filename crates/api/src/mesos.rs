//! Mesos's legacy (non-v1) JSON endpoints: `/master/state`, `/master/slaves`,
//! `/master/frameworks`, `/master/tasks`, `/master/state-summary`, agent `/state`,
//! `/version`, and the `/files/*` API. Field names are Mesos's, verbatim.

use keel_resources::{AttrValue, Attributes, Resources};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The Mesos version Keel reports; purely numeric because pymesos `int()`s every part.
pub const MESOS_VERSION: &str = "1.11.0";

/// Mesos's resource summary object: always `cpus`, `gpus`, `mem`, `disk`; ranges as
/// `"[31000-31005]"` strings, sets as `"{a, b}"` strings.
pub fn resources_summary(r: &Resources) -> Value {
    let mut m = Map::new();
    for name in ["cpus", "gpus", "mem", "disk"] {
        m.insert(name.into(), json!(r.scalar(name)));
    }
    for (k, v) in &r.scalars {
        m.insert(k.clone(), json!(v));
    }
    for (k, v) in &r.ranges {
        m.insert(k.clone(), json!(v.to_string()));
    }
    for (k, v) in &r.sets {
        let items: Vec<&str> = v.iter().map(String::as_str).collect();
        m.insert(k.clone(), json!(format!("{{{}}}", items.join(", "))));
    }
    Value::Object(m)
}

/// Mesos's attributes object: scalars as numbers, everything else as text.
pub fn attributes_json(a: &Attributes) -> Value {
    let m: Map<String, Value> =
        a.0.iter()
            .map(|(k, v)| {
                let v = match v {
                    AttrValue::Scalar(x) => json!(x),
                    other => json!(other.to_string()),
                };
                (k.clone(), v)
            })
            .collect();
    Value::Object(m)
}

/// `/version`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    pub version: String,
    pub build_date: String,
    pub build_time: f64,
    pub build_user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_tag: Option<String>,
}

/// A `{"value": "..."}` id wrapper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdValue {
    pub value: String,
}

/// `container_status` inside a legacy status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerStatus {
    pub container_id: IdValue,
    /// The container's addresses (Mesos-DNS's `netinfo` IP source reads them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_infos: Vec<NetworkInfo>,
}

/// One `NetworkInfo` of a container status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub ip_addresses: Vec<IpAddressInfo>,
}

/// One `NetworkInfo.IPAddress`: `{"protocol": "IPv4", "ip_address": "172.17.0.2"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IpAddressInfo {
    pub protocol: String,
    pub ip_address: String,
}

impl NetworkInfo {
    /// The network infos of a container with addresses `ips` (one network; none if empty).
    pub fn of(ips: &[core::net::IpAddr]) -> Vec<NetworkInfo> {
        if ips.is_empty() {
            return Vec::new();
        }
        vec![NetworkInfo {
            ip_addresses: ips
                .iter()
                .map(|ip| IpAddressInfo {
                    protocol: if ip.is_ipv4() { "IPv4" } else { "IPv6" }.into(),
                    ip_address: ip.to_string(),
                })
                .collect(),
        }]
    }
}

/// One entry of a legacy task's `statuses`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub state: String,
    pub timestamp: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_status: Option<ContainerStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// Who sent it (`SOURCE_EXECUTOR`, `SOURCE_AGENT`, `SOURCE_MASTER`), as in Mesos's
    /// `TaskStatus`; absent in statuses recorded before Keel kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Why it happened (`REASON_...`), as in Mesos's `TaskStatus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A `{key, value}` label.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Label {
    pub key: String,
    pub value: String,
}

/// Legacy task object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub name: String,
    pub framework_id: String,
    pub executor_id: String,
    pub slave_id: String,
    pub state: String,
    pub resources: Value,
    pub role: String,
    pub statuses: Vec<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
    /// The task's `ContainerInfo` (see [`container_info`]); absent for a plain command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Value>,
    /// The task's `DiscoveryInfo` (what Mesos-DNS and dcos-net read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryInfo>,
    /// Keel addition: why the latest status happened (`REASON_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Keel addition: the latest status message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Mesos's `DiscoveryInfo` as its JSON renders it: `ports` and `labels` wrap their lists
/// (`{"ports":{"ports":[...]}}`, `{"labels":{"labels":[...]}}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DiscoveryInfo {
    pub visibility: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<DiscoveryPorts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
}

/// `DiscoveryInfo.ports`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DiscoveryPorts {
    #[serde(default)]
    pub ports: Vec<DiscoveryPort>,
}

/// One `Port` of a `DiscoveryInfo`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DiscoveryPort {
    pub number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
}

/// Mesos's `Labels` message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Labels {
    #[serde(default)]
    pub labels: Vec<Label>,
}

fn labels_of(map: &std::collections::BTreeMap<String, String>) -> Option<Labels> {
    (!map.is_empty()).then(|| Labels {
        labels: map
            .iter()
            .map(|(k, v)| Label {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
    })
}

impl From<&keel_model::Discovery> for DiscoveryInfo {
    fn from(d: &keel_model::Discovery) -> DiscoveryInfo {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        DiscoveryInfo {
            visibility: d.visibility.clone(),
            name: non_empty(&d.name),
            ports: (!d.ports.is_empty()).then(|| DiscoveryPorts {
                ports: d
                    .ports
                    .iter()
                    .map(|p| DiscoveryPort {
                        number: p.number,
                        name: non_empty(&p.name),
                        protocol: non_empty(&p.protocol),
                        labels: labels_of(&p.labels),
                    })
                    .collect(),
            }),
            labels: labels_of(&d.labels),
        }
    }
}

impl From<&DiscoveryInfo> for keel_model::Discovery {
    fn from(d: &DiscoveryInfo) -> keel_model::Discovery {
        let map = |l: &Option<Labels>| {
            l.iter()
                .flat_map(|l| &l.labels)
                .map(|l| (l.key.clone(), l.value.clone()))
                .collect()
        };
        keel_model::Discovery {
            visibility: d.visibility.clone(),
            name: d.name.clone().unwrap_or_default(),
            ports: d
                .ports
                .iter()
                .flat_map(|p| &p.ports)
                .map(|p| keel_model::DiscoveryPort {
                    number: p.number,
                    name: p.name.clone().unwrap_or_default(),
                    protocol: p.protocol.clone().unwrap_or_default(),
                    labels: map(&p.labels),
                    host_port_index: None,
                })
                .collect(),
            labels: map(&d.labels),
        }
    }
}

/// A task's container as Mesos renders its `ContainerInfo`: `{type: "DOCKER", docker:
/// {image, network, port_mappings, privileged, parameters, force_pull_image}}`, or for Keel's
/// own runtime `{type: "MESOS", mesos: {image: {type: "DOCKER", docker: {name}}}}`, with the
/// `volumes`. `host_ports` are the task's assigned host ports (PORT0 first), which the port
/// mappings point into.
pub fn container_info(c: &keel_model::ContainerSpec, host_ports: &[u16]) -> Value {
    use keel_model::{ContainerKind, DockerNetwork, PortProtocol, VolumeMode};
    let image = |name: &str| json!({"type": "DOCKER", "docker": {"name": name}});
    let mut out = Map::new();
    match (c.kind, &c.docker) {
        (ContainerKind::Docker, Some(d)) => {
            let network = match &d.network {
                DockerNetwork::Bridge => "BRIDGE",
                DockerNetwork::Host => "HOST",
                DockerNetwork::User(_) => "USER",
                DockerNetwork::None => "NONE",
            };
            let mappings: Vec<Value> = d
                .port_mappings
                .iter()
                .filter_map(|m| {
                    let host = host_ports.get(m.host_port_index?)?;
                    let protocol = match m.protocol {
                        PortProtocol::Tcp => "tcp",
                        PortProtocol::Udp => "udp",
                    };
                    Some(json!({"host_port": host, "container_port": m.container_port, "protocol": protocol}))
                })
                .collect();
            let mut docker = json!({
                "image": d.image,
                "network": network,
                "privileged": d.privileged,
                "force_pull_image": d.force_pull,
            });
            if !mappings.is_empty() {
                docker["port_mappings"] = Value::Array(mappings);
            }
            if !d.parameters.is_empty() {
                docker["parameters"] = d
                    .parameters
                    .iter()
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect();
            }
            out.insert("type".into(), json!("DOCKER"));
            out.insert("docker".into(), docker);
            if let DockerNetwork::User(name) = &d.network {
                out.insert("network_infos".into(), json!([{"name": name}]));
            }
        }
        (_, docker) => {
            out.insert("type".into(), json!("MESOS"));
            if let Some(d) = docker {
                out.insert("mesos".into(), json!({"image": image(&d.image)}));
            }
        }
    }
    if !c.volumes.is_empty() {
        let volumes: Vec<Value> = c
            .volumes
            .iter()
            .map(|v| {
                let mode = match v.mode {
                    VolumeMode::ReadOnly => "RO",
                    VolumeMode::ReadWrite => "RW",
                };
                let mut o = json!({"container_path": v.container_path, "mode": mode});
                if !v.host_path.is_empty() {
                    o["host_path"] = json!(v.host_path);
                }
                if let Some(i) = &v.image {
                    o["image"] = image(i);
                }
                o
            })
            .collect();
        out.insert("volumes".into(), Value::Array(volumes));
    }
    Value::Object(out)
}

/// Legacy agent object (SlaveWriter).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Slave {
    pub id: String,
    pub hostname: String,
    pub port: u16,
    pub attributes: Value,
    pub pid: String,
    pub registered_time: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reregistered_time: Option<f64>,
    pub resources: Value,
    pub used_resources: Value,
    pub offered_resources: Value,
    pub reserved_resources: Map<String, Value>,
    pub unreserved_resources: Value,
    pub active: bool,
    pub deactivated: bool,
    pub version: String,
    pub capabilities: Vec<String>,
}

/// Legacy framework object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Framework {
    pub id: String,
    pub name: String,
    pub used_resources: Value,
    pub offered_resources: Value,
    pub resources: Value,
    pub capabilities: Vec<String>,
    pub hostname: String,
    pub webui_url: String,
    pub active: bool,
    pub connected: bool,
    pub recovered: bool,
    pub user: String,
    pub failover_timeout: f64,
    pub checkpoint: bool,
    pub registered_time: f64,
    pub unregistered_time: f64,
    pub role: String,
    pub tasks: Vec<Task>,
    pub unreachable_tasks: Vec<Task>,
    pub completed_tasks: Vec<Task>,
    pub offers: Vec<Value>,
    pub executors: Vec<Value>,
}

/// `leader_info`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaderInfo {
    pub id: String,
    pub pid: String,
    pub port: u16,
    pub hostname: String,
}

/// `/master/state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MasterState {
    pub version: String,
    pub build_date: String,
    pub build_time: f64,
    pub build_user: String,
    pub start_time: f64,
    pub elected_time: f64,
    pub id: String,
    pub pid: String,
    pub hostname: String,
    pub capabilities: Vec<String>,
    pub activated_slaves: f64,
    pub deactivated_slaves: f64,
    pub unreachable_slaves: f64,
    pub leader: String,
    pub leader_info: LeaderInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub flags: BTreeMap<String, String>,
    pub slaves: Vec<Slave>,
    pub recovered_slaves: Vec<RecoveredSlave>,
    pub frameworks: Vec<Framework>,
    pub completed_frameworks: Vec<Framework>,
    pub orphan_tasks: Vec<Value>,
    pub unregistered_frameworks: Vec<Value>,
}

/// `/master/slaves`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Slaves {
    pub slaves: Vec<Slave>,
    pub recovered_slaves: Vec<RecoveredSlave>,
}

/// `/master/frameworks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frameworks {
    pub frameworks: Vec<Framework>,
    pub completed_frameworks: Vec<Framework>,
    pub unregistered_frameworks: Vec<Value>,
}

/// `/master/tasks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tasks {
    pub tasks: Vec<Task>,
}

/// The task-state counters that `/master/state-summary` attaches to agents and frameworks.
pub const SUMMARY_STATES: [&str; 10] = [
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_KILLED",
    "TASK_FAILED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_UNREACHABLE",
];

/// `/master/state-summary`.
#[derive(Debug, Clone, Serialize)]
pub struct StateSummary {
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub slaves: Vec<SummarySlave>,
    pub frameworks: Vec<SummaryFramework>,
}

/// The count of tasks in each of [`SUMMARY_STATES`], keyed by the state's name.
pub type SummaryCounts = BTreeMap<&'static str, usize>;

/// An agent of `/master/state-summary`: the agent, its task counts and the frameworks with
/// live tasks on it.
#[derive(Debug, Clone, Serialize)]
pub struct SummarySlave {
    #[serde(flatten)]
    pub slave: Slave,
    #[serde(flatten)]
    pub counts: SummaryCounts,
    pub framework_ids: BTreeSet<String>,
}

/// A framework of `/master/state-summary`: what the DC/OS UI lists of it, its task counts
/// and the agents its live tasks are on.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryFramework {
    pub id: String,
    pub name: String,
    /// Always `null`: HTTP frameworks have no libprocess pid.
    pub pid: Option<String>,
    pub used_resources: Value,
    pub offered_resources: Value,
    pub capabilities: Vec<String>,
    pub hostname: String,
    pub webui_url: String,
    pub active: bool,
    pub connected: bool,
    pub recovered: bool,
    #[serde(flatten)]
    pub counts: SummaryCounts,
    pub slave_ids: BTreeSet<String>,
}

/// An agent of `recovered_slaves`: known from the store, not re-registered since the
/// master started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveredSlave {
    pub id: String,
    pub hostname: String,
    pub attributes: Value,
}

/// `/master/flags`: `{"flags": {...}}`, every value a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    pub flags: BTreeMap<String, String>,
}

/// `/metrics/snapshot`: a flat object of numbers keyed by metric name.
pub type MetricsSnapshot = BTreeMap<String, f64>;

/// `{"name": ...}` of a Cosmos capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    pub name: String,
}

/// Cosmos's `/capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub capabilities: Vec<Capability>,
}

/// An executor in the agent's `/state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentExecutor {
    pub id: String,
    pub name: String,
    pub source: String,
    pub container: String,
    /// Absolute sandbox path on the agent; CLIs pass it straight to `/files/*`.
    pub directory: String,
    pub resources: Value,
    pub tasks: Vec<Task>,
    pub queued_tasks: Vec<Value>,
    pub completed_tasks: Vec<Task>,
}

/// A framework in the agent's `/state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentFramework {
    pub id: String,
    pub name: String,
    pub user: String,
    pub failover_timeout: f64,
    pub checkpoint: bool,
    pub hostname: String,
    pub role: String,
    pub executors: Vec<AgentExecutor>,
    pub completed_executors: Vec<AgentExecutor>,
}

/// Agent `/state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentState {
    pub version: String,
    pub build_date: String,
    pub build_time: f64,
    pub build_user: String,
    pub start_time: f64,
    pub id: String,
    pub pid: String,
    pub hostname: String,
    pub capabilities: Vec<String>,
    pub resources: Value,
    pub reserved_resources: Map<String, Value>,
    pub unreserved_resources: Value,
    pub attributes: Value,
    pub master_hostname: String,
    pub flags: BTreeMap<String, String>,
    pub frameworks: Vec<AgentFramework>,
    pub completed_frameworks: Vec<AgentFramework>,
}

/// One entry of `/files/browse`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub nlink: u64,
    pub size: u64,
    pub mtime: f64,
    pub mode: String,
    pub uid: String,
    pub gid: String,
}

/// `/files/read`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadChunk {
    pub offset: u64,
    pub data: String,
}

/// DC/OS `/metadata`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(rename = "PUBLIC_IPV4")]
    pub public_ipv4: String,
    #[serde(rename = "CLUSTER_ID")]
    pub cluster_id: String,
}

/// DC/OS `/dcos-metadata/ui-config.json`: the UI's plugin switches and the cluster's id.
/// The CLI reads `uiConfiguration.plugins.mesos.logging-strategy` (`journald` would send
/// `task log` to the v1 journald routes; Keel keeps task output in sandbox files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiConfig {
    #[serde(rename = "uiConfiguration")]
    pub ui_configuration: UiConfiguration,
    #[serde(rename = "clusterConfiguration")]
    pub cluster_configuration: ClusterConfiguration,
}

/// `uiConfiguration` of [`UiConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiConfiguration {
    pub plugins: UiPlugins,
}

/// The UI plugins DC/OS configures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiPlugins {
    pub banner: Enabled,
    pub branding: Enabled,
    #[serde(rename = "external-links")]
    pub external_links: Enabled,
    pub authentication: Enabled,
    pub oauth: OauthPlugin,
    pub tracking: Enabled,
    pub mesos: MesosPlugin,
}

/// `{"enabled": bool}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enabled {
    pub enabled: bool,
}

/// The `oauth` plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OauthPlugin {
    pub enabled: bool,
    #[serde(rename = "authHost")]
    pub auth_host: String,
}

/// The `mesos` plugin: where task logs are (`logrotate`: sandbox files; `journald`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MesosPlugin {
    #[serde(rename = "logging-strategy")]
    pub logging_strategy: String,
}

/// `clusterConfiguration` of [`UiConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterConfiguration {
    #[serde(rename = "firstUser")]
    pub first_user: bool,
    pub id: String,
}

impl UiConfig {
    /// Keel's: no banner, branding, login or tracking; task logs in sandbox files.
    pub fn keel(cluster_id: String) -> Self {
        let off = || Enabled { enabled: false };
        UiConfig {
            ui_configuration: UiConfiguration {
                plugins: UiPlugins {
                    banner: off(),
                    branding: off(),
                    external_links: off(),
                    authentication: off(),
                    oauth: OauthPlugin {
                        enabled: false,
                        auth_host: String::new(),
                    },
                    tracking: off(),
                    mesos: MesosPlugin {
                        logging_strategy: "logrotate".into(),
                    },
                },
            },
            cluster_configuration: ClusterConfiguration {
                first_user: false,
                id: cluster_id,
            },
        }
    }
}

/// DC/OS `/dcos-metadata/dcos-version.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DcosVersion {
    pub version: String,
    #[serde(rename = "dcos-image-commit")]
    pub image_commit: String,
    #[serde(rename = "bootstrap-id")]
    pub bootstrap_id: String,
    #[serde(rename = "dcos-variant")]
    pub variant: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_has_mesos_shape() {
        let r = Resources::parse("cpus:2;mem:512;ports:[31000-31002]").unwrap_or_default();
        assert_eq!(
            resources_summary(&r).to_string(),
            r#"{"cpus":2.0,"disk":0.0,"gpus":0.0,"mem":512.0,"ports":"[31000-31002]"}"#
        );
        let a = Attributes::parse("rack:r1;level:3").unwrap_or_default();
        assert_eq!(
            attributes_json(&a).to_string(),
            r#"{"level":3.0,"rack":"r1"}"#
        );
    }

    #[test]
    fn ui_config_has_dcos_shape() {
        let v = serde_json::to_value(UiConfig::keel("c-1".into())).unwrap();
        assert_eq!(
            v["uiConfiguration"]["plugins"]["mesos"]["logging-strategy"],
            "logrotate"
        );
        assert_eq!(v["uiConfiguration"]["plugins"]["oauth"]["authHost"], "");
        assert_eq!(
            v["uiConfiguration"]["plugins"]["external-links"]["enabled"],
            false
        );
        assert_eq!(v["clusterConfiguration"]["firstUser"], false);
        assert_eq!(v["clusterConfiguration"]["id"], "c-1");
    }
}
