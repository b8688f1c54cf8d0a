//! `Point`: one task's figures at one second of the run — what happened in that interval and
//! the running totals — as the time series in every report needs them.
use super::TaskStats;

/// The percentile columns Locust reports (and so does every blast report).
pub const REPORT_PERCENTILES: [f64; 11] = [
    0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// Requests that ended in the interval (responses and errors).
    pub requests: u64,
    pub failures: u64,
    /// Latency percentiles of the interval at `REPORT_PERCENTILES`, in µs; None if no response.
    pub percentiles: Option<[u64; REPORT_PERCENTILES.len()]>,
    pub total_requests: u64,
    pub total_failures: u64,
    /// Running latency figures in µs; None until a response completes.
    pub total_median_us: Option<u64>,
    pub total_p99_us: Option<u64>,
    pub total_mean_us: Option<f64>,
    pub total_min_us: Option<u64>,
    pub total_max_us: Option<u64>,
    /// Mean response body size so far, in bytes.
    pub total_avg_content: f64,
}

impl Point {
    /// From the interval's stats and the running totals of the same task.
    pub fn new(interval: &TaskStats, total: &TaskStats) -> Self {
        let h = &total.latency;
        let some = !h.is_empty();
        Point {
            requests: interval.requests(),
            failures: interval.failures,
            percentiles: percentiles(interval),
            total_requests: total.requests(),
            total_failures: total.failures,
            total_median_us: some.then(|| h.value_at_quantile(0.5)),
            total_p99_us: some.then(|| h.value_at_quantile(0.99)),
            total_mean_us: some.then(|| h.mean()),
            total_min_us: some.then(|| h.min()),
            total_max_us: some.then(|| h.max()),
            total_avg_content: if total.responses > 0 {
                total.body_bytes as f64 / total.responses as f64
            } else {
                0.0
            },
        }
    }

    /// The interval percentile `q` (one of `REPORT_PERCENTILES`), in µs.
    pub fn percentile(&self, q: f64) -> Option<u64> {
        let i = REPORT_PERCENTILES.iter().position(|&p| p == q)?;
        self.percentiles.map(|p| p[i])
    }
}

/// `REPORT_PERCENTILES` of a task's latency, None when it has no samples.
pub fn percentiles(t: &TaskStats) -> Option<[u64; REPORT_PERCENTILES.len()]> {
    (!t.latency.is_empty()).then(|| REPORT_PERCENTILES.map(|q| t.latency.value_at_quantile(q)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Recorder;
    use std::time::Duration;

    #[test]
    fn interval_and_totals_are_kept_apart() {
        let mut r = Recorder::new(1);
        for us in 1..=100 {
            r.response(0, 200, Duration::from_micros(us * 10), 4);
        }
        let first = r.take_snapshot(0, 1, false).tasks.remove(0);
        r.request_error(0, "timeout");
        let second = r.take_snapshot(0, 1, false).tasks.remove(0);
        let mut total = first.clone();
        total.merge(&second);
        let p = Point::new(&second, &total);
        assert_eq!((p.requests, p.failures), (1, 1));
        assert_eq!(p.percentiles, None, "no response in the interval");
        assert_eq!((p.total_requests, p.total_failures), (101, 1));
        assert_eq!(p.total_min_us, Some(10));
        assert_eq!(p.total_max_us, Some(1000));
        assert_eq!(p.total_avg_content, 4.0);
        let q = Point::new(&first, &first);
        assert_eq!(q.percentile(0.5), Some(500));
        assert_eq!(q.percentile(1.0), Some(1000));
        assert_eq!(q.percentile(0.42), None);
    }
}
