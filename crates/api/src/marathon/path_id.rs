//! Marathon path ids (`/prod/web`): parsing with the segment and reserved-word rules,
//! resolution of relative ids against a base, and the `safePath` form used in task ids.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The segment rule, spelled exactly as Marathon prints it in validation messages.
pub const SEGMENT_PATTERN: &str = r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$";

/// Words that may not be the last segment of an id.
pub const RESERVED_LAST_SEGMENTS: [&str; 5] = ["restart", "tasks", "versions", ".", ".."];

/// Keel's limit on the length of an id (Marathon has none): a task id is the id's safe
/// path plus 53 characters, and it names the task's sandbox directory, which a file
/// system caps at 255 bytes; a longer id also made headers (`Location`) too large.
pub const MAX_ID_LENGTH: usize = 200;

/// Why a string is not a valid path id; `Display` gives Marathon's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathIdError {
    /// Longer than [`MAX_ID_LENGTH`] characters.
    TooLong(usize),
    /// A segment breaks [`SEGMENT_PATTERN`].
    InvalidSegment(String),
    /// The last segment is one of [`RESERVED_LAST_SEGMENTS`].
    ReservedLastSegment(String),
}

impl fmt::Display for PathIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathIdError::TooLong(n) => write!(
                f,
                "is {n} characters long; Keel's limit is {MAX_ID_LENGTH} characters"
            ),
            PathIdError::InvalidSegment(_) => {
                write!(f, "must fully match regular expression '{SEGMENT_PATTERN}'")
            }
            PathIdError::ReservedLastSegment(_) => write!(
                f,
                "must not end with any of the following reserved keywords: {}",
                RESERVED_LAST_SEGMENTS.join(", ")
            ),
        }
    }
}

impl std::error::Error for PathIdError {}

/// A `/`-separated id of an app, group or pod; absolute (`/a/b`) or relative (`b`, `../c`).
/// Repeated, leading and trailing slashes are dropped when parsing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId {
    segments: Vec<String>,
    absolute: bool,
}

impl PathId {
    /// The root group `/`.
    pub fn root() -> PathId {
        PathId {
            segments: Vec::new(),
            absolute: true,
        }
    }

    /// Parses and validates an id: every segment must match [`SEGMENT_PATTERN`] and the
    /// last one may not be reserved. `""` is the empty relative id and `"/"` the root.
    pub fn parse(s: &str) -> Result<PathId, PathIdError> {
        if s.len() > MAX_ID_LENGTH {
            return Err(PathIdError::TooLong(s.chars().count()));
        }
        let id = PathId::parse_unchecked(s);
        if let Some(bad) = id.segments.iter().find(|seg| !segment_is_valid(seg)) {
            return Err(PathIdError::InvalidSegment(bad.clone()));
        }
        if let Some(last) = id.segments.last()
            && RESERVED_LAST_SEGMENTS.contains(&last.as_str())
        {
            return Err(PathIdError::ReservedLastSegment(last.clone()));
        }
        Ok(id)
    }

    /// Splits without validating (for ids taken from URLs, where an invalid id is simply
    /// unknown).
    pub fn parse_unchecked(s: &str) -> PathId {
        let segments = s
            .split('/')
            .filter(|seg| !seg.is_empty())
            .map(str::to_owned)
            .collect();
        PathId {
            segments,
            absolute: s.starts_with('/'),
        }
    }

    /// Builds an absolute id from already validated segments.
    pub fn from_segments<I: IntoIterator<Item = S>, S: Into<String>>(segments: I) -> PathId {
        PathId {
            segments: segments.into_iter().map(Into::into).collect(),
            absolute: true,
        }
    }

    /// The inverse of [`PathId::safe_path`]: every `_` becomes a `/` (ids cannot contain `_`).
    pub fn from_safe_path(s: &str) -> PathId {
        PathId::from_segments(s.split('_').filter(|seg| !seg.is_empty()))
    }

    /// The segments, without `/`.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    pub fn is_absolute(&self) -> bool {
        self.absolute
    }

    /// True for `/` only.
    pub fn is_root(&self) -> bool {
        self.absolute && self.segments.is_empty()
    }

    /// True for `""` and `/`.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// True if this id sits directly below the root.
    pub fn is_top_level(&self) -> bool {
        self.absolute && self.segments.len() == 1
    }

    /// The enclosing group; the parent of `/` and of `/a` is `/`.
    pub fn parent(&self) -> PathId {
        let mut segments = self.segments.clone();
        segments.pop();
        PathId {
            segments,
            absolute: self.absolute || segments_empty(&self.segments),
        }
    }

    /// Resolves this id against `base` (which is treated as absolute) and removes `.` and
    /// `..` segments; the result is absolute.
    pub fn canonical(&self, base: &PathId) -> PathId {
        let mut resolved: Vec<String> = Vec::new();
        let prefix = if self.absolute {
            &[][..]
        } else {
            base.segments.as_slice()
        };
        for seg in prefix.iter().chain(self.segments.iter()) {
            match seg.as_str() {
                "." => {}
                ".." => {
                    resolved.pop();
                }
                _ => resolved.push(seg.clone()),
            }
        }
        PathId {
            segments: resolved,
            absolute: true,
        }
    }

    /// The absolute id of `child` (a relative or absolute id) inside this group.
    pub fn join(&self, child: &PathId) -> PathId {
        child.canonical(self)
    }

    /// This id with one more segment.
    pub fn child(&self, segment: &str) -> PathId {
        let mut segments = self.segments.clone();
        segments.push(segment.to_owned());
        PathId {
            segments,
            absolute: self.absolute,
        }
    }

    /// True if `self` is directly inside the group `parent` (both absolute).
    pub fn is_child_of(&self, parent: &PathId) -> bool {
        self.absolute && parent.absolute && !self.is_root() && self.parent() == *parent
    }

    /// True if `self` is strictly below `ancestor` at any depth.
    pub fn is_descendant_of(&self, ancestor: &PathId) -> bool {
        self.absolute
            && ancestor.absolute
            && self.segments.len() > ancestor.segments.len()
            && self.segments.starts_with(&ancestor.segments)
    }

    /// The id with `/` replaced by `_` and no leading separator: `/prod/web` → `prod_web`.
    pub fn safe_path(&self) -> String {
        self.segments.join("_")
    }
}

fn segments_empty(segments: &[String]) -> bool {
    segments.len() <= 1
}

/// Checks one segment against [`SEGMENT_PATTERN`] without a regex: `.` and `..`, or
/// dot-separated labels of `[a-z0-9-]` that neither start nor end with `-`.
fn segment_is_valid(seg: &str) -> bool {
    if seg == "." || seg == ".." {
        return true;
    }
    seg.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.absolute {
            write!(f, "/")?;
        }
        write!(f, "{}", self.segments.join("/"))
    }
}

impl std::str::FromStr for PathId {
    type Err = PathIdError;
    fn from_str(s: &str) -> Result<PathId, PathIdError> {
        PathId::parse(s)
    }
}

impl Serialize for PathId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PathId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PathId, D::Error> {
        let s = String::deserialize(d)?;
        PathId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(input: &str, base: &str, expect: Expect) {
        let out = match PathId::parse(input) {
            Ok(id) => format!(
                "{id} canonical={} parent={} safe={} root={}",
                id.canonical(&PathId::parse_unchecked(base)),
                id.parent(),
                id.canonical(&PathId::parse_unchecked(base)).safe_path(),
                id.is_root()
            ),
            Err(e) => format!("error: {e}"),
        };
        expect.assert_eq(&out);
    }

    #[test]
    fn parses_and_resolves() {
        check(
            "/prod/web",
            "/",
            expect!["/prod/web canonical=/prod/web parent=/prod safe=prod_web root=false"],
        );
        check(
            "//prod//web/",
            "/",
            expect!["/prod/web canonical=/prod/web parent=/prod safe=prod_web root=false"],
        );
        check(
            "web",
            "/prod",
            expect!["web canonical=/prod/web parent=/ safe=prod_web root=false"],
        );
        check(
            "../db",
            "/prod/web",
            expect!["../db canonical=/prod/db parent=.. safe=prod_db root=false"],
        );
        check(
            "./a.b-c/d",
            "/x",
            expect!["./a.b-c/d canonical=/x/a.b-c/d parent=./a.b-c safe=x_a.b-c_d root=false"],
        );
        check("/", "/", expect!["/ canonical=/ parent=/ safe= root=true"]);
        check(
            "a/../../..",
            "/x",
            expect![
                "error: must not end with any of the following reserved keywords: restart, tasks, versions, ., .."
            ],
        );
    }

    #[test]
    fn rejects_bad_segments_and_reserved_words() {
        let pattern = "error: must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'";
        for bad in ["/Prod", "/a_b", "/-a", "/a-", "/a..b", "/a b", "/a.", "/ü"] {
            assert_eq!(
                format!("error: {}", PathId::parse(bad).unwrap_err()),
                pattern,
                "{bad}"
            );
        }
        for reserved in ["/a/restart", "/tasks", "/x/versions", "/a/.."] {
            assert!(matches!(
                PathId::parse(reserved),
                Err(PathIdError::ReservedLastSegment(_))
            ));
        }
        assert!(PathId::parse("/restart/a").is_ok());
    }

    #[test]
    fn relations() {
        let g = PathId::parse("/prod").unwrap();
        let app = PathId::parse("/prod/web").unwrap();
        let deep = PathId::parse("/prod/x/web").unwrap();
        assert!(app.is_child_of(&g));
        assert!(!deep.is_child_of(&g));
        assert!(deep.is_descendant_of(&g));
        assert!(!g.is_descendant_of(&g));
        assert!(g.is_top_level());
        assert!(PathId::parse("/a").unwrap().is_child_of(&PathId::root()));
        assert!(!PathId::root().is_child_of(&PathId::root()));
        assert_eq!(PathId::from_safe_path("prod_web"), app);
        assert_eq!(PathId::from_safe_path(""), PathId::root());
        assert_eq!(serde_json::to_string(&app).unwrap(), "\"/prod/web\"");
        assert!(serde_json::from_str::<PathId>("\"/Bad\"").is_err());
    }

    /// Found by the fuzz test (seed 5): a 1 MB app id was accepted, and the answer's
    /// `Location` header was then too large for clients.
    #[test]
    fn ids_are_at_most_200_characters() {
        let ok = format!("/{}", "a".repeat(MAX_ID_LENGTH - 1));
        assert!(PathId::parse(&ok).is_ok());
        let long = format!("/{}", "a".repeat(MAX_ID_LENGTH));
        assert_eq!(
            PathId::parse(&long),
            Err(PathIdError::TooLong(MAX_ID_LENGTH + 1))
        );
        assert!(PathId::parse(&"x".repeat(1 << 20)).is_err());
    }
}
