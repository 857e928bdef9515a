//! One `allocate` call: requests served in DRF order (lowest role, then its lowest
//! framework, then that framework's next request in FIFO order), each placed first-fit from
//! a rotating cursor so consecutive tasks land on different agents.
//!
//! Within a batch agents only lose free resources and tallies only grow, so an agent that
//! rejects a request for any reason but GROUP_BY rejects every later request of the same
//! *shape* (resources, ports, constraints, and framework and constraint scope when a
//! constraint reads the scope's tally or pins). Each shape keeps a memo (`search::Memo`): a
//! `Skip` of agents still worth trying and the reasons of the others, refreshed only for
//! agents that received placements since (or all of them when the scope's tally changed),
//! so neither a full cluster nor a stream of unplaceable requests costs a scan of every
//! agent per request.

use crate::agents::AgentTable;
use crate::constraints::{Compiled, RegexCache, Tally, compile};
use crate::search::{Job, Memo, WantedPorts, placement_resources, render, scan_memo, scan_plain};
use crate::{AllocationResult, Allocator, Placement, PlacementRequest, Unplaced};
use keel_model::{Constraint, FrameworkId, HostPort};
use keel_resources::Resources;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Shapes beyond this many in one batch are served without a memo (plain scans).
const MAX_SHAPES: usize = 64;

/// A framework and one of its constraint scopes (`None`: the framework alone).
type ScopeKey = (FrameworkId, Option<String>);

/// The shape of the previous request, so runs of identical requests skip the shape key.
struct LastShape {
    resources: Resources,
    ports: Vec<HostPort>,
    constraints: Vec<Constraint>,
    /// The request's scope, if the shape is stateful.
    scope: Option<ScopeKey>,
    memo: Option<usize>,
}

/// State of one `allocate` call.
struct Batch {
    last_shape: Option<LastShape>,
    max_shapes: usize,
    regexes: RegexCache,
    shapes: HashMap<String, usize>,
    memos: Vec<Memo>,
    /// Slots that received a placement, in order.
    log: Vec<usize>,
    /// CLUSTER pins: the value of a field that a scope's first placement landed on.
    pins: BTreeMap<(ScopeKey, String), String>,
    /// Values of a field over active agents (GROUP_BY's candidates).
    universe: BTreeMap<String, Vec<String>>,
    result: AllocationResult,
}

type Queues = BTreeMap<String, BTreeMap<String, VecDeque<PlacementRequest>>>;

impl Allocator {
    /// Places one batch of requests; see the module docs for order and agent choice.
    /// Placed requests count as allocated to their framework and role, and as live
    /// allocations of their constraint scope.
    pub fn allocate(&mut self, requests: Vec<PlacementRequest>) -> AllocationResult {
        self.allocate_with(requests, MAX_SHAPES)
    }

    /// `allocate` with at most `max_shapes` memos (0: plain scans, the reference the
    /// memoized path is tested against).
    fn allocate_with(
        &mut self,
        requests: Vec<PlacementRequest>,
        max_shapes: usize,
    ) -> AllocationResult {
        let mut queues: Queues = BTreeMap::new();
        for req in requests {
            let by_fw = queues.entry(req.role.clone()).or_default();
            by_fw
                .entry(req.framework.as_str().to_string())
                .or_default()
                .push_back(req);
        }
        for (role, by_fw) in &queues {
            self.roles.activate(role, &self.totals);
            let sorter = self.frameworks.entry(role.clone()).or_default();
            for fw in by_fw.keys() {
                sorter.activate(fw, &self.totals);
            }
        }
        let mut batch = Batch {
            last_shape: None,
            max_shapes,
            regexes: RegexCache::default(),
            shapes: HashMap::new(),
            memos: Vec::new(),
            log: Vec::new(),
            pins: BTreeMap::new(),
            universe: BTreeMap::new(),
            result: AllocationResult::default(),
        };
        while let Some(req) = self.next_request(&mut queues) {
            self.serve(&mut batch, req);
        }
        self.roles.clear_active();
        for sorter in self.frameworks.values_mut() {
            sorter.clear_active();
        }
        batch.result
    }

    /// Pops the next request in DRF order, deactivating frameworks and roles that run dry.
    fn next_request(&mut self, queues: &mut Queues) -> Option<PlacementRequest> {
        loop {
            let role = self.roles.first()?.to_string();
            let fw = self
                .frameworks
                .get(&role)
                .and_then(|s| s.first())
                .map(str::to_string);
            let by_fw = queues.get_mut(&role);
            let (Some(fw), Some(by_fw)) = (fw, by_fw) else {
                self.roles.deactivate(&role);
                continue;
            };
            let req = by_fw.get_mut(&fw).and_then(VecDeque::pop_front);
            if by_fw.get(&fw).is_none_or(VecDeque::is_empty) {
                by_fw.remove(&fw);
                if let Some(sorter) = self.frameworks.get_mut(&role) {
                    sorter.deactivate(&fw);
                }
            }
            if by_fw.is_empty() {
                queues.remove(&role);
                self.roles.deactivate(&role);
            }
            if req.is_some() {
                return req;
            }
        }
    }

    fn serve(&mut self, batch: &mut Batch, req: PlacementRequest) {
        let compiled: Result<Vec<Compiled>, String> = req
            .constraints
            .iter()
            .map(|c| compile(c, &mut batch.regexes))
            .collect();
        let constraints = match compiled {
            Ok(c) => c,
            Err(text) => {
                let rejections = BTreeMap::from([(
                    format!("invalid constraint {text}"),
                    self.agents.len() as u32,
                )]);
                batch.result.unplaced.push(Unplaced {
                    request_id: req.id,
                    rejections,
                });
                return;
            }
        };
        let job = self.job(batch, req, constraints);
        let tally = self.tally_of(&job.req.framework, job.req.scope.as_deref());
        let memo = batch.memo_for(&job, tally, self.agents.slot_count());
        let found = match memo {
            Some(m) => scan_memo(
                &self.agents,
                self.cursor,
                &job,
                tally,
                &mut batch.memos[m],
                &batch.log,
            ),
            None => scan_plain(&self.agents, self.cursor, &job, tally),
        };
        match found {
            Ok(slot) => self.place(batch, job, slot),
            Err(rejects) => {
                let rejections = render(&rejects, &job);
                batch.result.unplaced.push(Unplaced {
                    request_id: job.req.id,
                    rejections,
                });
            }
        }
    }

    fn job(&self, batch: &mut Batch, req: PlacementRequest, constraints: Vec<Compiled>) -> Job {
        let tally = self.tally_of(&req.framework, req.scope.as_deref());
        let mut pins = Vec::with_capacity(constraints.len());
        let mut group_min = Vec::with_capacity(constraints.len());
        for c in &constraints {
            pins.push(if c.pinnable() {
                batch.pins.get(&pin_key(&req, &c.field)).cloned()
            } else {
                None
            });
            group_min.push(if c.group_by() {
                let values = batch.universe(&self.agents, &c.field);
                values
                    .iter()
                    .map(|v| tally.map_or(0, |t| t.count(&c.field, v)))
                    .min()
                    .unwrap_or(0)
            } else {
                0
            });
        }
        Job {
            ports: WantedPorts::new(&req.ports),
            req,
            constraints,
            pins,
            group_min,
        }
    }

    fn place(&mut self, batch: &mut Batch, job: Job, slot: usize) {
        let Some(agent) = self.agents.slot(slot) else {
            return;
        };
        let agent_id = agent.info.id.clone();
        let resources = placement_resources(agent, &job);
        for c in job.constraints.iter().filter(|c| c.pinnable()) {
            let key = pin_key(&job.req, &c.field);
            if let (false, Some(v)) = (batch.pins.contains_key(&key), agent.field(&c.field)) {
                batch.pins.insert(key, v.to_string());
            }
        }
        let granted = resources.is_some_and(|(r, host_ports)| {
            let req = &job.req;
            let ok = self.grant(
                slot,
                &req.framework,
                &req.role,
                r.clone(),
                req.scope.as_deref(),
            );
            if ok {
                batch.result.placed.push(Placement {
                    request_id: job.req.id.clone(),
                    agent_id,
                    resources: r,
                    host_ports,
                });
            }
            ok
        });
        if granted {
            batch.log.push(slot);
            self.cursor = slot + 1;
        } else {
            let rejections = BTreeMap::from([("insufficient resources".to_string(), 1)]);
            batch.result.unplaced.push(Unplaced {
                request_id: job.req.id,
                rejections,
            });
        }
    }
}

/// The pin of `req`'s scope for a CLUSTER on `field`.
fn pin_key(req: &PlacementRequest, field: &str) -> (ScopeKey, String) {
    let scope = (req.framework.clone(), req.scope.clone());
    (scope, field.to_string())
}

impl Batch {
    /// The memo for `job`'s shape, created on first use; `None` past `max_shapes`.
    fn memo_for(&mut self, job: &Job, tally: Option<&Tally>, slots: usize) -> Option<usize> {
        let stateful = job.constraints.iter().any(Compiled::stateful);
        let req = &job.req;
        if let Some(last) = &self.last_shape
            && last.ports == req.ports
            && last.resources == req.resources
            && last.constraints == req.constraints
            && last.scope.as_ref().map(|(f, s)| (f, s.as_deref()))
                == stateful.then_some((&req.framework, req.scope.as_deref()))
        {
            return last.memo;
        }
        let memo = self.memo_by_key(job, stateful, tally, slots);
        self.last_shape = Some(LastShape {
            resources: req.resources.clone(),
            ports: req.ports.clone(),
            constraints: req.constraints.clone(),
            scope: stateful.then(|| (req.framework.clone(), req.scope.clone())),
            memo,
        });
        memo
    }

    fn memo_by_key(
        &mut self,
        job: &Job,
        stateful: bool,
        tally: Option<&Tally>,
        slots: usize,
    ) -> Option<usize> {
        let req = &job.req;
        let key = format!(
            "{}|{:?}|{:?}|{:?}",
            req.resources,
            req.ports,
            req.constraints,
            stateful.then_some((req.framework.as_str(), req.scope.as_deref()))
        );
        if let Some(&m) = self.shapes.get(&key) {
            return Some(m);
        }
        if self.memos.len() >= self.max_shapes {
            return None;
        }
        let version = tally.map_or(0, |t| t.version);
        self.memos
            .push(Memo::new(slots, self.log.len(), stateful, version));
        self.shapes.insert(key, self.memos.len() - 1);
        Some(self.memos.len() - 1)
    }

    fn universe(&mut self, agents: &AgentTable, field: &str) -> &[String] {
        if !self.universe.contains_key(field) {
            let values: BTreeSet<String> = (0..agents.slot_count())
                .filter_map(|i| agents.slot(i))
                .filter(|a| a.active)
                .filter_map(|a| a.field(field).map(str::to_string))
                .collect();
            self.universe
                .insert(field.to_string(), values.into_iter().collect());
        }
        self.universe.get(field).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AgentInfo;
    use keel_model::{AgentId, Constraint, ConstraintOp};
    use keel_resources::{Attributes, Ranges};
    use proptest::prelude::*;

    const CONSTRAINTS: [(&str, ConstraintOp, Option<&str>); 8] = [
        ("rack", ConstraintOp::Unique, None),
        ("hostname", ConstraintOp::Unique, None),
        ("rack", ConstraintOp::MaxPer, Some("2")),
        ("rack", ConstraintOp::GroupBy, None),
        ("rack", ConstraintOp::Cluster, None),
        ("rack", ConstraintOp::Like, Some("r[01]")),
        ("rack", ConstraintOp::Unlike, Some("r1")),
        ("rack", ConstraintOp::Like, Some("(")),
    ];

    fn id<T>(r: Result<T, keel_model::IdError>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    /// No scope, or one of two scopes.
    fn scope(n: u8) -> Option<String> {
        [None, Some("a"), Some("b")][usize::from(n) % 3].map(str::to_string)
    }

    fn cluster(agents: &[(u8, u8, u8, u8, bool)], used: &[(usize, u8, u8, u8)]) -> Allocator {
        let mut a = Allocator::new();
        for (n, &(cpus, mem, ports, rack, active)) in agents.iter().enumerate() {
            let attrs = if rack < 3 {
                format!("rack:r{rack}")
            } else {
                String::new()
            };
            let mut total = Resources::new()
                .with_scalar("cpus", f64::from(cpus))
                .with_scalar("mem", f64::from(mem) * 100.0);
            if ports > 0 {
                total = total.with_ranges("ports", Ranges::new(vec![(1, u64::from(ports))]));
            }
            let agent = id(AgentId::new(format!("a{n}")));
            a.add_agent(AgentInfo {
                id: agent.clone(),
                hostname: format!("h{n}"),
                attributes: Attributes::parse(&attrs).unwrap_or_default(),
                total,
            });
            a.set_agent_active(&agent, active);
        }
        for &(agent, fw, cpus, sc) in used {
            let agent = id(AgentId::new(format!("a{}", agent % agents.len().max(1))));
            let r = Resources::new().with_scalar("cpus", f64::from(cpus));
            let _ = a.allocate_used(
                &agent,
                &id(FrameworkId::new(format!("f{fw}"))),
                &format!("r{}", fw % 2),
                &r,
                scope(sc).as_deref(),
            );
        }
        a
    }

    fn request(
        i: usize,
        (fw, sc): (u8, u8),
        shape: u8,
        constraint: Option<usize>,
    ) -> PlacementRequest {
        let any = HostPort::Any;
        let (cpus, mem, ports) = [
            (1.0, 100.0, vec![]),
            (2.0, 50.0, vec![]),
            (0.5, 0.0, vec![]),
            (1.0, 0.0, vec![any]),
            (1.0, 300.0, vec![any, any]),
            (0.5, 0.0, vec![HostPort::Fixed(2)]),
            (0.5, 0.0, vec![any, HostPort::Fixed(1)]),
        ][usize::from(shape) % 7]
            .clone();
        PlacementRequest {
            id: format!("t{i}"),
            framework: id(FrameworkId::new(format!("f{fw}"))),
            role: format!("r{}", fw % 2),
            resources: Resources::new()
                .with_scalar("cpus", cpus)
                .with_scalar("mem", mem),
            ports,
            constraints: constraint
                .map(|c| {
                    let (field, op, value) = CONSTRAINTS[c % CONSTRAINTS.len()];
                    vec![Constraint {
                        field: field.into(),
                        op,
                        value: value.map(str::to_string),
                    }]
                })
                .into_iter()
                .flatten()
                .collect(),
            scope: scope(sc),
        }
    }

    proptest! {
        /// The memoized search (skips and cached reasons) decides exactly as plain scans, with
        /// several frameworks and scopes sharing shapes.
        #[test]
        fn memos_match_plain_scans(
            agents in prop::collection::vec((0u8..6, 0u8..5, 0u8..4, 0u8..4, prop::bool::weighted(0.85)), 0..8),
            used in prop::collection::vec((0usize..8, 0u8..3, 0u8..3, 0u8..3), 0..4),
            reqs in prop::collection::vec(((0u8..3, 0u8..3), 0u8..7, prop::option::of(0usize..8)), 0..40),
            cursor in 0usize..8,
        ) {
            let mut memo = cluster(&agents, &used);
            memo.cursor = cursor;
            let mut plain = memo.clone();
            let batch: Vec<PlacementRequest> =
                reqs.iter().enumerate().map(|(i, &(fw, shape, c))| request(i, fw, shape, c)).collect();
            let got = memo.allocate_with(batch.clone(), MAX_SHAPES);
            let want = plain.allocate_with(batch, 0);
            prop_assert_eq!(got, want);
            prop_assert_eq!(memo.cursor, plain.cursor);
        }
    }
}
