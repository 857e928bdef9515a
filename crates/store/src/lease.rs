//! Lease deadlines, kept in memory against the injected clock's monotonic time.
//!
//! Backends persist only each lease's TTL. On open every lease gets a fresh deadline of
//! `now + ttl` (what etcd does when a leader takes over), so a restart never expires a lease
//! whose holder did not get a chance to keep it alive.

use crate::kv::LeaseId;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct Deadline {
    ttl: Duration,
    at: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct LeaseClock {
    leases: BTreeMap<LeaseId, Deadline>,
}

impl LeaseClock {
    /// Deadlines for leases loaded from storage, all starting now.
    pub(crate) fn restore(leases: Vec<(LeaseId, Duration)>, now: Duration) -> Self {
        let mut clock = Self::default();
        for (id, ttl) in leases {
            clock.start(id, ttl, now);
        }
        clock
    }

    /// Starts (or restarts) `id`'s countdown.
    pub(crate) fn start(&mut self, id: LeaseId, ttl: Duration, now: Duration) {
        self.leases.insert(
            id,
            Deadline {
                ttl,
                at: now.saturating_add(ttl),
            },
        );
    }

    /// Restarts the countdown of a live lease; false if it is unknown or past its deadline.
    pub(crate) fn renew(&mut self, id: LeaseId, now: Duration) -> bool {
        match self.leases.get_mut(&id) {
            Some(d) if d.at > now => {
                d.at = now.saturating_add(d.ttl);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn is_live(&self, id: LeaseId, now: Duration) -> bool {
        self.leases.get(&id).is_some_and(|d| d.at > now)
    }

    pub(crate) fn remove(&mut self, id: LeaseId) {
        self.leases.remove(&id);
    }

    /// Leases at or past their deadline, in id order.
    pub(crate) fn expired(&self, now: Duration) -> Vec<LeaseId> {
        self.leases
            .iter()
            .filter(|(_, d)| d.at <= now)
            .map(|(id, _)| *id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn expires_at_deadline_and_renew_extends() {
        let mut c = LeaseClock::default();
        c.start(LeaseId(1), 10 * S, Duration::ZERO);
        c.start(LeaseId(2), 20 * S, Duration::ZERO);
        assert!(c.renew(LeaseId(1), 5 * S));
        assert_eq!(c.expired(14 * S), vec![]);
        assert_eq!(c.expired(15 * S), vec![LeaseId(1)]);
        assert!(!c.renew(LeaseId(1), 15 * S), "past its deadline");
        assert!(c.is_live(LeaseId(2), 15 * S));
        assert!(!c.renew(LeaseId(9), Duration::ZERO), "unknown");
    }
}
