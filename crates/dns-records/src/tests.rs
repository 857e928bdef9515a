//! Record kinds of the reference's §6.4 and §7.1, from one small cluster fixture.

use crate::*;
use core::net::{IpAddr, Ipv4Addr};
use keel_model::{Discovery, DiscoveryPort};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn task(id: &str, name: &str, agent: &str, ports: &[u16]) -> TaskEntry {
    TaskEntry {
        id: id.into(),
        name: name.into(),
        framework: "marathon".into(),
        agent_id: agent.into(),
        running: true,
        has_health_checks: false,
        healthy: None,
        host_ports: ports.to_vec(),
        container_ips: Vec::new(),
        discovery: None,
    }
}

fn discovery(name: &str, ports: &[(u32, &str, &str)]) -> Option<Discovery> {
    Some(Discovery {
        name: name.into(),
        ports: ports
            .iter()
            .map(|(n, name, proto)| DiscoveryPort {
                number: *n,
                name: (*name).into(),
                protocol: (*proto).into(),
                ..DiscoveryPort::default()
            })
            .collect(),
        ..Discovery::default()
    })
}

fn fixture() -> Snapshot {
    let mut web = task("web.1", "web", "c1-S0", &[31001]);
    web.discovery = discovery("web", &[(31001, "http", "tcp")]);
    let mut grouped = task("app.g.2", "app.group", "c1-S1", &[31002]);
    grouped.discovery = discovery("app.group", &[(31002, "", "")]);
    let plain = task("plain.3", "plain", "c1-S0", &[31003, 31004]);
    let mut bridged = task("db.4", "db", "c1-S1", &[]);
    bridged.container_ips = vec![ip("172.17.0.5")];
    let mut stopped = task("gone.5", "gone", "c1-S0", &[31005]);
    stopped.running = false;
    let mut unhealthy = task("sick.6", "sick", "c1-S0", &[]);
    unhealthy.has_health_checks = true;
    Snapshot {
        leader: Some(Endpoint {
            ip: ip("10.0.0.1"),
            port: 5050,
        }),
        masters: vec![ip("10.0.0.1"), ip("10.0.0.2")],
        agents: vec![
            AgentEntry {
                id: "c1-S0".into(),
                ip: Some(ip("10.0.1.1")),
                port: 5051,
            },
            AgentEntry {
                id: "c1-S1".into(),
                ip: Some(ip("10.0.1.2")),
                port: 5051,
            },
        ],
        frameworks: vec![FrameworkEntry {
            name: "marathon".into(),
            ip: Some(ip("10.0.0.1")),
            port: Some(8080),
        }],
        tasks: vec![web, grouped, plain, bridged, stopped, unhealthy],
        vips: vec![NamedVip {
            name: "/mygroup/myapp".into(),
            framework: "marathon".into(),
            ip: ip("11.0.0.1"),
        }],
        dns_ips: vec![ip("10.0.0.1")],
    }
}

fn set(cfg: &ZoneConfig) -> RecordSet {
    RecordSet::build(&fixture(), cfg, 7)
}

fn a(s: &RecordSet, name: &str) -> Vec<String> {
    s.get(name)
        .map(|r| r.a.iter().map(|x| x.to_string()).collect())
        .unwrap_or_default()
}

fn srv(s: &RecordSet, name: &str) -> Vec<String> {
    (s.get(name)
        .map(|r| r.srv.clone())
        .unwrap_or_default()
        .iter())
    .map(|x| format!("{} {} {} {}", x.priority, x.weight, x.port, x.target))
    .collect()
}

fn canon(label: &str, id: &str, agent: &str) -> String {
    canonical(label, id, agent)
}

#[test]
fn task_a_records_under_raw_sanitised_and_canonical_names() {
    let s = set(&ZoneConfig::default());
    let cases: &[(&str, &[&str])] = &[
        ("web.marathon.mesos.", &["10.0.1.1"]),
        ("app-group.marathon.mesos.", &["10.0.1.2"]),
        ("app.group.marathon.mesos.", &["10.0.1.2"]),
        ("db.marathon.mesos.", &["172.17.0.5"]),
        ("db.marathon.slave.mesos.", &["10.0.1.2"]),
        ("web.marathon.slave.mesos.", &["10.0.1.1"]),
        ("gone.marathon.mesos.", &[]),
        ("sick.marathon.mesos.", &["10.0.1.1"]),
    ];
    for (name, want) in cases {
        assert_eq!(a(&s, name), *want, "{name}");
    }
    let c = canon("web", "web.1", "c1-S0");
    assert_eq!(a(&s, &format!("{c}.marathon.mesos.")), ["10.0.1.1"]);
    assert_eq!(a(&s, &format!("{c}.marathon.slave.mesos.")), ["10.0.1.1"]);
    assert!(c.starts_with("web-") && c.ends_with("-s0"), "{c}");
}

#[test]
fn srv_records_for_host_ports_and_discovery_ports() {
    let s = set(&ZoneConfig::default());
    let web = canon("web", "web.1", "c1-S0");
    let plain = canon("plain", "plain.3", "c1-S0");
    let grouped = canon("app.group", "app.g.2", "c1-S1");
    let cases: Vec<(String, Vec<String>)> = vec![
        // DiscoveryInfo port: target in the task zone, only the port's protocol.
        (
            "_web._tcp.marathon.mesos.".into(),
            vec![format!("0 1 31001 {web}.marathon.mesos.")],
        ),
        ("_web._udp.marathon.mesos.".into(), vec![]),
        // Named port.
        (
            "_http._web._tcp.marathon.mesos.".into(),
            vec![format!("0 1 31001 {web}.marathon.mesos.")],
        ),
        // slave.mesos variant of the host port, both protocols.
        (
            "_web._udp.marathon.slave.mesos.".into(),
            vec![format!("0 1 31001 {web}.marathon.slave.mesos.")],
        ),
        // No DiscoveryInfo: host ports in the task zone, target in slave.mesos.
        (
            "_plain._tcp.marathon.mesos.".into(),
            vec![
                format!("0 1 31003 {plain}.marathon.slave.mesos."),
                format!("0 1 31004 {plain}.marathon.slave.mesos."),
            ],
        ),
        // Discovery port without protocol: tcp and udp.
        (
            "_app.group._udp.marathon.mesos.".into(),
            vec![format!("0 1 31002 {grouped}.marathon.mesos.")],
        ),
        // Cluster SRVs.
        (
            "_leader._tcp.mesos.".into(),
            vec!["0 1 5050 leader.mesos.".into()],
        ),
        (
            "_leader._udp.mesos.".into(),
            vec!["0 1 5050 leader.mesos.".into()],
        ),
        (
            "_slave._tcp.mesos.".into(),
            vec!["0 1 5051 slave.mesos.".into()],
        ),
        (
            "_framework._tcp.marathon.mesos.".into(),
            vec!["0 1 8080 marathon.mesos.".into()],
        ),
    ];
    for (name, want) in cases {
        assert_eq!(srv(&s, &name), want, "{name}");
    }
}

#[test]
fn cluster_names() {
    let s = set(&ZoneConfig::default());
    let cases: &[(&str, &[&str])] = &[
        ("leader.mesos.", &["10.0.0.1"]),
        ("master.mesos.", &["10.0.0.1", "10.0.0.2"]),
        ("master0.mesos.", &["10.0.0.1"]),
        ("master1.mesos.", &["10.0.0.2"]),
        ("slave.mesos.", &["10.0.1.1", "10.0.1.2"]),
        ("marathon.mesos.", &["10.0.0.1"]),
        ("ns1.mesos.", &["10.0.0.1"]),
        ("leader.dcos.thisdcos.directory.", &["10.0.0.1"]),
        ("master.dcos.thisdcos.directory.", &["10.0.0.1", "10.0.0.2"]),
    ];
    for (name, want) in cases {
        assert_eq!(a(&s, name), *want, "{name}");
    }
}

#[test]
fn dcos_zone_names() {
    let s = set(&ZoneConfig::default());
    let z = "dcos.thisdcos.directory.";
    let cases: Vec<(String, &[&str])> = vec![
        (format!("web.marathon.agentip.{z}"), &["10.0.1.1"]),
        (format!("web.marathon.autoip.{z}"), &["10.0.1.1"]),
        (format!("web.marathon.containerip.{z}"), &[]),
        (format!("app-group.marathon.autoip.{z}"), &["10.0.1.2"]),
        (format!("db.marathon.containerip.{z}"), &["172.17.0.5"]),
        (format!("db.marathon.autoip.{z}"), &["172.17.0.5"]),
        (format!("db.marathon.agentip.{z}"), &["10.0.1.2"]),
        (
            "mygroupmyapp.marathon.l4lb.thisdcos.directory.".into(),
            &["11.0.0.1"],
        ),
        (
            "web.marathon.mesos.thisdcos.directory.".into(),
            &["10.0.1.1"],
        ),
        ("leader.mesos.thisdcos.directory.".into(), &["10.0.0.1"]),
    ];
    for (name, want) in cases {
        assert_eq!(a(&s, &name), want, "{name}");
    }
    assert_eq!(
        s.get(&format!("web.marathon.agentip.{z}")).map(|r| r.ttl),
        Some(5)
    );
    assert_eq!(s.get("web.marathon.mesos.").map(|r| r.ttl), Some(60));
    // The mirror rewrites SRV targets into the mirror too.
    assert_eq!(
        srv(&s, "_leader._tcp.mesos.thisdcos.directory."),
        ["0 1 5050 leader.mesos.thisdcos.directory."]
    );
}

#[test]
fn hiding_unhealthy_tasks_is_an_option() {
    let cfg = ZoneConfig {
        hide_unhealthy: true,
        ..ZoneConfig::default()
    };
    let s = set(&cfg);
    assert!(a(&s, "sick.marathon.mesos.").is_empty());
    assert_eq!(
        a(&s, "web.marathon.mesos."),
        ["10.0.1.1"],
        "tasks without checks stay"
    );
    let mut snap = fixture();
    snap.tasks[5].healthy = Some(true);
    let s = RecordSet::build(&snap, &cfg, 1);
    assert_eq!(a(&s, "sick.marathon.mesos."), ["10.0.1.1"]);
}

#[test]
fn lookups_tell_nxdomain_from_nodata_and_outside() {
    let s = set(&ZoneConfig::default());
    assert!(
        matches!(s.lookup("web.marathon.mesos."), Lookup::Found(z, r) if z.apex == "mesos." && !r.a.is_empty())
    );
    assert!(matches!(s.lookup("_web._tcp.marathon.mesos."), Lookup::Found(_, r) if r.a.is_empty()));
    assert!(
        matches!(s.lookup("nope.marathon.mesos."), Lookup::NxDomain(z) if z.apex == "mesos." && z.serial == 7)
    );
    assert!(matches!(s.lookup("mesos."), Lookup::Found(..)));
    assert!(matches!(s.lookup("nope.thisdcos.directory."), Lookup::NxDomain(z) if z.ttl == 5));
    assert_eq!(s.lookup("example.com."), Lookup::Outside);
    assert_eq!(s.lookup("notmesos."), Lookup::Outside);
    assert!(in_zone("a.mesos.", "mesos.") && !in_zone("amesos.", "mesos."));
}

#[test]
fn a_custom_domain_and_rfc952() {
    let cfg = ZoneConfig {
        domain: "Keel".into(),
        enforce_rfc952: true,
        ..ZoneConfig::default()
    };
    let mut snap = fixture();
    snap.tasks[0].name = "9lives".into();
    snap.tasks[0].discovery = None;
    let s = RecordSet::build(&snap, &cfg, 1);
    assert_eq!(a(&s, "lives.marathon.keel."), ["10.0.1.1"]);
    assert!(matches!(s.lookup("x.mesos."), Lookup::Outside));
}

#[test]
fn enumerate_lists_each_tasks_records() {
    let s = set(&ZoneConfig::default());
    let tasks = &s.enumerate()["marathon"];
    let web = tasks
        .iter()
        .find(|t| t.id == "web.1")
        .map(|t| t.records.clone())
        .unwrap_or_default();
    assert!(
        web.iter()
            .any(|r| r.name == "web.marathon.mesos." && r.rtype == "A" && r.host == "10.0.1.1")
    );
    assert!(
        web.iter()
            .any(|r| r.rtype == "SRV" && r.host.ends_with(":31001"))
    );
    assert!(!tasks.iter().any(|t| t.id == "gone.5"), "not running");
}

#[test]
fn services_resolve_srv_targets_to_addresses() {
    let s = set(&ZoneConfig::default());
    let got = s.services("_plain._tcp.marathon.mesos.");
    let mut ports: Vec<(String, u16)> = got.iter().map(|t| (t.ip.to_string(), t.port)).collect();
    ports.sort();
    assert_eq!(
        ports,
        [
            ("10.0.1.1".to_string(), 31003),
            ("10.0.1.1".to_string(), 31004)
        ]
    );
    assert!(
        got.iter()
            .all(|t| t.host.ends_with(".marathon.slave.mesos."))
    );
    assert!(s.services("_nothing._tcp.marathon.mesos.").is_empty());
    assert!(
        s.services("web.marathon.mesos.").is_empty(),
        "A-only names have no SRV"
    );
}
