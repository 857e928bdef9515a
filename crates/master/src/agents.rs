//! Agent membership: registration and re-registration (with task reconciliation),
//! heartbeats, disconnection, and marking silent agents unreachable.

use crate::core::{AgentEntry, Conn, Core, agent_info};
use crate::error::MasterError;
use crate::records::{AgentRecord, AgentStatus};
use keel_api::internal::{AgentTask, MasterEvent, RegisterAgent};
use keel_model::{AgentId, Reason, Source, TaskId, TaskState, TaskStatus};
use std::collections::BTreeSet;
use tokio::sync::mpsc;

impl Core {
    /// Registers or re-registers an agent; returns its id, the connection generation and
    /// the events to send first (Registered, then launches and kills to re-send).
    pub fn register(
        &mut self,
        req: RegisterAgent,
        tx: mpsc::UnboundedSender<MasterEvent>,
    ) -> Result<(AgentId, u64), MasterError> {
        validate_registration(&req)?;
        let now = self.now();
        let id = match &req.agent_id {
            Some(id) => {
                self.check_not_connected(id, &req.endpoint)?;
                id.clone()
            }
            None => {
                let id = AgentId::nth(&self.info.master_id, self.info.next_agent)
                    .map_err(|e| MasterError::invalid("agent_id", e.to_string()))?;
                self.info.next_agent += 1;
                self.save_info()?;
                id
            }
        };
        let known = self.agents.get(&id).map(|a| a.rec.registered_time);
        let renamed = self
            .agents
            .get(&id)
            .is_some_and(|a| a.rec.hostname != req.hostname);
        let rec = AgentRecord {
            id: id.clone(),
            hostname: req.hostname.clone(),
            endpoint: req.endpoint.clone(),
            resources: req.resources.clone(),
            attributes: req.attributes.clone(),
            version: req.version.clone(),
            registered_time: known.unwrap_or(now),
            reregistered_time: known.map(|_| now),
            status: AgentStatus::Active,
            unreachable_time: None,
        };
        self.save_agent(&rec)?;
        if known.is_some() {
            self.counters.slave_reregistrations += 1;
        } else {
            self.counters.slave_registrations += 1;
        }
        self.allocator.add_agent(agent_info(&rec));
        self.allocator.set_agent_active(&id, true);
        let generation = self.next_generation;
        self.next_generation += 1;
        self.io.conns.insert(id.clone(), Conn { tx, generation });
        let last_seen = self.io.clock.monotonic();
        self.agents.insert(
            id.clone(),
            AgentEntry {
                rec,
                last_seen,
                recovered: false,
            },
        );
        if renamed {
            // Task views carry their agent's hostname.
            let mine: Vec<TaskId> = self
                .tasks
                .values()
                .filter(|t| t.agent_id == id)
                .map(|t| t.spec.id.clone())
                .collect();
            for t in &mine {
                self.changes.touch(t);
            }
        }
        self.send(
            &id,
            MasterEvent::Registered {
                agent_id: id.clone(),
                master_id: self.info.master_id.clone(),
                heartbeat_interval_secs: self.config.heartbeat_interval.as_secs_f64(),
            },
        );
        self.reconcile_agent(&id, &req.tasks)?;
        tracing::info!(agent = %id, endpoint = %req.endpoint, reregistered = known.is_some(), "agent registered");
        Ok((id, generation))
    }

    fn check_not_connected(&self, id: &AgentId, endpoint: &str) -> Result<(), MasterError> {
        if let Some(a) = self.agents.get(id) {
            let live = self.io.conns.get(id).is_some_and(|c| !c.tx.is_closed());
            if live && a.rec.endpoint != endpoint {
                return Err(MasterError::AgentConnected {
                    id: id.clone(),
                    endpoint: a.rec.endpoint.clone(),
                });
            }
        }
        Ok(())
    }

    /// Brings the master's view of the agent's tasks in line with what the agent reports.
    fn reconcile_agent(&mut self, id: &AgentId, reported: &[AgentTask]) -> Result<(), MasterError> {
        let mut seen = BTreeSet::new();
        for t in reported {
            seen.insert(t.spec.id.clone());
            self.adopt_reported(id, t)?;
        }
        let mine: Vec<TaskId> = self
            .tasks
            .values()
            .filter(|t| &t.agent_id == id && !t.state.is_terminal() && !seen.contains(&t.spec.id))
            .map(|t| t.spec.id.clone())
            .collect();
        for task_id in mine {
            let Some(t) = self.tasks.get(&task_id) else {
                continue;
            };
            if t.state == TaskState::Staging {
                let ev = MasterEvent::Launch {
                    task: Box::new(t.spec.clone()),
                    framework_name: t.framework_name.clone(),
                };
                self.send(id, ev);
            } else {
                let status = self.master_status(
                    &task_id,
                    TaskState::Lost,
                    Reason::ReasonReconciliation,
                    "Task was not reported by the re-registering agent",
                );
                self.record_status(id, status)?;
            }
        }
        self.resend_kills(id);
        Ok(())
    }

    fn adopt_reported(&mut self, id: &AgentId, t: &AgentTask) -> Result<(), MasterError> {
        let task_id = t.spec.id.clone();
        match self.tasks.get(&task_id) {
            Some(rec) if &rec.agent_id != id => {
                tracing::warn!(task = %task_id, agent = %id, "agent reports a task the master placed elsewhere");
                Ok(())
            }
            Some(rec) if rec.state == TaskState::Unreachable && !t.state.is_terminal() => {
                let mut status = self.master_status(
                    &task_id,
                    t.state,
                    Reason::ReasonAgentReregistered,
                    "Agent re-registered",
                );
                status.container_id = t.container_id.clone();
                self.record_status(id, status)
            }
            Some(_) => Ok(()),
            None if t.state.is_terminal() => Ok(()),
            None => {
                tracing::warn!(task = %task_id, agent = %id, "adopting a task the master did not know");
                self.insert_adopted(id, t)
            }
        }
    }

    fn resend_kills(&mut self, id: &AgentId) {
        let kills: Vec<MasterEvent> = self
            .tasks
            .values()
            .filter(|t| &t.agent_id == id && !t.state.is_terminal())
            .filter_map(|t| {
                t.kill_grace_secs.map(|g| MasterEvent::Kill {
                    task_id: t.spec.id.clone(),
                    grace_secs: g,
                })
            })
            .collect();
        for ev in kills {
            self.send(id, ev);
        }
    }

    /// The agent's event stream closed; only the connection of `generation` is dropped.
    pub fn disconnect(&mut self, id: &AgentId, generation: u64) {
        if self.agents.contains_key(id)
            && self
                .io
                .conns
                .get(id)
                .is_some_and(|c| c.generation == generation)
        {
            self.io.conns.remove(id);
            tracing::info!(agent = %id, "agent disconnected");
        }
    }

    /// Records a heartbeat from `id`.
    pub fn heartbeat(&mut self, id: &AgentId) -> Result<(), MasterError> {
        let now = self.io.clock.monotonic();
        let a = self
            .agents
            .get_mut(id)
            .ok_or_else(|| MasterError::UnknownAgent(id.clone()))?;
        a.last_seen = now;
        Ok(())
    }

    /// Marks agents silent past the timeout unreachable, and their tasks TASK_UNREACHABLE.
    pub fn tick(&mut self) -> Result<(), MasterError> {
        let now = self.io.clock.monotonic();
        let timeout = self.config.agent_timeout;
        let silent: Vec<AgentId> = self
            .agents
            .values()
            .filter(|a| {
                a.rec.status == AgentStatus::Active && now.saturating_sub(a.last_seen) > timeout
            })
            .map(|a| a.rec.id.clone())
            .collect();
        for id in silent {
            self.mark_unreachable(&id)?;
        }
        Ok(())
    }

    fn mark_unreachable(&mut self, id: &AgentId) -> Result<(), MasterError> {
        let now = self.now();
        let Some(a) = self.agents.get_mut(id) else {
            return Ok(());
        };
        a.rec.status = AgentStatus::Unreachable;
        a.rec.unreachable_time = Some(now);
        let rec = a.rec.clone();
        self.io.conns.remove(id);
        self.save_agent(&rec)?;
        self.allocator.set_agent_active(id, false);
        tracing::warn!(agent = %id, "agent is unreachable");
        let tasks: Vec<TaskId> = self
            .tasks
            .values()
            .filter(|t| &t.agent_id == id && !t.state.is_terminal())
            .map(|t| t.spec.id.clone())
            .collect();
        for task_id in tasks {
            let status = self.master_status(
                &task_id,
                TaskState::Unreachable,
                Reason::ReasonAgentDisconnected,
                "Agent is unreachable",
            );
            self.record_status(id, status)?;
        }
        Ok(())
    }

    /// Queues `ev` on the agent's stream, if connected.
    pub(crate) fn send(&self, id: &AgentId, ev: MasterEvent) -> bool {
        match self.io.conns.get(id) {
            Some(c) => c.tx.send(ev).is_ok(),
            None => false,
        }
    }

    /// A status the master generates itself (no uuid, not acknowledged).
    pub(crate) fn master_status(
        &self,
        task: &TaskId,
        state: TaskState,
        reason: Reason,
        message: &str,
    ) -> TaskStatus {
        TaskStatus {
            task_id: task.clone(),
            state,
            source: Source::SourceMaster,
            reason: Some(reason),
            message: Some(message.to_string()),
            agent_id: self.tasks.get(task).map(|t| t.agent_id.clone()),
            container_id: None,
            timestamp: self.now(),
            uuid: None,
            exit_code: None,
            healthy: None,
        }
    }
}

fn validate_registration(req: &RegisterAgent) -> Result<(), MasterError> {
    if req.hostname.trim().is_empty() {
        return Err(MasterError::invalid("hostname", "must not be empty"));
    }
    if !(req.endpoint.starts_with("http://") || req.endpoint.starts_with("https://")) {
        return Err(MasterError::invalid(
            "endpoint",
            format!("{:?} is not an http(s) URL", req.endpoint),
        ));
    }
    if req.resources.cpus() <= 0.0 || req.resources.mem() <= 0.0 {
        return Err(MasterError::invalid(
            "resources",
            "an agent needs cpus and mem",
        ));
    }
    Ok(())
}
