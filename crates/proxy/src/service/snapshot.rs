//! Reads the `/service/` resolver's inputs from the JSON Admin Router polled: Marathon's
//! `GET /v2/apps?embed=apps.tasks&label=DCOS_SERVICE_NAME` and Mesos' `state-summary`
//! frameworks.

use keel_routing::service::{App, AppTask, Framework};
use serde_json::Value;
use std::collections::BTreeMap;

/// The apps of a Marathon `/v2/apps?embed=apps.tasks` answer; `None` when it is not the
/// JSON of an app list.
pub fn apps_from_marathon_json(body: &[u8]) -> Option<Vec<App>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let apps = v.get("apps")?.as_array()?;
    Some(apps.iter().filter_map(app).collect())
}

fn app(a: &Value) -> Option<App> {
    let id = a.get("id")?.as_str()?.to_string();
    let labels: BTreeMap<String, String> = a
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let container_network = a
        .get("networks")
        .and_then(Value::as_array)
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.get("mode").and_then(Value::as_str) == Some("container"))
        });
    let container_ports = container_network.then(|| {
        a.pointer("/container/portMappings")
            .and_then(Value::as_array)
            .map(|pms| {
                pms.iter()
                    .map(|pm| {
                        pm.get("containerPort")
                            .and_then(Value::as_u64)
                            .and_then(|p| u16::try_from(p).ok())
                            .unwrap_or(0)
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    let tasks = a
        .get("tasks")
        .and_then(Value::as_array)
        .map(|ts| ts.iter().map(task).collect())
        .unwrap_or_default();
    Some(App {
        id,
        labels,
        container_ports,
        tasks,
    })
}

fn task(t: &Value) -> AppTask {
    AppTask {
        host: t
            .get("host")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        ip: t
            .pointer("/ipAddresses/0/ipAddress")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        ports: t
            .get("ports")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| p.as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default(),
        running: t.get("state").and_then(Value::as_str) == Some("TASK_RUNNING"),
    }
}

/// The frameworks of a Mesos `state-summary` (or `state`) answer.
pub fn frameworks_from_summary_json(body: &[u8]) -> Vec<Framework> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    v.get("frameworks")
        .and_then(Value::as_array)
        .map(|fs| {
            fs.iter()
                .filter_map(|f| {
                    Some(Framework {
                        id: f.get("id")?.as_str()?.to_string(),
                        name: f.get("name")?.as_str()?.to_string(),
                        webui_url: match f.get("webui_url") {
                            Some(Value::String(s)) => Some(s.clone()),
                            _ => None,
                        },
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marathon_apps_and_tasks_are_read() {
        let body = br#"{"apps":[{"id":"/web","labels":{"DCOS_SERVICE_NAME":"web","n":1},
            "tasks":[{"host":"127.0.0.1","ports":[31000,70000],"state":"TASK_RUNNING",
                      "ipAddresses":[{"ipAddress":"127.0.0.1"}]},
                     {"host":"h2","ports":[],"state":"TASK_STAGING"}]},
            {"id":"/c","networks":[{"mode":"container","name":"dcos"}],
             "container":{"portMappings":[{"containerPort":80}]}},
            {"noid":true}]}"#;
        let apps = apps_from_marathon_json(body).expect("an app list");
        assert_eq!(apps.len(), 2);
        assert_eq!(
            apps[0].labels.get("DCOS_SERVICE_NAME").map(String::as_str),
            Some("web")
        );
        assert!(!apps[0].labels.contains_key("n"));
        assert_eq!(apps[0].tasks[0].ports, vec![31000, 0]);
        assert!(apps[0].tasks[0].running);
        assert!(!apps[0].tasks[1].running);
        assert_eq!(apps[0].container_ports, None);
        assert_eq!(apps[1].container_ports, Some(vec![80]));
        assert!(apps_from_marathon_json(b"{\"message\":\"x\"}").is_none());
        assert!(apps_from_marathon_json(b"not json").is_none());
    }

    #[test]
    fn frameworks_keep_null_and_empty_webui_urls_apart() {
        let body = br#"{"frameworks":[{"id":"a","name":"x","webui_url":""},
            {"id":"b","name":"y","webui_url":null},{"id":"c","name":"z","webui_url":"http://h:1/"}]}"#;
        let fws = frameworks_from_summary_json(body);
        assert_eq!(fws[0].webui_url.as_deref(), Some(""));
        assert_eq!(fws[1].webui_url, None);
        assert_eq!(fws[2].webui_url.as_deref(), Some("http://h:1/"));
    }
}
