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
/// `from`; returns the ids of the apps it changed. The whole-map form of
/// [`assign_changes`], which the write path uses.
#[cfg(test)]
pub fn assign(
    from: &BTreeMap<PathId, AppDefinition>,
    to: &mut BTreeMap<PathId, AppDefinition>,
) -> Result<Vec<PathId>, PortRangeExhausted> {
    let needs = needing(from, to.iter());
    // Most writes leave every other app alone: only then is the whole app set read.
    if needs.is_empty() {
        return Ok(needs);
    }
    let used = from
        .values()
        .chain(to.values())
        .flat_map(AppDefinition::service_ports)
        .collect();
    for (id, ports) in fill(from, &needs, used, |id| to.get(id))? {
        if let Some(app) = to.get_mut(&id) {
            set_service_ports(app, &ports);
        }
    }
    Ok(needs)
}

/// [`assign`] where `to` is `base` with `changes` laid over it (`None`: removed), without
/// copying `base`: the apps it changes are moved into `changes`. When `base` is `from`
/// (a write starting from the current apps), only the changed apps are looked at unless
/// ports must be assigned.
pub fn assign_changes(
    from: &BTreeMap<PathId, AppDefinition>,
    base: &BTreeMap<PathId, AppDefinition>,
    changes: &mut BTreeMap<PathId, Option<AppDefinition>>,
) -> Result<Vec<PathId>, PortRangeExhausted> {
    if !std::ptr::eq(from, base) {
        // The apps of `base` that differ from `from` become changes, so that every app of
        // `to` left out of `changes` is one of `from`'s, unchanged.
        for (id, app) in base {
            if !changes.contains_key(id) && from.get(id) != Some(app) {
                changes.insert(id.clone(), Some(app.clone()));
            }
        }
    }
    let changed = changes
        .iter()
        .filter_map(|(id, app)| app.as_ref().map(|a| (id, a)));
    let needs = needing(from, changed);
    if needs.is_empty() {
        return Ok(needs);
    }
    // `to`'s apps are `from`'s unchanged ones and the changed ones.
    let used = from
        .values()
        .chain(changes.values().flatten())
        .flat_map(AppDefinition::service_ports)
        .collect();
    let ports = fill(from, &needs, used, |id| {
        changes.get(id).and_then(Option::as_ref)
    })?;
    for (id, ports) in ports {
        if let Some(Some(app)) = changes.get_mut(&id) {
            set_service_ports(app, &ports);
        }
    }
    Ok(needs)
}

/// The apps among `to` with a service port 0 that are new or changed since `from`.
fn needing<'a>(
    from: &BTreeMap<PathId, AppDefinition>,
    to: impl Iterator<Item = (&'a PathId, &'a AppDefinition)>,
) -> Vec<PathId> {
    to.filter(|(id, app)| {
        app.service_ports().contains(&0) && from.get(*id).is_none_or(|o| o.is_upgrade(app))
    })
    .map(|(id, _)| id.clone())
    .collect()
}

/// The ports of the apps `needs` (read through `get`): first those each held in `from`
/// and no longer names, then the lowest not in `used`.
fn fill<'a>(
    from: &BTreeMap<PathId, AppDefinition>,
    needs: &[PathId],
    used: BTreeSet<i64>,
    get: impl Fn(&PathId) -> Option<&'a AppDefinition>,
) -> Result<Vec<(PathId, Vec<i64>)>, PortRangeExhausted> {
    let mut free = (LOCAL_PORT_MIN..=LOCAL_PORT_MAX)
        .map(i64::from)
        .filter(move |p| !used.contains(p));
    let mut out = Vec::with_capacity(needs.len());
    for id in needs {
        let Some(app) = get(id) else {
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
        out.push((id.clone(), ports));
    }
    Ok(out)
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

    /// `assign_changes` gives what `assign` gives on the map with the changes applied.
    #[test]
    fn changes_laid_over_the_apps_get_the_ports_the_whole_map_would() {
        let mut before = apps(&[
            r#"{"id": "/a", "portDefinitions": [{"port": 0}, {"port": 0}]}"#,
            r#"{"id": "/b", "portDefinitions": [{"port": 10005}]}"#,
            r#"{"id": "/gone", "portDefinitions": [{"port": 0}]}"#,
        ]);
        assign(&BTreeMap::new(), &mut before).unwrap_or_else(|e| panic!("{e}"));
        let mut changes: BTreeMap<PathId, Option<AppDefinition>> = BTreeMap::new();
        for j in [
            r#"{"id": "/a", "cmd": "new", "portDefinitions": [{"port": 0}, {"port": 0}]}"#,
            r#"{"id": "/n", "portDefinitions": [{"port": 0}, {"port": 0}]}"#,
        ] {
            let a = app(j);
            changes.insert(a.id.clone(), Some(a));
        }
        changes.insert(PathId::parse_unchecked("/gone"), None);
        let mut whole = before.clone();
        for (id, a) in changes.clone() {
            match a {
                Some(a) => whole.insert(id, a),
                None => whole.remove(&id),
            };
        }
        let expect = assign(&before, &mut whole).unwrap_or_else(|e| panic!("{e}"));
        // Laid over `before` itself, and over a copy of it (the general case).
        for base in [&before, &before.clone()] {
            let mut over = changes.clone();
            let got = assign_changes(&before, base, &mut over).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got, expect);
            let mut to = base.clone();
            for (id, a) in over {
                match a {
                    Some(a) => to.insert(id, a),
                    None => to.remove(&id),
                };
            }
            assert_eq!(ports(&to), ports(&whole));
        }
    }
}
