//! Data-driven scenarios: a cluster and a batch written as text, the allocator's decisions
//! rendered as text and compared with an inline expectation.
//!
//! Setup lines: `agent <id> <hostname> <attrs|-> <resources>`, `inactive <id>`,
//! `weight <role> <w>`, `used <agent> <framework> <role> <resources> [scope]`.
//! Request lines: `<id> <framework> <role> <resources> [ports=N] [hostports=P,any,...]
//! [scope=S] [field:OP[:value]]...` (`ports=N`: N dynamic host ports; `hostports`: the
//! wanted host ports in order, fixed or `any`). A placement renders its host ports in
//! order after `->` when it has any.

#![allow(clippy::unwrap_used)]

use keel_allocator::{AgentInfo, AllocationResult, Allocator, PlacementRequest};
use keel_model::{AgentId, Constraint, ConstraintOp, FrameworkId, HostPort};
use keel_resources::{Attributes, Resources};

fn agent_id(s: &str) -> AgentId {
    AgentId::new(s).unwrap()
}

fn fw(s: &str) -> FrameworkId {
    FrameworkId::new(s).unwrap()
}

fn res(s: &str) -> Resources {
    Resources::parse(s).unwrap()
}

fn constraint(s: &str) -> Constraint {
    let mut parts = s.splitn(3, ':');
    let field = parts.next().unwrap().to_string();
    let op = match parts.next().unwrap() {
        "UNIQUE" => ConstraintOp::Unique,
        "CLUSTER" => ConstraintOp::Cluster,
        "GROUP_BY" => ConstraintOp::GroupBy,
        "LIKE" => ConstraintOp::Like,
        "UNLIKE" => ConstraintOp::Unlike,
        "MAX_PER" => ConstraintOp::MaxPer,
        "IS" => ConstraintOp::Is,
        other => panic!("unknown operator {other}"),
    };
    Constraint {
        field,
        op,
        value: parts.next().map(str::to_string),
    }
}

fn setup(text: &str) -> Allocator {
    let mut a = Allocator::new();
    for line in lines(text) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["agent", id, host, attrs, r] => a.add_agent(AgentInfo {
                id: agent_id(id),
                hostname: host.to_string(),
                attributes: if *attrs == "-" {
                    Attributes::default()
                } else {
                    Attributes::parse(attrs).unwrap()
                },
                total: res(r),
            }),
            ["inactive", id] => a.set_agent_active(&agent_id(id), false),
            ["weight", role, w] => a.set_weight(role, w.parse().unwrap()).unwrap(),
            ["used", agent, f, role, r, scope @ ..] => a
                .allocate_used(
                    &agent_id(agent),
                    &fw(f),
                    role,
                    &res(r),
                    scope.first().copied(),
                )
                .unwrap(),
            _ => panic!("bad setup line {line:?}"),
        }
    }
    a
}

fn requests(text: &str) -> Vec<PlacementRequest> {
    lines(text)
        .map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            let mut req = PlacementRequest {
                id: w[0].to_string(),
                framework: fw(w[1]),
                role: w[2].to_string(),
                resources: res(w[3]),
                ports: Vec::new(),
                constraints: Vec::new(),
                scope: None,
            };
            for extra in &w[4..] {
                if let Some(n) = extra.strip_prefix("ports=") {
                    req.ports = vec![HostPort::Any; n.parse().unwrap()];
                } else if let Some(list) = extra.strip_prefix("hostports=") {
                    req.ports = list
                        .split(',')
                        .map(|p| match p {
                            "any" => HostPort::Any,
                            p => HostPort::Fixed(p.parse().unwrap()),
                        })
                        .collect();
                } else if let Some(s) = extra.strip_prefix("scope=") {
                    req.scope = Some(s.to_string());
                } else {
                    req.constraints.push(constraint(extra));
                }
            }
            req
        })
        .collect()
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

fn render(r: &AllocationResult) -> String {
    let mut out = Vec::new();
    for p in &r.placed {
        let mut line = format!("{} {} {}", p.request_id, p.agent_id, p.resources);
        if !p.host_ports.is_empty() {
            let ports: Vec<String> = p.host_ports.iter().map(u16::to_string).collect();
            line = format!("{line} -> {}", ports.join(","));
        }
        out.push(line);
    }
    for u in &r.unplaced {
        let reasons: Vec<String> = u
            .rejections
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push(format!("{} unplaced: {}", u.request_id, reasons.join(", ")));
    }
    out.join("\n")
}

fn normalize(text: &str) -> String {
    lines(text).collect::<Vec<_>>().join("\n")
}

/// Sets up `cluster`, allocates `batch`, compares the rendered result with `expect`.
fn check(cluster: &str, batch: &str, expect: &str) -> Allocator {
    let mut a = setup(cluster);
    let got = render(&a.allocate(requests(batch)));
    assert_eq!(got, normalize(expect), "\n--- got ---\n{got}\n");
    a
}

const THREE: &str = "
    agent a1 h1 rack:r1 cpus:4;mem:1024;ports:[31000-31009]
    agent a2 h2 rack:r2 cpus:4;mem:1024;ports:[31000-31009]
    agent a3 h3 rack:r1 cpus:4;mem:1024;ports:[31000-31009]
";

#[test]
fn spreads_with_a_rotating_cursor() {
    check(
        THREE,
        "
        t1 f1 web cpus:1;mem:10 ports=1
        t2 f1 web cpus:1;mem:10 ports=2
        t3 f1 web cpus:1;mem:10
        t4 f1 web cpus:1;mem:10 ports=1
        ",
        "
        t1 a1 cpus:1;mem:10;ports:[31000-31000] -> 31000
        t2 a2 cpus:1;mem:10;ports:[31000-31001] -> 31000,31001
        t3 a3 cpus:1;mem:10
        t4 a1 cpus:1;mem:10;ports:[31001-31001] -> 31001
        ",
    );
}

#[test]
fn rejections_name_the_first_failing_check() {
    check(
        "
        agent a1 h1 rack:r1 cpus:1;mem:1024;ports:[31000-31000]
        agent a2 h2 rack:r2 cpus:4;mem:1024
        agent a3 h3 rack:r1 cpus:4;mem:1024
        agent a4 h4 rack:r1 cpus:4;mem:10;ports:[31000-31000]
        agent a5 h5 rack:r1 cpus:4;mem:1024;ports:[31000-31000]
        inactive a3
        ",
        "
        t1 f1 web cpus:2;mem:100 ports=2 rack:LIKE:r1
        t2 f1 web cpus:1;gpus:1
        ",
        "
        t1 unplaced: agent inactive=1, constraint rack:LIKE:r1=1, insufficient cpus=1, insufficient mem=1, insufficient ports=1
        t2 unplaced: agent inactive=1, insufficient gpus=4
        ",
    );
}

#[test]
fn ports_run_out() {
    check(
        "agent a1 h1 - cpus:8;mem:1024;ports:[31000-31001,31005-31005]",
        "
        t1 f1 web cpus:1 ports=2
        t2 f1 web cpus:1 ports=1
        t3 f1 web cpus:1 ports=1
        ",
        "
        t1 a1 cpus:1;ports:[31000-31001] -> 31000,31001
        t2 a1 cpus:1;ports:[31005-31005] -> 31005
        t3 unplaced: insufficient ports=1
        ",
    );
}

#[test]
fn fixed_host_ports_keep_the_request_order() {
    check(
        "agent a1 h1 - cpus:8;mem:1024;ports:[31000-31009]",
        "
        t1 f1 web cpus:1 hostports=31005,any,31001,any
        t2 f1 web cpus:1 hostports=any,31001
        t3 f1 web cpus:1 hostports=31009,any
        t4 f1 web cpus:1 hostports=31003,31003
        ",
        "
        t1 a1 cpus:1;ports:[31000-31002, 31005-31005] -> 31005,31000,31001,31002
        t3 a1 cpus:1;ports:[31003-31003, 31009-31009] -> 31009,31003
        t2 unplaced: insufficient ports 31001=1
        t4 unplaced: insufficient ports 31003=1
        ",
    );
}

#[test]
fn fixed_ports_outside_every_range_or_taken_name_the_ports() {
    check(
        "
        agent a1 h1 - cpus:8;mem:1024;ports:[31000-31001]
        agent a2 h2 - cpus:8;mem:1024;ports:[31000-31003]
        agent a3 h3 - cpus:8;mem:1024;ports:[31002-31003]
        agent a4 h4 - cpus:8;mem:1024;ports:[31002-31002]
        used a2 f1 web ports:[31002-31002]
        ",
        "
        t1 f1 web cpus:1 hostports=8080,any
        t2 f1 web cpus:1 hostports=31002,any
        t3 f1 web cpus:1 hostports=31002,any
        ",
        "
        t2 a3 cpus:1;ports:[31002-31003] -> 31002,31003
        t1 unplaced: insufficient ports 8080=4
        t3 unplaced: insufficient ports=1, insufficient ports 31002=3
        ",
    );
}

#[test]
fn like_unlike_is_and_missing_attributes() {
    check(
        "
        agent a1 h1 rack:r1 cpus:4
        agent a2 h2 rack:r12 cpus:4
        agent a3 h3 - cpus:4
        ",
        "
        t1 f1 web cpus:1 rack:LIKE:r1
        t2 f1 web cpus:1 rack:UNLIKE:r1
        t3 f1 web cpus:1 rack:UNLIKE:r1
        t4 f1 web cpus:1 hostname:IS:h3
        t5 f1 web cpus:1 rack:IS:r9
        t6 f1 web cpus:1 rack:LIKE:r[
        ",
        "
        t1 a1 cpus:1
        t2 a2 cpus:1
        t3 a3 cpus:1
        t4 a3 cpus:1
        t5 unplaced: constraint rack:IS:r9=3
        t6 unplaced: invalid constraint rack:LIKE:r[=3
        ",
    );
}

#[test]
fn unique_and_max_per_count_live_allocations() {
    let mut a = check(
        THREE,
        "
        t1 f1 web cpus:1 hostname:UNIQUE
        t2 f1 web cpus:1 hostname:UNIQUE
        t3 f1 web cpus:1 hostname:UNIQUE
        t4 f1 web cpus:1 hostname:UNIQUE
        t5 f2 web cpus:1 rack:MAX_PER:1
        t6 f2 web cpus:1 rack:MAX_PER:1
        t7 f2 web cpus:1 rack:MAX_PER:1
        ",
        "
        t1 a1 cpus:1
        t5 a2 cpus:1
        t2 a3 cpus:1
        t6 a1 cpus:1
        t3 a2 cpus:1
        t7 unplaced: constraint rack:MAX_PER:1=3
        t4 unplaced: constraint hostname:UNIQUE=3
        ",
    );
    // A task ending frees its value again.
    a.recover(&agent_id("a2"), &fw("f1"), "web", &res("cpus:1"), None);
    let r = a.allocate(requests("t8 f1 web cpus:1 hostname:UNIQUE"));
    assert_eq!(render(&r), "t8 a2 cpus:1");
}

#[test]
fn cluster_pins_to_the_first_placement() {
    check(
        "
        agent a1 h1 rack:r2 cpus:1
        agent a2 h2 rack:r1 cpus:4
        agent a3 h3 - cpus:4
        agent a4 h4 rack:r2 cpus:4
        ",
        "
        t1 f1 web cpus:1 rack:CLUSTER
        t2 f1 web cpus:1 rack:CLUSTER
        t3 f1 web cpus:1 rack:CLUSTER
        t4 f2 web cpus:1 rack:CLUSTER:r1
        ",
        "
        t1 a1 cpus:1
        t4 a2 cpus:1
        t2 a4 cpus:1
        t3 a4 cpus:1
        ",
    );
}

#[test]
fn group_by_evens_out_values() {
    check(
        "
        agent a1 h1 rack:r1 cpus:4
        agent a2 h2 rack:r1 cpus:4
        agent a3 h3 rack:r2 cpus:4
        ",
        "
        t1 f1 web cpus:1 rack:GROUP_BY
        t2 f1 web cpus:1 rack:GROUP_BY
        t3 f1 web cpus:1 rack:GROUP_BY
        t4 f1 web cpus:1 rack:GROUP_BY:2
        t5 f1 web cpus:1 rack:GROUP_BY
        t6 f1 web cpus:1 rack:GROUP_BY
        t7 f1 web cpus:1 rack:GROUP_BY
        ",
        "
        t1 a1 cpus:1
        t2 a3 cpus:1
        t3 a1 cpus:1
        t4 a3 cpus:1
        t5 a1 cpus:1
        t6 a3 cpus:1
        t7 a1 cpus:1
        ",
    );
}

#[test]
fn batch_is_served_in_drf_order() {
    let a = check(
        "
        agent a1 h1 - cpus:4;mem:400
        used a1 fa A cpus:2
        ",
        "
        a1 fa A cpus:1
        a2 fa A cpus:1
        b1 fb B cpus:1
        b2 fb B cpus:1
        b3 fb B cpus:1
        ",
        "
        b1 a1 cpus:1
        b2 a1 cpus:1
        a1 unplaced: insufficient cpus=1
        a2 unplaced: insufficient cpus=1
        b3 unplaced: insufficient cpus=1
        ",
    );
    // After b1, B (0.25) is below A (0.5); at 0.5 each, A wins on fewer allocations.
    assert_eq!((a.dominant_share("A"), a.dominant_share("B")), (0.5, 0.5));
}

#[test]
fn weights_and_frameworks_within_a_role() {
    let a = check(
        "
        agent a1 h1 - cpus:6;mem:600
        weight A 2
        ",
        "
        a1 fa A cpus:1
        a2 fa A cpus:1
        a3 fa2 A cpus:1
        a4 fa2 A cpus:1
        b1 fb B cpus:1
        b2 fb B cpus:1
        b3 fb B cpus:1
        ",
        "
        a1 a1 cpus:1
        b1 a1 cpus:1
        a3 a1 cpus:1
        b2 a1 cpus:1
        a2 a1 cpus:1
        a4 a1 cpus:1
        b3 unplaced: insufficient cpus=1
        ",
    );
    assert_eq!(a.dominant_share("A"), 4.0 / 6.0 / 2.0);
    assert_eq!(a.framework_share("A", &fw("fa")), 2.0 / 6.0);
}

#[test]
fn offers_go_whole_to_the_lowest_share() {
    let mut a = setup(
        "
        agent a1 h1 - cpus:4;mem:400;ports:[1-10]
        agent a2 h2 - cpus:4;mem:400
        agent a3 h3 - cpus:4;mem:400
        agent a4 h4 - cpus:0.001;mem:31
        used a1 f1 A cpus:1;mem:100;ports:[1-2]
        ",
    );
    let fws = [
        (fw("f1"), "A".to_string()),
        (fw("f2"), "B".to_string()),
        (fw("f3"), "B".to_string()),
    ];
    let offers = a.generate_offers(&fws, 42);
    let got: Vec<String> = offers
        .iter()
        .map(|o| format!("{} {} {} {}", o.agent_id, o.framework, o.role, o.resources))
        .collect();
    // Agents in seeded order: B (share 0) beats A (1/12); then A (1/12) beats B (4/12); at
    // 4/12 each B wins on fewer allocations and its f3 (share 0) gets a3. a4 is below the
    // minimum allocatable.
    assert_eq!(
        got.join("\n"),
        normalize(
            "
            a2 f2 B cpus:4;mem:400
            a1 f1 A cpus:3;mem:300;ports:[3-10]
            a3 f3 B cpus:4;mem:400
            "
        )
    );
    assert_eq!(a.free(&agent_id("a1")), Some(Resources::new()));
    assert!(
        a.generate_offers(&fws, 1).is_empty(),
        "everything is offered already"
    );
    for o in &offers {
        a.recover(&o.agent_id, &o.framework, &o.role, &o.resources, None);
    }
    assert_eq!(
        a.free(&agent_id("a1")),
        Some(res("cpus:3;mem:300;ports:[3-10]"))
    );
    assert_eq!(a.generate_offers(&fws, 42).len(), 3);
}

#[test]
fn offer_order_is_seeded() {
    let mk = || {
        let mut a = keel_allocator::bench::cluster(30, 5);
        a.generate_offers(&keel_allocator::bench::frameworks(7), 9)
    };
    assert_eq!(mk(), mk());
}

#[test]
fn reregistration_keeps_allocations_and_removal_drops_them() {
    let mut a = setup(
        "
        agent a1 h1 rack:r1 cpus:4;mem:400
        agent a2 h2 rack:r1 cpus:4;mem:400
        used a1 f1 A cpus:2
        ",
    );
    a.set_agent_active(&agent_id("a1"), false);
    a.add_agent(AgentInfo {
        id: agent_id("a1"),
        hostname: "h1".into(),
        attributes: Attributes::parse("rack:r9").unwrap(),
        total: res("cpus:8;mem:400"),
    });
    assert_eq!(a.is_active(&agent_id("a1")), Some(true));
    assert_eq!(a.free(&agent_id("a1")), Some(res("cpus:6;mem:400")));
    assert_eq!(a.dominant_share("A"), 2.0 / 12.0);
    // The tally moved with the attribute: rack r9 is taken, r1 is not.
    let r = a.allocate(requests(
        "t1 f1 A cpus:1 rack:UNIQUE\nt2 f1 A cpus:1 rack:UNIQUE",
    ));
    assert_eq!(
        render(&r),
        "t1 a2 cpus:1\nt2 unplaced: constraint rack:UNIQUE=2"
    );
    a.remove_agent(&agent_id("a1"));
    assert_eq!(a.dominant_share("A"), 1.0 / 4.0);
    assert_eq!(
        a.agents()
            .map(|(i, used)| format!("{} {used}", i.id))
            .collect::<Vec<_>>(),
        ["a2 cpus:1"]
    );
    a.recover(&agent_id("a1"), &fw("f1"), "A", &res("cpus:2"), None);
    a.remove_framework(&fw("f1"));
    assert_eq!(a.dominant_share("A"), 0.0);
    assert_eq!(a.free(&agent_id("a2")), Some(res("cpus:4;mem:400")));
}

#[test]
fn recover_takes_back_only_what_is_held() {
    let mut a = setup(
        "
        agent a1 h1 - cpus:4;mem:400;ports:[1-10]
        used a1 f1 A cpus:2;mem:100;ports:[1-3]
        ",
    );
    a.recover(&agent_id("a1"), &fw("f1"), "B", &res("cpus:2"), None);
    a.recover(&agent_id("a1"), &fw("f2"), "A", &res("cpus:2"), None);
    assert_eq!(
        a.free(&agent_id("a1")),
        Some(res("cpus:2;mem:300;ports:[4-10]"))
    );
    a.recover(
        &agent_id("a1"),
        &fw("f1"),
        "A",
        &res("cpus:5;ports:[3-5]"),
        None,
    );
    assert_eq!(
        a.free(&agent_id("a1")),
        Some(res("cpus:4;mem:300;ports:[3-10]"))
    );
    assert_eq!(
        a.allocation(&agent_id("a1"), &fw("f1"), "A", None),
        Some(&res("mem:100;ports:[1-2]"))
    );
}

#[test]
fn errors_name_the_input() {
    let mut a = setup("agent a1 h1 - cpus:1;ports:[1-2]");
    let e = |r: Result<(), keel_allocator::AllocatorError>| r.map_err(|e| e.to_string());
    assert_eq!(
        e(a.set_weight("web", 0.0)),
        Err("weight for role web must be > 0, got 0".into())
    );
    assert_eq!(
        e(a.set_weight("web", f64::NAN)),
        Err("weight for role web must be > 0, got NaN".into())
    );
    assert_eq!(
        e(a.allocate_used(&agent_id("a9"), &fw("f1"), "A", &res("cpus:1"), None)),
        Err("unknown agent a9".into())
    );
    assert_eq!(
        e(a.allocate_used(&agent_id("a1"), &fw("f1"), "A", &res("cpus:1;ports:[2-3]"), None)),
        Err("allocation of cpus:1;ports:[2-3] on agent a1 exceeds its free resources cpus:1;ports:[1-2]".into())
    );
    assert_eq!(a.free(&agent_id("a1")), Some(res("cpus:1;ports:[1-2]")));
    assert_eq!(a.weight("web"), 1.0);
}

#[test]
fn repeated_rejections_stay_exact() {
    // The same shape fails three times; placements in between change one agent's reason.
    check(
        "
        agent a1 h1 - cpus:1;mem:100
        agent a2 h2 - cpus:2;mem:50
        ",
        "
        big1 f1 A cpus:2;mem:60
        small1 f1 A cpus:1;mem:10
        big2 f1 A cpus:2;mem:60
        small2 f1 A cpus:1;mem:10
        big3 f1 A cpus:2;mem:60
        ",
        "
        small1 a1 cpus:1;mem:10
        small2 a2 cpus:1;mem:10
        big1 unplaced: insufficient cpus=1, insufficient mem=1
        big2 unplaced: insufficient cpus=1, insufficient mem=1
        big3 unplaced: insufficient cpus=2
        ",
    );
}

#[test]
fn a_partly_recovered_allocation_still_counts_for_unique() {
    let mut a = setup(
        "
        agent a1 h1 - cpus:4
        agent a2 h2 - cpus:4
        used a1 f1 A cpus:2
        ",
    );
    a.recover(&agent_id("a1"), &fw("f1"), "A", &res("cpus:1"), None);
    a.recover(&agent_id("a1"), &fw("f1"), "A", &res("cpus:0.5"), None);
    let r = a.allocate(requests(
        "t1 f1 A cpus:1 hostname:UNIQUE\nt2 f1 A cpus:1 hostname:UNIQUE",
    ));
    assert_eq!(
        render(&r),
        "t1 a2 cpus:1\nt2 unplaced: constraint hostname:UNIQUE=2"
    );
}

#[test]
fn scopes_of_one_framework_are_unique_independently() {
    let mut a = check(
        THREE,
        "
        a1 f1 web cpus:1 scope=a hostname:UNIQUE
        b1 f1 web cpus:1 scope=b hostname:UNIQUE
        a2 f1 web cpus:1 scope=a hostname:UNIQUE
        b2 f1 web cpus:1 scope=b hostname:UNIQUE
        a3 f1 web cpus:1 scope=a hostname:UNIQUE
        b3 f1 web cpus:1 scope=b hostname:UNIQUE
        a4 f1 web cpus:1 scope=a hostname:UNIQUE
        b4 f1 web cpus:1 scope=b hostname:UNIQUE
        n1 f1 web cpus:1 hostname:UNIQUE
        ",
        "
        a1 a1 cpus:1
        b1 a2 cpus:1
        a2 a3 cpus:1
        b2 a1 cpus:1
        a3 a2 cpus:1
        b3 a3 cpus:1
        n1 a1 cpus:1
        a4 unplaced: constraint hostname:UNIQUE=3
        b4 unplaced: constraint hostname:UNIQUE=3
        ",
    );
    let tally = |a: &Allocator, scope| a.tally(&fw("f1"), scope, "rack", "r1");
    assert_eq!((tally(&a, None), tally(&a, Some("a"))), (1, 2));
    // A scope that holds nothing on a2 recovers nothing there.
    a.recover(&agent_id("a2"), &fw("f1"), "web", &res("cpus:1"), Some("c"));
    assert_eq!(
        a.free(&agent_id("a2")),
        Some(res("cpus:2;mem:1024;ports:[31000-31009]"))
    );
    // Recovering a's task on a2 frees h2 for a, not for b.
    a.recover(&agent_id("a2"), &fw("f1"), "web", &res("cpus:1"), Some("a"));
    assert_eq!(
        a.allocation(&agent_id("a2"), &fw("f1"), "web", Some("a")),
        None
    );
    assert_eq!(
        a.allocation(&agent_id("a2"), &fw("f1"), "web", Some("b")),
        Some(&res("cpus:1"))
    );
    let r = a.allocate(requests(
        "
        b5 f1 web cpus:1 scope=b hostname:UNIQUE
        a5 f1 web cpus:1 scope=a hostname:UNIQUE
        ",
    ));
    assert_eq!(
        render(&r),
        "a5 a2 cpus:1\nb5 unplaced: constraint hostname:UNIQUE=3"
    );
}

#[test]
fn max_per_counts_per_scope() {
    check(
        &format!("{THREE}\nused a2 f1 web cpus:1 a"),
        "
        a1 f1 web cpus:1 scope=a rack:MAX_PER:1
        a2 f1 web cpus:1 scope=a rack:MAX_PER:1
        b1 f1 web cpus:1 scope=b rack:MAX_PER:1
        b2 f1 web cpus:1 scope=b rack:MAX_PER:1
        b3 f1 web cpus:1 scope=b rack:MAX_PER:1
        n1 f1 web cpus:1 rack:MAX_PER:1
        ",
        "
        a1 a1 cpus:1
        b1 a2 cpus:1
        b2 a3 cpus:1
        n1 a1 cpus:1
        a2 unplaced: constraint rack:MAX_PER:1=3
        b3 unplaced: constraint rack:MAX_PER:1=3
        ",
    );
}

#[test]
fn cluster_pins_per_scope() {
    // Pinned per framework, b1 would follow a1 to rack r2.
    check(
        "
        agent a1 h1 rack:r2 cpus:1
        agent a2 h2 rack:r1 cpus:4
        agent a3 h3 rack:r2 cpus:4
        ",
        "
        a1 f1 web cpus:1 scope=a rack:CLUSTER
        b1 f1 web cpus:1 scope=b rack:CLUSTER
        a2 f1 web cpus:1 scope=a rack:CLUSTER
        b2 f1 web cpus:1 scope=b rack:CLUSTER
        ",
        "
        a1 a1 cpus:1
        b1 a2 cpus:1
        a2 a3 cpus:1
        b2 a2 cpus:1
        ",
    );
}
