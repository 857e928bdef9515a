//! Run specifications (apps and pods) and the root group, reduced to what deployment
//! decisions read. The service converts Marathon's app and pod JSON into these.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a run spec is an app or a pod; it only changes the action names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum RunSpecKind {
    #[default]
    App,
    Pod,
}

/// Marathon's `upgradeStrategy`: how much capacity a rolling restart keeps and may add.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UpgradeStrategy {
    /// Fraction of `instances` that must stay healthy, in `[0, 1]`.
    pub minimum_health_capacity: f64,
    /// Fraction of `instances` that may run on top of `instances`, in `[0, 1]`.
    pub maximum_over_capacity: f64,
}

impl UpgradeStrategy {
    /// Marathon's default for resident apps (`{0.5, 0}`).
    pub const RESIDENT: UpgradeStrategy = UpgradeStrategy {
        minimum_health_capacity: 0.5,
        maximum_over_capacity: 0.0,
    };
}

impl Default for UpgradeStrategy {
    /// Marathon's default `{1, 1}`.
    fn default() -> Self {
        UpgradeStrategy {
            minimum_health_capacity: 1.0,
            maximum_over_capacity: 1.0,
        }
    }
}

/// Marathon's `killSelection`: which of two equally ranked instances is killed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum KillSelection {
    /// `YOUNGEST_FIRST` (the default): the most recently started or staged goes first.
    #[default]
    YoungestFirst,
    /// `OLDEST_FIRST`: the earliest goes first.
    OldestFirst,
}

/// Marathon's launch backoff settings (`backoffSeconds`, `backoffFactor`,
/// `maxLaunchDelaySeconds`), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BackoffPolicy {
    pub seconds: f64,
    pub factor: f64,
    pub max_launch_delay: f64,
}

impl Default for BackoffPolicy {
    /// Marathon's default: 1 s, factor 1.15, at most 300 s.
    fn default() -> Self {
        BackoffPolicy {
            seconds: 1.0,
            factor: 1.15,
            max_launch_delay: 300.0,
        }
    }
}

/// Marathon's `unreachableStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum UnreachableStrategy {
    /// `"disabled"`: wait for the agent to come back (required for resident apps).
    Disabled,
    /// Replace after `inactive_after` seconds; forget (and kill on return) after
    /// `expunge_after` seconds, counted from the unreachable report.
    Enabled {
        inactive_after: f64,
        expunge_after: f64,
    },
}

impl UnreachableStrategy {
    /// `(inactive_after, expunge_after)` with `expunge_after` raised to at least
    /// `inactive_after` (Marathon validates that order; expunging implies inactivity).
    pub fn deadlines(self) -> Option<(f64, f64)> {
        match self {
            UnreachableStrategy::Disabled => None,
            UnreachableStrategy::Enabled {
                inactive_after,
                expunge_after,
            } => Some((inactive_after, expunge_after.max(inactive_after))),
        }
    }
}

impl Default for UnreachableStrategy {
    /// Marathon's default `{0, 0}`: replace at once, kill the old task when it returns.
    fn default() -> Self {
        UnreachableStrategy::Enabled {
            inactive_after: 0.0,
            expunge_after: 0.0,
        }
    }
}

/// One app or pod definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Absolute path id such as `/prod/web`.
    pub id: String,
    pub kind: RunSpecKind,
    /// Marathon's `version` timestamp text; opaque here.
    pub version: String,
    /// Changes on every non-scaling change (Marathon's `lastConfigChangeAt`), including a
    /// forced restart. Instances launched with another value are "old" during a restart.
    pub config_version: String,
    pub instances: u32,
    /// Absolute ids of run specs or groups; a group id stands for every run spec under it.
    pub dependencies: Vec<String>,
    pub upgrade: UpgradeStrategy,
    pub kill_selection: KillSelection,
    pub backoff: BackoffPolicy,
    pub unreachable: UnreachableStrategy,
    /// Has persistent volumes (Marathon's `residency`).
    pub resident: bool,
    pub has_health_checks: bool,
    pub has_readiness_checks: bool,
}

impl RunSpec {
    /// An app with Marathon's defaults, 1 instance, version and config version `"1"`.
    pub fn app(id: &str) -> RunSpec {
        RunSpec {
            id: id.to_string(),
            kind: RunSpecKind::App,
            version: "1".to_string(),
            config_version: "1".to_string(),
            instances: 1,
            dependencies: Vec::new(),
            upgrade: UpgradeStrategy::default(),
            kill_selection: KillSelection::default(),
            backoff: BackoffPolicy::default(),
            unreachable: UnreachableStrategy::default(),
            resident: false,
            has_health_checks: false,
            has_readiness_checks: false,
        }
    }

    /// Like [`RunSpec::app`], for a pod.
    pub fn pod(id: &str) -> RunSpec {
        RunSpec {
            kind: RunSpecKind::Pod,
            ..RunSpec::app(id)
        }
    }
}

/// Every run spec of the cluster, flattened by the caller and keyed by id.
///
/// Groups only matter for dependencies: a dependency on `/g` means every run spec whose id
/// starts with `/g/`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RootGroup {
    pub run_specs: BTreeMap<String, RunSpec>,
}

impl RootGroup {
    /// A root group holding `specs`, keyed by their ids.
    pub fn new(specs: impl IntoIterator<Item = RunSpec>) -> RootGroup {
        RootGroup {
            run_specs: specs.into_iter().map(|s| (s.id.clone(), s)).collect(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&RunSpec> {
        self.run_specs.get(id)
    }

    /// Ids of the run specs a dependency id stands for: itself if it is a run spec, plus
    /// every run spec under it if it is a group.
    pub fn resolve(&self, dependency: &str) -> impl Iterator<Item = &str> {
        let exact = self
            .run_specs
            .get_key_value(dependency)
            .map(|(k, _)| k.as_str());
        let prefix = if dependency.ends_with('/') {
            dependency.to_string()
        } else {
            format!("{dependency}/")
        };
        let under = self
            .run_specs
            .range(prefix.clone()..)
            .map(|(k, _)| k.as_str())
            .take_while(move |k| k.starts_with(&prefix));
        exact.into_iter().chain(under)
    }
}
