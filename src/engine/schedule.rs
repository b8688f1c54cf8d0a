//! When a connection may send: the load model as data. A closed model sends as soon as a
//! slot frees up; an open model hands out intended send times from a per-worker pacer, so
//! latency can be measured from when a request *should* have left (no coordinated omission).
use std::time::{Duration, Instant};

/// A per-worker schedule of intended send times at a fixed rate.
#[derive(Debug)]
pub struct Pacer {
    start: Instant,
    interval_ns: f64,
    issued: u64,
}

impl Pacer {
    /// `rate` requests per second, first one at `start`.
    pub fn new(start: Instant, rate: f64) -> Self {
        Pacer {
            start,
            interval_ns: 1e9 / rate,
            issued: 0,
        }
    }

    /// The intended time of the next request, without taking it.
    pub fn peek(&self) -> Instant {
        // f64 holds integers exactly up to 2^53 ns (104 days): far beyond any run.
        let offset = self.issued as f64 * self.interval_ns;
        self.start + Duration::from_nanos(offset as u64)
    }

    /// Takes the next intended send time.
    pub fn take(&mut self) -> Instant {
        let t = self.peek();
        self.issued += 1;
        t
    }

    /// Takes the next intended send time if it is due by `now`.
    pub fn take_due(&mut self, now: Instant) -> Option<Instant> {
        (self.peek() <= now).then(|| self.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_evenly_spaced_times() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 4.0);
        let times: Vec<_> = (0..5).map(|_| p.take() - t0).collect();
        assert_eq!(
            times,
            [0, 250, 500, 750, 1000].map(Duration::from_millis).to_vec()
        );
    }

    #[test]
    fn only_due_times_are_taken() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 10.0);
        let now = t0 + Duration::from_millis(250);
        let due: Vec<_> = std::iter::from_fn(|| p.take_due(now)).collect();
        assert_eq!(due.len(), 3, "0, 100 and 200 ms are due at 250 ms");
        assert_eq!(p.peek() - t0, Duration::from_millis(300));
    }

    #[test]
    fn rate_over_a_long_run_has_no_drift() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 3.0);
        for _ in 0..3_000_000 {
            p.take();
        }
        assert_eq!(p.peek() - t0, Duration::from_secs(1_000_000));
    }
}
