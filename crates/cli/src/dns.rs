//! `keel dns lookup NAME [--type T]`: one query to the cluster's DNS server (its address
//! from the master's `/mesos_dns/v1/config`, or `--server`), over UDP with EDNS and again
//! over TCP when the answer comes back truncated, printed as a table or JSON; and the DNS
//! names of one app for `keel app show`.

use crate::{Client, Global};
use anyhow::{Context, anyhow, bail};
use clap::Args;
use comfy_table::{Table, presets::NOTHING};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one query (UDP or TCP) may take.
const TIMEOUT: Duration = Duration::from_secs(3);
/// The EDNS payload size the UDP query advertises.
const UDP_PAYLOAD: u16 = 4096;

#[derive(Debug, Args)]
pub struct LookupArgs {
    /// The name to look up (`web.marathon.mesos`, `_web._tcp.marathon.mesos`, ...).
    pub name: String,
    /// The record type: A, AAAA, SRV, SOA, NS, ANY, ...
    #[arg(long = "type", short = 't', default_value = "A")]
    pub rtype: String,
    /// The DNS server, `ip:port` (default: the cluster's, read from the master).
    #[arg(long)]
    pub server: Option<SocketAddr>,
    /// Query over TCP only (default: UDP, then TCP if the answer is truncated).
    #[arg(long)]
    pub tcp: bool,
}

/// One record of the answer, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rr {
    pub name: String,
    pub ttl: u32,
    #[serde(rename = "type")]
    pub rtype: String,
    pub data: String,
}

/// What a lookup returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub server: String,
    /// `udp` or `tcp`: the transport the printed answer came over.
    pub transport: &'static str,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`, ...
    pub status: String,
    pub authoritative: bool,
    /// Whether the printed answer is still truncated (only when TCP failed too).
    pub truncated: bool,
    pub answers: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
}

/// The query packet for (`name`, `rtype`), recursion desired, EDNS when `edns`.
pub fn query_packet(id: u16, name: &str, rtype: &str, edns: bool) -> anyhow::Result<Vec<u8>> {
    let t = RecordType::from_str(&rtype.to_ascii_uppercase())
        .map_err(|_| anyhow!("--type {rtype:?} is not a DNS record type"))?;
    let mut fq = name.trim().to_string();
    if !fq.ends_with('.') {
        fq.push('.');
    }
    let n = Name::from_ascii(&fq).map_err(|e| anyhow!("{name:?} is not a DNS name: {e}"))?;
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(n, t));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(UDP_PAYLOAD);
        m.set_edns(e);
    }
    Ok(m.to_vec()?)
}

/// Decodes a reply to query `id`.
pub fn parse_reply(id: u16, packet: &[u8], server: &str, tcp: bool) -> anyhow::Result<Answer> {
    let m = Message::from_vec(packet).map_err(|e| anyhow!("bad DNS reply from {server}: {e}"))?;
    if m.metadata.id != id || m.metadata.message_type != MessageType::Response {
        bail!("{server} answered another query");
    }
    let rrs = |v: &[hickory_proto::rr::Record]| -> Vec<Rr> {
        v.iter()
            .map(|r| Rr {
                name: r.name.to_string(),
                ttl: r.ttl,
                rtype: r.record_type().to_string(),
                data: r.data.to_string(),
            })
            .collect()
    };
    Ok(Answer {
        server: server.to_string(),
        transport: if tcp { "tcp" } else { "udp" },
        status: status_name(m.metadata.response_code),
        authoritative: m.metadata.authoritative,
        truncated: m.metadata.truncation,
        answers: rrs(&m.answers),
        authority: rrs(&m.authorities),
        additional: rrs(&m.additionals),
    })
}

fn status_name(c: ResponseCode) -> String {
    match c {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

async fn udp(server: SocketAddr, packet: &[u8]) -> anyhow::Result<Vec<u8>> {
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(bind).await?;
    sock.connect(server).await?;
    sock.send(packet).await?;
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(TIMEOUT, sock.recv(&mut buf))
        .await
        .map_err(|_| anyhow!("no answer from {server} over UDP within {TIMEOUT:?}"))??;
    buf.truncate(n);
    Ok(buf)
}

async fn tcp(server: SocketAddr, packet: &[u8]) -> anyhow::Result<Vec<u8>> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(server).await?;
        let len = u16::try_from(packet.len()).context("query too long")?;
        s.write_all(&len.to_be_bytes()).await?;
        s.write_all(packet).await?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).await?;
        anyhow::Ok(buf)
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("no answer from {server} over TCP within {TIMEOUT:?}"))?
        .with_context(|| format!("querying {server} over TCP"))
}

/// Queries `server`: UDP with EDNS first (TCP only when `tcp_only`), TCP again when the UDP
/// answer is truncated.
pub async fn lookup(
    server: SocketAddr,
    name: &str,
    rtype: &str,
    tcp_only: bool,
) -> anyhow::Result<Answer> {
    // A random id (hickory's), so a stray reply to another query is told apart.
    let id = Message::query().metadata.id;
    let s = server.to_string();
    if !tcp_only {
        let reply = udp(server, &query_packet(id, name, rtype, true)?).await?;
        let a = parse_reply(id, &reply, &s, false)?;
        if !a.truncated {
            return Ok(a);
        }
    }
    let reply = tcp(server, &query_packet(id, name, rtype, false)?).await?;
    parse_reply(id, &reply, &s, true)
}

/// Where the cluster's DNS server is, from `/mesos_dns/v1/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsAddr {
    /// It listens on one address.
    At(SocketAddr),
    /// It listens on every address: reach it at the entry's host, on this port.
    EntryHost(String, u16),
}

/// Reads `Listener` and `Port` of the Mesos-DNS config; an unspecified listener (`0.0.0.0`,
/// `::`, or none) means the host of `base_url`.
pub fn dns_addr(cfg: &Value, base_url: &str) -> anyhow::Result<DnsAddr> {
    let port = cfg["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| anyhow!("the master's /mesos_dns/v1/config has no Port"))?;
    let listener = cfg["Listener"].as_str().unwrap_or("");
    match listener.parse::<std::net::IpAddr>() {
        Ok(ip) if !ip.is_unspecified() => Ok(DnsAddr::At(SocketAddr::new(ip, port))),
        _ => {
            let url = reqwest::Url::parse(base_url).context("--url")?;
            let host = url
                .host_str()
                .ok_or_else(|| anyhow!("--url {base_url} has no host"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Ok(DnsAddr::EntryHost(host.to_string(), port))
        }
    }
}

/// The cluster's DNS server ([`dns_addr`] of the master's `/mesos_dns/v1/config`).
pub async fn server_of(c: &Client) -> anyhow::Result<SocketAddr> {
    let cfg: Value = c
        .get("/mesos_dns/v1/config")
        .await
        .context("the cluster's DNS configuration (is its DNS server running?)")?;
    match dns_addr(&cfg, &c.base)? {
        DnsAddr::At(a) => Ok(a),
        DnsAddr::EntryHost(host, port) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .with_context(|| format!("resolving {host}"))?
            .next()
            .ok_or_else(|| anyhow!("{host} has no address")),
    }
}

/// `keel dns lookup`. Fails (after printing) when the status is not NOERROR.
pub async fn run_lookup(c: &Client, g: &Global, a: LookupArgs) -> anyhow::Result<()> {
    let server = match a.server {
        Some(s) => s,
        None => server_of(c).await?,
    };
    let ans = lookup(server, &a.name, &a.rtype, a.tcp).await?;
    if g.json {
        println!("{}", serde_json::to_string_pretty(&ans)?);
    } else {
        print!("{}", render(&ans));
    }
    if ans.status != "NOERROR" {
        bail!("{}: {}", a.name, ans.status);
    }
    Ok(())
}

/// The table `keel dns lookup` prints.
pub fn render(a: &Answer) -> String {
    let mut flags = Vec::new();
    if a.authoritative {
        flags.push("authoritative");
    }
    if a.truncated {
        flags.push("truncated");
    }
    let mut out = format!(
        "{} from {} over {}{}{}\n",
        a.status,
        a.server,
        a.transport,
        if flags.is_empty() { "" } else { ", " },
        flags.join(", ")
    );
    let sections = [
        ("ANSWER", &a.answers),
        ("AUTHORITY", &a.authority),
        ("ADDITIONAL", &a.additional),
    ];
    if sections.iter().all(|(_, v)| v.is_empty()) {
        return out;
    }
    let mut t = Table::new();
    t.load_style(NOTHING)
        .set_header(["SECTION", "NAME", "TTL", "TYPE", "DATA"]);
    for (section, rrs) in sections {
        for r in rrs.iter() {
            t.add_row([
                section.to_string(),
                r.name.clone(),
                r.ttl.to_string(),
                r.rtype.clone(),
                r.data.clone(),
            ]);
        }
    }
    out.push_str(&format!("{t}\n"));
    out
}

/// Marathon's `PathId.toHostname`: `/group/app` -> `app.group`.
pub fn to_hostname(app_id: &str) -> String {
    let segs: Vec<&str> = app_id.split('/').filter(|s| !s.is_empty()).collect();
    segs.into_iter().rev().collect::<Vec<_>>().join(".")
}

/// The DNS names of an app's tasks `task_ids`, as JSON for `app show`: every Mesos-DNS
/// record of those tasks (`/mesos_dns/v1/enumerate`) and the dcos-dns `agentip`,
/// `containerip` and `autoip` names that answer now, each `{"name", "type"}` once. Empty
/// when the cluster has no DNS server.
pub async fn names_of_app(c: &Client, app_id: &str, task_ids: &BTreeSet<String>) -> Value {
    let mut names: BTreeSet<(String, String)> = BTreeSet::new();
    let framework = "marathon";
    if let Ok(e) = c.get::<Value>("/mesos_dns/v1/enumerate").await {
        for fw in e["frameworks"].as_array().into_iter().flatten() {
            for t in fw["tasks"].as_array().into_iter().flatten() {
                let id = t["id"].as_str().unwrap_or_default();
                if !task_ids.contains(id) {
                    continue;
                }
                for r in t["records"].as_array().into_iter().flatten() {
                    if let (Some(n), Some(rt)) = (r["name"].as_str(), r["rtype"].as_str()) {
                        names.insert((n.to_string(), rt.to_string()));
                    }
                }
            }
        }
    }
    if !task_ids.is_empty() {
        let task = keel_dns_records::dcos_label(&to_hostname(app_id));
        let fw = keel_dns_records::dcos_label(framework);
        for kind in ["agentip", "containerip", "autoip"] {
            let name = format!("{task}.{fw}.{kind}.dcos.thisdcos.directory.");
            let hosts: Value = c
                .get(&format!("/mesos_dns/v1/hosts/{name}"))
                .await
                .unwrap_or(Value::Null);
            let found = (hosts.as_array().into_iter().flatten())
                .any(|h| h["ip"].as_str().is_some_and(|ip| !ip.is_empty()));
            if found {
                names.insert((name, "A".to_string()));
            }
        }
    }
    let v: Vec<Value> = names
        .into_iter()
        .map(|(name, rtype)| json!({"name": name, "type": rtype}))
        .collect();
    Value::Array(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_round_trips_and_bad_input_is_an_error() {
        let p = query_packet(7, "web.marathon.mesos", "srv", true).unwrap();
        let m = Message::from_vec(&p).unwrap();
        assert_eq!(m.metadata.id, 7);
        assert_eq!(m.queries[0].query_type(), RecordType::SRV);
        assert_eq!(m.queries[0].name().to_string(), "web.marathon.mesos.");
        assert!(m.edns.is_some());
        assert!(query_packet(7, "web", "BOGUS", false).is_err());
        assert!(query_packet(7, &"a".repeat(300), "A", false).is_err());
    }

    #[test]
    fn replies_are_decoded_and_checked() {
        let mut m = Message::new(9, MessageType::Response, OpCode::Query);
        m.metadata.response_code = ResponseCode::NXDomain;
        m.metadata.authoritative = true;
        let bytes = m.to_vec().unwrap();
        let a = parse_reply(9, &bytes, "127.0.0.1:53", false).unwrap();
        assert_eq!(a.status, "NXDOMAIN");
        assert!(a.authoritative && a.answers.is_empty());
        assert!(render(&a).starts_with("NXDOMAIN from 127.0.0.1:53 over udp, authoritative"));
        assert!(parse_reply(10, &bytes, "s", false).is_err(), "another id");
        assert!(parse_reply(9, b"\x00", "s", false).is_err(), "garbage");
    }

    #[test]
    fn the_dns_address_comes_from_the_config_or_the_entry_host() {
        let cfg = |l: &str, p: u64| json!({"Listener": l, "Port": p});
        let base = "http://10.1.2.3:5050";
        assert_eq!(
            dns_addr(&cfg("127.0.0.1", 5353), base).unwrap(),
            DnsAddr::At("127.0.0.1:5353".parse().unwrap())
        );
        for any in ["0.0.0.0", "::", ""] {
            assert_eq!(
                dns_addr(&cfg(any, 53), base).unwrap(),
                DnsAddr::EntryHost("10.1.2.3".into(), 53),
                "{any:?}"
            );
        }
        assert_eq!(
            dns_addr(&cfg("0.0.0.0", 53), "http://[::1]:5050").unwrap(),
            DnsAddr::EntryHost("::1".into(), 53)
        );
        assert!(dns_addr(&cfg("127.0.0.1", 0), base).is_err(), "no port");
        assert!(dns_addr(&json!({}), base).is_err());
        assert!(dns_addr(&cfg("0.0.0.0", 53), "not a url").is_err());
    }

    #[test]
    fn app_ids_become_marathon_host_names() {
        assert_eq!(to_hostname("/group/app"), "app.group");
        assert_eq!(to_hostname("/web"), "web");
        assert_eq!(
            keel_dns_records::dcos_label(&to_hostname("/shop/cart")),
            "cart-shop"
        );
    }
}
