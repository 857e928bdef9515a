//! Request validation in Metronome's two passes: the JSON schema (`jobspec.schema.json`,
//! `schedulespec.schema.json`: types, required keys, enums, minimums, no unknown keys) and
//! then the model rules (something to run, secrets defined and used, one schedule, no
//! schedules together with dependencies, a cron that parses in a known zone, ...). Both
//! produce 422 details `{path, errors}`.

use keel_api::metronome::{EnvValue, ErrorDetail, JobSpec, Schedule, Volume};
use keel_jobs::{CronSchedule, CronSyntax};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Collected validation errors, merged per path.
#[derive(Debug, Default)]
pub struct Errors(BTreeMap<String, Vec<String>>);

impl Errors {
    fn add(&mut self, path: &str, msg: impl Into<String>) {
        let path = if path.is_empty() { "/" } else { path };
        self.0.entry(path.to_string()).or_default().push(msg.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The details of a 422 body.
    pub fn into_details(self) -> Vec<ErrorDetail> {
        self.0
            .into_iter()
            .map(|(path, errors)| ErrorDetail { path, errors })
            .collect()
    }
}

const JOB_KEYS: &[&str] = &[
    "id",
    "description",
    "dependencies",
    "labels",
    "schedules",
    "run",
];
const RUN_KEYS: &[&str] = &[
    "args",
    "artifacts",
    "cmd",
    "cpus",
    "gpus",
    "disk",
    "networks",
    "ucr",
    "docker",
    "env",
    "maxLaunchDelay",
    "mem",
    "placement",
    "user",
    "taskKillGracePeriodSeconds",
    "restart",
    "volumes",
    "secrets",
];

fn is_path_segment(s: &str) -> bool {
    // [a-z0-9]+(-+[a-z0-9]+)*
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Metronome's job id: dot-separated segments of lowercase letters, digits and inner dashes.
pub fn is_job_id(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_path_segment)
}

/// Keel's limit on the length of a job id (Metronome has none).
pub const MAX_JOB_ID_LENGTH: usize = 150;

/// A schedule id: `^[a-z0-9][a-z0-9-]*[a-z0-9]+$`.
pub fn is_schedule_id(s: &str) -> bool {
    s.len() >= 2 && is_path_segment(s)
}

fn object<'v>(
    e: &mut Errors,
    v: &'v Value,
    path: &str,
    allowed: Option<&[&str]>,
    required: &[&str],
) -> Option<&'v Map<String, Value>> {
    let Some(m) = v.as_object() else {
        e.add(path, "expected an object");
        return None;
    };
    for r in required {
        if !m.contains_key(*r) {
            e.add(&format!("{path}/{r}"), "is required");
        }
    }
    if let Some(allowed) = allowed {
        for k in m.keys().filter(|k| !allowed.contains(&k.as_str())) {
            e.add(&format!("{path}/{k}"), "unknown property");
        }
    }
    Some(m)
}

fn string(e: &mut Errors, v: &Value, path: &str, min_len: usize) -> Option<String> {
    match v.as_str() {
        Some(s) if s.chars().count() >= min_len => Some(s.to_string()),
        Some(_) => {
            e.add(path, format!("must have at least {min_len} character(s)"));
            None
        }
        None => {
            e.add(path, "expected a string");
            None
        }
    }
}

fn number(e: &mut Errors, v: &Value, path: &str, min: Option<f64>, integer: bool) {
    let Some(n) = v.as_f64() else {
        e.add(path, "expected a number");
        return;
    };
    if integer && !(v.is_i64() || v.is_u64()) {
        e.add(path, "expected an integer");
    } else if integer && v.as_i64().and_then(|i| i32::try_from(i).ok()).is_none() {
        // Metronome reads these as 32-bit Ints.
        e.add(path, format!("must be <= {}", i32::MAX));
    }
    if let Some(min) = min
        && n < min
    {
        e.add(path, format!("must be >= {min}"));
    }
}

fn boolean(e: &mut Errors, v: &Value, path: &str) {
    if !v.is_boolean() {
        e.add(path, "expected a boolean");
    }
}

fn one_of(e: &mut Errors, v: &Value, path: &str, values: &[&str]) {
    match v.as_str() {
        Some(s) if values.contains(&s) => {}
        _ => e.add(path, format!("must be one of {}", values.join(", "))),
    }
}

fn array<'v>(e: &mut Errors, v: &'v Value, path: &str) -> &'v [Value] {
    match v.as_array() {
        Some(a) => a,
        None => {
            e.add(path, "expected an array");
            &[]
        }
    }
}

fn string_map(e: &mut Errors, v: &Value, path: &str) {
    if let Some(m) = object(e, v, path, None, &[]) {
        for (k, v) in m {
            string(e, v, &format!("{path}/{k}"), 0);
        }
    }
}

/// Schema pass over a JobSpec document.
pub fn job_schema(v: &Value, e: &mut Errors) {
    let Some(m) = object(e, v, "", Some(JOB_KEYS), &["id", "run"]) else {
        return;
    };
    if let Some(id) = m.get("id").and_then(|id| string(e, id, "/id", 1)) {
        if !is_job_id(&id) {
            e.add("/id", "must be dot-separated segments of lowercase letters, digits and dashes, not starting or ending with a dash");
        }
        if id.len() > MAX_JOB_ID_LENGTH {
            // Keel's limit: the id is part of its runs' task ids, which name sandbox
            // directories (255 bytes at most).
            e.add(
                "/id",
                format!("must be at most {MAX_JOB_ID_LENGTH} characters (Keel's limit)"),
            );
        }
    }
    if let Some(d) = m.get("description") {
        string(e, d, "/description", 0);
    }
    if let Some(d) = m.get("dependencies") {
        for (i, dep) in array(e, d, "/dependencies").iter().enumerate() {
            let p = format!("/dependencies/{i}");
            if let Some(id) = object(e, dep, &p, None, &["id"]).and_then(|o| o.get("id"))
                && let Some(id) = string(e, id, &format!("{p}/id"), 1)
                && !is_job_id(&id)
            {
                e.add(&format!("{p}/id"), "is not a valid job id");
            }
        }
    }
    if let Some(l) = m.get("labels") {
        string_map(e, l, "/labels");
    }
    if let Some(s) = m.get("schedules") {
        for (i, sched) in array(e, s, "/schedules").iter().enumerate() {
            schedule_schema(sched, &format!("/schedules/{i}"), e);
        }
    }
    if let Some(run) = m.get("run") {
        run_schema(run, e);
    }
}

/// Schema pass over a Schedule document at `path`.
pub fn schedule_schema(v: &Value, path: &str, e: &mut Errors) {
    let Some(m) = object(e, v, path, None, &["id", "cron"]) else {
        return;
    };
    if let Some(id) = m
        .get("id")
        .and_then(|id| string(e, id, &format!("{path}/id"), 1))
        && !is_schedule_id(&id)
    {
        e.add(
            &format!("{path}/id"),
            "must match ^[a-z0-9][a-z0-9-]*[a-z0-9]+$",
        );
    }
    if let Some(c) = m.get("cron") {
        string(e, c, &format!("{path}/cron"), 0);
    }
    if let Some(t) = m.get("timezone") {
        string(e, t, &format!("{path}/timezone"), 0);
    }
    if let Some(d) = m.get("startingDeadlineSeconds") {
        number(
            e,
            d,
            &format!("{path}/startingDeadlineSeconds"),
            Some(1.0),
            true,
        );
    }
    if let Some(c) = m.get("concurrencyPolicy") {
        one_of(
            e,
            c,
            &format!("{path}/concurrencyPolicy"),
            &["ALLOW", "FORBID"],
        );
    }
    if let Some(b) = m.get("enabled") {
        boolean(e, b, &format!("{path}/enabled"));
    }
}

fn run_schema(v: &Value, e: &mut Errors) {
    let Some(m) = object(e, v, "/run", Some(RUN_KEYS), &["cpus", "mem", "disk"]) else {
        return;
    };
    let field = |k: &str| format!("/run/{k}");
    for (k, min, int) in [
        ("cpus", Some(0.01), false),
        ("mem", Some(32.0), false),
        ("disk", Some(0.0), false),
        ("gpus", Some(0.0), true),
        ("maxLaunchDelay", Some(1.0), true),
        ("taskKillGracePeriodSeconds", None, false),
    ] {
        if let Some(x) = m.get(k) {
            number(e, x, &field(k), min, int);
        }
    }
    if let Some(c) = m.get("cmd") {
        string(e, c, &field("cmd"), 1);
    }
    if let Some(u) = m.get("user") {
        string(e, u, &field("user"), 0);
    }
    if let Some(a) = m.get("args") {
        for (i, x) in array(e, a, &field("args")).iter().enumerate() {
            string(e, x, &format!("/run/args/{i}"), 0);
        }
    }
    if let Some(env) = m.get("env") {
        env_schema(env, e);
    }
    if let Some(p) = m.get("placement") {
        placement_schema(p, e);
    }
    if let Some(a) = m.get("artifacts") {
        artifacts_schema(a, e);
    }
    if let Some(d) = m.get("docker") {
        docker_schema(d, e);
    }
    if let Some(u) = m.get("ucr") {
        ucr_schema(u, e);
    }
    if let Some(r) = m.get("restart") {
        restart_schema(r, e);
    }
    if let Some(v) = m.get("volumes") {
        volumes_schema(v, e);
    }
    if let Some(s) = m.get("secrets")
        && let Some(s) = object(e, s, "/run/secrets", None, &[])
    {
        for (k, v) in s {
            let p = format!("/run/secrets/{k}");
            if let Some(src) = object(e, v, &p, None, &[]).and_then(|o| o.get("source")) {
                string(e, src, &format!("{p}/source"), 0);
            }
        }
    }
    if let Some(n) = m.get("networks") {
        networks_schema(n, e);
    }
}

fn env_schema(v: &Value, e: &mut Errors) {
    let Some(m) = object(e, v, "/run/env", None, &[]) else {
        return;
    };
    for (k, v) in m {
        let ok = v.is_string()
            || v.as_object()
                .is_some_and(|o| o.get("secret").is_none_or(Value::is_string));
        if !ok {
            e.add(
                &format!("/run/env/{k}"),
                "expected a string or {\"secret\": <name>}",
            );
        }
    }
}

fn placement_schema(v: &Value, e: &mut Errors) {
    let Some(m) = object(e, v, "/run/placement", Some(&["constraints"]), &[]) else {
        return;
    };
    let Some(cs) = m.get("constraints") else {
        return;
    };
    for (i, c) in array(e, cs, "/run/placement/constraints")
        .iter()
        .enumerate()
    {
        let p = format!("/run/placement/constraints/{i}");
        let keys = ["attribute", "operator", "value"];
        if let Some(o) = object(e, c, &p, Some(&keys), &["attribute", "operator"]) {
            if let Some(a) = o.get("attribute") {
                string(e, a, &format!("{p}/attribute"), 0);
            }
            if let Some(op) = o.get("operator") {
                one_of(
                    e,
                    op,
                    &format!("{p}/operator"),
                    &["IS", "EQ", "LIKE", "UNLIKE"],
                );
            }
            if let Some(val) = o.get("value") {
                string(e, val, &format!("{p}/value"), 0);
            }
        }
    }
}

fn artifacts_schema(v: &Value, e: &mut Errors) {
    for (i, a) in array(e, v, "/run/artifacts").iter().enumerate() {
        let p = format!("/run/artifacts/{i}");
        let keys = ["uri", "executable", "extract", "cache"];
        if let Some(o) = object(e, a, &p, Some(&keys), &["uri"]) {
            if let Some(u) = o.get("uri") {
                string(e, u, &format!("{p}/uri"), 0);
            }
            for k in ["executable", "extract", "cache"] {
                if let Some(b) = o.get(k) {
                    boolean(e, b, &format!("{p}/{k}"));
                }
            }
        }
    }
}

fn docker_schema(v: &Value, e: &mut Errors) {
    let keys = ["image", "forcePullImage", "privileged", "parameters"];
    let Some(o) = object(e, v, "/run/docker", Some(&keys), &["image"]) else {
        return;
    };
    if let Some(i) = o.get("image") {
        string(e, i, "/run/docker/image", 0);
    }
    for k in ["forcePullImage", "privileged"] {
        if let Some(b) = o.get(k) {
            boolean(e, b, &format!("/run/docker/{k}"));
        }
    }
    if let Some(ps) = o.get("parameters") {
        for (i, p) in array(e, ps, "/run/docker/parameters").iter().enumerate() {
            let path = format!("/run/docker/parameters/{i}");
            if let Some(o) = object(e, p, &path, Some(&["key", "value"]), &["key", "value"]) {
                for k in ["key", "value"] {
                    if let Some(s) = o.get(k) {
                        string(e, s, &format!("{path}/{k}"), 0);
                    }
                }
            }
        }
    }
}

fn ucr_schema(v: &Value, e: &mut Errors) {
    let Some(o) = object(e, v, "/run/ucr", Some(&["image", "privileged"]), &["image"]) else {
        return;
    };
    if let Some(b) = o.get("privileged") {
        boolean(e, b, "/run/ucr/privileged");
    }
    let keys = ["id", "kind", "forcePull"];
    if let Some(img) = o.get("image")
        && let Some(img) = object(e, img, "/run/ucr/image", Some(&keys), &["id"])
    {
        if let Some(id) = img.get("id") {
            string(e, id, "/run/ucr/image/id", 0);
        }
        if let Some(k) = img.get("kind") {
            one_of(e, k, "/run/ucr/image/kind", &["docker", "appc"]);
        }
        if let Some(b) = img.get("forcePull") {
            boolean(e, b, "/run/ucr/image/forcePull");
        }
    }
}

fn restart_schema(v: &Value, e: &mut Errors) {
    let keys = ["policy", "activeDeadlineSeconds"];
    let Some(o) = object(e, v, "/run/restart", Some(&keys), &["policy"]) else {
        return;
    };
    if let Some(p) = o.get("policy") {
        one_of(e, p, "/run/restart/policy", &["NEVER", "ON_FAILURE"]);
    }
    if let Some(d) = o.get("activeDeadlineSeconds") {
        number(e, d, "/run/restart/activeDeadlineSeconds", Some(0.0), true);
    }
}

fn volumes_schema(v: &Value, e: &mut Errors) {
    for (i, vol) in array(e, v, "/run/volumes").iter().enumerate() {
        let p = format!("/run/volumes/{i}");
        let keys = ["containerPath", "hostPath", "mode", "secret"];
        let Some(o) = object(e, vol, &p, Some(&keys), &["containerPath"]) else {
            continue;
        };
        for k in ["containerPath", "hostPath", "secret"] {
            if let Some(s) = o.get(k) {
                string(e, s, &format!("{p}/{k}"), 1);
            }
        }
        if let Some(m) = o.get("mode") {
            one_of(e, m, &format!("{p}/mode"), &["RO", "RW"]);
        }
        let set: BTreeSet<&str> = o.keys().map(String::as_str).collect();
        let host: BTreeSet<&str> = ["containerPath", "hostPath", "mode"].into();
        let secret: BTreeSet<&str> = ["containerPath", "secret"].into();
        if set != host && set != secret {
            e.add(&p, "expected HostVolume {containerPath, hostPath, mode} or SecretVolume {containerPath, secret}");
        }
    }
}

fn networks_schema(v: &Value, e: &mut Errors) {
    for (i, n) in array(e, v, "/run/networks").iter().enumerate() {
        let p = format!("/run/networks/{i}");
        let Some(o) = object(e, n, &p, Some(&["name", "mode", "labels"]), &["mode"]) else {
            continue;
        };
        if let Some(m) = o.get("mode") {
            one_of(
                e,
                m,
                &format!("{p}/mode"),
                &["host", "container/bridge", "container"],
            );
        }
        if let Some(s) = o.get("name") {
            string(e, s, &format!("{p}/name"), 0);
        }
        if let Some(l) = o.get("labels") {
            string_map(e, l, &format!("{p}/labels"));
        }
    }
}

/// Model rules of a JobSpec (after the schema pass), at `now` for cron checks.
pub fn job_model(j: &JobSpec, syntax: CronSyntax, now: i64, e: &mut Errors) {
    let r = &j.run;
    if r.cmd.is_none() && r.docker.is_none() && r.ucr.is_none() {
        e.add("/run", "Cmd, Docker or UCR image must be specified");
    }
    if r.docker.is_some() && r.ucr.is_some() {
        e.add(
            "/run",
            "Either Docker or UCR should be provided, but not both",
        );
    }
    if r.gpus != 0 && r.docker.is_some() {
        e.add("/run/gpus", "GPUs are not supported with Docker");
    }
    let file_secrets = r.volumes.iter().any(|v| matches!(v, Volume::Secret { .. }));
    if file_secrets && r.docker.is_some() {
        e.add(
            "/run/volumes",
            "File based secrets are only supported by UCR",
        );
    }
    secrets_model(j, e);
    networks_model(j, e);
    if j.schedules.len() > 1 {
        e.add("/schedules", "Only one schedule supported at the moment");
    }
    if !j.schedules.is_empty() && !j.dependencies.is_empty() {
        e.add(
            "/",
            "Jobs may not have both dependencies and schedules specified",
        );
    }
    let ids: BTreeSet<&str> = j.dependencies.iter().map(|d| d.id.as_str()).collect();
    if ids.len() != j.dependencies.len() {
        e.add("/dependencies", "has double entries");
    }
    for (i, s) in j.schedules.iter().enumerate() {
        schedule_model(s, &format!("/schedules/{i}"), syntax, now, e);
    }
}

fn secrets_model(j: &JobSpec, e: &mut Errors) {
    let r = &j.run;
    let mut referenced: BTreeSet<&str> = r
        .env
        .values()
        .filter_map(|v| match v {
            EnvValue::Secret { secret } => Some(secret.as_str()),
            EnvValue::Value(_) => None,
        })
        .collect();
    referenced.extend(r.volumes.iter().filter_map(|v| match v {
        Volume::Secret { secret, .. } => Some(secret.as_str()),
        Volume::Host { .. } => None,
    }));
    let defined: BTreeSet<&str> = r.secrets.keys().map(String::as_str).collect();
    let undefined: Vec<&str> = referenced.difference(&defined).copied().collect();
    let unused: Vec<&str> = defined.difference(&referenced).copied().collect();
    let mut msg = String::new();
    if !undefined.is_empty() {
        msg.push_str(&format!(
            "The following secrets are referenced, but undefined: {}. Please add them to the secrets field.",
            undefined.join(", ")
        ));
    }
    if !unused.is_empty() {
        msg.push_str(&format!(
            "The following secrets are defined, but not referenced: {}. Please remove them from the secrets field.",
            unused.join(", ")
        ));
    }
    if !msg.is_empty() {
        e.add("/run", msg);
    }
}

fn networks_model(j: &JobSpec, e: &mut Errors) {
    let r = &j.run;
    let modes: BTreeSet<&str> = r.networks.iter().map(|n| n.mode.as_str()).collect();
    if modes.len() > 1 {
        e.add("/run/networks", "You may not mix host, container, or container/bridge networking. Only define one kind of network.");
    }
    if r.docker.is_none() && r.ucr.is_none() && modes.iter().any(|m| *m != "host") {
        e.add(
            "/run/networks",
            "Only containers may join container or bridge networks",
        );
    }
    if modes.iter().any(|m| *m != "container") && r.networks.len() > 1 {
        e.add(
            "/run/networks",
            "Only one host or container/bridge network modes are allowed",
        );
    }
    let names: Vec<&str> = r
        .networks
        .iter()
        .filter_map(|n| n.name.as_deref())
        .collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    if unique.len() != names.len() {
        e.add("/run/networks", "network names must be unique");
    }
}

/// Model rules of one schedule at `path`.
pub fn schedule_model(s: &Schedule, path: &str, syntax: CronSyntax, now: i64, e: &mut Errors) {
    if s.starting_deadline_seconds < 60 {
        e.add(
            &format!("{path}/startingDeadlineSeconds"),
            "must be >= 60 seconds",
        );
    }
    match CronSchedule::parse(&s.cron, &s.timezone, syntax) {
        Ok(c) => {
            if let Err(err) = c.check_matches(now) {
                e.add(&format!("{path}/cron"), err.to_string());
            }
        }
        Err(keel_jobs::CronError::UnknownZone(z)) => e.add(
            &format!("{path}/timezone"),
            format!("No time zone found with this id: {z}"),
        ),
        Err(err) => e.add(&format!("{path}/cron"), err.to_string()),
    }
}

/// Normalizes what Metronome normalizes on read: the `EQ` operator is `IS`.
pub fn normalize(j: &mut JobSpec) {
    for c in &mut j.run.placement.constraints {
        if c.operator == "EQ" {
            c.operator = "IS".into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(doc: &str, expect: &[(&str, &str)]) {
        let v: Value = serde_json::from_str(doc).unwrap_or(Value::Null);
        let mut e = Errors::default();
        job_schema(&v, &mut e);
        if e.is_empty() {
            let j: JobSpec = serde_json::from_value(v).unwrap_or_else(|err| panic!("{err}"));
            job_model(&j, CronSyntax::Metronome, 1_700_000_000, &mut e);
        }
        let got: Vec<(String, String)> = e
            .into_details()
            .into_iter()
            .flat_map(|d| d.errors.into_iter().map(move |m| (d.path.clone(), m)))
            .collect();
        let want: Vec<(String, String)> = expect
            .iter()
            .map(|(p, m)| (p.to_string(), m.to_string()))
            .collect();
        assert_eq!(got, want, "{doc}");
    }

    #[test]
    fn ids() {
        for ok in ["a", "prod.email-summary.x1", "a--b"] {
            assert!(is_job_id(ok), "{ok}");
        }
        for bad in ["", "A", "a..b", "-a", "a-", "a/b", "a_b"] {
            assert!(!is_job_id(bad), "{bad}");
        }
        assert!(is_schedule_id("nightly-1") && !is_schedule_id("n") && !is_schedule_id("-ab"));
    }

    #[test]
    fn a_valid_job_passes() {
        check(
            r#"{"id":"a.b","run":{"cpus":0.1,"mem":32,"disk":0,"cmd":"true",
                "placement":{"constraints":[{"attribute":"rack","operator":"EQ","value":"r1"}]},
                "restart":{"policy":"ON_FAILURE","activeDeadlineSeconds":60}},
                "schedules":[{"id":"every-min","cron":"* * * * *","timezone":"Europe/Berlin"}]}"#,
            &[],
        );
    }

    #[test]
    fn schema_errors_name_their_paths() {
        check(
            r#"{"id":"Bad_Id","foo":1,"run":{"cpus":0,"mem":16,"cmd":"","bar":true,
                "restart":{"policy":"SOMETIMES"}}}"#,
            &[
                ("/foo", "unknown property"),
                (
                    "/id",
                    "must be dot-separated segments of lowercase letters, digits and dashes, not starting or ending with a dash",
                ),
                ("/run/bar", "unknown property"),
                ("/run/cmd", "must have at least 1 character(s)"),
                ("/run/cpus", "must be >= 0.01"),
                ("/run/disk", "is required"),
                ("/run/mem", "must be >= 32"),
                ("/run/restart/policy", "must be one of NEVER, ON_FAILURE"),
            ],
        );
    }

    #[test]
    fn job_ids_are_at_most_150_characters() {
        let id = "a".repeat(MAX_JOB_ID_LENGTH + 1);
        check(
            &format!(r#"{{"id":"{id}","run":{{"cpus":1,"mem":32,"disk":0,"cmd":"true"}}}}"#),
            &[("/id", "must be at most 150 characters (Keel's limit)")],
        );
    }

    /// Issue 22: `maxLaunchDelay` 2^31 was stored; Metronome reads it as a 32-bit Int.
    #[test]
    fn integers_fit_in_32_bits() {
        check(
            r#"{"id":"a","run":{"cpus":1,"mem":32,"disk":0,"cmd":"true",
                "maxLaunchDelay":2147483648,"restart":{"policy":"ON_FAILURE",
                "activeDeadlineSeconds":-2147483649}}}"#,
            &[
                ("/run/maxLaunchDelay", "must be <= 2147483647"),
                (
                    "/run/restart/activeDeadlineSeconds",
                    "must be <= 2147483647",
                ),
                ("/run/restart/activeDeadlineSeconds", "must be >= 0"),
            ],
        );
    }

    #[test]
    fn model_rules() {
        check(
            r#"{"id":"a","run":{"cpus":1,"mem":32,"disk":0}}"#,
            &[("/run", "Cmd, Docker or UCR image must be specified")],
        );
        check(
            r#"{"id":"a","run":{"cpus":1,"mem":32,"disk":0,"cmd":"x","env":{"P":{"secret":"s1"}},
                "secrets":{"s2":{"source":"x"}}}}"#,
            &[(
                "/run",
                "The following secrets are referenced, but undefined: s1. Please add them to the secrets field.The following secrets are defined, but not referenced: s2. Please remove them from the secrets field.",
            )],
        );
        check(
            r#"{"id":"a","run":{"cpus":1,"mem":32,"disk":0,"docker":{"image":"x"},"ucr":{"image":{"id":"y"}}}}"#,
            &[(
                "/run",
                "Either Docker or UCR should be provided, but not both",
            )],
        );
        check(
            r#"{"id":"a","dependencies":[{"id":"b"}],"run":{"cpus":1,"mem":32,"disk":0,"cmd":"x"},
                "schedules":[{"id":"s1","cron":"0 0 30 2 *","startingDeadlineSeconds":10,"timezone":"Nowhere/Land"}]}"#,
            &[
                (
                    "/",
                    "Jobs may not have both dependencies and schedules specified",
                ),
                (
                    "/schedules/0/startingDeadlineSeconds",
                    "must be >= 60 seconds",
                ),
                (
                    "/schedules/0/timezone",
                    "No time zone found with this id: Nowhere/Land",
                ),
            ],
        );
        check(
            r#"{"id":"a","run":{"cpus":1,"mem":32,"disk":0,"cmd":"x"},
                "schedules":[{"id":"s1","cron":"0 0 30 2 *"}]}"#,
            &[(
                "/schedules/0/cron",
                "cron expression \"0 0 30 2 *\" never matches a date",
            )],
        );
    }
}
