//! Tests of the redb backend: the conformance suite, plus what only a file can do (reopen).

use super::*;
use crate::{EventKind, Expect, Op, Store, Txn};
use keel_clock::ManualClock;
use std::sync::atomic::{AtomicUsize, Ordering};

const SEC: Duration = Duration::from_secs(1);

/// Runs `case` with stores in fresh files of one temporary directory.
fn with_redb(case: crate::conformance::Case) {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    case(&|clock: Arc<ManualClock>| {
        let path = dir
            .path()
            .join(format!("store-{}.redb", n.fetch_add(1, Ordering::Relaxed)));
        Box::new(RedbStore::open(&path, clock).unwrap()) as Box<dyn Store>
    });
}

crate::conformance_tests!(with_redb);

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(1_700_000_000.0))
}

#[test]
fn reopen_preserves_keys_revision_history_and_leases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/keel.redb");
    let lease = {
        let s = RedbStore::open(&path, clock()).unwrap();
        assert_eq!(s.path(), path);
        s.put("/a", b"1", Expect::Absent).unwrap();
        s.put("/b", b"2", Expect::Any).unwrap();
        let lease = s.grant_lease(10 * SEC).unwrap();
        s.put_with_lease("/l/x", b"x", Expect::Any, lease).unwrap();
        let txn = Txn::new().then(Op::put("/a", "3")).then(Op::delete("/b"));
        assert_eq!(s.txn(txn).unwrap().revision, 4);
        s.compact(2).unwrap();
        lease
    };
    let s = RedbStore::open(&path, clock()).unwrap();
    assert_eq!(s.revision().unwrap(), 4);
    let a = s.get("/a").unwrap().unwrap();
    assert_eq!(
        (a.value, a.create_revision, a.mod_revision, a.version),
        (b"3".to_vec(), 1, 4, 2)
    );
    assert_eq!(s.get("/b").unwrap(), None);
    assert!(matches!(
        s.watch("", 1),
        Err(StoreError::Compacted { compacted: 2, .. })
    ));
    let w = s.watch("", 2).unwrap();
    let history: Vec<_> = std::iter::from_fn(|| w.try_recv().unwrap())
        .map(|e| (e.revision, e.kind, e.kv.key))
        .collect();
    assert_eq!(
        history,
        vec![
            (2, EventKind::Put, "/b".to_string()),
            (3, EventKind::Put, "/l/x".to_string()),
            (4, EventKind::Put, "/a".to_string()),
            (4, EventKind::Delete, "/b".to_string()),
        ]
    );
    assert_eq!(
        s.put("/c", b"c", Expect::Any).unwrap(),
        5,
        "the revision counter survives"
    );
    let next = s.grant_lease(SEC).unwrap();
    assert!(next.0 > lease.0, "lease ids are never reused");
    s.revoke_lease(lease).unwrap();
    assert_eq!(s.get("/l/x").unwrap(), None, "lease attachments survive");
    let live = w.try_recv().unwrap().map(|e| (e.revision, e.kind));
    assert_eq!(live, Some((5, EventKind::Put)));
}

#[test]
fn reopen_restarts_lease_ttls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.redb");
    let clock = clock();
    let lease = {
        let s = RedbStore::open(&path, clock.clone()).unwrap();
        let lease = s.grant_lease(10 * SEC).unwrap();
        s.put_with_lease("/l", b"x", Expect::Any, lease).unwrap();
        lease
    };
    clock.advance(9 * SEC);
    let s = RedbStore::open(&path, clock.clone()).unwrap();
    clock.advance(5 * SEC);
    assert_eq!(
        s.expire_leases().unwrap(),
        vec![],
        "a restart grants a fresh ttl"
    );
    clock.advance(5 * SEC);
    assert_eq!(s.expire_leases().unwrap(), vec![lease]);
    assert_eq!(s.get("/l").unwrap(), None);
}

#[test]
fn failed_writes_leave_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.redb");
    {
        let s = RedbStore::open(&path, clock()).unwrap();
        s.put("/k", b"v", Expect::Any).unwrap();
        assert!(s.put("/k", b"w", Expect::Absent).is_err());
    }
    let s = RedbStore::open(&path, clock()).unwrap();
    assert_eq!(s.revision().unwrap(), 1);
    assert_eq!(s.get("/k").unwrap().map(|kv| kv.value), Some(b"v".to_vec()));
}

#[test]
fn garbage_file_is_a_backend_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.redb");
    std::fs::write(&path, b"this is not a redb file at all, not even close").unwrap();
    let err = RedbStore::open(&path, clock()).err().unwrap().to_string();
    assert!(err.starts_with("store backend: open database in "), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn durable_commit_rate_is_measurable() {
    let dir = tempfile::tempdir().unwrap();
    let s = RedbStore::open(&dir.path().join("bench.redb"), clock()).unwrap();
    let rate = crate::bench_commits(&s, 20).unwrap();
    assert!(rate > 0.0);
    assert_eq!(s.list("").unwrap(), vec![]);
}

#[test]
fn a_sequential_write_is_one_durable_commit() {
    let dir = tempfile::tempdir().unwrap();
    let s = RedbStore::open(&dir.path().join("keel.redb"), clock()).unwrap();
    let before = s.durable_commits();
    s.put("/a", b"1", Expect::Any).unwrap();
    let txn = Txn::new().then(Op::put("/b", "2")).then(Op::put("/c", "3"));
    s.txn(txn).unwrap();
    assert!(s.put("/a", b"x", Expect::Absent).is_err());
    assert_eq!(
        s.durable_commits() - before,
        2,
        "one fsync per write; a failed compare writes nothing"
    );
}

#[test]
fn writers_arriving_during_a_commit_share_the_next_one_each_at_its_own_revision() {
    const WRITERS: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.redb");
    let lease = {
        let s = RedbStore::open(&path, clock()).unwrap();
        let lease = s.grant_lease(60 * SEC).unwrap();
        let base = s.durable_commits();
        let watch = s.watch("/w/", 0).unwrap();
        let revisions = std::thread::scope(|scope| {
            let held = s.engine.hold_commits();
            let first = scope.spawn(|| s.put("/w/first", b"0", Expect::Absent).unwrap());
            wait_until(|| s.engine.commit_in_progress());
            let s = &s;
            let rest: Vec<_> = (0..WRITERS)
                .map(|i| {
                    scope.spawn(move || match i {
                        // A put on a dead lease fails alone; the group still commits.
                        0 => s
                            .put_with_lease("/w/dead", b"x", Expect::Any, crate::LeaseId(999))
                            .map_err(|e| e.to_string()),
                        1 => s
                            .put_with_lease("/w/leased", b"x", Expect::Any, lease)
                            .map_err(|e| e.to_string()),
                        // A failed compare is answered as such and bumps nothing.
                        2 => s
                            .put("/w/first", b"again", Expect::Absent)
                            .map_err(|e| e.to_string()),
                        _ => s
                            .put(&format!("/w/{i:02}"), b"v", Expect::Absent)
                            .map_err(|e| e.to_string()),
                    })
                })
                .collect();
            // The first writer commits alone (blocked by `held`); the others queue up.
            wait_until(|| s.engine.queued_writes() == WRITERS);
            drop(held);
            let mut revs = vec![first.join().unwrap()];
            let results: Vec<_> = rest.into_iter().map(|h| h.join().unwrap()).collect();
            assert!(
                results[0]
                    .as_ref()
                    .unwrap_err()
                    .contains("lease 999 not found")
            );
            assert!(
                results[2]
                    .as_ref()
                    .unwrap_err()
                    .contains("compare-and-set failed")
            );
            revs.extend(results.iter().filter_map(|r| r.as_ref().ok().copied()));
            revs
        });
        assert_eq!(
            s.durable_commits() - base,
            2,
            "the queued writers shared one commit"
        );
        let mut sorted = revisions.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..WRITERS as u64).collect::<Vec<_>>());
        let events: Vec<_> = std::iter::from_fn(|| watch.try_recv().unwrap())
            .map(|e| e.revision)
            .collect();
        assert_eq!(events, sorted, "one event per write, in revision order");
        lease
    };
    // Everything answered was durable: it is all there after a reopen.
    let s = RedbStore::open(&path, clock()).unwrap();
    assert_eq!(s.revision().unwrap(), WRITERS as u64 - 1);
    assert_eq!(s.list("/w/").unwrap().len(), WRITERS - 1);
    assert_eq!(s.get("/w/leased").unwrap().unwrap().lease, Some(lease));
    assert_eq!(s.get("/w/first").unwrap().unwrap().value, b"0".to_vec());
}

fn wait_until(cond: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("condition not reached");
}

/// Env var naming the directory `crash_child_writes_until_killed` writes in.
const CRASH_DIR: &str = "KEEL_STORE_CRASH_DIR";
/// Acknowledged puts the parent waits for before it kills the child: past one checkpoint
/// by count, with several by a full log on the way (every tenth value is large).
const CRASH_AFTER: usize = CHECKPOINT_EVERY as usize + 300;
const BIG: usize = 192 * 1024;

fn crash_value(i: usize) -> Vec<u8> {
    let len = if i % 10 == 9 { BIG } else { 16 };
    vec![(i % 251) as u8; len]
}

/// The child half of `acknowledged_writes_survive_a_kill_9`: puts keys one after another and
/// prints `acked N` once each put has returned, until it is killed (or a bound is reached).
#[test]
#[ignore = "run as a child process by acknowledged_writes_survive_a_kill_9"]
fn crash_child_writes_until_killed() {
    use std::io::Write;
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let s = RedbStore::open(&Path::new(&dir).join("keel.redb"), clock()).unwrap();
    let mut out = std::io::stdout();
    for i in 0..CRASH_AFTER * 4 {
        s.put(&format!("/crash/{i:06}"), &crash_value(i), Expect::Absent)
            .unwrap();
        writeln!(out, "acked {i}").unwrap();
        out.flush().unwrap();
    }
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn acknowledged_writes_survive_a_kill_9() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "redb_store::tests::crash_child_writes_until_killed",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CRASH_DIR, dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = None;
    for line in lines {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("acked ") {
            let n: usize = n.parse().unwrap();
            acked = Some(n);
            if n >= CRASH_AFTER {
                break;
            }
        }
    }
    // SIGKILL mid-stream: no destructor runs, redb is left at its last durable commit.
    child.kill().unwrap();
    child.wait().unwrap();
    let acked = acked.expect("the child acknowledged writes");
    assert!(acked >= CRASH_AFTER, "the child stopped early at {acked}");
    let s = RedbStore::open(&dir.path().join("keel.redb"), clock()).unwrap();
    for i in 0..=acked {
        let kv = s.get(&format!("/crash/{i:06}")).unwrap();
        assert_eq!(
            kv.map(|kv| kv.value),
            Some(crash_value(i)),
            "acknowledged put {i} of {acked} survives"
        );
    }
    assert!(s.revision().unwrap() > acked as u64);
    assert!(s.replayed() > 0, "the kill left logged writes to replay");
    let w = s.watch("/crash/", 1).unwrap();
    let history = std::iter::from_fn(|| w.try_recv().unwrap()).count();
    assert!(history > acked, "the watch history is replayed too");
    // The replay was checkpointed: a second open has nothing left to replay.
    drop(s);
    let s = RedbStore::open(&dir.path().join("keel.redb"), clock()).unwrap();
    assert_eq!(s.replayed(), 0);
    assert!(s.get(&format!("/crash/{acked:06}")).unwrap().is_some());
}

#[test]
fn a_clean_reopen_after_logged_writes_replays_nothing_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.redb");
    {
        let s = RedbStore::open(&path, clock()).unwrap();
        for i in 0..10 {
            s.put(&format!("/k/{i}"), b"v", Expect::Any).unwrap();
        }
        assert_eq!(s.durable_commits(), 10, "one logged fsync per put");
    }
    assert!(wal_path(&path).exists());
    let s = RedbStore::open(&path, clock()).unwrap();
    assert_eq!(s.list("/k/").unwrap().len(), 10);
    assert_eq!(s.revision().unwrap(), 10);
}

#[test]
fn replaying_a_log_into_an_empty_file_rebuilds_every_kind_of_mutation() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.redb"), dir.path().join("b.redb"));
    let s = RedbStore::open(&a, clock()).unwrap();
    let lease = s.grant_lease(10 * SEC).unwrap();
    let gone = s.grant_lease(10 * SEC).unwrap();
    s.put_with_lease("/l/kept", b"k", Expect::Any, lease)
        .unwrap();
    s.put_with_lease("/l/gone", b"g", Expect::Any, gone)
        .unwrap();
    s.put("/a", b"1", Expect::Absent).unwrap();
    s.put("/a", b"2", Expect::Any).unwrap();
    s.put("/b", b"x", Expect::Any).unwrap();
    s.delete("/b", Expect::Any).unwrap();
    s.put_with_lease("/l/moved", b"m", Expect::Any, gone)
        .unwrap();
    s.put("/l/moved", b"free", Expect::Any).unwrap();
    s.revoke_lease(gone).unwrap();
    s.compact(3).unwrap();
    let txn = Txn::new().then(Op::put("/c", "3")).then(Op::put("/d", "4"));
    s.txn(txn).unwrap();
    // The log as a crash would leave it, next to a redb file that never saw a write.
    drop(RedbStore::open(&b, clock()).unwrap());
    std::fs::copy(wal_path(&a), wal_path(&b)).unwrap();
    let r = RedbStore::open(&b, clock()).unwrap();
    assert!(r.replayed() > 0);
    assert_eq!(r.revision().unwrap(), s.revision().unwrap());
    assert_eq!(r.list("").unwrap(), s.list("").unwrap());
    assert!(matches!(r.watch("", 2), Err(StoreError::Compacted { .. })));
    let history = |st: &RedbStore| {
        let w = st.watch("", 3).unwrap();
        std::iter::from_fn(|| w.try_recv().unwrap())
            .map(|e| (e.revision, e.kind, e.kv.key))
            .collect::<Vec<_>>()
    };
    assert_eq!(history(&r), history(&s));
    assert_eq!(r.grant_lease(SEC).unwrap(), s.grant_lease(SEC).unwrap());
    r.revoke_lease(lease).unwrap();
    assert_eq!(
        r.get("/l/kept").unwrap(),
        None,
        "the lease's keys came back"
    );
    assert!(r.get("/l/moved").unwrap().is_some(), "detached by its put");
}

#[test]
fn a_new_store_ignores_the_log_of_a_deleted_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.redb");
    {
        let s = RedbStore::open(&path, clock()).unwrap();
        s.put("/old", b"v", Expect::Any).unwrap();
    }
    // The log's records would replay into a fresh file (its checkpoint is 0).
    let log = std::fs::read(wal_path(&path)).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(wal_path(&path), log).unwrap();
    let s = RedbStore::open(&path, clock()).unwrap();
    assert_eq!(s.replayed(), 0);
    assert_eq!(s.get("/old").unwrap(), None);
    assert_eq!(s.revision().unwrap(), 0);
}
