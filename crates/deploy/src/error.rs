//! Errors of the deployment logic, each naming the input that was refused.

/// A deployment decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    /// The target's dependencies form a cycle (Marathon: "Dependency graph has cyclic
    /// dependencies"); the path starts and ends with the same run spec.
    #[error("dependency cycle {}", .cycle.join(" -> "))]
    DependencyCycle { cycle: Vec<String> },
    /// A forced restart must give the run spec a new `config_version`, since a restart
    /// replaces the instances launched with another one.
    #[error("restart of {id} needs a new config_version (still {config_version})")]
    RestartWithoutNewConfig { id: String, config_version: String },
    /// `advance` was given no run spec for an action that launches instances.
    #[error("{action} of {id} needs the target run spec")]
    MissingRunSpec { id: String, action: &'static str },
}
