//! Resource helpers beyond `keel_resources`: scalar maps for the sorters, intersection and
//! saturating subtraction for recovery, and Mesos's minimum allocatable check.

use keel_resources::{EPSILON, Resources};
use std::collections::{BTreeMap, BTreeSet};

/// Named scalar quantities (what DRF shares are computed from).
pub(crate) type Scalars = BTreeMap<String, f64>;

/// Rounds to Mesos's fixed-point precision of 0.001, as `Resources` does.
fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Adds `delta` (possibly negative) to `name`, dropping entries that reach zero.
fn bump(into: &mut Scalars, name: &str, delta: f64) {
    if let Some(v) = into.get_mut(name) {
        *v = round(*v + delta);
        if *v <= EPSILON / 2.0 {
            into.remove(name);
        }
    } else if delta > EPSILON / 2.0 {
        into.insert(name.to_string(), round(delta));
    }
}

/// `into += other`.
pub(crate) fn add_scalars(into: &mut Scalars, other: &Scalars) {
    for (k, v) in other {
        bump(into, k, *v);
    }
}

/// `into -= other`, flooring at zero.
pub(crate) fn sub_scalars(into: &mut Scalars, other: &Scalars) {
    for (k, v) in other {
        bump(into, k, -*v);
    }
}

/// `into += r` in place; the same result as `Resources::add`.
pub(crate) fn add_into(into: &mut Resources, r: &Resources) {
    add_scalars(&mut into.scalars, &r.scalars);
    for (k, v) in r.ranges.iter().filter(|(_, v)| !v.is_empty()) {
        match into.ranges.get_mut(k) {
            Some(mine) => *mine = mine.add(v),
            None => {
                into.ranges.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, s) in r.sets.iter().filter(|(_, s)| !s.is_empty()) {
        into.sets
            .entry(k.clone())
            .or_default()
            .extend(s.iter().cloned());
    }
}

/// `into -= r` in place if `into` contains `r` (the same result as
/// `Resources::checked_sub`); otherwise false and `into` is unchanged.
pub(crate) fn sub_from(into: &mut Resources, r: &Resources) -> bool {
    if !into.contains(r) {
        return false;
    }
    sub_scalars(&mut into.scalars, &r.scalars);
    for (k, v) in &r.ranges {
        if let Some(mine) = into.ranges.get_mut(k) {
            *mine = mine.subtract(v);
            if mine.is_empty() {
                into.ranges.remove(k);
            }
        }
    }
    for (k, s) in &r.sets {
        if let Some(mine) = into.sets.get_mut(k) {
            mine.retain(|x| !s.contains(x));
            if mine.is_empty() {
                into.sets.remove(k);
            }
        }
    }
    true
}

/// What `a` and `b` have in common.
pub(crate) fn intersect(a: &Resources, b: &Resources) -> Resources {
    let mut out = Resources::new();
    for (k, v) in &a.scalars {
        out = out.with_scalar(k, v.min(b.scalar(k)));
    }
    for (k, r) in &a.ranges {
        if let Some(o) = b.ranges.get(k) {
            out = out.with_ranges(k, r.subtract(&r.subtract(o)));
        }
    }
    for (k, s) in &a.sets {
        if let Some(o) = b.sets.get(k) {
            let common: BTreeSet<String> = s.intersection(o).cloned().collect();
            if !common.is_empty() {
                out.sets.insert(k.clone(), common);
            }
        }
    }
    out
}

/// `a - b`, dropping whatever of `b` is not in `a`.
pub(crate) fn saturating_sub(a: &Resources, b: &Resources) -> Resources {
    a.checked_sub(&intersect(a, b)).unwrap_or_else(|| a.clone())
}

/// Mesos's default `--min_allocatable_resources` (`cpus:0.01|mem:32`): an offer is made only
/// if it holds at least one of these.
pub(crate) fn allocatable(r: &Resources) -> bool {
    r.cpus() + EPSILON / 2.0 >= 0.01 || r.mem() + EPSILON / 2.0 >= 32.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(s: &str) -> Resources {
        Resources::parse(s).unwrap_or_default()
    }

    #[test]
    fn intersect_and_saturating_sub() {
        let a = res("cpus:2;mem:100;ports:[1-10];s:{x,y}");
        let b = res("cpus:3;disk:5;ports:[5-20];s:{y,z}");
        assert_eq!(intersect(&a, &b).to_string(), "cpus:2;ports:[5-10];s:{y}");
        assert_eq!(
            saturating_sub(&a, &b).to_string(),
            "mem:100;ports:[1-4];s:{x}"
        );
    }

    #[test]
    fn scalar_maps_drop_zeroes() {
        let mut m = Scalars::new();
        add_scalars(&mut m, &res("cpus:0.1;mem:32").scalars);
        add_scalars(&mut m, &res("cpus:0.2").scalars);
        assert_eq!(m.get("cpus"), Some(&0.3));
        sub_scalars(&mut m, &res("cpus:0.3;mem:64").scalars);
        assert!(m.is_empty());
    }

    #[test]
    fn in_place_matches_resources() {
        let a = res("cpus:2.5;mem:100;ports:[1-10];s:{x,y}");
        let b = res("cpus:0.1;mem:100;ports:[3-4];s:{x}");
        let mut x = a.clone();
        assert!(sub_from(&mut x, &b));
        assert_eq!(Some(x.clone()), a.checked_sub(&b));
        assert!(!sub_from(&mut x, &b));
        add_into(&mut x, &b);
        assert_eq!(x, a);
        add_into(&mut x, &res("disk:1;ports:[20-21]"));
        assert_eq!(x, a.add(&res("disk:1;ports:[20-21]")));
    }

    #[test]
    fn min_allocatable() {
        assert!(allocatable(&res("cpus:0.01")));
        assert!(allocatable(&res("mem:32")));
        assert!(!allocatable(&res("mem:31;disk:100;ports:[1-5]")));
    }
}
