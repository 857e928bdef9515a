//! Fixtures for benchmarks and tests: a uniform cluster, frameworks spread over ten roles,
//! and small identical task requests. Setup only; timing is done by the caller.

use crate::{AgentInfo, Allocator, PlacementRequest};
use keel_model::{AgentId, FrameworkId};
use keel_resources::{AttrValue, Attributes, Ranges, Resources};
use std::collections::BTreeMap;

/// Frameworks that [`requests`] spreads its requests over.
pub const REQUEST_FRAMEWORKS: usize = 100;

/// Agent `n` of [`cluster`]: id `bench-S<n>`, hostname `agent-<n>`, attribute `rack:r<n%10>`,
/// `cpus:8;mem:16384;disk:100000;ports:[31000-32000]`.
pub fn agent(n: usize) -> AgentInfo {
    let id = AgentId::nth("bench", n as u64).expect("bench agent ids are valid");
    let attributes = Attributes(BTreeMap::from([(
        "rack".to_string(),
        AttrValue::Text(format!("r{}", n % 10)),
    )]));
    let total = Resources::new()
        .with_scalar("cpus", 8.0)
        .with_scalar("mem", 16384.0)
        .with_scalar("disk", 100_000.0)
        .with_ranges("ports", Ranges::new(vec![(31000, 32000)]));
    AgentInfo {
        id,
        hostname: format!("agent-{n}"),
        attributes,
        total,
    }
}

/// An allocator with `agents` agents (see [`agent`]), registered in an order shuffled by
/// `seed`.
pub fn cluster(agents: usize, seed: u64) -> Allocator {
    let mut order: Vec<usize> = (0..agents).collect();
    crate::rng::shuffle(&mut order, seed);
    let mut a = Allocator::new();
    for n in order {
        a.add_agent(agent(n));
    }
    a
}

/// `n` frameworks `bench-<i>`, framework `i` in role `role-<i % 10>`.
pub fn frameworks(n: usize) -> Vec<(FrameworkId, String)> {
    (0..n)
        .map(|i| {
            let id = FrameworkId::nth("bench", i as u64).expect("bench framework ids are valid");
            (id, format!("role-{}", i % 10))
        })
        .collect()
}

/// `n` single-task requests `task-<i>` (`cpus:0.1;mem:32` and one port, no constraints),
/// request `i` from framework `i % REQUEST_FRAMEWORKS` of [`frameworks`].
pub fn requests(n: usize) -> Vec<PlacementRequest> {
    let fws = frameworks(REQUEST_FRAMEWORKS);
    let resources = Resources::new()
        .with_scalar("cpus", 0.1)
        .with_scalar("mem", 32.0);
    (0..n)
        .map(|i| {
            let (framework, role) = fws[i % fws.len()].clone();
            PlacementRequest {
                id: format!("task-{i}"),
                framework,
                role,
                resources: resources.clone(),
                ports: vec![keel_model::HostPort::Any],
                constraints: Vec::new(),
                scope: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_place_everything() {
        let mut a = cluster(50, 1);
        assert_eq!(a.agents().count(), 50);
        let r = a.allocate(requests(1000));
        assert_eq!((r.placed.len(), r.unplaced.len()), (1000, 0));
        let per_agent: Vec<usize> = a
            .agents()
            .map(|(_, used)| used.ports().count() as usize)
            .collect();
        assert!(
            per_agent.iter().all(|&n| n == 20),
            "spread evenly: {per_agent:?}"
        );
        let offers = a.generate_offers(&frameworks(20), 3);
        assert_eq!(offers.len(), 50);
        let roles: std::collections::BTreeSet<&str> =
            offers.iter().map(|o| o.role.as_str()).collect();
        assert_eq!(roles.len(), 10);
    }
}
