//! Unit tests of the VIP table: named and IP VIPs, backends by network scope, health,
//! legacy labels, bad labels and stable addresses.

use super::*;
use expect_test::{Expect, expect};
use keel_model::DiscoveryPort;

fn range() -> VipRange {
    VipRange::parse("127.77.0.0/16").expect("range")
}

fn port(number: u32, protocol: &str, labels: &[(&str, &str)]) -> DiscoveryPort {
    DiscoveryPort {
        number,
        protocol: protocol.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn task(id: &str, agent: &str, ports: Vec<DiscoveryPort>) -> VipTask {
    VipTask {
        id: id.to_string(),
        framework: "marathon".to_string(),
        running: true,
        agent_ip: agent.parse().ok(),
        discovery: Some(Discovery {
            ports,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn render(t: &VipTable) -> String {
    let mut out = String::new();
    for v in &t.vips {
        let name = v.dns_name.as_deref().unwrap_or("-");
        out.push_str(&format!(
            "{}:{}/{} {name}\n",
            v.address,
            v.port,
            v.protocol.as_str()
        ));
        for b in &v.backends {
            out.push_str(&format!(
                "  {}:{} {} w={}\n",
                b.ip,
                b.port,
                b.task,
                b.weight()
            ));
        }
    }
    for p in &t.problems {
        out.push_str(&format!(
            "! {} {}={} {}\n",
            p.task, p.label, p.value, p.message
        ));
    }
    out
}

fn check(tasks: &[VipTask], expect: Expect) {
    let plan = plan(tasks, &BTreeMap::new(), range());
    expect.assert_eq(&render(&plan.table));
}

#[test]
fn named_and_ip_vips_collect_their_backends() {
    let tcp = |id, agent, hp| {
        task(
            id,
            agent,
            vec![port(
                hp,
                "tcp",
                &[("VIP_0", "/web:80"), ("network-scope", "host")],
            )],
        )
    };
    check(
        &[
            tcp("web.1", "10.0.0.1", 31000),
            tcp("web.2", "10.0.0.2", 31005),
            task(
                "dns.1",
                "10.0.0.1",
                vec![port(31001, "udp", &[("VIP_0", "10.9.9.9:53")])],
            ),
        ],
        expect![[r#"
            10.9.9.9:53/udp -
              10.0.0.1:31001 dns.1 w=1
            127.77.0.1:80/tcp web.marathon.l4lb.thisdcos.directory
              10.0.0.1:31000 web.1 w=1
              10.0.0.2:31005 web.2 w=1
        "#]],
    );
}

#[test]
fn container_scope_uses_task_ips_and_only_running_tasks_count() {
    let mut c = task(
        "c.1",
        "10.0.0.1",
        vec![port(
            8080,
            "tcp",
            &[("VIP_0", "/c:8080"), ("network-scope", "container")],
        )],
    );
    c.container_ips = vec!["172.17.0.2".parse().expect("ip")];
    let mut stopped = task(
        "c.2",
        "10.0.0.1",
        vec![port(
            8080,
            "tcp",
            &[("VIP_0", "/c:8080"), ("network-scope", "container")],
        )],
    );
    stopped.running = false;
    let no_ip = task(
        "c.3",
        "10.0.0.1",
        vec![port(
            8080,
            "tcp",
            &[("VIP_0", "/c:8080"), ("network-scope", "container")],
        )],
    );
    check(
        &[c, stopped, no_ip],
        expect![[r#"
            127.77.0.1:8080/tcp c.marathon.l4lb.thisdcos.directory
              172.17.0.2:8080 c.1 w=1
            ! c.3 VIP_0=/c:8080 container-scoped port but the task has no container IP
        "#]],
    );
}

#[test]
fn health_sets_the_weight() {
    let vip = || vec![port(31000, "tcp", &[("VIP_0", "/h:80")])];
    let mut checked_unknown = task("h.1", "10.0.0.1", vip());
    checked_unknown.has_health_checks = true;
    let mut checked_healthy = task("h.2", "10.0.0.2", vip());
    checked_healthy.has_health_checks = true;
    checked_healthy.healthy = Some(true);
    let mut unhealthy = task("h.3", "10.0.0.3", vip());
    unhealthy.healthy = Some(false);
    let unchecked = task("h.4", "10.0.0.4", vip());
    check(
        &[checked_unknown, checked_healthy, unhealthy, unchecked],
        expect![[r#"
            127.77.0.1:80/tcp h.marathon.l4lb.thisdcos.directory
              10.0.0.1:31000 h.1 w=0
              10.0.0.2:31000 h.2 w=1
              10.0.0.3:31000 h.3 w=0
              10.0.0.4:31000 h.4 w=1
        "#]],
    );
}

#[test]
fn legacy_vip_port_labels_use_the_host_ports() {
    let mut t = task("l.1", "10.0.0.1", vec![]);
    t.host_ports = vec![31000, 31001];
    t.labels
        .insert("VIP_PORT1".into(), "udp://10.1.1.1:53".into());
    t.labels
        .insert("vip_port0".into(), "tcp:///legacy:80".into());
    t.labels
        .insert("VIP_PORT7".into(), "tcp://10.1.1.1:54".into());
    check(
        &[t],
        expect![[r#"
            10.1.1.1:53/udp -
              10.0.0.1:31001 l.1 w=1
            127.77.0.1:80/tcp legacy.marathon.l4lb.thisdcos.directory
              10.0.0.1:31000 l.1 w=1
            ! l.1 VIP_PORT7=tcp://10.1.1.1:54 task has no host port 7
        "#]],
    );
}

#[test]
fn bad_labels_are_problems_and_never_disturb_other_vips() {
    let t = task(
        "b.1",
        "10.0.0.1",
        vec![
            port(31000, "tcp", &[("VIP_0", "/nop")]),
            port(31001, "tcp", &[("VIP_1", "300.1.1.1:80")]),
            port(31002, "tcp", &[("VIP_2", "/big:70000")]),
            port(31003, "sctp", &[("VIP_3", "/s:1")]),
            port(31004, "tcp", &[("VIP_4", "/good:80")]),
        ],
    );
    check(
        &[t],
        expect![[r#"
            127.77.0.1:80/tcp good.marathon.l4lb.thisdcos.directory
              10.0.0.1:31004 b.1 w=1
            ! b.1 VIP_0=/nop VIP "/nop" has no port
            ! b.1 VIP_1=300.1.1.1:80 VIP "300.1.1.1:80": "300.1.1.1" is not a valid IP address
            ! b.1 VIP_2=/big:70000 VIP "/big:70000": port 70000 is out of range 1-65535
            ! b.1 VIP_3=/s:1 port protocol "sctp" is neither tcp nor udp
        "#]],
    );
}

#[test]
fn named_addresses_are_stable_as_vips_come_and_go() {
    let named =
        |id: &str, name: &str| task(id, "10.0.0.1", vec![port(31000, "tcp", &[("VIP_0", name)])]);
    let mut held = BTreeMap::new();
    let first = plan(
        &[named("a.1", "/a:80"), named("b.1", "/b:80")],
        &held,
        range(),
    );
    held.extend(first.allocate);
    let addr = |p: &VipPlan, dns: &str| {
        p.table
            .vips
            .iter()
            .find(|v| v.dns_name.as_deref() == Some(dns))
            .map(|v| v.address)
    };
    let b = "b.marathon.l4lb.thisdcos.directory";
    let b_before = addr(&plan(&[named("b.1", "/b:80")], &held, range()), b);
    // /a goes, /c comes: /c gets a new address, /b keeps its own, nothing re-allocated.
    let later = plan(
        &[named("b.1", "/b:80"), named("c.1", "/c:80")],
        &held,
        range(),
    );
    assert_eq!(addr(&later, b), b_before);
    assert_eq!(later.allocate.len(), 1);
    assert_eq!(
        addr(&later, "c.marathon.l4lb.thisdcos.directory"),
        Some(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 3)))
    );
    // Two ports of one name share its address; another framework's /b is another VIP.
    let mut other = named("o.1", "/b:81");
    other.framework = "other".into();
    let both = plan(
        &[named("b.1", "/b:80"), named("b.2", "/b:8080"), other],
        &held,
        range(),
    );
    let b_addrs: BTreeSet<IpAddr> = both
        .table
        .vips
        .iter()
        .filter(|v| v.name.as_deref() == Some("/b"))
        .map(|v| v.address)
        .collect();
    assert_eq!(b_addrs.len(), 2, "{:?}", both.table.vips);
}
