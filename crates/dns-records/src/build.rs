//! Building a [`RecordSet`] from a [`Snapshot`]: every record kind of Mesos-DNS's zone
//! (task names raw and sanitised, canonical names, `slave.mesos` variants, SRV for host ports
//! and DiscoveryInfo ports, named ports, leader/master, frameworks, `ns1`) and of dcos-dns's
//! zone (`agentip`, `containerip`, `autoip`, `l4lb`, `leader.dcos`, `master.dcos`, the
//! `mesos.thisdcos.directory` mirror).

use crate::label::{canonical_hash, domain_frag, net_label, rfc952, rfc1123};
use crate::snapshot::{Agent, Snapshot, Task};
use core::net::IpAddr;
use std::collections::{BTreeMap, HashMap};

/// The dcos-dns zone.
pub const DCOS_ZONE: &str = "thisdcos.directory.";

/// How records are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The Mesos-DNS zone, without trailing dot (`mesos`).
    pub domain: String,
    /// TTL of the Mesos-DNS zone's answers (60).
    pub ttl: u32,
    /// TTL of the dcos-dns zone's answers (5).
    pub dcos_ttl: u32,
    /// RFC 952 labels (24 characters, no leading digit) instead of RFC 1123.
    pub enforce_rfc952: bool,
    /// Hide tasks that have health checks and no healthy verdict yet (or an unhealthy one).
    pub hide_unhealthy: bool,
    pub soa_serial: u32,
    /// The weight of every SRV record (priority is always 0).
    pub srv_weight: u16,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            domain: "mesos".into(),
            ttl: 60,
            dcos_ttl: 5,
            enforce_rfc952: false,
            hide_unhealthy: false,
            soa_serial: 1,
            srv_weight: 1,
        }
    }
}

/// An SRV record's data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Srv {
    pub target: String,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
}

/// A zone's SOA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minttl: u32,
}

/// A zone Keel answers for, with its TTL and SOA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub origin: String,
    pub ttl: u32,
    pub soa: Soa,
    /// Its name server (`ns1.mesos.`).
    pub ns: String,
}

/// The records of one task, for `/v1/enumerate`: (name, host, rtype).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEntry {
    pub framework: String,
    pub name: String,
    pub id: String,
    pub records: Vec<(String, String, &'static str)>,
}

/// Every record, by lower-case FQDN (with trailing dot).
#[derive(Debug, Clone, Default)]
pub struct RecordSet {
    pub zones: Vec<Zone>,
    pub a: HashMap<String, Vec<IpAddr>>,
    pub srv: HashMap<String, Vec<Srv>>,
    /// Per task, in snapshot order, for enumeration.
    pub tasks: Vec<TaskEntry>,
    /// Frameworks' names in snapshot order (with tasks or not), for enumeration.
    pub frameworks: Vec<String>,
    pub domain: String,
    pub ttl: u32,
}

struct Builder<'a> {
    set: RecordSet,
    opts: &'a Options,
    /// `.mesos.` with its leading dot.
    tail: String,
}

impl RecordSet {
    /// Computes every record of `snap`.
    pub fn build(snap: &Snapshot, opts: &Options) -> RecordSet {
        let domain = opts.domain.trim_end_matches('.').to_ascii_lowercase();
        let mut b = Builder {
            set: RecordSet {
                zones: zones(&domain, opts),
                domain: domain.clone(),
                ttl: opts.ttl,
                ..RecordSet::default()
            },
            opts,
            tail: format!(".{domain}."),
        };
        b.masters(snap);
        b.agents(snap);
        b.frameworks(snap);
        let agents: BTreeMap<&str, &Agent> =
            snap.agents.iter().map(|a| (a.id.as_str(), a)).collect();
        for t in &snap.tasks {
            if let Some(agent) = agents.get(t.agent_id.as_str())
                && b.publishes(t)
            {
                b.task(t, agent);
                b.dcos_task(t, agent);
            }
        }
        b.vips(snap);
        b.mirror();
        b.set
    }

    /// Names in the zone (A names and SRV names), sorted: for AXFR-like listings.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = (self.a.keys().chain(self.srv.keys()))
            .map(String::as_str)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

fn zones(domain: &str, opts: &Options) -> Vec<Zone> {
    let soa = |origin: &str| Soa {
        mname: format!("ns1.{origin}"),
        rname: format!("root.ns1.{origin}"),
        serial: opts.soa_serial,
        refresh: 60,
        retry: 600,
        expire: 86400,
        minttl: 60,
    };
    let mesos = format!("{domain}.");
    vec![
        Zone {
            soa: soa(&mesos),
            ns: format!("ns1.{mesos}"),
            origin: mesos,
            ttl: opts.ttl,
        },
        Zone {
            soa: soa(DCOS_ZONE),
            ns: format!("ns1.{DCOS_ZONE}"),
            origin: DCOS_ZONE.into(),
            ttl: opts.dcos_ttl,
        },
    ]
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

impl Builder<'_> {
    fn a(&mut self, name: &str, ip: IpAddr) {
        push_unique(self.set.a.entry(name.to_ascii_lowercase()).or_default(), ip);
    }

    fn srv(&mut self, name: &str, target: &str, port: u16) {
        let srv = Srv {
            target: target.to_ascii_lowercase(),
            port,
            priority: 0,
            weight: self.opts.srv_weight,
        };
        push_unique(self.set.srv.entry(name.to_ascii_lowercase()).or_default(), srv);
    }

    fn label(&self, s: &str) -> String {
        if self.opts.enforce_rfc952 {
            rfc952(s)
        } else {
            rfc1123(s)
        }
    }

    fn frag(&self, s: &str) -> String {
        domain_frag(s, if self.opts.enforce_rfc952 { rfc952 } else { rfc1123 })
    }

    fn publishes(&self, t: &Task) -> bool {
        t.running && !(self.opts.hide_unhealthy && t.has_health_checks && t.healthy != Some(true))
    }

    fn masters(&mut self, snap: &Snapshot) {
        let tail = self.tail.clone();
        if let Some(l) = snap.leader {
            self.a(&format!("leader{tail}"), l.ip);
            self.a(&format!("master{tail}"), l.ip);
            for proto in ["tcp", "udp"] {
                self.srv(&format!("_leader._{proto}{tail}"), &format!("leader{tail}"), l.port);
            }
            self.a(&format!("leader.dcos.{DCOS_ZONE}"), l.ip);
            self.a(&format!("master.dcos.{DCOS_ZONE}"), l.ip);
        }
        for (i, ip) in snap.masters.iter().enumerate() {
            self.a(&format!("master{tail}"), *ip);
            self.a(&format!("master{i}{tail}"), *ip);
            self.a(&format!("master.dcos.{DCOS_ZONE}"), *ip);
        }
        for ip in &snap.dns_ips {
            self.a(&format!("ns1{tail}"), *ip);
            self.a(&format!("ns1.{DCOS_ZONE}"), *ip);
        }
    }

    fn agents(&mut self, snap: &Snapshot) {
        let tail = self.tail.clone();
        for agent in &snap.agents {
            if let Some(ip) = agent.ip {
                self.a(&format!("slave{tail}"), ip);
                self.srv(&format!("_slave._tcp{tail}"), &format!("slave{tail}"), agent.port);
            }
        }
    }

    fn frameworks(&mut self, snap: &Snapshot) {
        let tail = self.tail.clone();
        for fw in &snap.frameworks {
            let name = self.frag(&fw.name);
            push_unique(&mut self.set.frameworks, name.clone());
            if name.is_empty() {
                continue;
            }
            if let Some(ip) = fw.ip {
                self.a(&format!("{name}{tail}"), ip);
            }
            if let (Some(port), Some(_)) = (fw.pid_port, fw.ip) {
                self.srv(&format!("_framework._tcp.{name}{tail}"), &format!("{name}{tail}"), port);
            }
        }
    }

    /// The Mesos-DNS records of one running task: under its sanitised task name and, when it
    /// has a DiscoveryInfo name, under that name too.
    fn task(&mut self, t: &Task, agent: &Agent) {
        let fw = self.frag(&t.framework);
        if fw.is_empty() {
            return;
        }
        let mut labels = vec![self.label(&t.name)];
        if !t.discovery_name.is_empty() {
            push_unique(&mut labels, self.frag(&t.discovery_name));
        }
        let mut entry = TaskEntry {
            framework: fw.clone(),
            name: t.name.clone(),
            id: t.id.clone(),
            records: Vec::new(),
        };
        for label in labels.into_iter().filter(|l| !l.is_empty()) {
            self.task_context(t, agent, &fw, &label, &mut entry);
        }
        self.set.tasks.push(entry);
    }

    fn task_context(&mut self, t: &Task, agent: &Agent, fw: &str, label: &str, e: &mut TaskEntry) {
        let tail = self.tail.clone();
        let tail_slave = format!(".{fw}.slave{tail}");
        let tail_fw = format!(".{fw}{tail}");
        let agent_tail = agent.id.rsplit('-').next().unwrap_or("").to_ascii_lowercase();
        let canonical = format!("{label}-{}-{agent_tail}", canonical_hash(&t.id));
        let task_ips: Vec<IpAddr> = if t.container_ips.is_empty() {
            agent.ip.into_iter().collect()
        } else {
            t.container_ips.clone()
        };
        let mut add_a = |b: &mut Self, name: String, ips: &[IpAddr]| {
            for ip in ips {
                b.a(&name, *ip);
                e.records.push((name.clone(), ip.to_string(), rtype(ip)));
            }
        };
        add_a(self, format!("{label}{tail_fw}"), &task_ips);
        add_a(self, format!("{canonical}{tail_fw}"), &task_ips);
        let agent_ips: Vec<IpAddr> = agent.ip.into_iter().collect();
        add_a(self, format!("{label}{tail_slave}"), &agent_ips);
        add_a(self, format!("{canonical}{tail_slave}"), &agent_ips);

        let slave_target = format!("{canonical}{tail_slave}");
        let has_discovery = !t.discovery_name.is_empty();
        let mut add_srv = |b: &mut Self, name: String, target: &str, port: u16| {
            b.srv(&name, target, port);
            e.records.push((name, format!("{target}:{port}"), "SRV"));
        };
        for &port in &t.host_ports {
            for proto in ["tcp", "udp"] {
                let name = format!("_{label}._{proto}");
                add_srv(self, format!("{name}{tail_slave}"), &slave_target, port);
                if !has_discovery {
                    add_srv(self, format!("{name}{tail_fw}"), &slave_target, port);
                }
            }
        }
        if !has_discovery {
            return;
        }
        let target = format!("{canonical}{tail_fw}");
        for p in &t.discovery_ports {
            let protos: &[&str] = match p.protocol.to_ascii_lowercase().as_str() {
                "" => &["tcp", "udp"],
                "tcp" => &["tcp"],
                "udp" => &["udp"],
                _ => &[],
            };
            for proto in protos {
                add_srv(self, format!("_{label}._{proto}{tail_fw}"), &target, p.number);
                let pname = self.label(&p.name);
                if !pname.is_empty() {
                    let name = format!("_{pname}._{label}._{proto}{tail_fw}");
                    add_srv(self, name, &target, p.number);
                }
            }
        }
    }

    /// dcos-dns's names for one running task.
    fn dcos_task(&mut self, t: &Task, agent: &Agent) {
        let name = if t.discovery_name.is_empty() { &t.name } else { &t.discovery_name };
        let (task, fw) = (net_label(name), net_label(&t.framework));
        if task.is_empty() || fw.is_empty() {
            return;
        }
        let base = format!("{task}.{fw}");
        if let Some(ip) = agent.ip {
            self.a(&format!("{base}.agentip.dcos.{DCOS_ZONE}"), ip);
        }
        for ip in &t.container_ips {
            self.a(&format!("{base}.containerip.dcos.{DCOS_ZONE}"), *ip);
        }
        let host_mapped = !t.host_ports.is_empty() || t.discovery_ports.iter().any(|p| p.host_scope);
        let auto: Vec<IpAddr> = if host_mapped || t.container_ips.is_empty() {
            agent.ip.into_iter().collect()
        } else {
            t.container_ips.clone()
        };
        for ip in auto {
            self.a(&format!("{base}.autoip.dcos.{DCOS_ZONE}"), ip);
        }
    }

    fn vips(&mut self, snap: &Snapshot) {
        for v in &snap.vips {
            let (name, fw) = (net_label(&v.name), net_label(&v.framework));
            if !name.is_empty() && !fw.is_empty() {
                self.a(&format!("{name}.{fw}.l4lb.{DCOS_ZONE}"), v.ip);
            }
        }
    }

    /// `<name>.mesos.thisdcos.directory`: every Mesos-DNS name again under the dcos zone.
    fn mirror(&mut self) {
        let tail = self.tail.clone();
        let to = format!("{}.{DCOS_ZONE}", self.set.domain);
        let re = |n: &str| format!("{}{}", &n[..n.len() - tail.len() + 1], to);
        let a: Vec<(String, Vec<IpAddr>)> = (self.set.a.iter())
            .filter(|(n, _)| n.ends_with(&tail))
            .map(|(n, ips)| (re(n), ips.clone()))
            .collect();
        let srv: Vec<(String, Vec<Srv>)> = (self.set.srv.iter())
            .filter(|(n, _)| n.ends_with(&tail))
            .map(|(n, v)| {
                let v = (v.iter())
                    .map(|s| Srv {
                        target: if s.target.ends_with(&tail) { re(&s.target) } else { s.target.clone() },
                        ..s.clone()
                    })
                    .collect();
                (re(n), v)
            })
            .collect();
        self.set.a.extend(a);
        self.set.srv.extend(srv);
    }
}

fn rtype(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() { "A" } else { "AAAA" }
}
