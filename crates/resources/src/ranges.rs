//! Sets of integer ranges, kept sorted, disjoint and coalesced (`[31000-31005, 31010-31010]`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A normalized set of inclusive `u64` ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<(u64, u64)>", into = "Vec<(u64, u64)>")]
pub struct Ranges(Vec<(u64, u64)>);

impl From<Vec<(u64, u64)>> for Ranges {
    fn from(v: Vec<(u64, u64)>) -> Self {
        Self::new(v)
    }
}

impl From<Ranges> for Vec<(u64, u64)> {
    fn from(r: Ranges) -> Self {
        r.0
    }
}

impl Ranges {
    /// Normalizes arbitrary (possibly overlapping, reversed) ranges.
    pub fn new(mut v: Vec<(u64, u64)>) -> Self {
        for r in v.iter_mut() {
            if r.0 > r.1 {
                *r = (r.1, r.0);
            }
        }
        v.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for (b, e) in v {
            match out.last_mut() {
                Some(last) if b <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => out.push((b, e)),
            }
        }
        Self(out)
    }

    /// The ranges, sorted and disjoint.
    pub fn as_slice(&self) -> &[(u64, u64)] {
        &self.0
    }

    /// Number of integers covered.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|(b, e)| e - b + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every integer of `other` is in `self`.
    pub fn contains(&self, other: &Ranges) -> bool {
        other
            .0
            .iter()
            .all(|&(b, e)| self.0.iter().any(|&(sb, se)| sb <= b && e <= se))
    }

    /// Union.
    pub fn add(&self, other: &Ranges) -> Ranges {
        let mut v = self.0.clone();
        v.extend_from_slice(&other.0);
        Ranges::new(v)
    }

    /// Difference: integers of `self` not in `other`.
    pub fn subtract(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::new();
        for &(b, e) in &self.0 {
            let mut cur = b;
            let mut done = false;
            for &(ob, oe) in &other.0 {
                if oe < cur || ob > e {
                    continue;
                }
                if ob > cur {
                    out.push((cur, ob - 1));
                }
                if oe >= e {
                    done = true;
                    break;
                }
                cur = oe + 1;
            }
            if !done && cur <= e {
                out.push((cur, e));
            }
        }
        Ranges(out)
    }

    /// The lowest `n` integers as ranges, or `None` if fewer than `n` are available.
    pub fn take_lowest(&self, n: u64) -> Option<Ranges> {
        if self.count() < n {
            return None;
        }
        let mut left = n;
        let mut out = Vec::new();
        for &(b, e) in &self.0 {
            if left == 0 {
                break;
            }
            let len = (e - b + 1).min(left);
            out.push((b, b + len - 1));
            left -= len;
        }
        Some(Ranges(out))
    }

    /// Every integer, in order.
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().flat_map(|&(b, e)| b..=e)
    }
}

impl fmt::Display for Ranges {
    /// Mesos's text form: `[31000-31005, 31010-31010]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, (b, e)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{b}-{e}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_and_prints() {
        let r = Ranges::new(vec![(5, 7), (1, 2), (3, 3), (10, 9)]);
        assert_eq!(r.to_string(), "[1-3, 5-7, 9-10]");
        assert_eq!(r.count(), 8);
        assert_eq!(Ranges::new(vec![(4, 4), (1, 3)]).to_string(), "[1-4]");
    }

    #[test]
    fn subtract_splits() {
        let r = Ranges::new(vec![(1, 10)]);
        let s = r.subtract(&Ranges::new(vec![(3, 4), (8, 8)]));
        assert_eq!(s.to_string(), "[1-2, 5-7, 9-10]");
        assert_eq!(
            r.take_lowest(3).map(|x| x.to_string()),
            Some("[1-3]".into())
        );
        assert_eq!(r.take_lowest(11), None);
    }

    proptest! {
        #[test]
        fn subtract_then_add_roundtrips(a in prop::collection::vec((0u64..200, 0u64..200), 0..6),
                                        b in prop::collection::vec((0u64..200, 0u64..200), 0..6)) {
            let a = Ranges::new(a);
            let b = Ranges::new(b);
            let d = a.subtract(&b);
            prop_assert!(a.contains(&d));
            for v in d.values() {
                prop_assert!(!b.values().any(|x| x == v));
            }
            let inter = a.subtract(&d);
            prop_assert_eq!(d.add(&inter), a.clone());
            prop_assert_eq!(d.count() + inter.count(), a.count());
        }
    }
}
