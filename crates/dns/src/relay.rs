//! The task DNS relay (`keel agent --task-dns IP`): a listener on `IP:53`, UDP and TCP,
//! that passes every query unchanged to one upstream (the master's DNS) and its answer back,
//! because a resolv.conf `nameserver` line cannot name a port. An upstream that fails or
//! times out answers SERVFAIL.

use crate::server::{error_reply, forward_tcp, forward_udp};
use hickory_proto::op::ResponseCode;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

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
    let udp = Arc::new(UdpSocket::bind(listen).await?);
    let addr = udp.local_addr()?;
    let tcp = TcpListener::bind(addr).await?;
    tokio::spawn(udp_loop(udp, upstream, timeout));
    tokio::spawn(tcp_loop(tcp, upstream, timeout));
    Ok(addr)
}

async fn udp_loop(sock: Arc<UdpSocket>, upstream: SocketAddr, timeout: Duration) {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("task dns udp receive: {e}");
                continue;
            }
        };
        let packet = buf[..n].to_vec();
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let _ = sock
                .send_to(&error_reply(&packet, ResponseCode::ServFail), peer)
                .await;
            continue;
        };
        let sock = sock.clone();
        tokio::spawn(async move {
            let r = tokio::time::timeout(timeout, forward_udp(upstream, &packet)).await;
            let out = answer_or_servfail(r, &packet, upstream);
            let _ = sock.send_to(&out, peer).await;
            drop(permit);
        });
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
