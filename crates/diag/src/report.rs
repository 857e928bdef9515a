//! The pure side of diagnostics: a cluster's unit health from the nodes' reports (worst
//! health wins), node selection for a bundle, bundle names, and redaction of secrets in the
//! configuration a bundle carries.

use keel_api::diagnostics::{Node, NodeReport, Unit, UnitOnNode};
use std::collections::BTreeMap;

/// Health values as dcos-diagnostics sends them.
pub const HEALTHY: u8 = 0;
/// Health values as dcos-diagnostics sends them.
pub const UNHEALTHY: u8 = 1;

/// A node's report, as collected (an unreachable node has a report with no units and its
/// error in `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    pub report: NodeReport,
    pub error: Option<String>,
}

impl Collected {
    /// The node's health: unhealthy when unreachable or when any unit is.
    pub fn health(&self) -> u8 {
        if self.error.is_some() {
            return UNHEALTHY;
        }
        self.report
            .units
            .iter()
            .map(|u| u.health)
            .max()
            .unwrap_or(HEALTHY)
    }

    /// Whether `key` (an IP, a Mesos agent id or a hostname) names this node.
    pub fn is(&self, key: &str) -> bool {
        let r = &self.report;
        r.ip == key || (!r.mesos_id.is_empty() && r.mesos_id == key) || r.hostname == key
    }

    fn node(&self) -> Node {
        Node {
            host_ip: self.report.ip.clone(),
            health: self.health(),
            role: self.report.node_role.clone(),
            mesos_id: self.report.mesos_id.clone(),
        }
    }
}

/// Every unit of the cluster, sorted by id, each with the worst health of any node's.
pub fn cluster_units<'a>(nodes: impl IntoIterator<Item = &'a Collected>) -> Vec<Unit> {
    let mut by_id: BTreeMap<String, Unit> = BTreeMap::new();
    for n in nodes {
        for u in &n.report.units {
            let e = by_id.entry(u.id.clone()).or_insert_with(|| Unit {
                id: u.id.clone(),
                name: u.name.clone(),
                health: HEALTHY,
                description: u.description.clone(),
            });
            e.health = e.health.max(u.health);
        }
    }
    by_id.into_values().collect()
}

/// The nodes, masters first, then by address and id.
pub fn nodes(all: &[Collected]) -> Vec<Node> {
    let mut v: Vec<Node> = all.iter().map(Collected::node).collect();
    v.sort_by(|a, b| {
        (a.role != "master", &a.host_ip, &a.mesos_id).cmp(&(
            b.role != "master",
            &b.host_ip,
            &b.mesos_id,
        ))
    });
    v
}

/// The nodes that run `unit`.
pub fn unit_nodes(all: &[Collected], unit: &str) -> Vec<Node> {
    let with: Vec<Collected> = all
        .iter()
        .filter(|n| n.report.units.iter().any(|u| u.id == unit))
        .cloned()
        .collect();
    nodes(&with)
        .into_iter()
        .map(|mut n| {
            n.health = unit_health(all, unit, &n.mesos_id, &n.host_ip).unwrap_or(UNHEALTHY);
            n
        })
        .collect()
}

fn unit_health(all: &[Collected], unit: &str, id: &str, ip: &str) -> Option<u8> {
    all.iter()
        .filter(|n| n.report.mesos_id == id && n.report.ip == ip)
        .flat_map(|n| n.report.units.iter())
        .find(|u| u.id == unit)
        .map(|u| u.health)
}

/// The units of the nodes `key` names (an address shared by a master and agents, as under
/// `keel dev`, gives all of theirs); `None` when no node has that name.
pub fn node_units(all: &[Collected], key: &str) -> Option<Vec<Unit>> {
    let named: Vec<&Collected> = all.iter().filter(|n| n.is(key)).collect();
    if named.is_empty() {
        return None;
    }
    Some(cluster_units(named))
}

/// `unit` on the nodes `key` names: the worst of them, with their outputs joined.
pub fn unit_on_node(all: &[Collected], unit: &str, key: &str) -> Option<UnitOnNode> {
    let mut found: Option<UnitOnNode> = None;
    for n in all.iter().filter(|n| n.is(key)) {
        for u in n.report.units.iter().filter(|u| u.id == unit) {
            let f = found.get_or_insert_with(|| UnitOnNode {
                host_ip: n.report.ip.clone(),
                health: HEALTHY,
                role: n.report.node_role.clone(),
                output: String::new(),
                help: u.help.clone(),
            });
            f.health = f.health.max(u.health);
            if !f.output.is_empty() {
                f.output.push('\n');
            }
            f.output.push_str(&u.output);
        }
    }
    found
}

/// Why a bundle request names no node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("nodes: at least one of all, masters, agents, an IP or an agent id is required")]
    Empty,
    #[error("nodes: no node is {0}")]
    Unknown(String),
}

/// The nodes a bundle request (`all`, `masters`, `agents`, IPs, agent ids) names, each once,
/// in `all`'s order.
pub fn select<'a>(
    all: &'a [Collected],
    asked: &[String],
) -> Result<Vec<&'a Collected>, SelectError> {
    if asked.is_empty() {
        return Err(SelectError::Empty);
    }
    let mut take = vec![false; all.len()];
    for a in asked {
        let hit: Vec<usize> = match a.as_str() {
            "all" => (0..all.len()).collect(),
            "masters" => index_where(all, |n| n.report.node_role == "master"),
            "agents" => index_where(all, |n| n.report.node_role != "master"),
            key => index_where(all, |n| n.is(key)),
        };
        if hit.is_empty() && !matches!(a.as_str(), "all" | "masters" | "agents") {
            return Err(SelectError::Unknown(a.clone()));
        }
        for i in hit {
            take[i] = true;
        }
    }
    Ok(all
        .iter()
        .zip(take)
        .filter(|(_, t)| *t)
        .map(|(n, _)| n)
        .collect())
}

fn index_where(all: &[Collected], f: impl Fn(&Collected) -> bool) -> Vec<usize> {
    all.iter()
        .enumerate()
        .filter(|(_, n)| f(n))
        .map(|(i, _)| i)
        .collect()
}

/// A bundle's file name: `bundle-<unix seconds>-<uuid>.zip`.
pub fn bundle_name(unix_secs: u64, id: uuid::Uuid) -> String {
    format!("bundle-{unix_secs}-{id}.zip")
}

/// Whether `name` is a bundle name this service could have made (so it never names a path
/// outside the bundle directory).
pub fn is_bundle_name(name: &str) -> bool {
    name.strip_prefix("bundle-")
        .and_then(|r| r.strip_suffix(".zip"))
        .is_some_and(|mid| {
            !mid.is_empty() && mid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Words that mark a flag or variable as secret.
const SECRET_WORDS: [&str; 6] = ["secret", "password", "token", "key", "credential", "passwd"];

/// The value that replaces a secret.
pub const REDACTED: &str = "**REDACTED**";

fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// A command line with the values of secret-looking flags (`--x-token V`, `--x-token=V`)
/// replaced.
pub fn redact_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for a in args {
        if hide_next {
            out.push(REDACTED.to_owned());
            hide_next = false;
            continue;
        }
        match a.strip_prefix("--").map(|f| f.split_once('=')) {
            Some(Some((flag, _))) if is_secret(flag) => out.push(format!("--{flag}={REDACTED}")),
            Some(None) if is_secret(a) => {
                out.push(a.clone());
                hide_next = true;
            }
            _ => out.push(a.clone()),
        }
    }
    out
}

/// Environment variables with secret-looking names' values replaced.
pub fn redact_env(vars: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    vars.into_iter()
        .map(|(k, v)| {
            let v = if is_secret(&k) {
                REDACTED.to_owned()
            } else {
                v
            };
            (k, v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::diagnostics::NodeUnit;

    fn unit(id: &str, health: u8) -> NodeUnit {
        NodeUnit {
            id: id.into(),
            name: id.into(),
            health,
            output: format!("{id} says {health}"),
            description: String::new(),
            help: String::new(),
        }
    }

    fn node(role: &str, ip: &str, id: &str, units: Vec<NodeUnit>) -> Collected {
        Collected {
            report: NodeReport {
                units,
                hostname: ip.into(),
                ip: ip.into(),
                dcos_version: "1.11.0".into(),
                node_role: role.into(),
                mesos_id: id.into(),
                dcos_diagnostics_version: "keel".into(),
            },
            error: None,
        }
    }

    fn cluster() -> Vec<Collected> {
        vec![
            node(
                "agent",
                "10.0.0.2",
                "S1",
                vec![
                    unit("dcos-mesos-slave.service", 0),
                    unit("dcos-docker.service", 1),
                ],
            ),
            node(
                "master",
                "10.0.0.1",
                "",
                vec![unit("dcos-mesos-master.service", 0)],
            ),
            node(
                "agent",
                "10.0.0.3",
                "S2",
                vec![unit("dcos-mesos-slave.service", 0)],
            ),
        ]
    }

    #[test]
    fn a_unit_is_as_healthy_as_its_worst_node_and_a_node_as_its_worst_unit() {
        let c = cluster();
        let units = cluster_units(&c);
        let h: Vec<(&str, u8)> = units.iter().map(|u| (u.id.as_str(), u.health)).collect();
        assert_eq!(
            h,
            [
                ("dcos-docker.service", 1),
                ("dcos-mesos-master.service", 0),
                ("dcos-mesos-slave.service", 0)
            ]
        );
        let listed = nodes(&c);
        let n: Vec<(&str, u8)> = listed
            .iter()
            .map(|n| (n.host_ip.as_str(), n.health))
            .collect();
        assert_eq!(n, [("10.0.0.1", 0), ("10.0.0.2", 1), ("10.0.0.3", 0)]);
    }

    #[test]
    fn an_unreachable_node_is_unhealthy() {
        let mut c = cluster();
        c[2].error = Some("connection refused".into());
        assert_eq!(nodes(&c)[2].health, UNHEALTHY);
    }

    #[test]
    fn a_units_nodes_carry_that_units_health() {
        let c = cluster();
        let n = unit_nodes(&c, "dcos-docker.service");
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].host_ip.as_str(), n[0].health), ("10.0.0.2", 1));
        assert_eq!(unit_nodes(&c, "dcos-mesos-slave.service").len(), 2);
    }

    #[test]
    fn nodes_are_named_by_ip_agent_id_or_hostname_and_a_shared_ip_merges() {
        let mut c = cluster();
        c.push(node(
            "agent",
            "10.0.0.1",
            "S3",
            vec![unit("dcos-mesos-slave.service", 1)],
        ));
        let ids = |u: Vec<Unit>| u.into_iter().map(|u| (u.id, u.health)).collect::<Vec<_>>();
        assert_eq!(
            node_units(&c, "10.0.0.1").map(ids),
            Some(vec![
                ("dcos-mesos-master.service".into(), 0),
                ("dcos-mesos-slave.service".into(), 1)
            ])
        );
        assert_eq!(node_units(&c, "S1").map(|u| u.len()), Some(2));
        assert_eq!(node_units(&c, "10.9.9.9"), None);
        let one = unit_on_node(&c, "dcos-docker.service", "S1");
        assert_eq!(
            one.map(|u| (u.health, u.output)),
            Some((1, "dcos-docker.service says 1".into()))
        );
    }

    #[test]
    fn bundle_requests_select_each_node_once() {
        let c = cluster();
        let ips = |v: Vec<&Collected>| v.iter().map(|n| n.report.ip.clone()).collect::<Vec<_>>();
        let ask = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            select(&c, &ask(&["all"])).map(ips),
            Ok(vec![
                "10.0.0.2".into(),
                "10.0.0.1".into(),
                "10.0.0.3".into()
            ])
        );
        assert_eq!(
            select(&c, &ask(&["masters"])).map(ips),
            Ok(vec!["10.0.0.1".into()])
        );
        assert_eq!(
            select(&c, &ask(&["agents", "S1"])).map(ips),
            Ok(vec!["10.0.0.2".into(), "10.0.0.3".into()])
        );
        assert_eq!(
            select(&c, &ask(&["10.0.0.3"])).map(ips),
            Ok(vec!["10.0.0.3".into()])
        );
        assert_eq!(
            select(&c, &ask(&["nosuch"])).map(ips),
            Err(SelectError::Unknown("nosuch".into()))
        );
        assert_eq!(select(&c, &[]).map(ips), Err(SelectError::Empty));
    }

    #[test]
    fn bundle_names_are_checked_before_they_name_a_file() {
        let n = bundle_name(1_700_000_000, uuid::Uuid::nil());
        assert_eq!(
            n,
            "bundle-1700000000-00000000-0000-0000-0000-000000000000.zip"
        );
        assert!(is_bundle_name(&n));
        for bad in [
            "../x.zip",
            "bundle-.zip",
            "bundle-a/../../b.zip",
            "bundle-1.tar",
            "x",
        ] {
            assert!(!is_bundle_name(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_in_flags_and_variables_are_redacted() {
        let args: Vec<String> = [
            "keel",
            "master",
            "--listen",
            "0.0.0.0:5050",
            "--ca-key",
            "/k.pem",
            "--auth-token=abc",
            "--dns-ttl",
            "60",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            redact_args(&args),
            [
                "keel",
                "master",
                "--listen",
                "0.0.0.0:5050",
                "--ca-key",
                REDACTED,
                &format!("--auth-token={REDACTED}"),
                "--dns-ttl",
                "60"
            ]
        );
        let env = redact_env([
            ("KEEL_URL".to_string(), "http://x".to_string()),
            ("KEEL_SECRET_X".to_string(), "s".to_string()),
        ]);
        assert_eq!(env["KEEL_URL"], "http://x");
        assert_eq!(env["KEEL_SECRET_X"], REDACTED);
    }
}
