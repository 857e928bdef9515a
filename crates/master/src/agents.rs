//! Agent membership, the effects side: registration and re-registration (with task
//! reconciliation), heartbeats, disconnection, and marking silent agents unreachable. The
//! decisions are in `membership.rs`; here they are persisted, then sent.

use crate::core::{Conn, Core};
use crate::error::MasterError;
use crate::membership::{self, Reported};
use keel_api::internal::{AgentTask, MasterEvent, RegisterAgent};
use keel_model::AgentId;
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
                let id = membership::new_agent_id(&self.state)?;
                self.state.info.next_agent += 1;
                self.save_info()?;
                id
            }
        };
        let reregistered = self.agents.contains_key(&id);
        let (rec, renamed) = membership::registration(&self.state, &id, &req, now);
        self.save_agent(&rec)?;
        let last_seen = self.io.clock.monotonic();
        let (generation, out) =
            membership::apply_registration(&mut self.state, rec, renamed, last_seen);
        self.io.conns.insert(id.clone(), Conn { tx, generation });
        self.deliver(out);
        self.reconcile_agent(&id, &req.tasks)?;
        tracing::info!(agent = %id, endpoint = %req.endpoint, reregistered, "agent registered");
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
            match membership::reported(&self.state, id, t, self.now()) {
                Reported::Keep => {}
                Reported::Back(status) => self.record_status(id, status)?,
                Reported::Adopt => self.insert_adopted(id, t)?,
            }
        }
        let (relaunch, lost) = membership::unreported(&self.state, id, &seen, self.now());
        self.deliver(relaunch);
        for status in lost {
            self.record_status(id, status)?;
        }
        let kills = membership::kills_to_resend(&self.state, id);
        self.deliver(kills);
        Ok(())
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
            .state
            .agents
            .get_mut(id)
            .ok_or_else(|| MasterError::UnknownAgent(id.clone()))?;
        a.last_seen = now;
        Ok(())
    }

    /// Marks agents silent past the timeout unreachable, and their tasks TASK_UNREACHABLE.
    pub fn tick(&mut self) -> Result<(), MasterError> {
        let silent = membership::silent_agents(&self.state, self.io.clock.monotonic());
        for id in silent {
            self.mark_unreachable(&id)?;
        }
        Ok(())
    }

    fn mark_unreachable(&mut self, id: &AgentId) -> Result<(), MasterError> {
        let Some((rec, statuses)) = membership::unreachable(&self.state, id, self.now()) else {
            return Ok(());
        };
        self.save_agent(&rec)?;
        membership::apply_unreachable(&mut self.state, rec);
        self.io.conns.remove(id);
        tracing::warn!(agent = %id, "agent is unreachable");
        for status in statuses {
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
