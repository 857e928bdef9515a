//! Property tests: a rolling restart in a tiny fake world keeps `minHealthy` healthy
//! instances and stays within `maxCapacity` at every step until done; scaling kills exactly
//! the right instances; every decision is idempotent; plans respect dependencies.

#![allow(clippy::unwrap_used)]

mod common;

use common::{World, upgrade};
use keel_deploy::{
    Action, ActionKind, Condition, Goal, Instance, Progress, Reconcile, RootGroup, RunSpec,
    UnreachableStrategy, Verb, advance, plan, reconcile,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// A deterministic coin per (seed, round, instance): whether that instance moves on now.
fn coin(seed: u64, round: usize, id: &str) -> bool {
    let mut h = seed ^ 0xcbf2_9ce4_8422_2325 ^ (round as u64).wrapping_mul(0x100_0000_01b3);
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    !h.is_multiple_of(3)
}

struct Limits {
    min_healthy: usize,
    capacity: usize,
    floor: usize,
}

fn limits(spec: &RunSpec) -> Limits {
    let n = f64::from(spec.instances);
    let min_healthy = (n * spec.upgrade.minimum_health_capacity).ceil() as usize;
    let max_capacity = (n * (1.0 + spec.upgrade.maximum_over_capacity)).floor() as usize;
    let special = min_healthy == max_capacity;
    Limits {
        min_healthy,
        capacity: max_capacity + usize::from(special && !spec.resident),
        floor: if special && spec.resident {
            min_healthy.saturating_sub(1)
        } else {
            min_healthy
        },
    }
}

/// Runs a restart to the end (or `rounds`), asserting the invariants after every change.
fn roll(mut world: World, seed: u64, rounds: usize) -> Result<bool, TestCaseError> {
    let spec = world.spec.clone();
    let action = Action::new(ActionKind::RestartApplication, &spec.id);
    let l = limits(&spec);
    let mut reached = world.counts().1 >= l.min_healthy;
    for round in 0..rounds {
        let p = advance(&action, Some(&spec), &world.instances, world.now).unwrap();
        if p.done {
            let new = world
                .instances
                .iter()
                .filter(|i| i.config_version == spec.config_version);
            prop_assert_eq!(new.count(), spec.instances as usize);
            prop_assert_eq!(world.instances.len(), spec.instances as usize);
            return Ok(true);
        }
        world.apply(&p);
        invariants(&world, &l, reached)?;
        let hurry = round > rounds / 2;
        world.settle(
            |id| hurry || coin(seed, round, id),
            |id| hurry || coin(!seed, round, id),
        );
        invariants(&world, &l, reached)?;
        reached |= world.counts().1 >= l.min_healthy;
    }
    Ok(false)
}

fn invariants(world: &World, l: &Limits, reached: bool) -> Result<(), TestCaseError> {
    let (alive, healthy) = world.counts();
    prop_assert!(
        alive <= l.capacity,
        "{alive} alive > {} in {}",
        l.capacity,
        world.summary()
    );
    if reached {
        prop_assert!(
            healthy >= l.floor,
            "{healthy} healthy < {} in {}",
            l.floor,
            world.summary()
        );
    }
    Ok(())
}

fn restart_spec(n: u32, min_hc: f64, max_oc: f64, resident: bool) -> RunSpec {
    let mut spec = RunSpec::app("/app");
    spec.instances = n;
    spec.config_version = "2".into();
    spec.upgrade = upgrade(min_hc, max_oc);
    spec.resident = resident;
    spec.has_health_checks = true;
    spec.has_readiness_checks = true;
    spec
}

proptest! {
    #[test]
    fn rolling_restart_keeps_health_and_capacity_and_finishes(
        n in 1u32..9,
        min_hc in prop_oneof![Just(0.0), Just(0.5), Just(1.0), 0.0f64..=1.0],
        max_oc in prop_oneof![Just(0.0), Just(1.0), 0.0f64..=1.0],
        resident in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let world = World::rolling(restart_spec(n, min_hc, max_oc, resident), n, "1");
        prop_assert!(roll(world, seed, 200)?, "restart did not finish");
    }

    #[test]
    fn rolling_restart_with_sick_old_instances_stays_safe(
        n in 1u32..9,
        min_hc in 0.0f64..=1.0,
        max_oc in 0.0f64..=1.0,
        resident in any::<bool>(),
        sick in proptest::collection::vec(any::<bool>(), 9),
        seed in any::<u64>(),
    ) {
        let mut world = World::rolling(restart_spec(n, min_hc, max_oc, resident), n, "1");
        for (i, sick) in world.instances.iter_mut().zip(sick) {
            if sick {
                i.healthy = Some(false);
            }
        }
        roll(world, seed, 60)?;
    }
}

fn arb_instance(k: usize) -> impl Strategy<Value = Instance> {
    use Condition::*;
    let conditions = prop::sample::select(vec![
        Provisioned,
        Staging,
        Starting,
        Running,
        Running,
        Running,
        Killing,
        Unreachable,
        UnreachableInactive,
        Failed,
        Killed,
    ]);
    let goals = prop::sample::select(vec![
        Goal::Running,
        Goal::Running,
        Goal::Running,
        Goal::Decommissioned,
    ]);
    (
        conditions,
        goals,
        0u8..20,
        prop::option::of(0u8..20),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            move |(condition, goal, staged, started, old, healthy, ready)| {
                let mut i = Instance::running(
                    &format!("i{k}"),
                    "/app",
                    if old { "1" } else { "2" },
                    f64::from(staged),
                );
                i.condition = condition;
                i.goal = goal;
                i.started_at = started.map(f64::from);
                i.healthy = Some(healthy);
                i.ready = ready;
                if condition.is_unreachable() {
                    i.unreachable_since = Some(90.0);
                }
                i
            },
        )
}

fn arb_instances() -> impl Strategy<Value = Vec<Instance>> {
    (0usize..10).prop_flat_map(|len| (0..len).map(arb_instance).collect::<Vec<_>>())
}

fn arb_spec() -> impl Strategy<Value = RunSpec> {
    (
        0u32..7,
        0.0f64..=1.0,
        0.0f64..=1.0,
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0.0f64..30.0),
    )
        .prop_map(|(n, min_hc, max_oc, resident, oldest, unreachable)| {
            let mut spec = restart_spec(n, min_hc, max_oc, resident);
            if oldest {
                spec.kill_selection = keel_deploy::KillSelection::OldestFirst;
            }
            spec.unreachable = match unreachable {
                None => UnreachableStrategy::Disabled,
                Some(t) => UnreachableStrategy::Enabled {
                    inactive_after: t,
                    expunge_after: t * 2.0,
                },
            };
            spec
        })
}

/// Goal Running, reachable and neither ending nor ended: what counts when nothing is
/// unreachable for long (the oracle for scaling).
fn counted(i: &Instance) -> bool {
    use Condition::*;
    i.goal == Goal::Running
        && matches!(
            i.condition,
            Provisioned | Staging | Starting | Running | Unreachable
        )
}

fn weight(c: Condition) -> u8 {
    match c {
        Condition::Unreachable => 1,
        Condition::Staging => 2,
        Condition::Starting => 3,
        Condition::Running => 4,
        _ => 5,
    }
}

proptest! {
    #[test]
    fn scaling_kills_exactly_the_right_ones(instances in arb_instances(), target in 0u32..8) {
        let mut spec = RunSpec::app("/app");
        spec.instances = target;
        spec.unreachable = UnreachableStrategy::Enabled { inactive_after: 1000.0, expunge_after: 2000.0 };
        let action = Action::new(ActionKind::ScaleApplication, "/app");
        let p = advance(&action, Some(&spec), &instances, 100.0).unwrap();

        let live: Vec<&Instance> = instances.iter().filter(|i| counted(i)).collect();
        let gone: BTreeSet<&String> = p.kill.iter().chain(&p.expunge).collect();
        let stale = instances.iter().filter(|i| i.goal != Goal::Running && i.condition.is_unreachable()).count();
        prop_assert_eq!(gone.len(), live.len().saturating_sub(target as usize) + stale);
        prop_assert_eq!(p.launch as usize, (target as usize).saturating_sub(live.len()));
        let (killed, kept): (Vec<&Instance>, Vec<&Instance>) = live.iter().partition(|i| gone.contains(&i.id));
        for k in &killed {
            prop_assert_eq!(p.expunge.contains(&k.id), k.condition == Condition::Unreachable);
            for j in &kept {
                prop_assert!(weight(k.condition) <= weight(j.condition), "{} before {}", k.id, j.id);
                let same = weight(k.condition) == weight(j.condition) && weight(k.condition) == 4;
                if let (true, Some(a), Some(b)) = (same, k.started_at, j.started_at) {
                    prop_assert!(a >= b, "youngest first: {} ({a}) before {} ({b})", k.id, j.id);
                }
            }
        }
    }

    #[test]
    fn actions_are_idempotent(
        instances in arb_instances(),
        spec in arb_spec(),
        verb in prop::sample::select(vec![Verb::Stop, Verb::Scale, Verb::Restart]),
    ) {
        let action = Action::new(ActionKind::new(verb, spec.kind), "/app");
        let first = advance(&action, Some(&spec), &instances, 100.0).unwrap();
        let mut world = World::new(spec.clone(), instances);
        world.apply(&first);
        let again = advance(&action, Some(&spec), &world.instances, 100.0).unwrap();
        let expected = Progress { kill: vec![], expunge: vec![], launch: 0, ..again.clone() };
        prop_assert_eq!(again, expected);
    }

    #[test]
    fn reconcile_is_idempotent(instances in arb_instances(), spec in arb_spec()) {
        let backoff = keel_deploy::BackoffState::default();
        let first = reconcile(&spec, &instances, &backoff, 100.0);
        let applied = apply_reconcile(&spec, instances, &first);
        let again = reconcile(&spec, &applied, &backoff, 100.0);
        let expected = Reconcile { next_wakeup: again.next_wakeup, ..Reconcile::default() };
        prop_assert_eq!(again, expected);
    }
}

fn apply_reconcile(spec: &RunSpec, mut instances: Vec<Instance>, r: &Reconcile) -> Vec<Instance> {
    instances.retain(|i| !r.expunge.contains(&i.id));
    for i in instances.iter_mut() {
        if r.kill.contains(&i.id) {
            i.goal = Goal::Decommissioned;
            i.condition = Condition::Killing;
        }
        if r.mark_inactive.contains(&i.id) {
            i.condition = Condition::UnreachableInactive;
        }
    }
    for k in 0..r.launch {
        let mut i = Instance::running(&format!("new{k}"), &spec.id, &spec.config_version, 100.0);
        i.condition = Condition::Provisioned;
        instances.push(i);
    }
    instances
}

/// Run specs `/s0..`, each depending on a subset of the others, some of them in groups.
fn arb_groups() -> impl Strategy<Value = (RootGroup, RootGroup, BTreeMap<String, Vec<String>>)> {
    (2usize..9)
        .prop_flat_map(|k| {
            let deps = proptest::collection::vec(proptest::collection::vec(0..k, 0..3), k);
            let presence = proptest::collection::vec((any::<bool>(), any::<bool>(), 0u8..3), k);
            (Just(k), deps, presence)
        })
        .prop_map(|(k, deps, presence)| {
            let id = |i: usize| format!("/g{}/s{i}", i % 3);
            let (mut old, mut new) = (Vec::new(), Vec::new());
            let mut edges = BTreeMap::new();
            for i in 0..k {
                let mut spec = RunSpec::app(&id(i));
                spec.dependencies = deps[i]
                    .iter()
                    .map(|&j| {
                        if j % 4 == 3 {
                            format!("/g{}", j % 3)
                        } else {
                            id(j)
                        }
                    })
                    .collect();
                edges.insert(spec.id.clone(), spec.dependencies.clone());
                let (in_old, in_new, change) = presence[i];
                if in_old {
                    old.push(spec.clone());
                }
                if in_new {
                    match change {
                        1 => spec.instances = 3,
                        2 => spec.config_version = "2".into(),
                        _ => {}
                    }
                    new.push(spec);
                }
            }
            (RootGroup::new(old), RootGroup::new(new), edges)
        })
}

/// Whether the target's dependency graph is acyclic (Kahn's algorithm on resolved edges).
fn acyclic(target: &RootGroup) -> bool {
    let resolved: BTreeMap<&str, BTreeSet<&str>> = target
        .run_specs
        .values()
        .map(|s| {
            (
                s.id.as_str(),
                s.dependencies
                    .iter()
                    .flat_map(|d| target.resolve(d))
                    .collect(),
            )
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < resolved.len() {
        let ready: Vec<&str> = resolved
            .iter()
            .filter(|(v, deps)| !done.contains(*v) && deps.iter().all(|d| done.contains(d)))
            .map(|(v, _)| *v)
            .collect();
        if ready.is_empty() {
            return false;
        }
        done.extend(ready);
    }
    true
}

proptest! {
    #[test]
    fn plans_respect_dependencies((old, new, _edges) in arb_groups()) {
        let result = plan(&old, &new, &BTreeSet::new(), "d".into(), "v".into());
        prop_assert_eq!(result.is_ok(), acyclic(&new), "{:?}", result);
        let Ok(p) = result else { return Ok(()) };
        let mut step_of: BTreeMap<String, usize> = BTreeMap::new();
        for (n, step) in p.steps.iter().enumerate() {
            for a in &step.actions {
                match a.kind.verb() {
                    Verb::Stop => { prop_assert_eq!(n, 0); prop_assert!(new.get(&a.run_spec).is_none()); }
                    Verb::Start => prop_assert!(old.get(&a.run_spec).is_none()),
                    _ => { prop_assert!(step_of.insert(a.run_spec.clone(), n).is_none()); }
                }
            }
        }
        for spec in new.run_specs.values() {
            let changed = old.get(&spec.id) != Some(spec);
            prop_assert_eq!(step_of.contains_key(&spec.id), changed, "{}", spec.id);
            let Some(&mine) = step_of.get(&spec.id) else { continue };
            for dep in spec.dependencies.iter().flat_map(|d| new.resolve(d)) {
                if let Some(&theirs) = step_of.get(dep) {
                    prop_assert!(theirs < mine, "{} (step {mine}) needs {dep} (step {theirs})", spec.id);
                }
            }
        }
    }
}
