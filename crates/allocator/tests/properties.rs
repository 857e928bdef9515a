//! Property tests over the public API: no agent is ever over-committed, the books (free,
//! allocated, shares, per-scope constraint tallies) agree with a ledger of every grant,
//! UNIQUE holds per scope, host ports come back in the request's order with every fixed
//! port as asked, and DRF is fair between roles with equal and with 2:1 weights.

#![allow(clippy::unwrap_used)]

use keel_allocator::{AgentInfo, Allocator, PlacementRequest};
use keel_model::{AgentId, Constraint, ConstraintOp, FrameworkId, HostPort};
use keel_resources::{Attributes, EPSILON, Ranges, Resources};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn agent_id(n: u8) -> AgentId {
    AgentId::new(format!("a{n}")).unwrap()
}

fn fw(n: u8) -> FrameworkId {
    FrameworkId::new(format!("f{n}")).unwrap()
}

fn role_of(fw: u8) -> String {
    format!("r{}", fw % 2)
}

/// Constraint scope `n`: the framework alone, or one of two apps.
fn scope(n: u8) -> Option<&'static str> {
    [None, Some("a"), Some("b")][usize::from(n) % 3]
}

#[derive(Debug, Clone)]
struct Req {
    fw: u8,
    scope: u8,
    tenth_cpus: u8,
    mem: u8,
    ports: u8,
    /// A fixed port (100 + n) wanted after the first `Any` one.
    fixed: Option<u8>,
    constraint: Option<u8>,
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        agent: u8,
        cpus: u8,
        mem: u8,
        ports: u8,
        rack: u8,
    },
    Remove(u8),
    Active(u8, bool),
    Allocate(Vec<Req>),
    Recover(usize),
    /// Recovers a ledger entry's resources under a scope nobody holds anything in.
    RecoverElsewhere(usize),
    RecoverJunk {
        agent: u8,
        cpus: u8,
    },
    Offers {
        frameworks: u8,
        seed: u64,
    },
    Used {
        agent: u8,
        fw: u8,
        scope: u8,
        cpus: u8,
        port: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let req = (
        (0u8..4, 0u8..3),
        1u8..30,
        0u8..4,
        (0u8..3, prop::option::of(0u8..8)),
        prop::option::of(0u8..6),
    )
        .prop_map(
            |((fw, scope), tenth_cpus, mem, (ports, fixed), constraint)| Req {
                fw,
                scope,
                tenth_cpus,
                mem,
                ports,
                fixed,
                constraint,
            },
        );
    prop_oneof![
        3 => (0u8..6, 0u8..8, 0u8..8, 0u8..6, 0u8..3)
            .prop_map(|(agent, cpus, mem, ports, rack)| Op::Add { agent, cpus, mem, ports, rack }),
        1 => (0u8..6).prop_map(Op::Remove),
        1 => (0u8..6, any::<bool>()).prop_map(|(a, b)| Op::Active(a, b)),
        4 => prop::collection::vec(req, 0..12).prop_map(Op::Allocate),
        3 => any::<usize>().prop_map(Op::Recover),
        1 => any::<usize>().prop_map(Op::RecoverElsewhere),
        1 => (0u8..6, 0u8..4).prop_map(|(agent, cpus)| Op::RecoverJunk { agent, cpus }),
        2 => (0u8..5, any::<u64>()).prop_map(|(frameworks, seed)| Op::Offers { frameworks, seed }),
        1 => (0u8..6, (0u8..4, 0u8..3), 0u8..3, 0u8..8)
            .prop_map(|(agent, (fw, scope), cpus, port)| Op::Used { agent, fw, scope, cpus, port }),
    ]
}

fn constraint(n: u8) -> Constraint {
    let (field, op, value) = [
        ("hostname", ConstraintOp::Unique, None),
        ("rack", ConstraintOp::Unique, None),
        ("rack", ConstraintOp::MaxPer, Some("2")),
        ("rack", ConstraintOp::GroupBy, None),
        ("rack", ConstraintOp::Cluster, None),
        ("rack", ConstraintOp::Like, Some("r[01]")),
    ][usize::from(n) % 6];
    Constraint {
        field: field.into(),
        op,
        value: value.map(str::to_string),
    }
}

/// `ports` dynamic ports, with the fixed one (if any) second.
fn wanted_ports(r: &Req) -> Vec<HostPort> {
    let mut ports = vec![HostPort::Any; usize::from(r.ports)];
    if let Some(f) = r.fixed {
        ports.insert(ports.len().min(1), HostPort::Fixed(100 + u16::from(f)));
    }
    ports
}

/// One grant the allocator made: agent, framework and scope numbers, and what was granted.
#[derive(Debug, Clone)]
struct Held {
    agent: u8,
    fw: u8,
    scope: u8,
    resources: Resources,
}

/// Every grant the allocator made and has not taken back, and the agents' racks.
#[derive(Default)]
struct Model {
    totals: BTreeMap<u8, Resources>,
    racks: BTreeMap<u8, u8>,
    ledger: Vec<Held>,
}

impl Model {
    fn apply(&mut self, a: &mut Allocator, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Add {
                agent,
                cpus,
                mem,
                ports,
                rack,
            } => {
                let extra = Resources::new()
                    .with_scalar("cpus", f64::from(*cpus))
                    .with_scalar("mem", f64::from(*mem) * 64.0)
                    .with_ranges("ports", Ranges::new(vec![(100, 100 + u64::from(*ports))]));
                // Re-registration never shrinks the total (running tasks would not fit).
                let total = self
                    .totals
                    .get(agent)
                    .map_or(extra.clone(), |t| t.add(&extra));
                self.totals.insert(*agent, total.clone());
                self.racks.insert(*agent, *rack);
                a.add_agent(AgentInfo {
                    id: agent_id(*agent),
                    hostname: format!("h{agent}"),
                    attributes: Attributes::parse(&format!("rack:r{rack}")).unwrap(),
                    total,
                });
            }
            Op::Remove(agent) => {
                a.remove_agent(&agent_id(*agent));
                self.totals.remove(agent);
                self.racks.remove(agent);
                self.ledger.retain(|h| h.agent != *agent);
            }
            Op::Active(agent, active) => a.set_agent_active(&agent_id(*agent), *active),
            Op::Allocate(reqs) => self.allocate(a, reqs)?,
            Op::Recover(i) if !self.ledger.is_empty() => {
                let h = self.ledger.swap_remove(i % self.ledger.len());
                let (id, role) = (agent_id(h.agent), role_of(h.fw));
                a.recover(&id, &fw(h.fw), &role, &h.resources, scope(h.scope));
            }
            Op::RecoverElsewhere(i) if !self.ledger.is_empty() => {
                let h = &self.ledger[i % self.ledger.len()];
                let id = agent_id(h.agent);
                let free = a.free(&id);
                a.recover(&id, &fw(h.fw), &role_of(h.fw), &h.resources, Some("z"));
                prop_assert_eq!(a.free(&id), free);
            }
            Op::Recover(_) | Op::RecoverElsewhere(_) => {}
            Op::RecoverJunk { agent, cpus } => {
                let junk = FrameworkId::new("junk").unwrap();
                a.recover(
                    &agent_id(*agent),
                    &junk,
                    "r0",
                    &Resources::new().with_scalar("cpus", f64::from(*cpus)),
                    None,
                );
            }
            Op::Offers { frameworks, seed } => {
                let fws: Vec<(FrameworkId, String)> =
                    (0..*frameworks).map(|f| (fw(f), role_of(f))).collect();
                for o in a.generate_offers(&fws, *seed) {
                    let agent = self.agent_number(&o.agent_id);
                    let f = fws.iter().position(|(id, _)| *id == o.framework).unwrap() as u8;
                    prop_assert!(!o.resources.is_empty());
                    self.ledger.push(Held {
                        agent,
                        fw: f,
                        scope: 0,
                        resources: o.resources,
                    });
                }
            }
            Op::Used {
                agent,
                fw: f,
                scope: sc,
                cpus,
                port,
            } => {
                let r = Resources::new()
                    .with_scalar("cpus", f64::from(*cpus))
                    .with_ranges(
                        "ports",
                        Ranges::new(vec![(100 + u64::from(*port), 100 + u64::from(*port))]),
                    );
                let free = a.free(&agent_id(*agent));
                let id = agent_id(*agent);
                let result = a.allocate_used(&id, &fw(*f), &role_of(*f), &r, scope(*sc));
                prop_assert_eq!(result.is_ok(), free.is_some_and(|fr| fr.contains(&r)));
                if result.is_ok() {
                    self.ledger.push(Held {
                        agent: *agent,
                        fw: *f,
                        scope: *sc,
                        resources: r,
                    });
                }
            }
        }
        Ok(())
    }

    fn agent_number(&self, id: &AgentId) -> u8 {
        id.as_str()[1..].parse().unwrap()
    }

    fn allocate(&mut self, a: &mut Allocator, reqs: &[Req]) -> Result<(), TestCaseError> {
        let holders: BTreeSet<(u8, u8, u8)> = self
            .ledger
            .iter()
            .map(|h| (h.agent, h.fw, h.scope))
            .collect();
        let batch: Vec<PlacementRequest> = reqs
            .iter()
            .enumerate()
            .map(|(i, r)| PlacementRequest {
                id: format!("{i}"),
                framework: fw(r.fw),
                role: role_of(r.fw),
                resources: Resources::new()
                    .with_scalar("cpus", f64::from(r.tenth_cpus) / 10.0)
                    .with_scalar("mem", f64::from(r.mem) * 64.0),
                ports: wanted_ports(r),
                constraints: r.constraint.map(constraint).into_iter().collect(),
                scope: scope(r.scope).map(str::to_string),
            })
            .collect();
        let result = a.allocate(batch.clone());
        prop_assert_eq!(result.placed.len() + result.unplaced.len(), batch.len());
        let mut unique_hosts = BTreeSet::new();
        for p in &result.placed {
            let i = p.request_id.parse::<usize>().unwrap();
            let (req, r) = (&batch[i], &reqs[i]);
            let agent = self.agent_number(&p.agent_id);
            prop_assert!(p.resources.contains(&req.resources));
            prop_assert_eq!(p.host_ports.len(), req.ports.len());
            for (want, got) in req.ports.iter().zip(&p.host_ports) {
                if let HostPort::Fixed(port) = want {
                    prop_assert_eq!(port, got, "fixed port moved");
                }
            }
            let ranges = Ranges::new(p.host_ports.iter().map(|&x| (x.into(), x.into())).collect());
            prop_assert_eq!(ranges.count(), p.host_ports.len() as u64, "a port twice");
            prop_assert_eq!(p.resources.ports(), ranges);
            if req
                .constraints
                .first()
                .is_some_and(|c| c.field == "hostname")
            {
                let key = (agent, r.fw, r.scope);
                prop_assert!(!holders.contains(&key), "UNIQUE host already held");
                prop_assert!(unique_hosts.insert(key), "UNIQUE host placed twice");
            }
            self.ledger.push(Held {
                agent,
                fw: r.fw,
                scope: r.scope,
                resources: p.resources.clone(),
            });
        }
        Ok(())
    }

    /// The allocator's books agree with the ledger, and nothing is over-committed.
    fn check(&self, a: &Allocator) -> Result<(), TestCaseError> {
        let mut cluster = Resources::new();
        for (info, used) in a.agents() {
            prop_assert!(
                info.total.contains(used),
                "agent {} over-committed: {} of {}",
                info.id,
                used,
                info.total
            );
            let free = a.free(&info.id).unwrap();
            prop_assert_eq!(free.add(used), info.total.clone());
            let n = self.agent_number(&info.id);
            let grants: Vec<&Resources> = self
                .ledger
                .iter()
                .filter(|h| h.agent == n)
                .map(|h| &h.resources)
                .collect();
            let ports: u64 = grants.iter().map(|r| r.ports().count()).sum();
            prop_assert_eq!(
                ports,
                used.ports().count(),
                "ports granted twice on {}",
                info.id
            );
            let sum = grants.iter().fold(Resources::new(), |acc, r| acc.add(r));
            prop_assert!(
                sum.contains(used) && used.contains(&sum),
                "ledger {} vs allocated {}",
                sum,
                used
            );
            cluster = cluster.add(&info.total);
        }
        for role in ["r0", "r1"] {
            let mut held = Resources::new();
            for h in self.ledger.iter().filter(|h| role_of(h.fw) == role) {
                held = held.add(&h.resources);
            }
            let want = held
                .scalars
                .iter()
                .filter(|(k, _)| cluster.scalar(k) > EPSILON / 2.0)
                .map(|(k, v)| v / cluster.scalar(k))
                .fold(0.0, f64::max);
            let got = a.dominant_share(role);
            prop_assert!(
                (got - want).abs() < 1e-6,
                "share of {} is {} but the ledger says {}",
                role,
                got,
                want
            );
        }
        self.check_tallies(a)
    }

    /// Every scope's constraint tally equals the count of its live grants on agents with
    /// each field value, recomputed from the ledger.
    fn check_tallies(&self, a: &Allocator) -> Result<(), TestCaseError> {
        let mut want: BTreeMap<(u8, u8, String, String), u32> = BTreeMap::new();
        for h in &self.ledger {
            let rack = self.racks[&h.agent];
            for (field, value) in [
                ("hostname", format!("h{}", h.agent)),
                ("rack", format!("r{rack}")),
            ] {
                *want
                    .entry((h.fw, h.scope, field.into(), value))
                    .or_default() += 1;
            }
        }
        let fields = (0..6u8)
            .map(|n| ("hostname", format!("h{n}")))
            .chain((0..3u8).map(|n| ("rack", format!("r{n}"))));
        for (field, value) in fields {
            for (f, sc) in (0..5u8).flat_map(|f| (0..3u8).map(move |sc| (f, sc))) {
                let key = (f, sc, field.to_string(), value.clone());
                let expected = want.get(&key).copied().unwrap_or(0);
                let got = a.tally(&fw(f), scope(sc), field, &value);
                prop_assert_eq!(
                    got,
                    expected,
                    "tally of f{} {:?} {}={}",
                    f,
                    scope(sc),
                    field,
                    value
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn never_over_commits(ops in prop::collection::vec(op(), 1..40)) {
        let mut a = Allocator::new();
        let mut model = Model::default();
        for op in &ops {
            model.apply(&mut a, op)?;
            model.check(&a)?;
        }
    }
}

/// Agents of `(cpus, mem)` and a batch where two roles ask for `demand` identical tasks
/// each, interleaved as `order` says; returns the number placed per role.
fn contest(
    agents: &[(u8, u8)],
    task: (u8, u8),
    demand: usize,
    order: &[bool],
    weight_a: f64,
) -> (Allocator, usize, usize) {
    let mut a = Allocator::new();
    for (n, &(cpus, mem)) in agents.iter().enumerate() {
        a.add_agent(AgentInfo {
            id: agent_id(n as u8),
            hostname: format!("h{n}"),
            attributes: Attributes::default(),
            total: Resources::new()
                .with_scalar("cpus", f64::from(cpus))
                .with_scalar("mem", f64::from(mem) * 128.0),
        });
    }
    a.set_weight("A", weight_a).unwrap();
    let resources = Resources::new()
        .with_scalar("cpus", f64::from(task.0) / 2.0)
        .with_scalar("mem", f64::from(task.1) * 64.0);
    let (mut na, mut nb) = (0, 0);
    let mut batch = Vec::new();
    for (i, &first_a) in order.iter().cycle().take(2 * demand).enumerate() {
        let a_turn = (first_a && na < demand) || nb >= demand;
        let (role, f) = if a_turn { ("A", fw(1)) } else { ("B", fw(2)) };
        if a_turn {
            na += 1
        } else {
            nb += 1
        }
        batch.push(PlacementRequest {
            id: format!("{role}{i}"),
            framework: f,
            role: role.into(),
            resources: resources.clone(),
            ports: Vec::new(),
            constraints: Vec::new(),
            scope: None,
        });
    }
    let result = a.allocate(batch);
    let placed_a = result
        .placed
        .iter()
        .filter(|p| p.request_id.starts_with('A'))
        .count();
    (a, placed_a, result.placed.len() - placed_a)
}

fn capacity(agents: &[(u8, u8)], task: (u8, u8)) -> usize {
    agents
        .iter()
        .map(|&(c, m)| {
            let by_cpu = usize::from(c) * 2 / usize::from(task.0);
            let by_mem = if task.1 == 0 {
                usize::MAX
            } else {
                usize::from(m) * 2 / usize::from(task.1)
            };
            by_cpu.min(by_mem)
        })
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn equal_weights_share_equally(
        agents in prop::collection::vec((1u8..9, 1u8..9), 1..6),
        task in (1u8..5, 0u8..5),
        order in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let demand = capacity(&agents, task).max(1);
        let (a, na, nb) = contest(&agents, task, demand, &order, 1.0);
        prop_assert!(na.abs_diff(nb) <= 1, "A placed {} and B {}", na, nb);
        let total_cpus: f64 = agents.iter().map(|&(c, _)| f64::from(c)).sum();
        let total_mem: f64 = agents.iter().map(|&(_, m)| f64::from(m) * 128.0).sum();
        let one = (f64::from(task.0) / 2.0 / total_cpus).max(f64::from(task.1) * 64.0 / total_mem);
        prop_assert!((a.dominant_share("A") - a.dominant_share("B")).abs() <= one + 1e-9);
    }

    #[test]
    fn weights_two_to_one_split_two_to_one(
        agents in prop::collection::vec((1u8..9, 1u8..9), 1..6),
        task in (1u8..5, 0u8..5),
        order in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let demand = capacity(&agents, task).max(1);
        let (_, na, nb) = contest(&agents, task, demand, &order, 2.0);
        prop_assert!((na as i64 - 2 * nb as i64).abs() <= 2, "A placed {} and B {}", na, nb);
        prop_assert_eq!(na + nb, capacity(&agents, task).min(2 * demand));
    }
}
