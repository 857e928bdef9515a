//! Marathon deployment decisions: plans, rolling restarts, scaling, launch backoff and
//! unreachable handling; pure.
//!
//! The service that owns the state (root group, instances, running plans, backoff per run
//! spec) asks this crate what to do and carries it out:
//!
//! * on a write: [`plan`] the diff of the current and the new root group, check
//!   [`conflicts`] with the running plans (409 unless `force`), then run its steps in order;
//!   `DELETE /v2/deployments/{id}` uses [`rollback`];
//! * on every instance change and tick, for each action of each running plan's current
//!   step: [`advance`], apply its kills, expunges and launches, and move to the next step
//!   when every action of the step is done;
//! * for every run spec no running plan holds: [`reconcile`]; for the others, still
//!   [`handle_unreachable`];
//! * on every terminal status: [`BackoffState::on_condition`]; on a new version or
//!   `DELETE /v2/queue/{id}/delay`: [`BackoffState::reset`]; on ticks:
//!   [`BackoffState::maybe_reset`].
//!
//! Every decision is a function of its inputs and idempotent once the service has recorded
//! the previous answer (a kill as goal Decommissioned/Stopped and condition Killing, a
//! launch as a Provisioned instance): instances going away are never counted nor killed
//! again, instances coming up are counted.
//!
//! Module map: `spec` and `instance` (the model), `census` (how instances are counted),
//! `graph` (dependency levels), `action` and `plan` (plans), `kill_order` and `scaling`
//! (which instances go), `advance` and `restart` (running actions), `reconcile`,
//! `unreachable`, `backoff`, `error`.
//!
//! Architecture Invariant: pure and deterministic; no I/O, no clock (`now` is an input, in
//! unix seconds), no randomness; ordered maps wherever order is visible.

#![forbid(unsafe_code)]

mod action;
mod advance;
mod backoff;
mod census;
mod error;
mod graph;
mod instance;
mod kill_order;
mod plan;
mod reconcile;
mod restart;
mod scaling;
mod spec;
mod unreachable;

pub use action::{Action, ActionKind, Step, Verb};
pub use advance::{Progress, advance};
pub use backoff::BackoffState;
pub use error::DeployError;
pub use instance::{Condition, Goal, Instance};
pub use kill_order::{kill_order, sorted_for_kill};
pub use plan::{DeploymentPlan, conflicts, plan, rollback};
pub use reconcile::{Reconcile, reconcile};
pub use spec::{
    BackoffPolicy, KillSelection, RootGroup, RunSpec, RunSpecKind, UnreachableStrategy,
    UpgradeStrategy,
};
pub use unreachable::{UnreachableActions, handle_unreachable};
