//! Lock-free instruments for `GET /metrics`: counters are `AtomicU64`s and
//! a [`Histogram`] is a fixed array of them, so recording costs a few
//! relaxed atomic adds and never a lock or an allocation. The server
//! renders them in the Prometheus text format.
//!
//! What every request records is kept per shard ([`shard`]): an atomic
//! that two cores add to at once moves its cache line between them on
//! every add (and stalls whatever else reads that line), which costs more
//! than the add; each thread adds to its own shard's, and a reading sums
//! the shards.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How many shards per-request instruments keep: threads beyond it share.
pub const SHARDS: usize = 16;

/// This thread's shard, in `0..SHARDS`: threads take them in turn at
/// their first use.
pub fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// A value alone on its cache line (two lines: adjacent-line prefetch).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Padded<T>(pub T);

/// A counter many threads add to: a padded atomic per shard, summed when
/// read.
#[derive(Debug, Default)]
pub struct Counter {
    shards: [Padded<AtomicU64>; SHARDS],
}

impl Counter {
    pub fn add(&self, n: u64) {
        self.shards[shard()].0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum()
    }
}

/// Upper bounds (seconds) of the latency buckets, `+Inf` implied.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A latency histogram with [`LATENCY_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket (not cumulative); the last is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

/// A consistent-enough reading of a [`Histogram`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Cumulative counts per bucket, `+Inf` last (equal to `count`).
    pub cumulative: [u64; LATENCY_BUCKETS.len() + 1],
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The histogram's counts added to `into` (a reading of several
    /// shards' histograms).
    pub fn add_to(&self, into: &mut HistogramSnapshot) {
        let mut total = 0;
        for (out, bucket) in into.cumulative.iter_mut().zip(&self.buckets) {
            total += bucket.load(Ordering::Relaxed);
            *out += total;
        }
        into.count += total;
        into.sum_seconds += self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = [0; LATENCY_BUCKETS.len() + 1];
        let mut total = 0;
        for (out, bucket) in cumulative.iter_mut().zip(&self.buckets) {
            total += bucket.load(Ordering::Relaxed);
            *out = total;
        }
        HistogramSnapshot {
            cumulative,
            count: total,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

impl HistogramSnapshot {
    /// No observation.
    pub fn empty() -> Self {
        Self {
            cumulative: [0; LATENCY_BUCKETS.len() + 1],
            count: 0,
            sum_seconds: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_sums_what_every_thread_added() {
        let counter = std::sync::Arc::new(Counter::default());
        let threads: Vec<_> = (0..SHARDS + 3)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counter.add(1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.get(), (SHARDS as u64 + 3) * 1000);
    }

    #[test]
    fn histograms_add_up_into_one_snapshot() {
        let (a, b) = (Histogram::default(), Histogram::default());
        a.observe(Duration::from_micros(50));
        b.observe(Duration::from_millis(3));
        b.observe(Duration::from_secs(10));
        let mut sum = HistogramSnapshot::empty();
        a.add_to(&mut sum);
        b.add_to(&mut sum);
        assert_eq!(sum.count, 3);
        assert_eq!(sum.cumulative[0], 1);
        assert_eq!(sum.cumulative[LATENCY_BUCKETS.len()], 3);
        assert_eq!(sum.cumulative[LATENCY_BUCKETS.len() - 1], 2);
        assert!((sum.sum_seconds - 10.00305).abs() < 1e-9);
    }

    #[test]
    fn histogram_counts_into_cumulative_buckets() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.cumulative[0], 1);
        let five_ms = LATENCY_BUCKETS.iter().position(|&b| b == 0.005).unwrap();
        assert_eq!(s.cumulative[five_ms - 1], 1);
        assert_eq!(s.cumulative[five_ms], 2);
        assert_eq!(s.cumulative[LATENCY_BUCKETS.len() - 1], 2);
        assert_eq!(s.cumulative[LATENCY_BUCKETS.len()], 3);
        assert!((s.sum_seconds - 60.00305).abs() < 1e-9);
    }
}
