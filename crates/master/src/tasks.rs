//! Task lifecycle on the master, the effects side: launch, kill, status updates, adopted
//! tasks and the completed-task bound. Each takes its decision from `decide.rs`, persists
//! the records it returns, and only then updates the state and sends its outbox.

use crate::core::Core;
use crate::decide::{self, LaunchUnit, Outbox};
use crate::error::MasterError;
use keel_api::internal::{AgentTask, LaunchRequest, LaunchResponse};
use keel_model::{AgentId, CommandSpec, HostPort, TaskId, TaskStatus};
use keel_resources::Resources;

pub use crate::launch::TaskLaunch;

/// Kill grace period when the request names none (Mesos's command executor default).
pub const DEFAULT_KILL_GRACE_SECS: f64 = 3.0;

impl Core {
    /// Places and launches a command task from the internal HTTP API's request.
    pub fn launch(
        &mut self,
        req: LaunchRequest,
        framework_name: &str,
    ) -> Result<LaunchResponse, MasterError> {
        let command = validate_launch(&req)?;
        let name = req.name.clone().unwrap_or_else(|| "task".into());
        let task_id = TaskId::new(format!("{name}.{}", self.io.ids.uuid()))
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
            discovery: None,
        };
        self.launch_tasks(vec![launch])
            .pop()
            .unwrap_or_else(|| Err(MasterError::invalid("request", "nothing to launch")))
    }

    /// Places a batch of tasks in one allocation (DRF order across roles and frameworks)
    /// and launches those that fit (see [`Core::launch_units`]). Results in request order.
    pub fn launch_tasks(
        &mut self,
        launches: Vec<TaskLaunch>,
    ) -> Vec<Result<LaunchResponse, MasterError>> {
        let units = launches
            .into_iter()
            .map(|l| LaunchUnit::Task(Box::new(l)))
            .collect();
        self.launch_units(units)
            .into_iter()
            .map(|r| {
                r?.pop()
                    .ok_or_else(|| MasterError::invalid("request", "nothing to launch"))
            })
            .collect()
    }

    /// Places each group of tasks on one agent (a Marathon pod instance), whole or not at
    /// all (see [`Core::launch_units`]). Results in request order, one per group.
    pub fn launch_groups(
        &mut self,
        groups: Vec<Vec<TaskLaunch>>,
    ) -> Vec<Result<Vec<LaunchResponse>, MasterError>> {
        self.launch_units(groups.into_iter().map(LaunchUnit::Group).collect())
    }

    /// Places units (lone tasks and task groups) in one allocation and launches those that
    /// fit: a group is placed on one agent as the sum of its tasks, under the first task's
    /// framework, role, constraints and scope. Every record of every placed unit is
    /// persisted as TASK_STAGING in one transaction before any launch is sent and before
    /// this returns. Results in unit order, a unit's responses in task order.
    pub fn launch_units(
        &mut self,
        units: Vec<LaunchUnit>,
    ) -> Vec<Result<Vec<LaunchResponse>, MasterError>> {
        let groups: Vec<bool> = units.iter().map(LaunchUnit::is_group).collect();
        let checked = units
            .into_iter()
            .map(|u| {
                let fid = decide::check_unit(&self.state, &u)
                    .and_then(|(name, role)| self.framework(name, role));
                (u, fid)
            })
            .collect();
        let now = self.now();
        let records = decide::place(&mut self.state, checked, now);
        // One durable commit for every placed unit, before any launch is sent.
        let all = records.iter().filter_map(|r| r.as_ref().ok()).flatten();
        if let Err(e) = self.save_tasks(all) {
            let msg = e.to_string();
            for rec in records.iter().filter_map(|r| r.as_ref().ok()).flatten() {
                decide::release(&mut self.state, &rec.agent_id, &rec.spec);
            }
            return records
                .into_iter()
                .zip(groups)
                .map(|(r, group)| {
                    r.and_then(|_| {
                        Err(MasterError::Corrupt {
                            key: if group {
                                "<launch groups>"
                            } else {
                                "<launch batch>"
                            }
                            .into(),
                            reason: msg.clone(),
                        })
                    })
                })
                .collect();
        }
        let mut out = Outbox::default();
        let answers = records
            .into_iter()
            .map(|r| Ok(decide::record_launched(&mut self.state, r?, &mut out)))
            .collect();
        self.deliver(out);
        answers
    }

    /// Sends what a durable decision has to send: events to agents' streams, statuses to
    /// subscribers and the status feed.
    pub(crate) fn deliver(&self, out: Outbox) {
        for (agent, ev) in out.sends {
            self.send(&agent, ev);
        }
        if out.statuses.is_empty() {
            return;
        }
        if self.io.events.receiver_count() > 0 {
            for status in &out.statuses {
                let _ = self.io.events.send(status.clone());
            }
        }
        self.io.feed.publish(out.statuses);
    }

    /// Requests a kill; durable: re-sent when the agent re-registers.
    pub fn kill(&mut self, id: &TaskId, grace: Option<f64>) -> Result<(), MasterError> {
        let (rec, out) = decide::kill_plan(&self.state, id, grace)?;
        self.save_task(&rec)?;
        self.state.tasks.insert(rec.spec.id.clone(), rec);
        self.deliver(out);
        Ok(())
    }

    /// Handles a status update from agent `agent`. Returns once it is persisted; the
    /// caller then acknowledges it. Duplicates (same uuid) are acknowledged and ignored.
    pub fn status_update(
        &mut self,
        agent: &AgentId,
        status: TaskStatus,
    ) -> Result<(), MasterError> {
        if let Err(e) = decide::check_status(&self.state, agent, &status) {
            self.state.counters.invalid_status_updates += 1;
            return Err(e);
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
        let mut acc = decide::Accepted::default();
        let results: Vec<Result<(), MasterError>> = batches
            .into_iter()
            .map(|(agent, statuses)| {
                decide::accept_statuses(&self.state, &agent, statuses, &mut acc)
            })
            .collect();
        self.state.counters.valid_status_updates += acc.valid;
        self.state.counters.invalid_status_updates += acc.invalid;
        match self.record_statuses(acc.statuses) {
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
        let changes = decide::status_changes(&self.state, statuses);
        if changes.is_empty() {
            return Ok(());
        }
        self.save_tasks(changes.records())?;
        let out = decide::apply_status_changes(&mut self.state, changes);
        self.deliver(out);
        self.prune_completed()
    }

    /// Persists and takes in a task an agent reports that the master did not know.
    pub(crate) fn insert_adopted(
        &mut self,
        agent: &AgentId,
        t: &AgentTask,
    ) -> Result<(), MasterError> {
        let rec = decide::adopted_record(&self.state, agent, t, self.now());
        self.save_task(&rec)?;
        decide::record_adopted(&mut self.state, rec);
        Ok(())
    }

    /// Keeps at most `max_completed_tasks` terminal tasks per framework, dropping the
    /// oldest from memory and the store. Prunes in batches (10% slack) so the scan is rare.
    pub(crate) fn prune_completed(&mut self) -> Result<(), MasterError> {
        let ids = decide::prune_plan(&self.state);
        if ids.is_empty() {
            return Ok(());
        }
        let mut txn = keel_store::Txn::new();
        for id in &ids {
            txn = txn.then(keel_store::Op::delete(format!(
                "{}{id}",
                crate::records::TASKS
            )));
        }
        self.io.store.txn(txn)?;
        decide::apply_prune(&mut self.state, &ids);
        Ok(())
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
