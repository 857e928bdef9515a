//! Lock-free counters and latency histograms that services update on their hot paths and
//! the Prometheus exposition reads.

use crate::prometheus::Sample;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically growing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (seconds) of the latency buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A histogram of durations with the [`LATENCY_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, secs: f64) {
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((secs.max(0.0) * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// `<name>_bucket{le=..}` (cumulative), `<name>_sum` and `<name>_count`, each with
    /// `labels` first.
    pub fn samples(&self, name: &str, labels: &[(String, String)]) -> Vec<Sample> {
        let mut out = Vec::with_capacity(LATENCY_BUCKETS.len() + 3);
        let mut acc = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            let le = LATENCY_BUCKETS
                .get(i)
                .map_or("+Inf".to_string(), |v| v.to_string());
            let mut l = labels.to_vec();
            l.push(("le".into(), le));
            out.push(Sample::new(format!("{name}_bucket"), l, acc as f64));
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        out.push(Sample::new(format!("{name}_sum"), labels.to_vec(), sum));
        out.push(Sample::new(
            format!("{name}_count"),
            labels.to_vec(),
            acc as f64,
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let h = Histogram::default();
        for s in [0.0001, 0.003, 0.003, 7.0] {
            h.observe(s);
        }
        let s = h.samples("lat", &[("route".into(), "v2".into())]);
        let v = |le: &str| {
            s.iter()
                .find(|x| x.labels.iter().any(|(k, v)| k == "le" && v == le))
                .map(|x| x.value)
        };
        assert_eq!(v("0.0005"), Some(1.0));
        assert_eq!(v("0.005"), Some(3.0));
        assert_eq!(v("5"), Some(3.0));
        assert_eq!(v("+Inf"), Some(4.0));
        assert_eq!(h.count(), 4);
        let sum = s.iter().find(|x| x.name == "lat_sum").map(|x| x.value);
        assert_eq!(sum, Some(7.0061));
        let c = Counter::default();
        c.add(2);
        c.inc();
        assert_eq!(c.get(), 3);
    }
}
