//! Finding an agent for one request: the checks in their documented order (inactive,
//! constraints, resources, ports), first-fit scans from the cursor, and the per-shape
//! [`Memo`] that lets a batch skip agents known not to fit and keep their rejection
//! reasons up to date cheaply.

use crate::PlacementRequest;
use crate::agents::{AgentState, AgentTable};
use crate::constraints::{Compiled, Tally};
use crate::skip::Skip;
use keel_model::HostPort;
use keel_resources::{EPSILON, Ranges, Resources};
use std::collections::BTreeMap;

/// Why an agent rejected a request; indices point into the request's constraints or
/// resources (the same for every request of a shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Reject {
    Inactive,
    Constraint(u16),
    Scalar(u16),
    Range(u16),
    Set(u16),
    /// Too few free ports for the request's `Any` entries.
    Ports,
    /// A fixed port is not free (or the request names one twice).
    FixedPorts,
}

/// A request's wanted host ports, digested for the checks.
pub(crate) struct WantedPorts {
    /// The fixed ports.
    fixed: Ranges,
    /// False if a fixed port is named twice (no agent can satisfy it).
    distinct: bool,
    /// How many ports may be any free one.
    any: u64,
}

impl WantedPorts {
    pub(crate) fn new(ports: &[HostPort]) -> Self {
        let fixed: Vec<u64> = ports
            .iter()
            .filter_map(|p| match p {
                HostPort::Fixed(p) => Some(u64::from(*p)),
                HostPort::Any => None,
            })
            .collect();
        let ranges = Ranges::new(fixed.iter().map(|&p| (p, p)).collect());
        Self {
            distinct: ranges.count() == fixed.len() as u64,
            fixed: ranges,
            any: (ports.len() - fixed.len()) as u64,
        }
    }

    fn is_empty(&self) -> bool {
        self.any == 0 && self.fixed.is_empty()
    }
}

/// A request being served, with what its checks read besides the agent.
pub(crate) struct Job {
    pub(crate) req: PlacementRequest,
    pub(crate) constraints: Vec<Compiled>,
    /// Per constraint: the batch's pin for a CLUSTER without value.
    pub(crate) pins: Vec<Option<String>>,
    /// Per constraint: the lowest tally over the field's values, for GROUP_BY.
    pub(crate) group_min: Vec<u32>,
    pub(crate) ports: WantedPorts,
}

/// What a batch remembers about one request shape.
pub(crate) struct Memo {
    skip: Skip,
    reasons: Vec<Option<Reject>>,
    counts: BTreeMap<Reject, u32>,
    /// Placements (positions in the batch log) already reflected in `reasons`.
    log_pos: usize,
    /// Whether the shape reads tallies; then `tally_version` is the tally the reasons
    /// were computed under.
    stateful: bool,
    tally_version: u64,
}

impl Memo {
    /// A memo over `slots` agent slots, created after `log_pos` placements of the batch
    /// under the request scope's tally `version`.
    pub(crate) fn new(slots: usize, log_pos: usize, stateful: bool, version: u64) -> Self {
        Self {
            skip: Skip::new(slots),
            reasons: vec![None; slots],
            counts: BTreeMap::new(),
            log_pos,
            stateful,
            tally_version: version,
        }
    }

    fn set(&mut self, slot: usize, reason: Reject) {
        if let Some(old) = self.reasons[slot].replace(reason)
            && let Some(c) = self.counts.get_mut(&old)
        {
            *c -= 1;
            if *c == 0 {
                self.counts.remove(&old);
            }
        }
        *self.counts.entry(reason).or_default() += 1;
    }

    fn recheck(&mut self, slot: usize, agents: &AgentTable, job: &Job, tally: Option<&Tally>) {
        if self.reasons[slot].is_none() {
            return;
        }
        if let Some(Err(r)) = agents.slot(slot).map(|a| check(a, job, tally)) {
            self.set(slot, r);
        }
    }

    /// Brings the reasons of skipped agents up to date.
    fn refresh(&mut self, agents: &AgentTable, job: &Job, tally: Option<&Tally>, log: &[usize]) {
        let version = tally.map_or(0, |t| t.version);
        if self.stateful && version != self.tally_version {
            for slot in 0..self.reasons.len() {
                self.recheck(slot, agents, job, tally);
            }
            self.tally_version = version;
        } else {
            for &slot in log.get(self.log_pos..).unwrap_or_default() {
                self.recheck(slot, agents, job, tally);
            }
        }
        self.log_pos = log.len();
    }
}

/// The first failing check of `job` on `agent`, in the documented order.
pub(crate) fn check(agent: &AgentState, job: &Job, tally: Option<&Tally>) -> Result<(), Reject> {
    if !agent.active {
        return Err(Reject::Inactive);
    }
    for (i, c) in job.constraints.iter().enumerate() {
        if !c.accepts(agent, tally, job.pins[i].as_deref(), job.group_min[i]) {
            return Err(Reject::Constraint(i as u16));
        }
    }
    let (free, want) = (&agent.free, &job.req.resources);
    for (i, (name, need)) in want.scalars.iter().enumerate() {
        if free.scalar(name) + EPSILON / 2.0 < *need {
            return Err(Reject::Scalar(i as u16));
        }
    }
    for (i, (name, r)) in want.ranges.iter().enumerate() {
        if !free.ranges.get(name).is_some_and(|f| f.contains(r)) {
            return Err(Reject::Range(i as u16));
        }
    }
    for (i, (name, s)) in want.sets.iter().enumerate() {
        if !free.sets.get(name).is_some_and(|f| s.is_subset(f)) {
            return Err(Reject::Set(i as u16));
        }
    }
    if !job.ports.is_empty() {
        check_ports(free, want, &job.ports)?;
    }
    Ok(())
}

/// Every fixed port free, and enough other free ports for the rest.
fn check_ports(free: &Resources, want: &Resources, ports: &WantedPorts) -> Result<(), Reject> {
    let avail = free_ports(free, want);
    if !ports.distinct || !avail.contains(&ports.fixed) {
        return Err(Reject::FixedPorts);
    }
    if avail.count() - ports.fixed.count() < ports.any {
        return Err(Reject::Ports);
    }
    Ok(())
}

/// The agent's free ports less any the request names explicitly.
pub(crate) fn free_ports(free: &Resources, want: &Resources) -> Ranges {
    match (free.ranges.get("ports"), want.ranges.get("ports")) {
        (None, _) => Ranges::default(),
        (Some(f), None) => f.clone(),
        (Some(f), Some(named)) => f.subtract(named),
    }
}

/// The request's resources plus its host ports on `agent` (the fixed ones, and the lowest
/// other free ports for the `Any` entries), and those ports in the request's order.
pub(crate) fn placement_resources(agent: &AgentState, job: &Job) -> Option<(Resources, Vec<u16>)> {
    let req = &job.req;
    if job.ports.is_empty() {
        return Some((req.resources.clone(), Vec::new()));
    }
    let rest = free_ports(&agent.free, &req.resources).subtract(&job.ports.fixed);
    let dynamic = rest.take_lowest(job.ports.any)?;
    let mut next = dynamic.values();
    let ordered = req
        .ports
        .iter()
        .map(|p| match p {
            HostPort::Fixed(p) => Some(*p),
            HostPort::Any => next.next().and_then(|v| u16::try_from(v).ok()),
        })
        .collect::<Option<Vec<u16>>>()?;
    let ports = dynamic.add(&job.ports.fixed);
    Some((req.resources.clone().with_ranges("ports", ports), ordered))
}

pub(crate) fn monotone(r: Reject, job: &Job) -> bool {
    match r {
        Reject::Constraint(i) => job
            .constraints
            .get(usize::from(i))
            .is_none_or(Compiled::monotone),
        _ => true,
    }
}

/// First fit from the cursor over every slot, wrapping around.
pub(crate) fn scan_plain(
    agents: &AgentTable,
    cursor: usize,
    job: &Job,
    tally: Option<&Tally>,
) -> Result<usize, BTreeMap<Reject, u32>> {
    let n = agents.slot_count();
    let start = if cursor >= n { 0 } else { cursor };
    let mut rejects = BTreeMap::new();
    for i in (start..n).chain(0..start) {
        if let Some(agent) = agents.slot(i) {
            match check(agent, job, tally) {
                Ok(()) => return Ok(i),
                Err(r) => *rejects.entry(r).or_insert(0) += 1,
            }
        }
    }
    Err(rejects)
}

/// First fit from the cursor over the slots the shape's memo has not ruled out.
pub(crate) fn scan_memo(
    agents: &AgentTable,
    cursor: usize,
    job: &Job,
    tally: Option<&Tally>,
    memo: &mut Memo,
    log: &[usize],
) -> Result<usize, BTreeMap<Reject, u32>> {
    let n = agents.slot_count();
    let start = if cursor >= n { 0 } else { cursor };
    let mut transient: BTreeMap<Reject, u32> = BTreeMap::new();
    for (lo, hi) in [(start, n), (0, start)] {
        let mut i = memo.skip.find(lo);
        while i < hi {
            match agents.slot(i).map(|a| check(a, job, tally)) {
                Some(Ok(())) => return Ok(i),
                Some(Err(r)) if !monotone(r, job) => *transient.entry(r).or_insert(0) += 1,
                Some(Err(r)) => {
                    memo.skip.remove(i);
                    memo.set(i, r);
                }
                None => memo.skip.remove(i),
            }
            i = memo.skip.find(i + 1);
        }
    }
    memo.refresh(agents, job, tally, log);
    for (r, c) in &memo.counts {
        *transient.entry(*r).or_insert(0) += c;
    }
    Err(transient)
}

/// Rejection counts keyed by their text.
pub(crate) fn render(rejects: &BTreeMap<Reject, u32>, job: &Job) -> BTreeMap<String, u32> {
    let want = &job.req.resources;
    let mut out = BTreeMap::new();
    for (r, n) in rejects {
        let i = |x: &u16| usize::from(*x);
        let reason = match r {
            Reject::Inactive => "agent inactive".to_string(),
            Reject::Constraint(x) => format!(
                "constraint {}",
                job.constraints.get(i(x)).map_or("", |c| c.text.as_str())
            ),
            Reject::Scalar(x) => format!(
                "insufficient {}",
                want.scalars.keys().nth(i(x)).map_or("", String::as_str)
            ),
            Reject::Range(x) => format!(
                "insufficient {}",
                want.ranges.keys().nth(i(x)).map_or("", String::as_str)
            ),
            Reject::Set(x) => format!(
                "insufficient {}",
                want.sets.keys().nth(i(x)).map_or("", String::as_str)
            ),
            Reject::Ports => "insufficient ports".to_string(),
            Reject::FixedPorts => {
                let fixed: Vec<String> = job.ports.fixed.values().map(|p| p.to_string()).collect();
                format!("insufficient ports {}", fixed.join(","))
            }
        };
        *out.entry(reason).or_insert(0) += n;
    }
    out
}
