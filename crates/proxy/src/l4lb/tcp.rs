//! TCP VIPs: accept on the VIP, connect to a backend (the next one if a connect fails),
//! then copy both ways until either side closes.

use super::Pool;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// How long one backend connect may take before the next backend is tried.
const CONNECT: Duration = Duration::from_secs(1);

/// Binds `addr` and serves it from `pool` in a task of its own.
pub async fn bind(
    addr: SocketAddr,
    pool: Arc<Pool>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let l = TcpListener::bind(addr).await?;
    Ok(tokio::spawn(async move {
        loop {
            match l.accept().await {
                Ok((c, _)) => {
                    tokio::spawn(forward(c, pool.clone()));
                }
                Err(e) => {
                    tracing::debug!("VIP {addr} accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }))
}

async fn forward(mut client: TcpStream, pool: Arc<Pool>) {
    for b in pool.order() {
        match tokio::time::timeout(CONNECT, TcpStream::connect(b)).await {
            Ok(Ok(mut upstream)) => {
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                return;
            }
            Ok(Err(e)) => tracing::debug!("VIP backend {b}: {e}"),
            Err(_) => tracing::debug!("VIP backend {b}: connect timed out"),
        }
    }
}
