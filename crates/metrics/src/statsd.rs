//! StatsD as tasks send it to `STATSD_UDP_HOST:STATSD_UDP_PORT`: lines of
//! `name:value|type[|@rate][|#tag:v,...]`, and `AppMetrics`, what one container's lines add
//! up to. Counters (`c`) accumulate (value / rate), gauges (`g`) keep the last value (`+n`
//! and `-n` move it), timers and histograms (`ms`, `h`, `d`) keep the last value; sets
//! (`s`) count distinct members. A line that does not parse is rejected on its own.

use keel_api::metrics::Datapoint;
use std::collections::{BTreeMap, BTreeSet};

/// Series one container may have; samples for further series are dropped.
pub const MAX_SERIES: usize = 1000;
/// Distinct members one set keeps counting.
const MAX_SET_MEMBERS: usize = 10_000;

/// Why a StatsD line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsdError {
    #[error("statsd line {0:?} is not name:value|type")]
    Shape(String),
    #[error("statsd line {0:?} has a bad value")]
    Value(String),
    #[error("statsd line {0:?} has unknown type")]
    Type(String),
    #[error("statsd line {0:?} has a bad sample rate")]
    Rate(String),
    #[error("statsd packet is not UTF-8")]
    Encoding,
}

/// The metric kinds StatsD knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsdKind {
    Counter,
    Gauge,
    Timer,
    Set,
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsdSample {
    pub name: String,
    pub kind: StatsdKind,
    /// The number (for sets, 0: see `member`).
    pub value: f64,
    /// A gauge line with a sign (`+3`, `-2`) moves the gauge.
    pub relative: bool,
    pub rate: f64,
    pub member: String,
    pub tags: BTreeMap<String, String>,
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 200
        && n.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'|' && b != b'#')
}

/// Parses one line.
pub fn parse_line(line: &str) -> Result<StatsdSample, StatsdError> {
    let shape = || StatsdError::Shape(line.chars().take(80).collect());
    let (name, rest) = line.split_once(':').ok_or_else(shape)?;
    if !valid_name(name) {
        return Err(shape());
    }
    let mut parts = rest.split('|');
    let raw = parts.next().ok_or_else(shape)?;
    let kind = match parts.next().ok_or_else(shape)? {
        "c" => StatsdKind::Counter,
        "g" => StatsdKind::Gauge,
        "ms" | "h" | "d" => StatsdKind::Timer,
        "s" => StatsdKind::Set,
        _ => return Err(StatsdError::Type(line.chars().take(80).collect())),
    };
    let mut rate = 1.0;
    let mut tags = BTreeMap::new();
    for p in parts {
        if let Some(r) = p.strip_prefix('@') {
            rate = r
                .parse::<f64>()
                .ok()
                .filter(|r| *r > 0.0 && *r <= 1.0)
                .ok_or_else(|| StatsdError::Rate(line.chars().take(80).collect()))?;
        } else if let Some(t) = p.strip_prefix('#') {
            for tag in t.split(',').filter(|t| !t.is_empty()) {
                let (k, v) = tag.split_once(':').unwrap_or((tag, ""));
                tags.insert(k.to_string(), v.to_string());
            }
        } else {
            return Err(shape());
        }
    }
    let (value, member) = if kind == StatsdKind::Set {
        if raw.is_empty() {
            return Err(shape());
        }
        (0.0, raw.to_string())
    } else {
        let v = raw
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| StatsdError::Value(line.chars().take(80).collect()))?;
        (v, String::new())
    };
    let relative = kind == StatsdKind::Gauge && (raw.starts_with('+') || raw.starts_with('-'));
    Ok(StatsdSample {
        name: name.to_string(),
        kind,
        value,
        relative,
        rate,
        member,
        tags,
    })
}

/// Parses a packet: one result per non-empty line.
pub fn parse_packet(packet: &[u8]) -> Vec<Result<StatsdSample, StatsdError>> {
    match std::str::from_utf8(packet) {
        Ok(text) => text
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
            .map(parse_line)
            .collect(),
        Err(_) => vec![Err(StatsdError::Encoding)],
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: String,
    tags: BTreeMap<String, String>,
    kind: StatsdKind,
    value: f64,
    members: BTreeSet<String>,
    timestamp: String,
}

/// What a packet did: lines kept, lines rejected, lines dropped for [`MAX_SERIES`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub accepted: u64,
    pub malformed: u64,
    pub dropped: u64,
}

/// One container's app metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppMetrics {
    series: BTreeMap<String, Series>,
}

fn series_key(name: &str, tags: &BTreeMap<String, String>) -> String {
    let mut k = name.to_string();
    for (t, v) in tags {
        k.push('\u{1}');
        k.push_str(t);
        k.push('=');
        k.push_str(v);
    }
    k
}

impl AppMetrics {
    /// Adds a packet's lines, each stamped `ts`.
    pub fn apply(&mut self, packet: &[u8], ts: &str) -> Applied {
        let mut a = Applied::default();
        for r in parse_packet(packet) {
            match r {
                Err(_) => a.malformed += 1,
                Ok(s) => {
                    if self.add(s, ts) {
                        a.accepted += 1
                    } else {
                        a.dropped += 1
                    }
                }
            }
        }
        a
    }

    fn add(&mut self, s: StatsdSample, ts: &str) -> bool {
        let key = series_key(&s.name, &s.tags);
        if !self.series.contains_key(&key) && self.series.len() >= MAX_SERIES {
            return false;
        }
        let e = self.series.entry(key).or_insert_with(|| Series {
            name: s.name.clone(),
            tags: s.tags.clone(),
            kind: s.kind,
            value: 0.0,
            members: BTreeSet::new(),
            timestamp: String::new(),
        });
        e.kind = s.kind;
        e.timestamp = ts.to_string();
        match s.kind {
            StatsdKind::Counter => e.value += s.value / s.rate,
            StatsdKind::Gauge if s.relative => e.value += s.value,
            StatsdKind::Gauge | StatsdKind::Timer => e.value = s.value,
            StatsdKind::Set => {
                if e.members.len() < MAX_SET_MEMBERS {
                    e.members.insert(s.member);
                }
                e.value = e.members.len() as f64;
            }
        }
        true
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The metrics as datapoints (name order), each tagged with its StatsD tags.
    pub fn datapoints(&self) -> Vec<Datapoint> {
        self.series
            .values()
            .map(|s| Datapoint {
                name: s.name.clone(),
                value: s.value,
                unit: match s.kind {
                    StatsdKind::Counter | StatsdKind::Set => "count",
                    StatsdKind::Timer => "ms",
                    StatsdKind::Gauge => "",
                }
                .into(),
                timestamp: s.timestamp.clone(),
                tags: s.tags.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(packets: &[&str], expect: &str, applied: Applied) {
        let mut m = AppMetrics::default();
        let mut total = Applied::default();
        for p in packets {
            let a = m.apply(p.as_bytes(), "T");
            total.accepted += a.accepted;
            total.malformed += a.malformed;
            total.dropped += a.dropped;
        }
        let got: Vec<String> = m
            .datapoints()
            .iter()
            .map(|d| {
                let tags: Vec<String> = d.tags.iter().map(|(k, v)| format!(",{k}={v}")).collect();
                format!("{}={}{}", d.name, d.value, tags.concat())
            })
            .collect();
        assert_eq!(got.join(" "), expect);
        assert_eq!(total, applied);
    }

    fn ok(n: u64) -> Applied {
        Applied {
            accepted: n,
            ..Applied::default()
        }
    }

    #[test]
    fn counters_accumulate_with_their_rate() {
        check(&["hits:1|c", "hits:2|c\nhits:1|c|@0.5"], "hits=5", ok(3));
    }

    #[test]
    fn gauges_set_and_move() {
        check(&["temp:10|g", "temp:+5|g", "temp:-3|g"], "temp=12", ok(3));
        check(&["temp:10|g", "temp:4|g"], "temp=4", ok(2));
    }

    #[test]
    fn timers_keep_the_last_value_and_sets_count_members() {
        check(
            &["lat:12.5|ms\nlat:20|ms", "users:a|s\nusers:b|s\nusers:a|s"],
            "lat=20 users=2",
            ok(5),
        );
    }

    #[test]
    fn tags_make_series_of_their_own() {
        check(
            &[
                "req:1|c|#code:200",
                "req:1|c|#code:500,path:/x",
                "req:1|c|#code:200",
            ],
            "req=2,code=200 req=1,code=500,path=/x",
            ok(3),
        );
    }

    #[test]
    fn malformed_lines_are_counted_and_the_rest_kept() {
        let bad = Applied {
            accepted: 1,
            malformed: 7,
            dropped: 0,
        };
        check(
            &[
                "nocolon",
                "x:1|zz\ny:abc|c\nz:1|c|@2\n:1|c\nw:1",
                "ok:1|c\nv:inf|g",
            ],
            "ok=1",
            bad,
        );
        assert_eq!(
            parse_packet(&[0xff, 0xfe]),
            vec![Err(StatsdError::Encoding)]
        );
    }

    #[test]
    fn series_past_the_cap_are_dropped() {
        let mut m = AppMetrics::default();
        for i in 0..MAX_SERIES {
            m.apply(format!("m{i}:1|c").as_bytes(), "T");
        }
        let a = m.apply(b"one.more:1|c\nm0:1|c", "T");
        assert_eq!((a.accepted, a.dropped), (1, 1));
    }
}
