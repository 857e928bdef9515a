//! One Mesos-style offer cycle (stage 2 of the hierarchical allocator, without quota or
//! filters): active agents in seeded random order; each agent's free resources go, whole,
//! to the lowest framework of the lowest role, and count as allocated at once (one live
//! allocation in the framework's own constraint scope, `None`).

use crate::arith::allocatable;
use crate::rng::shuffle;
use crate::{Allocator, Offer};
use keel_model::FrameworkId;
use std::collections::BTreeMap;

impl Allocator {
    /// Offers every active agent's free resources (if at least Mesos's minimum allocatable,
    /// `cpus:0.01` or `mem:32`) to the framework with the lowest DRF share: role order,
    /// then framework order within the role. A framework may be listed under several roles.
    /// Offered resources stay allocated, in constraint scope `None`, until
    /// [`Allocator::recover`]ed.
    pub fn generate_offers(
        &mut self,
        frameworks: &[(FrameworkId, String)],
        seed: u64,
    ) -> Vec<Offer> {
        let mut offers = Vec::new();
        if frameworks.is_empty() {
            return offers;
        }
        let mut ids: BTreeMap<&str, &FrameworkId> = BTreeMap::new();
        for (fw, role) in frameworks {
            self.roles.activate(role, &self.totals);
            self.frameworks
                .entry(role.clone())
                .or_default()
                .activate(fw.as_str(), &self.totals);
            ids.insert(fw.as_str(), fw);
        }
        let mut order: Vec<usize> = (0..self.agents.slot_count())
            .filter(|&i| self.agents.slot(i).is_some_and(|a| a.active))
            .collect();
        shuffle(&mut order, seed);
        for slot in order {
            let Some(agent) = self.agents.slot(slot) else {
                continue;
            };
            if !allocatable(&agent.free) {
                continue;
            }
            let (agent_id, resources) = (agent.info.id.clone(), agent.free.clone());
            let Some((role, fw)) = self.lowest() else {
                break;
            };
            let Some(framework) = ids.get(fw.as_str()).map(|f| (*f).clone()) else {
                break;
            };
            if self.grant(slot, &framework, &role, resources.clone(), None) {
                offers.push(Offer {
                    agent_id,
                    framework,
                    role,
                    resources,
                });
            }
        }
        self.roles.clear_active();
        for sorter in self.frameworks.values_mut() {
            sorter.clear_active();
        }
        offers
    }

    /// The active (role, framework) that goes first.
    fn lowest(&mut self) -> Option<(String, String)> {
        loop {
            let role = self.roles.first()?.to_string();
            match self.frameworks.get(&role).and_then(|s| s.first()) {
                Some(fw) => return Some((role, fw.to_string())),
                None => self.roles.deactivate(&role),
            }
        }
    }
}
