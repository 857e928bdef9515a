//! The task DNS relay (`keel agent --task-dns IP`): a listener on `IP:53`, UDP and TCP,
//! that passes every query unchanged to one upstream (the master's DNS) and its answer back,
//! because a resolv.conf `nameserver` line cannot name a port. UDP queries share one
//! upstream socket under ids of the relay's own; TCP queries go over TCP. An upstream that
//! fails or times out answers SERVFAIL.

use crate::server::{error_reply, forward_tcp};
use hickory_proto::op::ResponseCode;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Idle time after which a TCP client is dropped.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// UDP queries relayed at once; more are answered SERVFAIL at once, never queued.
const MAX_IN_FLIGHT: usize = 1024;

/// Binds UDP and TCP on `listen` and relays to `upstream` until the runtime stops; each
/// upstream exchange may take `timeout`. Returns the bound address.
pub async fn relay(
    listen: SocketAddr,
    upstream: SocketAddr,
    timeout: Duration,
) -> std::io::Result<SocketAddr> {
    let (udp, tcp) = bind_udp_tcp(listen).await?;
    let udp = Arc::new(udp);
    let addr = udp.local_addr()?;
    let up = UdpSocket::bind(unspecified(upstream)).await?;
    up.connect(upstream).await?;
    let up = Arc::new(up);
    let table = Arc::new(Mutex::new(Table::default()));
    tokio::spawn(udp_queries(udp.clone(), up.clone(), table.clone()));
    tokio::spawn(udp_answers(udp.clone(), up, table.clone()));
    tokio::spawn(expire(udp, table, timeout));
    tokio::spawn(tcp_loop(tcp, upstream, timeout));
    Ok(addr)
}

/// UDP and TCP on one address. With port 0 the UDP socket picks the port, and TCP may find
/// it taken by another process's TCP socket: then both are tried again on a new port.
pub(crate) async fn bind_udp_tcp(listen: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut tries = 0;
    loop {
        let udp = UdpSocket::bind(listen).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && listen.port() == 0
                    && tries < 20 =>
            {
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn unspecified(upstream: SocketAddr) -> SocketAddr {
    if upstream.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    }
}

/// A query sent upstream under a relay id, awaiting its answer.
struct Pending {
    peer: SocketAddr,
    /// The client's query (its own id), for the SERVFAIL if no answer comes.
    query: Vec<u8>,
    /// The expiry round it was sent in.
    round: u64,
}

/// The queries in flight by relay id: all UDP queries share one upstream socket, each
/// under an id of the relay's own, so answers find their client (no socket per query).
#[derive(Default)]
struct Table {
    pending: HashMap<u16, Pending>,
    next: u16,
    round: u64,
}

impl Table {
    /// A free relay id for `p`, if fewer than [`MAX_IN_FLIGHT`] queries are in flight.
    fn add(&mut self, p: Pending) -> Option<u16> {
        if self.pending.len() >= MAX_IN_FLIGHT {
            return None;
        }
        loop {
            self.next = self.next.wrapping_add(1);
            if !self.pending.contains_key(&self.next) {
                self.pending.insert(self.next, p);
                return Some(self.next);
            }
        }
    }
}

fn lock(t: &Mutex<Table>) -> std::sync::MutexGuard<'_, Table> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// Client queries: each goes upstream under a relay id.
async fn udp_queries(sock: Arc<UdpSocket>, up: Arc<UdpSocket>, table: Arc<Mutex<Table>>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("task dns udp receive: {e}");
                continue;
            }
        };
        if n < 2 {
            continue;
        }
        let query = buf[..n].to_vec();
        let id = {
            let mut t = lock(&table);
            let round = t.round;
            t.add(Pending {
                peer,
                query: query.clone(),
                round,
            })
        };
        let Some(id) = id else {
            let _ = sock
                .send_to(&error_reply(&query, ResponseCode::ServFail), peer)
                .await;
            continue;
        };
        buf[..2].copy_from_slice(&id.to_be_bytes());
        if let Err(e) = up.send(&buf[..n]).await {
            tracing::debug!("task dns: upstream send: {e}");
            lock(&table).pending.remove(&id);
            let _ = sock
                .send_to(&error_reply(&query, ResponseCode::ServFail), peer)
                .await;
        }
    }
}

/// Upstream answers: back to the client that asked, under its own id.
async fn udp_answers(sock: Arc<UdpSocket>, up: Arc<UdpSocket>, table: Arc<Mutex<Table>>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = match up.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                // E.g. ECONNREFUSED while the upstream is down: its queries expire.
                tracing::debug!("task dns: upstream receive: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if n < 2 {
            continue;
        }
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let Some(p) = lock(&table).pending.remove(&id) else {
            continue;
        };
        buf[..2].copy_from_slice(&p.query[..2]);
        let _ = sock.send_to(&buf[..n], p.peer).await;
    }
}

/// Every half `timeout`, answers SERVFAIL to the queries sent at least two rounds ago
/// (so a query waits between one and one and a half `timeout`s).
async fn expire(sock: Arc<UdpSocket>, table: Arc<Mutex<Table>>, timeout: Duration) {
    let mut tick = tokio::time::interval((timeout / 2).max(Duration::from_millis(50)));
    // The first tick is at once: skip it, so round 1 starts half a timeout from now.
    tick.tick().await;
    loop {
        tick.tick().await;
        let expired: Vec<Pending> = {
            let mut t = lock(&table);
            t.round += 1;
            let round = t.round;
            let ids: Vec<u16> = (t.pending.iter())
                .filter(|(_, p)| p.round + 2 <= round)
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| t.pending.remove(id)).collect()
        };
        for p in expired {
            tracing::debug!("task dns: no upstream answer for {}", p.peer);
            let _ = sock
                .send_to(&error_reply(&p.query, ResponseCode::ServFail), p.peer)
                .await;
        }
    }
}

async fn tcp_loop(l: TcpListener, upstream: SocketAddr, timeout: Duration) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                tokio::spawn(tcp_conn(s, upstream, timeout));
            }
            Err(e) => {
                tracing::debug!("task dns tcp accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn tcp_conn(mut s: TcpStream, upstream: SocketAddr, timeout: Duration) {
    loop {
        let Ok(Ok(len)) = tokio::time::timeout(TCP_IDLE, s.read_u16()).await else {
            return;
        };
        let mut packet = vec![0u8; usize::from(len)];
        match tokio::time::timeout(TCP_IDLE, s.read_exact(&mut packet)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let r = tokio::time::timeout(timeout, forward_tcp(upstream, &packet)).await;
        let out = answer_or_servfail(r, &packet, upstream);
        let Ok(len) = u16::try_from(out.len()) else {
            return;
        };
        if s.write_u16(len).await.is_err() || s.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn answer_or_servfail(
    r: Result<std::io::Result<Vec<u8>>, tokio::time::error::Elapsed>,
    packet: &[u8],
    upstream: SocketAddr,
) -> Vec<u8> {
    match r {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            tracing::debug!("task dns: upstream {upstream}: {e}");
            error_reply(packet, ResponseCode::ServFail)
        }
        Err(_) => {
            tracing::debug!("task dns: upstream {upstream} timed out");
            error_reply(packet, ResponseCode::ServFail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::relay;
    use std::net::SocketAddr;
    use std::time::Duration;
    use tokio::net::UdpSocket;

    /// A query with id `id` (header only, one question for `a.` A).
    fn query(id: u16) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1]);
        q
    }

    async fn ask(relay: SocketAddr, id: u16) -> Vec<u8> {
        let c = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        c.send_to(&query(id), relay).await.expect("send");
        let mut buf = vec![0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
            .await
            .expect("an answer in time")
            .expect("recv");
        buf.truncate(n);
        buf
    }

    #[tokio::test]
    async fn answers_find_their_clients_and_a_silent_upstream_is_servfail() {
        // An upstream that answers each query with its bytes and the QR bit set, the
        // client's marker byte (the last one) kept.
        let up = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let up_addr = up.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut buf = vec![0u8; 512];
            while let Ok((n, peer)) = up.recv_from(&mut buf).await {
                buf[2] |= 0x80;
                let _ = up.send_to(&buf[..n], peer).await;
            }
        });
        let r = relay(
            "127.0.0.1:0".parse().expect("addr"),
            up_addr,
            Duration::from_millis(200),
        )
        .await
        .expect("relay");
        // Two clients with the same query id each get their own answer, under their id.
        let (a, b) = tokio::join!(ask(r, 7), ask(r, 7));
        for got in [a, b] {
            assert_eq!(&got[..2], &7u16.to_be_bytes());
            assert_eq!(got[2] & 0x80, 0x80, "an answer");
        }

        // An upstream that never answers: SERVFAIL (rcode 2) after the timeout.
        let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let r = relay(
            "127.0.0.1:0".parse().expect("addr"),
            silent.local_addr().expect("addr"),
            Duration::from_millis(200),
        )
        .await
        .expect("relay");
        let got = ask(r, 9).await;
        assert_eq!(&got[..2], &9u16.to_be_bytes());
        assert_eq!(got[3] & 0x0f, 2, "SERVFAIL");
        drop(silent);
    }
}
