//! Deployment actions and steps, named exactly as Marathon renders them.

use crate::RunSpecKind;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an action does, independent of app or pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Verb {
    Start,
    Stop,
    Scale,
    Restart,
}

/// Marathon's action names (`"action"` in deployment JSON and events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ActionKind {
    StartApplication,
    StopApplication,
    ScaleApplication,
    RestartApplication,
    StartPod,
    StopPod,
    ScalePod,
    RestartPod,
}

impl ActionKind {
    pub fn new(verb: Verb, kind: RunSpecKind) -> ActionKind {
        use ActionKind::*;
        match (verb, kind) {
            (Verb::Start, RunSpecKind::App) => StartApplication,
            (Verb::Stop, RunSpecKind::App) => StopApplication,
            (Verb::Scale, RunSpecKind::App) => ScaleApplication,
            (Verb::Restart, RunSpecKind::App) => RestartApplication,
            (Verb::Start, RunSpecKind::Pod) => StartPod,
            (Verb::Stop, RunSpecKind::Pod) => StopPod,
            (Verb::Scale, RunSpecKind::Pod) => ScalePod,
            (Verb::Restart, RunSpecKind::Pod) => RestartPod,
        }
    }

    pub fn verb(self) -> Verb {
        use ActionKind::*;
        match self {
            StartApplication | StartPod => Verb::Start,
            StopApplication | StopPod => Verb::Stop,
            ScaleApplication | ScalePod => Verb::Scale,
            RestartApplication | RestartPod => Verb::Restart,
        }
    }

    pub fn run_spec_kind(self) -> RunSpecKind {
        use ActionKind::*;
        match self {
            StartPod | StopPod | ScalePod | RestartPod => RunSpecKind::Pod,
            _ => RunSpecKind::App,
        }
    }

    /// The name Marathon uses, e.g. `"ScaleApplication"`; pod actions carry the run spec
    /// id under the key `pod`, app actions under `app`.
    pub fn as_str(self) -> &'static str {
        use ActionKind::*;
        match self {
            StartApplication => "StartApplication",
            StopApplication => "StopApplication",
            ScaleApplication => "ScaleApplication",
            RestartApplication => "RestartApplication",
            StartPod => "StartPod",
            StopPod => "StopPod",
            ScalePod => "ScalePod",
            RestartPod => "RestartPod",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action on one run spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    pub run_spec: String,
    /// Instance ids a Scale action kills whatever the count (kill-and-scale,
    /// Marathon's `sentencedToDeath`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentenced: Vec<String>,
}

impl Action {
    pub fn new(kind: ActionKind, run_spec: &str) -> Action {
        Action {
            kind,
            run_spec: run_spec.to_string(),
            sentenced: Vec::new(),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.run_spec)
    }
}

/// Actions that run in parallel; the step ends when all of them are done.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Step {
    pub actions: Vec<Action>,
}
