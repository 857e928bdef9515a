//! UDP VIPs: each client address is a flow with its own upstream socket connected to one
//! backend; replies go back from the VIP. A flow ends after 30 s idle, when its backend
//! refuses (ICMP port unreachable) or leaves the pool, and the next datagram starts a new
//! flow on a live backend.

use super::Pool;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;

/// A flow without traffic this long is closed.
const IDLE: Duration = Duration::from_secs(30);

/// The largest datagram forwarded.
const MAX_DATAGRAM: usize = 65_535;

struct Flow {
    upstream: Arc<UdpSocket>,
    backend: SocketAddr,
    reader: tokio::task::JoinHandle<()>,
}

type Flows = Arc<Mutex<HashMap<SocketAddr, Flow>>>;

/// Binds `addr` and serves it from `pool` in a task of its own.
pub async fn bind(
    addr: SocketAddr,
    pool: Arc<Pool>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let sock = Arc::new(UdpSocket::bind(addr).await?);
    Ok(tokio::spawn(serve(sock, pool)))
}

async fn serve(sock: Arc<UdpSocket>, pool: Arc<Pool>) {
    let flows: Flows = Arc::default();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, client) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("VIP udp recv: {e}");
                continue;
            }
        };
        let existing = {
            let mut f = flows.lock().unwrap_or_else(|e| e.into_inner());
            match f.get(&client) {
                Some(flow) if pool.contains(flow.backend) && !flow.reader.is_finished() => {
                    Some(flow.upstream.clone())
                }
                Some(_) => {
                    if let Some(old) = f.remove(&client) {
                        old.reader.abort();
                    }
                    None
                }
                None => None,
            }
        };
        let upstream = match existing {
            Some(u) => u,
            None => match open(&sock, &flows, &pool, client).await {
                Some(u) => u,
                None => continue,
            },
        };
        if upstream.send(&buf[..n]).await.is_err()
            && let Some(old) = flows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&client)
        {
            old.reader.abort();
        }
    }
}

/// A new flow for `client` on the first backend that takes a connected socket.
async fn open(
    sock: &Arc<UdpSocket>,
    flows: &Flows,
    pool: &Pool,
    client: SocketAddr,
) -> Option<Arc<UdpSocket>> {
    for backend in pool.order() {
        let local: SocketAddr = if backend.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let Ok(up) = UdpSocket::bind(local).await else {
            continue;
        };
        if up.connect(backend).await.is_err() {
            continue;
        }
        let up = Arc::new(up);
        let reader = tokio::spawn(replies(up.clone(), sock.clone(), client, flows.clone()));
        flows.lock().unwrap_or_else(|e| e.into_inner()).insert(
            client,
            Flow {
                upstream: up.clone(),
                backend,
                reader,
            },
        );
        return Some(up);
    }
    None
}

/// Copies a flow's replies back to its client until it is idle or refused.
async fn replies(up: Arc<UdpSocket>, sock: Arc<UdpSocket>, client: SocketAddr, flows: Flows) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while let Ok(Ok(n)) = tokio::time::timeout(IDLE, up.recv(&mut buf)).await {
        let _ = sock.send_to(&buf[..n], client).await;
    }
    let mut f = flows.lock().unwrap_or_else(|e| e.into_inner());
    if f.get(&client)
        .is_some_and(|flow| Arc::ptr_eq(&flow.upstream, &up))
    {
        f.remove(&client);
    }
}
