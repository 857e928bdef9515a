//! The DRF sorter (Mesos `sorter/drf`): orders clients (roles, or the frameworks of one
//! role) by weighted dominant share, then number of allocations, then name.
//!
//! Names form a tree by `/` (`eng/backend` is a child of `eng`). A node's share counts its
//! whole subtree; siblings are compared with each other, so a client's sort key is the list
//! of its ancestors' keys from the top, ending with the client's own allocation (Mesos's
//! virtual `.` leaf). Flat names (all frameworks, most roles) are the one-level case.
//!
//! Only *active* clients are sorted; a batch activates the clients it has work for and
//! clears them at the end, so the ordered set is rebuilt per batch and kept up to date
//! incrementally as allocations change.

use crate::arith::{Scalars, add_scalars, sub_scalars};
use keel_resources::EPSILON;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// A share, totally ordered.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Share(f64);

impl Eq for Share {}

impl PartialOrd for Share {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Share {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One level of a sort key: (weighted share, allocation count, name). The client's own
/// leaf carries the client's name, which ties before its children's (`eng` < `eng/x`), and
/// makes the whole key unique.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Level {
    share: Share,
    count: u64,
    name: String,
}

type SortKey = Vec<Level>;

#[derive(Debug, Clone, Default)]
struct Node {
    own: Scalars,
    own_count: u64,
    subtree: Scalars,
    subtree_count: u64,
}

/// Allocations and weights of a set of clients, plus the order of the active ones.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sorter {
    nodes: BTreeMap<String, Node>,
    weights: BTreeMap<String, f64>,
    active: BTreeMap<String, SortKey>,
    order: BTreeSet<SortKey>,
}

/// `max_r alloc_r / total_r` over resources with a non-zero total, divided by `weight`.
pub(crate) fn dominant_share(alloc: &Scalars, totals: &Scalars, weight: f64) -> f64 {
    let mut share = 0.0f64;
    for (name, v) in alloc {
        if let Some(t) = totals.get(name).filter(|t| **t > EPSILON / 2.0) {
            share = share.max(v / t);
        }
    }
    share / weight
}

/// `a`, `a/b`, `a/b/c` for `a/b/c`.
fn prefixes(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('/')
        .map(move |(i, _)| &name[..i])
        .chain(std::iter::once(name))
}

fn top_segment(name: &str) -> &str {
    name.split('/').next().unwrap_or(name)
}

impl Sorter {
    /// The weight of `name` (1.0 unless set).
    pub(crate) fn weight(&self, name: &str) -> f64 {
        self.weights.get(name).copied().unwrap_or(1.0)
    }

    /// Sets a weight (validated by the caller).
    pub(crate) fn set_weight(&mut self, name: &str, weight: f64, totals: &Scalars) {
        self.weights.insert(name.to_string(), weight);
        self.refresh_family(name, totals);
    }

    /// Weighted share of `name`'s subtree; 0 for unknown names.
    pub(crate) fn share(&self, name: &str, totals: &Scalars) -> f64 {
        self.nodes.get(name).map_or(0.0, |n| {
            dominant_share(&n.subtree, totals, self.weight(name))
        })
    }

    /// Records that `client` was allocated `r` (one more allocation for the tie-break).
    pub(crate) fn add(&mut self, client: &str, r: &Scalars, totals: &Scalars) {
        for p in prefixes(client) {
            self.ensure(p);
            if let Some(node) = self.nodes.get_mut(p) {
                add_scalars(&mut node.subtree, r);
                node.subtree_count += 1;
            }
        }
        if let Some(node) = self.nodes.get_mut(client) {
            add_scalars(&mut node.own, r);
            node.own_count += 1;
        }
        self.refresh_family(client, totals);
    }

    /// Records that `client` gave `r` back.
    pub(crate) fn sub(&mut self, client: &str, r: &Scalars, totals: &Scalars) {
        for p in prefixes(client) {
            if let Some(node) = self.nodes.get_mut(p) {
                sub_scalars(&mut node.subtree, r);
            }
        }
        if let Some(node) = self.nodes.get_mut(client) {
            sub_scalars(&mut node.own, r);
        }
        self.refresh_family(client, totals);
    }

    /// Forgets `client` and its allocation entirely.
    pub(crate) fn remove(&mut self, client: &str, totals: &Scalars) {
        let Some(node) = self.nodes.get(client) else {
            return;
        };
        let (own, count) = (node.own.clone(), node.own_count);
        for p in prefixes(client) {
            if let Some(n) = self.nodes.get_mut(p) {
                sub_scalars(&mut n.subtree, &own);
                n.subtree_count = n.subtree_count.saturating_sub(count);
            }
        }
        self.deactivate(client);
        let has_children = self
            .nodes
            .range::<str, _>((Bound::Excluded(client), Bound::Unbounded))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(client))
            .any(|k| k[client.len()..].starts_with('/'));
        if has_children {
            if let Some(n) = self.nodes.get_mut(client) {
                n.own.clear();
                n.own_count = 0;
            }
        } else {
            self.nodes.remove(client);
        }
        self.refresh_family(client, totals);
    }

    /// Adds `client` to the sorted set.
    pub(crate) fn activate(&mut self, client: &str, totals: &Scalars) {
        for p in prefixes(client) {
            self.ensure(p);
        }
        self.resort(client, totals);
    }

    /// Removes `client` from the sorted set (its allocation is kept).
    pub(crate) fn deactivate(&mut self, client: &str) {
        if let Some(key) = self.active.remove(client) {
            self.order.remove(&key);
        }
    }

    /// Empties the sorted set.
    pub(crate) fn clear_active(&mut self) {
        self.active.clear();
        self.order.clear();
    }

    /// The active client that goes first.
    pub(crate) fn first(&self) -> Option<&str> {
        self.order
            .first()
            .and_then(|key| key.last())
            .map(|level| level.name.as_str())
    }

    fn ensure(&mut self, name: &str) {
        if !self.nodes.contains_key(name) {
            self.nodes.insert(name.to_string(), Node::default());
        }
    }

    fn key(&self, client: &str, totals: &Scalars) -> SortKey {
        let mut key = Vec::with_capacity(2);
        for p in prefixes(client) {
            let node = self.nodes.get(p);
            let share = node.map_or(0.0, |n| dominant_share(&n.subtree, totals, self.weight(p)));
            let count = node.map_or(0, |n| n.subtree_count);
            key.push(Level {
                share: Share(share),
                count,
                name: p.to_string(),
            });
        }
        let node = self.nodes.get(client);
        let share = node.map_or(0.0, |n| dominant_share(&n.own, totals, self.weight(client)));
        let count = node.map_or(0, |n| n.own_count);
        key.push(Level {
            share: Share(share),
            count,
            name: client.to_string(),
        });
        key
    }

    /// Recomputes the key of an active (or to-be-active) client.
    fn resort(&mut self, client: &str, totals: &Scalars) {
        let key = self.key(client, totals);
        let old = match self.active.get_mut(client) {
            Some(slot) => Some(std::mem::replace(slot, key.clone())),
            None => self.active.insert(client.to_string(), key.clone()),
        };
        if let Some(old) = old {
            self.order.remove(&old);
        }
        self.order.insert(key);
    }

    /// Re-sorts every active client whose key may depend on `name`'s subtree: all those in
    /// the same top-level tree.
    fn refresh_family(&mut self, name: &str, totals: &Scalars) {
        if self.active.is_empty() {
            return;
        }
        let top = top_segment(name);
        if top == name && !self.has_active_children(name) {
            if self.active.contains_key(name) {
                self.resort(name, totals);
            }
            return;
        }
        let family: Vec<String> = self
            .active
            .range::<str, _>((Bound::Included(top), Bound::Unbounded))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(top))
            .filter(|k| k.len() == top.len() || k.as_bytes()[top.len()] == b'/')
            .cloned()
            .collect();
        for client in family {
            self.resort(&client, totals);
        }
    }
}

impl Sorter {
    fn has_active_children(&self, name: &str) -> bool {
        self.active
            .range::<str, _>((Bound::Excluded(name), Bound::Unbounded))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(name))
            .any(|k| k[name.len()..].starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalars(s: &str) -> Scalars {
        keel_resources::Resources::parse(s)
            .unwrap_or_default()
            .scalars
    }

    /// Activates `clients`, applies `allocs` ("name cpus:1;mem:2"), and renders the order in
    /// which `first()` would serve them (each popped after being served).
    fn check(weights: &[(&str, f64)], allocs: &[&str], clients: &[&str], expect: &str) {
        let totals = scalars("cpus:10;mem:100");
        let mut s = Sorter::default();
        for (n, w) in weights {
            s.set_weight(n, *w, &totals);
        }
        for a in allocs {
            let (name, r) = a.split_once(' ').unwrap_or((a, ""));
            s.add(name, &scalars(r), &totals);
        }
        for c in clients {
            s.activate(c, &totals);
        }
        let mut got = Vec::new();
        while let Some(c) = s.first().map(str::to_string) {
            got.push(format!("{c}={:.2}", s.share(&c, &totals)));
            s.deactivate(&c);
        }
        assert_eq!(got.join(" "), expect);
    }

    #[test]
    fn orders_by_share_then_count_then_name() {
        check(
            &[],
            &["a cpus:5", "b mem:20"],
            &["a", "b", "c"],
            "c=0.00 b=0.20 a=0.50",
        );
        check(
            &[],
            &["b cpus:1", "a cpus:0.5", "a cpus:0.5"],
            &["a", "b"],
            "b=0.10 a=0.10",
        );
        check(&[], &[], &["z", "y"], "y=0.00 z=0.00");
        check(
            &[("a", 4.0)],
            &["a cpus:4", "b cpus:2"],
            &["a", "b"],
            "a=0.10 b=0.20",
        );
    }

    #[test]
    fn hierarchical_roles_compare_subtrees() {
        // eng's subtree holds 6 cpus, so ops (2) goes first even though eng/web has 1.
        check(
            &[],
            &["eng/api cpus:5", "eng/web cpus:1", "ops cpus:2"],
            &["eng/web", "ops"],
            "ops=0.20 eng/web=0.10",
        );
        // Inside eng, eng's own allocation is a sibling of its children.
        check(
            &[],
            &["eng cpus:3", "eng/web cpus:1"],
            &["eng", "eng/web"],
            "eng/web=0.10 eng=0.40",
        );
    }

    #[test]
    fn updates_reorder_active_clients() {
        let totals = scalars("cpus:10");
        let mut s = Sorter::default();
        s.activate("a", &totals);
        s.activate("b", &totals);
        assert_eq!(s.first(), Some("a"));
        s.sub("a", &Scalars::new(), &totals); // an unchanged key stays sorted
        assert_eq!(s.first(), Some("a"));
        s.add("a", &scalars("cpus:1"), &totals);
        assert_eq!(s.first(), Some("b"));
        s.sub("a", &scalars("cpus:1"), &totals);
        s.add("b", &scalars("cpus:1"), &totals);
        assert_eq!(s.first(), Some("a"));
        s.remove("b", &totals);
        assert_eq!(s.first(), Some("a"));
        assert!(!s.nodes.contains_key("b"));
        s.clear_active();
        assert!(s.active.is_empty() && s.first().is_none());
    }
}
