//! The record set: every name of the Mesos-DNS zone (`mesos.`) and the dcos-dns zone
//! (`thisdcos.directory.`) computed from a [`Snapshot`], and the lookup decision
//! (answer, NODATA, NXDOMAIN or not ours).

use crate::names::{canonical, dcos_label, domain_frag, spec_label, vip_label};
use crate::snapshot::{Snapshot, TaskEntry, ZoneConfig};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::{BTreeMap, HashMap};

/// The dcos-dns zone.
pub const DCOS_ZONE: &str = "thisdcos.directory.";

/// An SRV target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Srv {
    pub target: String,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
}

/// The records of one name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rrs {
    pub a: Vec<Ipv4Addr>,
    pub aaaa: Vec<Ipv6Addr>,
    pub srv: Vec<Srv>,
    pub ttl: u32,
}

impl Rrs {
    fn add_ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => self.a.push(v4),
            IpAddr::V6(v6) => self.aaaa.push(v6),
        }
    }

    fn dedup(&mut self) {
        self.a.sort_unstable();
        self.a.dedup();
        self.aaaa.sort_unstable();
        self.aaaa.dedup();
        self.srv.sort_unstable();
        self.srv.dedup();
    }
}

/// A zone the server is authoritative for, with its SOA fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// FQDN with the trailing dot: `mesos.`.
    pub apex: String,
    pub ttl: u32,
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minttl: u32,
}

/// One record as the enumerate API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumRecord {
    pub name: String,
    pub host: String,
    pub rtype: &'static str,
}

/// A task and its records, for the enumerate API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumTask {
    pub name: String,
    pub id: String,
    pub records: Vec<EnumRecord>,
}

/// What a lookup of (name, type) decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The name exists: these are its records (the type may have none: NODATA).
    Found(&'a Zone, &'a Rrs),
    /// The name is in one of our zones but has no records: NXDOMAIN.
    NxDomain(&'a Zone),
    /// Not ours: forward it.
    Outside,
}

/// Every record, by lower-case FQDN (trailing dot).
#[derive(Debug, Clone, Default)]
pub struct RecordSet {
    names: HashMap<String, Rrs>,
    zones: Vec<Zone>,
    /// Per framework, its tasks and their records (the Mesos-DNS zone only).
    enumerate: BTreeMap<String, Vec<EnumTask>>,
}

impl RecordSet {
    /// Computes the record set of `snap`. `serial` is the SOA serial (the caller bumps it
    /// per rebuild; Mesos-DNS starts from the Unix time).
    pub fn build(snap: &Snapshot, cfg: &ZoneConfig, serial: u32) -> RecordSet {
        let mut b = Builder {
            cfg,
            snap,
            d: cfg.domain.trim_matches('.').to_lowercase(),
            set: RecordSet::default(),
        };
        b.zones(serial);
        b.cluster();
        for t in &snap.tasks {
            if b.visible(t) {
                b.task(t);
                b.dcos_task(t);
            }
        }
        b.vips();
        b.mirror();
        for rrs in b.set.names.values_mut() {
            rrs.dedup();
        }
        b.set
    }

    /// The records of `name` (lower case, trailing dot), or what to answer instead.
    pub fn lookup(&self, name: &str) -> Lookup<'_> {
        let Some(zone) = self.zone_of(name) else {
            return Lookup::Outside;
        };
        match self.names.get(name) {
            Some(rrs) => Lookup::Found(zone, rrs),
            None if name == zone.apex => Lookup::Found(zone, &EMPTY),
            None => Lookup::NxDomain(zone),
        }
    }

    /// The zone `name` falls in, if it is one of ours.
    pub fn zone_of(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| in_zone(name, &z.apex))
    }

    /// The zones (Mesos-DNS first).
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The records of one name, if it has any.
    pub fn get(&self, name: &str) -> Option<&Rrs> {
        self.names.get(name)
    }

    /// Every name with its records.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Rrs)> {
        self.names.iter()
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no names.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Per framework name, its tasks and their records (Mesos-DNS's `/v1/enumerate`).
    pub fn enumerate(&self) -> &BTreeMap<String, Vec<EnumTask>> {
        &self.enumerate
    }

    /// The SRV records of `name` (lower case, trailing dot) with their targets' IPv4
    /// addresses, one entry per (record, address), as Mesos-DNS's `/v1/services/{name}`
    /// lists them; targets without an A record are left out.
    pub fn services(&self, name: &str) -> Vec<ServiceTarget> {
        let srv = self.get(name).map(|r| r.srv.as_slice()).unwrap_or_default();
        srv.iter()
            .flat_map(|s| {
                let ips = self
                    .get(&s.target)
                    .map(|t| t.a.as_slice())
                    .unwrap_or_default();
                ips.iter().map(|ip| ServiceTarget {
                    host: s.target.clone(),
                    ip: IpAddr::V4(*ip),
                    port: s.port,
                })
            })
            .collect()
    }
}

/// One SRV record's target resolved to an address ([`RecordSet::services`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTarget {
    /// The SRV target (FQDN, trailing dot).
    pub host: String,
    pub ip: IpAddr,
    pub port: u16,
}

static EMPTY: Rrs = Rrs {
    a: Vec::new(),
    aaaa: Vec::new(),
    srv: Vec::new(),
    ttl: 0,
};

/// Whether `name` is `apex` or below it (both lower case with the trailing dot).
pub fn in_zone(name: &str, apex: &str) -> bool {
    name == apex
        || (name.len() > apex.len()
            && name.ends_with(apex)
            && name.as_bytes()[name.len() - apex.len() - 1] == b'.')
}

struct Builder<'a> {
    cfg: &'a ZoneConfig,
    snap: &'a Snapshot,
    d: String,
    set: RecordSet,
}

impl Builder<'_> {
    fn zones(&mut self, serial: u32) {
        let c = self.cfg;
        let fq = |s: &str| format!("{}.", s.trim_end_matches('.').to_lowercase());
        let zone = |apex: String, ttl: u32| Zone {
            apex,
            ttl,
            mname: fq(&c.soa_mname),
            rname: fq(&c.soa_rname),
            serial,
            refresh: c.soa_refresh,
            retry: c.soa_retry,
            expire: c.soa_expire,
            minttl: c.soa_minttl,
        };
        self.set.zones = vec![
            zone(format!("{}.", self.d), c.ttl),
            zone(DCOS_ZONE.into(), c.dcos_ttl),
        ];
    }

    fn rrs(&mut self, name: String, ttl: u32) -> &mut Rrs {
        let r = self.set.names.entry(name).or_default();
        r.ttl = ttl;
        r
    }

    fn a(&mut self, name: String, ip: IpAddr) {
        let ttl = self.ttl_of(&name);
        self.rrs(name, ttl).add_ip(ip);
    }

    fn srv(&mut self, name: String, target: String, port: u16) {
        let ttl = self.ttl_of(&name);
        let weight = self.cfg.srv_weight;
        self.rrs(name, ttl).srv.push(Srv {
            target,
            port,
            priority: 0,
            weight,
        });
    }

    fn ttl_of(&self, name: &str) -> u32 {
        if in_zone(name, DCOS_ZONE) {
            self.cfg.dcos_ttl
        } else {
            self.cfg.ttl
        }
    }

    fn visible(&self, t: &TaskEntry) -> bool {
        t.running
            && self.agent_ip(&t.agent_id).is_some()
            && !(self.cfg.hide_unhealthy && t.has_health_checks && t.healthy != Some(true))
    }

    fn agent_ip(&self, id: &str) -> Option<IpAddr> {
        self.snap
            .agents
            .iter()
            .find(|a| a.id == id)
            .and_then(|a| a.ip)
    }

    /// Leader, masters, agents, frameworks, `ns1`.
    fn cluster(&mut self) {
        let d = self.d.clone();
        let snap = self.snap;
        if let Some(l) = snap.leader {
            self.a(format!("leader.{d}."), l.ip);
            self.a(format!("master.{d}."), l.ip);
            self.a(format!("master0.{d}."), l.ip);
            for p in ["tcp", "udp"] {
                self.srv(format!("_leader._{p}.{d}."), format!("leader.{d}."), l.port);
            }
            self.a(format!("leader.dcos.{DCOS_ZONE}"), l.ip);
        }
        let others = snap
            .masters
            .iter()
            .filter(|m| snap.leader.map(|l| l.ip) != Some(**m));
        for (i, ip) in others.enumerate() {
            self.a(format!("master.{d}."), *ip);
            self.a(format!("master{}.{d}.", i + 1), *ip);
        }
        for ip in snap
            .leader
            .map(|l| l.ip)
            .into_iter()
            .chain(snap.masters.iter().copied())
        {
            self.a(format!("master.dcos.{DCOS_ZONE}"), ip);
        }
        for a in &snap.agents {
            if let Some(ip) = a.ip {
                self.a(format!("slave.{d}."), ip);
                self.srv(format!("_slave._tcp.{d}."), format!("slave.{d}."), a.port);
            }
        }
        for f in &snap.frameworks {
            let fw = domain_frag(&f.name, self.cfg.enforce_rfc952);
            if fw.is_empty() {
                continue;
            }
            if let Some(ip) = f.ip {
                self.a(format!("{fw}.{d}."), ip);
                if let Some(port) = f.port {
                    self.srv(
                        format!("_framework._tcp.{fw}.{d}."),
                        format!("{fw}.{d}."),
                        port,
                    );
                }
            }
        }
        let mname = format!(
            "{}.",
            self.cfg.soa_mname.trim_end_matches('.').to_lowercase()
        );
        for ip in &snap.dns_ips {
            self.a(mname.clone(), *ip);
        }
    }

    /// The task's labels: its sanitised name, and its DiscoveryInfo name's domain fragment
    /// (raw, dots kept) when it has one that differs. Marathon sets the task name to the
    /// DiscoveryInfo name (`app.group`); Keel's Marathon names tasks by the app's last
    /// segment, so the DiscoveryInfo name stands for the task name when there is one.
    fn labels(&self, t: &TaskEntry) -> Vec<String> {
        let rfc952 = self.cfg.enforce_rfc952;
        let dname = t
            .discovery
            .as_ref()
            .map(|d| d.name.as_str())
            .filter(|n| !n.is_empty());
        let mut v = vec![spec_label(dname.unwrap_or(&t.name), rfc952)];
        if let Some(dn) = dname.map(|n| domain_frag(n, rfc952))
            && !dn.is_empty()
            && !v.contains(&dn)
        {
            v.push(dn);
        }
        v.retain(|l| !l.is_empty());
        v
    }

    /// The Mesos-DNS records of one running task (§6.4).
    fn task(&mut self, t: &TaskEntry) {
        let Some(agent_ip) = self.agent_ip(&t.agent_id) else {
            return;
        };
        let d = self.d.clone();
        let fw = domain_frag(&t.framework, self.cfg.enforce_rfc952);
        if fw.is_empty() {
            return;
        }
        let task_ips = if t.container_ips.is_empty() {
            vec![agent_ip]
        } else {
            t.container_ips.clone()
        };
        let mut recs = Vec::new();
        for label in self.labels(t) {
            let canon = canonical(&label, &t.id, &t.agent_id);
            for host in [&label, &canon] {
                for ip in &task_ips {
                    recs.push(self.rec_a(format!("{host}.{fw}.{d}."), *ip));
                }
                recs.push(self.rec_a(format!("{host}.{fw}.slave.{d}."), agent_ip));
            }
            let slave_target = format!("{canon}.{fw}.slave.{d}.");
            for port in &t.host_ports {
                for p in ["tcp", "udp"] {
                    let n = format!("_{label}._{p}.{fw}.slave.{d}.");
                    recs.push(self.rec_srv(n.clone(), slave_target.clone(), *port));
                    if t.discovery.is_none() {
                        let n = format!("_{label}._{p}.{fw}.{d}.");
                        recs.push(self.rec_srv(n, slave_target.clone(), *port));
                    }
                }
            }
            let target = format!("{canon}.{fw}.{d}.");
            for port in t.discovery.iter().flat_map(|x| x.ports.iter()) {
                let Ok(number) = u16::try_from(port.number) else {
                    continue;
                };
                let protos: &[&str] = match port.protocol.to_lowercase().as_str() {
                    "" => &["tcp", "udp"],
                    "tcp" => &["tcp"],
                    "udp" => &["udp"],
                    _ => &[],
                };
                let pname = spec_label(&port.name, self.cfg.enforce_rfc952);
                for p in protos {
                    let n = format!("_{label}._{p}.{fw}.{d}.");
                    recs.push(self.rec_srv(n, target.clone(), number));
                    if !pname.is_empty() {
                        let n = format!("_{pname}._{label}._{p}.{fw}.{d}.");
                        recs.push(self.rec_srv(n, target.clone(), number));
                    }
                }
            }
        }
        self.set
            .enumerate
            .entry(t.framework.clone())
            .or_default()
            .push(EnumTask {
                name: t.name.clone(),
                id: t.id.clone(),
                records: recs,
            });
    }

    fn rec_a(&mut self, name: String, ip: IpAddr) -> EnumRecord {
        let rtype = if ip.is_ipv4() { "A" } else { "AAAA" };
        self.a(name.clone(), ip);
        EnumRecord {
            name,
            host: ip.to_string(),
            rtype,
        }
    }

    fn rec_srv(&mut self, name: String, target: String, port: u16) -> EnumRecord {
        self.srv(name.clone(), target.clone(), port);
        EnumRecord {
            name,
            host: format!("{target}:{port}"),
            rtype: "SRV",
        }
    }

    /// The dcos-dns records of one running task (§7.1).
    fn dcos_task(&mut self, t: &TaskEntry) {
        let Some(agent_ip) = self.agent_ip(&t.agent_id) else {
            return;
        };
        let raw = match &t.discovery {
            Some(x) if !x.name.is_empty() => x.name.as_str(),
            _ => t.name.as_str(),
        };
        let (task, fw) = (dcos_label(raw), dcos_label(&t.framework));
        if task.is_empty() || fw.is_empty() {
            return;
        }
        let base = |kind: &str| format!("{task}.{fw}.{kind}.dcos.{DCOS_ZONE}");
        self.a(base("agentip"), agent_ip);
        for ip in &t.container_ips {
            self.a(base("containerip"), *ip);
        }
        if !t.host_ports.is_empty() || t.container_ips.is_empty() {
            self.a(base("autoip"), agent_ip);
        } else {
            for ip in &t.container_ips {
                self.a(base("autoip"), *ip);
            }
        }
    }

    fn vips(&mut self) {
        for v in &self.snap.vips {
            let (name, fw) = (vip_label(&v.name), dcos_label(&v.framework));
            if !name.is_empty() && !fw.is_empty() {
                self.a(format!("{name}.{fw}.l4lb.{DCOS_ZONE}"), v.ip);
            }
        }
    }

    /// `<name>.mesos.thisdcos.directory`: the Mesos-DNS zone again, SRV targets rewritten.
    fn mirror(&mut self) {
        let apex = format!("{}.", self.d);
        let suffix = format!("mesos.{DCOS_ZONE}");
        let rename = |n: &str| -> Option<String> {
            in_zone(n, &apex).then(|| format!("{}{suffix}", &n[..n.len() - apex.len()]))
        };
        let ttl = self.cfg.dcos_ttl;
        let mirrored: Vec<(String, Rrs)> = (self.set.names.iter())
            .filter_map(|(n, r)| {
                let mut r = r.clone();
                r.ttl = ttl;
                for s in &mut r.srv {
                    if let Some(t) = rename(&s.target) {
                        s.target = t;
                    }
                }
                rename(n).map(|n| (n, r))
            })
            .collect();
        self.set.names.extend(mirrored);
    }
}
