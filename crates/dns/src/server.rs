//! The DNS listeners: UDP and TCP on one address, answering from the current record set and
//! forwarding other names to the upstream resolvers (per zone first), SERVFAIL when they fail.

use crate::answer::{Outcome, answer};
use crate::{DnsConfig, Records};
use hickory_proto::op::{Message, OpCode, ResponseCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Idle time after which a TCP client is dropped.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Concurrent UDP receive loops.
const UDP_WORKERS: usize = 2;

struct Shared {
    records: Records,
    config: DnsConfig,
    queries: AtomicU64,
}

impl Shared {
    fn salt(&self) -> u64 {
        self.queries
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// The upstreams for `name`: the longest matching zone's, else the default ones.
    fn upstreams(&self, name: &str) -> &[SocketAddr] {
        (self.config.zone_resolvers.iter())
            .filter(|(z, _)| keel_dns_records::in_zone(name, z))
            .max_by_key(|(z, _)| z.len())
            .map_or(&self.config.resolvers, |(_, r)| r)
    }
}

/// Binds UDP and TCP on `config.listen` and serves until the runtime stops. Returns the
/// bound address (the UDP and TCP ports are the same).
pub async fn serve(config: DnsConfig, records: Records) -> std::io::Result<SocketAddr> {
    let (udp, tcp) = crate::relay::bind_udp_tcp(config.listen).await?;
    let addr = udp.local_addr()?;
    let shared = Arc::new(Shared {
        records,
        config,
        queries: AtomicU64::new(1),
    });
    let udp = Arc::new(udp);
    for _ in 0..UDP_WORKERS {
        tokio::spawn(udp_loop(udp.clone(), shared.clone()));
    }
    tokio::spawn(tcp_loop(tcp, shared));
    Ok(addr)
}

async fn udp_loop(sock: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("dns udp receive: {e}");
                continue;
            }
        };
        let packet = &buf[..n];
        let set = shared.records.current();
        match answer(&set, packet, true, shared.salt()) {
            Outcome::Reply(b) => {
                let _ = sock.send_to(&b, peer).await;
            }
            Outcome::Forward { name } => {
                let (sock, shared, packet) = (sock.clone(), shared.clone(), packet.to_vec());
                tokio::spawn(async move {
                    let b = forward(&shared, &name, &packet, false).await;
                    let _ = sock.send_to(&b, peer).await;
                });
            }
            Outcome::Drop => {}
        }
    }
}

async fn tcp_loop(l: TcpListener, shared: Arc<Shared>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                tokio::spawn(tcp_conn(s, shared.clone()));
            }
            Err(e) => {
                tracing::debug!("dns tcp accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn tcp_conn(mut s: TcpStream, shared: Arc<Shared>) {
    loop {
        let Ok(Ok(len)) = tokio::time::timeout(TCP_IDLE, s.read_u16()).await else {
            return;
        };
        let mut packet = vec![0u8; usize::from(len)];
        if tokio::time::timeout(TCP_IDLE, s.read_exact(&mut packet))
            .await
            .is_err()
        {
            return;
        }
        let set = shared.records.current();
        let out = match answer(&set, &packet, false, shared.salt()) {
            Outcome::Reply(b) => b,
            Outcome::Forward { name } => forward(&shared, &name, &packet, true).await,
            Outcome::Drop => return,
        };
        let Ok(len) = u16::try_from(out.len()) else {
            return;
        };
        if s.write_u16(len).await.is_err() || s.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Forwards `packet` to the upstreams of `name` in order; the first answer wins. REFUSED
/// when none is configured, SERVFAIL when all fail or time out.
async fn forward(shared: &Shared, name: &str, packet: &[u8], tcp: bool) -> Vec<u8> {
    let upstreams = shared.upstreams(name);
    if upstreams.is_empty() {
        return error_reply(packet, ResponseCode::Refused);
    }
    for up in upstreams {
        let r = tokio::time::timeout(shared.config.timeout, async {
            if tcp {
                forward_tcp(*up, packet).await
            } else {
                forward_udp(*up, packet).await
            }
        })
        .await;
        match r {
            Ok(Ok(b)) => return b,
            Ok(Err(e)) => tracing::debug!("forwarding {name} to {up}: {e}"),
            Err(_) => tracing::debug!("forwarding {name} to {up}: timed out"),
        }
    }
    error_reply(packet, ResponseCode::ServFail)
}

async fn forward_udp(up: SocketAddr, packet: &[u8]) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = if up.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let s = UdpSocket::bind(bind).await?;
    s.connect(up).await?;
    s.send(packet).await?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = s.recv(&mut buf).await?;
        // Only the answer to this query (same id) counts.
        if n >= 2 && packet.len() >= 2 && buf[..2] == packet[..2] {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

pub(crate) async fn forward_tcp(up: SocketAddr, packet: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(up).await?;
    let len = u16::try_from(packet.len()).map_err(std::io::Error::other)?;
    s.write_u16(len).await?;
    s.write_all(packet).await?;
    let n = s.read_u16().await?;
    let mut buf = vec![0u8; usize::from(n)];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

pub(crate) fn error_reply(packet: &[u8], code: ResponseCode) -> Vec<u8> {
    let mut m = match Message::from_vec(packet) {
        Ok(req) => {
            let mut m = Message::response(req.metadata.id, req.metadata.op_code);
            m.metadata.recursion_desired = req.metadata.recursion_desired;
            m.add_queries(req.queries);
            m
        }
        Err(_) => {
            let id = packet
                .get(..2)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
            Message::response(id, OpCode::Query)
        }
    };
    m.metadata.recursion_available = true;
    m.metadata.response_code = code;
    m.to_vec().unwrap_or_default()
}
