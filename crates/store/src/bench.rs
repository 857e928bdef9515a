//! A commit-throughput figure for benchmark commands.

use crate::Store;
use crate::error::StoreError;
use crate::kv::Expect;
use crate::txn::{Op, Txn};
use keel_clock::{Clock, SystemClock};

const PREFIX: &str = "/keel-bench/";
const VALUE: [u8; 128] = [0x6b; 128];

/// Commits `n` single-key puts of 128 bytes one after another and returns commits per second.
/// The keys live under `/keel-bench/` and are deleted afterwards (in one untimed transaction).
pub fn bench_commits(store: &dyn Store, n: usize) -> Result<f64, StoreError> {
    let clock = SystemClock::new();
    let start = clock.monotonic();
    for i in 0..n {
        store.put(&format!("{PREFIX}{i:010}"), &VALUE, Expect::Any)?;
    }
    let elapsed = clock.monotonic().saturating_sub(start).as_secs_f64();
    let cleanup = store.list(PREFIX)?.into_iter().map(|kv| Op::delete(kv.key));
    store.txn(Txn {
        success: cleanup.collect(),
        ..Txn::default()
    })?;
    Ok(n as f64 / elapsed.max(f64::MIN_POSITIVE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;
    use std::sync::Arc;

    #[test]
    fn reports_a_rate_and_cleans_up() {
        let store = MemStore::new(Arc::new(SystemClock::new()));
        let rate = bench_commits(&store, 50).expect("bench");
        assert!(rate > 0.0);
        assert_eq!(store.list(PREFIX).expect("list"), vec![]);
        assert_eq!(
            store.revision().expect("revision"),
            51,
            "50 puts and one cleanup"
        );
    }
}
