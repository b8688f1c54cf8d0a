//! The search for the highest sustainable rate, as a pure state machine: given the verdicts
//! so far, which rate to offer next. No sockets and no clocks, so every path is tested with
//! a fake server capacity.
//!
//! From the start rate it grows geometrically until a step fails, then bisects between the
//! last good and the first bad rate until they are within the precision. When the very first
//! step fails it shrinks geometrically instead, until a step holds or the rate falls below
//! [`MIN_RATE`]. It always ends: after `max_steps` steps at the latest.

/// Each growth step multiplies the rate by this much (and each shrink step divides by it).
pub const GROWTH_FACTOR: f64 = 2.0;
/// Below this many requests per second the search gives up looking for a sustainable rate.
pub const MIN_RATE: f64 = 1.0;

/// How the search moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchConfig {
    /// The first rate offered, requests/s.
    pub start: f64,
    /// Stop bisecting once (bad - good) / good is at most this (0.05 = 5%).
    pub precision: f64,
    /// Steps at most, whatever happens.
    pub max_steps: usize,
}

/// Why the search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Good and bad rates are within the precision.
    Converged,
    /// The step budget ran out before convergence.
    MaxSteps,
    /// Even the lowest rate tried failed.
    NothingSustainable,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    /// Offer this rate for one step.
    Try(f64),
    Done(Stop),
}

/// The bracket found so far.
#[derive(Clone, Debug)]
pub struct Search {
    cfg: SearchConfig,
    /// Highest rate that held.
    good: Option<f64>,
    /// Lowest rate that failed.
    bad: Option<f64>,
    steps: usize,
}

impl Search {
    pub fn new(cfg: SearchConfig) -> Self {
        Search {
            cfg,
            good: None,
            bad: None,
            steps: 0,
        }
    }

    /// The rate to offer next, or why the search is over.
    pub fn next(&self) -> Next {
        let next = match (self.good, self.bad) {
            (None, None) => Next::Try(self.cfg.start),
            (Some(g), None) => Next::Try(g * GROWTH_FACTOR),
            (None, Some(b)) if b / GROWTH_FACTOR < MIN_RATE => Next::Done(Stop::NothingSustainable),
            (None, Some(b)) => Next::Try(b / GROWTH_FACTOR),
            (Some(g), Some(b)) if (b - g) / g <= self.cfg.precision => Next::Done(Stop::Converged),
            (Some(g), Some(b)) => Next::Try((g + b) / 2.0),
        };
        match next {
            Next::Try(_) if self.steps >= self.cfg.max_steps => Next::Done(match self.good {
                Some(_) => Stop::MaxSteps,
                None => Stop::NothingSustainable,
            }),
            n => n,
        }
    }

    /// Records the verdict of a step at `rate`.
    pub fn record(&mut self, rate: f64, sustainable: bool) {
        self.steps += 1;
        if sustainable {
            self.good = Some(self.good.map_or(rate, |g| g.max(rate)));
        } else {
            self.bad = Some(self.bad.map_or(rate, |b| b.min(rate)));
        }
        // A noisy machine can fail a rate below one that held: the bracket keeps the
        // highest good below the lowest bad so bisection stays meaningful.
        if let (Some(g), Some(b)) = (self.good, self.bad) {
            if b <= g {
                self.resolve_inversion(rate, sustainable);
            }
        }
    }

    /// The last step contradicts the bracket; the latest evidence wins.
    fn resolve_inversion(&mut self, rate: f64, sustainable: bool) {
        if sustainable {
            self.good = Some(rate);
            self.bad = None;
        } else {
            self.bad = Some(rate);
            self.good = None;
        }
    }

    /// The highest rate that held, if any.
    pub fn limit(&self) -> Option<f64> {
        self.good
    }

    pub fn steps(&self) -> usize {
        self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search against a server that sustains exactly `capacity` req/s.
    fn against(capacity: f64, cfg: SearchConfig) -> (Vec<f64>, Stop, Option<f64>) {
        let mut s = Search::new(cfg);
        let mut offered = Vec::new();
        loop {
            match s.next() {
                Next::Try(r) => {
                    offered.push(r);
                    s.record(r, r <= capacity);
                }
                Next::Done(stop) => return (offered, stop, s.limit()),
            }
        }
    }

    fn cfg(start: f64) -> SearchConfig {
        SearchConfig {
            start,
            precision: 0.05,
            max_steps: 30,
        }
    }

    #[test]
    fn converges_within_precision_of_the_capacity() {
        // (capacity, start)
        let table = [
            (250.0, 125.0),
            (250.0, 10.0),
            (10_000.0, 100.0),
            (1_000.0, 999.0),
            (1_000.0, 1_000.0),
            (37.0, 5.0),
            (80_000.0, 120_000.0),
        ];
        for (capacity, start) in table {
            let (offered, stop, limit) = against(capacity, cfg(start));
            assert_eq!(stop, Stop::Converged, "{capacity}/{start}: {offered:?}");
            let limit = limit.unwrap();
            assert!(limit <= capacity, "{capacity}/{start}: {limit}");
            assert!(
                limit >= capacity / 1.05,
                "{capacity}/{start}: {limit} from {offered:?}"
            );
        }
    }

    #[test]
    fn grows_geometrically_then_bisects() {
        let (offered, stop, limit) = against(300.0, cfg(100.0));
        assert_eq!(
            offered,
            vec![100.0, 200.0, 400.0, 300.0, 350.0, 325.0, 312.5]
        );
        assert_eq!((stop, limit), (Stop::Converged, Some(300.0)));
    }

    #[test]
    fn a_failing_first_step_shrinks_the_rate() {
        let (offered, stop, limit) = against(30.0, cfg(100.0));
        assert_eq!(&offered[..3], &[100.0, 50.0, 25.0]);
        assert_eq!(stop, Stop::Converged);
        assert!(limit.unwrap() >= 30.0 / 1.05);
    }

    #[test]
    fn nothing_sustainable_ends_at_the_minimum_rate() {
        let (offered, stop, limit) = against(0.0, cfg(16.0));
        assert_eq!(offered, vec![16.0, 8.0, 4.0, 2.0, 1.0]);
        assert_eq!((stop, limit), (Stop::NothingSustainable, None));
    }

    #[test]
    fn the_step_budget_always_ends_it() {
        let mut c = cfg(1.0);
        c.max_steps = 4;
        let (offered, stop, limit) = against(1e9, c);
        assert_eq!(offered, vec![1.0, 2.0, 4.0, 8.0]);
        assert_eq!((stop, limit), (Stop::MaxSteps, Some(8.0)));
        c.max_steps = 0;
        assert_eq!(against(1e9, c).1, Stop::NothingSustainable);
    }

    #[test]
    fn a_contradicting_step_restarts_the_bracket_from_the_latest_evidence() {
        let mut s = Search::new(cfg(100.0));
        s.record(100.0, true);
        s.record(200.0, false);
        s.record(150.0, false);
        // Noise: 100 held before, fails now. The latest verdict wins.
        s.record(100.0, false);
        assert_eq!(s.limit(), None);
        assert_eq!(s.next(), Next::Try(50.0));
        s.record(50.0, true);
        assert_eq!(s.next(), Next::Try(75.0));
    }
}
