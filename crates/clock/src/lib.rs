//! The only place in Keel that reads the wall clock or the monotonic clock, and that mints
//! random ids.
//!
//! Pure crates take `now` as an input; services hold an `Arc<dyn Clock>` so tests can use
//! [`ManualClock`] and move time by hand, and an `Arc<dyn Ids>` so tests can use
//! [`SeqIds`] and get the same ids every run. The timers of blocking I/O loops (the
//! executor's deadlines) read [`monotonic`].

#![forbid(unsafe_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The monotonic clock now, for the deadlines of blocking I/O loops.
pub fn monotonic() -> Instant {
    Instant::now()
}

/// The wall clock now, for file ages and timestamps outside a service's [`Clock`].
pub fn wall() -> SystemTime {
    SystemTime::now()
}

/// A source of time.
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time as seconds since the Unix epoch (what Mesos puts in timestamps).
    fn unix_secs(&self) -> f64;
    /// Monotonic time since an arbitrary fixed origin; never goes backwards.
    fn monotonic(&self) -> Duration;
}

/// The real clock.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn unix_secs(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(f64, Duration)>,
}

impl ManualClock {
    /// Starts at `unix_secs` wall time and zero monotonic time.
    pub fn new(unix_secs: f64) -> Self {
        Self {
            state: Mutex::new((unix_secs, Duration::ZERO)),
        }
    }

    /// Moves both clocks forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 += d.as_secs_f64();
        s.1 += d;
    }
}

impl Clock for ManualClock {
    fn unix_secs(&self) -> f64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }
    fn monotonic(&self) -> Duration {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

/// A source of unique ids (deployment, instance and task ids).
pub trait Ids: Send + Sync {
    fn uuid(&self) -> uuid::Uuid;
}

/// Random (v4) ids.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl Ids for RandomIds {
    fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::new_v4()
    }
}

/// Ids in sequence from a seed: the same every run, for tests.
#[derive(Debug)]
pub struct SeqIds {
    seed: u64,
    next: AtomicU64,
}

impl SeqIds {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            next: AtomicU64::new(1),
        }
    }
}

impl Ids for SeqIds {
    fn uuid(&self) -> uuid::Uuid {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        uuid::Uuid::from_u64_pair(self.seed, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_are_the_same_every_run_and_unique() {
        let (a, b) = (SeqIds::new(7), SeqIds::new(7));
        let first: Vec<uuid::Uuid> = (0..3).map(|_| a.uuid()).collect();
        let second: Vec<uuid::Uuid> = (0..3).map(|_| b.uuid()).collect();
        assert_eq!(first, second);
        assert!(first[0] != first[1] && first[1] != first[2]);
        assert_ne!(RandomIds.uuid(), RandomIds.uuid());
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(100.0);
        assert_eq!(c.unix_secs(), 100.0);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.unix_secs(), 101.5);
        assert_eq!(c.monotonic(), Duration::from_millis(1500));
    }

    #[test]
    fn system_clock_is_monotonic() {
        let c = SystemClock::new();
        let a = c.monotonic();
        assert!(c.monotonic() >= a);
        assert!(c.unix_secs() > 1.7e9);
    }

    #[test]
    fn seq_ids_repeat_per_seed_and_never_within_one() {
        let (a, b) = (SeqIds::new(7), SeqIds::new(7));
        let first: Vec<_> = (0..100).map(|_| a.uuid()).collect();
        let again: Vec<_> = (0..100).map(|_| b.uuid()).collect();
        assert_eq!(first, again);
        let unique: std::collections::BTreeSet<_> = first.iter().collect();
        assert_eq!(unique.len(), first.len());
        assert_ne!(SeqIds::new(8).uuid(), first[0]);
    }

    #[test]
    fn random_ids_are_v4_and_distinct() {
        let ids = RandomIds;
        let (a, b) = (ids.uuid(), ids.uuid());
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 4);
    }
}
