//! Answering one question from a [`RecordSet`] as Mesos-DNS does: A/AAAA/SRV/SOA/NS/ANY,
//! SRV targets' addresses in the additional section, NXDOMAIN vs NODATA with the zone's SOA
//! in the authority section, answers rotated by a caller-given offset (load spreading).

use crate::build::{RecordSet, Soa, Srv, Zone};
use core::net::IpAddr;

/// A question's type, as far as the records care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QType {
    A,
    Aaaa,
    Srv,
    Soa,
    Ns,
    Any,
    /// Any other type: never has records here.
    Other,
}

/// What kind of answer it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// NOERROR (with answers, or an empty SOA/NS/SRV answer).
    NoError,
    /// NOERROR with no answer: the name has records of another type. SOA in authority.
    NoData,
    /// The name has no records at all. SOA in authority.
    NxDomain,
    /// Not in a zone Keel answers for: forward it.
    NotOurs,
}

/// One resource record of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr {
    pub name: String,
    pub ttl: u32,
    pub data: RrData,
}

/// Record data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RrData {
    Ip(IpAddr),
    Srv(Srv),
    Soa(Soa),
    Ns(String),
}

/// The sections of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    pub answers: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
}

impl Answer {
    fn new(outcome: Outcome) -> Answer {
        Answer {
            outcome,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }
}

fn rotated<T: Clone>(v: &[T], by: usize) -> impl Iterator<Item = T> + '_ {
    let k = if v.is_empty() { 0 } else { by % v.len() };
    v[k..].iter().chain(v[..k].iter()).cloned()
}

impl RecordSet {
    /// The zone `name` (lower-case FQDN with trailing dot) belongs to, longest match first.
    pub fn zone_of(&self, name: &str) -> Option<&Zone> {
        self.zones
            .iter()
            .filter(|z| name == z.origin || name.ends_with(&format!(".{}", z.origin)))
            .max_by_key(|z| z.origin.len())
    }

    /// Answers `qtype` for `name` (lower-case FQDN with trailing dot), rotating multiple
    /// answers by `rotate`.
    pub fn answer(&self, name: &str, qtype: QType, rotate: usize) -> Answer {
        let Some(zone) = self.zone_of(name) else {
            return Answer::new(Outcome::NotOurs);
        };
        let mut out = Answer::new(Outcome::NoError);
        let ttl = zone.ttl;
        let at_apex = name == zone.origin;
        let ip_rr = |ip: IpAddr, n: &str| Rr { name: n.to_string(), ttl, data: RrData::Ip(ip) };
        let ips = self.a.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let want_ip = |ip: &IpAddr| match qtype {
            QType::A => ip.is_ipv4(),
            QType::Aaaa => ip.is_ipv6(),
            QType::Any => true,
            _ => false,
        };
        out.answers.extend(rotated(ips, rotate).filter(|ip| want_ip(ip)).map(|ip| ip_rr(ip, name)));
        if matches!(qtype, QType::Srv | QType::Any) {
            let srvs = self.srv.get(name).map(Vec::as_slice).unwrap_or(&[]);
            for s in rotated(srvs, rotate) {
                for ip in self.a.get(&s.target).into_iter().flatten() {
                    let rr = ip_rr(*ip, &s.target);
                    if !out.additional.contains(&rr) {
                        out.additional.push(rr);
                    }
                }
                out.answers.push(Rr { name: name.to_string(), ttl, data: RrData::Srv(s) });
            }
        }
        if at_apex && matches!(qtype, QType::Soa | QType::Any) {
            out.answers.push(soa_rr(zone));
        }
        if at_apex && matches!(qtype, QType::Ns | QType::Any) {
            out.answers.push(Rr { name: name.to_string(), ttl, data: RrData::Ns(zone.ns.clone()) });
            for ip in self.a.get(&zone.ns).into_iter().flatten() {
                out.additional.push(ip_rr(*ip, &zone.ns));
            }
        }
        if out.answers.is_empty() && matches!(qtype, QType::A | QType::Aaaa | QType::Any | QType::Other) {
            let exists = at_apex || !ips.is_empty() || self.srv.contains_key(name);
            out.outcome = if exists { Outcome::NoData } else { Outcome::NxDomain };
            out.authority.push(soa_rr(zone));
        }
        out
    }
}

fn soa_rr(zone: &Zone) -> Rr {
    Rr { name: zone.origin.clone(), ttl: zone.ttl, data: RrData::Soa(zone.soa.clone()) }
}
