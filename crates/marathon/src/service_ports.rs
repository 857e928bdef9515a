//! Service ports as Marathon assigns them on every write of the app set
//! (`AssignDynamicServiceLogic`): each new or changed app's port definitions with `port` 0
//! (or port mappings with `servicePort` 0) get a port from `[LOCAL_PORT_MIN,
//! LOCAL_PORT_MAX]` (Marathon passes `Range.inclusive`), first from the ports the app held
//! before and no longer names, then the lowest that no app (before or after the write)
//! uses. Under `requirePorts` the assigned port is also the task's host port. Pure:
//! the same apps give the same ports.

use keel_api::marathon::{AppDefinition, PathId};
use std::collections::{BTreeMap, BTreeSet};

/// Marathon's `--local_port_min` default.
pub const LOCAL_PORT_MIN: u16 = 10_000;
/// Marathon's `--local_port_max` default.
pub const LOCAL_PORT_MAX: u16 = 20_000;

/// Every port of the range is taken (Marathon's `PortRangeExhaustedException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("All ports in the range [{min}-{max}) are already in use")]
pub struct PortRangeExhausted {
    pub min: u16,
    pub max: u16,
}

/// Fills the service ports left 0 in the apps of `to` that are new or changed since
/// `from`; returns the ids of the apps it changed.
pub fn assign(
    from: &BTreeMap<PathId, AppDefinition>,
    to: &mut BTreeMap<PathId, AppDefinition>,
) -> Result<Vec<PathId>, PortRangeExhausted> {
    let needs: Vec<PathId> = to
        .iter()
        .filter(|(id, app)| {
            app.service_ports().contains(&0) && from.get(*id).is_none_or(|o| o.is_upgrade(app))
        })
        .map(|(id, _)| id.clone())
        .collect();
    // Most writes leave every other app alone: only then is the whole app set read.
    if needs.is_empty() {
        return Ok(needs);
    }
    let used: BTreeSet<i64> = from
        .values()
        .chain(to.values())
        .flat_map(AppDefinition::service_ports)
        .collect();
    let mut free = (LOCAL_PORT_MIN..=LOCAL_PORT_MAX)
        .map(i64::from)
        .filter(move |p| !used.contains(p));
    for id in &needs {
        let Some(app) = to.get_mut(id) else {
            continue;
        };
        let wanted = app.service_ports();
        let mut reusable = from
            .get(id)
            .map(AppDefinition::service_ports)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| in_range(*p) && !wanted.contains(p));
        let ports = wanted
            .iter()
            .map(|&p| match p {
                0 => reusable
                    .next()
                    .or_else(|| free.next())
                    .ok_or(PortRangeExhausted {
                        min: LOCAL_PORT_MIN,
                        max: LOCAL_PORT_MAX,
                    }),
                p => Ok(p),
            })
            .collect::<Result<Vec<i64>, _>>()?;
        set_service_ports(app, &ports);
    }
    Ok(needs)
}

fn in_range(p: i64) -> bool {
    (i64::from(LOCAL_PORT_MIN)..=i64::from(LOCAL_PORT_MAX)).contains(&p)
}

/// Writes `ports` where [`AppDefinition::service_ports`] reads them: the port mappings if
/// the container has any, else the port definitions.
fn set_service_ports(app: &mut AppDefinition, ports: &[i64]) {
    let mappings = app
        .container
        .as_mut()
        .and_then(|c| c.port_mappings.as_mut())
        .filter(|m| !m.is_empty());
    match mappings {
        Some(mappings) => {
            for (m, p) in mappings.iter_mut().zip(ports) {
                m.service_port = *p;
            }
        }
        None => {
            for (d, p) in app.port_definitions.iter_mut().zip(ports) {
                d.port = *p;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::marathon::app::parse_app_update;

    /// An app from its JSON (with a `cmd` if it has none).
    fn app(json: &str) -> AppDefinition {
        let mut v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        if v.get("cmd").is_none() && v.get("container").is_none() {
            v["cmd"] = "sleep 1".into();
        }
        let update = parse_app_update(v.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        AppDefinition::create(update, &PathId::root()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn apps(list: &[&str]) -> BTreeMap<PathId, AppDefinition> {
        list.iter()
            .map(|j| app(j))
            .map(|a| (a.id.clone(), a))
            .collect()
    }

    fn ports(all: &BTreeMap<PathId, AppDefinition>) -> Vec<(String, Vec<i64>)> {
        all.values()
            .map(|a| (a.id.to_string(), a.service_ports()))
            .collect()
    }

    #[test]
    fn zeros_get_the_lowest_free_ports_and_fixed_ones_stay() {
        let before = apps(&[r#"{"id": "/a", "portDefinitions": [{"port": 10001}]}"#]);
        let mut after = before.clone();
        after.extend(apps(&[
            r#"{"id": "/b", "portDefinitions": [{"port": 0}, {"port": 10000}, {"port": 0}]}"#,
            r#"{"id": "/c", "cmd": "x"}"#,
            r#"{"id": "/d", "networks": [{"mode": "container/bridge"}],
                "container": {"type": "DOCKER", "docker": {"image": "i"},
                  "portMappings": [{"containerPort": 80}, {"containerPort": 81, "servicePort": 15000}]}}"#,
        ]));
        let changed = assign(&before, &mut after).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(changed.len(), 3);
        assert_eq!(
            ports(&after),
            [
                ("/a".to_string(), vec![10001]),
                ("/b".to_string(), vec![10002, 10000, 10003]),
                ("/c".to_string(), vec![10004]),
                ("/d".to_string(), vec![10005, 15000]),
            ]
        );
    }

    #[test]
    fn a_changed_app_reposting_zeros_keeps_its_ports_and_others_are_left_alone() {
        let mut before = apps(&[
            r#"{"id": "/a", "portDefinitions": [{"port": 0}, {"port": 0}]}"#,
            r#"{"id": "/old", "portDefinitions": [{"port": 0}]}"#,
        ]);
        assign(&BTreeMap::new(), &mut before).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ports(&before)[0].1, [10000, 10001]);
        let mut after = before.clone();
        after.insert(
            PathId::parse_unchecked("/a"),
            app(r#"{"id": "/a", "cmd": "new", "portDefinitions": [{"port": 0}, {"port": 0}]}"#),
        );
        assign(&before, &mut after).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ports(&after)[0].1, [10000, 10001]);
        // An app that did not change keeps even a 0 (Marathon assigns on change only).
        let mut stale = apps(&[r#"{"id": "/s", "portDefinitions": [{"port": 0}]}"#]);
        let same = stale.clone();
        assert!(assign(&same, &mut stale).unwrap_or_default().is_empty());
        assert_eq!(ports(&stale)[0].1, [0]);
    }

    #[test]
    fn require_ports_makes_the_assigned_port_the_host_port() {
        let mut after = apps(&[r#"{"id": "/r", "requirePorts": true,
            "portDefinitions": [{"port": 0}, {"port": 31005}]}"#]);
        assign(&BTreeMap::new(), &mut after).unwrap_or_else(|e| panic!("{e}"));
        let hosts: Vec<_> = after
            .values()
            .flat_map(|a| a.host_ports())
            .map(|(p, _)| p)
            .collect();
        use keel_model::HostPort::Fixed;
        assert_eq!(hosts, [Fixed(10000), Fixed(31005)]);
    }

    #[test]
    fn the_range_runs_out() {
        let mut taken = String::from(r#"{"id": "/full", "portDefinitions": ["#);
        let defs: Vec<String> = (LOCAL_PORT_MIN..=LOCAL_PORT_MAX)
            .map(|p| format!(r#"{{"port": {p}}}"#))
            .collect();
        taken.push_str(&defs.join(","));
        taken.push_str("]}");
        let before = apps(&[&taken]);
        let mut after = before.clone();
        after.extend(apps(&[r#"{"id": "/x", "cmd": "x"}"#]));
        assert_eq!(
            assign(&before, &mut after),
            Err(PortRangeExhausted {
                min: LOCAL_PORT_MIN,
                max: LOCAL_PORT_MAX
            })
        );
    }
}
