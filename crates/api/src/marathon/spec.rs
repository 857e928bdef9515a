//! Small pieces of run specs shared by apps and pods: environment values and secrets,
//! fetch artifacts, app constraints (`[field, OP, value?]`), upgrade and unreachable
//! strategies, kill selection and version info.

use super::time::Timestamp;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Reads an optional integer that may be written as an integral float (`3.0`), as
/// Marathon's JSON reader accepts.
pub(crate) fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        _ => Err(D::Error::custom(format!(
            "invalid type: number `{n}`, expected an integer"
        ))),
    }
}

/// An environment value: a literal or a reference to a declared secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnvValue {
    Value(String),
    Secret { secret: String },
}

/// A declared secret: `{"source": "<store path>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretDef {
    pub source: String,
}

/// A URI the Mesos fetcher puts into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub uri: String,
    #[serde(default = "yes")]
    pub extract: bool,
    #[serde(default)]
    pub executable: bool,
    #[serde(default)]
    pub cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_path: Option<String>,
}

fn yes() -> bool {
    true
}

impl Artifact {
    /// The artifact for a deprecated `uris` entry: extracted only when it names an archive.
    pub fn from_uri(uri: &str) -> Artifact {
        let archive = [
            ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip",
        ];
        let extract = archive.iter().any(|ext| uri.ends_with(ext));
        Artifact {
            uri: uri.to_owned(),
            extract,
            executable: false,
            cache: false,
            dest_path: None,
        }
    }
}

/// Operators of app and pod constraints.
pub const CONSTRAINT_OPERATORS: [&str; 7] = [
    "UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS",
];

/// An app constraint as given: `[field, OPERATOR]` or `[field, OPERATOR, value]`. Kept as
/// raw strings (numbers are accepted and written as text) so that validation can report
/// malformed ones with Marathon's messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint(pub Vec<String>);

impl Constraint {
    pub fn new(field: &str, operator: &str, value: Option<&str>) -> Constraint {
        let mut parts = vec![field.to_owned(), operator.to_owned()];
        parts.extend(value.map(str::to_owned));
        Constraint(parts)
    }

    pub fn field(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }

    pub fn operator(&self) -> &str {
        self.0.get(1).map_or("", String::as_str)
    }

    pub fn value(&self) -> Option<&str> {
        self.0.get(2).map(String::as_str)
    }

    /// The scheduler's form of a valid constraint.
    /// (The `TryFrom` of [`crate::to_model`], for call sites that drop what Keel does not
    /// place by.)
    pub fn to_model(&self) -> Option<keel_model::Constraint> {
        keel_model::Constraint::try_from(self).ok()
    }
}

impl Serialize for Constraint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Constraint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Constraint, D::Error> {
        let items = Vec::<Value>::deserialize(d)?;
        let parts = items.into_iter().map(|v| match v {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(D::Error::custom(format!(
                "invalid type: {other}, expected a string"
            ))),
        });
        parts.collect::<Result<Vec<_>, _>>().map(Constraint)
    }
}

/// How a rolling upgrade trades capacity against health.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategy {
    #[serde(default = "one")]
    pub minimum_health_capacity: f64,
    #[serde(default = "one")]
    pub maximum_over_capacity: f64,
}

fn one() -> f64 {
    1.0
}

impl UpgradeStrategy {
    /// `{1, 1}`: start all new instances next to the old ones.
    pub const DEFAULT: UpgradeStrategy = UpgradeStrategy {
        minimum_health_capacity: 1.0,
        maximum_over_capacity: 1.0,
    };
    /// `{0.5, 0}`: the default of resident (persistent-volume) run specs.
    pub const RESIDENT: UpgradeStrategy = UpgradeStrategy {
        minimum_health_capacity: 0.5,
        maximum_over_capacity: 0.0,
    };
}

/// What happens to instances on unreachable agents: `"disabled"` or the two timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreachableStrategy {
    Disabled,
    Enabled {
        inactive_after_seconds: i64,
        expunge_after_seconds: i64,
    },
}

impl UnreachableStrategy {
    /// `{0, 0}`: replace at once (Marathon 1.6+).
    pub const DEFAULT: UnreachableStrategy = UnreachableStrategy::Enabled {
        inactive_after_seconds: 0,
        expunge_after_seconds: 0,
    };
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UnreachableTimes {
    #[serde(default)]
    inactive_after_seconds: i64,
    #[serde(default)]
    expunge_after_seconds: i64,
}

impl Serialize for UnreachableStrategy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            UnreachableStrategy::Disabled => s.serialize_str("disabled"),
            UnreachableStrategy::Enabled {
                inactive_after_seconds,
                expunge_after_seconds,
            } => UnreachableTimes {
                inactive_after_seconds,
                expunge_after_seconds,
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for UnreachableStrategy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UnreachableStrategy, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) if s == "disabled" => Ok(UnreachableStrategy::Disabled),
            v @ Value::Object(_) => {
                let t: UnreachableTimes = serde_json::from_value(v).map_err(D::Error::custom)?;
                Ok(UnreachableStrategy::Enabled {
                    inactive_after_seconds: t.inactive_after_seconds,
                    expunge_after_seconds: t.expunge_after_seconds,
                })
            }
            other => Err(D::Error::custom(format!(
                "invalid type: {other}, expected \"disabled\" or a map"
            ))),
        }
    }
}

/// Which instances go first when scaling down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KillSelection {
    #[default]
    YoungestFirst,
    OldestFirst,
}

/// When the app was last scaled (any change) and last changed in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub last_scaling_at: Timestamp,
    pub last_config_change_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_accept_numbers_and_convert() {
        let c: Constraint = serde_json::from_str(r#"["rack", "MAX_PER", 2]"#).unwrap();
        assert_eq!(c, Constraint::new("rack", "MAX_PER", Some("2")));
        let m = c.to_model().unwrap();
        assert_eq!(m.op, keel_model::ConstraintOp::MaxPer);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"["rack","MAX_PER","2"]"#
        );
        assert!(serde_json::from_str::<Constraint>(r#"["a", {}]"#).is_err());
    }

    #[test]
    fn unreachable_strategy_forms() {
        let d: UnreachableStrategy = serde_json::from_str(r#""disabled""#).unwrap();
        assert_eq!(d, UnreachableStrategy::Disabled);
        let e: UnreachableStrategy =
            serde_json::from_str(r#"{"inactiveAfterSeconds": 5}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"inactiveAfterSeconds":5,"expungeAfterSeconds":0}"#
        );
        assert!(serde_json::from_str::<UnreachableStrategy>(r#""sometimes""#).is_err());
    }

    #[test]
    fn env_values_and_artifacts() {
        let env: std::collections::BTreeMap<String, EnvValue> =
            serde_json::from_str(r#"{"A": "1", "B": {"secret": "db"}}"#).unwrap();
        assert_eq!(
            env["B"],
            EnvValue::Secret {
                secret: "db".into()
            }
        );
        assert!(Artifact::from_uri("http://x/y.tgz").extract);
        assert!(!Artifact::from_uri("http://x/y.jar").extract);
        let a: Artifact = serde_json::from_str(r#"{"uri": "u"}"#).unwrap();
        assert!(a.extract && !a.cache && !a.executable);
    }
}
