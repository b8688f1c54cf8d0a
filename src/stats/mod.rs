//! Results: what a worker records per request, what crosses the channel once per interval,
//! and how the coordinator merges it. Knows nothing of sockets or runtimes, so it is tested
//! with plain numbers.
pub mod batch;
pub mod compact;
mod connect;
pub mod cpu;
mod merged;
mod point;
mod recorder;

pub use compact::Compact;
pub use connect::ConnStats;
pub use merged::{aggregate, Merged};
pub use point::{percentiles, Point, REPORT_PERCENTILES};
pub use recorder::{Recorder, Snapshot, TaskStats};

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds.
pub const LATENCY_UNIT_US: u64 = 1;
/// The largest latency a histogram tracks exactly (one hour); longer ones saturate.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;
/// HdrHistogram precision: three significant digits (0.1% relative error at any magnitude).
pub const LATENCY_SIGFIG: u8 = 3;

/// An open-model send that leaves more than this after its intended time counts as late.
/// Well above the precise pacer's own lateness (tens of µs), so a late send means the
/// client was short of connections or CPU, not the timer.
pub const LATE_AFTER_US: u64 = 100;

/// Sends in a lateness histogram that left later than [`LATE_AFTER_US`].
pub fn late_count(lateness: &Histogram<u64>) -> u64 {
    if lateness.is_empty() {
        return 0;
    }
    let on_time = lateness.count_between(0, LATE_AFTER_US);
    lateness.len().saturating_sub(on_time)
}

/// A latency histogram with blast's bounds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LATENCY_UNIT_US, LATENCY_MAX_US, LATENCY_SIGFIG)
        .expect("constant histogram bounds are valid")
}

/// Microseconds in a duration, at least 1 (the histogram's lowest trackable value).
pub fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
