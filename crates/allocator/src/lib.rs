//! DRF allocation of agent resources to roles and frameworks; pure.
//!
//! Keel's allocator follows the Mesos hierarchical allocator: roles are ordered by their
//! weighted dominant resource share (DRF), frameworks inside a role likewise, and the lowest
//! goes first. Two entry points use that order:
//!
//! * [`Allocator::allocate`] places a batch of task requests (Marathon-style) on agents,
//!   honouring placement constraints and spreading tasks with a rotating cursor;
//! * [`Allocator::generate_offers`] runs one Mesos offer cycle: each active agent's free
//!   resources go, whole, to the framework with the lowest share.
//!
//! The stateful constraints (UNIQUE, MAX_PER, GROUP_BY, and CLUSTER pinning within a batch)
//! count live allocations per *constraint scope*: a framework alone (scope `None`), or one
//! named scope of it (`Some(app)`: Marathon's constraints apply per app, and many apps run
//! under one framework). Requests, [`Allocator::allocate_used`] and [`Allocator::recover`]
//! name their scope; offers count under scope `None`.
//!
//! Module map: `drf` (the sorter), `constraints` (compiled placement constraints and the
//! per-scope tallies they read), `scope` (values per constraint scope), `agents` (the agent
//! table), `batch` (one `allocate` call), `search` (finding an agent for one request),
//! `offers` (one offer cycle), `skip` and `rng` (small helpers), `bench` (fixtures).
//!
//! Architecture Invariant: pure; no I/O, no clock, no global randomness (a seed is passed
//! in). An agent's allocated resources are always contained in its total: every grant is a
//! checked subtraction from the agent's free resources.

#![forbid(unsafe_code)]

mod agents;
mod allocator;
mod arith;
mod batch;
pub mod bench;
mod constraints;
mod drf;
mod error;
mod offers;
mod rng;
mod scope;
mod search;
mod skip;

pub use allocator::Allocator;
pub use error::AllocatorError;

use keel_model::{AgentId, Constraint, FrameworkId, HostPort};
use keel_resources::{Attributes, Resources};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An agent as the allocator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub id: AgentId,
    pub hostname: String,
    pub attributes: Attributes,
    pub total: Resources,
}

/// One task to place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacementRequest {
    pub id: String,
    pub framework: FrameworkId,
    pub role: String,
    /// Scalars (cpus, mem, disk, ...); ranges and sets are honoured too.
    pub resources: Resources,
    /// The host ports wanted, in the task's order (PORT0 first): each fixed port must be
    /// free on the agent; the `Any` entries get the lowest of its other free ports.
    #[serde(default)]
    pub ports: Vec<HostPort>,
    pub constraints: Vec<Constraint>,
    /// The constraint scope (a Marathon app id): UNIQUE, MAX_PER, GROUP_BY and CLUSTER
    /// pinning count the live allocations of `(framework, scope)`. `None` is the framework
    /// alone, a scope of its own (it does not see allocations made under `Some`).
    #[serde(default)]
    pub scope: Option<String>,
}

/// Where a request was placed and what it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub request_id: String,
    pub agent_id: AgentId,
    /// The requested resources plus the concrete `ports` ranges assigned.
    pub resources: Resources,
    /// The assigned host ports in the request's order (one per entry of its `ports`).
    #[serde(default)]
    pub host_ports: Vec<u16>,
}

/// A request that fit nowhere, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unplaced {
    pub request_id: String,
    /// Reason → number of agents that rejected the request for it; one reason per agent, the
    /// first failing check in the order: `agent inactive`, `constraint <field:OP[:value]>`,
    /// `insufficient <resource>`, `insufficient ports <p1>,<p2>` (a fixed host port is not
    /// free; the text names every fixed port of the request), `insufficient ports` (too few
    /// free ports for the others). A constraint that cannot be compiled
    /// gives `invalid constraint <field:OP[:value]>`, counted once per agent.
    pub rejections: BTreeMap<String, u32>,
}

/// The outcome of one [`Allocator::allocate`] batch, in the order requests were served.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AllocationResult {
    pub placed: Vec<Placement>,
    pub unplaced: Vec<Unplaced>,
}

/// Resources of one agent offered to one framework under one role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub agent_id: AgentId,
    pub framework: FrameworkId,
    pub role: String,
    pub resources: Resources,
}
