//! The agent table: registered agents in slots (a stable scan order for the placement
//! cursor) with an index by id, each with its allocations per framework, constraint scope
//! and role.

use crate::AgentInfo;
use crate::arith::saturating_sub;
use crate::scope::PerScope;
use keel_model::{AgentId, FrameworkId};
use keel_resources::Resources;
use std::collections::BTreeMap;

/// What one framework holds on one agent in one constraint scope under one role.
#[derive(Debug, Clone, Default)]
pub(crate) struct Grant {
    pub(crate) resources: Resources,
    /// Live allocations (tasks, offers) counted for placement constraints; at least 1 while
    /// `resources` is non-empty.
    pub(crate) count: u32,
}

/// One framework's grants on one agent in one constraint scope, by role.
pub(crate) type Roles = BTreeMap<String, Grant>;

/// Live allocation count of one scope's grants, over all its roles.
pub(crate) fn live_count(roles: &Roles) -> u32 {
    roles.values().map(|g| g.count).sum()
}

/// One registered agent.
#[derive(Debug, Clone)]
pub(crate) struct AgentState {
    pub(crate) info: AgentInfo,
    pub(crate) active: bool,
    pub(crate) allocated: Resources,
    pub(crate) free: Resources,
    pub(crate) grants: BTreeMap<FrameworkId, PerScope<Roles>>,
    /// `hostname` then each attribute as text, sorted by name after the first: what
    /// constraints compare against.
    pub(crate) fields: Vec<(String, String)>,
}

impl AgentState {
    pub(crate) fn new(info: AgentInfo) -> Self {
        let fields = fields_of(&info);
        Self {
            free: info.total.clone(),
            info,
            active: true,
            allocated: Resources::new(),
            grants: BTreeMap::new(),
            fields,
        }
    }

    /// Replaces the registration, keeping allocations.
    pub(crate) fn reregister(&mut self, info: AgentInfo) {
        self.fields = fields_of(&info);
        self.info = info;
        self.refresh_free();
    }

    /// Recomputes `free` from the total and the allocation.
    pub(crate) fn refresh_free(&mut self) {
        self.free = saturating_sub(&self.info.total, &self.allocated);
    }

    /// The value a constraint on `field` sees: the hostname for `hostname`, else the
    /// attribute's text.
    pub(crate) fn field(&self, field: &str) -> Option<&str> {
        if field == "hostname" || field == "@hostname" {
            return self.fields.first().map(|(_, v)| v.as_str());
        }
        let attrs = self.fields.get(1..).unwrap_or_default();
        attrs
            .binary_search_by(|(k, _)| k.as_str().cmp(field))
            .ok()
            .map(|i| attrs[i].1.as_str())
    }
}

fn fields_of(info: &AgentInfo) -> Vec<(String, String)> {
    let mut out = vec![("hostname".to_string(), info.hostname.clone())];
    out.extend(
        info.attributes
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string())),
    );
    out
}

/// Agents by slot, plus an index by id. Removed agents leave an empty slot until enough
/// accumulate to compact.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentTable {
    slots: Vec<Option<Box<AgentState>>>,
    index: BTreeMap<AgentId, usize>,
    empty: usize,
}

impl AgentTable {
    /// Number of slots (some may be empty).
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Number of registered agents.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn slot(&self, i: usize) -> Option<&AgentState> {
        self.slots.get(i).and_then(|s| s.as_deref())
    }

    pub(crate) fn slot_mut(&mut self, i: usize) -> Option<&mut AgentState> {
        self.slots.get_mut(i).and_then(|s| s.as_deref_mut())
    }

    pub(crate) fn slot_of(&self, id: &AgentId) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub(crate) fn get(&self, id: &AgentId) -> Option<&AgentState> {
        self.slot_of(id).and_then(|i| self.slot(i))
    }

    pub(crate) fn get_mut(&mut self, id: &AgentId) -> Option<&mut AgentState> {
        self.slot_of(id).and_then(|i| self.slot_mut(i))
    }

    /// Agents in id order.
    pub(crate) fn by_id(&self) -> impl Iterator<Item = &AgentState> {
        self.index.values().filter_map(|&i| self.slot(i))
    }

    /// Appends a new agent (the id must not be registered).
    pub(crate) fn insert(&mut self, state: AgentState) {
        self.index.insert(state.info.id.clone(), self.slots.len());
        self.slots.push(Some(Box::new(state)));
    }

    /// Removes an agent; returns it. Compacts when more than half the slots are empty,
    /// which renumbers slots (the returned flag says so).
    pub(crate) fn remove(&mut self, id: &AgentId) -> Option<(AgentState, bool)> {
        let i = self.index.remove(id)?;
        let state = self.slots.get_mut(i)?.take()?;
        self.empty += 1;
        let compact = self.empty > 64 && self.empty * 2 > self.slots.len();
        if compact {
            self.slots.retain(Option::is_some);
            self.empty = 0;
            for (i, s) in self.slots.iter().enumerate() {
                if let Some(s) = s {
                    self.index.insert(s.info.id.clone(), i);
                }
            }
        }
        Some((*state, compact))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_resources::Attributes;

    fn info(n: usize) -> AgentInfo {
        AgentInfo {
            id: AgentId::new(format!("a{n}")).unwrap_or_else(|e| panic!("{e}")),
            hostname: format!("h{n}"),
            attributes: Attributes::parse("rack:r1;level:3;zone:z").unwrap_or_default(),
            total: Resources::new().with_scalar("cpus", 1.0),
        }
    }

    #[test]
    fn fields_hostname_then_attributes() {
        let a = AgentState::new(info(1));
        assert_eq!(a.field("hostname"), Some("h1"));
        assert_eq!(a.field("rack"), Some("r1"));
        assert_eq!(a.field("level"), Some("3"));
        assert_eq!(a.field("zone"), Some("z"));
        assert_eq!(a.field("dc"), None);
    }

    #[test]
    fn remove_compacts_when_mostly_empty() {
        let mut t = AgentTable::default();
        for n in 0..200 {
            t.insert(AgentState::new(info(n)));
        }
        let mut compacted = false;
        for n in 0..150 {
            let id = info(n).id;
            let (_, c) = t
                .remove(&id)
                .unwrap_or_else(|| panic!("a{n} is registered"));
            compacted |= c;
        }
        assert!(compacted);
        assert_eq!(t.len(), 50);
        assert!(t.slot_count() < 200);
        let ids: Vec<String> = t.by_id().map(|a| a.info.id.to_string()).take(2).collect();
        assert_eq!(ids, ["a150", "a151"]);
        assert_eq!(
            t.get(&info(199).id).map(|a| a.info.hostname.as_str()),
            Some("h199")
        );
    }
}
