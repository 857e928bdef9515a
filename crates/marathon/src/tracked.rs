//! A copy-on-write view of the state's app (or pod) map for one write: it shares the
//! state's map and keeps only the entries the write changed, so starting a write costs
//! nothing whatever the number of apps, and the write path diffs and plans only those.

use std::collections::BTreeSet;
use std::collections::btree_map::{self, BTreeMap};
use std::iter::Peekable;
use std::sync::Arc;

/// The shared `base` map with `changes` laid over it (`None`: removed). Every way to change
/// an entry is a method here, so `touched` is a superset of the keys whose value may differ
/// from `base`.
#[derive(Debug, Clone)]
pub(crate) struct Tracked<K: Ord + Clone, V> {
    base: Arc<BTreeMap<K, V>>,
    changes: BTreeMap<K, Option<V>>,
    touched: BTreeSet<K>,
}

impl<K: Ord + Clone, V: Clone> Tracked<K, V> {
    /// Starts from `base` (shared, not copied) with nothing touched.
    pub fn new(base: Arc<BTreeMap<K, V>>) -> Self {
        Tracked {
            base,
            changes: BTreeMap::new(),
            touched: BTreeSet::new(),
        }
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.get_key_value(k).map(|(_, v)| v)
    }

    pub fn get_key_value(&self, k: &K) -> Option<(&K, &V)> {
        match self.changes.get_key_value(k) {
            Some((k, v)) => v.as_ref().map(|v| (k, v)),
            None => self.base.get_key_value(k),
        }
    }

    pub fn contains_key(&self, k: &K) -> bool {
        self.get(k).is_some()
    }

    /// Every entry in key order, as if the changes were applied.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            base: self.base.iter().peekable(),
            changes: self.changes.iter().peekable(),
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        self.touched.insert(k.clone());
        let old = self.get(&k).cloned();
        self.changes.insert(k, Some(v));
        old
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let old = self.get(k).cloned();
        if old.is_some() {
            self.touched.insert(k.clone());
            self.changes.insert(k.clone(), None);
        }
        old
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        if !self.changes.contains_key(k) {
            let v = self.base.get(k)?.clone();
            self.changes.insert(k.clone(), Some(v));
        }
        let v = self.changes.get_mut(k)?.as_mut()?;
        self.touched.insert(k.clone());
        Some(v)
    }

    /// Keeps the entries `keep` accepts; the others count as touched.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let gone: Vec<K> = self
            .iter()
            .filter(|(k, v)| !keep(k, v))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.touched.insert(k.clone());
            self.changes.insert(k, None);
        }
    }

    /// Runs `f` on the base and the changes laid over it (`None`: removed); `f` may alter
    /// only the changes and returns the keys it changed, which count as touched.
    pub fn update<E>(
        &mut self,
        f: impl FnOnce(&BTreeMap<K, V>, &mut BTreeMap<K, Option<V>>) -> Result<Vec<K>, E>,
    ) -> Result<Vec<K>, E> {
        let changed = f(&self.base, &mut self.changes)?;
        self.touched.extend(changed.iter().cloned());
        Ok(changed)
    }

    /// Keys inserted, changed through `get_mut`, or removed since `new`.
    pub fn touched(&self) -> &BTreeSet<K> {
        &self.touched
    }

    /// Replaces `target` by the map with the changes applied. When `target` is the base and
    /// nothing else shares it, the changes are applied in place, at no cost for the entries
    /// they leave alone.
    pub fn store_in(self, target: &mut Arc<BTreeMap<K, V>>) {
        let Tracked { base, changes, .. } = self;
        if Arc::ptr_eq(&base, target) {
            drop(base);
        } else {
            *target = base;
        }
        let map = Arc::make_mut(target);
        for (k, v) in changes {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
    }
}

/// The entries of a [`Tracked`] in key order: the base's merged with the changes.
pub(crate) struct Iter<'a, K, V> {
    base: Peekable<btree_map::Iter<'a, K, V>>,
    changes: Peekable<btree_map::Iter<'a, K, Option<V>>>,
}

impl<'a, K: Ord, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        loop {
            let from_changes = match (self.base.peek(), self.changes.peek()) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(&(b, _)), Some(&(c, _))) => {
                    if b == c {
                        // The change replaces the base's entry.
                        self.base.next();
                    }
                    c <= b
                }
            };
            if !from_changes {
                return self.base.next();
            }
            if let Some((k, Some(v))) = self.changes.next() {
                return Some((k, v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mutation_is_recorded_and_reads_see_the_changes() {
        let base: Arc<BTreeMap<u32, &str>> =
            Arc::new([(1, "a"), (2, "b"), (3, "c"), (4, "d")].into());
        let mut t = Tracked::new(base.clone());
        assert!(t.touched().is_empty());
        t.insert(5, "e");
        t.remove(&9);
        t.remove(&1);
        if let Some(v) = t.get_mut(&2) {
            *v = "B";
        }
        t.get_mut(&8);
        t.retain(|k, _| *k != 3);
        t.insert(0, "z");
        assert_eq!(t.touched(), &BTreeSet::from([0, 1, 2, 3, 5]));
        assert_eq!(t.get(&2), Some(&"B"));
        assert_eq!(t.get(&1), None);
        assert!(t.contains_key(&4) && !t.contains_key(&3));
        let expect = BTreeMap::from([(0, "z"), (2, "B"), (4, "d"), (5, "e")]);
        assert_eq!(
            t.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
            expect.clone().into_iter().collect::<Vec<_>>()
        );
        assert_eq!(base.len(), 4, "the base is not changed");
        let mut other = Arc::new(BTreeMap::new());
        t.clone().store_in(&mut other);
        assert_eq!(*other, expect);
        let mut shared = base.clone();
        t.store_in(&mut shared);
        assert_eq!(*shared, expect);
        assert_eq!(
            base.len(),
            4,
            "a base shared elsewhere is copied, not changed"
        );
    }

    #[test]
    fn the_base_is_changed_in_place_when_nothing_else_shares_it() {
        let mut state = Arc::new(BTreeMap::from([(1, "a"), (2, "b")]));
        let mut t = Tracked::new(state.clone());
        t.insert(3, "c");
        let before = Arc::as_ptr(&state);
        t.store_in(&mut state);
        assert_eq!(Arc::as_ptr(&state), before, "applied in place");
        assert_eq!(*state, BTreeMap::from([(1, "a"), (2, "b"), (3, "c")]));
    }
}
