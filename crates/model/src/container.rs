//! Containers: how a task's process is isolated and from which image it runs
//! (`ContainerSpec`, Mesos's `ContainerInfo`).

use serde::{Deserialize, Serialize};

/// Which containerizer runs the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContainerKind {
    /// The Docker Engine runs the task's image.
    Docker,
    /// Keel's own runtime (Mesos "UCR").
    Mesos,
}

/// A task's container: the runtime, the image settings and the volumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub kind: ContainerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
}

/// How a Docker container is networked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DockerNetwork {
    Bridge,
    Host,
    /// A user-defined network, by name.
    User(String),
    None,
}

/// The transport of a port mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortProtocol {
    Tcp,
    Udp,
}

/// A container port, published on one of the task's assigned host ports or on none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub container_port: u16,
    /// Index into the task's assigned host ports (PORT0 = 0); `None`: not published on
    /// the host (a mapping without `hostPort` on a user network).
    #[serde(default)]
    pub host_port_index: Option<usize>,
    pub protocol: PortProtocol,
}

/// The image and engine options of a Docker task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerSpec {
    pub image: String,
    pub network: DockerNetwork,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    /// Extra `docker run` options as `(key, value)` pairs (`--label`, `--env`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<(String, String)>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub force_pull: bool,
}

/// Whether a volume is mounted read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VolumeMode {
    #[serde(rename = "RO")]
    ReadOnly,
    #[serde(rename = "RW")]
    ReadWrite,
}

/// A directory mounted into the container: a host path (absolute, or relative to the
/// sandbox), or the root filesystem of another image. A relative `container_path` is inside
/// the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub container_path: String,
    #[serde(default)]
    pub host_path: String,
    pub mode: VolumeMode,
    /// The image whose root filesystem is mounted (Mesos `Volume.Source.Image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}
