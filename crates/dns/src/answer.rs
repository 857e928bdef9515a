//! One query in, one response out: the authoritative answers of Keel's zones (NXDOMAIN vs
//! NODATA with the SOA in authority, SRV targets in additional, rotated answers, EDNS,
//! truncation with TC) and the error answers for what is not a plain query.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use keel_dns_records::{Lookup, RecordSet, Rrs, Zone};

/// The largest UDP payload answered, whatever EDNS asks for.
pub const MAX_UDP_PAYLOAD: u16 = 4096;

/// What to do with a request.
pub enum Outcome {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Not ours: forward the request to the upstreams for `name`.
    Forward { name: String },
    /// Not worth an answer (too short to carry an id, or a response).
    Drop,
}

/// Answers `packet`. `udp` limits the response to 512 bytes or the EDNS payload size;
/// `salt` varies the rotation of multi-record answers between queries.
pub fn answer(set: &RecordSet, packet: &[u8], udp: bool, salt: u64) -> Outcome {
    match crate::fast::answer_fast(set, packet, udp, salt) {
        Some(b) => Outcome::Reply(b),
        None => answer_general(set, packet, udp, salt),
    }
}

/// [`answer`] for any packet, through hickory messages (the fast path's reference).
pub(crate) fn answer_general(set: &RecordSet, packet: &[u8], udp: bool, salt: u64) -> Outcome {
    let req = match Message::from_vec(packet) {
        Ok(m) => m,
        Err(_) => return format_error(packet),
    };
    if req.metadata.message_type != MessageType::Query {
        return Outcome::Drop;
    }
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.add_queries(req.queries.iter().cloned());
    let limit = match &req.edns {
        Some(e) => {
            let mut edns = Edns::new();
            edns.set_max_payload(MAX_UDP_PAYLOAD);
            resp.set_edns(edns);
            if e.version() > 0 {
                return reply(resp, ResponseCode::BADVERS, udp, 512);
            }
            e.max_payload().clamp(512, MAX_UDP_PAYLOAD)
        }
        None => 512,
    };
    if req.metadata.op_code != OpCode::Query {
        return reply(resp, ResponseCode::NotImp, udp, limit);
    }
    let [q] = req.queries.as_slice() else {
        return reply(resp, ResponseCode::FormErr, udp, limit);
    };
    let name = q.name().to_lowercase().to_ascii();
    let name = if name.ends_with('.') {
        name
    } else {
        format!("{name}.")
    };
    let lookup = set.lookup(&name);
    if matches!(lookup, Lookup::Outside) {
        return Outcome::Forward { name };
    }
    if q.query_class() != DNSClass::IN && q.query_class() != DNSClass::ANY {
        return reply(resp, ResponseCode::Refused, udp, limit);
    }
    if matches!(q.query_type(), RecordType::AXFR | RecordType::IXFR) {
        return reply(resp, ResponseCode::NotImp, udp, limit);
    }
    resp.metadata.authoritative = true;
    let code = fill(&mut resp, set, lookup, q.name(), q.query_type(), salt);
    reply(resp, code, udp, limit)
}

/// Answers a packet that did not parse: FORMERR with its id, if it has one.
fn format_error(packet: &[u8]) -> Outcome {
    let (Some(hi), Some(lo), Some(flags)) = (packet.first(), packet.get(1), packet.get(2)) else {
        return Outcome::Drop;
    };
    if flags & 0x80 != 0 || packet.len() < 12 {
        return Outcome::Drop;
    }
    let m = Message::error_msg(
        u16::from_be_bytes([*hi, *lo]),
        OpCode::Query,
        ResponseCode::FormErr,
    );
    m.to_vec().map_or(Outcome::Drop, Outcome::Reply)
}

/// Fills the answer for a name in one of our zones; returns the response code.
fn fill(
    resp: &mut Message,
    set: &RecordSet,
    lookup: Lookup<'_>,
    qname: &Name,
    qtype: RecordType,
    salt: u64,
) -> ResponseCode {
    let (zone, rrs) = match lookup {
        Lookup::Found(z, r) => (z, r),
        Lookup::NxDomain(z) => {
            resp.add_authority(soa(z));
            return ResponseCode::NXDomain;
        }
        Lookup::Outside => return ResponseCode::ServFail,
    };
    let ttl = rrs.ttl.max(1).min(zone.ttl.max(1));
    let mut answers = Vec::new();
    let want = |t: RecordType| qtype == t || qtype == RecordType::ANY;
    if want(RecordType::A) {
        answers.extend(rrs.a.iter().map(|ip| rec(qname, ttl, RData::A(A(*ip)))));
    }
    if want(RecordType::AAAA) {
        answers.extend(
            rrs.aaaa
                .iter()
                .map(|ip| rec(qname, ttl, RData::AAAA(AAAA(*ip)))),
        );
    }
    let mut srv_targets = Vec::new();
    if want(RecordType::SRV) {
        for s in &rrs.srv {
            let Ok(target) = Name::from_ascii(&s.target) else {
                continue;
            };
            srv_targets.push(s.target.as_str());
            answers.push(rec(
                qname,
                ttl,
                RData::SRV(SRV::new(s.priority, s.weight, s.port, target)),
            ));
        }
    }
    if qtype == RecordType::SOA {
        answers.push(soa(zone));
    }
    if qtype == RecordType::NS
        && let Ok(ns) = Name::from_ascii(&zone.mname)
    {
        answers.push(rec(qname, zone.ttl, RData::NS(NS(ns))));
    }
    rotate(&mut answers, salt);
    if answers.is_empty() {
        resp.add_authority(soa(zone));
        return ResponseCode::NoError;
    }
    resp.add_answers(answers);
    srv_targets.sort_unstable();
    srv_targets.dedup();
    for t in srv_targets {
        if let (Some(r), Ok(n)) = (set.get(t), Name::from_ascii(t)) {
            resp.add_additionals(addresses(&n, r));
        }
    }
    ResponseCode::NoError
}

fn addresses(name: &Name, r: &Rrs) -> Vec<Record> {
    let ttl = r.ttl.max(1);
    let a = r.a.iter().map(|ip| rec(name, ttl, RData::A(A(*ip))));
    let aaaa = r
        .aaaa
        .iter()
        .map(|ip| rec(name, ttl, RData::AAAA(AAAA(*ip))));
    a.chain(aaaa).collect()
}

fn rec(name: &Name, ttl: u32, rdata: RData) -> Record {
    Record::from_rdata(name.clone(), ttl, rdata)
}

/// The zone's SOA record.
pub fn soa(z: &Zone) -> Record {
    let n = |s: &str| Name::from_ascii(s).unwrap_or_else(|_| Name::root());
    let to_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let rdata = SOA::new(
        n(&z.mname),
        n(&z.rname),
        z.serial,
        to_i32(z.refresh),
        to_i32(z.retry),
        to_i32(z.expire),
        z.minttl,
    );
    Record::from_rdata(n(&z.apex), z.ttl, RData::SOA(rdata))
}

/// A cheap shuffle (xorshift seeded by `salt`): no global RNG, different per query.
pub(crate) fn rotate<T>(v: &mut [T], salt: u64) {
    let mut x = salt | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = usize::try_from(x % (i as u64 + 1)).unwrap_or(0);
        v.swap(i, j);
    }
}

/// Encodes `resp` with `code`; over UDP drops additionals, then answers, until it fits
/// `limit`, setting TC when answers had to go.
fn reply(mut resp: Message, code: ResponseCode, udp: bool, limit: u16) -> Outcome {
    resp.metadata.response_code = code;
    let Ok(bytes) = resp.to_vec() else {
        return Outcome::Drop;
    };
    if !udp || bytes.len() <= usize::from(limit) {
        return Outcome::Reply(bytes);
    }
    resp.additionals.clear();
    if let Ok(b) = resp.to_vec()
        && b.len() <= usize::from(limit)
    {
        return Outcome::Reply(b);
    }
    resp.metadata.truncation = true;
    let all = std::mem::take(&mut resp.answers);
    let (mut lo, mut hi) = (0usize, all.len());
    let mut best = None;
    while lo <= hi {
        let mid = (lo + hi) / 2;
        resp.answers = all[..mid].to_vec();
        match resp.to_vec() {
            Ok(b) if b.len() <= usize::from(limit) => {
                best = Some(b);
                lo = mid + 1;
            }
            _ if mid == 0 => break,
            _ => hi = mid - 1,
        }
    }
    best.map_or(Outcome::Drop, Outcome::Reply)
}
