//! The `container` of an app: engine type (MESOS or DOCKER), the Docker image and options,
//! port mappings for bridge and container networks, and volumes (host, persistent,
//! external, secret).

use super::network::tcp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The containerizer: Mesos (UCR) or Docker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ContainerType {
    #[serde(rename = "MESOS")]
    Mesos,
    /// RAML's default when `type` is left out.
    #[default]
    #[serde(rename = "DOCKER")]
    Docker,
}

/// An app's container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(rename = "type", default)]
    pub kind: ContainerType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerContainer>,
    #[serde(default)]
    pub volumes: Vec<AppVolume>,
    /// Only with bridge or container networking; `None` under host networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mappings: Option<Vec<PortMapping>>,
    /// Written back only when set (marathon-python 0.13.0 crashes on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_info: Option<Value>,
}

impl Container {
    /// An image-less Mesos container, Marathon's implied container for non-host networks.
    pub fn mesos() -> Container {
        Container {
            kind: ContainerType::Mesos,
            docker: None,
            volumes: Vec::new(),
            port_mappings: None,
            linux_info: None,
        }
    }

    /// True if any volume is a persistent (local) volume: the app is then resident.
    pub fn has_persistent_volumes(&self) -> bool {
        self.volumes.iter().any(|v| v.persistent.is_some())
    }
}

/// Deprecated `container.docker.network` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DockerNetwork {
    Bridge,
    Host,
    None,
    User,
}

/// `container.docker`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerContainer {
    /// Required; left out it fails validation (`must not be empty`).
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub force_pull_image: bool,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub parameters: Vec<DockerParameter>,
    /// Deprecated input; translated into `networks` and cleared by normalization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<DockerNetwork>,
    /// Deprecated input location; moved to `container.portMappings` by normalization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mappings: Option<Vec<PortMapping>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Value>,
}

/// A `docker run` option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerParameter {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// A container port exposed under bridge or container networking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    #[serde(default)]
    pub container_port: i64,
    /// Left out under container networks: no host port. Defaults to 0 under bridge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i64>,
    #[serde(default)]
    pub service_port: i64,
    #[serde(default = "tcp")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Left out when empty (marathon-python 0.13.0 crashes on the key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_names: Vec<String>,
}

impl PortMapping {
    /// `{containerPort:0, name:"default"}`, the mapping implied for non-host networks.
    pub fn default_mapping() -> PortMapping {
        PortMapping {
            container_port: 0,
            host_port: None,
            service_port: 0,
            protocol: tcp(),
            name: Some("default".into()),
            labels: BTreeMap::new(),
            network_names: Vec::new(),
        }
    }
}

/// Read-only or read-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VolumeMode {
    #[serde(rename = "RO")]
    ReadOnly,
    #[serde(rename = "RW")]
    ReadWrite,
}

/// An app volume. Exactly one kind: host (`hostPath`), persistent (`persistent`),
/// external (`external`) or secret (`secret`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppVolume {
    #[serde(default)]
    pub container_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<VolumeMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<PersistentVolume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A local persistent volume (makes the app resident).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolume {
    /// `root` (default), `path` or `mount`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Vec<String>>,
}
