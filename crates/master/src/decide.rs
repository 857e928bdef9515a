//! The master's decisions apart from their effects: what a launch places and records, what
//! a kill sends, which status updates are accepted and how they change their tasks, the
//! record of an adopted task, which completed tasks are forgotten.
//!
//! Everything here is pure: it reads the [`State`] (and `now`) and returns records and an
//! [`Outbox`]; the `apply`/`record` functions update the in-memory state once the effects
//! side (`tasks.rs`) has made the records durable. No store, clock, channel or id source
//! is reachable from here.

use crate::core::State;
use crate::error::MasterError;
use crate::launch::TaskLaunch;
use crate::records::{FrameworkRecord, StatusEntry, TaskRecord};
use keel_allocator::{Placement, PlacementRequest};
use keel_api::internal::{AgentTask, LaunchResponse, MasterEvent};
use keel_model::{AgentId, FrameworkId, TaskId, TaskSpec, TaskState, TaskStatus};
use keel_resources::{Ranges, Resources};
use std::collections::{BTreeMap, BTreeSet};

/// uuids of acknowledged updates a task remembers, to drop duplicates.
const RECENT_UUIDS: usize = 16;

/// What to send once the records a decision made are durable.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Events for agents' streams, in order.
    pub sends: Vec<(AgentId, MasterEvent)>,
    /// Task statuses for subscribers and the status feed, in order.
    pub statuses: Vec<TaskStatus>,
}

/// What one launch asks for: a lone task, or a task group (a Marathon pod instance) that
/// is placed whole on one agent or not at all.
#[derive(Debug, Clone)]
pub enum LaunchUnit {
    Task(Box<TaskLaunch>),
    Group(Vec<TaskLaunch>),
}

impl LaunchUnit {
    /// The placement request's key: the (first) task's id.
    fn key(&self) -> String {
        match self {
            LaunchUnit::Task(l) => l.task_id.to_string(),
            LaunchUnit::Group(g) => g.first().map(|l| l.task_id.to_string()).unwrap_or_default(),
        }
    }

    /// Whether this is a task group.
    pub(crate) fn is_group(&self) -> bool {
        matches!(self, LaunchUnit::Group(_))
    }
}

/// The framework a launch runs under.
#[derive(Debug)]
pub(crate) enum FrameworkChoice {
    Known(FrameworkId),
    /// Registered on first use: persist the record (and the id counter) first.
    New(FrameworkRecord),
}

/// The framework called `name`, or the record that registers it.
pub(crate) fn framework(
    state: &State,
    name: &str,
    role: &str,
    now: f64,
) -> Result<FrameworkChoice, MasterError> {
    if let Some(fw) = state.frameworks.values().find(|f| f.name == name) {
        return Ok(FrameworkChoice::Known(fw.id.clone()));
    }
    let id = FrameworkId::nth(&state.info.master_id, state.info.next_framework)
        .map_err(|e| MasterError::invalid("framework", e.to_string()))?;
    Ok(FrameworkChoice::New(FrameworkRecord {
        id,
        name: name.to_string(),
        role: role.to_string(),
        registered_time: now,
    }))
}

/// Checks a unit before it is placed and names the framework and role it launches under.
/// A group must have a task, one framework and role, and task ids not in use.
pub(crate) fn check_unit<'a>(
    state: &State,
    unit: &'a LaunchUnit,
) -> Result<(&'a str, &'a str), MasterError> {
    let g = match unit {
        LaunchUnit::Task(l) => return Ok((&l.framework, &l.role)),
        LaunchUnit::Group(g) => g,
    };
    let first = g
        .first()
        .ok_or_else(|| MasterError::invalid("group", "a task group needs a task"))?;
    if g.iter()
        .any(|l| l.framework != first.framework || l.role != first.role)
    {
        return Err(MasterError::invalid(
            "group",
            "the tasks of a group must share framework and role",
        ));
    }
    let mut seen = BTreeSet::new();
    for l in g {
        if state.tasks.contains_key(&l.task_id) || !seen.insert(&l.task_id) {
            return Err(already_exists(&l.task_id));
        }
    }
    Ok((&first.framework, &first.role))
}

/// One placement request for a unit: a task's own, or for a group its summed scalars and
/// every task's wanted host ports in task order, under the first task's constraints and
/// scope. `None` for an empty group.
fn placement_request(unit: &LaunchUnit, fid: &FrameworkId) -> Option<PlacementRequest> {
    let (first, resources, ports) = match unit {
        LaunchUnit::Task(l) => (&**l, l.resources.clone(), l.ports.clone()),
        LaunchUnit::Group(g) => (
            g.first()?,
            g.iter()
                .fold(Resources::new(), |acc, l| acc.add(&l.resources)),
            g.iter().flat_map(|l| l.ports.iter().copied()).collect(),
        ),
    };
    Some(PlacementRequest {
        id: unit.key(),
        framework: fid.clone(),
        role: first.role.clone(),
        resources,
        ports,
        constraints: first.constraints.clone(),
        scope: first.placement_scope.clone(),
    })
}

/// Places checked units in one allocation (DRF order across roles and frameworks) and
/// makes each placed unit's TASK_STAGING records (not yet persisted; results in unit
/// order). From here the allocator holds the placed resources: [`release`] them if the
/// records are not recorded.
pub(crate) fn place(
    state: &mut State,
    units: Vec<(LaunchUnit, Result<FrameworkId, MasterError>)>,
    now: f64,
) -> Vec<Result<Vec<TaskRecord>, MasterError>> {
    let requests = units
        .iter()
        .filter_map(|(u, fid)| placement_request(u, fid.as_ref().ok()?))
        .collect();
    let result = state.allocator.allocate(requests);
    let mut placed: BTreeMap<String, Placement> = result
        .placed
        .into_iter()
        .map(|p| (p.request_id.clone(), p))
        .collect();
    let mut unplaced: BTreeMap<String, BTreeMap<String, u32>> = result
        .unplaced
        .into_iter()
        .map(|u| (u.request_id, u.rejections))
        .collect();
    units
        .into_iter()
        .map(|(unit, fid)| {
            let fid = fid?;
            let key = unit.key();
            let Some(p) = placed.remove(&key) else {
                return Err(MasterError::Unplaceable {
                    rejections: unplaced.remove(&key).unwrap_or_default(),
                });
            };
            let (role, scope) = match &unit {
                LaunchUnit::Task(l) => (l.role.clone(), l.placement_scope.clone()),
                LaunchUnit::Group(g) => g
                    .first()
                    .map(|l| (l.role.clone(), l.placement_scope.clone()))
                    .unwrap_or_default(),
            };
            let records = unit_records(state, unit, &fid, &p, now);
            if records.is_err() {
                let (agent, resources) = (&p.agent_id, &p.resources);
                state
                    .allocator
                    .recover(agent, &fid, &role, resources, scope.as_deref());
            }
            records
        })
        .collect()
}

/// The TASK_STAGING records of a placed unit. A lone task keeps the resources the
/// allocator placed; a group's placement is split back per task (scalars as requested,
/// host ports in order) and its tasks share their named ports as `ENDPOINT_<NAME>`.
fn unit_records(
    state: &State,
    unit: LaunchUnit,
    fid: &FrameworkId,
    p: &Placement,
    now: f64,
) -> Result<Vec<TaskRecord>, MasterError> {
    match unit {
        LaunchUnit::Task(l) => {
            if state.tasks.contains_key(&l.task_id) {
                return Err(already_exists(&l.task_id));
            }
            let (resources, ports) = (p.resources.clone(), p.host_ports.clone());
            Ok(vec![staging_record(
                *l,
                fid.clone(),
                p.agent_id.clone(),
                resources,
                ports,
                now,
            )])
        }
        LaunchUnit::Group(g) => {
            if let Some(l) = g.iter().find(|l| state.tasks.contains_key(&l.task_id)) {
                return Err(already_exists(&l.task_id));
            }
            let mut ports = p.host_ports.iter().copied();
            let mut out = Vec::with_capacity(g.len());
            for l in g {
                let mine: Vec<u16> = ports.by_ref().take(l.ports.len()).collect();
                let mut resources = l.resources.clone();
                if !mine.is_empty() {
                    let ranges = mine.iter().map(|&p| (u64::from(p), u64::from(p))).collect();
                    resources = resources.with_ranges("ports", Ranges::new(ranges));
                }
                let agent = p.agent_id.clone();
                out.push(staging_record(l, fid.clone(), agent, resources, mine, now));
            }
            share_endpoints(&mut out);
            Ok(out)
        }
    }
}

fn already_exists(id: &TaskId) -> MasterError {
    MasterError::invalid("task_id", format!("task {id} already exists"))
}

/// A launch's TASK_STAGING record on `agent_id` with the resources it was placed with.
fn staging_record(
    l: TaskLaunch,
    framework_id: FrameworkId,
    agent_id: AgentId,
    resources: Resources,
    host_ports: Vec<u16>,
    now: f64,
) -> TaskRecord {
    let discovery = l.discovery.map(|mut d| {
        d.resolve_host_ports(&host_ports);
        d
    });
    let spec = TaskSpec {
        id: l.task_id,
        name: l.name,
        framework_id,
        role: l.role,
        command: l.command,
        resources,
        kill_grace_secs: l.kill_grace_secs,
        labels: l.labels,
        health_checks: l.health_checks,
        fetch: l.fetch,
        port_names: l.port_names,
        placement_scope: l.placement_scope,
        container: l.container,
        host_ports,
        discovery,
    };
    TaskRecord {
        spec,
        framework_name: l.framework,
        agent_id,
        state: TaskState::Staging,
        statuses: vec![StatusEntry {
            state: TaskState::Staging,
            timestamp: now,
            container_id: None,
            healthy: None,
            source: None,
            reason: None,
            container_ips: Vec::new(),
        }],
        container_id: None,
        reason: None,
        message: None,
        kill_grace_secs: None,
        healthy: None,
        container_ips: Vec::new(),
        recent_uuids: Vec::new(),
        launched_time: now,
    }
}

/// Every task of a group sees the group's named host ports as `ENDPOINT_<NAME>` (Mesos
/// task groups share their endpoints, as Marathon pods expect).
fn share_endpoints(group: &mut [TaskRecord]) {
    let mut shared = BTreeMap::new();
    for rec in group.iter() {
        let ports = rec.spec.host_ports();
        for (name, port) in rec.spec.port_names.iter().zip(ports) {
            if !name.is_empty() {
                shared.insert(
                    format!("ENDPOINT_{}", keel_model::env_name(name)),
                    port.to_string(),
                );
            }
        }
    }
    for rec in group.iter_mut() {
        rec.spec.command.env.extend(shared.clone());
    }
}

/// Remembers durable launch records: the tasks are the master's from now on, and their
/// launches go into `out`. Answers in record order.
pub(crate) fn record_launched(
    state: &mut State,
    records: Vec<TaskRecord>,
    out: &mut Outbox,
) -> Vec<LaunchResponse> {
    records
        .into_iter()
        .map(|rec| {
            let (task_id, agent_id) = (rec.spec.id.clone(), rec.agent_id.clone());
            let ev = MasterEvent::Launch {
                task: Box::new(rec.spec.clone()),
                framework_name: rec.framework_name.clone(),
            };
            state.changes.touch(&task_id);
            state.tasks.insert(task_id.clone(), rec);
            out.sends.push((agent_id.clone(), ev));
            LaunchResponse { task_id, agent_id }
        })
        .collect()
}

/// Gives a task's resources on `agent` back to the allocator.
pub(crate) fn release(state: &mut State, agent: &AgentId, spec: &TaskSpec) {
    state.allocator.recover(
        agent,
        &spec.framework_id,
        &spec.role,
        &spec.resources,
        spec.placement_scope.as_deref(),
    );
}

/// A kill of task `id` with `grace` (else its own grace period): the record that keeps
/// the kill (re-sent when the agent re-registers) and the kill to send.
pub(crate) fn kill_plan(
    state: &State,
    id: &TaskId,
    grace: Option<f64>,
) -> Result<(TaskRecord, Outbox), MasterError> {
    let rec = state
        .tasks
        .get(id)
        .ok_or_else(|| MasterError::UnknownTask(id.clone()))?;
    if rec.state.is_terminal() {
        return Err(MasterError::TaskTerminal {
            id: id.clone(),
            state: rec.state.to_string(),
        });
    }
    let grace = grace.unwrap_or(rec.spec.kill_grace_secs);
    if !(0.0..=3600.0).contains(&grace) {
        return Err(MasterError::invalid(
            "grace_secs",
            format!("{grace} is outside 0..=3600"),
        ));
    }
    let mut rec = rec.clone();
    rec.kill_grace_secs = Some(grace);
    let kill = MasterEvent::Kill {
        task_id: id.clone(),
        grace_secs: grace,
    };
    let out = Outbox {
        sends: vec![(rec.agent_id.clone(), kill)],
        statuses: Vec::new(),
    };
    Ok((rec, out))
}

/// Checks a single status update from `agent`: the agent must be known, and the task (if
/// known) must run on it. An error counts as an invalid update.
pub(crate) fn check_status(
    state: &State,
    agent: &AgentId,
    status: &TaskStatus,
) -> Result<(), MasterError> {
    if !state.agents.contains_key(agent) {
        return Err(MasterError::UnknownAgent(agent.clone()));
    }
    match state.tasks.get(&status.task_id) {
        Some(rec) if &rec.agent_id != agent => Err(MasterError::WrongAgent {
            task: status.task_id.clone(),
            agent: agent.clone(),
        }),
        _ => Ok(()),
    }
}

/// The statuses of agents' batches to record, with the counts of valid and invalid ones.
#[derive(Debug, Default)]
pub(crate) struct Accepted {
    pub statuses: Vec<TaskStatus>,
    pub valid: u64,
    pub invalid: u64,
}

/// Checks one agent's batch and moves the statuses to record into `acc`: updates of
/// unknown tasks or tasks of another agent are invalid and dropped, duplicates (a uuid the
/// task saw) are ignored. A batch from an unknown agent is refused whole.
pub(crate) fn accept_statuses(
    state: &State,
    agent: &AgentId,
    statuses: Vec<TaskStatus>,
    acc: &mut Accepted,
) -> Result<(), MasterError> {
    if !state.agents.contains_key(agent) {
        acc.invalid += statuses.len() as u64;
        return Err(MasterError::UnknownAgent(agent.clone()));
    }
    for status in statuses {
        let Some(rec) = state.tasks.get(&status.task_id) else {
            acc.invalid += 1;
            tracing::warn!(task = %status.task_id, "status update for an unknown task; acknowledging and dropping it");
            continue;
        };
        if &rec.agent_id != agent {
            acc.invalid += 1;
            tracing::warn!(task = %status.task_id, agent = %agent, "status update from an agent the task does not run on; dropped");
            continue;
        }
        if seen(rec, &status) {
            continue;
        }
        acc.valid += 1;
        acc.statuses.push(status);
    }
    Ok(())
}

fn seen(rec: &TaskRecord, status: &TaskStatus) -> bool {
    status
        .uuid
        .as_ref()
        .is_some_and(|u| rec.recent_uuids.contains(u))
}

/// How accepted statuses change their tasks: the new records (with whether each task was
/// terminal before) and the statuses to publish.
#[derive(Debug, Default)]
pub(crate) struct StatusChanges {
    updated: BTreeMap<TaskId, (TaskRecord, bool)>,
    published: Vec<TaskStatus>,
}

impl StatusChanges {
    /// Nothing to persist or publish.
    pub fn is_empty(&self) -> bool {
        self.updated.is_empty()
    }

    /// The records to persist.
    pub fn records(&self) -> impl Iterator<Item = &TaskRecord> {
        self.updated.values().map(|(r, _)| r)
    }
}

/// Folds statuses (each of a task on the agent that sent it) into their tasks' records in
/// order. A status whose uuid its task already saw is skipped; a terminal task keeps its
/// state and only remembers the uuid.
pub(crate) fn status_changes(state: &State, statuses: Vec<TaskStatus>) -> StatusChanges {
    let mut ch = StatusChanges {
        updated: BTreeMap::new(),
        published: Vec::with_capacity(statuses.len()),
    };
    for status in statuses {
        let entry = match ch.updated.remove(&status.task_id) {
            Some(e) => e,
            None => match state.tasks.get(&status.task_id) {
                Some(rec) => (rec.clone(), rec.state.is_terminal()),
                None => continue,
            },
        };
        let (mut rec, was_terminal) = entry;
        if seen(&rec, &status) {
            // Sent again (in another batch of the same group) before the first was recorded.
            ch.updated
                .insert(status.task_id.clone(), (rec, was_terminal));
            continue;
        }
        if rec.state.is_terminal() {
            // A terminal state never changes; remember the uuid so a retry is deduplicated.
            remember_uuid(&mut rec, &status);
        } else {
            apply(&mut rec, &status);
        }
        ch.updated
            .insert(status.task_id.clone(), (rec, was_terminal));
        ch.published.push(status);
    }
    ch
}

/// Takes durable status changes into the state: tasks that ended give their resources
/// back and are counted; the statuses are to be published.
pub(crate) fn apply_status_changes(state: &mut State, ch: StatusChanges) -> Outbox {
    for (id, (rec, was_terminal)) in ch.updated {
        if !was_terminal && rec.state.is_terminal() {
            release(state, &rec.agent_id, &rec.spec);
            *state
                .counters
                .terminal
                .entry(rec.state.as_str())
                .or_default() += 1;
            *state
                .terminal_tasks
                .entry(rec.spec.framework_id.clone())
                .or_default() += 1;
        }
        state.changes.touch(&id);
        state.tasks.insert(id, rec);
    }
    Outbox {
        sends: Vec::new(),
        statuses: ch.published,
    }
}

/// Folds a status into a task record: one history entry per new state. A status without
/// container addresses keeps the ones the task last reported (the container still has
/// them, as Mesos's agent adds them to every update).
fn apply(rec: &mut TaskRecord, status: &TaskStatus) {
    if !status.container_ips.is_empty() {
        rec.container_ips = status.container_ips.clone();
    }
    let entry = StatusEntry {
        state: status.state,
        timestamp: status.timestamp,
        container_id: status
            .container_id
            .clone()
            .or_else(|| rec.container_id.clone()),
        healthy: status.healthy,
        source: Some(status.source),
        reason: status.reason,
        container_ips: rec.container_ips.clone(),
    };
    match rec.statuses.last_mut() {
        Some(last) if last.state == status.state => *last = entry,
        _ => rec.statuses.push(entry),
    }
    rec.state = status.state;
    rec.healthy = if status.state.is_terminal() {
        status.healthy
    } else {
        status.healthy.or(rec.healthy)
    };
    if status.container_id.is_some() {
        rec.container_id = status.container_id.clone();
    }
    rec.reason = status.reason;
    rec.message = status.message.clone();
    remember_uuid(rec, status);
}

fn remember_uuid(rec: &mut TaskRecord, status: &TaskStatus) {
    if let Some(u) = &status.uuid {
        rec.recent_uuids.push(u.clone());
        if rec.recent_uuids.len() > RECENT_UUIDS {
            rec.recent_uuids.remove(0);
        }
    }
}

/// The record of a task an agent reports that the master did not know (adopted as the
/// agent reports it, under its framework's name if the master knows the framework).
pub(crate) fn adopted_record(
    state: &State,
    agent: &AgentId,
    t: &AgentTask,
    now: f64,
) -> TaskRecord {
    let framework_name = state
        .frameworks
        .get(&t.spec.framework_id)
        .map(|f| f.name.clone())
        .unwrap_or_else(|| "unknown".into());
    TaskRecord {
        spec: t.spec.clone(),
        framework_name,
        agent_id: agent.clone(),
        state: t.state,
        statuses: vec![StatusEntry {
            state: t.state,
            timestamp: now,
            container_id: t.container_id.clone(),
            healthy: None,
            source: Some(keel_model::Source::SourceAgent),
            reason: None,
            container_ips: Vec::new(),
        }],
        container_id: t.container_id.clone(),
        reason: None,
        message: None,
        kill_grace_secs: None,
        healthy: None,
        container_ips: Vec::new(),
        recent_uuids: Vec::new(),
        launched_time: now,
    }
}

/// Takes a durable adopted record into the state; its resources count as used on its
/// agent (even past the agent's total: the task runs there).
pub(crate) fn record_adopted(state: &mut State, rec: TaskRecord) {
    let s = &rec.spec;
    if let Err(e) = state.allocator.allocate_used(
        &rec.agent_id,
        &s.framework_id,
        &s.role,
        &s.resources,
        s.placement_scope.as_deref(),
    ) {
        tracing::warn!(task = %s.id, "adopted task over-commits its agent: {e}");
    }
    state.changes.touch(&rec.spec.id);
    state.tasks.insert(rec.spec.id.clone(), rec);
}

/// The terminal tasks to forget so that at most `max_completed_tasks` stay per framework,
/// oldest first. Nothing until a framework is 10% over the bound, so the scan is rare.
pub(crate) fn prune_plan(state: &State) -> Vec<TaskId> {
    let max = state.config.max_completed_tasks;
    let over: Vec<&FrameworkId> = state
        .terminal_tasks
        .iter()
        .filter(|(_, n)| **n > max + max / 10)
        .map(|(f, _)| f)
        .collect();
    if over.is_empty() {
        return Vec::new();
    }
    let mut done: BTreeMap<&FrameworkId, Vec<(f64, &TaskId)>> = BTreeMap::new();
    for t in state.tasks.values().filter(|t| t.state.is_terminal()) {
        if over.contains(&&t.spec.framework_id) {
            done.entry(&t.spec.framework_id)
                .or_default()
                .push((t.last_timestamp(), &t.spec.id));
        }
    }
    let mut ids: Vec<TaskId> = Vec::new();
    for (_, mut tasks) in done {
        tasks.sort_by(|a, b| a.0.total_cmp(&b.0));
        let excess = tasks.len().saturating_sub(max);
        ids.extend(tasks.into_iter().take(excess).map(|(_, id)| id.clone()));
    }
    ids
}

/// Forgets durably deleted tasks.
pub(crate) fn apply_prune(state: &mut State, ids: &[TaskId]) {
    for id in ids {
        if let Some(t) = state.tasks.remove(id)
            && let Some(n) = state.terminal_tasks.get_mut(&t.spec.framework_id)
        {
            *n = n.saturating_sub(1);
        }
        state.changes.remove(id);
    }
}
