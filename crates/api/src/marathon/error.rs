//! Marathon's error bodies: the 422 validation body (`Object is not valid` with one entry
//! per JSON path), the 400 `Invalid JSON` body built from a serde error (with the path of
//! the offending value recovered from its position), and the plain `{"message"}` and
//! 409 `{"message","deployments"}` bodies with Marathon's wording.

use super::deployment::DeploymentRef;
use super::path_id::PathId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;

/// All errors found at one JSON path (`/healthChecks(0)/portIndex`; `/` for the object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub path: String,
    pub errors: Vec<String>,
}

/// A failed validation: `{"message":"Object is not valid","details":[...]}` (HTTP 422).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub message: String,
    pub details: Vec<Violation>,
}

impl Validation {
    pub const MESSAGE: &'static str = "Object is not valid";

    pub fn new(details: Vec<Violation>) -> Validation {
        Validation {
            message: Validation::MESSAGE.to_owned(),
            details,
        }
    }

    /// A validation failure with one error.
    pub fn single(path: &str, error: impl Into<String>) -> Validation {
        let mut v = Violations::default();
        v.add(path, error);
        Validation::new(v.into_vec())
    }

    /// The errors at `path`, for tests and logs.
    pub fn errors_at(&self, path: &str) -> Vec<&str> {
        let found = self.details.iter().filter(|d| d.path == path);
        found
            .flat_map(|d| d.errors.iter().map(String::as_str))
            .collect()
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for d in &self.details {
            write!(f, "; {}: {}", d.path, d.errors.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Validation {}

/// Collects violations, grouping the errors of one path in first-seen order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Violations {
    list: Vec<Violation>,
}

impl Violations {
    pub fn add(&mut self, path: &str, error: impl Into<String>) {
        let error = error.into();
        match self.list.iter_mut().find(|v| v.path == path) {
            Some(v) if v.errors.contains(&error) => {}
            Some(v) => v.errors.push(error),
            None => self.list.push(Violation {
                path: path.to_owned(),
                errors: vec![error],
            }),
        }
    }

    /// Adds `error` at `path` unless `ok`.
    pub fn check(&mut self, ok: bool, path: &str, error: impl Into<String>) {
        if !ok {
            self.add(path, error);
        }
    }

    /// Adds every violation of `other` below `prefix` (`/apps(0)` + `/id`).
    pub fn nest(&mut self, prefix: &str, other: Violations) {
        for v in other.list {
            let path = join_path(prefix, &v.path);
            for e in v.errors {
                self.add(&path, e);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn into_vec(self) -> Vec<Violation> {
        self.list
    }

    /// `Ok(value)` when nothing was collected, else the 422 body.
    pub fn finish<T>(self, value: T) -> Result<T, Validation> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(Validation::new(self.list))
        }
    }
}

impl From<Validation> for Violations {
    fn from(v: Validation) -> Violations {
        Violations { list: v.details }
    }
}

/// Joins a parent path and a child path in Marathon's notation (`/a` + `(0)` = `/a(0)`).
pub fn join_path(prefix: &str, child: &str) -> String {
    match (prefix, child) {
        ("/", c) => c.to_owned(),
        (p, "/") => p.to_owned(),
        (p, c) => format!("{p}{c}"),
    }
}

/// An error response of the Marathon API: the HTTP status and the JSON body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiErrorBody {
    #[serde(skip)]
    pub status: u16,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<Violation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployments: Option<Vec<DeploymentRef>>,
}

impl ApiErrorBody {
    /// A plain `{"message": ...}` body.
    pub fn new(status: u16, message: impl Into<String>) -> ApiErrorBody {
        ApiErrorBody {
            status,
            message: message.into(),
            details: None,
            deployments: None,
        }
    }

    /// 400 `{"message":"Invalid JSON","details":[...]}`.
    pub fn invalid_json(details: Vec<Violation>) -> ApiErrorBody {
        ApiErrorBody {
            details: Some(details),
            ..ApiErrorBody::new(400, "Invalid JSON")
        }
    }

    pub fn app_not_found(id: &PathId) -> ApiErrorBody {
        ApiErrorBody::new(404, format!("App '{id}' does not exist"))
    }

    pub fn app_version_not_found(id: &PathId, version: &str) -> ApiErrorBody {
        ApiErrorBody::new(
            404,
            format!("App '{id}' does not exist in version {version}"),
        )
    }

    pub fn group_not_found(id: &PathId) -> ApiErrorBody {
        ApiErrorBody::new(404, format!("Group '{id}' does not exist"))
    }

    pub fn pod_not_found(id: &PathId) -> ApiErrorBody {
        ApiErrorBody::new(404, format!("Pod '{id}' does not exist"))
    }

    pub fn task_not_found(task_id: &str) -> ApiErrorBody {
        ApiErrorBody::new(404, format!("Task '{task_id}' does not exist"))
    }

    pub fn deployment_not_found(id: &str) -> ApiErrorBody {
        ApiErrorBody::new(404, format!("DeploymentPlan {id} does not exist"))
    }

    /// 409 for a write to a run spec that a running deployment holds.
    pub fn locked(deployment_ids: &[String]) -> ApiErrorBody {
        let message = "App is locked by one or more deployments. Override with the option \
                       '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.";
        let refs = deployment_ids
            .iter()
            .map(|id| DeploymentRef { id: id.clone() })
            .collect();
        ApiErrorBody {
            deployments: Some(refs),
            ..ApiErrorBody::new(409, message)
        }
    }

    pub fn app_exists(id: &PathId) -> ApiErrorBody {
        ApiErrorBody::new(409, format!("An app with id [{id}] already exists."))
    }

    pub fn pod_exists(id: &PathId) -> ApiErrorBody {
        ApiErrorBody::new(409, format!("A pod with id [{id}] already exists."))
    }

    pub fn group_exists(id: &PathId) -> ApiErrorBody {
        let message = format!("Group {id} is already created. Use PUT to change this group.");
        ApiErrorBody::new(409, message)
    }

    pub fn app_at_group_path(id: &PathId) -> ApiErrorBody {
        ApiErrorBody::new(409, format!("An app with the path {id} already exists."))
    }

    /// 403 when `--max_running_deployments` is reached.
    pub fn too_many_deployments(max: usize) -> ApiErrorBody {
        let message = format!(
            "Max number ({max}) of running deployments is achieved. Wait for existing \
             deployments to complete or cancel oneusing force=true parameter. You can increase \
             max deployment number by using --max_running_deployments parameter but be advised \
             that this can have negative effects on the performance."
        );
        ApiErrorBody::new(403, message)
    }

    pub fn no_leader() -> ApiErrorBody {
        ApiErrorBody::new(404, "There is no leader")
    }

    /// 400 for `POST /v2/tasks/delete` with an id that fits no format.
    pub fn invalid_task_id(task_id: &str) -> ApiErrorBody {
        ApiErrorBody::new(400, format!("Invalid task id '{task_id}'"))
    }

    /// 400 for `scale=true` together with `wipe=true`.
    pub fn scale_and_wipe() -> ApiErrorBody {
        ApiErrorBody::new(400, "You cannot use scale and wipe at the same time.")
    }

    /// 400 when a pod body's id differs from the path's.
    pub fn pod_id_mismatch(path_id: &PathId, body_id: &str) -> ApiErrorBody {
        let message = format!("'{path_id}' does not match definition's id ('{body_id}')");
        ApiErrorBody::new(400, message)
    }

    /// 422 `Can not parse label selector ...`.
    pub fn bad_label_selector(selector: &str, reason: &str) -> ApiErrorBody {
        let message = format!("Can not parse label selector {selector}. Reason: {reason}");
        ApiErrorBody::new(422, message)
    }
}

impl From<Validation> for ApiErrorBody {
    fn from(v: Validation) -> ApiErrorBody {
        ApiErrorBody {
            status: 422,
            message: v.message,
            details: Some(v.details),
            deployments: None,
        }
    }
}

impl fmt::Display for ApiErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)?;
        for d in self.details.iter().flatten() {
            write!(f, "; {}: {}", d.path, d.errors.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiErrorBody {}

/// Deserializes a request body; a syntax or type error becomes the 400 `Invalid JSON` body
/// with the JSON path of the offending value and a Play-style code
/// (`error.expected.jsstring`, `error.path.missing`, ...).
///
/// An array where a struct belongs is rejected too (`error.expected.jsobject`), which serde
/// alone would read as the struct (see [`super::strict`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiErrorBody> {
    let value: T = serde_json::from_slice(bytes).map_err(|e| json_error(bytes, &e))?;
    let tree: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| json_error(bytes, &e))?;
    if let Some(path) = super::strict::array_for_object::<T>(&tree) {
        return Err(ApiErrorBody::invalid_json(vec![Violation {
            path,
            errors: vec!["error.expected.jsobject".to_owned()],
        }]));
    }
    Ok(value)
}

/// [`parse_json`] for bodies that must be a JSON object (serde would also read a struct
/// from an array).
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiErrorBody> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        let errors = vec!["error.expected.jsobject".to_owned()];
        return Err(ApiErrorBody::invalid_json(vec![Violation {
            path: "/".into(),
            errors,
        }]));
    }
    parse_json(bytes)
}

fn json_error(bytes: &[u8], e: &serde_json::Error) -> ApiErrorBody {
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    if !e.is_data() {
        return ApiErrorBody::invalid_json(vec![Violation {
            path: "/".into(),
            errors: vec![message],
        }]);
    }
    let offset = byte_offset(bytes, e.line(), e.column());
    let mut path = path_at(bytes, offset);
    let code = if let Some(field) = missing_field(&message) {
        path = join_path(&path, &format!("/{field}"));
        "error.path.missing".to_owned()
    } else {
        play_code(&message).map_or(message, str::to_owned)
    };
    ApiErrorBody::invalid_json(vec![Violation {
        path,
        errors: vec![code],
    }])
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

/// Play JSON's error code for serde's "invalid type" messages.
fn play_code(message: &str) -> Option<&'static str> {
    let expected = message
        .strip_prefix("invalid type: ")?
        .split(", expected ")
        .nth(1)?;
    let code = if expected.contains("string") || expected.contains("PathId") {
        "error.expected.jsstring"
    } else if [
        "f64", "f32", "i64", "i32", "u64", "u32", "u16", "integer", "number",
    ]
    .iter()
    .any(|n| expected.contains(n))
    {
        "error.expected.jsnumber"
    } else if expected.contains("bool") {
        "error.expected.jsboolean"
    } else if expected.contains("sequence") {
        "error.expected.jsarray"
    } else if expected.contains("map") || expected.contains("struct") {
        "error.expected.jsobject"
    } else {
        return None;
    };
    Some(code)
}

/// Converts serde_json's 1-based line and column into the byte offset just after the last
/// byte read when the error was detected.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    (start + column).min(bytes.len())
}

/// The JSON path of the innermost value whose text ends at or spans `offset`.
fn path_at(bytes: &[u8], offset: usize) -> String {
    let mut scan = PathScan {
        b: bytes,
        pos: 0,
        target: offset,
        found: None,
        depth: 0,
    };
    scan.value("/");
    scan.found.unwrap_or_else(|| "/".to_owned())
}

struct PathScan<'a> {
    b: &'a [u8],
    pos: usize,
    target: usize,
    found: Option<String>,
    /// Nesting of the value being scanned; past [`MAX_SCAN_DEPTH`] the scan stops.
    depth: usize,
}

/// serde_json's own nesting limit: deeper input never parsed, and scanning it recursively
/// would overflow the stack.
const MAX_SCAN_DEPTH: usize = 128;

impl PathScan<'_> {
    fn peek(&mut self) -> Option<u8> {
        while self.pos < self.b.len() && self.b[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        self.b.get(self.pos).copied()
    }

    /// Scans one value; returns false on malformed input (the scan then stops).
    fn value(&mut self, path: &str) -> bool {
        let Some(first) = self.peek() else {
            return false;
        };
        let start = self.pos;
        if matches!(first, b'{' | b'[') && self.depth >= MAX_SCAN_DEPTH {
            return false;
        }
        self.depth += 1;
        let ok = match first {
            b'{' => self.object(path),
            b'[' => self.array(path),
            b'"' => self.string().is_some(),
            _ => self.scalar(),
        };
        self.depth -= 1;
        if self.found.is_none() && start <= self.target && self.target <= self.pos {
            self.found = Some(path.to_owned());
        }
        ok
    }

    fn object(&mut self, path: &str) -> bool {
        self.pos += 1;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return true;
        }
        loop {
            if self.peek() != Some(b'"') {
                return false;
            }
            let Some(key) = self.string() else {
                return false;
            };
            if self.peek() != Some(b':') {
                return false;
            }
            self.pos += 1;
            if !self.value(&join_path(path, &format!("/{key}"))) {
                return false;
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn array(&mut self, path: &str) -> bool {
        self.pos += 1;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return true;
        }
        for index in 0.. {
            if !self.value(&join_path(path, &format!("({index})"))) {
                return false;
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return true;
                }
                _ => return false,
            }
        }
        false
    }

    fn string(&mut self) -> Option<String> {
        let start = self.pos + 1;
        self.pos += 1;
        while self.pos < self.b.len() {
            match self.b[self.pos] {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    let raw = &self.b[start..self.pos - 1];
                    return Some(String::from_utf8_lossy(raw).into_owned());
                }
                _ => self.pos += 1,
            }
        }
        None
    }

    fn scalar(&mut self) -> bool {
        let start = self.pos;
        while self.pos < self.b.len() && !b",]} \t\r\n".contains(&self.b[self.pos]) {
            self.pos += 1;
        }
        self.pos > start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        id: Option<String>,
        cpus: Option<f64>,
        checks: Option<Vec<Check>>,
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Check {
        port: Option<u16>,
        flag: Option<bool>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        name: String,
    }

    fn check(body: &str, expect: Expect) {
        let err = parse_object::<Probe>(body.as_bytes()).unwrap_err();
        expect.assert_eq(&format!(
            "{} {}",
            err.status,
            serde_json::to_string(&err).unwrap()
        ));
    }

    #[test]
    fn type_errors_carry_the_json_path() {
        check(
            r#"{"id": 5}"#,
            expect![[
                r#"400 {"message":"Invalid JSON","details":[{"path":"/id","errors":["error.expected.jsstring"]}]}"#
            ]],
        );
        check(
            r#"{"id":"x","cpus":"many"}"#,
            expect![[
                r#"400 {"message":"Invalid JSON","details":[{"path":"/cpus","errors":["error.expected.jsnumber"]}]}"#
            ]],
        );
        check(
            "{\"checks\": [{\"port\": 1},\n {\"port\": 2, \"flag\": \"yes\"}]}",
            expect![[
                r#"400 {"message":"Invalid JSON","details":[{"path":"/checks(1)/flag","errors":["error.expected.jsboolean"]}]}"#
            ]],
        );
        check(
            r#"{"nested": {}}"#,
            expect![[
                r#"400 {"message":"Invalid JSON","details":[{"path":"/nested/name","errors":["error.path.missing"]}]}"#
            ]],
        );
        check(
            r#"{"checks": {}}"#,
            expect![[
                r#"400 {"message":"Invalid JSON","details":[{"path":"/checks","errors":["error.expected.jsarray"]}]}"#
            ]],
        );
        check(
            "[1]",
            expect![[
                r#"400 {"message":"Invalid JSON","details":[{"path":"/","errors":["error.expected.jsobject"]}]}"#
            ]],
        );
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        check(
            "{\"id\": ",
            expect![[
                r#"400 {"message":"Invalid JSON","details":[{"path":"/","errors":["EOF while parsing a value"]}]}"#
            ]],
        );
        check(
            "",
            expect![[
                r#"400 {"message":"Invalid JSON","details":[{"path":"/","errors":["EOF while parsing a value"]}]}"#
            ]],
        );
    }

    /// Issue 22: 100,000 nested arrays overflowed the stack of the path scan (and killed
    /// the master) once serde gave up at its nesting limit.
    #[test]
    fn deep_nesting_is_invalid_json_without_a_deep_scan() {
        for body in [
            "[".repeat(100_000),
            format!("{{\"apps\": {}", "[".repeat(100_000)),
            format!(
                "{{\"a\": {}1{}}}",
                "[{\"b\":".repeat(60_000),
                "}]".repeat(60_000)
            ),
        ] {
            let e = parse_json::<std::collections::BTreeMap<String, Vec<u32>>>(body.as_bytes())
                .expect_err("too deep");
            assert_eq!(e.status, 400);
        }
    }

    #[test]
    fn violations_group_by_path() {
        let mut v = Violations::default();
        v.add("/", "a");
        v.add("/x", "b");
        v.add("/", "c");
        v.add("/", "c");
        let mut outer = Violations::default();
        outer.nest("/apps(0)", v);
        let json = serde_json::to_string(&Validation::new(outer.into_vec())).unwrap();
        expect![[r#"{"message":"Object is not valid","details":[{"path":"/apps(0)","errors":["a","c"]},{"path":"/apps(0)/x","errors":["b"]}]}"#]].assert_eq(&json);
    }

    #[test]
    fn fixed_messages() {
        let locked = ApiErrorBody::locked(&["d1".into()]);
        expect![[r#"{"message":"App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.","deployments":[{"id":"d1"}]}"#]]
            .assert_eq(&serde_json::to_string(&locked).unwrap());
        let id = PathId::parse("/x").unwrap();
        assert_eq!(
            ApiErrorBody::app_not_found(&id).message,
            "App '/x' does not exist"
        );
        assert_eq!(
            ApiErrorBody::app_exists(&id).message,
            "An app with id [/x] already exists."
        );
        assert_eq!(
            ApiErrorBody::deployment_not_found("abc").message,
            "DeploymentPlan abc does not exist"
        );
        let body: ApiErrorBody = Validation::single("/id", "bad").into();
        assert_eq!(body.status, 422);
    }
}
