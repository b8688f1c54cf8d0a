//! `Merged`: the sum of snapshots from every worker. Histograms merge exactly, so the merged
//! percentiles are those of all samples recorded in one histogram.
use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::cpu::{add_busy, Busy};
use super::{new_histogram, ConnStats, Snapshot, TaskStats};

#[derive(Clone, Debug)]
pub struct Merged {
    pub tasks: Vec<TaskStats>,
    pub status: BTreeMap<u16, u64>,
    /// Errors by kind (the names in the README).
    pub errors: BTreeMap<String, u64>,
    pub lateness: Histogram<u64>,
    /// Open model: requests due but never sent, by how long they had waited (µs).
    pub unsent: Histogram<u64>,
    /// Open model: requests due but not yet sent at the last snapshot, summed over workers.
    pub backlog: Option<u64>,
    /// Per worker (in worker order; shards' workers follow each other): thread CPU time.
    pub busy: Vec<Busy>,
    pub sent: u64,
    pub connects: u64,
    /// Requests re-sent after a stale keep-alive connection (see `Snapshot::retried_stale`).
    pub retried_stale: u64,
    pub bytes_in: u64,
    /// Connect and TLS handshake times and details.
    pub conns: ConnStats,
}

impl Merged {
    pub fn new(tasks: usize) -> Self {
        Merged {
            tasks: (0..tasks.max(1)).map(|_| TaskStats::new()).collect(),
            status: BTreeMap::new(),
            errors: BTreeMap::new(),
            lateness: new_histogram(),
            unsent: new_histogram(),
            backlog: None,
            busy: Vec::new(),
            sent: 0,
            connects: 0,
            retried_stale: 0,
            bytes_in: 0,
            conns: ConnStats::new(),
        }
    }

    /// Adds one worker's delta.
    pub fn add(&mut self, snap: &Snapshot) {
        for (total, delta) in self.tasks.iter_mut().zip(&snap.tasks) {
            total.merge(delta);
        }
        for &(code, n) in &snap.status {
            *self.status.entry(code).or_default() += n;
        }
        for &(kind, n) in &snap.errors {
            self.add_errors(kind, n);
        }
        self.lateness
            .add(&snap.lateness)
            .expect("histograms share bounds");
        self.unsent
            .add(&snap.unsent)
            .expect("histograms share bounds");
        if let Some(b) = snap.backlog {
            *self.backlog.get_or_insert(0) += b;
        }
        add_busy(&mut self.busy, snap.worker, snap.busy);
        self.sent += snap.sent;
        self.connects += snap.connects;
        self.retried_stale += snap.retried_stale;
        self.bytes_in += snap.bytes_in;
        self.conns.merge(&snap.conns);
    }

    /// Adds another merged result (another shard's, say) into this one.
    pub fn merge(&mut self, other: &Merged) {
        for (total, t) in self.tasks.iter_mut().zip(&other.tasks) {
            total.merge(t);
        }
        for (&code, &n) in &other.status {
            *self.status.entry(code).or_default() += n;
        }
        for (kind, &n) in &other.errors {
            self.add_errors(kind, n);
        }
        self.lateness
            .add(&other.lateness)
            .expect("histograms share bounds");
        self.unsent
            .add(&other.unsent)
            .expect("histograms share bounds");
        if let Some(b) = other.backlog {
            *self.backlog.get_or_insert(0) += b;
        }
        self.busy.extend_from_slice(&other.busy);
        self.sent += other.sent;
        self.connects += other.connects;
        self.retried_stale += other.retried_stale;
        self.bytes_in += other.bytes_in;
        self.conns.merge(&other.conns);
    }

    fn add_errors(&mut self, kind: &str, n: u64) {
        match self.errors.get_mut(kind) {
            Some(count) => *count += n,
            None => {
                self.errors.insert(kind.to_owned(), n);
            }
        }
    }

    /// Every task summed: the "Aggregated" row.
    pub fn aggregate(&self) -> TaskStats {
        aggregate(&self.tasks)
    }

    /// Requests the schedule had due: those sent and those never sent.
    pub fn scheduled(&self) -> u64 {
        self.sent + self.unsent.len()
    }

    /// The busiest worker's demand for a CPU over the whole run (0 with no figures): the
    /// share of the time it used one or waited for one.
    pub fn busiest(&self) -> f64 {
        self.busy.iter().map(|b| b.demand()).fold(0.0, f64::max)
    }

    /// The share of sends that left late (open model), None when nothing was sent on a
    /// schedule.
    pub fn late_share(&self) -> Option<f64> {
        (self.sent > 0 && !self.lateness.is_empty())
            .then(|| super::late_count(&self.lateness) as f64 / self.sent as f64)
    }

    /// Errors of every kind, connection attempts included.
    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// `tasks` summed into one row.
pub fn aggregate(tasks: &[TaskStats]) -> TaskStats {
    let mut all = TaskStats::new();
    for t in tasks {
        all.merge(t);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Recorder;
    use std::time::Duration;

    #[test]
    fn merging_snapshots_equals_recording_everything_in_one() {
        let mut one = Recorder::new(1);
        let mut parts: Vec<Recorder> = (0..3).map(|_| Recorder::new(1)).collect();
        for i in 0..3000u64 {
            let lat = Duration::from_micros(1 + (i * 7919) % 50_000);
            one.response(0, 200, lat, 1);
            parts[(i % 3) as usize].response(0, 200, lat, 1);
        }
        let whole = one.take_snapshot(0, 0, true);
        let mut merged = Merged::new(1);
        for (w, r) in parts.iter_mut().enumerate() {
            merged.add(&r.take_snapshot(w, 0, true));
        }
        let (a, b) = (&whole.tasks[0].latency, &merged.tasks[0].latency);
        assert_eq!(a.len(), b.len());
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "q={q}");
        }
        assert_eq!(merged.status.get(&200), Some(&3000));
        assert_eq!(merged.aggregate().body_bytes, 3000);
    }

    /// Property: for random sample sets split over a random number of workers, and those
    /// merged results merged again (as `blast merge` does with shards), every percentile,
    /// the count, min, max and mean equal those of one histogram holding every sample.
    #[test]
    fn merging_any_split_equals_recording_everything_in_one() {
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        for seed in 0..200u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let k = rng.gen_range(1..8usize);
            let mut one = Recorder::new(1);
            let mut parts: Vec<Recorder> = (0..k).map(|_| Recorder::new(1)).collect();
            for _ in 0..rng.gen_range(0..2000) {
                // Log-uniform latencies from 1 µs to about 17 minutes.
                let lat =
                    Duration::from_micros(1u64 << rng.gen_range(0..30) | rng.gen_range(0..1024));
                one.response(0, 200, lat, 0);
                parts[rng.gen_range(0..k)].response(0, 200, lat, 0);
            }
            let whole = one.take_snapshot(0, 0, true).tasks.remove(0).latency;
            let shards: Vec<Merged> = parts
                .iter_mut()
                .enumerate()
                .map(|(w, r)| {
                    let mut m = Merged::new(1);
                    m.add(&r.take_snapshot(w, 0, true));
                    m
                })
                .collect();
            let mut merged = Merged::new(1);
            for m in &shards {
                merged.merge(m);
            }
            let h = &merged.tasks[0].latency;
            assert_eq!(h.len(), whole.len(), "seed {seed}");
            assert_eq!(
                (h.min(), h.max()),
                (whole.min(), whole.max()),
                "seed {seed}"
            );
            assert_eq!(h.mean(), whole.mean(), "seed {seed}");
            for q in [0.0, 0.1, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0] {
                assert_eq!(
                    h.value_at_quantile(q),
                    whole.value_at_quantile(q),
                    "seed {seed} q={q}"
                );
            }
        }
    }

    #[test]
    fn errors_are_summed_by_kind() {
        let mut m = Merged::new(1);
        for w in 0..2 {
            let mut r = Recorder::new(1);
            r.request_error(0, "timeout");
            r.connection_error("connect_refused");
            m.add(&r.take_snapshot(w, 0, true));
        }
        assert_eq!(m.errors.get("timeout"), Some(&2));
        assert_eq!(m.errors.get("connect_refused"), Some(&2));
        assert_eq!(m.errors_total(), 4);
        assert_eq!(m.tasks[0].failures, 2);
    }
}
