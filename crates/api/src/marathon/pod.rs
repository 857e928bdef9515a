//! Marathon pods (`/v2/pods`): the pod spec with Marathon's defaults (host networking,
//! fixed scaling of 1, backoff 1/1.15/300, upgrade {1,1}, resident strategies), its
//! normalization and the body-id check. One struct serves as input and output: fields
//! left out of a request read as their defaults.

use super::container::PersistentVolume;
use super::error::{ApiErrorBody, Validation, Violations, parse_object};
use super::network::{Network, NetworkMode};
use super::path_id::PathId;
use super::pod_validate::validate_pod;
use super::spec::{
    Artifact, EnvValue, KillSelection, SecretDef, UnreachableStrategy, UpgradeStrategy,
};
use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A pod spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    /// As given; absolute after [`Pod::normalize`].
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, EnvValue>,
    #[serde(default)]
    pub containers: Vec<PodContainer>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretDef>,
    #[serde(default)]
    pub volumes: Vec<PodVolume>,
    #[serde(default)]
    pub networks: Vec<Network>,
    #[serde(default)]
    pub scaling: PodScaling,
    #[serde(default)]
    pub scheduling: PodScheduling,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_resources: Option<Value>,
    #[serde(default = "star")]
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_shared_cgroups: Option<bool>,
}

fn star() -> String {
    "*".to_owned()
}

/// `{"kind":"fixed","instances":N}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodScaling {
    #[serde(default = "fixed")]
    pub kind: String,
    #[serde(default = "one_instance")]
    pub instances: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<i64>,
}

fn fixed() -> String {
    "fixed".to_owned()
}
fn one_instance() -> i64 {
    1
}

impl Default for PodScaling {
    fn default() -> PodScaling {
        PodScaling {
            kind: fixed(),
            instances: 1,
            max_instances: None,
        }
    }
}

/// `scheduling`: backoff, upgrade, placement, kill selection, unreachable strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodScheduling {
    #[serde(default)]
    pub backoff: PodBackoff,
    /// `None` until normalized (the default depends on persistent volumes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeStrategy>,
    #[serde(default)]
    pub placement: PodPlacement,
    #[serde(default)]
    pub kill_selection: KillSelection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_strategy: Option<UnreachableStrategy>,
}

impl Default for PodScheduling {
    fn default() -> PodScheduling {
        PodScheduling {
            backoff: PodBackoff::default(),
            upgrade: None,
            placement: PodPlacement::default(),
            kill_selection: KillSelection::YoungestFirst,
            unreachable_strategy: None,
        }
    }
}

/// Launch backoff, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodBackoff {
    #[serde(default = "backoff_default")]
    pub backoff: f64,
    #[serde(default = "factor_default")]
    pub backoff_factor: f64,
    #[serde(default = "max_delay_default")]
    pub max_launch_delay: f64,
}

fn backoff_default() -> f64 {
    1.0
}
fn factor_default() -> f64 {
    1.15
}
fn max_delay_default() -> f64 {
    300.0
}

impl Default for PodBackoff {
    fn default() -> PodBackoff {
        PodBackoff {
            backoff: 1.0,
            backoff_factor: 1.15,
            max_launch_delay: 300.0,
        }
    }
}

/// Where instances may run. Pod constraints are objects, unlike app constraints.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodPlacement {
    #[serde(default)]
    pub constraints: Vec<PodConstraint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_resource_roles: Vec<String>,
}

/// `{"fieldName":"hostname","operator":"UNIQUE","value":...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodConstraint {
    #[serde(default)]
    pub field_name: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A pod volume: ephemeral (name only), host (`host`), secret (`secret`) or persistent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodVolume {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<PersistentVolume>,
}

/// One container of a pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodContainer {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<PodExec>,
    #[serde(default)]
    pub resources: PodResources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<Value>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<PodImage>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, EnvValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<PodHealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Value>,
    #[serde(default)]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
}

/// `{"command": {"shell": "..."} | {"argv": [...]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodExec {
    #[serde(default)]
    pub command: PodCommand,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_entrypoint: Option<bool>,
}

/// A shell line or an argv; exactly one must be set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PodCommand {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
}

/// Per-container resources.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PodResources {
    #[serde(default = "one_cpu")]
    pub cpus: f64,
    #[serde(default = "mem_default")]
    pub mem: f64,
    #[serde(default)]
    pub disk: f64,
    #[serde(default)]
    pub gpus: i64,
}

fn one_cpu() -> f64 {
    1.0
}
fn mem_default() -> f64 {
    128.0
}

impl Default for PodResources {
    fn default() -> PodResources {
        PodResources {
            cpus: 1.0,
            mem: 128.0,
            disk: 0.0,
            gpus: 0,
        }
    }
}

/// A named port of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i64>,
    /// 0 = assign a host port; defaults to 0 unless container networking is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protocol: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_names: Vec<String>,
}

/// `{"kind":"DOCKER","id":"nginx:1.25"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodImage {
    #[serde(default = "docker_kind")]
    pub kind: String,
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_pull: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn docker_kind() -> String {
    "DOCKER".to_owned()
}

/// A container health check: exactly one of `http`, `tcp`, `exec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodHealthCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<PodHttpCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<PodTcpCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<PodExec>,
    #[serde(default = "d300")]
    pub grace_period_seconds: i64,
    #[serde(default = "d60")]
    pub interval_seconds: i64,
    #[serde(default = "d3")]
    pub max_consecutive_failures: i64,
    #[serde(default = "d20")]
    pub timeout_seconds: i64,
    #[serde(default = "d15")]
    pub delay_seconds: i64,
}

fn d300() -> i64 {
    300
}
fn d60() -> i64 {
    60
}
fn d3() -> i64 {
    3
}
fn d20() -> i64 {
    20
}
fn d15() -> i64 {
    15
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodHttpCheck {
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodTcpCheck {
    pub endpoint: String,
}

/// Mounts the pod volume `name` at `mountPath`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    #[serde(default)]
    pub mount_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_grace_period_seconds: Option<f64>,
}

/// Parses a pod body (`POST /v2/pods`, `PUT /v2/pods/{id}`).
pub fn parse_pod(bytes: &[u8]) -> Result<Pod, ApiErrorBody> {
    parse_object(bytes)
}

impl Pod {
    /// True if any volume is persistent.
    pub fn is_resident(&self) -> bool {
        self.volumes.iter().any(|v| v.persistent.is_some())
    }

    /// The absolute id (after normalization this is just `id` parsed).
    pub fn path_id(&self) -> PathId {
        PathId::parse_unchecked(&self.id).canonical(&PathId::root())
    }

    /// 400 unless the body's id names the pod of the URL (`PUT /v2/pods/{id}`).
    pub fn check_id(&self, path: &PathId) -> Result<(), ApiErrorBody> {
        if self.path_id() == *path {
            Ok(())
        } else {
            Err(ApiErrorBody::pod_id_mismatch(path, &self.id))
        }
    }

    /// Fills the defaults that depend on other fields and validates; collects every
    /// violation (422).
    pub fn normalize(mut self) -> Result<Pod, Validation> {
        let mut v = Violations::default();
        self.id = match PathId::parse(&self.id) {
            Ok(id) => id.canonical(&PathId::root()).to_string(),
            Err(e) => {
                v.add("/id", e.to_string());
                self.id
            }
        };
        if self.networks.is_empty() {
            self.networks = vec![Network::host()];
        }
        if !self
            .networks
            .iter()
            .any(|n| n.mode == NetworkMode::Container)
        {
            for ep in self
                .containers
                .iter_mut()
                .flat_map(|c| c.endpoints.iter_mut())
            {
                ep.host_port.get_or_insert(0);
            }
        }
        let resident = self.is_resident();
        let s = &mut self.scheduling;
        s.upgrade.get_or_insert(if resident {
            UpgradeStrategy::RESIDENT
        } else {
            UpgradeStrategy::DEFAULT
        });
        let unreachable = if resident {
            UnreachableStrategy::Disabled
        } else {
            UnreachableStrategy::DEFAULT
        };
        s.unreachable_strategy.get_or_insert(unreachable);
        for c in &mut s.placement.constraints {
            c.operator = c.operator.to_ascii_uppercase();
        }
        validate_pod(&self, &mut v);
        v.finish(self)
    }

    /// Total resources of one instance (all containers, no executor overhead).
    pub fn instance_resources(&self) -> PodResources {
        self.containers.iter().fold(
            PodResources {
                cpus: 0.0,
                mem: 0.0,
                disk: 0.0,
                gpus: 0,
            },
            |acc, c| PodResources {
                cpus: acc.cpus + c.resources.cpus,
                mem: acc.mem + c.resources.mem,
                disk: acc.disk + c.resources.disk,
                gpus: acc.gpus + c.resources.gpus,
            },
        )
    }
}
