//! How one run spec's instances are classified at a moment: which count toward
//! `instances`, which are healthy, serving, replaced or still going away. Every decision
//! (steps, reconciliation) reads instances through these predicates, so they agree.

use crate::{Condition, Goal, Instance, RunSpec};

/// A run spec and the current time, to judge its instances.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Census<'a> {
    pub spec: &'a RunSpec,
    pub now: f64,
}

impl<'a> Census<'a> {
    pub fn new(spec: &'a RunSpec, now: f64) -> Self {
        Census { spec, now }
    }

    /// When it was reported unreachable (now if the service has not said).
    pub fn unreachable_since(&self, i: &Instance) -> f64 {
        i.unreachable_since.unwrap_or(self.now)
    }

    /// Unreachable for at least `inactive_after`, whether or not it is marked yet.
    pub fn inactive_due(&self, i: &Instance) -> bool {
        self.spec
            .unreachable
            .deadlines()
            .is_some_and(|(inactive, _)| self.now >= self.unreachable_since(i) + inactive)
    }

    /// Replaced because of unreachability: UnreachableInactive, Unreachable past
    /// `inactive_after`, or back from UnreachableInactive (see `Instance::unreachable_since`).
    pub fn replaced(&self, i: &Instance) -> bool {
        match i.condition {
            Condition::UnreachableInactive => true,
            Condition::Unreachable => self.inactive_due(i),
            c if c.is_terminal() => false,
            _ => i.unreachable_since.is_some() && self.spec.unreachable.deadlines().is_some(),
        }
    }

    /// Counts toward `instances` (Marathon: goal Running and not UnreachableInactive).
    pub fn counts(&self, i: &Instance) -> bool {
        i.goal == Goal::Running
            && !i.condition.is_terminal()
            && i.condition != Condition::Killing
            && !self.replaced(i)
    }

    /// Running and every health check passing; without health checks running is enough.
    pub fn healthy(&self, i: &Instance) -> bool {
        i.condition == Condition::Running && i.healthy.unwrap_or(!self.spec.has_health_checks)
    }

    /// Readiness checks passed, or there are none.
    pub fn ready(&self, i: &Instance) -> bool {
        i.ready || !self.spec.has_readiness_checks
    }

    /// Counted, healthy and ready: what a deployment waits for.
    pub fn serving(&self, i: &Instance) -> bool {
        self.counts(i) && self.healthy(i) && self.ready(i)
    }

    /// Told to go but not gone yet (a kill is still under way).
    pub fn lingering(&self, i: &Instance) -> bool {
        i.is_going_away() && !i.is_gone()
    }
}
