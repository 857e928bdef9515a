//! The fast path of [`crate::answer`]: a plain A/AAAA/SRV query for a name that has records
//! of that type is answered straight from the request bytes, without building hickory
//! messages (no per-query allocation but the reply). Anything else (other types, NODATA,
//! NXDOMAIN, forwarding, odd names or EDNS options, a reply that would need truncation)
//! returns `None` and takes the general path, which gives the same answer.

use crate::answer::{MAX_UDP_PAYLOAD, rotate};
use keel_dns_records::{Lookup, RecordSet, Rrs};

const T_A: u16 = 1;
const T_AAAA: u16 = 28;
const T_SRV: u16 = 33;
const T_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// Answers with more records than this take the general path.
const MAX_RECORDS: usize = 64;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The reply to `packet` if it is a plain query the fast path covers.
pub(crate) fn answer_fast(set: &RecordSet, packet: &[u8], udp: bool, salt: u64) -> Option<Vec<u8>> {
    let flags = *packet.get(2)?;
    // A query (QR 0) with opcode QUERY; one question, no answers or authority.
    if flags & 0xF8 != 0 || be16(packet, 4)? != 1 || be16(packet, 6)? != 0 || be16(packet, 8)? != 0
    {
        return None;
    }
    let arcount = be16(packet, 10)?;
    // The question's name, lower-cased into `name` with dots and the trailing dot.
    let mut name = [0u8; 256];
    let mut len = 0usize;
    let mut at = 12usize;
    loop {
        let l = usize::from(*packet.get(at)?);
        at += 1;
        if l == 0 {
            break;
        }
        if l > 63 || len + l + 1 > 254 {
            return None;
        }
        let label = packet.get(at..at + l)?;
        for (d, s) in name[len..len + l].iter_mut().zip(label) {
            if !(s.is_ascii_alphanumeric() || *s == b'-' || *s == b'_') {
                return None;
            }
            *d = s.to_ascii_lowercase();
        }
        name[len + l] = b'.';
        len += l + 1;
        at += l;
    }
    if len == 0 {
        return None;
    }
    let qtype = be16(packet, at)?;
    let qclass = be16(packet, at + 2)?;
    let question = packet.get(12..at + 4)?;
    at += 4;
    if qclass != CLASS_IN {
        return None;
    }
    let limit = match arcount {
        0 => 512,
        1 => {
            // Only a bare OPT record: root name, version 0, no options.
            if *packet.get(at)? != 0
                || be16(packet, at + 1)? != T_OPT
                || *packet.get(at + 6)? != 0
                || be16(packet, at + 9)? != 0
                || packet.len() != at + 11
            {
                return None;
            }
            be16(packet, at + 3)?.clamp(512, MAX_UDP_PAYLOAD)
        }
        _ => return None,
    };
    if arcount == 0 && packet.len() != at {
        return None;
    }
    let name = core::str::from_utf8(&name[..len]).ok()?;
    let Lookup::Found(zone, rrs) = set.lookup(name) else {
        return None;
    };
    let ttl = rrs.ttl.max(1).min(zone.ttl.max(1));
    let n = match qtype {
        T_A => rrs.a.len(),
        T_AAAA => rrs.aaaa.len(),
        T_SRV => rrs.srv.len(),
        _ => return None,
    };
    if n == 0 || n > MAX_RECORDS {
        return None;
    }
    let mut order = [0u8; MAX_RECORDS];
    for (i, o) in order.iter_mut().enumerate().take(n) {
        *o = u8::try_from(i).ok()?;
    }
    rotate(&mut order[..n], salt);

    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&packet[..2]);
    // QR, AA, RD copied; RA, NOERROR.
    out.push(0x84 | (flags & 0x01));
    out.push(0x80);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&u16::try_from(n).ok()?.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // NSCOUNT, ARCOUNT (set below)
    out.extend_from_slice(question);
    let owner = |out: &mut Vec<u8>, rtype: u16, ttl: u32, rdlen: u16| {
        out.extend_from_slice(&[0xC0, 0x0C]);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&rdlen.to_be_bytes());
    };
    let mut additional = 0u16;
    match qtype {
        T_A => {
            for &i in &order[..n] {
                owner(&mut out, T_A, ttl, 4);
                out.extend_from_slice(&rrs.a[usize::from(i)].octets());
            }
        }
        T_AAAA => {
            for &i in &order[..n] {
                owner(&mut out, T_AAAA, ttl, 16);
                out.extend_from_slice(&rrs.aaaa[usize::from(i)].octets());
            }
        }
        _ => {
            for &i in &order[..n] {
                let s = &rrs.srv[usize::from(i)];
                let start = out.len();
                owner(&mut out, T_SRV, ttl, 0);
                out.extend_from_slice(&s.priority.to_be_bytes());
                out.extend_from_slice(&s.weight.to_be_bytes());
                out.extend_from_slice(&s.port.to_be_bytes());
                encode_name(&mut out, &s.target)?;
                let rdlen = u16::try_from(out.len() - start - 12).ok()?;
                out[start + 10..start + 12].copy_from_slice(&rdlen.to_be_bytes());
            }
            // The targets' addresses, each target once, in name order.
            let mut targets = [0u8; MAX_RECORDS];
            targets[..n].copy_from_slice(&order[..n]);
            let targets = &mut targets[..n];
            targets.sort_unstable_by(|x, y| {
                let (x, y) = (&rrs.srv[usize::from(*x)], &rrs.srv[usize::from(*y)]);
                x.target.cmp(&y.target)
            });
            let mut last: Option<&str> = None;
            for &i in targets.iter() {
                let t = rrs.srv[usize::from(i)].target.as_str();
                if last == Some(t) {
                    continue;
                }
                last = Some(t);
                if let Some(r) = set.get(t) {
                    additional += addresses(&mut out, t, r)?;
                }
            }
        }
    }
    if arcount == 1 {
        // Our OPT record: root, payload size, version 0, no flags, no options.
        out.push(0);
        out.extend_from_slice(&T_OPT.to_be_bytes());
        out.extend_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        additional += 1;
    }
    out[10..12].copy_from_slice(&additional.to_be_bytes());
    if udp && out.len() > usize::from(limit) {
        return None;
    }
    if out.len() > usize::from(u16::MAX) {
        return None;
    }
    Some(out)
}

/// Appends the A then AAAA records of SRV target `name`; returns how many.
fn addresses(out: &mut Vec<u8>, name: &str, r: &Rrs) -> Option<u16> {
    let ttl = r.ttl.max(1).to_be_bytes();
    let mut count = 0u16;
    let mut head = |out: &mut Vec<u8>, rtype: u16, rdlen: u16| -> Option<()> {
        encode_name(out, name)?;
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl);
        out.extend_from_slice(&rdlen.to_be_bytes());
        count = count.checked_add(1)?;
        Some(())
    };
    for ip in &r.a {
        head(out, T_A, 4)?;
        out.extend_from_slice(&ip.octets());
    }
    for ip in &r.aaaa {
        head(out, T_AAAA, 16)?;
        out.extend_from_slice(&ip.octets());
    }
    Some(count)
}

/// Appends `name` (dotted, the trailing dot optional) in wire form, uncompressed; `None` for
/// a name the general path should judge (empty labels, escapes, odd bytes, too long).
fn encode_name(out: &mut Vec<u8>, name: &str) -> Option<()> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    for label in name.split('.') {
        let b = label.as_bytes();
        if b.is_empty()
            || b.len() > 63
            || !b
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        {
            return None;
        }
        out.push(u8::try_from(b.len()).ok()?);
        out.extend_from_slice(b);
    }
    out.push(0);
    Some(())
}
