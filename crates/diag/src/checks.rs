//! Probes the unit checks are made of: an HTTP GET, a DNS query over UDP, the Docker
//! Engine's `/_ping` on its socket. Each answers `Ok(output)` or `Err(output)`.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET url` answered 2xx.
pub async fn http_probe(http: &reqwest::Client, url: &str) -> Result<String, String> {
    match http.get(url).timeout(PROBE_TIMEOUT).send().await {
        Ok(r) if r.status().is_success() => Ok(format!("GET {url}: {}", r.status())),
        Ok(r) => Err(format!("GET {url}: {}", r.status())),
        Err(e) => Err(format!("GET {url}: {e}")),
    }
}

/// An `A` query for `name` to the DNS server at `server` got an answer with records.
pub async fn dns_probe(server: SocketAddr, name: &str) -> Result<String, String> {
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("udp socket: {e}"))?;
    let id = (std::process::id() as u16) ^ 0x6b65;
    sock.send_to(&query(id, name), server)
        .await
        .map_err(|e| format!("query {name} to {server}: {e}"))?;
    let mut buf = [0u8; 1500];
    let n = match tokio::time::timeout(PROBE_TIMEOUT, sock.recv(&mut buf)).await {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => return Err(format!("query {name} to {server}: {e}")),
        Err(_) => return Err(format!("query {name} to {server}: no answer within 3s")),
    };
    match answer_count(id, buf.get(..n).unwrap_or_default()) {
        Ok(0) => Err(format!("{name} has no records at {server}")),
        Ok(c) => Ok(format!("{name}: {c} record(s) from {server}")),
        Err(e) => Err(format!("query {name} to {server}: {e}")),
    }
}

/// A recursion-desired `A`/`IN` query packet.
fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(
            label
                .as_bytes()
                .get(..label.len().min(63))
                .unwrap_or_default(),
        );
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The answer count of a response to query `id`, or why it is not a good answer.
fn answer_count(id: u16, resp: &[u8]) -> Result<u16, String> {
    let h = resp.get(..12).ok_or("short response")?;
    if u16::from_be_bytes([h[0], h[1]]) != id || h[2] & 0x80 == 0 {
        return Err("not an answer to this query".into());
    }
    match h[3] & 0x0f {
        0 => Ok(u16::from_be_bytes([h[6], h[7]])),
        rcode => Err(format!("rcode {rcode}")),
    }
}

/// The Docker Engine answers `GET /_ping` on its socket (`DOCKER_HOST=unix://...` or
/// `/var/run/docker.sock`).
pub async fn docker_ping() -> Result<String, String> {
    let path = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
        .unwrap_or_else(|| "/var/run/docker.sock".to_owned());
    let talk = async {
        let mut s = tokio::net::UnixStream::connect(&path).await?;
        s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            .await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    match tokio::time::timeout(PROBE_TIMEOUT, talk).await {
        Ok(Ok(out)) => {
            let text = String::from_utf8_lossy(&out);
            if text.starts_with("HTTP/1.") && text.split_whitespace().nth(1) == Some("200") {
                Ok(format!("the Docker Engine at {path} answers /_ping"))
            } else {
                Err(format!(
                    "the Docker Engine at {path}: {}",
                    text.lines().next().unwrap_or("")
                ))
            }
        }
        Ok(Err(e)) => Err(format!("the Docker Engine at {path}: {e}")),
        Err(_) => Err(format!("the Docker Engine at {path}: no answer within 3s")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_encode_the_name_and_answers_are_checked() {
        let q = query(7, "leader.mesos.");
        assert_eq!(&q[12..], b"\x06leader\x05mesos\x00\x00\x01\x00\x01");
        let mut a = q.clone();
        a[2] |= 0x80;
        a[7] = 2;
        assert_eq!(answer_count(7, &a), Ok(2));
        assert!(answer_count(8, &a).is_err());
        a[3] = 3;
        assert_eq!(answer_count(7, &a), Err("rcode 3".into()));
        assert!(answer_count(7, &a[..5]).is_err());
    }

    #[tokio::test]
    async fn a_dead_server_is_unhealthy() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = sock.local_addr().unwrap_or_else(|e| panic!("{e}"));
        drop(sock);
        assert!(dns_probe(addr, "leader.mesos").await.is_err());
    }
}
