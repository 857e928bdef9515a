//! Task lifecycle on the master: placement and launch, kill, and recording status updates
//! (deduplicated, persisted before they are acknowledged).

use crate::core::Core;
use crate::error::MasterError;
use crate::records::{StatusEntry, TaskRecord};
use keel_allocator::PlacementRequest;
use keel_api::internal::{AgentTask, LaunchRequest, LaunchResponse, MasterEvent};
use keel_model::{AgentId, CommandSpec, HostPort, TaskId, TaskSpec, TaskState, TaskStatus};
use keel_resources::Resources;
use std::collections::BTreeMap;

pub use crate::launch::TaskLaunch;

/// Kill grace period when the request names none (Mesos's command executor default).
pub const DEFAULT_KILL_GRACE_SECS: f64 = 3.0;
const RECENT_UUIDS: usize = 16;

impl Core {
    /// Places and launches a command task from the internal HTTP API's request.
    pub fn launch(
        &mut self,
        req: LaunchRequest,
        framework_name: &str,
    ) -> Result<LaunchResponse, MasterError> {
        let command = validate_launch(&req)?;
        let name = req.name.clone().unwrap_or_else(|| "task".into());
        let task_id = TaskId::new(format!("{name}.{}", uuid::Uuid::new_v4()))
            .map_err(|e| MasterError::invalid("name", e.to_string()))?;
        let launch = TaskLaunch {
            task_id,
            name,
            framework: framework_name.to_string(),
            role: req.role.clone(),
            command,
            resources: Resources::new()
                .with_scalar("cpus", req.cpus)
                .with_scalar("mem", req.mem)
                .with_scalar("disk", req.disk),
            ports: vec![HostPort::Any; req.ports as usize],
            constraints: req.constraints.clone(),
            kill_grace_secs: req.kill_grace_secs.unwrap_or(DEFAULT_KILL_GRACE_SECS),
            labels: req.labels.clone(),
            health_checks: Vec::new(),
            fetch: Vec::new(),
            port_names: Vec::new(),
            placement_scope: None,
            container: req.container.clone(),
        };
        self.launch_batch(vec![launch])
            .pop()
            .unwrap_or_else(|| Err(MasterError::invalid("request", "nothing to launch")))
    }

    /// Places a batch of tasks in one allocation (DRF order across roles and frameworks)
    /// and launches those that fit. Each placed task is persisted as TASK_STAGING before
    /// its launch is sent and before this returns. Results are in request order.
    pub fn launch_batch(
        &mut self,
        launches: Vec<TaskLaunch>,
    ) -> Vec<Result<LaunchResponse, MasterError>> {
        let mut requests = Vec::with_capacity(launches.len());
        let mut framework_ids = Vec::with_capacity(launches.len());
        for l in &launches {
            match self.framework(&l.framework, &l.role) {
                Ok(fid) => {
                    requests.push(PlacementRequest {
                        id: l.task_id.to_string(),
                        framework: fid.clone(),
                        role: l.role.clone(),
                        resources: l.resources.clone(),
                        ports: l.ports.clone(),
                        constraints: l.constraints.clone(),
                        scope: l.placement_scope.clone(),
                    });
                    framework_ids.push(Ok(fid));
                }
                Err(e) => framework_ids.push(Err(e)),
            }
        }
        let result = self.allocator.allocate(requests);
        let mut placed: BTreeMap<String, keel_allocator::Placement> = result
            .placed
            .into_iter()
            .map(|p| (p.request_id.clone(), p))
            .collect();
        let mut unplaced: BTreeMap<String, BTreeMap<String, u32>> = result
            .unplaced
            .into_iter()
            .map(|u| (u.request_id, u.rejections))
            .collect();
        let records: Vec<Result<TaskRecord, MasterError>> = launches
            .into_iter()
            .zip(framework_ids)
            .map(|(l, fid)| {
                let fid = fid?;
                let key = l.task_id.to_string();
                match placed.remove(&key) {
                    Some(p) => self.placed_record(l, fid, p),
                    None => Err(MasterError::Unplaceable {
                        rejections: unplaced.remove(&key).unwrap_or_default(),
                    }),
                }
            })
            .collect();
        // One durable commit for the whole batch, before any launch is sent.
        if let Err(e) = self.save_tasks(records.iter().filter_map(|r| r.as_ref().ok())) {
            let msg = e.to_string();
            for rec in records.iter().filter_map(|r| r.as_ref().ok()) {
                self.release(&rec.agent_id, &rec.spec);
            }
            return records
                .into_iter()
                .map(|r| {
                    r.and_then(|_| {
                        Err(MasterError::Corrupt {
                            key: "<launch batch>".into(),
                            reason: msg.clone(),
                        })
                    })
                })
                .collect();
        }
        records
            .into_iter()
            .map(|r| {
                let rec = r?;
                let (task_id, agent_id) = (rec.spec.id.clone(), rec.agent_id.clone());
                let ev = MasterEvent::Launch {
                    task: Box::new(rec.spec.clone()),
                    framework_name: rec.framework_name.clone(),
                };
                self.changes.touch(&task_id);
                self.tasks.insert(task_id.clone(), rec);
                self.send(&agent_id, ev);
                Ok(LaunchResponse { task_id, agent_id })
            })
            .collect()
    }

    /// Places each group of tasks on one agent (a Marathon pod instance): one placement of
    /// the group's summed scalars and its tasks' wanted host ports in turn, under the first task's framework, role,
    /// constraints and scope; the placed resources are split back per task (scalars as
    /// requested, host ports in order). All records of all placed groups are persisted in
    /// one transaction before any launch is sent. Results are in request order; a group is
    /// placed whole or not at all.
    pub fn launch_groups(
        &mut self,
        groups: Vec<Vec<TaskLaunch>>,
    ) -> Vec<Result<Vec<LaunchResponse>, MasterError>> {
        let mut requests = Vec::with_capacity(groups.len());
        let checked: Vec<Result<keel_model::FrameworkId, MasterError>> = groups
            .iter()
            .map(|g| {
                let fid = self.check_group(g)?;
                requests.push(group_request(g, &fid));
                Ok(fid)
            })
            .collect();
        let result = self.allocator.allocate(requests);
        let mut placed: BTreeMap<String, keel_allocator::Placement> = result
            .placed
            .into_iter()
            .map(|p| (p.request_id.clone(), p))
            .collect();
        let mut unplaced: BTreeMap<String, BTreeMap<String, u32>> = result
            .unplaced
            .into_iter()
            .map(|u| (u.request_id, u.rejections))
            .collect();
        let records: Vec<Result<Vec<TaskRecord>, MasterError>> = groups
            .into_iter()
            .zip(checked)
            .map(|(g, fid)| {
                let fid = fid?;
                let key = g.first().map(|l| l.task_id.to_string()).unwrap_or_default();
                match placed.remove(&key) {
                    Some(p) => self.placed_group(g, fid, p),
                    None => Err(MasterError::Unplaceable {
                        rejections: unplaced.remove(&key).unwrap_or_default(),
                    }),
                }
            })
            .collect();
        let all = records.iter().filter_map(|r| r.as_ref().ok()).flatten();
        if let Err(e) = self.save_tasks(all) {
            let msg = e.to_string();
            for rec in records.iter().filter_map(|r| r.as_ref().ok()).flatten() {
                self.release(&rec.agent_id, &rec.spec);
            }
            return records
                .into_iter()
                .map(|r| {
                    r.and_then(|_| {
                        Err(MasterError::Corrupt {
                            key: "<launch groups>".into(),
                            reason: msg.clone(),
                        })
                    })
                })
                .collect();
        }
        records
            .into_iter()
            .map(|r| Ok(r?.into_iter().map(|rec| self.send_launch(rec)).collect()))
            .collect()
    }

    /// Registers the group's framework; refuses empty groups, mixed frameworks or roles,
    /// and task ids already in use.
    fn check_group(&mut self, g: &[TaskLaunch]) -> Result<keel_model::FrameworkId, MasterError> {
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
        let mut seen = std::collections::BTreeSet::new();
        for l in g {
            if self.tasks.contains_key(&l.task_id) || !seen.insert(&l.task_id) {
                return Err(MasterError::invalid(
                    "task_id",
                    format!("task {} already exists", l.task_id),
                ));
            }
        }
        self.framework(&first.framework, &first.role)
    }

    /// Splits a group's placement into one TASK_STAGING record per task.
    fn placed_group(
        &mut self,
        g: Vec<TaskLaunch>,
        fid: keel_model::FrameworkId,
        placed: keel_allocator::Placement,
    ) -> Result<Vec<TaskRecord>, MasterError> {
        let mut ports = placed.host_ports.into_iter();
        let mut out = Vec::with_capacity(g.len());
        for l in g {
            let mine: Vec<u16> = ports.by_ref().take(l.ports.len()).collect();
            let mut resources = l.resources.clone();
            if !mine.is_empty() {
                let ranges = mine.iter().map(|&p| (u64::from(p), u64::from(p))).collect();
                resources = resources.with_ranges("ports", keel_resources::Ranges::new(ranges));
            }
            let part = keel_allocator::Placement {
                request_id: l.task_id.to_string(),
                agent_id: placed.agent_id.clone(),
                resources,
                host_ports: mine,
            };
            out.push(self.placed_record(l, fid.clone(), part)?);
        }
        share_endpoints(&mut out);
        Ok(out)
    }

    /// Remembers a persisted record and sends its launch to the agent.
    fn send_launch(&mut self, rec: TaskRecord) -> LaunchResponse {
        let (task_id, agent_id) = (rec.spec.id.clone(), rec.agent_id.clone());
        let ev = MasterEvent::Launch {
            task: Box::new(rec.spec.clone()),
            framework_name: rec.framework_name.clone(),
        };
        self.changes.touch(&task_id);
        self.tasks.insert(task_id.clone(), rec);
        self.send(&agent_id, ev);
        LaunchResponse { task_id, agent_id }
    }

    /// The TASK_STAGING record of a placed launch (not yet persisted).
    fn placed_record(
        &mut self,
        l: TaskLaunch,
        framework_id: keel_model::FrameworkId,
        placed: keel_allocator::Placement,
    ) -> Result<TaskRecord, MasterError> {
        let spec = TaskSpec {
            id: l.task_id.clone(),
            name: l.name,
            framework_id,
            role: l.role,
            command: l.command,
            resources: placed.resources.clone(),
            kill_grace_secs: l.kill_grace_secs,
            labels: l.labels,
            health_checks: l.health_checks,
            fetch: l.fetch,
            port_names: l.port_names,
            placement_scope: l.placement_scope,
            container: l.container,
            host_ports: placed.host_ports,
        };
        if self.tasks.contains_key(&spec.id) {
            self.release(&placed.agent_id, &spec);
            return Err(MasterError::invalid(
                "task_id",
                format!("task {} already exists", spec.id),
            ));
        }
        let now = self.now();
        Ok(TaskRecord {
            spec,
            framework_name: l.framework,
            agent_id: placed.agent_id,
            state: TaskState::Staging,
            statuses: vec![StatusEntry {
                state: TaskState::Staging,
                timestamp: now,
                container_id: None,
                healthy: None,
                source: None,
                reason: None,
            }],
            container_id: None,
            reason: None,
            message: None,
            kill_grace_secs: None,
            healthy: None,
            recent_uuids: Vec::new(),
            launched_time: now,
        })
    }

    /// Gives a task's resources on `agent` back to the allocator.
    fn release(&mut self, agent: &AgentId, spec: &TaskSpec) {
        self.allocator.recover(
            agent,
            &spec.framework_id,
            &spec.role,
            &spec.resources,
            spec.placement_scope.as_deref(),
        );
    }

    /// Requests a kill; durable: re-sent when the agent re-registers.
    pub fn kill(&mut self, id: &TaskId, grace: Option<f64>) -> Result<(), MasterError> {
        let rec = self
            .tasks
            .get_mut(id)
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
        rec.kill_grace_secs = Some(grace);
        let rec = rec.clone();
        self.save_task(&rec)?;
        self.send(
            &rec.agent_id,
            MasterEvent::Kill {
                task_id: id.clone(),
                grace_secs: grace,
            },
        );
        Ok(())
    }

    /// Handles a status update from agent `agent`. Returns once it is persisted; the
    /// caller then acknowledges it. Duplicates (same uuid) are acknowledged and ignored.
    pub fn status_update(
        &mut self,
        agent: &AgentId,
        status: TaskStatus,
    ) -> Result<(), MasterError> {
        if !self.agents.contains_key(agent) {
            self.counters.invalid_status_updates += 1;
            return Err(MasterError::UnknownAgent(agent.clone()));
        }
        if let Some(rec) = self.tasks.get(&status.task_id)
            && &rec.agent_id != agent
        {
            self.counters.invalid_status_updates += 1;
            return Err(MasterError::WrongAgent {
                task: status.task_id.clone(),
                agent: agent.clone(),
            });
        }
        self.status_updates(agent, vec![status])
    }

    /// Handles a batch of status updates from `agent` in order, persisting all of them in
    /// one store transaction (one durable commit) before returning. Updates for unknown
    /// tasks or tasks of another agent are counted invalid and dropped; duplicates (same
    /// uuid) are ignored.
    pub fn status_updates(
        &mut self,
        agent: &AgentId,
        statuses: Vec<TaskStatus>,
    ) -> Result<(), MasterError> {
        self.status_batches(vec![(agent.clone(), statuses)])
            .pop()
            .unwrap_or(Ok(()))
    }

    /// Handles the batches of several agents, each as [`Core::status_updates`] does, with
    /// one durable commit for all of them (a group commit). Results per batch, in order.
    pub fn status_batches(
        &mut self,
        batches: Vec<(AgentId, Vec<TaskStatus>)>,
    ) -> Vec<Result<(), MasterError>> {
        let mut accepted = Vec::new();
        let results: Vec<Result<(), MasterError>> = batches
            .into_iter()
            .map(|(agent, statuses)| self.accept_statuses(&agent, statuses, &mut accepted))
            .collect();
        match self.record_statuses(accepted) {
            Ok(()) => results,
            Err(e) => {
                let msg = e.to_string();
                results
                    .into_iter()
                    .map(|r| {
                        r.and_then(|()| {
                            Err(MasterError::Store(keel_store::StoreError::Backend(
                                msg.clone(),
                            )))
                        })
                    })
                    .collect()
            }
        }
    }

    /// Checks one agent's batch and moves the statuses to record into `accepted`.
    fn accept_statuses(
        &mut self,
        agent: &AgentId,
        statuses: Vec<TaskStatus>,
        accepted: &mut Vec<TaskStatus>,
    ) -> Result<(), MasterError> {
        if !self.agents.contains_key(agent) {
            self.counters.invalid_status_updates += statuses.len() as u64;
            return Err(MasterError::UnknownAgent(agent.clone()));
        }
        for status in statuses {
            let Some(rec) = self.tasks.get(&status.task_id) else {
                self.counters.invalid_status_updates += 1;
                tracing::warn!(task = %status.task_id, "status update for an unknown task; acknowledging and dropping it");
                continue;
            };
            if &rec.agent_id != agent {
                self.counters.invalid_status_updates += 1;
                tracing::warn!(task = %status.task_id, agent = %agent, "status update from an agent the task does not run on; dropped");
                continue;
            }
            if status
                .uuid
                .as_ref()
                .is_some_and(|u| rec.recent_uuids.contains(u))
            {
                continue;
            }
            self.counters.valid_status_updates += 1;
            accepted.push(status);
        }
        Ok(())
    }

    /// Applies `status` to its task, persists it, releases resources when it ends, and
    /// publishes it to subscribers.
    pub(crate) fn record_status(
        &mut self,
        agent: &AgentId,
        status: TaskStatus,
    ) -> Result<(), MasterError> {
        debug_assert!(
            self.tasks
                .get(&status.task_id)
                .is_none_or(|t| &t.agent_id == agent)
        );
        self.record_statuses(vec![status])
    }

    /// Applies statuses (each of a task on the agent that sent it) in order, persists every
    /// changed task in one transaction, then releases the resources of tasks that ended and
    /// publishes the statuses. A status whose uuid its task already saw is skipped.
    fn record_statuses(&mut self, statuses: Vec<TaskStatus>) -> Result<(), MasterError> {
        let mut updated: BTreeMap<TaskId, (TaskRecord, bool)> = BTreeMap::new();
        let mut published = Vec::with_capacity(statuses.len());
        for status in statuses {
            let entry = match updated.remove(&status.task_id) {
                Some(e) => e,
                None => match self.tasks.get(&status.task_id) {
                    Some(rec) => (rec.clone(), rec.state.is_terminal()),
                    None => continue,
                },
            };
            let (mut rec, was_terminal) = entry;
            if status
                .uuid
                .as_ref()
                .is_some_and(|u| rec.recent_uuids.contains(u))
            {
                // Sent again (in another batch of the same group) before the first was recorded.
                updated.insert(status.task_id.clone(), (rec, was_terminal));
                continue;
            }
            if rec.state.is_terminal() {
                // A terminal state never changes; remember the uuid so a retry is deduplicated.
                remember_uuid(&mut rec, &status);
            } else {
                apply(&mut rec, &status);
            }
            updated.insert(status.task_id.clone(), (rec, was_terminal));
            published.push(status);
        }
        if updated.is_empty() {
            return Ok(());
        }
        self.save_tasks(updated.values().map(|(r, _)| r))?;
        for (id, (rec, was_terminal)) in updated {
            if !was_terminal && rec.state.is_terminal() {
                self.release(&rec.agent_id.clone(), &rec.spec);
                *self
                    .counters
                    .terminal
                    .entry(rec.state.as_str())
                    .or_default() += 1;
                *self
                    .terminal_tasks
                    .entry(rec.spec.framework_id.clone())
                    .or_default() += 1;
            }
            self.changes.touch(&id);
            self.tasks.insert(id, rec);
        }
        if self.events.receiver_count() > 0 {
            for status in &published {
                let _ = self.events.send(status.clone());
            }
        }
        self.feed.publish(published);
        self.prune_completed()
    }

    pub(crate) fn insert_adopted(
        &mut self,
        agent: &AgentId,
        t: &AgentTask,
    ) -> Result<(), MasterError> {
        let now = self.now();
        let framework_name = self
            .frameworks
            .get(&t.spec.framework_id)
            .map(|f| f.name.clone())
            .unwrap_or_else(|| "unknown".into());
        let rec = TaskRecord {
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
            }],
            container_id: t.container_id.clone(),
            reason: None,
            message: None,
            kill_grace_secs: None,
            healthy: None,
            recent_uuids: Vec::new(),
            launched_time: now,
        };
        self.save_task(&rec)?;
        let s = &rec.spec;
        if let Err(e) = self.allocator.allocate_used(
            agent,
            &s.framework_id,
            &s.role,
            &s.resources,
            s.placement_scope.as_deref(),
        ) {
            tracing::warn!(task = %s.id, "adopted task over-commits its agent: {e}");
        }
        self.changes.touch(&rec.spec.id);
        self.tasks.insert(rec.spec.id.clone(), rec);
        Ok(())
    }

    /// Keeps at most `max_completed_tasks` terminal tasks per framework, dropping the
    /// oldest from memory and the store. Prunes in batches (10% slack) so the scan is rare.
    pub(crate) fn prune_completed(&mut self) -> Result<(), MasterError> {
        let max = self.config.max_completed_tasks;
        let over: Vec<keel_model::FrameworkId> = self
            .terminal_tasks
            .iter()
            .filter(|(_, n)| **n > max + max / 10)
            .map(|(f, _)| f.clone())
            .collect();
        if over.is_empty() {
            return Ok(());
        }
        let mut done: BTreeMap<&keel_model::FrameworkId, Vec<(f64, &TaskId)>> = BTreeMap::new();
        for t in self.tasks.values().filter(|t| t.state.is_terminal()) {
            if over.contains(&t.spec.framework_id) {
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
        let mut txn = keel_store::Txn::new();
        for id in &ids {
            txn = txn.then(keel_store::Op::delete(format!(
                "{}{id}",
                crate::records::TASKS
            )));
        }
        self.store.txn(txn)?;
        for id in &ids {
            if let Some(t) = self.tasks.remove(id)
                && let Some(n) = self.terminal_tasks.get_mut(&t.spec.framework_id)
            {
                *n = n.saturating_sub(1);
            }
            self.changes.remove(id);
        }
        Ok(())
    }
}

/// Folds a status into a task record: one history entry per new state.
fn apply(rec: &mut TaskRecord, status: &TaskStatus) {
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

/// One placement request for a whole group: summed scalars and every task's wanted host
/// ports in task order, keyed by the first task's id.
fn group_request(g: &[TaskLaunch], fid: &keel_model::FrameworkId) -> PlacementRequest {
    let first = &g[0];
    PlacementRequest {
        id: first.task_id.to_string(),
        framework: fid.clone(),
        role: first.role.clone(),
        resources: g
            .iter()
            .fold(Resources::new(), |acc, l| acc.add(&l.resources)),
        ports: g.iter().flat_map(|l| l.ports.iter().copied()).collect(),
        constraints: first.constraints.clone(),
        scope: first.placement_scope.clone(),
    }
}

fn validate_launch(req: &LaunchRequest) -> Result<CommandSpec, MasterError> {
    if !(req.cpus.is_finite() && req.cpus >= 0.01) {
        return Err(MasterError::invalid(
            "cpus",
            format!("{} must be at least 0.01", req.cpus),
        ));
    }
    if !(req.mem.is_finite() && req.mem >= 1.0) {
        return Err(MasterError::invalid(
            "mem",
            format!("{} must be at least 1 (MB)", req.mem),
        ));
    }
    if !(req.disk.is_finite() && req.disk >= 0.0) {
        return Err(MasterError::invalid(
            "disk",
            format!("{} must not be negative", req.disk),
        ));
    }
    if req.ports > 1000 {
        return Err(MasterError::invalid(
            "ports",
            format!("{} host ports is more than 1000", req.ports),
        ));
    }
    if let Some(g) = req.kill_grace_secs
        && !(0.0..=3600.0).contains(&g)
    {
        return Err(MasterError::invalid(
            "kill_grace_secs",
            format!("{g} is outside 0..=3600"),
        ));
    }
    if let Some(name) = &req.name {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return Err(MasterError::invalid(
                "name",
                format!("{name:?} must be 1-63 of [a-z0-9_-]"),
            ));
        }
    }
    if req.role.is_empty() || req.role.contains(char::is_whitespace) {
        return Err(MasterError::invalid(
            "role",
            format!("{:?} is not a valid role", req.role),
        ));
    }
    for k in req.env.keys() {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(MasterError::invalid(
                "env",
                format!("{k:?} is not a valid variable name"),
            ));
        }
    }
    if let Some(c) = &req.container {
        let image = c.docker.as_ref().map_or("", |d| d.image.as_str());
        if image.trim().is_empty() {
            return Err(MasterError::invalid(
                "container.docker.image",
                "a container needs an image",
            ));
        }
        for v in &c.volumes {
            if v.container_path.is_empty() || (v.host_path.is_empty() && v.image.is_none()) {
                return Err(MasterError::invalid(
                    "container.volumes",
                    format!("{v:?} needs a container path and a host path or an image"),
                ));
            }
        }
    }
    command_of(req)
}

fn command_of(req: &LaunchRequest) -> Result<CommandSpec, MasterError> {
    let cmd = req.cmd.as_deref().filter(|c| !c.trim().is_empty());
    if cmd.is_none() && req.args.is_empty() && req.container.is_some() {
        // The image's entrypoint and cmd.
        return Ok(CommandSpec {
            shell: false,
            value: String::new(),
            arguments: Vec::new(),
            env: req.env.clone(),
            user: None,
        });
    }
    let (shell, value, arguments) = match (cmd, req.args.is_empty()) {
        (Some(_), false) => {
            return Err(MasterError::invalid(
                "cmd",
                "give either cmd or args, not both",
            ));
        }
        (None, true) => return Err(MasterError::invalid("cmd", "a task needs cmd or args")),
        (Some(c), true) => (true, c.to_string(), Vec::new()),
        (None, false) => (false, req.args[0].clone(), req.args.clone()),
    };
    Ok(CommandSpec {
        shell,
        value,
        arguments,
        env: req.env.clone(),
        user: None,
    })
}
