//! Identifier newtypes; constructors reject values that cannot be used in paths or URLs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An identifier failed validation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("{kind} id is empty")]
    Empty { kind: &'static str },
    #[error("{kind} id {value:?} contains a character outside [A-Za-z0-9._-]")]
    BadChar { kind: &'static str, value: String },
    #[error("{kind} id {value:?} is longer than 255 bytes")]
    TooLong { kind: &'static str, value: String },
}

pub(crate) fn validate(kind: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > 255 {
        return Err(IdError::TooLong {
            kind,
            value: value.to_string(),
        });
    }
    let ok = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(IdError::BadChar {
            kind,
            value: value.to_string(),
        });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                validate($kind, &value)?;
                Ok(Self(value))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

id_type!(
    /// An agent, formatted like Mesos: `<masterId>-S<n>`.
    AgentId,
    "agent"
);
id_type!(
    /// A task; unique across the cluster's lifetime.
    TaskId,
    "task"
);
id_type!(
    /// A framework (scheduler), formatted like Mesos: `<masterId>-<nnnn>`.
    FrameworkId,
    "framework"
);
id_type!(
    /// One run of an executor (a container); a UUID.
    ContainerId,
    "container"
);

impl AgentId {
    /// The Mesos-style agent id for the `n`-th agent registered with master `master_id`.
    pub fn nth(master_id: &str, n: u64) -> Result<Self, IdError> {
        Self::new(format!("{master_id}-S{n}"))
    }
}

impl FrameworkId {
    /// The Mesos-style framework id for the `n`-th framework of master `master_id`.
    pub fn nth(master_id: &str, n: u64) -> Result<Self, IdError> {
        Self::new(format!("{master_id}-{n:04}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_bad_input() {
        assert_eq!(TaskId::new(""), Err(IdError::Empty { kind: "task" }));
        assert!(matches!(TaskId::new("a/b"), Err(IdError::BadChar { .. })));
        assert!(matches!(
            TaskId::new("x".repeat(256)),
            Err(IdError::TooLong { .. })
        ));
        assert_eq!(
            TaskId::new("web.1-a_b").map(|t| t.to_string()),
            Ok("web.1-a_b".into())
        );
    }

    #[test]
    fn mesos_style_ids() {
        assert_eq!(AgentId::nth("m1", 3).map(String::from), Ok("m1-S3".into()));
        assert_eq!(
            FrameworkId::nth("m1", 7).map(String::from),
            Ok("m1-0007".into())
        );
    }

    #[test]
    fn serde_validates() {
        let bad: Result<TaskId, _> = serde_json::from_str("\"a b\"");
        assert!(bad.is_err());
    }
}
