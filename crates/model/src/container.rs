//! Containers: how a task's process is isolated and from which image it runs
//! (`ContainerSpec`, Mesos's `ContainerInfo`).

use crate::ids::{IdError, validate};
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
    /// An ephemeral volume of the task's group, which the agent makes `host_path` at launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupVolume>,
}

/// An ephemeral volume of a task group (a Marathon pod instance's `{"name": ...}` volume;
/// Mesos's `SANDBOX_PATH` volume of type `PARENT` under the default executor): one directory
/// per group and name on the agent, made before the group's first task starts, shared by
/// every task of the group and collected with their sandboxes. Both parts are single path
/// components (`[A-Za-z0-9._-]`, not `.` or `..`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawGroupVolume")]
pub struct GroupVolume {
    group: String,
    name: String,
}

#[derive(Deserialize)]
struct RawGroupVolume {
    group: String,
    name: String,
}

impl TryFrom<RawGroupVolume> for GroupVolume {
    type Error = IdError;
    fn try_from(raw: RawGroupVolume) -> Result<Self, IdError> {
        GroupVolume::new(raw.group, raw.name)
    }
}

impl GroupVolume {
    /// Validates both parts.
    pub fn new(group: impl Into<String>, name: impl Into<String>) -> Result<Self, IdError> {
        let (group, name) = (group.into(), name.into());
        component("task group", &group)?;
        component("volume", &name)?;
        Ok(GroupVolume { group, name })
    }

    /// The task group (e.g. the Marathon pod instance id).
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The volume's name in its group.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn component(kind: &'static str, value: &str) -> Result<(), IdError> {
    validate(kind, value)?;
    if value == "." || value == ".." {
        return Err(IdError::BadChar {
            kind,
            value: value.to_string(),
        });
    }
    Ok(())
}
