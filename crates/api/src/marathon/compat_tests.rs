//! Client-compatibility tests: every response and event shape, fully populated, checked
//! against the key sets marathon-python 0.13.0's models accept (reference §5.2; an
//! unknown key is a `TypeError` there), the keys dcoscli 0.6.1 indexes directly, the
//! timestamp format, and the SSE framing.

use super::app::{AppDefinition, parse_app_update};
use super::app_info::{
    AppInfo, LifeTime, StatsCounts, TaskCounts, TaskStats, TaskStatsByVersion, TaskStatsEntry,
};
use super::checks::{
    HealthCheck, HealthCheckProtocol, ReadinessCheckResult, ReadinessHttpResponse,
};
use super::deployment::{
    ActionName, DeploymentAction, DeploymentInfo, DeploymentRef, DeploymentStep, EventPlan,
};
use super::events::Event;
use super::group::GroupInfo;
use super::misc::{
    HttpConfig, Info, MarathonConfig, ProcessedOffersSummary, QueueDelay, QueueItem, QueuedRunSpec,
    RejectSummary, ZookeeperConfig,
};
use super::path_id::PathId;
use super::task::{HealthResult, IpAddress, LocalVolume, MarathonTask, TaskFailure};
use super::time::Timestamp;
use keel_model::TaskState;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const APP_KEYS: &[&str] = &[
    "acceptedResourceRoles",
    "args",
    "backoffFactor",
    "backoffSeconds",
    "cmd",
    "constraints",
    "container",
    "cpus",
    "dependencies",
    "deployments",
    "disk",
    "env",
    "executor",
    "healthChecks",
    "id",
    "role",
    "instances",
    "killSelection",
    "labels",
    "lastTaskFailure",
    "maxLaunchDelaySeconds",
    "mem",
    "ports",
    "requirePorts",
    "storeUrls",
    "taskRateLimit",
    "tasks",
    "tasksRunning",
    "tasksStaged",
    "tasksHealthy",
    "taskKillGracePeriodSeconds",
    "tasksUnhealthy",
    "upgradeStrategy",
    "unreachableStrategy",
    "uris",
    "user",
    "version",
    "versionInfo",
    "ipAddress",
    "fetch",
    "taskStats",
    "readinessChecks",
    "readinessCheckResults",
    "secrets",
    "portDefinitions",
    "residency",
    "gpus",
    "networks",
];
const TASK_KEYS: &[&str] = &[
    "appId",
    "healthCheckResults",
    "host",
    "id",
    "ports",
    "servicePorts",
    "slaveId",
    "stagedAt",
    "startedAt",
    "version",
    "ipAddresses",
    "state",
    "localVolumes",
    "region",
    "zone",
    "role",
];
const HEALTH_KEYS: &[&str] = &[
    "alive",
    "consecutiveFailures",
    "firstSuccess",
    "lastFailure",
    "lastSuccess",
    "taskId",
    "lastFailureCause",
    "instanceId",
];
const FAILURE_KEYS: &[&str] = &[
    "appId",
    "host",
    "message",
    "taskId",
    "instanceId",
    "slaveId",
    "state",
    "timestamp",
    "version",
];
const DEPLOYMENT_KEYS: &[&str] = &[
    "id",
    "version",
    "affectedApps",
    "affectedPods",
    "steps",
    "currentActions",
    "currentStep",
    "totalSteps",
];
const ACTION_KEYS: &[&str] = &[
    "action",
    "app",
    "apps",
    "type",
    "readinessCheckResults",
    "pod",
];
const CONTAINER_KEYS: &[&str] = &["docker", "type", "portMappings", "volumes"];
const PORT_MAPPING_KEYS: &[&str] = &[
    "name",
    "containerPort",
    "hostPort",
    "servicePort",
    "protocol",
    "labels",
];
const VOLUME_KEYS: &[&str] = &[
    "containerPath",
    "hostPath",
    "mode",
    "persistent",
    "external",
];
const UPGRADE_KEYS: &[&str] = &["maximumOverCapacity", "minimumHealthCapacity"];
const UNREACHABLE_KEYS: &[&str] = &[
    "inactiveAfterSeconds",
    "expungeAfterSeconds",
    "unreachableInactiveAfterSeconds",
    "unreachableExpungeAfterSeconds",
];
const READINESS_KEYS: &[&str] = &[
    "name",
    "protocol",
    "path",
    "portName",
    "intervalSeconds",
    "httpStatusCodesForReady",
    "preserveLastResponse",
    "timeoutSeconds",
];
const PORT_DEFINITION_KEYS: &[&str] = &["port", "protocol", "name", "labels"];
const SECRET_KEYS: &[&str] = &["source"];
const VERSION_INFO_KEYS: &[&str] = &["lastScalingAt", "lastConfigChangeAt"];
const GROUP_KEYS: &[&str] = &["apps", "dependencies", "groups", "id", "pods", "version"];
const QUEUE_KEYS: &[&str] = &[
    "app",
    "overdue",
    "count",
    "delay",
    "since",
    "processedOffersSummary",
    "lastUnusedOffers",
];
const DELAY_KEYS: &[&str] = &["timeLeftSeconds", "overdue"];
const INFO_KEYS: &[&str] = &[
    "event_subscriber",
    "frameworkId",
    "http_config",
    "leader",
    "marathon_config",
    "name",
    "version",
    "elected",
    "zookeeper_config",
    "buildref",
];
const MARATHON_CONFIG_KEYS: &[&str] = &[
    "checkpoint",
    "executor",
    "failover_timeout",
    "framework_name",
    "ha",
    "hostname",
    "leader_proxy_connection_timeout_ms",
    "leader_proxy_read_timeout_ms",
    "local_port_min",
    "local_port_max",
    "maintenance_mode",
    "master",
    "mesos_leader_ui_url",
    "mesos_role",
    "mesos_user",
    "new_group_enforce_role",
    "webui_url",
    "reconciliation_initial_delay",
    "reconciliation_interval",
    "task_launch_timeout",
    "marathon_store_timeout",
    "task_reservation_timeout",
    "features",
    "access_control_allow_origin",
    "decline_offer_duration",
    "default_network_name",
    "env_vars_prefix",
    "launch_token",
    "launch_token_refresh_interval",
    "max_instances_per_offer",
    "mesos_bridge_name",
    "mesos_heartbeat_failure_threshold",
    "mesos_heartbeat_interval",
    "min_revive_offers_interval",
    "offer_matching_timeout",
    "on_elected_prepare_timeout",
    "revive_offers_for_new_apps",
    "revive_offers_repetitions",
    "scale_apps_initial_delay",
    "scale_apps_interval",
    "store_cache",
    "task_launch_confirm_timeout",
    "task_lost_expunge_initial_delay",
    "task_lost_expunge_interval",
];
const ZK_KEYS: &[&str] = &[
    "zk",
    "zk_future_timeout",
    "zk_hosts",
    "zk_max_versions",
    "zk_path",
    "zk_session_timeout",
    "zk_state",
    "zk_timeout",
    "zk_connection_timeout",
    "zk_compression",
    "zk_compression_threshold",
    "zk_max_node_size",
];
const HTTP_CONFIG_KEYS: &[&str] = &["assets_path", "http_port", "https_port"];
const PLAN_KEYS: &[&str] = &["original", "target", "steps", "id", "version"];
const PLAN_GROUP_KEYS: &[&str] = &["dependencies", "apps", "id", "version", "groups", "pods"];
const TASK_STATS_KEYS: &[&str] = &[
    "startedAfterLastScaling",
    "withLatestConfig",
    "withOutdatedConfig",
    "totalSummary",
];
/// Event types marathon-python 0.13.0's `EventFactory` knows.
const KNOWN_EVENT_TYPES: &[&str] = &[
    "api_post_event",
    "status_update_event",
    "framework_message_event",
    "subscribe_event",
    "unsubscribe_event",
    "add_health_check_event",
    "remove_health_check_event",
    "failed_health_check_event",
    "health_status_changed_event",
    "unhealthy_task_kill_event",
    "group_change_success",
    "group_change_failed",
    "deployment_success",
    "deployment_failed",
    "deployment_info",
    "deployment_step_success",
    "deployment_step_failure",
    "event_stream_attached",
    "event_stream_detached",
    "app_terminated_event",
    "instance_changed_event",
    "unknown_instance_terminated_event",
    "unhealthy_instance_kill_event",
    "instance_health_changed_event",
    "pod_created_event",
    "pod_updated_event",
    "pod_deleted_event",
];
const TIMESTAMP_KEYS: &[&str] = &[
    "version",
    "lastScalingAt",
    "lastConfigChangeAt",
    "stagedAt",
    "startedAt",
    "timestamp",
    "firstSuccess",
    "lastSuccess",
    "lastFailure",
    "since",
    "lastUnusedOfferAt",
    "lastUsedOfferAt",
];

fn keys_within(value: &Value, allowed: &[&str], what: &str) {
    let obj = value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
    let unknown: Vec<&String> = obj
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "{what} has keys marathon-python rejects: {unknown:?}"
    );
}

fn each<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Every key at any depth whose name says timestamp holds `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn timestamps_are_marathon_style(value: &Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if let (true, Value::String(s)) = (TIMESTAMP_KEYS.contains(&k.as_str()), v) {
                    let ok =
                        s.len() == 24 && s.ends_with('Z') && &s[19..20] == "." && &s[10..11] == "T";
                    assert!(ok, "{k} = {s} is not in Marathon's timestamp format");
                }
                timestamps_are_marathon_style(v);
            }
        }
        Value::Array(items) => items.iter().for_each(timestamps_are_marathon_style),
        _ => {}
    }
}

fn ts(ms: i64) -> Timestamp {
    Timestamp(1_443_604_157_614 + ms)
}

fn full_app() -> AppDefinition {
    let body = br#"{
        "id": "/prod/web", "cmd": "serve", "user": "nobody", "instances": 2, "cpus": 0.5, "mem": 64, "disk": 10,
        "env": {"A": "1", "S": {"secret": "s"}}, "secrets": {"s": {"source": "/vault/s"}},
        "labels": {"tier": "web"}, "constraints": [["hostname", "UNIQUE"]],
        "fetch": [{"uri": "http://h/a.tgz"}], "acceptedResourceRoles": ["*"], "taskKillGracePeriodSeconds": 5,
        "portDefinitions": [{"port": 10000, "name": "http-api", "labels": {"VIP_0": "/web:80"}}],
        "healthChecks": [{"protocol": "HTTP", "path": "/health"}],
        "readinessChecks": [{"path": "/ready"}], "dependencies": ["/prod/db"],
        "container": {"type": "DOCKER", "docker": {"image": "nginx"},
            "volumes": [{"containerPath": "/etc/x", "hostPath": "/x", "mode": "RO"}]},
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.2},
        "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120}
    }"#;
    let app = AppDefinition::create(parse_app_update(body).unwrap(), &PathId::root()).unwrap();
    app.with_version(ts(0), None)
}

fn bridge_app() -> AppDefinition {
    let body = br#"{"id": "/b", "container": {"docker": {"image": "i"},
        "portMappings": [{"containerPort": 80, "name": "http", "labels": {"l": "v"}}],
        "volumes": [{"containerPath": "data", "persistent": {"size": 5}}]},
        "networks": [{"mode": "container/bridge"}]}"#;
    AppDefinition::create(parse_app_update(body).unwrap(), &PathId::root()).unwrap()
}

fn full_task() -> MarathonTask {
    MarathonTask {
        id: "prod_web.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6._app.1".into(),
        app_id: PathId::parse("/prod/web").unwrap(),
        host: "agent-1".into(),
        slave_id: "S0".into(),
        state: TaskState::Running,
        staged_at: Some(ts(1)),
        started_at: Some(ts(2)),
        version: ts(0),
        ports: vec![31000, 31001],
        service_ports: vec![10000],
        ip_addresses: vec![IpAddress::new("10.0.0.1")],
        health_check_results: vec![HealthResult {
            alive: true,
            consecutive_failures: 0,
            first_success: Some(ts(3)),
            last_success: Some(ts(4)),
            last_failure: Some(ts(5)),
            last_failure_cause: Some("timeout".into()),
            instance_id: "prod_web.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6".into(),
        }],
        local_volumes: vec![LocalVolume {
            container_path: "data".into(),
            persistence_id: "p1".into(),
        }],
        region: Some("eu".into()),
        zone: Some("eu-1".into()),
        role: "*".into(),
    }
}

fn full_failure() -> TaskFailure {
    TaskFailure {
        app_id: PathId::parse("/prod/web").unwrap(),
        host: "agent-1".into(),
        message: "exited 1".into(),
        state: TaskState::Failed,
        task_id: full_task().id,
        timestamp: ts(9),
        version: ts(0),
        slave_id: Some("S0".into()),
    }
}

fn full_app_info(app: AppDefinition) -> AppInfo {
    let entry = TaskStatsEntry {
        stats: TaskStats {
            counts: StatsCounts {
                staged: 0,
                running: 2,
                healthy: 2,
                unhealthy: 0,
            },
            life_time: Some(LifeTime {
                average_seconds: 1.5,
                median_seconds: 1.0,
            }),
        },
    };
    AppInfo {
        counts: Some(TaskCounts {
            tasks_staged: 0,
            tasks_running: 2,
            tasks_healthy: 2,
            tasks_unhealthy: 0,
        }),
        deployments: Some(vec![DeploymentRef { id: "d1".into() }]),
        tasks: Some(vec![full_task()]),
        last_task_failure: Some(full_failure()),
        readiness_check_results: Some(vec![readiness_result()]),
        task_stats: Some(TaskStatsByVersion {
            started_after_last_scaling: Some(entry),
            with_latest_config: Some(entry),
            with_outdated_config: Some(entry),
            total_summary: Some(entry),
        }),
        ..AppInfo::new(app)
    }
}

fn readiness_result() -> ReadinessCheckResult {
    ReadinessCheckResult {
        name: "readinessCheck".into(),
        task_id: full_task().id,
        ready: false,
        last_response: Some(ReadinessHttpResponse {
            status: 503,
            content_type: "text/plain".into(),
            body: "no".into(),
        }),
    }
}

/// The app checks of §5.2, recursively over the nested objects.
fn check_app(app: &Value) {
    keys_within(app, APP_KEYS, "app");
    for key in [
        "cmd",
        "args",
        "container",
        "healthChecks",
        "id",
        "mem",
        "cpus",
        "instances",
    ] {
        assert!(app.get(key).is_some(), "dcoscli indexes app[{key:?}]");
    }
    if let Some(c) = app.get("container").filter(|c| !c.is_null()) {
        keys_within(c, CONTAINER_KEYS, "container");
        let kind = c["type"].as_str().unwrap();
        assert!(["DOCKER", "MESOS"].contains(&kind));
        for m in each(c, "portMappings") {
            keys_within(m, PORT_MAPPING_KEYS, "portMapping");
            assert!(["tcp", "udp", "udp,tcp"].contains(&m["protocol"].as_str().unwrap()));
        }
        for v in each(c, "volumes") {
            keys_within(v, VOLUME_KEYS, "volume");
            assert!(["RO", "RW"].contains(&v["mode"].as_str().unwrap_or("RW")));
        }
    }
    keys_within(&app["upgradeStrategy"], UPGRADE_KEYS, "upgradeStrategy");
    let unreachable = &app["unreachableStrategy"];
    if unreachable != "disabled" {
        keys_within(unreachable, UNREACHABLE_KEYS, "unreachableStrategy");
    }
    assert!(["YOUNGEST_FIRST", "OLDEST_FIRST"].contains(&app["killSelection"].as_str().unwrap()));
    each(app, "readinessChecks").for_each(|r| keys_within(r, READINESS_KEYS, "readinessCheck"));
    each(app, "portDefinitions")
        .for_each(|p| keys_within(p, PORT_DEFINITION_KEYS, "portDefinition"));
    app["secrets"]
        .as_object()
        .unwrap()
        .values()
        .for_each(|s| keys_within(s, SECRET_KEYS, "secret"));
    if let Some(vi) = app.get("versionInfo") {
        keys_within(vi, VERSION_INFO_KEYS, "versionInfo");
    }
    each(app, "tasks").for_each(check_task);
    if let Some(f) = app.get("lastTaskFailure") {
        keys_within(f, FAILURE_KEYS, "lastTaskFailure");
    }
    if let Some(s) = app.get("taskStats") {
        keys_within(s, TASK_STATS_KEYS, "taskStats");
    }
    each(app, "constraints").for_each(|c| assert!((2..=3).contains(&c.as_array().unwrap().len())));
    timestamps_are_marathon_style(app);
}

fn check_task(task: &Value) {
    keys_within(task, TASK_KEYS, "task");
    each(task, "healthCheckResults").for_each(|h| keys_within(h, HEALTH_KEYS, "health result"));
    let ports = task["ports"].as_array().unwrap().len();
    assert!(
        task["servicePorts"].as_array().unwrap().len() >= ports,
        "servicePorts shorter than ports"
    );
    assert!(task["state"].as_str().unwrap().starts_with("TASK_"));
    timestamps_are_marathon_style(task);
}

fn check_deployment(d: &Value) {
    keys_within(d, DEPLOYMENT_KEYS, "deployment");
    for step in each(d, "steps") {
        keys_within(step, &["actions"], "step");
        each(step, "actions").for_each(|a| keys_within(a, ACTION_KEYS, "action"));
    }
    each(d, "currentActions").for_each(|a| keys_within(a, ACTION_KEYS, "current action"));
}

#[test]
fn app_info_has_only_keys_marathon_python_accepts() {
    for app in [full_app(), bridge_app()] {
        let json = serde_json::to_value(full_app_info(app)).unwrap();
        check_app(&json);
        for key in [
            "tasksRunning",
            "tasksStaged",
            "tasksHealthy",
            "tasksUnhealthy",
            "deployments",
            "taskStats",
        ] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
        assert!(json.get("tasksStats").is_none());
    }
}

#[test]
fn unset_options_are_left_out_except_the_keys_dcoscli_indexes() {
    let bare = AppDefinition::create(
        parse_app_update(br#"{"id": "/a", "cmd": "x"}"#).unwrap(),
        &PathId::root(),
    )
    .unwrap();
    let json = serde_json::to_value(AppInfo::new(bare)).unwrap();
    let nulls: BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(nulls, BTreeSet::from(["args", "container"]));
    for absent in [
        "tty",
        "check",
        "resourceLimits",
        "executorResources",
        "user",
        "acceptedResourceRoles",
        "residency",
    ] {
        assert!(json.get(absent).is_none(), "{absent} should be left out");
    }
}

#[test]
fn tasks_health_results_and_failures() {
    let mut task = full_task();
    let json = serde_json::to_value(&task).unwrap();
    check_task(&json);
    assert_eq!(json["servicePorts"], json!([10000, 0]));
    task.staged_at = None;
    task.started_at = None;
    task.region = None;
    let inactive = serde_json::to_value(&task).unwrap();
    assert!(inactive.get("startedAt").is_none() && inactive.get("region").is_none());
    let failure = serde_json::to_value(full_failure()).unwrap();
    keys_within(&failure, FAILURE_KEYS, "lastTaskFailure");
    timestamps_are_marathon_style(&failure);
}

#[test]
fn groups_never_carry_enforce_role() {
    let child = GroupInfo {
        id: PathId::parse("/prod").unwrap(),
        apps: Some(vec![full_app_info(full_app())]),
        groups: Some(Vec::new()),
        pods: Some(Vec::new()),
        dependencies: vec![PathId::parse("/db").unwrap()],
        version: Some(ts(0)),
    };
    let root = GroupInfo {
        id: PathId::root(),
        apps: Some(Vec::new()),
        groups: Some(vec![child]),
        pods: None,
        dependencies: Vec::new(),
        version: Some(ts(0)),
    };
    let json = serde_json::to_value(&root).unwrap();
    keys_within(&json, GROUP_KEYS, "group");
    for g in each(&json, "groups") {
        keys_within(g, GROUP_KEYS, "group");
        each(g, "apps").for_each(check_app);
    }
    timestamps_are_marathon_style(&json);
}

fn steps() -> Vec<DeploymentStep> {
    let web = PathId::parse("/prod/web").unwrap();
    vec![
        DeploymentStep {
            actions: vec![DeploymentAction::new(
                ActionName::StartApplication,
                web.clone(),
            )],
        },
        DeploymentStep {
            actions: vec![
                DeploymentAction::new(ActionName::ScaleApplication, web),
                DeploymentAction::new(ActionName::RestartPod, PathId::parse("/p").unwrap()),
            ],
        },
    ]
}

#[test]
fn deployments_have_only_known_keys() {
    let mut info = DeploymentInfo::new("d1".into(), ts(0), steps(), 2);
    info.current_actions[0]
        .readiness_check_results
        .push(readiness_result());
    let json = serde_json::to_value(&info).unwrap();
    check_deployment(&json);
    assert_eq!(json["currentStep"], 2);
    assert_eq!(json["currentActions"][1]["pod"], "/p");
    timestamps_are_marathon_style(&json);
}

#[test]
fn queue_items_always_have_app_and_delay() {
    let item = QueueItem {
        run_spec: QueuedRunSpec::App(Box::new(full_app())),
        count: 2,
        delay: QueueDelay {
            time_left_seconds: 3,
            overdue: false,
        },
        since: ts(1),
        processed_offers_summary: ProcessedOffersSummary {
            processed_offers_count: 4,
            unused_offers_count: 4,
            last_unused_offer_at: Some(ts(2)),
            last_used_offer_at: None,
            reject_summary_last_offers: vec![RejectSummary {
                reason: "InsufficientMemory".into(),
                declined: 4,
                processed: 4,
            }],
            reject_summary_launch_attempt: Vec::new(),
        },
        last_unused_offers: None,
    };
    let json = serde_json::to_value(&item).unwrap();
    keys_within(&json, QUEUE_KEYS, "queue item");
    keys_within(&json["delay"], DELAY_KEYS, "delay");
    check_app(&json["app"]);
    assert!(json.get("role").is_none() && json.get("pod").is_none());
    assert_eq!(
        json["processedOffersSummary"]["rejectSummaryLastOffers"][0]["reason"],
        "InsufficientMemory"
    );
    timestamps_are_marathon_style(&json);
}

#[test]
fn pod_queue_items_have_pod_instead_of_app() {
    let pod = super::pod::parse_pod(br#"{"id": "/p", "containers": [{"name": "c"}]}"#)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let item = QueueItem {
        run_spec: QueuedRunSpec::Pod(Box::new(pod)),
        count: 1,
        delay: QueueDelay {
            time_left_seconds: 0,
            overdue: true,
        },
        since: ts(1),
        processed_offers_summary: ProcessedOffersSummary::default(),
        last_unused_offers: None,
    };
    let json = serde_json::to_value(&item).unwrap();
    let pod_keys: Vec<&str> = QUEUE_KEYS
        .iter()
        .map(|k| if *k == "app" { "pod" } else { k })
        .collect();
    keys_within(&json, &pod_keys, "pod queue item");
    assert_eq!(json["pod"]["id"], "/p");
    assert!(json.get("app").is_none() && json.get("role").is_none());
}

#[test]
fn info_has_only_known_keys() {
    let info = Info {
        name: "marathon".into(),
        version: "1.10.0".into(),
        buildref: "keel".into(),
        elected: true,
        leader: Some("m1:8080".into()),
        framework_id: Some("F1".into()),
        marathon_config: MarathonConfig {
            webui_url: Some("http://m1".into()),
            mesos_role: Some("*".into()),
            mesos_user: Some("root".into()),
            mesos_leader_ui_url: Some("http://m1:5050".into()),
            ..MarathonConfig::default()
        },
        zookeeper_config: ZookeeperConfig::default(),
        http_config: HttpConfig {
            http_port: 8080,
            https_port: 8443,
        },
    };
    let json = serde_json::to_value(&info).unwrap();
    keys_within(&json, INFO_KEYS, "info");
    keys_within(
        &json["marathon_config"],
        MARATHON_CONFIG_KEYS,
        "marathon_config",
    );
    keys_within(&json["zookeeper_config"], ZK_KEYS, "zookeeper_config");
    keys_within(&json["http_config"], HTTP_CONFIG_KEYS, "http_config");
    assert_eq!(json["frameworkId"], "F1");
}

fn every_event() -> Vec<Event> {
    let app_id = PathId::parse("/prod/web").unwrap();
    let instance = "prod_web.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6".to_owned();
    let hc = HealthCheck::new(HealthCheckProtocol::Http);
    let plan = || EventPlan::new("d1".into(), ts(0), steps());
    let step = steps().remove(1);
    let t = ts(7);
    vec![
        Event::ApiPost {
            client_ip: "1.2.3.4".into(),
            uri: "/v2/apps".into(),
            app_definition: Box::new(full_app()),
            timestamp: t,
        },
        Event::PodCreated {
            client_ip: "c".into(),
            uri: "/v2/pods".into(),
            timestamp: t,
        },
        Event::PodUpdated {
            client_ip: "c".into(),
            uri: "/v2/pods/p".into(),
            timestamp: t,
        },
        Event::PodDeleted {
            client_ip: "c".into(),
            uri: "/v2/pods/p".into(),
            timestamp: t,
        },
        Event::StatusUpdate {
            slave_id: "S0".into(),
            task_id: full_task().id,
            task_status: TaskState::Running,
            message: String::new(),
            app_id: app_id.clone(),
            host: "agent-1".into(),
            ip_addresses: vec![IpAddress::new("10.0.0.1")],
            ports: vec![31000],
            version: ts(0),
            timestamp: t,
        },
        Event::InstanceChanged {
            instance_id: instance.clone(),
            condition: "Running".into(),
            run_spec_id: app_id.clone(),
            agent_id: Some("S0".into()),
            host: "agent-1".into(),
            run_spec_version: ts(0),
            timestamp: t,
        },
        Event::InstanceHealthChanged {
            instance_id: instance.clone(),
            run_spec_id: app_id.clone(),
            healthy: None,
            run_spec_version: ts(0),
            timestamp: t,
        },
        Event::UnknownInstanceTerminated {
            instance_id: instance.clone(),
            run_spec_id: app_id.clone(),
            condition: "Killed".into(),
            timestamp: t,
        },
        Event::AddHealthCheck {
            app_id: app_id.clone(),
            health_check: hc.clone(),
            version: ts(0),
            timestamp: t,
        },
        Event::RemoveHealthCheck {
            app_id: app_id.clone(),
            timestamp: t,
        },
        Event::FailedHealthCheck {
            app_id: app_id.clone(),
            task_id: instance.clone(),
            health_check: hc,
            timestamp: t,
        },
        Event::HealthStatusChanged {
            app_id: app_id.clone(),
            instance_id: instance.clone(),
            version: ts(0),
            alive: true,
            timestamp: t,
        },
        Event::UnhealthyInstanceKill {
            app_id: app_id.clone(),
            task_id: full_task().id,
            instance_id: instance,
            version: ts(0),
            reason: "health".into(),
            host: "agent-1".into(),
            slave_id: Some("S0".into()),
            timestamp: t,
        },
        Event::GroupChangeSuccess {
            group_id: PathId::root(),
            version: ts(0),
            timestamp: t,
        },
        Event::GroupChangeFailed {
            group_id: PathId::root(),
            version: ts(0),
            reason: "x".into(),
            timestamp: t,
        },
        Event::DeploymentInfo {
            plan: plan(),
            current_step: step.clone(),
            timestamp: t,
        },
        Event::DeploymentStepSuccess {
            plan: plan(),
            current_step: step.clone(),
            timestamp: t,
        },
        Event::DeploymentStepFailure {
            plan: plan(),
            current_step: step,
            timestamp: t,
        },
        Event::DeploymentSuccess {
            id: "d1".into(),
            plan: plan(),
            timestamp: t,
        },
        Event::DeploymentFailed {
            id: "d1".into(),
            plan: plan(),
            reason: Some("cancelled".into()),
            timestamp: t,
        },
        Event::AppTerminated {
            app_id,
            timestamp: t,
        },
        Event::SchedulerRegistered {
            framework_id: "F1".into(),
            master: "m:5050".into(),
            timestamp: t,
        },
        Event::SchedulerReregistered {
            master: "m:5050".into(),
            timestamp: t,
        },
        Event::SchedulerDisconnected { timestamp: t },
        Event::EventStreamAttached {
            remote_address: "1.2.3.4".into(),
            timestamp: t,
        },
        Event::EventStreamDetached {
            remote_address: "1.2.3.4".into(),
            timestamp: t,
        },
        Event::FrameworkMessage {
            executor_id: "e".into(),
            slave_id: "S0".into(),
            message: "m".into(),
            timestamp: t,
        },
        Event::Subscribe {
            client_ip: "c".into(),
            callback_url: "http://cb".into(),
            timestamp: t,
        },
        Event::Unsubscribe {
            client_ip: "c".into(),
            callback_url: "http://cb".into(),
            timestamp: t,
        },
    ]
}

#[test]
fn every_event_frames_as_sse_that_marathon_python_parses() {
    let events = every_event();
    assert_eq!(events.len(), 29);
    for event in &events {
        let frame = event.to_sse();
        let lines: Vec<&str> = frame.strip_suffix("\n\n").unwrap().split('\n').collect();
        assert_eq!(lines.len(), 2, "{frame}");
        assert_eq!(lines[0], format!("event: {}", event.event_type()));
        let data: Value = serde_json::from_str(lines[1].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(data["eventType"], event.event_type());
        assert_eq!(data["timestamp"], "2015-09-30T09:09:17.621Z");
        timestamps_are_marathon_style(&data);
        let known = KNOWN_EVENT_TYPES.contains(&event.event_type());
        assert_eq!(known, event.sent_without_filter(), "{}", event.event_type());
        if let Some(plan) = data.get("plan") {
            keys_within(plan, PLAN_KEYS, "plan");
            keys_within(&plan["original"], PLAN_GROUP_KEYS, "plan.original");
            keys_within(&plan["target"], PLAN_GROUP_KEYS, "plan.target");
            check_deployment(&json!({"steps": plan["steps"]}));
        }
        if let Some(step) = data.get("currentStep") {
            each(step, "actions").for_each(|a| keys_within(a, ACTION_KEYS, "action"));
        }
        if let Some(app) = data.get("appDefinition") {
            check_app(app);
        }
    }
}

#[test]
fn sse_frame_shape() {
    let e = Event::DeploymentInfo {
        plan: EventPlan::new("d1".into(), ts(0), steps()),
        current_step: steps().remove(0),
        timestamp: ts(0),
    };
    expect_test::expect![[r#"
        event: deployment_info
        data: {"eventType":"deployment_info","plan":{"id":"d1","version":"2015-09-30T09:09:17.614Z","steps":[{"actions":[{"action":"StartApplication","app":"/prod/web"}]},{"actions":[{"action":"ScaleApplication","app":"/prod/web"},{"action":"RestartPod","pod":"/p"}]}],"original":{"id":"/","apps":[],"groups":[],"pods":[],"dependencies":[],"version":"2015-09-30T09:09:17.614Z"},"target":{"id":"/","apps":[],"groups":[],"pods":[],"dependencies":[],"version":"2015-09-30T09:09:17.614Z"}},"currentStep":{"actions":[{"action":"StartApplication","app":"/prod/web"}]},"timestamp":"2015-09-30T09:09:17.614Z"}

    "#]]
    .assert_eq(&e.to_sse());
}
