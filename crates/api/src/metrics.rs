//! dcos-metrics v0 shapes (`/system/v1/metrics/v0/...`): the `MetricsMessage` of the node,
//! container and app endpoints (datapoints plus the DC/OS dimensions), and `ping`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One measurement: `{"name","value","unit","timestamp","tags"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datapoint {
    pub name: String,
    pub value: f64,
    /// `count`, `percent`, `bytes`, `seconds`, `load`, ...
    pub unit: String,
    /// RFC 3339.
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// The dimensions of a message, with DC/OS's names; empty ones are left out (node messages
/// carry only `mesos_id`, `cluster_id` and `hostname`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dimensions {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mesos_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub executor_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub framework_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub framework_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub framework_role: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub framework_principal: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub task_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub task_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Dimensions {
    /// The non-empty dimensions as `(name, value)` pairs in DC/OS's order (labels last,
    /// as `label_<key>`): what Prometheus exposition turns into labels.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let fields = [
            ("mesos_id", &self.mesos_id),
            ("cluster_id", &self.cluster_id),
            ("container_id", &self.container_id),
            ("executor_id", &self.executor_id),
            ("framework_name", &self.framework_name),
            ("framework_id", &self.framework_id),
            ("framework_role", &self.framework_role),
            ("framework_principal", &self.framework_principal),
            ("task_name", &self.task_name),
            ("task_id", &self.task_id),
            ("hostname", &self.hostname),
        ];
        let mut out: Vec<(String, String)> = fields
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        out.extend(
            self.labels
                .iter()
                .map(|(k, v)| (format!("label_{k}"), v.clone())),
        );
        out
    }
}

/// `GET /v0/node`, `/v0/containers/<id>`, `/v0/containers/<id>/app[/<metric>]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsMessage {
    pub datapoints: Vec<Datapoint>,
    pub dimensions: Dimensions,
}

/// `GET /v0/ping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    pub ok: bool,
    pub timestamp: String,
}

/// Unix seconds as dcos-metrics' RFC 3339 timestamp (`2026-12-07T23:40:00.123Z`).
pub fn rfc3339(unix_secs: f64) -> String {
    let ms = (unix_secs * 1000.0) as i64;
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_leave_empty_dimensions_and_tags_out() {
        let m = MetricsMessage {
            datapoints: vec![Datapoint {
                name: "cpu.cores".into(),
                value: 2.0,
                unit: "count".into(),
                timestamp: rfc3339(1_796_600_000.5),
                tags: BTreeMap::new(),
            }],
            dimensions: Dimensions {
                mesos_id: "a1".into(),
                hostname: "h".into(),
                ..Dimensions::default()
            },
        };
        let expect = r#"{"datapoints":[{"name":"cpu.cores","value":2.0,"unit":"count","timestamp":"2026-12-06T23:33:20.500Z"}],"dimensions":{"mesos_id":"a1","hostname":"h"}}"#;
        assert_eq!(serde_json::to_string(&m).unwrap(), expect);
    }

    #[test]
    fn dimension_pairs_keep_dcos_order_and_prefix_labels() {
        let mut d = Dimensions {
            task_name: "web".into(),
            container_id: "c1".into(),
            ..Dimensions::default()
        };
        d.labels.insert("tier".into(), "front".into());
        let got: Vec<String> = d
            .pairs()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            got,
            ["container_id=c1", "task_name=web", "label_tier=front"]
        );
    }
}
