//! Marathon apps: `AppUpdate` (a request body, every field optional, unknown fields
//! ignored, deprecated `ports`/`uris`/`ipAddress`/`docker.network` accepted) and
//! `AppDefinition` (the normalized app with every default filled in), which is also the app
//! JSON Keel writes back.

use super::app_normalize::{merge, resolve_id};
use super::app_validate::{validate_app, validate_update};
use super::checks::{HealthCheck, ReadinessCheck};
use super::container::{Container, PortMapping};
use super::error::{ApiErrorBody, Validation, Violations, parse_json, parse_object};
use super::network::{Network, PortDefinition};
use super::path_id::PathId;
use super::spec::{
    Artifact, Constraint, EnvValue, KillSelection, SecretDef, UnreachableStrategy, UpgradeStrategy,
    VersionInfo, lenient_int,
};
use super::time::Timestamp;
use keel_model::HostPort;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The body of `POST/PUT/PATCH /v2/apps[/{id}]` and an entry of a group's `apps`.
/// `None` means "left out"; JSON `null` reads as left out too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUpdate {
    pub id: Option<String>,
    pub cmd: Option<String>,
    pub args: Option<Vec<String>>,
    pub user: Option<String>,
    pub env: Option<BTreeMap<String, EnvValue>>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub instances: Option<i64>,
    pub cpus: Option<f64>,
    pub mem: Option<f64>,
    pub disk: Option<f64>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub gpus: Option<i64>,
    pub executor: Option<String>,
    pub constraints: Option<Vec<Constraint>>,
    pub fetch: Option<Vec<Artifact>>,
    /// Deprecated form of `fetch`.
    pub uris: Option<Vec<String>>,
    /// Deprecated form of `portDefinitions`.
    pub ports: Option<Vec<i64>>,
    pub port_definitions: Option<Vec<PortDefinition>>,
    pub require_ports: Option<bool>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub backoff_seconds: Option<i64>,
    pub backoff_factor: Option<f64>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub max_launch_delay_seconds: Option<i64>,
    pub container: Option<Container>,
    pub health_checks: Option<Vec<HealthCheck>>,
    pub readiness_checks: Option<Vec<ReadinessCheck>>,
    pub dependencies: Option<Vec<String>>,
    pub upgrade_strategy: Option<UpgradeStrategy>,
    pub labels: Option<BTreeMap<String, String>>,
    pub accepted_resource_roles: Option<Vec<String>>,
    pub networks: Option<Vec<Network>>,
    /// Deprecated form of `networks` (`{networkName, labels, discovery}`).
    pub ip_address: Option<Value>,
    pub secrets: Option<BTreeMap<String, SecretDef>>,
    pub unreachable_strategy: Option<UnreachableStrategy>,
    pub kill_selection: Option<KillSelection>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub task_kill_grace_period_seconds: Option<i64>,
    pub role: Option<String>,
    /// Only with `id`: a rollback to this stored version.
    pub version: Option<Timestamp>,
    pub residency: Option<Value>,
    pub tty: Option<bool>,
    pub check: Option<Value>,
    pub resource_limits: Option<Value>,
    pub executor_resources: Option<Value>,
}

impl AppUpdate {
    /// True for a body that holds only a `version` (and maybe `id`): roll back to it.
    pub fn is_rollback(&self) -> bool {
        let rest = AppUpdate {
            id: None,
            version: None,
            ..self.clone()
        };
        self.version.is_some() && rest == AppUpdate::default()
    }

    /// The same update with `id` set (for `PUT /v2/apps/{id}`, where the path decides).
    pub fn with_id(self, id: &PathId) -> AppUpdate {
        AppUpdate {
            id: Some(id.to_string()),
            ..self
        }
    }
}

/// Parses one app body (`POST /v2/apps`, `PUT`/`PATCH /v2/apps/{id}`).
pub fn parse_app_update(bytes: &[u8]) -> Result<AppUpdate, ApiErrorBody> {
    parse_object(bytes)
}

/// Parses an array of app bodies (`PUT`/`PATCH /v2/apps`).
pub fn parse_app_updates(bytes: &[u8]) -> Result<Vec<AppUpdate>, ApiErrorBody> {
    parse_json(bytes)
}

/// A complete, normalized app: what Keel stores and (wrapped in `AppInfo`) returns.
/// `cmd`, `args` and `container` are written as `null` when unset because dcoscli 0.6.1
/// indexes them directly (`dcoscli/tables.py::app_table`); everything else that is unset
/// is left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppDefinition {
    pub id: PathId,
    pub cmd: Option<String>,
    pub args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub env: BTreeMap<String, EnvValue>,
    pub instances: u32,
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub gpus: u32,
    pub executor: String,
    pub constraints: Vec<Constraint>,
    pub fetch: Vec<Artifact>,
    pub port_definitions: Vec<PortDefinition>,
    pub require_ports: bool,
    pub backoff_seconds: u32,
    pub backoff_factor: f64,
    pub max_launch_delay_seconds: u32,
    pub container: Option<Container>,
    pub health_checks: Vec<HealthCheck>,
    pub readiness_checks: Vec<ReadinessCheck>,
    pub dependencies: Vec<PathId>,
    pub upgrade_strategy: UpgradeStrategy,
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_resource_roles: Option<Vec<String>>,
    pub networks: Vec<Network>,
    pub secrets: BTreeMap<String, SecretDef>,
    pub unreachable_strategy: UnreachableStrategy,
    pub kill_selection: KillSelection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_kill_grace_period_seconds: Option<u32>,
    pub role: String,
    /// Deprecated, no effect; written back for resident apps only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residency: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_resources: Option<Value>,
    pub version: Timestamp,
    pub version_info: VersionInfo,
}

impl AppDefinition {
    /// An app with every default (§2.1) and the given id; `version` is the epoch until
    /// [`AppDefinition::with_version`] stamps it.
    pub fn with_defaults(id: PathId) -> AppDefinition {
        AppDefinition {
            id,
            cmd: None,
            args: None,
            user: None,
            env: BTreeMap::new(),
            instances: 1,
            cpus: 1.0,
            mem: 128.0,
            disk: 0.0,
            gpus: 0,
            executor: String::new(),
            constraints: Vec::new(),
            fetch: Vec::new(),
            port_definitions: PortDefinition::defaults(),
            require_ports: false,
            backoff_seconds: 1,
            backoff_factor: 1.15,
            max_launch_delay_seconds: 300,
            container: None,
            health_checks: Vec::new(),
            readiness_checks: Vec::new(),
            dependencies: Vec::new(),
            upgrade_strategy: UpgradeStrategy::DEFAULT,
            labels: BTreeMap::new(),
            accepted_resource_roles: None,
            networks: vec![Network::host()],
            secrets: BTreeMap::new(),
            unreachable_strategy: UnreachableStrategy::DEFAULT,
            kill_selection: KillSelection::YoungestFirst,
            task_kill_grace_period_seconds: None,
            role: "*".to_owned(),
            residency: None,
            tty: None,
            check: None,
            resource_limits: None,
            executor_resources: None,
            version: Timestamp::EPOCH,
            version_info: VersionInfo::default(),
        }
    }

    /// Builds a new app from a request body; a relative `id` (and relative dependencies)
    /// resolve against the group `base`. Collects every violation.
    pub fn create(update: AppUpdate, base: &PathId) -> Result<AppDefinition, Validation> {
        let mut v = Violations::default();
        validate_update(&update, &mut v);
        let id = resolve_id(update.id.as_deref(), base, &mut v);
        let app = merge(AppDefinition::with_defaults(id), None, &update, base);
        validate_app(&app, &update, &mut v);
        v.finish(app)
    }

    /// Applies a partial update (`partialUpdate=true`): fields left out keep their value,
    /// `id` and `version` in the body are ignored (the caller handles rollbacks first).
    pub fn apply(&self, update: &AppUpdate) -> Result<AppDefinition, Validation> {
        let mut v = Violations::default();
        validate_update(update, &mut v);
        let update = AppUpdate {
            id: None,
            version: None,
            ..update.clone()
        };
        let app = merge(self.clone(), Some(self), &update, &PathId::root());
        validate_app(&app, &update, &mut v);
        v.finish(app)
    }

    /// True if `other` differs in anything but `instances` and versions: the change needs
    /// a rolling restart rather than a scale.
    pub fn is_upgrade(&self, other: &AppDefinition) -> bool {
        self.config_view() != other.config_view()
    }

    /// A stable hex digest of the configuration (everything [`AppDefinition::is_upgrade`]
    /// compares); equal for apps that differ only in instances or versions.
    pub fn config_fingerprint(&self) -> String {
        let json = serde_json::to_string(&self.config_view()).unwrap_or_default();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in json.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }

    fn config_view(&self) -> AppDefinition {
        AppDefinition {
            instances: 0,
            version: Timestamp::EPOCH,
            version_info: VersionInfo::default(),
            ..self.clone()
        }
    }

    /// Stamps a new version at `now`. `lastScalingAt` always moves; `lastConfigChangeAt`
    /// moves unless `previous` has the same configuration. Pass `previous = None` for a
    /// new app and for a restart.
    pub fn with_version(self, now: Timestamp, previous: Option<&AppDefinition>) -> AppDefinition {
        let last_config_change_at = match previous {
            Some(prev) if !self.is_upgrade(prev) => prev.version_info.last_config_change_at,
            _ => now,
        };
        let version_info = VersionInfo {
            last_scaling_at: now,
            last_config_change_at,
        };
        AppDefinition {
            version: now,
            version_info,
            ..self
        }
    }

    /// True if the app has persistent volumes (its instances are pinned to reservations).
    pub fn is_resident(&self) -> bool {
        self.container
            .as_ref()
            .is_some_and(Container::has_persistent_volumes)
    }

    /// The service ports: `portDefinitions[].port`, or `servicePort` of the port mappings.
    pub fn service_ports(&self) -> Vec<i64> {
        match self
            .container
            .as_ref()
            .and_then(|c| c.port_mappings.as_ref())
        {
            Some(mappings) if !mappings.is_empty() => {
                mappings.iter().map(|m| m.service_port).collect()
            }
            _ => self.port_definitions.iter().map(|p| p.port).collect(),
        }
    }

    /// The host ports the app's tasks want, one per port that has one, in port order, with
    /// the port's name (Marathon's `PortsMatcher`). With port mappings: `hostPort` n is
    /// fixed, 0 any free port, absent no host port. Otherwise one per port definition:
    /// under `requirePorts` its `port` is the host port (a 0 never assigned a service port
    /// is any), else any free port.
    pub fn host_ports(&self) -> Vec<(HostPort, Option<String>)> {
        let wanted = HostPort::from_port;
        match self.port_mappings() {
            Some(mappings) => mappings
                .iter()
                .filter_map(|m| Some((wanted(m.host_port?), m.name.clone())))
                .collect(),
            None => self
                .port_definitions
                .iter()
                .map(|d| {
                    let port = if self.require_ports { d.port } else { 0 };
                    (wanted(port), d.name.clone())
                })
                .collect(),
        }
    }

    /// Per port (mapping or definition, in order): its index among [`Self::host_ports`],
    /// or `None` for a port mapping without a host port.
    pub fn host_port_indices(&self) -> Vec<Option<usize>> {
        let mut next = 0;
        let mut index = |has: bool| {
            has.then(|| {
                next += 1;
                next - 1
            })
        };
        match self.port_mappings() {
            Some(mappings) => mappings
                .iter()
                .map(|m| index(m.host_port.is_some()))
                .collect(),
            None => self.port_definitions.iter().map(|_| index(true)).collect(),
        }
    }

    /// The container's port mappings, if it has any.
    fn port_mappings(&self) -> Option<&[PortMapping]> {
        self.container
            .as_ref()
            .and_then(|c| c.port_mappings.as_deref())
            .filter(|m| !m.is_empty())
    }

    /// The port names, in port order (`PORT_<NAME>`, readiness `portName`).
    pub fn port_names(&self) -> Vec<Option<String>> {
        match self
            .container
            .as_ref()
            .and_then(|c| c.port_mappings.as_ref())
        {
            Some(mappings) if !mappings.is_empty() => {
                mappings.iter().map(|m| m.name.clone()).collect()
            }
            _ => self
                .port_definitions
                .iter()
                .map(|p| p.name.clone())
                .collect(),
        }
    }
}
