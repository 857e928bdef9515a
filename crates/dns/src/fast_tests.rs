//! The fast path answers exactly what the general path answers (same message once parsed)
//! for every name of a cluster fixture, every covered type, with and without EDNS.

use crate::answer::{Outcome, answer, answer_general};
use crate::fast::answer_fast;
use core::net::{IpAddr, Ipv4Addr};
use hickory_proto::op::Message;
use keel_dns_records::{AgentEntry, Endpoint, RecordSet, Snapshot, TaskEntry, ZoneConfig};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn fixture() -> RecordSet {
    let agents = (0..6)
        .map(|i| AgentEntry {
            id: format!("c1-S{i}"),
            ip: Some(ip(&format!("10.0.1.{}", i + 1))),
            port: 5051,
        })
        .collect();
    let tasks = (0..40)
        .map(|i| TaskEntry {
            id: format!("t.{i}"),
            // Several tasks per name: multi-record answers to rotate.
            name: format!("app-{}", i % 7),
            framework: "marathon".into(),
            agent_id: format!("c1-S{}", i % 6),
            running: true,
            has_health_checks: false,
            healthy: None,
            host_ports: vec![31000 + i, 32000 + i],
            container_ips: if i % 5 == 0 {
                vec![ip(&format!("fd00::{}", i + 1))]
            } else {
                Vec::new()
            },
            discovery: None,
        })
        .collect();
    let snap = Snapshot {
        leader: Some(Endpoint {
            ip: ip("10.0.0.1"),
            port: 5050,
        }),
        masters: vec![ip("10.0.0.1")],
        agents,
        frameworks: Vec::new(),
        tasks,
        vips: Vec::new(),
        dns_ips: vec![ip("10.0.0.1")],
    };
    RecordSet::build(&snap, &ZoneConfig::default(), 9)
}

/// A query packet for `name` (dotted, case kept), `qtype`, optional EDNS payload size.
fn query(id: u16, name: &str, qtype: u16, edns: Option<u16>, rd: bool) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[
        u8::from(rd),
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        u8::from(edns.is_some()),
    ]);
    for l in name.trim_end_matches('.').split('.') {
        p.push(u8::try_from(l.len()).unwrap_or(0));
        p.extend_from_slice(l.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    if let Some(size) = edns {
        p.push(0);
        p.extend_from_slice(&41u16.to_be_bytes());
        p.extend_from_slice(&size.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
    p
}

fn parsed(o: Outcome) -> Option<Message> {
    match o {
        Outcome::Reply(b) => Message::from_vec(&b).ok(),
        _ => None,
    }
}

#[test]
fn the_fast_path_answers_as_the_general_path_does() {
    let set = fixture();
    let mut fast = 0;
    let mut names: Vec<&String> = set.iter().map(|(n, _)| n).collect();
    names.sort();
    assert!(names.len() > 50, "{}", names.len());
    for (k, name) in names.iter().enumerate() {
        let upper = name.to_uppercase();
        for qname in [name.as_str(), upper.as_str()] {
            for qtype in [1u16, 28, 33, 255, 15, 6] {
                for edns in [None, Some(0), Some(1232), Some(4096)] {
                    for udp in [true, false] {
                        let salt = (k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                        let q = query(0x1234 + k as u16, qname, qtype, edns, k % 2 == 0);
                        if answer_fast(&set, &q, udp, salt).is_some() {
                            fast += 1;
                        }
                        let a = parsed(answer(&set, &q, udp, salt));
                        let b = parsed(answer_general(&set, &q, udp, salt));
                        assert_eq!(a, b, "{qname} type {qtype} edns {edns:?} udp {udp}");
                    }
                }
            }
        }
    }
    // Most A/AAAA/SRV answers took the fast path (the rest: NODATA, truncation).
    assert!(fast > 500, "{fast}");
}

#[test]
fn odd_queries_leave_the_fast_path() {
    let set = fixture();
    let name = "app-1.marathon.mesos";
    assert!(answer_fast(&set, &query(1, name, 1, None, true), true, 3).is_some());
    // A response, an unknown name, EDNS version 1, trailing bytes, an escaped label.
    let mut resp = query(1, name, 1, None, true);
    resp[2] |= 0x80;
    let mut v1 = query(1, name, 1, Some(4096), true);
    let at = v1.len() - 5;
    v1[at] = 1;
    let mut trailing = query(1, name, 1, None, true);
    trailing.push(0);
    for p in [
        resp,
        query(1, "nope.marathon.mesos", 1, None, true),
        query(1, "example.com", 1, None, true),
        v1,
        trailing,
        query(1, "app\\-1.marathon.mesos", 1, None, true),
        vec![0, 1, 0],
    ] {
        assert!(answer_fast(&set, &p, true, 3).is_none(), "{p:?}");
    }
}
