//! Tests of the load balancer with real sockets on loopback: balancing, a dead backend
//! skipped on connect, table changes, UDP flows.

use super::*;
use keel_api::vips::{Vip, VipBackend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

fn table(vip: &str, port: u16, proto: &str, backends: &[SocketAddr]) -> VipTable {
    VipTable {
        version: 1,
        vips: vec![Vip {
            label: "/t".into(),
            framework: "marathon".into(),
            dns_name: String::new(),
            ip: vip.into(),
            port,
            protocol: proto.into(),
            backends: backends
                .iter()
                .map(|b| VipBackend {
                    task_id: b.to_string(),
                    ip: b.ip().to_string(),
                    port: b.port(),
                    healthy: true,
                    weight: 1,
                })
                .collect(),
        }],
        problems: vec![],
    }
}

/// A TCP server that answers each connection with `name` and closes.
async fn tcp_backend(name: &'static str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let _ = c.write_all(name.as_bytes()).await;
        }
    });
    addr
}

async fn ask(addr: &str) -> String {
    let mut c = TcpStream::connect(addr).await.expect("connect to the VIP");
    let mut s = String::new();
    let _ = c.read_to_string(&mut s).await;
    s
}

#[tokio::test]
async fn tcp_balances_and_skips_a_dead_backend() {
    let a = tcp_backend("a").await;
    let b = tcp_backend("b").await;
    let dead = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead);
    let mut lb = L4lb::default();
    let errs = lb
        .apply(&table("127.77.1.1", 8080, "tcp", &[a, b, dead_addr]))
        .await;
    assert!(errs.is_empty(), "{errs:?}");
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..30 {
        *seen.entry(ask("127.77.1.1:8080").await).or_insert(0) += 1;
    }
    assert_eq!(
        seen.keys().cloned().collect::<Vec<_>>(),
        ["a", "b"],
        "{seen:?}"
    );
    // b leaves the table: only a answers.
    lb.apply(&table("127.77.1.1", 8080, "tcp", &[a])).await;
    for _ in 0..5 {
        assert_eq!(ask("127.77.1.1:8080").await, "a");
    }
    // The VIP leaves the table: nothing listens there any more.
    lb.apply(&VipTable::default()).await;
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect("127.77.1.1:8080").await.is_err());
}

#[tokio::test]
async fn udp_flows_reach_every_backend_and_get_replies() {
    let mut backends = Vec::new();
    for name in ["x", "y"] {
        let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        backends.push(s.local_addr().expect("addr"));
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                let reply = format!("{name}:{}", String::from_utf8_lossy(&buf[..n]));
                let _ = s.send_to(reply.as_bytes(), from).await;
            }
        });
    }
    let mut lb = L4lb::default();
    let errs = lb.apply(&table("127.77.1.2", 5353, "udp", &backends)).await;
    assert!(errs.is_empty(), "{errs:?}");
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..10 {
        let c = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        c.send_to(format!("q{i}").as_bytes(), "127.77.1.2:5353")
            .await
            .expect("send");
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(2), c.recv(&mut buf))
            .await
            .expect("a reply")
            .expect("recv");
        let reply = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(reply.ends_with(&format!(":q{i}")), "{reply}");
        seen.insert(reply[..1].to_string());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["x", "y"]);
}
