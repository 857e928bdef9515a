//! The store's error type.

use crate::kv::{LeaseId, Revision};
use std::fmt::Display;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A compare-and-set precondition did not hold. `actual` is the key's `mod_revision`, or
    /// `None` if the key was absent.
    #[error("compare-and-set failed on key {key:?}: expected {expected}, found {}", describe(.actual))]
    CasFailed {
        key: String,
        expected: String,
        actual: Option<Revision>,
    },
    /// The requested revision's history has been compacted away.
    #[error("revision {requested} is compacted: history starts at revision {compacted}")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// A revision beyond the store's current revision was asked for.
    #[error("revision {requested} is in the future: current revision is {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("lease {0} not found")]
    LeaseNotFound(LeaseId),
    /// The storage engine failed; the message names the file.
    #[error("store backend: {0}")]
    Backend(String),
    /// A stored entry could not be decoded.
    #[error("corrupt entry for key {key:?}: {reason}")]
    Corrupt { key: String, reason: String },
    /// The store behind a watch was dropped.
    #[error("watch on prefix {prefix:?} closed: the store was dropped")]
    WatchClosed { prefix: String },
}

impl StoreError {
    /// A backend failure on the file at `path` while doing `what`.
    pub(crate) fn backend(path: &Path, what: &str, err: impl Display) -> Self {
        StoreError::Backend(format!("{what} in {}: {err}", path.display()))
    }
}

fn describe(actual: &Option<Revision>) -> String {
    match actual {
        Some(rev) => format!("mod_revision {rev}"),
        None => "absent".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_key() {
        let e = StoreError::CasFailed {
            key: "/apps/a".into(),
            expected: "absent".into(),
            actual: Some(4),
        };
        assert_eq!(
            e.to_string(),
            "compare-and-set failed on key \"/apps/a\": expected absent, found mod_revision 4"
        );
        let e = StoreError::backend(Path::new("/var/keel.redb"), "begin write", "io error");
        assert_eq!(
            e.to_string(),
            "store backend: begin write in /var/keel.redb: io error"
        );
    }
}
