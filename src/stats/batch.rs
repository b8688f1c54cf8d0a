//! Latency by batch size, for tasks whose body is a `repeat` generator (a batch predict
//! of 1 to 32 rows). A model server's time grows with the rows it scores, so one latency
//! figure over every size hides what a client of a given size will see. Sizes fall into
//! power-of-two buckets (1, 2–3, 4–7, …): few enough to read, fine enough to show the
//! slope; each reports the smallest and largest batch it saw. A task that never sends a batch keeps an empty list and costs nothing.
use hdrhistogram::Histogram;

use super::new_histogram;

/// One bucket: batches of `1 << bucket` to `(2 << bucket) - 1` rows.
#[derive(Clone, Debug)]
pub struct BatchBucket {
    pub bucket: u8,
    /// The smallest and largest batch seen in this bucket.
    pub rows: (u32, u32),
    pub responses: u64,
    /// Latency of complete responses from the intended send time, in microseconds.
    pub latency: Histogram<u64>,
}

impl BatchBucket {
    fn new(bucket: u8) -> Self {
        let (lo, hi) = sizes_of(bucket);
        BatchBucket {
            bucket,
            rows: (hi, lo),
            responses: 0,
            latency: new_histogram(),
        }
    }

    fn saw(&mut self, (lo, hi): (u32, u32)) {
        self.rows = (self.rows.0.min(lo), self.rows.1.max(hi));
    }
}

/// The bucket a batch of `rows` falls in (an empty batch counts with the single rows).
pub fn bucket_of(rows: u32) -> u8 {
    rows.max(1).ilog2() as u8
}

/// The smallest and largest batch size of `bucket`.
pub fn sizes_of(bucket: u8) -> (u32, u32) {
    let lo = 1u32 << bucket.min(31);
    (lo, lo.saturating_sub(1).saturating_add(lo))
}

/// A task's buckets, in ascending order, only those that saw a response.
#[derive(Clone, Debug, Default)]
pub struct ByBatch(pub Vec<BatchBucket>);

impl ByBatch {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A complete response to a batch of `rows`, `latency_us` after its intended send.
    #[inline]
    pub fn record(&mut self, rows: u32, latency_us: u64) {
        let b = self.bucket_mut(bucket_of(rows));
        b.saw((rows.max(1), rows.max(1)));
        b.responses += 1;
        b.latency.saturating_record(latency_us);
    }

    /// Adds `other` into `self`, bucket by bucket.
    pub fn merge(&mut self, other: &ByBatch) {
        for o in &other.0 {
            self.add(o.rows, o.responses, &o.latency);
        }
    }

    /// Adds `responses` to batches of `rows` (smallest, largest; within one bucket) with
    /// `latency`: a merge, or a saved report read back.
    pub fn add(&mut self, rows: (u32, u32), responses: u64, latency: &Histogram<u64>) {
        let b = self.bucket_mut(bucket_of(rows.0));
        b.saw(rows);
        b.responses += responses;
        b.latency.add(latency).expect("histograms share bounds");
    }

    fn bucket_mut(&mut self, bucket: u8) -> &mut BatchBucket {
        let at = match self.0.binary_search_by_key(&bucket, |b| b.bucket) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, BatchBucket::new(bucket));
                i
            }
        };
        &mut self.0[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fall_in_power_of_two_buckets() {
        let table = [
            (0, 0, (1, 1)),
            (1, 0, (1, 1)),
            (2, 1, (2, 3)),
            (3, 1, (2, 3)),
            (4, 2, (4, 7)),
            (31, 4, (16, 31)),
            (32, 5, (32, 63)),
            (u32::MAX, 31, (1 << 31, u32::MAX)),
        ];
        for (rows, bucket, sizes) in table {
            assert_eq!(bucket_of(rows), bucket, "{rows} rows");
            assert_eq!(sizes_of(bucket), sizes, "bucket {bucket}");
        }
    }

    #[test]
    fn buckets_stay_sorted_and_merge_by_size() {
        let mut a = ByBatch::default();
        a.record(32, 900);
        a.record(1, 100);
        a.record(5, 300);
        let mut b = ByBatch::default();
        b.record(6, 500);
        b.record(2, 200);
        a.merge(&b);
        let got: Vec<_> =
            a.0.iter()
                .map(|b| (b.bucket, b.rows, b.responses))
                .collect();
        assert_eq!(
            got,
            [
                (0, (1, 1), 1),
                (1, (2, 2), 1),
                (2, (5, 6), 2),
                (5, (32, 32), 1)
            ]
        );
        assert_eq!(a.0[2].latency.max(), 500);
    }
}
