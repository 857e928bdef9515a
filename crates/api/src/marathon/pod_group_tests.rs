//! Data-driven tests of pod normalization and validation, pod status shapes, and group
//! body resolution.

use super::error::Validation;
use super::group::{GroupChange, parse_group_update};
use super::path_id::PathId;
use super::pod::parse_pod;
use super::pod_status::{
    Goal, Instance, InstanceState, PodInstanceState, PodInstanceStatus, PodState, PodStatus,
};
use super::spec::UnreachableStrategy;
use super::time::Timestamp;
use expect_test::{Expect, expect};

fn violations(v: &Validation) -> String {
    let lines: Vec<String> = v
        .details
        .iter()
        .map(|d| format!("{}: {}", d.path, d.errors.join(" | ")))
        .collect();
    lines.join("\n")
}

fn check_pod(json: &str, expect: Expect) {
    let pod = parse_pod(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
    let out = match pod.normalize() {
        Ok(p) => serde_json::to_string_pretty(&p).unwrap(),
        Err(v) => violations(&v),
    };
    expect.assert_eq(&out);
}

#[test]
fn pod_defaults() {
    check_pod(
        r#"{"id": "web", "containers": [{"name": "nginx", "image": {"kind": "DOCKER", "id": "nginx"},
            "endpoints": [{"name": "http"}], "resources": {"cpus": 0.5}}],
            "scheduling": {"placement": {"constraints": [{"fieldName": "hostname", "operator": "unique"}]}}}"#,
        expect![[r#"
            {
              "id": "/web",
              "containers": [
                {
                  "name": "nginx",
                  "resources": {
                    "cpus": 0.5,
                    "mem": 128.0,
                    "disk": 0.0,
                    "gpus": 0
                  },
                  "endpoints": [
                    {
                      "name": "http",
                      "hostPort": 0
                    }
                  ],
                  "image": {
                    "kind": "DOCKER",
                    "id": "nginx"
                  },
                  "volumeMounts": [],
                  "artifacts": []
                }
              ],
              "volumes": [],
              "networks": [
                {
                  "mode": "host"
                }
              ],
              "scaling": {
                "kind": "fixed",
                "instances": 1
              },
              "scheduling": {
                "backoff": {
                  "backoff": 1.0,
                  "backoffFactor": 1.15,
                  "maxLaunchDelay": 300.0
                },
                "upgrade": {
                  "minimumHealthCapacity": 1.0,
                  "maximumOverCapacity": 1.0
                },
                "placement": {
                  "constraints": [
                    {
                      "fieldName": "hostname",
                      "operator": "UNIQUE"
                    }
                  ]
                },
                "killSelection": "YOUNGEST_FIRST",
                "unreachableStrategy": {
                  "inactiveAfterSeconds": 0,
                  "expungeAfterSeconds": 0
                }
              },
              "role": "*"
            }"#]],
    );
}

#[test]
fn resident_pods_get_resident_strategies() {
    let pod = parse_pod(
        br#"{"id": "/db", "containers": [{"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}],
            "volumes": [{"name": "data", "persistent": {"size": 10}}]}"#,
    )
    .unwrap()
    .normalize()
    .unwrap();
    let s = &pod.scheduling;
    assert_eq!(
        s.upgrade
            .map(|u| (u.minimum_health_capacity, u.maximum_over_capacity)),
        Some((0.5, 0.0))
    );
    assert_eq!(s.unreachable_strategy, Some(UnreachableStrategy::Disabled));
}

#[test]
fn pod_validation_rules() {
    check_pod(
        r#"{"id": "/p", "containers": []}"#,
        expect!["/containers: must not be empty"],
    );
    check_pod(
        r#"{"id": "/P", "containers": [{"name": "a", "resources": {"cpus": -1},
              "endpoints": [{"name": "http", "containerPort": 80}, {"name": "http"}],
              "healthCheck": {"http": {"endpoint": "nope"}, "tcp": {"endpoint": "http"}, "timeoutSeconds": 90},
              "volumeMounts": [{"name": "missing", "mountPath": ""}], "environment": {"S": {"secret": "x"}},
              "exec": {"command": {}}},
            {"name": "a"}],
            "volumes": [{"name": "unused"}, {"name": "unused"}],
            "scaling": {"kind": "fixed", "instances": -1},
            "scheduling": {"upgrade": {"minimumHealthCapacity": 2}, "placement": {"constraints": [{"fieldName": "rack", "operator": "LIKE"}]}}}"#,
        expect![[r#"
            /id: must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$'
            /volumes(0): volume must be referenced by at least one container
            /volumes(1): volume must be referenced by at least one container
            /volumes: volume names must be unique
            /containers: container names must be unique
            /containers(0)/resources/cpus: is less than 0
            /containers(0)/exec/command: must specify exactly one of shell or argv
            /containers(0)/endpoints(0)/containerPort: is not allowed when using host-mode networking
            /containers(0)/healthCheck: Only one of http, tcp, or command may be specified
            /containers(0)/healthCheck/http/endpoint: contained in the container endpoints
            /containers(0)/healthCheck/timeoutSeconds: got 90, expected less than 60
            /containers(0)/environment/S/secret: references an undefined secret
            /containers(0)/volumeMounts(0)/name: Referenced Volume in VolumeMount should exist
            /containers(0)/volumeMounts(0)/mountPath: must not be empty
            /scaling/instances: is less than 0
            /scheduling/upgrade/minimumHealthCapacity: is greater than 1
            /scheduling/placement/constraints(0): LIKE and UNLIKE require a non-empty, regular expression value
            /: endpoint names nust be unique across all containers"#]],
    );
    // A volume name becomes a directory name on the agent.
    check_pod(
        r#"{"id": "/p", "containers": [{"name": "a", "volumeMounts": [{"name": "../x", "mountPath": "d"}]}],
            "volumes": [{"name": "../x"}]}"#,
        expect!["/volumes(0)/name: error.pattern"],
    );
    check_pod(
        r#"{"id": "/p", "networks": [{"mode": "container", "name": "dcos"}],
            "containers": [{"name": "a", "endpoints": [{"name": "http"}]}]}"#,
        expect![
            "/containers(0)/endpoints(0)/containerPort: is required when using container-mode networking"
        ],
    );
}

#[test]
fn pod_body_id_must_match_the_path() {
    let pod = parse_pod(br#"{"id": "/bla", "containers": [{"name": "a"}]}"#).unwrap();
    let err = pod.check_id(&PathId::parse("/foo").unwrap()).unwrap_err();
    assert_eq!(err.status, 400);
    assert_eq!(
        err.message,
        "'/foo' does not match definition's id ('/bla')"
    );
    assert!(pod.check_id(&PathId::parse("/bla").unwrap()).is_ok());
    let relative = parse_pod(br#"{"id": "bla", "containers": [{"name": "a"}]}"#).unwrap();
    assert!(relative.check_id(&PathId::parse("/bla").unwrap()).is_ok());
}

#[test]
fn pod_status_and_instance_shapes() {
    let spec = parse_pod(br#"{"id": "/p", "containers": [{"name": "a"}]}"#)
        .unwrap()
        .normalize()
        .unwrap();
    let status = PodStatus {
        id: "/p".into(),
        spec,
        status: PodState::Stable,
        status_since: Timestamp(0),
        message: None,
        instances: vec![PodInstanceStatus {
            id: "p.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6".into(),
            status: PodInstanceState::Stable,
            status_since: Timestamp(0),
            message: None,
            agent_hostname: Some("agent-1".into()),
            agent_id: Some("S0".into()),
            agent_region: None,
            agent_zone: None,
            resources: None,
            networks: Vec::new(),
            containers: Vec::new(),
            spec_reference: Some("/v2/pods/p::versions/1970-01-01T00:00:00.000Z".into()),
            local_volumes: Vec::new(),
            last_updated: Timestamp(0),
            last_changed: Timestamp(0),
            role: "*".into(),
        }],
        termination_history: Vec::new(),
        last_updated: Timestamp(0),
        last_changed: Timestamp(0),
    };
    let json = serde_json::to_value(&status).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "instances",
            "lastChanged",
            "lastUpdated",
            "spec",
            "status",
            "statusSince"
        ]
    );
    assert_eq!(json["instances"][0]["status"], "STABLE");
    let instance = Instance {
        instance_id: "p.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6".into(),
        state: InstanceState {
            condition: "Killing".into(),
            since: Timestamp(0),
            active_since: None,
            healthy: None,
            goal: Goal::Stopped,
        },
        agent_info: None,
        run_spec_version: Timestamp(0),
        unreachable_strategy: UnreachableStrategy::DEFAULT,
    };
    expect![[r#"{"instanceId":"p.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6","state":{"condition":"Killing","since":"1970-01-01T00:00:00.000Z","goal":"Stopped"},"runSpecVersion":"1970-01-01T00:00:00.000Z","unreachableStrategy":{"inactiveAfterSeconds":0,"expungeAfterSeconds":0}}"#]]
        .assert_eq(&serde_json::to_string(&instance).unwrap());
}

fn check_group(json: &str, base: &str, expect: Expect) {
    let update = parse_group_update(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
    let out = match update.resolve(&PathId::parse(base).unwrap()) {
        Ok(spec) => {
            let mut lines = vec![format!(
                "group {} deps={:?}",
                spec.id,
                spec.dependencies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            )];
            let mut stack = vec![&spec];
            while let Some(g) = stack.pop() {
                lines.extend(g.apps.iter().map(|a| {
                    format!(
                        "app {} in {} deps={:?}",
                        a.id,
                        g.id,
                        a.dependencies
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                    )
                }));
                lines.extend(
                    g.groups
                        .iter()
                        .map(|c| format!("group {} in {}", c.id, g.id)),
                );
                stack.extend(g.groups.iter());
            }
            lines.join("\n")
        }
        Err(v) => violations(&v),
    };
    expect.assert_eq(&out);
}

#[test]
fn group_bodies_resolve_relative_ids() {
    check_group(
        r#"{"id": "prod", "dependencies": ["../infra"], "apps": [{"id": "web", "cmd": "x", "dependencies": ["db"]}],
            "groups": [{"id": "db", "apps": [{"id": "/prod/db/pg", "cmd": "x"}]}]}"#,
        "/",
        expect![[r#"
            group /prod deps=["/infra"]
            app /prod/web in /prod deps=["/prod/db"]
            group /prod/db in /prod
            app /prod/db/pg in /prod/db deps=[]"#]],
    );
    check_group(
        r#"{"apps": [{"id": "a", "cmd": "x"}]}"#,
        "/g",
        expect![[r#"
        group /g deps=[]
        app /g/a in /g deps=[]"#]],
    );
}

#[test]
fn group_body_violations_carry_nested_paths() {
    check_group(
        r#"{"id": "/prod", "apps": [{"id": "/other/web", "cmd": "x"}, {"id": "ok"}, {"id": "dup", "cmd": "x"}],
            "groups": [{"id": "/elsewhere"}, {}, {"id": "dup", "dependencies": ["Bad"]}]}"#,
        "/",
        expect![[r#"
            /apps(0)/id: Identifier is not child of '/prod'
            /apps(1): AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.
            /groups(0)/id: Identifier is not child of '/prod'
            /groups(1)/id: error.path.missing
            /groups(2)/dependencies(0): must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$'
            /: Groups and Applications may not have the same identifier."#]],
    );
}

#[test]
fn group_change_kinds() {
    let parse = |json: &str| parse_group_update(json.as_bytes()).unwrap().change();
    assert_eq!(parse(r#"{"scaleBy": 2.5}"#), GroupChange::ScaleBy(2.5));
    let ts = Timestamp::parse("2015-09-30T09:09:17.614Z").unwrap();
    assert_eq!(
        parse(r#"{"scaleBy": 2, "version": "2015-09-30T09:09:17.614Z"}"#),
        GroupChange::Rollback(ts)
    );
    assert_eq!(parse(r#"{"id": "/g"}"#), GroupChange::Update);
    assert_eq!(parse_group_update(b"[]").unwrap_err().status, 400);
}

/// Issue 22: serde reads a struct from an array, so `scaling: []` created a pod with the
/// default scaling; Marathon answers 400 `error.expected.jsobject`.
#[test]
fn arrays_where_objects_belong_are_invalid_json() {
    let pod = r#""id":"/p","containers":[{"name":"c","resources":{"cpus":0.1,"mem":32}}]"#;
    for (extra, path) in [
        (r#""scaling": []"#, "/scaling"),
        (r#""scheduling": []"#, "/scheduling"),
        (
            r#""scheduling": {"placement": []}"#,
            "/scheduling/placement",
        ),
        (
            r#""scheduling": {"backoff": [1, 2, 3]}"#,
            "/scheduling/backoff",
        ),
        (r#""scheduling": {"upgrade": []}"#, "/scheduling/upgrade"),
    ] {
        let body = format!("{{{pod},{extra}}}");
        let e = parse_pod(body.as_bytes()).expect_err(&body);
        assert_eq!(e.status, 400, "{body}");
        let details = e.details.unwrap_or_default();
        assert_eq!(details[0].path, path, "{body}");
        assert_eq!(details[0].errors, ["error.expected.jsobject"], "{body}");
    }
    let app = br#"{"id":"/g","apps":[{"id":"a","cmd":"x","upgradeStrategy":[]}]}"#;
    let e = parse_group_update(app).expect_err("upgradeStrategy list");
    let details = e.details.unwrap_or_default();
    assert_eq!(details[0].path, "/apps(0)/upgradeStrategy");
}
