//! `GET /metrics` in the Prometheus text format (version 0.0.4),
//! unauthenticated like `/health`.
//!
//! Every series a request touches is created at startup: a row of counters
//! per operation (one per [`ErrorCode`], plus success and "other") and a
//! latency [`Histogram`] per operation, indexed by the `Operation` enum, so
//! recording is a few relaxed atomic adds: no lock, no allocation, no map
//! lookup. The rows are kept per shard (`trent_core::stats::shard`: each
//! worker thread adds to its own, so no two cores fight over a counter's
//! cache line) and summed when rendered. The exposition is written here by hand (about a hundred lines)
//! rather than with `prometheus-client`, whose histograms take a lock per
//! observation; `tests/python/test_audit.py` parses it with the reference
//! parser (`prometheus_client`).

use crate::AppState;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use trent_core::stats::{Histogram, HistogramSnapshot, LATENCY_BUCKETS, SHARDS, shard};
use trent_wire::{ErrorCode, Operation};

/// Requests that are not a KMS operation.
#[derive(Debug, Clone, Copy)]
pub enum OtherOperation {
    /// A KMS request naming no known operation.
    Unknown = 0,
    /// IAM and STS (Query protocol).
    IamSts = 1,
    /// CloudTrail's LookupEvents.
    CloudTrail = 2,
}

const OTHER_NAMES: [&str; 3] = ["Unknown", "IAM/STS", "CloudTrail.LookupEvents"];

/// Column of a request counter row: success, an `ErrorCode`, or another
/// protocol's error.
const SUCCESS: usize = 0;
fn error_column(code: Option<ErrorCode>) -> usize {
    match code {
        Some(code) => 1 + code as usize,
        None => 1 + ErrorCode::ALL.len(),
    }
}

struct Row {
    requests: Box<[AtomicU64]>,
    latency: Histogram,
}

impl Row {
    fn new() -> Self {
        Self {
            requests: (0..ErrorCode::ALL.len() + 2)
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: Histogram::default(),
        }
    }
}

/// The server's request instruments.
pub struct Metrics {
    /// Per shard: `Operation::ALL` order, then [`OtherOperation`].
    shards: Box<[Box<[Row]>]>,
    /// Kept by the transport.
    pub connections: ConnectionCounters,
}

/// What happened to client connections (`crate::transport`).
#[derive(Debug, Default)]
pub struct ConnectionCounters {
    /// Connections whose task is running.
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    /// Closed at once: at the cap, every connection was serving a request.
    pub refused: AtomicU64,
    /// Closed to make room for a new one (the longest idle or reading).
    pub evicted: AtomicU64,
    pub handshake_timeouts: AtomicU64,
    pub header_timeouts: AtomicU64,
    pub idle_timeouts: AtomicU64,
    pub handshake_failures: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    (0..Operation::ALL.len() + OTHER_NAMES.len())
                        .map(|_| Row::new())
                        .collect()
                })
                .collect(),
            connections: ConnectionCounters::default(),
        }
    }

    /// A KMS request: its operation (if known), its error (if any).
    pub fn kms(&self, operation: Option<Operation>, error: Option<ErrorCode>, elapsed: Duration) {
        let row = match operation {
            Some(op) => op as usize,
            None => Operation::ALL.len() + OtherOperation::Unknown as usize,
        };
        let column = error.map_or(SUCCESS, |code| error_column(Some(code)));
        self.record(row, column, elapsed);
    }

    /// An IAM, STS or CloudTrail request; its error type is not an
    /// `ErrorCode` and counts as other.
    pub fn other(&self, operation: OtherOperation, ok: bool, elapsed: Duration) {
        let column = if ok { SUCCESS } else { error_column(None) };
        self.record(Operation::ALL.len() + operation as usize, column, elapsed);
    }

    fn record(&self, row: usize, column: usize, elapsed: Duration) {
        let row = &self.shards[shard()][row];
        row.requests[column].fetch_add(1, Ordering::Relaxed);
        row.latency.observe(elapsed);
    }

    /// Requests of row `row` with column `column`, all shards.
    fn requests(&self, row: usize, column: usize) -> u64 {
        self.shards
            .iter()
            .map(|rows| rows[row].requests[column].load(Ordering::Relaxed))
            .sum()
    }

    /// Row `row`'s latency, all shards.
    fn latency(&self, row: usize) -> HistogramSnapshot {
        let mut sum = HistogramSnapshot::empty();
        for rows in &self.shards {
            rows[row].latency.add_to(&mut sum);
        }
        sum
    }

    fn rows(&self) -> std::ops::Range<usize> {
        0..Operation::ALL.len() + OTHER_NAMES.len()
    }
}

fn row_name(row: usize) -> &'static str {
    match Operation::ALL.get(row) {
        Some(op) => op.name(),
        None => OTHER_NAMES[row - Operation::ALL.len()],
    }
}

fn column_name(column: usize) -> &'static str {
    match column {
        SUCCESS => "None",
        c if c <= ErrorCode::ALL.len() => ErrorCode::ALL[c - 1].as_str(),
        _ => "Other",
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, s: &HistogramSnapshot) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, count) in LATENCY_BUCKETS.iter().zip(&s.cumulative) {
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
        s.cumulative[LATENCY_BUCKETS.len()]
    );
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", s.sum_seconds);
    let _ = writeln!(out, "{name}_count{braces} {}", s.count);
}

fn connections(out: &mut String, c: &ConnectionCounters) {
    let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
    header(
        out,
        "trent_connections_open",
        "gauge",
        "Client connections open.",
    );
    let _ = writeln!(out, "trent_connections_open {}", load(&c.open));
    header(
        out,
        "trent_connections_accepted_total",
        "counter",
        "Client connections accepted.",
    );
    let _ = writeln!(
        out,
        "trent_connections_accepted_total {}",
        load(&c.accepted)
    );
    header(
        out,
        "trent_connections_refused_total",
        "counter",
        "Connections closed at once: at the connection cap, every connection was serving a request.",
    );
    let _ = writeln!(out, "trent_connections_refused_total {}", load(&c.refused));
    header(
        out,
        "trent_connections_closed_total",
        "counter",
        "Connections the server closed, by reason: evicted (idle or reading a head the longest, at the cap), a timeout, a failed TLS handshake.",
    );
    for (reason, n) in [
        ("evicted", &c.evicted),
        ("handshake_timeout", &c.handshake_timeouts),
        ("header_timeout", &c.header_timeouts),
        ("idle_timeout", &c.idle_timeouts),
        ("handshake_failed", &c.handshake_failures),
    ] {
        let _ = writeln!(
            out,
            "trent_connections_closed_total{{reason=\"{reason}\"}} {}",
            load(n)
        );
    }
}

/// The whole exposition.
pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let m = &state.metrics;
    header(
        &mut out,
        "trent_requests_total",
        "counter",
        "Requests by operation and error type (None: success).",
    );
    for r in m.rows() {
        for c in 0..ErrorCode::ALL.len() + 2 {
            let count = m.requests(r, c);
            if count > 0 {
                let _ = writeln!(
                    out,
                    "trent_requests_total{{operation=\"{}\",error_type=\"{}\"}} {count}",
                    row_name(r),
                    column_name(c)
                );
            }
        }
    }
    header(
        &mut out,
        "trent_request_duration_seconds",
        "histogram",
        "Request latency by operation, from routing to the response.",
    );
    for r in m.rows() {
        let s = m.latency(r);
        if s.count > 0 {
            let labels = format!("operation=\"{}\"", row_name(r));
            histogram(&mut out, "trent_request_duration_seconds", &labels, &s);
        }
    }
    connections(&mut out, &m.connections);
    let (hits, misses) = state.kms.key_cache_stats();
    header(
        &mut out,
        "trent_key_cache_hits_total",
        "counter",
        "Key lookups answered from the in-memory key cache.",
    );
    let _ = writeln!(out, "trent_key_cache_hits_total {hits}");
    header(
        &mut out,
        "trent_key_cache_misses_total",
        "counter",
        "Key lookups that loaded the key from the store.",
    );
    let _ = writeln!(out, "trent_key_cache_misses_total {misses}");
    let (keys, warm) = state.kms.key_cache_fill();
    for (name, help, value) in [
        (
            "trent_key_cache_keys",
            "Keys held unsealed in the key cache.",
            keys,
        ),
        (
            "trent_key_cache_warm",
            "1 once the cache holds every stored key (warmed at startup).",
            usize::from(warm),
        ),
    ] {
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    let name = "trent_throttled_requests_total";
    header(
        &mut out,
        name,
        "counter",
        "Requests refused for a request quota (ThrottlingException), by quota; ThrottledEvents counts refusals left out of the audit trail.",
    );
    for (quota, count) in state.kms.request_quotas().throttled() {
        let _ = writeln!(out, "{name}{{quota=\"{quota}\"}} {count}");
    }
    if let Some(timing) = &state.store_timing {
        let name = "trent_store_duration_seconds";
        header(
            &mut out,
            name,
            "histogram",
            "Time a store call took, by store method (each is one transaction).",
        );
        for (method, latency) in timing.latencies() {
            histogram(
                &mut out,
                name,
                &format!("method=\"{method}\""),
                &latency.snapshot(),
            );
        }
        if let Some(pool) = trent_core::ChangeStore::connections(timing.as_ref()) {
            database_pool(&mut out, pool);
        }
    }
    if let Some(feed) = &state.feed {
        change_feed(&mut out, feed, state.freshness.is_fresh());
    }
    if let Some(log) = &state.audit {
        let stats = log.stats();
        header(
            &mut out,
            "trent_audit_queue_depth",
            "gauge",
            "Audit events queued for the writer.",
        );
        let _ = writeln!(out, "trent_audit_queue_depth {}", log.queue_depth());
        header(
            &mut out,
            "trent_audit_write_duration_seconds",
            "histogram",
            "Time to commit one batch of audit events to the store.",
        );
        histogram(
            &mut out,
            "trent_audit_write_duration_seconds",
            "",
            &stats.write_seconds.snapshot(),
        );
        header(
            &mut out,
            "trent_audit_events_written_total",
            "counter",
            "Audit events committed to the store.",
        );
        let _ = writeln!(
            out,
            "trent_audit_events_written_total {}",
            stats.events_written.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "trent_audit_write_failures_total",
            "counter",
            "Failed audit writes: store batches (events lost) and stream writes (retried).",
        );
        let _ = writeln!(
            out,
            "trent_audit_write_failures_total{{sink=\"store\"}} {}\ntrent_audit_write_failures_total{{sink=\"stream\"}} {}",
            stats.store_failures.load(Ordering::Relaxed),
            stats.stream_failures.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "trent_audit_stream_dropped_total",
            "counter",
            "Events the JSON-lines stream gave up on (its backlog was full); the store has them.",
        );
        let _ = writeln!(
            out,
            "trent_audit_stream_dropped_total {}",
            stats.stream_dropped.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "trent_audit_failing",
            "gauge",
            "1 while the last write to this sink failed (Trent then refuses what it cannot record).",
        );
        let _ = writeln!(
            out,
            "trent_audit_failing{{sink=\"store\"}} {}\ntrent_audit_failing{{sink=\"stream\"}} {}",
            u8::from(stats.store_failing()),
            u8::from(stats.stream_failing())
        );
    }
    out
}

/// The change feed (several nodes on one store).
/// The database connection pools (every runtime's together).
fn database_pool(out: &mut String, pool: trent_core::Connections) {
    let name = "trent_database_connections";
    header(
        out,
        name,
        "gauge",
        "Connections open to PostgreSQL, in use or idle (every pool of the process together).",
    );
    let in_use = pool.open.saturating_sub(pool.idle);
    let _ = writeln!(out, "{name}{{state=\"in_use\"}} {in_use}");
    let _ = writeln!(out, "{name}{{state=\"idle\"}} {}", pool.idle);
    let name = "trent_database_connections_max";
    header(
        out,
        name,
        "gauge",
        "The most connections to PostgreSQL the process's pools open (--database-pool-size each).",
    );
    let _ = writeln!(out, "{name} {}", pool.max);
}

fn change_feed(out: &mut String, feed: &trent_core::FeedStats, fresh: bool) {
    let load = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
    for (name, kind, help, value) in [
        (
            "trent_caches_fresh",
            "gauge",
            "1 while the change feed confirms this node's caches current; 0 while it cannot (requests answered from them fail, /health answers 503).",
            u64::from(fresh),
        ),
        (
            "trent_change_feed_polls_total",
            "counter",
            "Reads of the store's change feed (at a notification, or every 200 ms).",
            load(&feed.polls),
        ),
        (
            "trent_change_feed_notifications_total",
            "counter",
            "Reads of the change feed started by a notification from the store (PostgreSQL's NOTIFY).",
            load(&feed.notified),
        ),
        (
            "trent_change_feed_failed_polls_total",
            "counter",
            "Reads of the change feed that failed or took too long.",
            load(&feed.failed_polls),
        ),
        (
            "trent_change_feed_changes_total",
            "counter",
            "Changes (by any node) applied to this node's caches.",
            load(&feed.changes),
        ),
        (
            "trent_change_feed_stale_total",
            "counter",
            "Times this node's caches stopped being confirmed current.",
            load(&feed.stale_spells),
        ),
    ] {
        header(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    let name = "trent_change_feed_lag_seconds";
    header(
        out,
        name,
        "histogram",
        "From a change's commit (the database's clock) to its application to this node's caches: the invalidation lag.",
    );
    histogram(out, name, "", &feed.lag.snapshot());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_discriminants_index_their_all_arrays() {
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{}", op.name());
        }
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, i, "{}", code.as_str());
            assert_eq!(column_name(error_column(Some(*code))), code.as_str());
        }
        assert_eq!(column_name(error_column(None)), "Other");
    }
}
