//! Agent membership decisions apart from their effects: the record of a (re-)registering
//! agent, what its report of tasks means (adopt, re-registered, lost, launches and kills
//! to send again), which agents are silent past the timeout and what marking one
//! unreachable changes. Pure, like `decide.rs`: the state and `now` in, records, statuses
//! and an [`Outbox`] out; `agents.rs` persists and sends.

use crate::core::{AgentEntry, State, agent_info};
use crate::decide::Outbox;
use crate::error::MasterError;
use crate::records::{AgentRecord, AgentStatus};
use keel_api::internal::{AgentTask, MasterEvent, RegisterAgent};
use keel_model::{AgentId, Reason, Source, TaskId, TaskState, TaskStatus};
use std::collections::BTreeSet;
use std::time::Duration;

/// The id for a new agent (persist the bumped counter before handing it out).
pub(crate) fn new_agent_id(state: &State) -> Result<AgentId, MasterError> {
    AgentId::nth(&state.info.master_id, state.info.next_agent)
        .map_err(|e| MasterError::invalid("agent_id", e.to_string()))
}

/// What registering agent `id` records: its record (keeping the first registration time
/// of a known agent) and whether it came back under another hostname.
pub(crate) fn registration(
    state: &State,
    id: &AgentId,
    req: &RegisterAgent,
    now: f64,
) -> (AgentRecord, bool) {
    let known = state.agents.get(id).map(|a| &a.rec);
    let renamed = known.is_some_and(|a| a.hostname != req.hostname);
    let registered = known.map(|a| a.registered_time);
    let rec = AgentRecord {
        id: id.clone(),
        hostname: req.hostname.clone(),
        endpoint: req.endpoint.clone(),
        resources: req.resources.clone(),
        attributes: req.attributes.clone(),
        version: req.version.clone(),
        registered_time: registered.unwrap_or(now),
        reregistered_time: registered.map(|_| now),
        status: AgentStatus::Active,
        unreachable_time: None,
    };
    (rec, renamed)
}

/// Takes a durable registration into the state: the agent is active for the allocator
/// and counted, its tasks' views change if it was renamed. Returns the connection's
/// generation and the `Registered` event to send first.
pub(crate) fn apply_registration(
    state: &mut State,
    rec: AgentRecord,
    renamed: bool,
    last_seen: Duration,
) -> (u64, Outbox) {
    let id = rec.id.clone();
    if state.agents.contains_key(&id) {
        state.counters.slave_reregistrations += 1;
    } else {
        state.counters.slave_registrations += 1;
    }
    state.allocator.add_agent(agent_info(&rec));
    state.allocator.set_agent_active(&id, true);
    let generation = state.next_generation;
    state.next_generation += 1;
    let entry = AgentEntry {
        rec,
        last_seen,
        recovered: false,
    };
    state.agents.insert(id.clone(), entry);
    if renamed {
        // Task views carry their agent's hostname.
        let mine: Vec<TaskId> = (state.tasks.values())
            .filter(|t| t.agent_id == id)
            .map(|t| t.spec.id.clone())
            .collect();
        for t in &mine {
            state.changes.touch(t);
        }
    }
    let registered = MasterEvent::Registered {
        agent_id: id.clone(),
        master_id: state.info.master_id.clone(),
        heartbeat_interval_secs: state.config.heartbeat_interval.as_secs_f64(),
    };
    let out = Outbox {
        sends: vec![(id, registered)],
        statuses: Vec::new(),
    };
    (generation, out)
}

/// What a task an agent reports on (re-)registration means.
#[derive(Debug)]
pub(crate) enum Reported {
    /// Nothing to do (known as it is, placed elsewhere, or ended and unknown).
    Keep,
    /// The task was unreachable and runs again: record this status.
    Back(TaskStatus),
    /// A live task the master did not know: adopt it.
    Adopt,
}

/// Judges one task agent `id` reports.
pub(crate) fn reported(state: &State, id: &AgentId, t: &AgentTask, now: f64) -> Reported {
    let task_id = &t.spec.id;
    match state.tasks.get(task_id) {
        Some(rec) if &rec.agent_id != id => {
            tracing::warn!(task = %task_id, agent = %id, "agent reports a task the master placed elsewhere");
            Reported::Keep
        }
        Some(rec) if rec.state == TaskState::Unreachable && !t.state.is_terminal() => {
            let mut status = master_status(
                state,
                task_id,
                t.state,
                Reason::ReasonAgentReregistered,
                "Agent re-registered",
                now,
            );
            status.container_id = t.container_id.clone();
            Reported::Back(status)
        }
        Some(_) => Reported::Keep,
        None if t.state.is_terminal() => Reported::Keep,
        None => {
            tracing::warn!(task = %task_id, agent = %id, "adopting a task the master did not know");
            Reported::Adopt
        }
    }
}

/// The live tasks of agent `id` it did not report (`seen` are those it did): a task still
/// staging is launched again (in the outbox), any other is lost (the statuses to record).
pub(crate) fn unreported(
    state: &State,
    id: &AgentId,
    seen: &BTreeSet<TaskId>,
    now: f64,
) -> (Outbox, Vec<TaskStatus>) {
    let mut out = Outbox::default();
    let mut lost = Vec::new();
    let mine = (state.tasks.values())
        .filter(|t| &t.agent_id == id && !t.state.is_terminal() && !seen.contains(&t.spec.id));
    for t in mine {
        if t.state == TaskState::Staging {
            let ev = MasterEvent::Launch {
                task: Box::new(t.spec.clone()),
                framework_name: t.framework_name.clone(),
            };
            out.sends.push((id.clone(), ev));
        } else {
            lost.push(master_status(
                state,
                &t.spec.id,
                TaskState::Lost,
                Reason::ReasonReconciliation,
                "Task was not reported by the re-registering agent",
                now,
            ));
        }
    }
    (out, lost)
}

/// The kills requested of agent `id`'s live tasks, to send again.
pub(crate) fn kills_to_resend(state: &State, id: &AgentId) -> Outbox {
    let sends = (state.tasks.values())
        .filter(|t| &t.agent_id == id && !t.state.is_terminal())
        .filter_map(|t| {
            t.kill_grace_secs.map(|g| {
                let kill = MasterEvent::Kill {
                    task_id: t.spec.id.clone(),
                    grace_secs: g,
                };
                (id.clone(), kill)
            })
        })
        .collect();
    Outbox {
        sends,
        statuses: Vec::new(),
    }
}

/// The active agents silent past the timeout at monotonic time `now`.
pub(crate) fn silent_agents(state: &State, now: Duration) -> Vec<AgentId> {
    let timeout = state.config.agent_timeout;
    (state.agents.values())
        .filter(|a| {
            a.rec.status == AgentStatus::Active && now.saturating_sub(a.last_seen) > timeout
        })
        .map(|a| a.rec.id.clone())
        .collect()
}

/// Marking agent `id` unreachable at `now`: its record and the TASK_UNREACHABLE statuses
/// of its live tasks. `None` for an agent the master does not know.
pub(crate) fn unreachable(
    state: &State,
    id: &AgentId,
    now: f64,
) -> Option<(AgentRecord, Vec<TaskStatus>)> {
    let mut rec = state.agents.get(id)?.rec.clone();
    rec.status = AgentStatus::Unreachable;
    rec.unreachable_time = Some(now);
    let statuses = (state.tasks.values())
        .filter(|t| &t.agent_id == id && !t.state.is_terminal())
        .map(|t| {
            master_status(
                state,
                &t.spec.id,
                TaskState::Unreachable,
                Reason::ReasonAgentDisconnected,
                "Agent is unreachable",
                now,
            )
        })
        .collect();
    Some((rec, statuses))
}

/// Takes a durable unreachable record into the state; the allocator stops offering the
/// agent.
pub(crate) fn apply_unreachable(state: &mut State, rec: AgentRecord) {
    state.allocator.set_agent_active(&rec.id, false);
    if let Some(a) = state.agents.get_mut(&rec.id) {
        a.rec = rec;
    }
}

/// A status the master generates itself (no uuid, not acknowledged).
pub(crate) fn master_status(
    state: &State,
    task: &TaskId,
    task_state: TaskState,
    reason: Reason,
    message: &str,
    now: f64,
) -> TaskStatus {
    TaskStatus {
        task_id: task.clone(),
        state: task_state,
        source: Source::SourceMaster,
        reason: Some(reason),
        message: Some(message.to_string()),
        agent_id: state.tasks.get(task).map(|t| t.agent_id.clone()),
        container_id: None,
        timestamp: now,
        uuid: None,
        exit_code: None,
        healthy: None,
        container_ips: Vec::new(),
    }
}
