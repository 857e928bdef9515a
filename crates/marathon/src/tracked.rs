//! A map that remembers which keys a write touched, so that the write path can diff and
//! plan only those entries instead of the whole app set.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

/// A `BTreeMap` whose mutating methods record the keys they write or remove. Reading goes
/// through `Deref`; every way to change an entry is a method here, so `touched` is a
/// superset of the keys whose value may differ from the map it was cloned from.
#[derive(Debug, Clone)]
pub(crate) struct Tracked<K: Ord + Clone, V> {
    map: BTreeMap<K, V>,
    touched: BTreeSet<K>,
}

impl<K: Ord + Clone, V> Tracked<K, V> {
    /// Starts from `map` with nothing touched.
    pub fn new(map: BTreeMap<K, V>) -> Self {
        Tracked {
            map,
            touched: BTreeSet::new(),
        }
    }

    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        self.touched.insert(k.clone());
        self.map.insert(k, v)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let old = self.map.remove(k);
        if old.is_some() {
            self.touched.insert(k.clone());
        }
        old
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        if self.map.contains_key(k) {
            self.touched.insert(k.clone());
        }
        self.map.get_mut(k)
    }

    /// Keeps the entries `keep` accepts; the others count as touched.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        let touched = &mut self.touched;
        self.map.retain(|k, v| {
            let kept = keep(k, v);
            if !kept {
                touched.insert(k.clone());
            }
            kept
        });
    }

    /// Runs `f` on the map; `f` returns the keys it changed, which count as touched.
    pub fn update<E>(
        &mut self,
        f: impl FnOnce(&mut BTreeMap<K, V>) -> Result<Vec<K>, E>,
    ) -> Result<Vec<K>, E> {
        let changed = f(&mut self.map)?;
        self.touched.extend(changed.iter().cloned());
        Ok(changed)
    }

    /// Keys inserted, changed through `get_mut`, or removed since `new`.
    pub fn touched(&self) -> &BTreeSet<K> {
        &self.touched
    }

    pub fn into_inner(self) -> BTreeMap<K, V> {
        self.map
    }
}

impl<K: Ord + Clone, V> Deref for Tracked<K, V> {
    type Target = BTreeMap<K, V>;

    fn deref(&self) -> &BTreeMap<K, V> {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mutation_is_recorded_and_reads_see_the_map() {
        let base: BTreeMap<u32, &str> = [(1, "a"), (2, "b"), (3, "c"), (4, "d")].into();
        let mut t = Tracked::new(base);
        assert!(t.touched().is_empty());
        t.insert(5, "e");
        t.remove(&9);
        t.remove(&1);
        if let Some(v) = t.get_mut(&2) {
            *v = "B";
        }
        t.get_mut(&8);
        t.retain(|k, _| *k != 3);
        assert_eq!(t.touched(), &BTreeSet::from([1, 2, 3, 5]));
        assert_eq!(t.get(&2), Some(&"B"));
        assert_eq!(
            t.into_inner(),
            BTreeMap::from([(2, "B"), (4, "d"), (5, "e")])
        );
    }
}
