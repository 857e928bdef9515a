//! Unit tests of `/service/` resolution and Location rewriting.

use super::*;

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn task(host: &str, ports: &[u16], running: bool) -> AppTask {
    AppTask {
        host: host.into(),
        ip: None,
        ports: ports.to_vec(),
        running,
    }
}

fn app(id: &str, name: &str, tasks: Vec<AppTask>) -> App {
    App {
        id: id.into(),
        labels: labels(&[
            (LABEL_NAME, name),
            (LABEL_SCHEME, "http"),
            (LABEL_PORT_INDEX, "1"),
        ]),
        container_ports: None,
        tasks,
    }
}

fn snap(apps: Vec<App>, frameworks: Vec<Framework>) -> Snapshot {
    Snapshot {
        apps,
        marathon_ok: true,
        frameworks,
        srv: vec![],
    }
}

fn found(r: Resolution) -> Arc<Service> {
    match r {
        Resolution::Found(s) => s,
        other => panic!("expected Found, got {other:?}"),
    }
}

#[test]
fn an_app_resolves_to_its_running_tasks_port_at_the_index() {
    let t = RouteTable::build(&snap(
        vec![app(
            "/web",
            "web",
            vec![
                task("10.0.0.1", &[31000, 31001], true),
                task("10.0.0.2", &[1, 2], false),
            ],
        )],
        vec![],
    ));
    let s = found(t.resolve("/service/web/index.html"));
    assert_eq!(s.id, "web");
    assert_eq!(s.upstreams.len(), 1);
    assert_eq!(s.upstreams[0].host, "10.0.0.1");
    assert_eq!(s.upstreams[0].port, 31001);
    assert_eq!(s.upstreams[0].scheme, Scheme::Http);
    assert!(s.strip_prefix);
    assert_eq!(
        upstream_path(&s, &s.upstreams[0], "/service/web/index.html?a=1"),
        "/index.html?a=1"
    );
    assert_eq!(upstream_path(&s, &s.upstreams[0], "/service/web"), "/");
    assert_eq!(upstream_path(&s, &s.upstreams[0], "/service/web?x"), "/?x");
}

#[test]
fn the_bare_name_redirects_to_its_trailing_slash() {
    let t = RouteTable::build(&snap(
        vec![app("/web", "web", vec![task("h", &[1, 2], true)])],
        vec![],
    ));
    assert_eq!(
        t.resolve("/service/web"),
        Resolution::AddSlash("/service/web/".into())
    );
}

#[test]
fn candidates_are_tried_from_the_first_segment_and_the_first_hit_wins() {
    let t = RouteTable::build(&snap(
        vec![
            app("/a", "a", vec![task("h1", &[1, 2], true)]),
            app("/g/b", "g/b", vec![task("h2", &[1, 3], true)]),
        ],
        vec![],
    ));
    assert_eq!(found(t.resolve("/service/a/b/c")).id, "a");
    let s = found(t.resolve("/service/g/b/x/y"));
    assert_eq!(s.id, "g/b");
    assert_eq!(
        upstream_path(&s, &s.upstreams[0], "/service/g/b/x/y"),
        "/x/y"
    );
    assert_eq!(t.resolve("/service/g/x"), Resolution::NotFound);
}

#[test]
fn at_most_ten_segments_make_a_candidate() {
    let deep = "a/b/c/d/e/f/g/h/i/j/k";
    let t = RouteTable::build(&snap(
        vec![app("/deep", deep, vec![task("h", &[1, 2], true)])],
        vec![],
    ));
    assert_eq!(
        t.resolve(&format!("/service/{deep}/x")),
        Resolution::NotFound
    );
    let ten = "a/b/c/d/e/f/g/h/i/j";
    let t = RouteTable::build(&snap(
        vec![app("/ten", ten, vec![task("h", &[1, 2], true)])],
        vec![],
    ));
    assert_eq!(found(t.resolve(&format!("/service/{ten}/x"))).id, ten);
}

#[test]
fn unknown_names_are_404_and_apps_without_running_tasks_503() {
    let t = RouteTable::build(&snap(
        vec![app("/idle", "idle", vec![task("h", &[1, 2], false)])],
        vec![],
    ));
    assert_eq!(t.resolve("/service/nope/"), Resolution::NotFound);
    assert!(matches!(
        t.resolve("/service/idle/"),
        Resolution::Unavailable(_)
    ));
    assert_eq!(t.resolve("/elsewhere"), Resolution::NotFound);
    assert_eq!(t.resolve("/service//x"), Resolution::NotFound);
}

#[test]
fn missing_or_bad_labels_make_the_app_unavailable() {
    let mut a = app("/x", "x", vec![task("h", &[1, 2], true)]);
    a.labels.remove(LABEL_SCHEME);
    let mut b = app("/y", "y", vec![task("h", &[1, 2], true)]);
    b.labels.insert(LABEL_PORT_INDEX.into(), "two".into());
    let mut c = app("/z", "z", vec![task("h", &[1], true)]);
    c.labels.insert(LABEL_PORT_INDEX.into(), "5".into());
    let t = RouteTable::build(&snap(vec![a, b, c], vec![]));
    for n in ["x", "y", "z"] {
        assert!(
            matches!(
                t.resolve(&format!("/service/{n}/")),
                Resolution::Unavailable(_)
            ),
            "{n}"
        );
    }
}

#[test]
fn marathon_unreadable_is_503_for_unknown_names() {
    let mut s = snap(vec![], vec![]);
    s.marathon_ok = false;
    let t = RouteTable::build(&s);
    assert!(matches!(
        t.resolve("/service/web/"),
        Resolution::Unavailable(_)
    ));
}

#[test]
fn reserved_names_never_resolve_from_apps_or_frameworks() {
    let t = RouteTable::build(&snap(
        vec![app("/m", "marathon", vec![task("h", &[1, 2], true)])],
        vec![Framework {
            id: "metronome".into(),
            name: "metronome".into(),
            webui_url: Some("http://10.0.0.9:80/".into()),
        }],
    ));
    assert_eq!(t.resolve("/service/marathon/v2"), Resolution::NotFound);
    assert_eq!(t.resolve("/service/metronome/v1"), Resolution::NotFound);
}

#[test]
fn rewrite_false_keeps_the_prefix_and_https_is_honoured() {
    let mut a = app("/k", "k", vec![task("h", &[1, 2], true)]);
    a.labels.insert(LABEL_REWRITE.into(), "false".into());
    a.labels.insert(LABEL_SCHEME.into(), "HTTPS".into());
    let t = RouteTable::build(&snap(vec![a], vec![]));
    let s = found(t.resolve("/service/k/a"));
    assert!(!s.strip_prefix);
    assert_eq!(s.upstreams[0].scheme, Scheme::Https);
    assert_eq!(
        upstream_path(&s, &s.upstreams[0], "/service/k/a?q"),
        "/service/k/a?q"
    );
}

#[test]
fn container_network_apps_use_the_task_ip_and_container_port() {
    let mut a = app("/c", "c", vec![]);
    a.container_ports = Some(vec![80, 8080]);
    a.tasks.push(AppTask {
        host: "agent1".into(),
        ip: Some(IpAddr::V4(core::net::Ipv4Addr::new(9, 0, 0, 5))),
        ports: vec![],
        running: true,
    });
    let t = RouteTable::build(&snap(vec![a], vec![]));
    let s = found(t.resolve("/service/c/"));
    assert_eq!(
        (s.upstreams[0].host.as_str(), s.upstreams[0].port),
        ("9.0.0.5", 8080)
    );
}

#[test]
fn frameworks_resolve_by_id_then_name_with_webui_url_or_srv() {
    let fws = vec![
        Framework {
            id: "fw-1".into(),
            name: "spark".into(),
            webui_url: Some("http://10.0.0.3:4040/".into()),
        },
        Framework {
            id: "fw-2".into(),
            name: "kafka".into(),
            webui_url: Some(String::new()),
        },
        Framework {
            id: "fw-3".into(),
            name: "hidden".into(),
            webui_url: None,
        },
        Framework {
            id: "fw-4".into(),
            name: "ui".into(),
            webui_url: Some("https://[::1]:8443/ui/".into()),
        },
    ];
    let mut s = snap(vec![], fws);
    s.srv.push(SrvRecord {
        name: "_kafka._tcp.marathon.mesos".into(),
        host: "10.0.0.4".into(),
        port: 31999,
    });
    let t = RouteTable::build(&s);
    let by_id = found(t.resolve("/service/fw-1/jobs"));
    assert_eq!(
        (by_id.upstreams[0].host.as_str(), by_id.upstreams[0].port),
        ("10.0.0.3", 4040)
    );
    assert_eq!(by_id.upstreams[0].base_path, "");
    let by_name = found(t.resolve("/service/spark/jobs"));
    assert_eq!(by_name.id, "spark");
    let srv = found(t.resolve("/service/kafka/"));
    assert_eq!(
        (srv.upstreams[0].host.as_str(), srv.upstreams[0].port),
        ("10.0.0.4", 31999)
    );
    assert_eq!(t.resolve("/service/hidden/"), Resolution::NotFound);
    let ui = found(t.resolve("/service/ui/x"));
    assert_eq!(ui.upstreams[0].host, "::1");
    assert_eq!(ui.upstreams[0].scheme, Scheme::Https);
    assert_eq!(
        upstream_path(&ui, &ui.upstreams[0], "/service/ui/x"),
        "/ui/x"
    );
}

#[test]
fn only_frameworks_with_an_empty_webui_url_need_srv_names() {
    let fw = |name: &str, url: Option<&str>| Framework {
        id: format!("id-{name}"),
        name: name.into(),
        webui_url: url.map(String::from),
    };
    let fws = vec![
        fw("kafka", Some("")),
        fw("spark", Some("http://10.0.0.3:4040/")),
        fw("hidden", None),
        fw("kafka", Some("")),
        fw("cassandra", Some("")),
    ];
    assert_eq!(
        srv_names(&fws),
        [
            "_cassandra._tcp.marathon.mesos",
            "_kafka._tcp.marathon.mesos"
        ]
    );
    // The names the snapshot is filled from are the ones resolution looks for.
    let mut s = snap(vec![], fws.clone());
    for name in srv_names(&fws) {
        s.srv.push(SrvRecord {
            name,
            host: "127.0.0.9".into(),
            port: 31500,
        });
    }
    let t = RouteTable::build(&s);
    for id in ["kafka", "cassandra"] {
        let svc = found(t.resolve(&format!("/service/{id}/x")));
        assert_eq!(
            (svc.upstreams[0].host.as_str(), svc.upstreams[0].port),
            ("127.0.0.9", 31500)
        );
    }
    assert_eq!(t.resolve("/service/hidden/"), Resolution::NotFound);
}

#[test]
fn an_app_wins_over_a_framework_of_the_same_name() {
    let t = RouteTable::build(&snap(
        vec![app("/s", "spark", vec![task("10.1.1.1", &[1, 2], true)])],
        vec![Framework {
            id: "x".into(),
            name: "spark".into(),
            webui_url: Some("http://10.0.0.3:4040".into()),
        }],
    ));
    assert_eq!(
        found(t.resolve("/service/spark/")).upstreams[0].host,
        "10.1.1.1"
    );
}

#[test]
fn location_is_rewritten_as_admin_router_does() {
    let r = |l| rewrite_location(l, "http", "cluster:80", "web");
    assert_eq!(r("/login").as_deref(), Some("/service/web/login"));
    assert_eq!(r("/").as_deref(), Some("/service/web/"));
    assert_eq!(
        r("http://cluster:80/a?b").as_deref(),
        Some("/service/web/a?b")
    );
    assert_eq!(
        r("http://cluster:80/service/web/a").as_deref(),
        Some("/service/web/a")
    );
    assert_eq!(r("/service/web/a"), None);
    assert_eq!(r("http://elsewhere/a"), None);
    assert_eq!(r("//elsewhere/a"), None);
    assert_eq!(r("relative"), None);
    assert_eq!(
        rewrite_refresh("0; url=/next", "http", "cluster:80", "web").as_deref(),
        Some("0; url=/service/web/next")
    );
    assert_eq!(rewrite_refresh("5", "http", "h", "web"), None);
}

#[test]
fn webui_urls_parse_strictly() {
    assert!(parse_url("ftp://h/").is_none());
    assert!(parse_url("http://:80/").is_none());
    assert!(parse_url("http://h:notaport/").is_none());
    let u = parse_url("http://h").expect("plain host");
    assert_eq!((u.host.as_str(), u.port), ("h", 80));
}
