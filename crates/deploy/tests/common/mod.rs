//! Shared test fixtures: run specs and instances written as one-line text, and a tiny
//! world that applies `Progress` answers the way the service would.
//!
//! Spec words: `<id> [pod] [n=3] [cfg=c2] [v=2] [deps=/a,/g] [minhc=0.5] [maxoc=0]
//! [kill=oldest] [resident] [checks] [readiness] [unreachable=disabled|<inactive>,<expunge>]`.
//! Instance lines: `<id> <cfg> <condition> [ok|sick] [unready] [staged=t] [started=t]
//! [goal=stopped|decommissioned] [since=t] [of=/spec]`; the run spec defaults to `/app`.

#![allow(clippy::unwrap_used, dead_code)]

use keel_deploy::{
    Condition, Goal, Instance, KillSelection, Progress, RunSpec, UnreachableStrategy,
    UpgradeStrategy,
};

pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

pub fn spec(words: &[&str]) -> RunSpec {
    let mut s = RunSpec::app(words[0]);
    for w in &words[1..] {
        let (key, value) = w.split_once('=').unwrap_or((w, ""));
        match key {
            "pod" => s.kind = keel_deploy::RunSpecKind::Pod,
            "n" => s.instances = value.parse().unwrap(),
            "cfg" => s.config_version = value.to_string(),
            "v" => s.version = value.to_string(),
            "deps" => s.dependencies = value.split(',').map(str::to_string).collect(),
            "minhc" => s.upgrade.minimum_health_capacity = value.parse().unwrap(),
            "maxoc" => s.upgrade.maximum_over_capacity = value.parse().unwrap(),
            "kill" if value == "oldest" => s.kill_selection = KillSelection::OldestFirst,
            "kill" => s.kill_selection = KillSelection::YoungestFirst,
            "resident" => s.resident = true,
            "checks" => s.has_health_checks = true,
            "readiness" => s.has_readiness_checks = true,
            "unreachable" => s.unreachable = unreachable(value),
            other => panic!("unknown spec word {other}"),
        }
    }
    s
}

fn unreachable(value: &str) -> UnreachableStrategy {
    if value == "disabled" {
        return UnreachableStrategy::Disabled;
    }
    let (a, b) = value.split_once(',').unwrap();
    UnreachableStrategy::Enabled {
        inactive_after: a.parse().unwrap(),
        expunge_after: b.parse().unwrap(),
    }
}

pub fn condition(name: &str) -> Condition {
    use Condition::*;
    match name {
        "provisioned" => Provisioned,
        "staging" => Staging,
        "starting" => Starting,
        "running" => Running,
        "killing" => Killing,
        "unreachable" => Unreachable,
        "inactive" => UnreachableInactive,
        "finished" => Finished,
        "failed" => Failed,
        "killed" => Killed,
        "gone" => Gone,
        "dropped" => Dropped,
        "unknown" => Unknown,
        "error" => Error,
        other => panic!("unknown condition {other}"),
    }
}

pub fn instance(line: &str) -> Instance {
    let w: Vec<&str> = line.split_whitespace().collect();
    let mut i = Instance::running(w[0], "/app", w[1], 0.0);
    i.condition = condition(w[2]);
    i.healthy = None;
    i.started_at = None;
    for word in &w[3..] {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        match key {
            "ok" => i.healthy = Some(true),
            "sick" => i.healthy = Some(false),
            "unready" => i.ready = false,
            "staged" => i.staged_at = value.parse().unwrap(),
            "started" => i.started_at = Some(value.parse().unwrap()),
            "goal" if value == "stopped" => i.goal = Goal::Stopped,
            "goal" => i.goal = Goal::Decommissioned,
            "since" => i.unreachable_since = Some(value.parse().unwrap()),
            "of" => i.run_spec = value.to_string(),
            other => panic!("unknown instance word {other}"),
        }
    }
    if i.started_at.is_none() && i.condition == Condition::Running {
        i.started_at = Some(i.staged_at);
    }
    i
}

/// `Progress` as text, leaving out what is empty.
pub fn render_progress(p: &Progress) -> String {
    let mut out = String::new();
    if !p.kill.is_empty() {
        out += &format!("kill: {} ({:?})\n", p.kill.join(" "), p.kill_goal);
    }
    if !p.expunge.is_empty() {
        out += &format!("expunge: {}\n", p.expunge.join(" "));
    }
    if p.launch > 0 {
        out += &format!("launch: {}\n", p.launch);
    }
    out += if p.done { "done\n" } else { "waiting\n" };
    out
}

/// The service's side in miniature: it records answers and moves instances along.
#[derive(Debug, Clone)]
pub struct World {
    pub spec: RunSpec,
    pub instances: Vec<Instance>,
    pub now: f64,
    launched: u32,
}

impl World {
    pub fn new(spec: RunSpec, instances: Vec<Instance>) -> World {
        World {
            spec,
            instances,
            now: 100.0,
            launched: 0,
        }
    }

    /// `n` old instances, running, healthy and ready, launched with config `old`.
    pub fn rolling(spec: RunSpec, n: u32, old: &str) -> World {
        let instances = (0..n)
            .map(|k| Instance::running(&format!("o{k}"), &spec.id, old, f64::from(k)))
            .collect();
        World::new(spec, instances)
    }

    /// Records kills (goal, Killing), expunges (removed) and launches (Provisioned).
    pub fn apply(&mut self, p: &Progress) {
        for i in self.instances.iter_mut().filter(|i| p.kill.contains(&i.id)) {
            i.goal = p.kill_goal;
            i.condition = Condition::Killing;
        }
        self.instances.retain(|i| !p.expunge.contains(&i.id));
        for _ in 0..p.launch {
            self.launched += 1;
            let id = format!("n{}", self.launched);
            let mut i = Instance::running(&id, &self.spec.id, &self.spec.config_version, self.now);
            i.condition = Condition::Provisioned;
            i.started_at = None;
            i.healthy = None;
            i.ready = false;
            self.instances.push(i);
        }
    }

    /// Finishes kills whose id `finish_kill` accepts and brings up launches that `come_up`
    /// accepts (running, healthy, ready).
    pub fn settle(&mut self, finish_kill: impl Fn(&str) -> bool, come_up: impl Fn(&str) -> bool) {
        self.now += 1.0;
        let now = self.now;
        self.instances
            .retain(|i| !(i.condition == Condition::Killing && finish_kill(&i.id)));
        for i in self.instances.iter_mut() {
            if i.condition == Condition::Provisioned && come_up(&i.id) {
                i.condition = Condition::Running;
                i.started_at = Some(now);
                i.healthy = Some(true);
                i.ready = true;
            }
        }
    }

    /// Instances alive (not removed), and those healthy with goal Running and no kill
    /// under way (new ones must be ready too).
    pub fn counts(&self) -> (usize, usize) {
        let alive = self.instances.len();
        let healthy = self
            .instances
            .iter()
            .filter(|i| {
                i.goal == Goal::Running
                    && i.condition == Condition::Running
                    && i.healthy == Some(true)
                    && (i.ready || i.config_version != self.spec.config_version)
            })
            .count();
        (alive, healthy)
    }

    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .instances
            .iter()
            .map(|i| format!("{}:{:?}", i.id, i.condition))
            .collect();
        parts.sort();
        parts.join(" ")
    }
}

/// `UpgradeStrategy` shorthand.
pub fn upgrade(min_hc: f64, max_oc: f64) -> UpgradeStrategy {
    UpgradeStrategy {
        minimum_health_capacity: min_hc,
        maximum_over_capacity: max_oc,
    }
}
