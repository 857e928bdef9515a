//! StatsD for tasks: each container gets a UDP socket of its own on the agent's address
//! (as dcos-metrics did), named in the task's `STATSD_UDP_HOST`/`STATSD_UDP_PORT`, so a
//! packet's socket says which container sent it. Lines become the container's app metrics;
//! malformed lines are counted and dropped. A socket closes when its task has ended.

use crate::Agent;
use keel_api::metrics::rfc3339;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How often a socket checks that its task still runs.
const LIVENESS_CHECK: Duration = Duration::from_secs(2);

/// The address tasks send StatsD to: the agent's listening address, or loopback when it
/// listens on all addresses.
pub(crate) fn host(agent_listen: IpAddr) -> IpAddr {
    if agent_listen.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        agent_listen
    }
}

/// Binds a container's socket on `host` (`port` 0: a free one; a recovered task asks for
/// the port its environment names).
pub(crate) fn bind(host: IpAddr, port: u16) -> std::io::Result<std::net::UdpSocket> {
    let s = std::net::UdpSocket::bind(SocketAddr::new(host, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Receives `container`'s packets until its task `task` is terminal or gone, then forgets
/// its app metrics.
pub(crate) async fn serve(
    agent: Agent,
    task: keel_model::TaskId,
    container: String,
    socket: std::net::UdpSocket,
) {
    let Ok(sock) = tokio::net::UdpSocket::from_std(socket) else {
        return;
    };
    let mut buf = vec![0u8; 65_536];
    let mut tick = tokio::time::interval(LIVENESS_CHECK);
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, _)) = r else { continue };
                receive(&agent, &container, &buf[..n]);
            }
            _ = tick.tick() => {
                let live = agent.with_core(|c| {
                    c.tasks.get(&task).is_some_and(|e| !e.rec.state.is_terminal())
                });
                if !live {
                    break;
                }
            }
        }
    }
    let m = &agent.metrics;
    m.apps
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&container);
}

fn receive(agent: &Agent, container: &str, packet: &[u8]) {
    let m = &agent.metrics;
    m.statsd_packets.inc();
    let ts = rfc3339(agent.clock.unix_secs());
    let applied = {
        let mut apps = m.apps.lock().unwrap_or_else(|e| e.into_inner());
        apps.entry(container.to_string())
            .or_default()
            .apply(packet, &ts)
    };
    m.statsd_malformed.add(applied.malformed);
    m.statsd_dropped.add(applied.dropped);
}
