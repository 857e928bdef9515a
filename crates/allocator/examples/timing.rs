//! Times the allocator on the `bench` fixtures (examples may read the clock; the crate may
//! not): `cargo run --release -p keel-allocator --example timing`.

use keel_allocator::bench;
use keel_model::{Constraint, ConstraintOp};
use std::time::{Duration, Instant};

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Allocates `requests` on `agents`; with `apps > 0`, request `i` is in constraint scope
/// `app-<i % apps>` (each app within one framework, as `apps` is a multiple of the
/// fixtures' framework count).
fn allocate(agents: usize, requests: usize, constraint: Option<Constraint>, apps: usize) {
    let mut a = bench::cluster(agents, 1);
    let mut reqs = bench::requests(requests);
    for (i, r) in reqs.iter_mut().enumerate() {
        r.constraints.extend(constraint.clone());
        r.scope = (apps > 0).then(|| format!("app-{}", i % apps));
    }
    let (result, took) = timed(|| a.allocate(reqs));
    let mut label = constraint.map_or("no constraint".to_string(), |c| {
        format!("{:?} {}", c.op, c.field)
    });
    if apps > 0 {
        label += &format!(", {apps} apps");
    }
    println!(
        "allocate {requests} requests on {agents} agents ({label}): {:.1} ms, {} placed, {} unplaced, {:.0} requests/s",
        took.as_secs_f64() * 1e3,
        result.placed.len(),
        result.unplaced.len(),
        requests as f64 / took.as_secs_f64()
    );
}

fn offers(agents: usize, frameworks: usize) {
    let mut a = bench::cluster(agents, 1);
    let fws = bench::frameworks(frameworks);
    let (offers, took) = timed(|| a.generate_offers(&fws, 7));
    println!(
        "generate_offers {agents} agents / {frameworks} frameworks: {:.2} ms, {} offers",
        took.as_secs_f64() * 1e3,
        offers.len()
    );
}

fn main() {
    allocate(5_000, 100_000, None, 0);
    allocate(5_000, 500_000, None, 0);
    allocate(1_000, 200_000, None, 0);
    let group_by = Constraint {
        field: "rack".into(),
        op: ConstraintOp::GroupBy,
        value: None,
    };
    allocate(5_000, 100_000, Some(group_by), 0);
    let unique = Constraint {
        field: "hostname".into(),
        op: ConstraintOp::Unique,
        value: None,
    };
    allocate(5_000, 100_000, Some(unique.clone()), 0);
    allocate(5_000, 100_000, Some(unique), 1_000);
    offers(1_000, 100);
    offers(5_000, 500);
    offers(10_000, 1_000);
}
