//! The agent's link to the master: the registration stream (re-established with back-off
//! whenever it drops), heartbeats, and the forwarder that delivers checkpointed status
//! updates in order until the master acknowledges each.

use crate::Agent;
use crate::records::PendingUpdate;
use futures_util::StreamExt;
use keel_api::internal::{AgentTask, MasterEvent, RegisterAgent, StatusUpdate, StatusUpdates};
use keel_model::{Reason, TaskId, TaskSpec, TaskState};
use std::time::Duration;

const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Keeps the registration stream up for as long as the agent runs.
pub async fn run_link(agent: Agent) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match session(&agent).await {
            Ok(()) => tracing::warn!("master closed the agent stream"),
            Err(e) => tracing::warn!("master link: {e}"),
        }
        agent.with_core(|c| c.master_connected = false);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn registration(agent: &Agent) -> RegisterAgent {
    agent.with_core(|c| RegisterAgent {
        agent_id: c.agent_id.clone(),
        hostname: agent.settings.hostname.clone(),
        endpoint: agent.endpoint.clone(),
        resources: agent.resources.clone(),
        attributes: agent.attributes.clone(),
        version: keel_api::mesos::MESOS_VERSION.into(),
        tasks: c
            .tasks
            .values()
            .filter(|e| !e.rec.completed)
            .map(|e| AgentTask {
                spec: e.rec.spec.clone(),
                state: e.rec.state,
                container_id: Some(e.rec.container_id.clone()),
            })
            .collect(),
    })
}

async fn session(agent: &Agent) -> Result<(), String> {
    let url = format!("{}/internal/v1/agents/register", agent.master);
    let resp = agent
        .http
        .post(&url)
        .json(&registration(agent))
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !resp.status().is_success() {
        let code = resp.status();
        let body = resp.text().await.unwrap_or_default();
        return Err(format!("registration refused ({code}): {body}"));
    }
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("agent stream: {e}"))?;
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            match serde_json::from_slice::<MasterEvent>(&line) {
                Ok(ev) => handle_event(agent, ev).await,
                Err(e) => tracing::warn!("bad event from master: {e}"),
            }
        }
    }
    Ok(())
}

async fn handle_event(agent: &Agent, ev: MasterEvent) {
    match ev {
        MasterEvent::Registered {
            agent_id,
            heartbeat_interval_secs,
            ..
        } => {
            let r = agent.with_core(|c| {
                c.master_connected = true;
                c.set_agent_id(&agent_id)
            });
            if let Err(e) = r {
                tracing::error!("checkpointing agent id: {e}");
            }
            agent.set_heartbeat(Duration::from_secs_f64(
                heartbeat_interval_secs.clamp(0.05, 3600.0),
            ));
            tracing::info!(agent = %agent_id, "registered with master");
            agent.updates_ready();
        }
        MasterEvent::Launch {
            task,
            framework_name,
        } => launch(agent, *task, framework_name).await,
        MasterEvent::Kill {
            task_id,
            grace_secs,
        } => kill(agent, &task_id, grace_secs),
        MasterEvent::Heartbeat => {}
        MasterEvent::Error { message } => tracing::error!("master refused this agent: {message}"),
    }
}

async fn launch(agent: &Agent, task: TaskSpec, framework_name: String) {
    let id = task.id.clone();
    let known = agent.with_core(|c| c.tasks.contains_key(&id));
    if known {
        return;
    }
    if let Err(e) = agent.launch(task, framework_name).await {
        tracing::error!(task = %id, "launch failed: {e}");
        let r = agent.with_core(|c| {
            c.agent_status(
                &id,
                TaskState::Failed,
                Reason::ReasonContainerLaunchFailed,
                e.to_string(),
            )
        });
        if let Err(e) = r {
            tracing::error!(task = %id, "checkpointing launch failure: {e}");
        }
        agent.updates_ready();
    }
}

fn kill(agent: &Agent, task: &TaskId, grace: f64) {
    if agent.simulated
        && agent.with_core(|c| {
            c.tasks
                .get(task)
                .is_some_and(|e| !e.rec.state.is_terminal())
        })
    {
        agent.simulate(task, &[TaskState::Killing, TaskState::Killed]);
        return;
    }
    let r = agent.with_core(|c| {
        let Some(e) = c.tasks.get_mut(task) else {
            return c.agent_status(
                task,
                TaskState::Lost,
                Reason::ReasonTaskUnknown,
                format!("Task {task} is unknown to this agent"),
            );
        };
        if e.rec.state.is_terminal() {
            return Ok(());
        }
        let msg = keel_api::executor::AgentMessage::Kill { grace_secs: grace };
        match &e.conn {
            Some(tx) if tx.send(msg).is_ok() => {}
            _ => e.pending_kill = Some(grace),
        }
        Ok(())
    });
    if let Err(e) = r {
        tracing::error!(task = %task, "kill: {e}");
    }
    agent.updates_ready();
}

/// Sends heartbeats while registered.
pub async fn run_heartbeats(agent: Agent) {
    loop {
        let interval = agent.heartbeat();
        tokio::time::sleep(interval).await;
        let id = agent.with_core(|c| {
            if c.master_connected {
                c.agent_id.clone()
            } else {
                None
            }
        });
        let Some(id) = id else { continue };
        let url = format!("{}/internal/v1/agents/{id}/heartbeat", agent.master);
        let _permit = agent.permit().await;
        if let Err(e) = agent.http.post(&url).send().await {
            tracing::debug!("heartbeat: {e}");
        }
    }
}

/// Delivers pending updates in order; each is removed only once the master answered 200.
pub async fn run_forwarder(agent: Agent) {
    let mut backoff = Duration::from_millis(50);
    loop {
        agent.wait_updates(Duration::from_millis(500)).await;
        loop {
            let (ready, batch) = agent.with_core(|c| {
                (
                    c.master_connected && c.agent_id.is_some(),
                    c.pending_batch(256),
                )
            });
            if !ready || batch.is_empty() {
                break;
            }
            match deliver(&agent, &batch).await {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(e) => {
                    tracing::warn!("delivering status updates: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    break;
                }
            }
        }
    }
}

async fn deliver(agent: &Agent, batch: &[PendingUpdate]) -> Result<(), String> {
    let Some(id) = agent.with_core(|c| c.agent_id.clone()) else {
        return Err("not registered".into());
    };
    let url = format!("{}/internal/v1/agents/{id}/statuses", agent.master);
    let _permit = agent.permit().await;
    let updates = batch
        .iter()
        .map(|up| {
            let mut status = up.status.clone();
            status.agent_id = Some(id.clone());
            StatusUpdate { status }
        })
        .collect();
    let resp = agent
        .http
        .post(&url)
        .json(&StatusUpdates { updates })
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let code = resp.status();
    if code.is_client_error() && code != reqwest::StatusCode::NOT_FOUND {
        // The master will never accept these updates; retrying would block the queue.
        tracing::error!(
            "master rejected {} updates ({code}): {}",
            batch.len(),
            resp.text().await.unwrap_or_default()
        );
    } else if !code.is_success() {
        return Err(format!(
            "master answered {code}: {}",
            resp.text().await.unwrap_or_default()
        ));
    }
    let seqs: Vec<u64> = batch.iter().map(|u| u.seq).collect();
    agent
        .with_core(|c| c.acknowledged_all(&seqs))
        .map_err(|e| e.to_string())
}
