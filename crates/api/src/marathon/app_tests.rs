//! Data-driven tests of app normalization and validation: JSON in, normalized JSON or the
//! violation list out.

use super::app::{AppDefinition, AppUpdate, parse_app_update};
use super::error::Validation;
use super::path_id::PathId;
use super::time::Timestamp;
use expect_test::{Expect, expect};

fn update(json: &str) -> AppUpdate {
    parse_app_update(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn render(result: Result<AppDefinition, Validation>) -> String {
    match result {
        Ok(app) => serde_json::to_string_pretty(&app).unwrap(),
        Err(v) => violations(&v),
    }
}

fn violations(v: &Validation) -> String {
    let lines: Vec<String> = v
        .details
        .iter()
        .map(|d| format!("{}: {}", d.path, d.errors.join(" | ")))
        .collect();
    lines.join("\n")
}

fn check_create(json: &str, expect: Expect) {
    expect.assert_eq(&render(AppDefinition::create(
        update(json),
        &PathId::root(),
    )));
}

fn check_apply(base: &str, patch: &str, expect: Expect) {
    let app = AppDefinition::create(update(base), &PathId::root()).unwrap();
    let before = serde_json::to_value(&app).unwrap();
    let after = match app.apply(&update(patch)) {
        Ok(a) => serde_json::to_value(&a).unwrap(),
        Err(v) => return expect.assert_eq(&violations(&v)),
    };
    expect.assert_eq(&json_diff(&before, &after));
}

/// The top-level keys whose values differ, as `key: old -> new`.
fn json_diff(before: &serde_json::Value, after: &serde_json::Value) -> String {
    let (b, a) = (before.as_object().unwrap(), after.as_object().unwrap());
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    let lines: Vec<String> = keys
        .into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| format!("{k}: {} -> {}", fmt(b.get(k)), fmt(a.get(k))))
        .collect();
    if lines.is_empty() {
        "no change".into()
    } else {
        lines.join("\n")
    }
}

fn fmt(v: Option<&serde_json::Value>) -> String {
    v.map_or("<absent>".into(), |v| v.to_string())
}

#[test]
fn create_fills_every_default() {
    check_create(
        r#"{"id": "web", "cmd": "python3 -m http.server $PORT0", "tasksRunning": 3, "unknownField": {}}"#,
        expect![[r#"
            {
              "id": "/web",
              "cmd": "python3 -m http.server $PORT0",
              "args": null,
              "env": {},
              "instances": 1,
              "cpus": 1.0,
              "mem": 128.0,
              "disk": 0.0,
              "gpus": 0,
              "executor": "",
              "constraints": [],
              "fetch": [],
              "portDefinitions": [
                {
                  "port": 0,
                  "protocol": "tcp",
                  "name": "default"
                }
              ],
              "requirePorts": false,
              "backoffSeconds": 1,
              "backoffFactor": 1.15,
              "maxLaunchDelaySeconds": 300,
              "container": null,
              "healthChecks": [],
              "readinessChecks": [],
              "dependencies": [],
              "upgradeStrategy": {
                "minimumHealthCapacity": 1.0,
                "maximumOverCapacity": 1.0
              },
              "labels": {},
              "networks": [
                {
                  "mode": "host"
                }
              ],
              "secrets": {},
              "unreachableStrategy": {
                "inactiveAfterSeconds": 0,
                "expungeAfterSeconds": 0
              },
              "killSelection": "YOUNGEST_FIRST",
              "role": "*",
              "version": "1970-01-01T00:00:00.000Z",
              "versionInfo": {
                "lastScalingAt": "1970-01-01T00:00:00.000Z",
                "lastConfigChangeAt": "1970-01-01T00:00:00.000Z"
              }
            }"#]],
    );
}

#[test]
fn create_resolves_relative_ids_against_the_group() {
    let u = update(r#"{"id": "../db", "cmd": "x", "dependencies": ["cache", "/other"]}"#);
    let app = AppDefinition::create(u, &PathId::parse("/prod/web").unwrap()).unwrap();
    assert_eq!(app.id.to_string(), "/prod/db");
    let deps: Vec<String> = app.dependencies.iter().map(ToString::to_string).collect();
    assert_eq!(deps, ["/prod/web/cache", "/other"]);
}

#[test]
fn docker_bridge_app_gets_port_mappings_and_no_port_definitions() {
    check_create(
        r#"{"id": "/nginx", "container": {"type": "DOCKER", "docker": {"image": "nginx", "network": "BRIDGE",
            "portMappings": [{"containerPort": 80}]}}, "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/"}]}"#,
        expect![[r#"
            {
              "id": "/nginx",
              "cmd": null,
              "args": null,
              "env": {},
              "instances": 1,
              "cpus": 1.0,
              "mem": 128.0,
              "disk": 0.0,
              "gpus": 0,
              "executor": "",
              "constraints": [],
              "fetch": [],
              "portDefinitions": [],
              "requirePorts": false,
              "backoffSeconds": 1,
              "backoffFactor": 1.15,
              "maxLaunchDelaySeconds": 300,
              "container": {
                "type": "DOCKER",
                "docker": {
                  "image": "nginx",
                  "forcePullImage": false,
                  "privileged": false,
                  "parameters": []
                },
                "volumes": [],
                "portMappings": [
                  {
                    "containerPort": 80,
                    "hostPort": 0,
                    "servicePort": 0,
                    "protocol": "tcp"
                  }
                ]
              },
              "healthChecks": [
                {
                  "protocol": "MESOS_HTTP",
                  "path": "/",
                  "portIndex": 0,
                  "gracePeriodSeconds": 300,
                  "intervalSeconds": 60,
                  "timeoutSeconds": 20,
                  "maxConsecutiveFailures": 3,
                  "delaySeconds": 15,
                  "ignoreHttp1xx": false,
                  "ipProtocol": "IPv4"
                }
              ],
              "readinessChecks": [],
              "dependencies": [],
              "upgradeStrategy": {
                "minimumHealthCapacity": 1.0,
                "maximumOverCapacity": 1.0
              },
              "labels": {},
              "networks": [
                {
                  "mode": "container/bridge"
                }
              ],
              "secrets": {},
              "unreachableStrategy": {
                "inactiveAfterSeconds": 0,
                "expungeAfterSeconds": 0
              },
              "killSelection": "YOUNGEST_FIRST",
              "role": "*",
              "version": "1970-01-01T00:00:00.000Z",
              "versionInfo": {
                "lastScalingAt": "1970-01-01T00:00:00.000Z",
                "lastConfigChangeAt": "1970-01-01T00:00:00.000Z"
              }
            }"#]],
    );
}

fn check_fields(json: &str, fields: &[&str], expect: Expect) {
    let app = AppDefinition::create(update(json), &PathId::root())
        .unwrap_or_else(|v| panic!("{}", violations(&v)));
    let value = serde_json::to_value(&app).unwrap();
    let lines: Vec<String> = fields
        .iter()
        .map(|f| format!("{f}: {}", fmt(value.get(*f))))
        .collect();
    expect.assert_eq(&lines.join("\n"));
}

#[test]
fn deprecated_fields_are_translated() {
    check_fields(
        r#"{"id": "/a", "cmd": "x", "ports": [0, 8080], "uris": ["http://h/a.tgz", "http://h/b.jar"]}"#,
        &["portDefinitions", "fetch"],
        expect![[r#"
            portDefinitions: [{"port":0,"protocol":"tcp"},{"port":8080,"protocol":"tcp"}]
            fetch: [{"cache":false,"executable":false,"extract":true,"uri":"http://h/a.tgz"},{"cache":false,"executable":false,"extract":false,"uri":"http://h/b.jar"}]"#]],
    );
    check_fields(
        r#"{"id": "/a", "cmd": "x", "ipAddress": {"networkName": "dcos"}}"#,
        &["networks", "container", "portDefinitions"],
        expect![[r#"
            networks: [{"mode":"container","name":"dcos"}]
            container: {"portMappings":[{"containerPort":0,"name":"default","protocol":"tcp","servicePort":0}],"type":"MESOS","volumes":[]}
            portDefinitions: []"#]],
    );
    check_fields(
        r#"{"id": "/a", "cmd": "x", "constraints": [["hostname", "unique"], ["rack", "GROUP_BY", 3]], "args": []}"#,
        &["constraints", "args"],
        expect![[r#"
            constraints: [["hostname","UNIQUE"],["rack","GROUP_BY","3"]]
            args: null"#]],
    );
}

#[test]
fn checks_get_their_defaults() {
    check_fields(
        r#"{"id": "/a", "cmd": "x", "portDefinitions": [{"port": 0, "name": "http-api"}],
            "healthChecks": [{}, {"protocol": "COMMAND", "command": {"value": "true"}}],
            "readinessChecks": [{}]}"#,
        &["healthChecks", "readinessChecks"],
        expect![[r#"
            healthChecks: [{"delaySeconds":15,"gracePeriodSeconds":300,"ignoreHttp1xx":false,"intervalSeconds":60,"ipProtocol":"IPv4","maxConsecutiveFailures":3,"portIndex":0,"protocol":"HTTP","timeoutSeconds":20},{"command":{"value":"true"},"delaySeconds":15,"gracePeriodSeconds":300,"ignoreHttp1xx":false,"intervalSeconds":60,"ipProtocol":"IPv4","maxConsecutiveFailures":3,"protocol":"COMMAND","timeoutSeconds":20}]
            readinessChecks: [{"httpStatusCodesForReady":[200],"intervalSeconds":30,"name":"readinessCheck","path":"/","portName":"http-api","preserveLastResponse":false,"protocol":"HTTP","timeoutSeconds":10}]"#]],
    );
}

#[test]
fn resident_apps_get_resident_strategies() {
    check_fields(
        r#"{"id": "/db", "cmd": "x", "container": {"type": "MESOS", "volumes": [
            {"containerPath": "data", "persistent": {"size": 100}}]}}"#,
        &[
            "upgradeStrategy",
            "unreachableStrategy",
            "residency",
            "container",
        ],
        expect![[r#"
            upgradeStrategy: {"maximumOverCapacity":0.0,"minimumHealthCapacity":0.5}
            unreachableStrategy: "disabled"
            residency: {"relaunchEscalationTimeoutSeconds":3600,"taskLostBehavior":"WAIT_FOREVER"}
            container: {"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW","persistent":{"size":100}}]}"#]],
    );
}

#[test]
fn partial_update_keeps_fields_left_out() {
    let base = r#"{"id": "/web", "cmd": "serve", "instances": 2, "labels": {"a": "b"}, "env": {"X": "1"}}"#;
    check_apply(base, r#"{"instances": 5}"#, expect!["instances: 2 -> 5"]);
    check_apply(
        base,
        r#"{"id": "/elsewhere", "cmd": "serve --fast"}"#,
        expect![[r#"cmd: "serve" -> "serve --fast""#]],
    );
    check_apply(base, r#"{}"#, expect!["no change"]);
    check_apply(
        base,
        r#"{"networks": [{"mode": "container/bridge"}]}"#,
        expect![[r#"
            container: null -> {"portMappings":[{"containerPort":0,"hostPort":0,"name":"default","protocol":"tcp","servicePort":0}],"type":"MESOS","volumes":[]}
            networks: [{"mode":"host"}] -> [{"mode":"container/bridge"}]
            portDefinitions: [{"name":"default","port":0,"protocol":"tcp"}] -> []"#]],
    );
    check_apply(
        base,
        r#"{"args": ["x"]}"#,
        expect![
            "/: AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
        ],
    );
    check_apply(
        base,
        r#"{"instances": -1}"#,
        expect!["/instances: is less than 0"],
    );
}

#[test]
fn rollback_bodies_are_detected() {
    let cases = [
        (r#"{"version": "2015-09-30T09:09:17.614Z"}"#, true),
        (
            r#"{"id": "/a", "version": "2015-09-30T09:09:17.614Z"}"#,
            true,
        ),
        (
            r#"{"version": "2015-09-30T09:09:17.614Z", "cmd": "x"}"#,
            false,
        ),
        (r#"{"id": "/a"}"#, false),
        (r#"{"instances": 3}"#, false),
    ];
    for (json, want) in cases {
        assert_eq!(update(json).is_rollback(), want, "{json}");
    }
}

#[test]
fn is_upgrade_ignores_instances_and_versions() {
    let base =
        AppDefinition::create(update(r#"{"id": "/a", "cmd": "x"}"#), &PathId::root()).unwrap();
    let cases = [
        (r#"{"instances": 7}"#, false),
        (r#"{}"#, false),
        (r#"{"cmd": "y"}"#, true),
        (r#"{"labels": {"k": "v"}}"#, true),
        (r#"{"mem": 256}"#, true),
        (
            r#"{"upgradeStrategy": {"minimumHealthCapacity": 0.5}}"#,
            true,
        ),
        (r#"{"killSelection": "OLDEST_FIRST"}"#, true),
        (r#"{"role": "prod"}"#, true),
    ];
    for (patch, want) in cases {
        let next = base.apply(&update(patch)).unwrap();
        assert_eq!(base.is_upgrade(&next), want, "{patch}");
        assert_eq!(
            base.config_fingerprint() != next.config_fingerprint(),
            want,
            "{patch}"
        );
    }
    let restamped = base.clone().with_version(Timestamp(5), None);
    assert!(!base.is_upgrade(&restamped));
}

#[test]
fn with_version_tracks_config_changes() {
    let v1 = AppDefinition::create(update(r#"{"id": "/a", "cmd": "x"}"#), &PathId::root())
        .unwrap()
        .with_version(Timestamp(1000), None);
    let scaled = v1
        .apply(&update(r#"{"instances": 3}"#))
        .unwrap()
        .with_version(Timestamp(2000), Some(&v1));
    assert_eq!(scaled.version, Timestamp(2000));
    assert_eq!(scaled.version_info.last_scaling_at, Timestamp(2000));
    assert_eq!(scaled.version_info.last_config_change_at, Timestamp(1000));
    let changed = scaled
        .apply(&update(r#"{"cmd": "y"}"#))
        .unwrap()
        .with_version(Timestamp(3000), Some(&scaled));
    assert_eq!(changed.version_info.last_config_change_at, Timestamp(3000));
}

fn check_invalid(json: &str, expect: Expect) {
    match AppDefinition::create(update(json), &PathId::root()) {
        Ok(app) => panic!("accepted: {}", serde_json::to_string(&app).unwrap()),
        Err(v) => {
            assert_eq!(v.message, "Object is not valid");
            expect.assert_eq(&violations(&v));
        }
    }
}

#[test]
fn validation_rules() {
    check_invalid(
        r#"{"id": "/a"}"#,
        expect![
            "/: AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
        ],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "args": ["y"]}"#,
        expect![
            "/: AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
        ],
    );
    check_invalid(r#"{"cmd": "x"}"#, expect!["/id: error.path.missing"]);
    check_invalid(
        r#"{"id": "/", "cmd": "x"}"#,
        expect!["/id: Path must contain at least one path element"],
    );
    check_invalid(
        r#"{"id": "/My_App", "cmd": "x"}"#,
        expect![[
            r#"/id: must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$'"#
        ]],
    );
    check_invalid(
        r#"{"id": "/a/versions", "cmd": "x"}"#,
        expect![
            "/id: must not end with any of the following reserved keywords: restart, tasks, versions, ., .."
        ],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "cpus": -1, "mem": -5, "disk": -0.5, "instances": -1, "gpus": -2}"#,
        expect![[r#"
            /instances: is less than 0
            /cpus: is less than 0
            /mem: is less than 0
            /disk: is less than 0
            /gpus: is less than 0"#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "upgradeStrategy": {"minimumHealthCapacity": 1.5, "maximumOverCapacity": -0.1}}"#,
        expect![[r#"
            /upgradeStrategy/minimumHealthCapacity: is greater than 1
            /upgradeStrategy/maximumOverCapacity: is less than 0"#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "backoffFactor": 0.5, "backoffSeconds": -1, "maxLaunchDelaySeconds": -1,
            "taskKillGracePeriodSeconds": -3}"#,
        expect![[r#"
            /backoffSeconds: is less than 0
            /backoffFactor: is less than 1
            /maxLaunchDelaySeconds: is less than 0
            /taskKillGracePeriodSeconds: is less than 0"#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "version": "2015-09-30T09:09:17.614Z"}"#,
        expect!["/: The 'version' field may only be combined with the 'id' field."],
    );
}

#[test]
fn constraint_rules() {
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "constraints": [["hostname", "FOO"], ["hostname"], ["", "UNIQUE"],
            ["rack", "LIKE", "[a-"], ["rack", "MAX_PER", "x"], ["hostname", "UNIQUE", "x"], ["rack", "GROUP_BY", "y"],
            ["rack", "LIKE"], ["rack", "IS", "a b"], ["a", "b", "c", "d"], ["rack", "CLUSTER"], ["rack", "MAX_PER", "2"]]}"#,
        expect![[r#"
            /constraints(0): operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS
            /constraints(1): Each constraint must have either 2 or 3 fields
            /constraints(2): illegal constraint specification
            /constraints(3): is not a valid regular expression
            /constraints(4): MAX_PER requires an integer value
            /constraints(5): UNIQUE does not accept a value
            /constraints(6): GROUP BY must define an integer value or else no value at all
            /constraints(7): LIKE and UNLIKE require a non-empty, regular expression value
            /constraints(8): IS only supports Mesos text and float values (see http://mesos.apache.org/documentation/latest/attributes-resources/)
            /constraints(9): Each constraint must have either 2 or 3 fields"#]],
    );
}

#[test]
fn port_rules() {
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "networks": [{"mode": "container/bridge"}], "portDefinitions": [{"port": 0}]}"#,
        expect!["/: portDefinitions are only allowed with host-networking"],
    );
    check_invalid(
        r#"{"id": "/a", "container": {"type": "DOCKER", "docker": {"image": "x"}, "portMappings": [{"containerPort": 80}]}}"#,
        expect!["/: portMappings are not allowed with host-networking"],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "portDefinitions": [{"port": 80, "name": "a"}, {"port": 80, "name": "a", "protocol": "sctp"},
            {"port": 70000, "name": "Bad_Name"}]}"#,
        expect![[r#"
            /portDefinitions(1)/protocol: is not one of (tcp,udp,udp,tcp)
            /portDefinitions(2)/port: is greater than 65535
            /portDefinitions(2)/name: error.pattern
            /portDefinitions: Port names must be unique. | Ports must be unique."#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "ports": [80, 81], "portDefinitions": [{"port": 80}]}"#,
        expect!["/: cannot specify both ports and port definitions"],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "ports": [80, 80]}"#,
        expect![[r#"
        /: ports must be unique
        /portDefinitions: Ports must be unique."#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "uris": ["http://a"], "fetch": [{"uri": "http://b"}]}"#,
        expect!["/uris: may not be set in conjunction with fetch"],
    );
}

#[test]
fn check_rules() {
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "HTTP", "portIndex": 3}, {"protocol": "TCP", "intervalSeconds": -1},
            {"protocol": "COMMAND"}, {"protocol": "MESOS_TCP"}, {"protocol": "MESOS_HTTP", "ipProtocol": "IPv6"}]}"#,
        expect![[r#"
            /healthChecks(0): Health check port indices must address an element of the ports array or container port mappings.
            /healthChecks(1)/intervalSeconds: is less than 0
            /healthChecks(2)/command: not defined
            /healthChecks(4): IPv6 can only be used for container type DOCKER and Mesos http/https/tcp health checks
            /: AppDefinition can contain at most one Mesos health check"#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "readinessChecks": [{"portName": "nope", "timeoutSeconds": 40}, {}]}"#,
        expect![[r#"
            /readinessChecks: got 2, expected 1 or less
            /readinessChecks(0)/portName: No port definition reference for portName nope
            /readinessChecks(0)/timeoutSeconds: got 40, expected less than 30
            /readinessChecks(1)/portName: No port definition reference for portName http-api"#]],
    );
}

#[test]
fn container_rules() {
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "container": {"type": "DOCKER"}}"#,
        expect!["/container/docker: not defined"],
    );
    check_invalid(
        r#"{"id": "/a", "container": {"docker": {"image": ""}}, "gpus": 1}"#,
        expect![[r#"
            /: GPU resources only work with the Mesos containerizer
            /container/docker/image: must not be empty"#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "container": {"type": "MESOS", "docker": {"image": "i", "parameters": [{"key": "k"}]},
            "volumes": [{"containerPath": "/d/e", "persistent": {"size": 0}}, {"containerPath": "s", "secret": "nope"},
            {"containerPath": "c"}]}}"#,
        expect![[r#"
            /container/docker/parameters: must be empty
            /container/volumes(0)/containerPath: value must not contain "/"
            /container/volumes(0)/persistent/size: got 0, expected more than 0
            /container/volumes(1): volume.secret must refer to an existing secret
            /container/volumes(2): Unknown app volume type"#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "networks": [{"mode": "host", "name": "n"}, {"mode": "host"}]}"#,
        expect![[
            r#"/networks: Host networks may not have names or labels | May specify a single host network, single bridge network, or else 1-to-n container networks"#
        ]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "networks": [{"mode": "host"}], "container": {"docker": {"image": "i", "network": "HOST"}}}"#,
        expect!["/: must not specify both container.docker.network and networks"],
    );
}

#[test]
fn secret_and_strategy_rules() {
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "env": {"DB": {"secret": "dbpass"}, "OK": {"secret": "s"}},
            "secrets": {"s": {"source": "/vault/s"}, "empty": {"source": ""}}}"#,
        expect![[r#"
            /env/DB/secret: references an undefined secret
            /secrets/empty/source: must not be empty"#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "unreachableStrategy": {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 5}}"#,
        expect![
            "/unreachableStrategy/inactiveAfterSeconds: inactiveAfterSeconds (10) must be less or equal to expungeAfterSeconds, which is 5"
        ],
    );
    check_invalid(
        r#"{"id": "/db", "cmd": "x", "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
            "unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 2},
            "container": {"type": "MESOS", "volumes": [{"containerPath": "data", "persistent": {"size": 1}}]}}"#,
        expect![[r#"
            /upgradeStrategy/maximumOverCapacity: got 0.5, expected 0
            /: unreachableStrategy must be disabled for resident tasks"#]],
    );
    check_invalid(
        r#"{"id": "/a", "cmd": "x", "acceptedResourceRoles": [], "role": "", "executor": "a//b"}"#,
        expect![[r#"
            /role: must not be empty
            /acceptedResourceRoles: must not be empty
            /executor: error.pattern"#]],
    );
}

#[test]
fn every_violation_is_collected() {
    let v = AppDefinition::create(
        update(r#"{"id": "/A", "cpus": -1, "constraints": [["x"]], "upgradeStrategy": {"minimumHealthCapacity": 2}}"#),
        &PathId::root(),
    )
    .unwrap_err();
    let paths: Vec<&str> = v.details.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/cpus",
            "/id",
            "/",
            "/constraints(0)",
            "/upgradeStrategy/minimumHealthCapacity"
        ]
    );
}

#[test]
fn bad_json_is_a_400_with_a_path() {
    let err = parse_app_update(br#"{"id": "/a", "instances": "three"}"#).unwrap_err();
    assert_eq!(err.status, 400);
    expect![[r#"{"message":"Invalid JSON","details":[{"path":"/instances","errors":["error.expected.jsnumber"]}]}"#]]
        .assert_eq(&serde_json::to_string(&err).unwrap());
    let err =
        parse_app_update(br#"{"id": "/a", "healthChecks": [{"protocol": "SMTP"}]}"#).unwrap_err();
    assert_eq!(err.details.unwrap()[0].path, "/healthChecks(0)/protocol");
}

#[test]
fn integral_floats_are_accepted_for_counts() {
    assert_eq!(update(r#"{"instances": 3.0}"#).instances, Some(3));
    let err = parse_app_update(br#"{"instances": 2.5}"#).unwrap_err();
    assert_eq!(err.details.unwrap()[0].errors, ["error.expected.jsnumber"]);
}

#[test]
fn stored_apps_round_trip_through_json() {
    let body = r#"{"id": "/r", "args": ["a"], "user": "u", "env": {"S": {"secret": "s"}}, "secrets": {"s": {"source": "x"}},
        "constraints": [["rack", "LIKE", "r[0-9]"]], "acceptedResourceRoles": ["*"], "taskKillGracePeriodSeconds": 3,
        "container": {"type": "DOCKER", "docker": {"image": "i", "parameters": [{"key": "k", "value": "v"}]},
            "volumes": [{"containerPath": "/c", "hostPath": "/h", "mode": "RO"}]},
        "networks": [{"mode": "container", "name": "n", "labels": {"a": "b"}}], "unreachableStrategy": "disabled",
        "healthChecks": [{"protocol": "MESOS_TCP"}], "tty": true, "check": {"http": {"portIndex": 0}}}"#;
    let app = AppDefinition::create(update(body), &PathId::root())
        .unwrap()
        .with_version(Timestamp(42), None);
    let json = serde_json::to_string(&app).unwrap();
    let back: AppDefinition = serde_json::from_str(&json).unwrap();
    assert_eq!(back, app);
}
