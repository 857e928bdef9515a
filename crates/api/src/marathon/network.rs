//! Networking of run specs: the `networks` list (host, bridge or named container networks)
//! and the host-networking `portDefinitions` of apps.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a run spec's containers attach to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum NetworkMode {
    #[serde(rename = "host")]
    Host,
    /// A named (CNI) container network; RAML's default when `mode` is left out.
    #[default]
    #[serde(rename = "container")]
    Container,
    #[serde(rename = "container/bridge")]
    ContainerBridge,
}

/// One entry of `networks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    #[serde(default)]
    pub mode: NetworkMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Network {
    /// `{"mode":"host"}`, the default `networks` of an app.
    pub fn host() -> Network {
        Network {
            mode: NetworkMode::Host,
            name: None,
            labels: BTreeMap::new(),
        }
    }
}

/// True if any network is not host networking (ports then come from port mappings).
pub fn has_non_host_networking(networks: &[Network]) -> bool {
    networks.iter().any(|n| n.mode != NetworkMode::Host)
}

/// A port an app asks for under host networking. `port` is the service port (0 = assign
/// one); with `requirePorts` it is also the host port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortDefinition {
    #[serde(default)]
    pub port: i64,
    #[serde(default = "tcp")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

pub(crate) fn tcp() -> String {
    "tcp".to_owned()
}

impl PortDefinition {
    pub fn new(port: i64) -> PortDefinition {
        PortDefinition {
            port,
            protocol: tcp(),
            name: None,
            labels: BTreeMap::new(),
        }
    }

    /// `[{"port":0,"protocol":"tcp","name":"default"}]`, used when host networking leaves
    /// `portDefinitions` out.
    pub fn defaults() -> Vec<PortDefinition> {
        vec![PortDefinition {
            name: Some("default".into()),
            ..PortDefinition::new(0)
        }]
    }
}

/// Port protocols Marathon (and marathon-python's enum) accept.
pub const PORT_PROTOCOLS: [&str; 3] = ["tcp", "udp", "udp,tcp"];
