//! Numbers: one measured repeat of a cell ([`Sample`]), the median of
//! several ([`Summary`]), and the latency histogram's percentiles.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// The median of `values` (the mean of the two middle ones for an even
/// count); `None` if empty. NaNs are ignored.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// The median of the values that are present; `None` if none is.
pub fn median_opt(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.into_iter().flatten().collect();
    median(&v)
}

/// p50, p99 and p99.9 of a histogram in microseconds, as milliseconds.
pub fn percentiles_ms(h: &Histogram<u64>) -> (f64, f64, f64) {
    if h.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    (q(0.50), q(0.99), q(0.999))
}

/// One repeat of one cell against one server.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Successful requests completed inside the measured window.
    pub requests: u64,
    /// Failed requests (error status or transport error) during the whole
    /// cell, warm-up included.
    pub errors: u64,
    /// Length of the measured window.
    pub seconds: f64,
    pub req_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Server CPU time (user + system, `/proc/PID/stat`) per successful request.
    pub server_cpu_us_per_req: Option<f64>,
    /// The benchmark process's own CPU time per request (the load generator).
    pub generator_cpu_us_per_req: Option<f64>,
    /// Server CPU time / wall time: cores the server kept busy.
    pub server_cores: Option<f64>,
    /// Load generator CPU time / wall time.
    pub generator_cores: Option<f64>,
    /// Busy cores of the whole machine (`/proc/stat`), everyone included.
    pub machine_busy_cores: Option<f64>,
}

/// The median over repeats of each number of [`Sample`] (independently),
/// errors summed.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub repeats: usize,
    pub req_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub server_cpu_us_per_req: Option<f64>,
    pub generator_cpu_us_per_req: Option<f64>,
    pub server_cores: Option<f64>,
    pub generator_cores: Option<f64>,
    pub machine_busy_cores: Option<f64>,
    pub errors: u64,
    pub requests: u64,
}

impl Summary {
    pub fn of(samples: &[Sample]) -> Summary {
        let m = |f: fn(&Sample) -> f64| {
            median(&samples.iter().map(f).collect::<Vec<_>>()).unwrap_or(f64::NAN)
        };
        let mo = |f: fn(&Sample) -> Option<f64>| median_opt(samples.iter().map(f));
        Summary {
            repeats: samples.len(),
            req_per_sec: m(|s| s.req_per_sec),
            p50_ms: m(|s| s.p50_ms),
            p99_ms: m(|s| s.p99_ms),
            p999_ms: m(|s| s.p999_ms),
            server_cpu_us_per_req: mo(|s| s.server_cpu_us_per_req),
            generator_cpu_us_per_req: mo(|s| s.generator_cpu_us_per_req),
            server_cores: mo(|s| s.server_cores),
            generator_cores: mo(|s| s.generator_cores),
            machine_busy_cores: mo(|s| s.machine_busy_cores),
            errors: samples.iter().map(|s| s.errors).sum(),
            requests: samples.iter().map(|s| s.requests).sum(),
        }
    }
}

/// `a / b`, or `None` when either is missing or `b` is not positive.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() && b.is_finite() => Some(a / b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
        assert_eq!(median_opt([None, Some(1.0), Some(3.0)]), Some(2.0));
        assert_eq!(median_opt([None, None]), None);
    }

    #[test]
    fn percentiles_of_uniform_latencies() {
        let mut h = new_histogram();
        for us in 1..=10_000u64 {
            h.record(us).unwrap();
        }
        let (p50, p99, p999) = percentiles_ms(&h);
        // 3 significant digits: within 0.1%.
        assert!((p50 - 5.0).abs() < 0.01, "{p50}");
        assert!((p99 - 9.9).abs() < 0.02, "{p99}");
        assert!((p999 - 9.99).abs() < 0.02, "{p999}");
        assert!(percentiles_ms(&new_histogram()).0.is_nan());
    }

    fn sample(rps: f64, p99: f64, cpu: Option<f64>, errors: u64) -> Sample {
        Sample {
            requests: (rps * 2.0) as u64,
            errors,
            seconds: 2.0,
            req_per_sec: rps,
            p50_ms: p99 / 4.0,
            p99_ms: p99,
            p999_ms: p99 * 2.0,
            server_cpu_us_per_req: cpu,
            generator_cpu_us_per_req: None,
            server_cores: None,
            generator_cores: None,
            machine_busy_cores: None,
        }
    }

    #[test]
    fn summary_takes_medians_independently() {
        let s = Summary::of(&[
            sample(100.0, 3.0, Some(50.0), 0),
            sample(300.0, 1.0, None, 2),
            sample(200.0, 2.0, Some(70.0), 1),
        ]);
        assert_eq!(s.repeats, 3);
        assert_eq!(s.req_per_sec, 200.0);
        assert_eq!(s.p99_ms, 2.0);
        assert_eq!(s.server_cpu_us_per_req, Some(60.0));
        assert_eq!(s.generator_cpu_us_per_req, None);
        assert_eq!(s.errors, 3);
        assert_eq!(s.requests, 1200);
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(Some(1.0), Some(2.0)), Some(0.5));
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(2.0)), None);
        assert_eq!(ratio(Some(f64::NAN), Some(2.0)), None);
    }
}
