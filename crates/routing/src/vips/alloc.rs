//! The address range of named VIPs (`--vip-range CIDR`) and the allocation of addresses in
//! it: the lowest free address, never one already held by another name or an IP VIP.
//! Allocations are kept (the service persists them), so a name keeps its address across
//! restarts and as other VIPs come and go.

use core::net::Ipv4Addr;
use std::collections::{BTreeMap, BTreeSet};

/// An IPv4 range in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VipRange {
    network: u32,
    prefix: u8,
}

/// Why a `--vip-range` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("VIP range {input:?}: {why}")]
pub struct RangeError {
    pub input: String,
    pub why: &'static str,
}

impl VipRange {
    /// Parses `a.b.c.d/n` (n in 8..=30, so the range has usable addresses).
    pub fn parse(s: &str) -> Result<VipRange, RangeError> {
        let err = |why| RangeError {
            input: s.to_string(),
            why,
        };
        let (ip, prefix) = s.split_once('/').ok_or_else(|| err("expected a.b.c.d/n"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| err("not an IPv4 address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| err("prefix is not a number"))?;
        if !(8..=30).contains(&prefix) {
            return Err(err("prefix must be between 8 and 30"));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(VipRange {
            network: u32::from(ip) & mask,
            prefix,
        })
    }

    fn size(self) -> u32 {
        1u32 << (32 - self.prefix)
    }

    /// Whether `ip` is one of the range's usable addresses (not the network or broadcast).
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        ip > self.network && ip - self.network < self.size() - 1
    }

    /// The usable addresses, lowest first.
    fn hosts(self) -> impl Iterator<Item = Ipv4Addr> {
        (1..self.size() - 1).map(move |i| Ipv4Addr::from(self.network + i))
    }
}

impl std::fmt::Display for VipRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

/// A named VIP's key: (framework name, VIP name as written, e.g. `/myapp`).
pub type NameKey = (String, String);

/// The outcome of [`allocate`]: new allocations to persist, and names left without one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    pub new: BTreeMap<NameKey, Ipv4Addr>,
    pub exhausted: BTreeSet<NameKey>,
}

/// Gives each name in `wanted` without a (valid) address in `held` the lowest free
/// address of `range`, skipping those in `held` and `taken` (IP VIPs' addresses). A held
/// address outside the range (the range changed) is replaced.
pub fn allocate(
    range: VipRange,
    held: &BTreeMap<NameKey, Ipv4Addr>,
    taken: &BTreeSet<Ipv4Addr>,
    wanted: &BTreeSet<NameKey>,
) -> Allocation {
    let mut out = Allocation::default();
    let needing: Vec<&NameKey> = wanted
        .iter()
        .filter(|k| !held.get(*k).is_some_and(|ip| range.contains(*ip)))
        .collect();
    if needing.is_empty() {
        return out;
    }
    let used: BTreeSet<Ipv4Addr> = held.values().chain(taken.iter()).copied().collect();
    let mut free = range.hosts().filter(|ip| !used.contains(ip));
    for k in needing {
        match free.next() {
            Some(ip) => {
                out.new.insert(k.clone(), ip);
            }
            None => {
                out.exhausted.insert(k.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &str) -> NameKey {
        ("marathon".to_string(), n.to_string())
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().expect("ip")
    }

    #[test]
    fn ranges_parse_and_exclude_network_and_broadcast() {
        let r = VipRange::parse("127.77.0.9/16").expect("parses");
        assert_eq!(r.to_string(), "127.77.0.0/16");
        assert!(!r.contains(ip("127.77.0.0")));
        assert!(r.contains(ip("127.77.0.1")));
        assert!(r.contains(ip("127.77.255.254")));
        assert!(!r.contains(ip("127.77.255.255")));
        assert!(!r.contains(ip("127.78.0.1")));
        for bad in ["127.0.0.1", "x/16", "127.0.0.0/31", "127.0.0.0/4", "::1/64"] {
            assert!(VipRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_get_the_lowest_free_address_and_keep_it() {
        let r = VipRange::parse("127.77.0.0/29").expect("range");
        let mut held = BTreeMap::new();
        held.insert(key("/b"), ip("127.77.0.2"));
        let taken = BTreeSet::from([ip("127.77.0.1")]);
        let wanted = BTreeSet::from([key("/a"), key("/b"), key("/c")]);
        let a = allocate(r, &held, &taken, &wanted);
        assert_eq!(
            a.new,
            BTreeMap::from([(key("/a"), ip("127.77.0.3")), (key("/c"), ip("127.77.0.4"))])
        );
        // /a goes away and comes back: its held address stays, nothing new is given.
        held.extend(a.new);
        let again = allocate(r, &held, &taken, &BTreeSet::from([key("/c")]));
        assert_eq!(again, Allocation::default());
    }

    #[test]
    fn an_address_outside_a_changed_range_is_replaced_and_exhaustion_is_reported() {
        let r = VipRange::parse("127.77.0.0/30").expect("range"); // .1 and .2
        let held = BTreeMap::from([(key("/old"), ip("10.0.0.1"))]);
        let wanted = BTreeSet::from([key("/old"), key("/x"), key("/y")]);
        let a = allocate(r, &held, &BTreeSet::new(), &wanted);
        assert_eq!(a.new.get(&key("/old")), Some(&ip("127.77.0.1")));
        assert_eq!(a.new.get(&key("/x")), Some(&ip("127.77.0.2")));
        assert_eq!(a.exhausted, BTreeSet::from([key("/y")]));
    }
}
