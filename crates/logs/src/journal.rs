//! The component journal: every role of a Keel process logs through `tracing`, and
//! [`JournalLayer`] also writes each event as one JSON line ([`Record`]: journald-style
//! fields with the DC/OS unit and the Keel role, and the event's times in µs) to a rotated
//! file in the process's work directory. The units DC/OS clients ask for
//! (`dcos-mesos-master.service`, `dcos-marathon.service`, ...) map to the crates that play
//! them ([`UNITS`]); the reader ([`crate::component`]) serves the file at stable byte
//! offsets. Where the node runs systemd, journald's own units are read through
//! `journalctl -o json` ([`parse_journalctl`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Instant, UNIX_EPOCH};

/// The journal's directory inside a process's data or work directory.
pub const JOURNAL_DIR: &str = "logs";
/// The journal's stream name (rotated to `journal.jsonl.1` ...; index `.journal.jsonl.index`).
pub const JOURNAL_NAME: &str = "journal.jsonl";

/// A DC/OS unit played by Keel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// The systemd unit DC/OS runs it as (`_SYSTEMD_UNIT`).
    pub name: &'static str,
    /// Other unit names that mean the same role here.
    pub aliases: &'static [&'static str],
    /// The Keel role (`KEEL_ROLE`).
    pub role: &'static str,
    /// `SYSLOG_IDENTIFIER`, as the DC/OS process logs it.
    pub identifier: &'static str,
    /// The `tracing` targets (crate or module paths) whose events are this unit's.
    pub targets: &'static [&'static str],
}

/// Keel's units, matched by longest target prefix; events of any other target (the binary's
/// wiring, libraries) are `keel.service`'s.
pub const UNITS: &[Unit] = &[
    Unit {
        name: "dcos-mesos-master.service",
        aliases: &[],
        role: "master",
        identifier: "mesos-master",
        targets: &["keel_master", "keel_store", "keel_allocator"],
    },
    Unit {
        name: "dcos-marathon.service",
        aliases: &[],
        role: "marathon",
        identifier: "marathon",
        targets: &["keel_marathon", "keel_deploy"],
    },
    Unit {
        name: "dcos-metronome.service",
        aliases: &[],
        role: "metronome",
        identifier: "metronome",
        targets: &["keel_metronome", "keel_jobs"],
    },
    Unit {
        name: "dcos-mesos-slave.service",
        aliases: &["dcos-mesos-slave-public.service"],
        role: "agent",
        identifier: "mesos-agent",
        targets: &["keel_agent", "keel_executor", "keel_image"],
    },
    Unit {
        name: "dcos-mesos-dns.service",
        aliases: &[],
        role: "dns",
        identifier: "mesos-dns",
        targets: &["keel_dns", "keel_dns_records"],
    },
    Unit {
        name: "dcos-net.service",
        aliases: &["dcos-l4lb.service", "dcos-spartan.service"],
        role: "net",
        identifier: "dcos-net",
        targets: &["keel_proxy::l4lb", "keel_routing"],
    },
    Unit {
        name: "dcos-adminrouter.service",
        aliases: &["dcos-adminrouter-agent.service"],
        role: "proxy",
        identifier: "adminrouter",
        targets: &["keel_proxy"],
    },
    Unit {
        name: "dcos-log-master.service",
        aliases: &["dcos-log-agent.service"],
        role: "logs",
        identifier: "dcos-log",
        targets: &["keel_logs"],
    },
    Unit {
        name: "dcos-metrics-master.service",
        aliases: &["dcos-metrics-agent.service"],
        role: "metrics",
        identifier: "dcos-metrics",
        targets: &["keel_metrics"],
    },
    Unit {
        name: "dcos-diagnostics.service",
        aliases: &["dcos-diagnostics-agent.service"],
        role: "diagnostics",
        identifier: "dcos-diagnostics",
        targets: &["keel_diagnostics", "keel_diag"],
    },
    Unit {
        name: "keel.service",
        aliases: &[],
        role: "keel",
        identifier: "keel",
        targets: &[],
    },
];

/// The catch-all unit (the last of [`UNITS`]).
fn fallback() -> &'static Unit {
    UNITS.last().unwrap_or(&KEEL)
}

const KEEL: Unit = Unit {
    name: "keel.service",
    aliases: &[],
    role: "keel",
    identifier: "keel",
    targets: &[],
};

/// The unit whose events `target` logs.
pub fn unit_for_target(target: &str) -> &'static Unit {
    let mut best: Option<(usize, &'static Unit)> = None;
    for u in UNITS {
        for t in u.targets {
            let hit = target == *t
                || target
                    .strip_prefix(t)
                    .is_some_and(|rest| rest.starts_with("::"));
            if hit && best.is_none_or(|(len, _)| t.len() > len) {
                best = Some((t.len(), u));
            }
        }
    }
    best.map(|(_, u)| u).unwrap_or_else(fallback)
}

/// The Keel unit a DC/OS unit name means (`None`: not one of Keel's).
pub fn unit_named(name: &str) -> Option<&'static Unit> {
    UNITS
        .iter()
        .find(|u| u.name == name || u.aliases.contains(&name))
}

/// One journal entry as the file keeps it (one JSON object per line); its cursor is the
/// byte offset of its line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// µs since the Unix epoch.
    pub realtime_timestamp: u64,
    /// µs since the process started.
    pub monotonic_timestamp: u64,
    /// journald-style fields: `MESSAGE`, `PRIORITY`, `_SYSTEMD_UNIT`, `SYSLOG_IDENTIFIER`,
    /// `KEEL_ROLE`, `KEEL_TARGET`, `_PID`, `_HOSTNAME`, and the event's own fields
    /// upper-cased.
    pub fields: BTreeMap<String, String>,
}

impl Record {
    /// Whether the entry belongs to `unit` (journald's `UNIT=` or `_SYSTEMD_UNIT=`).
    pub fn is_of(&self, unit: &str) -> bool {
        self.fields.get("_SYSTEMD_UNIT").is_some_and(|u| u == unit)
            || self.fields.get("UNIT").is_some_and(|u| u == unit)
    }
}

/// syslog priority of a `tracing` level (journald's `PRIORITY`).
pub fn priority(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

/// The journald field name of a `tracing` field: upper case, `[A-Z0-9_]` only, no leading
/// underscore (those are journald's trusted fields); `message` is `MESSAGE`.
pub fn field_name(name: &str) -> String {
    let up: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let up = up.trim_start_matches('_');
    if up.is_empty() {
        "FIELD".to_string()
    } else if up.starts_with(|c: char| c.is_ascii_digit()) {
        format!("F{up}")
    } else {
        up.to_string()
    }
}

/// Who writes the journal: the process's id and host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `_PID`.
    pub pid: u32,
    /// `_HOSTNAME`.
    pub hostname: String,
}

/// The record of one event (pure: the times are inputs).
pub fn record(
    origin: &Origin,
    target: &str,
    level: &tracing::Level,
    event_fields: Vec<(String, String)>,
    realtime_us: u64,
    monotonic_us: u64,
) -> Record {
    let unit = unit_for_target(target);
    let mut fields = BTreeMap::new();
    for (k, v) in event_fields {
        fields.insert(field_name(&k), v);
    }
    fields
        .entry("MESSAGE".to_string())
        .or_insert_with(String::new);
    fields.insert("PRIORITY".into(), priority(level).to_string());
    fields.insert("_SYSTEMD_UNIT".into(), unit.name.into());
    fields.insert("SYSLOG_IDENTIFIER".into(), unit.identifier.into());
    fields.insert("KEEL_ROLE".into(), unit.role.into());
    fields.insert("KEEL_TARGET".into(), target.into());
    fields.insert("_PID".into(), origin.pid.to_string());
    fields.insert("_HOSTNAME".into(), origin.hostname.clone());
    Record {
        realtime_timestamp: realtime_us,
        monotonic_timestamp: monotonic_us,
        fields,
    }
}

/// A `tracing` layer that appends every event to the journal file (`sink`, e.g. a
/// rotating file). A failed write is dropped: logging never stops a role.
pub struct JournalLayer {
    sink: Mutex<Box<dyn Write + Send>>,
    origin: Origin,
    started: Instant,
}

impl JournalLayer {
    /// A layer writing to `sink`.
    pub fn new(sink: Box<dyn Write + Send>, origin: Origin) -> Self {
        JournalLayer {
            sink: Mutex::new(sink),
            origin,
            started: keel_clock::monotonic(),
        }
    }
}

struct Visitor(Vec<(String, String)>);

impl tracing::field::Visit for Visitor {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for JournalLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        let mut v = Visitor(Vec::new());
        event.record(&mut v);
        let realtime = keel_clock::wall()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let monotonic = keel_clock::monotonic()
            .saturating_duration_since(self.started)
            .as_micros() as u64;
        let rec = record(
            &self.origin,
            meta.target(),
            meta.level(),
            v.0,
            realtime,
            monotonic,
        );
        let Ok(mut line) = serde_json::to_vec(&rec) else {
            return;
        };
        line.push(b'\n');
        if let Ok(mut sink) = self.sink.lock() {
            let _ = sink.write_all(&line);
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of µs since the epoch: dcos-log's text format prefix.
pub fn format_time(realtime_us: u64) -> String {
    let secs = realtime_us / 1_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// One line of `journalctl -o json`: its cursor and the entry. Values journald gives as
/// byte arrays are decoded lossily; repeated fields keep their first value; the `__`
/// address fields become the cursor and the times. `None` for a line that is not an entry.
pub fn parse_journalctl(line: &str) -> Option<(String, Record)> {
    let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).ok()?;
    let cursor = obj.get("__CURSOR")?.as_str()?.to_string();
    let num = |k: &str| {
        obj.get(k)
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut fields = BTreeMap::new();
    for (k, v) in &obj {
        if k.starts_with("__") {
            continue;
        }
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) if items.iter().all(|i| i.is_u64()) => {
                let bytes: Vec<u8> = items
                    .iter()
                    .filter_map(|i| i.as_u64())
                    .map(|b| b as u8)
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            serde_json::Value::Array(items) => match items.first() {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => continue,
            },
            serde_json::Value::Null => continue,
            other => other.to_string(),
        };
        fields.insert(k.clone(), text);
    }
    Some((
        cursor,
        Record {
            realtime_timestamp: num("__REALTIME_TIMESTAMP"),
            monotonic_timestamp: num("__MONOTONIC_TIMESTAMP"),
            fields,
        },
    ))
}

/// Whether this node runs systemd with a readable journal (`journalctl` answers).
pub fn journald_available() -> bool {
    std::path::Path::new("/run/systemd/system").is_dir()
        && std::process::Command::new("journalctl")
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_map_to_units_by_longest_prefix() {
        assert_eq!(
            unit_for_target("keel_master::agents").name,
            "dcos-mesos-master.service"
        );
        assert_eq!(
            unit_for_target("keel_marathon").name,
            "dcos-marathon.service"
        );
        assert_eq!(unit_for_target("keel_proxy::l4lb").name, "dcos-net.service");
        assert_eq!(
            unit_for_target("keel_proxy::service").name,
            "dcos-adminrouter.service"
        );
        assert_eq!(unit_for_target("keel_masterful").name, "keel.service");
        assert_eq!(unit_for_target("keel::roles").name, "keel.service");
        assert_eq!(unit_for_target("hyper::proto").name, "keel.service");
        assert_eq!(
            unit_named("dcos-mesos-slave-public.service").map(|u| u.role),
            Some("agent")
        );
        assert_eq!(unit_named("sshd.service"), None);
    }

    #[test]
    fn records_carry_unit_role_and_fields() {
        let origin = Origin {
            pid: 42,
            hostname: "node-1".into(),
        };
        let r = record(
            &origin,
            "keel_agent::gc",
            &tracing::Level::WARN,
            vec![
                ("message".into(), "gc: removed sandbox".into()),
                ("dir".into(), "/x".into()),
                ("age.secs".into(), "3".into()),
                ("_pid".into(), "spoofed".into()),
            ],
            1_700_000_000_000_000,
            5,
        );
        assert_eq!(r.fields["MESSAGE"], "gc: removed sandbox");
        assert_eq!(r.fields["PRIORITY"], "4");
        assert_eq!(r.fields["_SYSTEMD_UNIT"], "dcos-mesos-slave.service");
        assert_eq!(r.fields["KEEL_ROLE"], "agent");
        assert_eq!(r.fields["DIR"], "/x");
        assert_eq!(r.fields["AGE_SECS"], "3");
        assert_eq!(r.fields["_PID"], "42");
        assert_eq!(r.fields["PID"], "spoofed");
        assert!(r.is_of("dcos-mesos-slave.service"));
        assert!(!r.is_of("dcos-mesos-master.service"));
    }

    #[test]
    fn times_format_as_dcos_log_text() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_700_000_000_123_456), "2023-11-14 22:13:20");
        assert_eq!(format_time(951_782_400_000_000), "2000-02-29 00:00:00");
    }

    #[test]
    fn journalctl_json_lines_parse() {
        let line = r#"{"__CURSOR":"s=abc;i=1f","__REALTIME_TIMESTAMP":"1700000000000000","__MONOTONIC_TIMESTAMP":"12","_SYSTEMD_UNIT":"docker.service","MESSAGE":"started","PRIORITY":"6","_PID":"7","BIN":[104,105],"MULTI":["a","b"],"NOTHING":null}"#;
        let (cursor, r) = parse_journalctl(line).expect("entry");
        assert_eq!(cursor, "s=abc;i=1f");
        assert_eq!(r.realtime_timestamp, 1_700_000_000_000_000);
        assert_eq!(r.monotonic_timestamp, 12);
        assert_eq!(r.fields["MESSAGE"], "started");
        assert_eq!(r.fields["BIN"], "hi");
        assert_eq!(r.fields["MULTI"], "a");
        assert!(!r.fields.contains_key("NOTHING"));
        assert!(!r.fields.contains_key("__CURSOR"));
        assert!(r.is_of("docker.service"));
        assert_eq!(parse_journalctl("not json"), None);
        assert_eq!(parse_journalctl(r#"{"MESSAGE":"no cursor"}"#), None);
    }
}
