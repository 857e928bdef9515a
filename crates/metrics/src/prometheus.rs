//! The Prometheus text exposition format (version 0.0.4): metric families with `# HELP` and
//! `# TYPE`, sanitised names, escaped label values; and dcos-metrics messages as families,
//! each datapoint a gauge labelled with the message's DC/OS dimensions and its tags.

use keel_api::metrics::MetricsMessage;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The Content-Type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One line: the full name (a histogram's `_bucket`, `_sum`, `_count` included).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn new(name: impl Into<String>, labels: Vec<(String, String)>, value: f64) -> Self {
        Self {
            name: name.into(),
            labels,
            value,
        }
    }
}

/// A metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: &str, help: &str, kind: Kind) -> Self {
        Self {
            name: metric_name(name),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    /// A family of one unlabelled sample.
    pub fn single(name: &str, help: &str, kind: Kind, value: f64) -> Self {
        let mut f = Self::new(name, help, kind);
        f.push(Vec::new(), value);
        f
    }

    /// Adds a sample named like the family.
    pub fn push(&mut self, labels: Vec<(String, String)>, value: f64) {
        let name = self.name.clone();
        self.samples.push(Sample::new(name, labels, value));
    }
}

/// A valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, other characters as `_`.
pub fn metric_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// A valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn label_name(raw: &str) -> String {
    metric_name(raw).replace(':', "_")
}

/// Writes `raw` as a label name without allocating.
fn push_label_name(raw: &str, out: &mut String) {
    if raw.is_empty() || raw.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(raw.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
}

fn escape_label(v: &str, out: &mut String) {
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
        Kind::Histogram => "histogram",
    }
}

/// Renders families; families of the same name are merged into the first (its help and
/// type win), as the format allows each name once.
pub fn render(families: &[Family]) -> String {
    let mut order: Vec<&str> = Vec::new();
    let mut by_name: BTreeMap<&str, Vec<&Family>> = BTreeMap::new();
    for f in families {
        let e = by_name.entry(f.name.as_str()).or_default();
        if e.is_empty() {
            order.push(f.name.as_str());
        }
        e.push(f);
    }
    let mut out = String::new();
    for name in order {
        let fams = &by_name[name];
        let first = fams[0];
        if first.samples.is_empty() && fams.iter().all(|f| f.samples.is_empty()) {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {}", escape_help(&first.help));
        let _ = writeln!(out, "# TYPE {name} {}", kind_name(first.kind));
        for s in fams.iter().flat_map(|f| &f.samples) {
            out.push_str(&s.name);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_label_name(k, &mut out);
                    out.push_str("=\"");
                    escape_label(v, &mut out);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            value(s.value, &mut out);
            out.push('\n');
        }
    }
    out
}

/// dcos-metrics messages as gauge families named after the datapoints (`cpus.user.time`
/// -> `cpus_user_time`), labelled with the dimensions and then the tags; `help` says
/// where they come from.
pub fn message_families(messages: &[MetricsMessage], help: &str) -> Vec<Family> {
    let mut fams: BTreeMap<String, Family> = BTreeMap::new();
    for m in messages {
        let dims = m.dimensions.pairs();
        for d in &m.datapoints {
            let name = metric_name(&d.name);
            let f = fams
                .entry(name.clone())
                .or_insert_with(|| Family::new(&name, &format!("{help}: {}", d.name), Kind::Gauge));
            let mut labels = dims.clone();
            if !d.tags.is_empty() {
                // A tag named like a dimension (or another tag, once sanitised) is left out.
                let mut seen: std::collections::BTreeSet<String> =
                    dims.iter().map(|(k, _)| k.clone()).collect();
                for (k, v) in &d.tags {
                    if seen.insert(label_name(k)) {
                        labels.push((k.clone(), v.clone()));
                    }
                }
            }
            f.push(labels, d.value);
        }
    }
    fams.into_values().collect()
}

/// Whether an `Accept` header asks for the text format (Prometheus's scraper sends
/// `application/openmetrics-text;...,text/plain;version=0.0.4;q=0.2,*/*;q=0.1`).
pub fn wants_text(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let media = part.split(';').next().unwrap_or("").trim();
        media.eq_ignore_ascii_case("text/plain")
            || media.eq_ignore_ascii_case("application/openmetrics-text")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;
    use keel_api::metrics::{Datapoint, Dimensions};

    #[test]
    fn renders_families_with_escapes_and_merges_names() {
        let mut a = Family::new("keel.http-requests", "Requests\nserved", Kind::Counter);
        a.push(vec![("route".into(), "v2 \"apps\"\\".into())], 3.0);
        let mut b = Family::new("keel_http_requests", "ignored", Kind::Gauge);
        b.push(vec![("route".into(), "line\nbreak".into())], 0.5);
        let empty = Family::new("nothing", "no samples", Kind::Gauge);
        let c = Family::single("9lives", "odd", Kind::Gauge, f64::INFINITY);
        expect![[r#"
            # HELP keel_http_requests Requests\nserved
            # TYPE keel_http_requests counter
            keel_http_requests{route="v2 \"apps\"\\"} 3
            keel_http_requests{route="line\nbreak"} 0.5
            # HELP _9lives odd
            # TYPE _9lives gauge
            _9lives +Inf
        "#]]
        .assert_eq(&render(&[a, b, empty, c]));
    }

    #[test]
    fn messages_become_labelled_gauges() {
        let dp = |name: &str, v: f64, tag: Option<(&str, &str)>| Datapoint {
            name: name.into(),
            value: v,
            unit: "x".into(),
            timestamp: "T".into(),
            tags: tag.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        };
        let m = |cid: &str, v: f64| MetricsMessage {
            datapoints: vec![
                dp("cpus.user.time", v, None),
                dp("req", 1.0, Some(("code", "200"))),
            ],
            dimensions: Dimensions {
                container_id: cid.into(),
                task_name: "web".into(),
                ..Dimensions::default()
            },
        };
        expect![[r#"
            # HELP cpus_user_time container: cpus.user.time
            # TYPE cpus_user_time gauge
            cpus_user_time{container_id="c1",task_name="web"} 1.5
            cpus_user_time{container_id="c2",task_name="web"} 2
            # HELP req container: req
            # TYPE req gauge
            req{container_id="c1",task_name="web",code="200"} 1
            req{container_id="c2",task_name="web",code="200"} 1
        "#]]
        .assert_eq(&render(&message_families(
            &[m("c1", 1.5), m("c2", 2.0)],
            "container",
        )));
    }

    #[test]
    fn tags_never_repeat_a_dimension_label() {
        let m = MetricsMessage {
            datapoints: vec![Datapoint {
                name: "x".into(),
                value: 1.0,
                unit: String::new(),
                timestamp: String::new(),
                tags: [("task-name", "t"), ("9z", "v")]
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            }],
            dimensions: Dimensions {
                task_name: "web".into(),
                ..Dimensions::default()
            },
        };
        let text = render(&message_families(&[m], "app"));
        assert!(
            text.ends_with("x{task_name=\"web\",_9z=\"v\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn accept_negotiation() {
        let prom = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert!(wants_text(prom));
        assert!(wants_text("text/plain"));
        assert!(!wants_text("application/json"));
        assert!(!wants_text("*/*"));
        assert!(!wants_text(""));
    }
}
