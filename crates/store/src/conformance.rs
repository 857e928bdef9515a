//! The conformance suite every [`Store`] backend runs: one pub function per behaviour.
//!
//! A backend's tests stamp out one `#[test]` per case with [`conformance_tests!`](crate::conformance_tests),
//! or run everything at once with [`run_all`]:
//!
//! ```
//! use keel_store::{MemStore, Store, conformance};
//!
//! fn with_mem(case: conformance::Case) {
//!     case(&|clock| Box::new(MemStore::new(clock)) as Box<dyn Store>);
//! }
//! keel_store::conformance_tests!(with_mem);
//!
//! fn main() {
//!     conformance::run_all(&|clock| Box::new(MemStore::new(clock)) as Box<dyn Store>);
//! }
//! ```
//!
//! Each case calls `make` for fresh, empty stores; the [`ManualClock`] it passes is the one
//! the case moves to expire leases. A backend that keeps files hands out a new file per call
//! and cleans up in its `with_*` function, after the case returns.

use crate::{EventKind, Expect, KeyValue, Op, Store, StoreError, Txn, Watch, WatchEvent};
use keel_clock::ManualClock;
use std::sync::Arc;
use std::time::Duration;

/// Makes a fresh, empty store whose leases run on the given clock.
pub type MakeStore<'a> = &'a dyn Fn(Arc<ManualClock>) -> Box<dyn Store>;

/// One conformance case.
pub type Case = fn(MakeStore<'_>);

/// Every case, by name, in the order [`conformance_tests!`] lists them.
pub const CASES: &[(&str, Case)] = &[
    ("get_put_delete", get_put_delete),
    ("cas_absent", cas_absent),
    ("cas_mod_revision", cas_mod_revision),
    ("delete_cas", delete_cas),
    (
        "revisions_monotonic_and_versions",
        revisions_monotonic_and_versions,
    ),
    (
        "list_prefix_sorted_and_isolated",
        list_prefix_sorted_and_isolated,
    ),
    (
        "txn_failure_applies_failure_ops_only",
        txn_failure_applies_failure_ops_only,
    ),
    (
        "txn_success_is_atomic_with_one_revision",
        txn_success_is_atomic_with_one_revision,
    ),
    (
        "txn_with_dead_lease_applies_nothing",
        txn_with_dead_lease_applies_nothing,
    ),
    (
        "txn_without_writes_bumps_no_revision",
        txn_without_writes_bumps_no_revision,
    ),
    ("watch_history_then_live", watch_history_then_live),
    ("watch_prefix_filtering", watch_prefix_filtering),
    ("watch_from_future_revision", watch_from_future_revision),
    ("compaction", compaction),
    (
        "lease_revoke_deletes_attached_keys",
        lease_revoke_deletes_attached_keys,
    ),
    (
        "lease_expiry_follows_the_clock",
        lease_expiry_follows_the_clock,
    ),
    ("keep_alive_extends", keep_alive_extends),
    (
        "concurrent_cas_never_loses_an_increment",
        concurrent_cas_never_loses_an_increment,
    ),
    (
        "concurrent_writers_each_get_their_own_revision",
        concurrent_writers_each_get_their_own_revision,
    ),
    (
        "submitted_txns_commit_in_submission_order",
        submitted_txns_commit_in_submission_order,
    ),
];

/// Runs every case against stores from `make`.
pub fn run_all(make: MakeStore<'_>) {
    for (_, case) in CASES {
        case(make);
    }
}

/// Stamps out one `#[test]` per conformance case, each calling `$with(case)`, where
/// `$with: fn(Case)` supplies a [`MakeStore`] (and cleans up after it).
#[macro_export]
macro_rules! conformance_tests {
    ($with:path) => {
        $crate::conformance_tests!(@cases $with;
            get_put_delete,
            cas_absent,
            cas_mod_revision,
            delete_cas,
            revisions_monotonic_and_versions,
            list_prefix_sorted_and_isolated,
            txn_failure_applies_failure_ops_only,
            txn_success_is_atomic_with_one_revision,
            txn_with_dead_lease_applies_nothing,
            txn_without_writes_bumps_no_revision,
            watch_history_then_live,
            watch_prefix_filtering,
            watch_from_future_revision,
            compaction,
            lease_revoke_deletes_attached_keys,
            lease_expiry_follows_the_clock,
            keep_alive_extends,
            concurrent_cas_never_loses_an_increment,
            concurrent_writers_each_get_their_own_revision,
            submitted_txns_commit_in_submission_order,
        );
    };
    (@cases $with:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $with($crate::conformance::$name)
            }
        )*

        #[test]
        fn conformance_macro_lists_every_case() {
            let listed = [$(stringify!($name)),*];
            let all: Vec<&str> = $crate::conformance::CASES.iter().map(|(n, _)| *n).collect();
            assert_eq!(listed.to_vec(), all);
        }
    };
}

const SEC: Duration = Duration::from_secs(1);

fn fresh(make: MakeStore<'_>) -> (Arc<ManualClock>, Box<dyn Store>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    let store = make(clock.clone());
    (clock, store)
}

fn put(s: &dyn Store, key: &str, value: &str) -> u64 {
    s.put(key, value.as_bytes(), Expect::Any).expect("put")
}

fn get(s: &dyn Store, key: &str) -> Option<KeyValue> {
    s.get(key).expect("get")
}

fn value(s: &dyn Store, key: &str) -> Option<String> {
    get(s, key).map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
}

fn revision(s: &dyn Store) -> u64 {
    s.revision().expect("revision")
}

fn keys(kvs: &[KeyValue]) -> Vec<&str> {
    kvs.iter().map(|kv| kv.key.as_str()).collect()
}

/// Every event already waiting on `w`.
fn drain(w: &Watch) -> Vec<WatchEvent> {
    std::iter::from_fn(|| w.try_recv().expect("watch")).collect()
}

/// `(revision, kind, key)` of each event.
fn summary(events: &[WatchEvent]) -> Vec<(u64, EventKind, &str)> {
    events
        .iter()
        .map(|e| (e.revision, e.kind, e.kv.key.as_str()))
        .collect()
}

fn assert_cas_failed(r: Result<impl std::fmt::Debug, StoreError>, key: &str, want: Option<u64>) {
    match r {
        Err(StoreError::CasFailed { key: k, actual, .. }) => {
            assert_eq!((k.as_str(), actual), (key, want), "cas failure on {key}");
        }
        other => panic!("expected a cas failure on {key}, got {other:?}"),
    }
}

fn assert_lease_not_found(r: Result<impl std::fmt::Debug, StoreError>, lease: crate::LeaseId) {
    match r {
        Err(StoreError::LeaseNotFound(l)) => assert_eq!(l, lease),
        other => panic!("expected lease {lease} not found, got {other:?}"),
    }
}

pub fn get_put_delete(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    assert_eq!((get(s, "/a"), revision(s)), (None, 0));
    assert_eq!(put(s, "/a", "1"), 1);
    let want = KeyValue {
        key: "/a".into(),
        value: b"1".to_vec(),
        create_revision: 1,
        mod_revision: 1,
        version: 1,
        lease: None,
    };
    assert_eq!(get(s, "/a"), Some(want));
    assert_eq!(put(s, "/a", "2"), 2);
    let kv = get(s, "/a").expect("present");
    assert_eq!(
        (kv.value, kv.create_revision, kv.mod_revision, kv.version),
        (b"2".to_vec(), 1, 2, 2)
    );
    assert_eq!(s.delete("/a", Expect::Any).expect("delete"), Some(3));
    assert_eq!(get(s, "/a"), None);
    assert_eq!(s.delete("/a", Expect::Any).expect("delete absent"), None);
    assert_eq!(revision(s), 3, "deleting an absent key bumps no revision");
    assert_eq!(put(s, "/a", "again"), 4);
    let kv = get(s, "/a").expect("present");
    assert_eq!(
        (kv.create_revision, kv.version),
        (4, 1),
        "recreated key starts over"
    );
    let bytes = [0u8, 255, 1, 0];
    s.put("/bin", &bytes, Expect::Any).expect("put binary");
    s.put("/empty", &[], Expect::Any).expect("put empty");
    assert_eq!(get(s, "/bin").map(|kv| kv.value), Some(bytes.to_vec()));
    assert_eq!(get(s, "/empty").map(|kv| kv.value), Some(vec![]));
}

pub fn cas_absent(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    assert_eq!(s.put("/k", b"first", Expect::Absent).expect("create"), 1);
    assert_cas_failed(s.put("/k", b"second", Expect::Absent), "/k", Some(1));
    assert_eq!((value(s, "/k").as_deref(), revision(s)), (Some("first"), 1));
    let err = s
        .put("/k", b"x", Expect::Absent)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("compare-and-set failed on key \"/k\": expected absent, found mod_revision 1")
    );
}

pub fn cas_mod_revision(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    let r1 = put(s, "/k", "1");
    let r2 = s
        .put("/k", b"2", Expect::ModRevision(r1))
        .expect("cas with current revision");
    assert_eq!(r2, r1 + 1);
    assert_cas_failed(s.put("/k", b"3", Expect::ModRevision(r1)), "/k", Some(r2));
    assert_cas_failed(s.put("/none", b"3", Expect::ModRevision(r1)), "/none", None);
    assert_eq!((value(s, "/k").as_deref(), revision(s)), (Some("2"), r2));
}

pub fn delete_cas(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    assert_eq!(s.delete("/k", Expect::Absent).expect("delete absent"), None);
    assert_cas_failed(s.delete("/k", Expect::ModRevision(1)), "/k", None);
    let r = put(s, "/k", "v");
    assert_cas_failed(s.delete("/k", Expect::ModRevision(r + 7)), "/k", Some(r));
    assert_cas_failed(s.delete("/k", Expect::Absent), "/k", Some(r));
    assert_eq!(get(s, "/k").map(|kv| kv.mod_revision), Some(r));
    assert_eq!(
        s.delete("/k", Expect::ModRevision(r)).expect("delete"),
        Some(r + 1)
    );
    assert_eq!((get(s, "/k"), revision(s)), (None, r + 1));
}

pub fn revisions_monotonic_and_versions(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    let mut last = revision(s);
    for i in 0..20 {
        let key = format!("/k{}", i % 3);
        let rev = put(s, &key, &i.to_string());
        assert_eq!(rev, last + 1, "each write bumps the revision by one");
        last = rev;
    }
    assert_eq!(revision(s), 20);
    let versions: Vec<_> = ["/k0", "/k1", "/k2"]
        .iter()
        .map(|k| get(s, k).map(|kv| (kv.version, kv.create_revision, kv.mod_revision)))
        .collect();
    assert_eq!(
        versions,
        vec![Some((7, 1, 19)), Some((7, 2, 20)), Some((6, 3, 18))]
    );
}

pub fn list_prefix_sorted_and_isolated(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    for key in ["/a/2", "/b", "/a/1", "/ab", "/a", "/a/1/x"] {
        put(s, key, key);
    }
    let a = s.list("/a/").expect("list");
    assert_eq!(keys(&a), vec!["/a/1", "/a/1/x", "/a/2"]);
    assert!(a.iter().all(|kv| kv.value == kv.key.as_bytes()));
    assert_eq!(keys(&s.list("/ab").expect("list")), vec!["/ab"]);
    assert_eq!(
        keys(&s.list("").expect("list")),
        vec!["/a", "/a/1", "/a/1/x", "/a/2", "/ab", "/b"]
    );
    assert_eq!(s.list("/zz").expect("list"), vec![]);
    s.delete("/a/1", Expect::Any).expect("delete");
    assert_eq!(keys(&s.list("/a/").expect("list")), vec!["/a/1/x", "/a/2"]);
}

pub fn txn_failure_applies_failure_ops_only(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    put(s, "/x", "x");
    let txn = Txn::new()
        .when("/x", Expect::Absent)
        .then(Op::put("/y", "y"))
        .then(Op::delete("/x"))
        .otherwise(Op::put("/z", "z"))
        .otherwise(Op::get("/x"));
    let out = s.txn(txn).expect("txn");
    assert_eq!((out.succeeded, out.revision), (false, 2));
    assert_eq!(out.gets, vec![get(s, "/x")]);
    assert_eq!((get(s, "/y"), value(s, "/x").as_deref()), (None, Some("x")));
    assert_eq!(get(s, "/z").map(|kv| kv.mod_revision), Some(2));
    let nothing = Txn::new()
        .when("/x", Expect::ModRevision(99))
        .then(Op::delete("/x"));
    let out = s.txn(nothing).expect("txn");
    assert_eq!((out.succeeded, out.revision, revision(s)), (false, 2, 2));
}

pub fn txn_success_is_atomic_with_one_revision(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    put(s, "/x", "x");
    put(s, "/t/old", "old");
    let txn = Txn::new()
        .when("/x", Expect::ModRevision(1))
        .when("/t/new", Expect::Absent)
        .then(Op::put("/t/a", "a"))
        .then(Op::put("/t/b", "b"))
        .then(Op::delete("/t/old"))
        .then(Op::get("/t/a"))
        .otherwise(Op::put("/t/failed", "f"));
    let out = s.txn(txn).expect("txn");
    assert_eq!((out.succeeded, out.revision, revision(s)), (true, 3, 3));
    assert_eq!(
        out.gets,
        vec![get(s, "/t/a")],
        "a get sees the txn's earlier puts"
    );
    let listed = s.list("/t/").expect("list");
    assert_eq!(keys(&listed), vec!["/t/a", "/t/b"]);
    assert!(listed.iter().all(|kv| kv.mod_revision == 3));
    let events = drain(&s.watch("/t/", 3).expect("watch"));
    let want = vec![
        (3, EventKind::Put, "/t/a"),
        (3, EventKind::Put, "/t/b"),
        (3, EventKind::Delete, "/t/old"),
    ];
    assert_eq!(summary(&events), want);
}

pub fn txn_with_dead_lease_applies_nothing(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    put(s, "/x", "x");
    let dead = crate::LeaseId(999);
    let txn = Txn::new()
        .then(Op::put("/c", "c"))
        .then(Op::delete("/x"))
        .then(Op::Put {
            key: "/d".into(),
            value: b"d".to_vec(),
            lease: Some(dead),
        });
    assert_lease_not_found(s.txn(txn), dead);
    assert_eq!(
        (get(s, "/c"), value(s, "/x").as_deref(), revision(s)),
        (None, Some("x"), 1)
    );
    assert_lease_not_found(s.put_with_lease("/d", b"d", Expect::Any, dead), dead);
    assert_eq!((get(s, "/d"), revision(s)), (None, 1));
}

pub fn txn_without_writes_bumps_no_revision(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    put(s, "/x", "x");
    let txn = Txn::new()
        .when("/x", Expect::ModRevision(1))
        .then(Op::get("/x"))
        .then(Op::delete("/none"));
    let out = s.txn(txn).expect("txn");
    assert_eq!((out.succeeded, out.revision, revision(s)), (true, 1, 1));
    assert_eq!(out.gets, vec![get(s, "/x")]);
    assert_eq!(s.txn(Txn::new()).expect("empty txn").revision, 1);
}

pub fn watch_history_then_live(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    put(s, "/w/a", "1");
    put(s, "/w/b", "2");
    s.delete("/w/a", Expect::Any).expect("delete");
    let w = s.watch("/w/", 2).expect("watch");
    let history = drain(&w);
    assert_eq!(
        summary(&history),
        vec![(2, EventKind::Put, "/w/b"), (3, EventKind::Delete, "/w/a")]
    );
    assert_eq!(history[0].kv, get(s, "/w/b").expect("present"));
    assert_eq!(
        history[1].kv.mod_revision, 3,
        "a delete carries its own revision"
    );
    std::thread::scope(|scope| {
        scope.spawn(|| put(s, "/w/c", "3"));
        let live = w
            .recv_timeout(10 * SEC)
            .expect("watch")
            .expect("a live event");
        assert_eq!(
            (live.revision, live.kind, live.kv.value),
            (4, EventKind::Put, b"3".to_vec())
        );
    });
    assert_eq!(w.try_recv().expect("watch"), None);
    assert_eq!(
        w.recv_timeout(Duration::from_millis(10)).expect("watch"),
        None
    );
    let all = drain(&s.watch("/w/", 0).expect("watch from 0"));
    assert_eq!(
        all.iter().map(|e| e.revision).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
}

pub fn watch_prefix_filtering(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    let w = s.watch("/a/", 0).expect("watch");
    for key in ["/ab", "/a/1", "/b", "/a", "/a/2"] {
        put(s, key, "v");
    }
    let want = vec![(2, EventKind::Put, "/a/1"), (5, EventKind::Put, "/a/2")];
    assert_eq!(summary(&drain(&w)), want);
    assert_eq!(
        summary(&drain(&s.watch("/a/", 1).expect("watch"))),
        want,
        "history filters too"
    );
    let everything = drain(&s.watch("", 0).expect("watch"));
    assert_eq!(everything.len(), 5);
}

pub fn watch_from_future_revision(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    put(s, "/f/a", "1");
    let w = s.watch("/f/", 3).expect("watch");
    put(s, "/f/b", "2");
    put(s, "/f/c", "3");
    assert_eq!(summary(&drain(&w)), vec![(3, EventKind::Put, "/f/c")]);
}

pub fn compaction(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    for i in 1..=5 {
        put(s, &format!("/c/{i}"), "v");
    }
    s.compact(3).expect("compact");
    assert_eq!(revision(s), 5, "compaction bumps no revision");
    match s.watch("/c/", 2) {
        Err(StoreError::Compacted {
            requested,
            compacted,
        }) => assert_eq!((requested, compacted), (2, 3)),
        other => panic!("expected compacted, got {other:?}"),
    }
    let kept = drain(&s.watch("/c/", 3).expect("watch at the compaction point"));
    assert_eq!(
        kept.iter().map(|e| e.revision).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    s.compact(2)
        .expect("compacting below the compaction point is a no-op");
    assert!(matches!(
        s.watch("/c/", 2),
        Err(StoreError::Compacted { compacted: 3, .. })
    ));
    assert!(matches!(
        s.compact(6),
        Err(StoreError::FutureRevision {
            requested: 6,
            current: 5
        })
    ));
    assert_eq!(
        s.list("/c/").expect("list").len(),
        5,
        "compaction keeps current values"
    );
    s.compact(5).expect("compact to the current revision");
    put(s, "/c/6", "v");
    assert_eq!(
        summary(&drain(&s.watch("/c/", 5).expect("watch"))),
        vec![(5, EventKind::Put, "/c/5"), (6, EventKind::Put, "/c/6")]
    );
}

pub fn lease_revoke_deletes_attached_keys(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let s = &*s;
    let l = s.grant_lease(10 * SEC).expect("grant");
    let other = s.grant_lease(10 * SEC).expect("grant");
    assert!(other.0 > l.0, "lease ids increase");
    s.put_with_lease("/l/a", b"a", Expect::Absent, l)
        .expect("put a");
    s.put_with_lease("/l/b", b"b", Expect::Any, l)
        .expect("put b");
    put(s, "/l/b", "detached");
    put(s, "/l/c", "c");
    s.put_with_lease("/l/d", b"d", Expect::Any, other)
        .expect("put d");
    assert_eq!(get(s, "/l/a").and_then(|kv| kv.lease), Some(l));
    assert_eq!(get(s, "/l/b").and_then(|kv| kv.lease), None);
    let before = revision(s);
    let w = s.watch("/l/", before + 1).expect("watch");
    s.revoke_lease(l).expect("revoke");
    assert_eq!(
        keys(&s.list("/l/").expect("list")),
        vec!["/l/b", "/l/c", "/l/d"]
    );
    assert_eq!(revision(s), before + 1);
    assert_eq!(
        summary(&drain(&w)),
        vec![(before + 1, EventKind::Delete, "/l/a")]
    );
    assert_lease_not_found(s.revoke_lease(l), l);
    assert_lease_not_found(s.put_with_lease("/l/e", b"e", Expect::Any, l), l);
    assert_lease_not_found(s.keep_alive(l), l);
    s.delete("/l/d", Expect::Any).expect("delete");
    let before = revision(s);
    s.revoke_lease(other)
        .expect("revoke a lease with no keys left");
    assert_eq!(
        revision(s),
        before,
        "revoking a lease without keys bumps no revision"
    );
}

pub fn lease_expiry_follows_the_clock(make: MakeStore<'_>) {
    let (clock, s) = fresh(make);
    let s = &*s;
    let short = s.grant_lease(10 * SEC).expect("grant");
    let long = s.grant_lease(30 * SEC).expect("grant");
    s.put_with_lease("/e/short", b"s", Expect::Any, short)
        .expect("put");
    s.put_with_lease("/e/long", b"l", Expect::Any, long)
        .expect("put");
    clock.advance(9 * SEC);
    assert_eq!(s.expire_leases().expect("expire"), vec![]);
    clock.advance(SEC);
    assert_lease_not_found(s.keep_alive(short), short);
    assert_lease_not_found(s.put_with_lease("/e/late", b"x", Expect::Any, short), short);
    assert_eq!(
        keys(&s.list("/e/").expect("list")),
        vec!["/e/long", "/e/short"],
        "expired, not yet reaped"
    );
    assert_eq!(s.expire_leases().expect("expire"), vec![short]);
    assert_eq!(keys(&s.list("/e/").expect("list")), vec!["/e/long"]);
    clock.advance(20 * SEC);
    assert_eq!(s.expire_leases().expect("expire"), vec![long]);
    assert_eq!(s.list("/e/").expect("list"), vec![]);
    assert_eq!(s.expire_leases().expect("expire"), vec![]);
}

pub fn keep_alive_extends(make: MakeStore<'_>) {
    let (clock, s) = fresh(make);
    let s = &*s;
    let l = s.grant_lease(10 * SEC).expect("grant");
    s.put_with_lease("/k/a", b"a", Expect::Any, l).expect("put");
    clock.advance(8 * SEC);
    s.keep_alive(l).expect("keep alive");
    clock.advance(8 * SEC);
    assert_eq!(s.expire_leases().expect("expire"), vec![]);
    assert!(get(s, "/k/a").is_some());
    clock.advance(2 * SEC);
    assert_eq!(s.expire_leases().expect("expire"), vec![l]);
    assert_eq!(get(s, "/k/a"), None);
    assert_lease_not_found(s.keep_alive(crate::LeaseId(999)), crate::LeaseId(999));
}

pub fn concurrent_cas_never_loses_an_increment(make: MakeStore<'_>) {
    const THREADS: usize = 4;
    const INCREMENTS: usize = 100;
    let (_, s) = fresh(make);
    let s = &*s;
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..INCREMENTS {
                    increment(s, "/counter");
                }
            });
        }
    });
    let kv = get(s, "/counter").expect("counter exists");
    let total = (THREADS * INCREMENTS) as u64;
    assert_eq!(String::from_utf8_lossy(&kv.value), total.to_string());
    assert_eq!(
        (kv.version, revision(s)),
        (total, total),
        "only successful writes bump"
    );
}

pub fn concurrent_writers_each_get_their_own_revision(make: MakeStore<'_>) {
    const THREADS: usize = 8;
    const WRITES: usize = 25;
    let (_, s) = fresh(make);
    let s = &*s;
    let w = s.watch("/c/", 0).expect("watch");
    let mut revisions: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    (0..WRITES)
                        .map(|i| put(s, &format!("/c/{t}-{i:02}"), "v"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("writer"))
            .collect()
    });
    for (t, i) in (0..THREADS).flat_map(|t| (0..WRITES).map(move |i| (t, i))) {
        let kv = get(s, &format!("/c/{t}-{i:02}")).expect("written");
        assert_eq!(
            kv.mod_revision,
            revisions[t * WRITES + i],
            "answered revision"
        );
    }
    revisions.sort_unstable();
    let total = (THREADS * WRITES) as u64;
    assert_eq!(
        revisions,
        (1..=total).collect::<Vec<_>>(),
        "one revision each"
    );
    let events: Vec<u64> = drain(&w).iter().map(|e| e.revision).collect();
    assert_eq!(events, revisions, "events in revision order");
}

pub fn submitted_txns_commit_in_submission_order(make: MakeStore<'_>) {
    let (_, s) = fresh(make);
    let first = s.submit(Txn::new().then(Op::put("/s/k", "first")));
    let second = s.submit(
        Txn::new()
            .when("/s/k", Expect::Absent)
            .then(Op::put("/s/k", "raced"))
            .otherwise(Op::get("/s/k")),
    );
    let third = s.submit(Txn::new().then(Op::put("/s/other", "x")));
    // Waited for out of order: each answer is its own, in submission order.
    let out3 = s.wait(third).expect("third");
    let out2 = s.wait(second).expect("second");
    let out1 = s.wait(first).expect("first");
    assert_eq!((out1.succeeded, out1.revision), (true, 1));
    assert!(!out2.succeeded, "the first put came before it");
    assert_eq!(out2.gets[0].as_ref().map(|kv| kv.mod_revision), Some(1));
    assert_eq!((out3.succeeded, out3.revision), (true, 2));
    assert_eq!(value(&*s, "/s/k").as_deref(), Some("first"));
    assert!(s.wait(first).is_err(), "a ticket is answered once");
    assert_eq!(revision(&*s), 2);
}

/// Adds one to the decimal counter at `key`, retrying on conflict.
fn increment(s: &dyn Store, key: &str) {
    loop {
        let (n, expect) = match get(s, key) {
            None => (0, Expect::Absent),
            Some(kv) => {
                let n: u64 = String::from_utf8_lossy(&kv.value)
                    .parse()
                    .expect("a number");
                (n, Expect::ModRevision(kv.mod_revision))
            }
        };
        match s.put(key, (n + 1).to_string().as_bytes(), expect) {
            Ok(_) => return,
            Err(StoreError::CasFailed { .. }) => continue,
            Err(e) => panic!("increment {key}: {e}"),
        }
    }
}
