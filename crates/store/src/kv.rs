//! Keys, values and their revisions: the data model shared by every backend.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Global, monotonically increasing revision; bumped once per successful write or transaction.
/// Revision 0 is the empty store.
pub type Revision = u64;

/// Identifies a lease. Ids are allocated from 1 upwards and never reused, even across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeaseId(pub u64);

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One key and its current value, as etcd's `mvccpb.KeyValue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision of the put that created the key (since its last delete).
    pub create_revision: Revision,
    /// Revision of the last put to the key.
    pub mod_revision: Revision,
    /// Number of puts since the key was created; 1 after the first put.
    pub version: u64,
    pub lease: Option<LeaseId>,
}

/// A compare-and-set precondition on one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Expect {
    /// No precondition.
    Any,
    /// The key must not exist.
    Absent,
    /// The key must exist with exactly this `mod_revision`.
    ModRevision(Revision),
}

impl Expect {
    /// Whether the precondition holds for `current` (the key's value, or `None` if absent).
    pub fn holds(&self, current: Option<&KeyValue>) -> bool {
        match self {
            Expect::Any => true,
            Expect::Absent => current.is_none(),
            Expect::ModRevision(rev) => current.is_some_and(|kv| kv.mod_revision == *rev),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Any => f.write_str("any"),
            Expect::Absent => f.write_str("absent"),
            Expect::ModRevision(rev) => write!(f, "mod_revision {rev}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(mod_revision: Revision) -> KeyValue {
        KeyValue {
            key: "/k".into(),
            value: vec![],
            create_revision: 1,
            mod_revision,
            version: 1,
            lease: None,
        }
    }

    #[test]
    fn expect_holds() {
        let cases = [
            (Expect::Any, None, true),
            (Expect::Any, Some(kv(3)), true),
            (Expect::Absent, None, true),
            (Expect::Absent, Some(kv(3)), false),
            (Expect::ModRevision(3), Some(kv(3)), true),
            (Expect::ModRevision(3), Some(kv(4)), false),
            (Expect::ModRevision(0), None, false),
        ];
        for (expect, current, want) in cases {
            assert_eq!(
                expect.holds(current.as_ref()),
                want,
                "{expect} on {current:?}"
            );
        }
    }

    #[test]
    fn expect_display() {
        assert_eq!(Expect::ModRevision(7).to_string(), "mod_revision 7");
        assert_eq!(Expect::Absent.to_string(), "absent");
    }
}
