//! `Allocator`: the cluster's agents, who holds what on them, and the DRF sorters over
//! roles and frameworks. Batches (`allocate`) live in `batch.rs`, offer cycles in
//! `offers.rs`; this file keeps the bookkeeping every entry point shares.

use crate::agents::{AgentState, AgentTable, live_count};
use crate::arith::{
    Scalars, add_into, add_scalars, intersect, saturating_sub, sub_from, sub_scalars,
};
use crate::constraints::Tally;
use crate::drf::Sorter;
use crate::scope::PerScope;
use crate::{AgentInfo, AllocatorError};
use keel_model::{AgentId, FrameworkId};
use keel_resources::Resources;
use std::collections::BTreeMap;

/// Keel's hierarchical DRF allocator. Pure: state in, decisions out.
#[derive(Debug, Clone, Default)]
pub struct Allocator {
    pub(crate) agents: AgentTable,
    /// Scalar totals of all registered agents (the DRF denominators).
    pub(crate) totals: Scalars,
    pub(crate) roles: Sorter,
    /// Framework sorter per role.
    pub(crate) frameworks: BTreeMap<String, Sorter>,
    /// Live allocations per framework, constraint scope and field value, for UNIQUE /
    /// MAX_PER / GROUP_BY. Absent when zero.
    pub(crate) tallies: BTreeMap<FrameworkId, PerScope<Tally>>,
    /// Slot where the next placement search starts.
    pub(crate) cursor: usize,
}

impl Allocator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an agent, or replaces its registration (re-registration) keeping what is
    /// allocated on it. The agent is active afterwards.
    pub fn add_agent(&mut self, info: AgentInfo) {
        add_scalars(&mut self.totals, &info.total.scalars);
        let Some(agent) = self.agents.get_mut(&info.id) else {
            self.agents.insert(AgentState::new(info));
            return;
        };
        sub_scalars(&mut self.totals, &agent.info.total.scalars);
        let old_fields = agent.fields.clone();
        agent.reregister(info);
        agent.active = true;
        for (fw, scopes) in &agent.grants {
            let tallies = self.tallies.entry(fw.clone()).or_default();
            for (scope, roles) in scopes.iter() {
                let count = i64::from(live_count(roles));
                tallies.update(scope, |t| {
                    t.adjust(&old_fields, -count);
                    t.adjust(&agent.fields, count);
                });
            }
        }
    }

    /// Forgets an agent and everything allocated on it.
    pub fn remove_agent(&mut self, id: &AgentId) {
        let Some((agent, renumbered)) = self.agents.remove(id) else {
            return;
        };
        if renumbered {
            self.cursor = 0;
        }
        sub_scalars(&mut self.totals, &agent.info.total.scalars);
        for (fw, scopes) in &agent.grants {
            for (scope, roles) in scopes.iter() {
                for (role, grant) in roles {
                    self.unaccount(fw, role, &grant.resources.scalars);
                }
                self.retally(fw, scope, &agent.fields, -i64::from(live_count(roles)));
            }
        }
    }

    /// Inactive agents receive neither placements nor offers. Unknown agents are ignored.
    pub fn set_agent_active(&mut self, id: &AgentId, active: bool) {
        if let Some(agent) = self.agents.get_mut(id) {
            agent.active = active;
        }
    }

    /// Sets a role's DRF weight (default 1.0).
    pub fn set_weight(&mut self, role: &str, weight: f64) -> Result<(), AllocatorError> {
        if !(weight.is_finite() && weight > 0.0) {
            return Err(AllocatorError::InvalidWeight {
                role: role.to_string(),
                weight,
            });
        }
        self.roles.set_weight(role, weight, &self.totals);
        Ok(())
    }

    /// A role's DRF weight.
    pub fn weight(&self, role: &str) -> f64 {
        self.roles.weight(role)
    }

    /// Records resources a running task already uses (recovery after failover), as one
    /// live allocation of `framework` in constraint `scope` (`None`: the framework alone).
    /// Refused, with nothing changed, if the agent is unknown or the resources are not free
    /// there.
    pub fn allocate_used(
        &mut self,
        agent: &AgentId,
        framework: &FrameworkId,
        role: &str,
        resources: &Resources,
        scope: Option<&str>,
    ) -> Result<(), AllocatorError> {
        let slot = self
            .agents
            .slot_of(agent)
            .ok_or_else(|| AllocatorError::UnknownAgent { id: agent.clone() })?;
        let free = self
            .agents
            .slot(slot)
            .map(|a| a.free.clone())
            .unwrap_or_default();
        let granted =
            free.contains(resources) && self.grant(slot, framework, role, resources.clone(), scope);
        if !granted {
            return Err(AllocatorError::OverCommit {
                agent: agent.clone(),
                resources: Box::new(resources.clone()),
                free: Box::new(free),
            });
        }
        Ok(())
    }

    /// Gives back resources (a task ended, an offer was declined): one live allocation of
    /// `framework` in constraint `scope` ends, unless resources of that grant remain (a
    /// partial recovery keeps counting). Only what `framework` holds on the agent in
    /// `scope` under `role` is taken back; the rest, and unknown agents, are ignored.
    pub fn recover(
        &mut self,
        agent: &AgentId,
        framework: &FrameworkId,
        role: &str,
        resources: &Resources,
        scope: Option<&str>,
    ) {
        let Some(state) = self.agents.get_mut(agent) else {
            return;
        };
        let Some(scopes) = state.grants.get_mut(framework) else {
            return;
        };
        let Some(roles) = scopes.get_mut(scope) else {
            return;
        };
        let Some(grant) = roles.get_mut(role) else {
            return;
        };
        let taken = intersect(&grant.resources, resources);
        if taken.is_empty() {
            return;
        }
        grant.resources = saturating_sub(&grant.resources, &taken);
        let old = grant.count;
        grant.count = if grant.resources.is_empty() {
            0
        } else {
            old.saturating_sub(1).max(1)
        };
        let delta = i64::from(grant.count) - i64::from(old);
        if grant.resources.is_empty() {
            roles.remove(role);
        }
        if roles.is_empty() {
            scopes.remove(scope);
        }
        if scopes.is_empty() {
            state.grants.remove(framework);
        }
        state.allocated = saturating_sub(&state.allocated, &taken);
        state.refresh_free();
        let fields = state.fields.clone();
        self.retally(framework, scope, &fields, delta);
        self.unaccount(framework, role, &taken.scalars);
    }

    /// Gives back everything `framework` holds, in every scope, and forgets its shares and
    /// tallies.
    pub fn remove_framework(&mut self, framework: &FrameworkId) {
        for slot in 0..self.agents.slot_count() {
            let Some(state) = self.agents.slot_mut(slot) else {
                continue;
            };
            let Some(scopes) = state.grants.remove(framework) else {
                continue;
            };
            for (role, grant) in scopes.values().flatten() {
                state.allocated = saturating_sub(&state.allocated, &grant.resources);
                self.roles.sub(role, &grant.resources.scalars, &self.totals);
            }
            state.refresh_free();
        }
        for sorter in self.frameworks.values_mut() {
            sorter.remove(framework.as_str(), &self.totals);
        }
        self.tallies.remove(framework);
    }

    /// An agent's free resources.
    pub fn free(&self, agent: &AgentId) -> Option<Resources> {
        self.agents.get(agent).map(|a| a.free.clone())
    }

    /// What `framework` holds on `agent` in constraint `scope` under `role`.
    pub fn allocation(
        &self,
        agent: &AgentId,
        framework: &FrameworkId,
        role: &str,
        scope: Option<&str>,
    ) -> Option<&Resources> {
        self.agents
            .get(agent)?
            .grants
            .get(framework)?
            .get(scope)?
            .get(role)
            .map(|g| &g.resources)
    }

    /// Live allocations of `framework` in constraint `scope` on agents whose `field`
    /// (`hostname` or an attribute) is `value`: what UNIQUE, MAX_PER and GROUP_BY compare.
    pub fn tally(
        &self,
        framework: &FrameworkId,
        scope: Option<&str>,
        field: &str,
        value: &str,
    ) -> u32 {
        self.tally_of(framework, scope)
            .map_or(0, |t| t.count(field, value))
    }

    /// A role's weighted dominant share (including its sub-roles `role/...`).
    pub fn dominant_share(&self, role: &str) -> f64 {
        self.roles.share(role, &self.totals)
    }

    /// A framework's dominant share within `role` (frameworks are not weighted).
    pub fn framework_share(&self, role: &str, framework: &FrameworkId) -> f64 {
        self.frameworks
            .get(role)
            .map_or(0.0, |s| s.share(framework.as_str(), &self.totals))
    }

    /// Registered agents in id order, each with what is allocated on it.
    pub fn agents(&self) -> impl Iterator<Item = (&AgentInfo, &Resources)> {
        self.agents.by_id().map(|a| (&a.info, &a.allocated))
    }

    /// Whether an agent is registered and active.
    pub fn is_active(&self, agent: &AgentId) -> Option<bool> {
        self.agents.get(agent).map(|a| a.active)
    }

    /// The tally of `framework` in `scope`, if it counts anything.
    pub(crate) fn tally_of(&self, framework: &FrameworkId, scope: Option<&str>) -> Option<&Tally> {
        self.tallies.get(framework)?.get(scope)
    }

    /// Moves `resources` from the agent's free to `framework`'s allocation under `role`, as
    /// one more live allocation in `scope`. Refuses (returns false, nothing changed) unless
    /// they are free: the over-commit guard.
    pub(crate) fn grant(
        &mut self,
        slot: usize,
        framework: &FrameworkId,
        role: &str,
        resources: Resources,
        scope: Option<&str>,
    ) -> bool {
        let Some(state) = self.agents.slot_mut(slot) else {
            return false;
        };
        if !sub_from(&mut state.free, &resources) {
            return false;
        }
        add_into(&mut state.allocated, &resources);
        let scopes = match state.grants.get_mut(framework) {
            Some(s) => s,
            None => state.grants.entry(framework.clone()).or_default(),
        };
        scopes.update(scope, |roles| {
            let grant = match roles.get_mut(role) {
                Some(g) => g,
                None => roles.entry(role.to_string()).or_default(),
            };
            add_into(&mut grant.resources, &resources);
            grant.count += 1;
        });
        let fields = &state.fields;
        let tallies = match self.tallies.get_mut(framework) {
            Some(t) => t,
            None => self.tallies.entry(framework.clone()).or_default(),
        };
        tallies.update(scope, |t| t.adjust(fields, 1));
        self.roles.add(role, &resources.scalars, &self.totals);
        if !self.frameworks.contains_key(role) {
            self.frameworks.insert(role.to_string(), Sorter::default());
        }
        if let Some(sorter) = self.frameworks.get_mut(role) {
            sorter.add(framework.as_str(), &resources.scalars, &self.totals);
        }
        true
    }

    /// Takes `scalars` off the role's and the framework's share.
    fn unaccount(&mut self, framework: &FrameworkId, role: &str, scalars: &Scalars) {
        self.roles.sub(role, scalars, &self.totals);
        if let Some(sorter) = self.frameworks.get_mut(role) {
            sorter.sub(framework.as_str(), scalars, &self.totals);
        }
    }

    /// Adds `delta` allocations of `framework` in `scope` on an agent with these `fields`,
    /// dropping tallies that reach zero.
    fn retally(
        &mut self,
        framework: &FrameworkId,
        scope: Option<&str>,
        fields: &[(String, String)],
        delta: i64,
    ) {
        let Some(scopes) = self.tallies.get_mut(framework) else {
            return;
        };
        if let Some(t) = scopes.get_mut(scope) {
            t.adjust(fields, delta);
            if t.is_empty() {
                scopes.remove(scope);
            }
        }
        if scopes.is_empty() {
            self.tallies.remove(framework);
        }
    }
}
