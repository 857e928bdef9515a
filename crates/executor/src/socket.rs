//! The agent connection. `Hub` numbers, persists and fans out statuses, replaying all of
//! them to each new connection; `Server` accepts connections on the abstract socket and
//! turns agent messages into acks and `Event`s for the supervisor.

use crate::health::Probe;
use crate::status::{StatusLog, StatusUpdate, now_secs};
use crate::{ExecutorError, sys};
use keel_api::executor::{AgentMessage, ExecutorMessage, ExecutorStatus};
use std::io::{self, BufRead, BufReader, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the supervisor is told: requests of the agent and results of health probes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    Kill {
        grace: Duration,
    },
    /// A result of health check `index` (in the task spec's order).
    Probe {
        index: usize,
        probe: Probe,
    },
}

/// A stalled agent cannot block the executor longer than this per write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the accept loop checks whether it should stop.
const ACCEPT_POLL_MS: i32 = 100;

/// Statuses so far, the active connection and the highest acknowledged seq.
pub(crate) struct Hub {
    state: Mutex<HubState>,
    acked: Condvar,
}

struct HubState {
    log: StatusLog,
    history: Vec<ExecutorStatus>,
    hello: ExecutorMessage,
    conn: Option<(u64, UnixStream)>,
    next_conn: u64,
    acked: u64,
}

impl Hub {
    pub fn new(log: StatusLog, hello: ExecutorMessage) -> Self {
        let state = HubState {
            log,
            history: Vec::new(),
            hello,
            conn: None,
            next_conn: 1,
            acked: 0,
        };
        Self {
            state: Mutex::new(state),
            acked: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives `update` the next seq, makes it durable in `status.jsonl`, then sends it.
    pub fn emit(&self, update: StatusUpdate) -> Result<ExecutorStatus, ExecutorError> {
        let mut state = self.lock();
        let status = update.stamp(state.history.len() as u64 + 1, now_secs());
        state.log.append(&status)?;
        state.history.push(status.clone());
        state.send(&ExecutorMessage::Status(status.clone()));
        tracing::info!(seq = status.seq, state = %status.state, "status");
        Ok(status)
    }

    /// Makes `stream` the active connection (closing the previous one) and sends it the
    /// hello and every status so far. Returns the connection's id.
    pub fn attach(&self, stream: UnixStream) -> u64 {
        let mut state = self.lock();
        if let Some((_, old)) = state.conn.take() {
            let _ = old.shutdown(Shutdown::Both);
        }
        let id = state.next_conn;
        state.next_conn += 1;
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        state.conn = Some((id, stream));
        let replay: Vec<ExecutorMessage> = std::iter::once(state.hello.clone())
            .chain(state.history.iter().cloned().map(ExecutorMessage::Status))
            .collect();
        for message in &replay {
            state.send(message);
        }
        id
    }

    /// Forgets connection `id` if it is still the active one.
    pub fn detach(&self, id: u64) {
        let mut state = self.lock();
        if state.conn.as_ref().is_some_and(|(active, _)| *active == id) {
            state.close();
        }
    }

    /// Closes the active connection, if any.
    pub fn close(&self) {
        self.lock().close();
    }

    /// Records that the agent has everything up to `seq`.
    pub fn ack(&self, seq: u64) {
        let mut state = self.lock();
        state.acked = state.acked.max(seq);
        self.acked.notify_all();
    }

    /// Waits until `seq` is acknowledged or `timeout` passes; true when acknowledged.
    pub fn wait_acked(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = keel_clock::monotonic() + timeout;
        let mut state = self.lock();
        while state.acked < seq {
            let left = deadline.saturating_duration_since(keel_clock::monotonic());
            if left.is_zero() {
                return false;
            }
            state = self
                .acked
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

impl HubState {
    /// Sends `message` on the active connection; a failed connection is dropped.
    fn send(&mut self, message: &ExecutorMessage) {
        let Some((_, stream)) = &mut self.conn else {
            return;
        };
        if let Err(e) = write_line(stream, message) {
            tracing::warn!(error = %e, "agent connection lost");
            self.close();
        }
    }

    fn close(&mut self) {
        if let Some((_, stream)) = self.conn.take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn write_line(stream: &mut UnixStream, message: &ExecutorMessage) -> io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// Accepts agent connections on a background thread until stopped (or dropped).
pub(crate) struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    hub: Arc<Hub>,
}

impl Server {
    pub fn start(
        listener: UnixListener,
        hub: Arc<Hub>,
        events: Sender<Event>,
    ) -> Result<Self, ExecutorError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, loop_hub) = (stop.clone(), hub.clone());
        let thread = std::thread::Builder::new()
            .name("executor-accept".into())
            .spawn(move || accept_loop(&listener, &loop_hub, &events, &flag))
            .map_err(|source| ExecutorError::Thread {
                name: "accept",
                source,
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
            hub,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.hub.close();
    }
}

fn accept_loop(listener: &UnixListener, hub: &Arc<Hub>, events: &Sender<Event>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match wait_readable(listener, ACCEPT_POLL_MS) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "poll on the executor socket failed");
                std::thread::sleep(Duration::from_millis(ACCEPT_POLL_MS as u64));
                continue;
            }
        }
        match listener.accept() {
            Ok((stream, _)) => serve(stream, hub, events),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => tracing::warn!(error = %e, "accept failed"),
        }
    }
}

/// Whether `listener` has a pending connection within `timeout_ms`.
fn wait_readable(listener: &UnixListener, timeout_ms: i32) -> io::Result<bool> {
    match sys::poll_in(listener.as_raw_fd(), timeout_ms) {
        Ok(readable) => Ok(readable),
        Err(e) if e.is(sys::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Attaches a new connection and starts its reader.
fn serve(stream: UnixStream, hub: &Arc<Hub>, events: &Sender<Event>) {
    if let Err(why) = check_peer(&stream) {
        tracing::warn!(%why, "rejecting connection");
        return;
    }
    let _ = stream.set_nonblocking(false);
    let reader = match stream.try_clone() {
        Ok(reader) => reader,
        Err(e) => return tracing::warn!(error = %e, "cannot clone connection"),
    };
    let id = hub.attach(stream);
    let (hub, events) = (hub.clone(), events.clone());
    let spawned = std::thread::Builder::new()
        .name("executor-conn".into())
        .spawn(move || read_agent(reader, id, &hub, &events));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start connection reader");
    }
}

/// Abstract sockets have no file permissions: only root or our own user may talk to us.
fn check_peer(stream: &UnixStream) -> Result<(), String> {
    let uid = sys::peer_uid(stream.as_raw_fd())
        .map_err(|e| format!("SO_PEERCRED failed: {}", io::Error::from(e)))?;
    let me = sys::geteuid();
    match uid == 0 || uid == me {
        true => Ok(()),
        false => Err(format!("peer uid {uid} is neither root nor {me}")),
    }
}

fn read_agent(stream: UnixStream, id: u64, hub: &Hub, events: &Sender<Event>) {
    for line in BufReader::new(stream).lines() {
        match line {
            Ok(line) => handle_line(&line, hub, events),
            Err(_) => break,
        }
    }
    hub.detach(id);
}

fn handle_line(line: &str, hub: &Hub, events: &Sender<Event>) {
    if line.trim().is_empty() {
        return;
    }
    match serde_json::from_str::<AgentMessage>(line) {
        Ok(AgentMessage::Ack { seq }) => hub.ack(seq),
        Ok(AgentMessage::Kill { grace_secs }) => {
            let _ = events.send(Event::Kill {
                grace: grace_duration(grace_secs),
            });
        }
        Err(e) => tracing::warn!(error = %e, line, "ignoring malformed agent message"),
    }
}

/// `grace_secs` as a duration: negative or NaN is zero, absurdly large is capped.
fn grace_duration(grace_secs: f64) -> Duration {
    Duration::try_from_secs_f64(grace_secs.max(0.0)).unwrap_or(Duration::from_secs(u32::MAX.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_durations() {
        assert_eq!(grace_duration(1.5), Duration::from_millis(1500));
        assert_eq!(grace_duration(-3.0), Duration::ZERO);
        assert_eq!(grace_duration(f64::NAN), Duration::ZERO);
        assert_eq!(
            grace_duration(f64::INFINITY),
            Duration::from_secs(u32::MAX.into())
        );
    }
}
