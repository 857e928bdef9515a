//! Service discovery info of a task (Mesos `DiscoveryInfo`): the name and ports DNS and the
//! VIP load balancer publish it under.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A task's `DiscoveryInfo`, as Marathon fills it (`PortDiscovery.scala`) and frameworks may
/// send it: the name is the app's `PathId.toHostname` (`/group/app` → `app.group`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// `FRAMEWORK`, `CLUSTER` or `EXTERNAL` (Marathon always sends `FRAMEWORK`).
    #[serde(default = "framework_visibility")]
    pub visibility: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<DiscoveryPort>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Default for Discovery {
    fn default() -> Discovery {
        Discovery {
            visibility: framework_visibility(),
            name: String::new(),
            ports: Vec::new(),
            labels: BTreeMap::new(),
        }
    }
}

fn framework_visibility() -> String {
    "FRAMEWORK".to_string()
}

/// One port of a task's discovery info. Its labels carry the VIPs (`VIP_0` =
/// `/myapp:80` or `10.0.0.1:80`) and Marathon's `network-scope` (`host` or `container`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiscoveryPort {
    /// The port clients connect to: the host port for `network-scope=host`, else the
    /// container port. For a host-scoped port whose host port is assigned at placement,
    /// the master fills it in from `host_port_index` when it stages the task.
    pub number: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `tcp` or `udp`; empty means both (Mesos-DNS publishes an SRV for each).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Which of the task's host ports (PORT0 = 0) this port is, when the host port is only
    /// known after placement; the master resolves it into `number` and clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port_index: Option<usize>,
}

impl Discovery {
    /// Resolves every port that names a host-port index against the task's assigned host
    /// ports (PORT0 first). A port whose index is past the assigned ports keeps its number.
    pub fn resolve_host_ports(&mut self, host_ports: &[u16]) {
        for p in &mut self.ports {
            if let Some(i) = p.host_port_index.take()
                && let Some(&port) = host_ports.get(i)
            {
                p.number = u32::from(port);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_indices_resolve_to_the_assigned_ports() {
        let mut d = Discovery {
            name: "app.group".into(),
            ports: vec![
                DiscoveryPort {
                    number: 0,
                    host_port_index: Some(1),
                    ..Default::default()
                },
                DiscoveryPort {
                    number: 8080,
                    ..Default::default()
                },
                DiscoveryPort {
                    number: 7,
                    host_port_index: Some(5),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        d.resolve_host_ports(&[31000, 31001]);
        let numbers: Vec<u32> = d.ports.iter().map(|p| p.number).collect();
        assert_eq!(numbers, vec![31001, 8080, 7]);
        assert!(d.ports.iter().all(|p| p.host_port_index.is_none()));
    }

    #[test]
    fn visibility_defaults_to_framework() {
        let d: Discovery = serde_json::from_str(r#"{"name":"x"}"#).expect("parses");
        assert_eq!(d.visibility, "FRAMEWORK");
    }
}
