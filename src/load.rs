//! The load model as data: *how much* load ([`Load`]: closed users or an open rate), its
//! shape over time ([`Ramp`]: a level moving linearly from stage to stage), and *when* each
//! open-model request is due ([`Pacer`]: the intended send time of every request, so latency
//! is measured from when a request *should* have left — no coordinated omission). The plan
//! builds these; workers only read them. Pure arithmetic over time: no I/O, no runtime.
use std::time::{Duration, Instant};

/// When requests are sent.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Load {
    /// `users` connections, each sending its next request when the last completes.
    Closed { users: u64 },
    /// `rate` requests/s in total on a fixed schedule, over at most `conns` connections.
    Open { rate: f64, conns: u64 },
}

impl Load {
    /// Connections the run may open.
    pub fn connections(&self) -> u64 {
        match *self {
            Load::Closed { users } => users,
            Load::Open { conns, .. } => conns,
        }
    }
}

/// A level over time: starts at `initial` and moves linearly to each step's target over the
/// step's duration; after the last step it holds the last target.
#[derive(Clone, Debug, PartialEq)]
pub struct Ramp {
    initial: f64,
    /// (seconds the step lasts, level reached at its end)
    steps: Vec<(f64, f64)>,
}

impl Ramp {
    pub fn constant(level: f64) -> Self {
        Ramp {
            initial: level,
            steps: Vec::new(),
        }
    }

    /// Stages as k6 runs them: from `initial`, ramp to each target over its duration.
    pub fn stages(initial: f64, steps: &[(Duration, f64)]) -> Self {
        Ramp {
            initial,
            steps: steps.iter().map(|(d, v)| (d.as_secs_f64(), *v)).collect(),
        }
    }

    /// The same shape at `factor` times the level (a worker's share of a total).
    pub fn scaled(&self, factor: f64) -> Self {
        Ramp {
            initial: self.initial * factor,
            steps: self
                .steps
                .iter()
                .map(|&(len, v)| (len, v * factor))
                .collect(),
        }
    }

    /// The level `t` seconds into the run.
    pub fn at(&self, t: f64) -> f64 {
        let mut from = self.initial;
        let mut t0 = 0.0;
        for &(len, to) in &self.steps {
            if t < t0 + len {
                return from + (to - from) * (t - t0) / len;
            }
            t0 += len;
            from = to;
        }
        from
    }

    /// This ramp up to `at` seconds, then a linear move from its level there to `level`
    /// over `over` seconds (at once when 0), held from then on: a running test's edit.
    /// Everything before `at` is unchanged, so a schedule built on it keeps every request
    /// already due.
    pub fn edited(&self, at: f64, level: f64, over: f64) -> Ramp {
        let mut steps = Vec::with_capacity(self.steps.len() + 2);
        let mut t0 = 0.0;
        for &(len, to) in &self.steps {
            if t0 + len > at {
                break;
            }
            steps.push((len, to));
            t0 += len;
        }
        if at > t0 {
            steps.push((at - t0, self.at(at)));
        }
        steps.push((over.max(0.0), level));
        Ramp {
            initial: self.initial,
            steps,
        }
    }

    /// Total length of the steps, if there are any.
    pub fn length(&self) -> Option<Duration> {
        (!self.steps.is_empty())
            .then(|| Duration::from_secs_f64(self.steps.iter().map(|s| s.0).sum()))
    }

    /// The highest level the ramp reaches.
    pub fn peak(&self) -> f64 {
        self.steps.iter().map(|s| s.1).fold(self.initial, f64::max)
    }

    /// Linear pieces (start second, length, level at start, level at end); the last one
    /// holds its level forever.
    fn pieces(&self) -> Vec<Piece> {
        let mut pieces = Vec::with_capacity(self.steps.len() + 1);
        let (mut t0, mut from) = (0.0, self.initial);
        for &(len, to) in &self.steps {
            if len > 0.0 {
                pieces.push(Piece {
                    t0,
                    len,
                    r0: from,
                    r1: to,
                });
            }
            t0 += len;
            from = to;
        }
        pieces.push(Piece {
            t0,
            len: f64::INFINITY,
            r0: from,
            r1: from,
        });
        pieces
    }
}

#[derive(Clone, Copy, Debug)]
struct Piece {
    t0: f64,
    len: f64,
    r0: f64,
    r1: f64,
}

impl Piece {
    /// Requests the piece holds: the integral of its rate.
    fn count(&self) -> f64 {
        if self.len.is_infinite() {
            if self.r0 > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        } else {
            (self.r0 + self.r1) / 2.0 * self.len
        }
    }

    /// Seconds into the piece at which `k` requests have been due. With the rate going
    /// linearly from r0 at slope a, k = r0·τ + a·τ²/2; this is the root in the form that
    /// stays exact when a is 0.
    fn time_of(&self, k: f64) -> f64 {
        if k <= 0.0 {
            return 0.0;
        }
        let a = if self.len.is_infinite() {
            0.0
        } else {
            (self.r1 - self.r0) / self.len
        };
        let disc = (self.r0 * self.r0 + 2.0 * a * k).max(0.0);
        2.0 * k / (self.r0 + disc.sqrt())
    }
}

/// Hands out intended send times for one worker's share of a rate ramp.
#[derive(Clone, Debug)]
pub struct Pacer {
    start: Instant,
    pieces: Vec<Piece>,
    piece: usize,
    /// Requests due before the current piece starts.
    before: f64,
    issued: u64,
    /// This pacer hands out requests `offset`, `offset + stride`, … of the whole schedule.
    offset: u64,
    stride: u64,
}

impl Pacer {
    /// A constant `rate` requests per second, the first at `start`.
    pub fn new(start: Instant, rate: f64) -> Self {
        Self::with_ramp(start, &Ramp::constant(rate))
    }

    pub fn with_ramp(start: Instant, ramp: &Ramp) -> Self {
        Self::interleaved(start, ramp, 0, 1)
    }

    /// Worker `index` of `workers` sharing one schedule: it takes requests index,
    /// index + workers, … of `ramp`, so workers send in turn rather than all at once.
    pub fn interleaved(start: Instant, ramp: &Ramp, index: u64, workers: u64) -> Self {
        Pacer {
            start,
            pieces: ramp.pieces(),
            piece: 0,
            before: 0.0,
            issued: 0,
            offset: index,
            stride: workers.max(1),
        }
    }

    /// Follows `ramp` from now on. `ramp` must agree with the current one up to the present
    /// (as [`Ramp::edited`] makes it), so the requests already handed out stay in place and
    /// those still due keep their times; the rest follow the new level.
    pub fn retarget(&mut self, ramp: &Ramp) {
        self.pieces = ramp.pieces();
        self.piece = 0;
        self.before = 0.0;
    }

    /// The intended time of the next request, None when the schedule has no more.
    pub fn peek(&mut self) -> Option<Instant> {
        let k = self
            .issued
            .saturating_mul(self.stride)
            .saturating_add(self.offset) as f64;
        loop {
            let p = *self.pieces.get(self.piece)?;
            let n = p.count();
            if k < self.before + n {
                let secs = p.t0 + p.time_of(k - self.before);
                return Some(self.start + Duration::from_secs_f64(secs));
            }
            if n.is_infinite() || self.piece + 1 == self.pieces.len() {
                return None;
            }
            self.before += n;
            self.piece += 1;
        }
    }

    /// Takes the next intended send time.
    pub fn take(&mut self) -> Option<Instant> {
        let t = self.peek()?;
        self.issued += 1;
        Some(t)
    }

    /// Takes the next intended send time if it is due by `now`.
    pub fn take_due(&mut self, now: Instant) -> Option<Instant> {
        match self.peek() {
            Some(t) if t <= now => self.take(),
            _ => None,
        }
    }

    /// Requests due by `now` that have not been taken: the backlog when every connection
    /// is busy. Found by galloping then bisecting over the schedule, so it costs a few
    /// dozen look-ups however long the backlog.
    pub fn due_count(&self, now: Instant) -> u64 {
        let due_after = |n: u64| {
            let mut p = self.clone();
            p.issued = self.issued.saturating_add(n);
            p.peek().is_some_and(|t| t <= now)
        };
        if !due_after(0) {
            return 0;
        }
        // Invariant: request `lo` (counted from the next) is due, request `hi` is not.
        let (mut lo, mut hi) = (0u64, 1u64);
        while due_after(hi) {
            lo = hi;
            hi = match hi.checked_mul(2) {
                Some(h) => h,
                None => return u64::MAX,
            };
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if due_after(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_workers_together_send_the_whole_schedule_in_turn() {
        let t0 = Instant::now();
        let ramp = Ramp::stages(10.0, &[(Duration::from_secs(2), 200.0)]);
        let mut whole = Pacer::with_ramp(t0, &ramp);
        let mut parts: Vec<Pacer> = (0..3)
            .map(|i| Pacer::interleaved(t0, &ramp, i, 3))
            .collect();
        for k in 0..300 {
            let expected = whole.take().unwrap();
            let got = parts[k % 3].take().unwrap();
            assert_eq!(got, expected, "request {k}");
        }
    }

    fn offsets(p: &mut Pacer, t0: Instant, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| (p.take().unwrap() - t0).as_secs_f64())
            .collect()
    }

    #[test]
    fn hands_out_evenly_spaced_times() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 4.0);
        assert_eq!(offsets(&mut p, t0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn the_backlog_counts_due_times_not_taken() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 1000.0);
        let now = t0 + Duration::from_micros(9_500);
        assert_eq!(p.due_count(now), 10, "0 to 9 ms are due at 9.5 ms");
        p.take();
        p.take();
        assert_eq!(p.due_count(now), 8);
        assert_eq!(p.due_count(t0 + Duration::from_secs(100)), 99_999);
        let mut late = Pacer::new(t0 + Duration::from_secs(1), 1000.0);
        assert_eq!(late.due_count(t0), 0);
        assert!(late.take_due(t0).is_none());
    }

    #[test]
    fn only_due_times_are_taken() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 10.0);
        let now = t0 + Duration::from_millis(250);
        let due: Vec<_> = std::iter::from_fn(|| p.take_due(now)).collect();
        assert_eq!(due.len(), 3, "0, 100 and 200 ms are due at 250 ms");
    }

    #[test]
    fn rate_over_a_long_run_has_no_drift() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 3.0);
        for _ in 0..3_000_000 {
            p.take();
        }
        let drift = (p.peek().unwrap() - t0).as_secs_f64() - 1_000_000.0;
        assert!(drift.abs() < 1e-6, "{drift}");
    }

    #[test]
    fn a_linear_ramp_sends_its_integral() {
        // 0 → 100 req/s over 10 s holds 500 requests; then 100 req/s for 5 s holds 500 more.
        let t0 = Instant::now();
        let ramp = Ramp::stages(
            0.0,
            &[
                (Duration::from_secs(10), 100.0),
                (Duration::from_secs(5), 100.0),
                (Duration::from_secs(1), 0.0),
            ],
        );
        let mut p = Pacer::with_ramp(t0, &ramp);
        let times: Vec<f64> = std::iter::from_fn(|| p.take())
            .map(|t| (t - t0).as_secs_f64())
            .collect();
        assert_eq!(times.len(), 1050, "500 + 500 + 50");
        // The k-th request of the ramp is due at sqrt(2k / slope) with slope 10 req/s².
        assert!((times[250] - (2.0 * 250.0 / 10.0f64).sqrt()).abs() < 1e-9);
        assert!((times[500] - 10.0).abs() < 1e-9);
        assert!((times[999] - 14.99).abs() < 1e-9);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn ramp_levels_interpolate_and_hold() {
        let r = Ramp::stages(
            0.0,
            &[
                (Duration::from_secs(10), 100.0),
                (Duration::from_secs(10), 0.0),
            ],
        );
        assert_eq!(r.at(0.0), 0.0);
        assert_eq!(r.at(5.0), 50.0);
        assert_eq!(r.at(10.0), 100.0);
        assert_eq!(r.at(15.0), 50.0);
        assert_eq!(r.at(99.0), 0.0);
        assert_eq!(r.peak(), 100.0);
        assert_eq!(r.length(), Some(Duration::from_secs(20)));
        assert_eq!(Ramp::constant(7.0).at(1e9), 7.0);
    }

    #[test]
    fn an_edited_ramp_keeps_its_past_and_moves_to_the_new_level() {
        let r = Ramp::stages(0.0, &[(Duration::from_secs(10), 100.0)]);
        let e = r.edited(5.0, 20.0, 2.0);
        assert_eq!(e.at(2.5), 25.0, "the past is unchanged");
        assert_eq!(e.at(5.0), 50.0);
        assert_eq!(e.at(6.0), 35.0, "halfway from 50 to 20");
        assert_eq!(e.at(7.0), 20.0);
        assert_eq!(e.at(1e6), 20.0, "held");
        let now = Ramp::constant(10.0).edited(3.0, 40.0, 0.0);
        assert_eq!((now.at(2.9), now.at(3.0), now.at(99.0)), (10.0, 40.0, 40.0));
    }

    #[test]
    fn a_retargeted_pacer_keeps_what_was_due_and_follows_the_new_rate() {
        let t0 = Instant::now();
        let ramp = Ramp::constant(10.0);
        let mut p = Pacer::with_ramp(t0, &ramp);
        for _ in 0..5 {
            p.take();
        }
        // At 1 s the rate goes to 100/s: requests 5..9 were due before it, at 100 ms apart.
        p.retarget(&ramp.edited(1.0, 100.0, 0.0));
        let times: Vec<f64> = (0..10)
            .map(|_| (p.take().unwrap() - t0).as_secs_f64())
            .collect();
        let want = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.01, 1.02, 1.03, 1.04];
        for (got, want) in times.iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "{times:?}");
        }
    }

    #[test]
    fn a_zero_rate_schedule_has_no_requests() {
        let mut p = Pacer::with_ramp(Instant::now(), &Ramp::constant(0.0));
        assert_eq!(p.take(), None);
    }
}
