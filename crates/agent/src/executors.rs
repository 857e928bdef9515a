//! Executor connections: connecting to an executor's abstract socket (at launch and when a
//! restarted agent re-adopts it), turning its statuses into checkpointed updates, passing
//! kills down, and noticing when an executor is gone.

use crate::Agent;
use keel_api::executor::{AgentMessage, ExecutorMessage, STATUS_FILE};
use keel_model::{Reason, TaskId, TaskState};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Connects to the executor listening on abstract socket `name`.
pub fn connect(name: &str) -> std::io::Result<tokio::net::UnixStream> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    let s = std::os::unix::net::UnixStream::connect_addr(&addr)?;
    s.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(s)
}

/// Serves an executor's connections until the executor is gone.
pub async fn attach(agent: Agent, task: TaskId, mut stream: tokio::net::UnixStream) {
    loop {
        let saw_hello = serve(&agent, &task, stream).await;
        match executor_gone(&agent, &task, saw_hello).await {
            Some(again) => stream = again,
            None => return,
        }
    }
}

/// Serves one connection until it closes; returns whether the executor said hello.
async fn serve(agent: &Agent, task: &TaskId, stream: tokio::net::UnixStream) -> bool {
    let (rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<AgentMessage>();
    let kill = agent.with_core(|c| {
        let e = c.tasks.get_mut(task)?;
        e.conn = Some(tx.clone());
        e.pending_kill.take()
    });
    if let Some(grace) = kill {
        let _ = tx.send(AgentMessage::Kill { grace_secs: grace });
    }
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let mut line = serde_json::to_vec(&msg).unwrap_or_default();
            line.push(b'\n');
            if wr.write_all(&line).await.is_err() {
                break;
            }
        }
    });
    let mut lines = BufReader::new(rd).lines();
    let mut saw_hello = false;
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => saw_hello |= handle_line(agent, task, &tx, &line),
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(task = %task, "reading from executor: {e}");
                break;
            }
        }
    }
    writer.abort();
    agent.with_core(|c| {
        if let Some(e) = c.tasks.get_mut(task) {
            e.conn = None;
        }
    });
    saw_hello
}

/// Handles one line; returns whether it was the executor's Hello.
fn handle_line(
    agent: &Agent,
    task: &TaskId,
    tx: &mpsc::UnboundedSender<AgentMessage>,
    line: &str,
) -> bool {
    match serde_json::from_str::<ExecutorMessage>(line) {
        Ok(ExecutorMessage::Hello { executor_pid, .. }) => {
            tracing::debug!(task = %task, pid = executor_pid, "executor attached");
            return true;
        }
        Ok(ExecutorMessage::Status(st)) => {
            let seq = st.seq;
            match agent.with_core(|c| c.executor_status(task, &st)) {
                Ok(fresh) => {
                    let _ = tx.send(AgentMessage::Ack { seq });
                    if fresh {
                        agent.updates_ready();
                    }
                }
                Err(e) => tracing::error!(task = %task, "checkpointing status: {e}"),
            }
        }
        Err(e) => tracing::warn!(task = %task, "bad line from executor: {e}: {line:?}"),
    }
    false
}

/// The executor's connection closed. If the executor is still alive (the connection was
/// replaced or broke), attach again; otherwise pick up any final statuses from its status
/// file and, if the task still has no terminal state, report that the executor terminated.
pub async fn executor_gone(
    agent: &Agent,
    task: &TaskId,
    reconnect: bool,
) -> Option<tokio::net::UnixStream> {
    // The executor writes its status file before it sends; give a dying executor a moment.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (meta, name, state) = agent.with_core(|c| {
        c.tasks.get(task).map(|e| {
            let name = crate::launcher::socket_name(&e.rec.container_id);
            (e.rec.meta_dir.clone(), name, e.rec.state)
        })
    })?;
    if reconnect
        && !state.is_terminal()
        && let Ok(stream) = connect(&name)
    {
        return Some(stream);
    }
    let file = keel_executor::read_statuses(&meta.join(STATUS_FILE)).unwrap_or_default();
    let r = agent.with_core(|c| {
        for st in &file {
            c.executor_status(task, st)?;
        }
        let state = c.tasks.get(task).map(|e| e.rec.state);
        if state.is_some_and(|s| !s.is_terminal()) {
            c.agent_status(
                task,
                TaskState::Failed,
                Reason::ReasonExecutorTerminated,
                "Executor terminated without reporting a terminal status".into(),
            )?;
        }
        Ok::<(), crate::error::AgentError>(())
    });
    if let Err(e) = r {
        tracing::error!(task = %task, "checkpointing the end of an executor: {e}");
    }
    agent.updates_ready();
    None
}

/// Re-adopts the executors of every unfinished task after an agent restart.
pub async fn recover(agent: &Agent) {
    let tasks: Vec<(TaskId, String)> = agent.with_core(|c| {
        c.tasks
            .values()
            .filter(|e| !e.rec.state.is_terminal())
            .map(|e| {
                (
                    e.rec.spec.id.clone(),
                    crate::launcher::socket_name(&e.rec.container_id),
                )
            })
            .collect()
    });
    let mut adopted = 0;
    for (task, name) in tasks {
        match connect(&name) {
            Ok(stream) => {
                adopted += 1;
                tokio::spawn(attach(agent.clone(), task, stream));
            }
            Err(_) => {
                executor_gone(agent, &task, false).await;
            }
        }
    }
    tracing::info!(adopted, "re-adopted running executors");
}
