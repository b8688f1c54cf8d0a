//! The per-worker `Recorder`: counters and histograms touched on the hot path, owned by one
//! thread, with no locks or atomics. Once per interval it hands its contents over as a
//! [`Snapshot`] delta and starts again from zero.
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::batch::ByBatch;
use super::cpu::Busy;
use super::{micros, new_histogram, ConnStats};

/// Status codes are three digits (RFC 9110 §15), so a flat table covers every one.
pub const STATUS_TABLE_LEN: usize = 1000;

/// What one task (a method + name row in the reports) accumulated.
#[derive(Clone, Debug)]
pub struct TaskStats {
    /// Complete HTTP responses received, whatever their status.
    pub responses: u64,
    /// Requests that got no valid response (timeout, closed connection, malformed response).
    pub errors: u64,
    /// Responses or errors counted as failures (errors plus missed expectations).
    pub failures: u64,
    /// Response body bytes (after de-chunking).
    pub body_bytes: u64,
    /// Latency of complete responses from the intended send time, in microseconds.
    pub latency: Histogram<u64>,
    /// Service time: latency from the actual send, in microseconds. Below `latency` by
    /// the send's lateness, the client's part.
    pub service: Histogram<u64>,
    /// Failure messages and how often each occurred.
    pub failure_messages: Vec<(String, u64)>,
    /// Latency by batch size, for a task whose body is a `repeat` batch (else empty).
    pub batches: ByBatch,
}

impl TaskStats {
    pub fn new() -> Self {
        TaskStats {
            responses: 0,
            errors: 0,
            failures: 0,
            body_bytes: 0,
            latency: new_histogram(),
            service: new_histogram(),
            failure_messages: Vec::new(),
            batches: ByBatch::default(),
        }
    }

    /// Requests that ended, one way or the other.
    pub fn requests(&self) -> u64 {
        self.responses + self.errors
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &TaskStats) {
        self.responses += other.responses;
        self.errors += other.errors;
        self.failures += other.failures;
        self.body_bytes += other.body_bytes;
        self.latency
            .add(&other.latency)
            .expect("histograms share bounds");
        self.service
            .add(&other.service)
            .expect("histograms share bounds");
        for (msg, n) in &other.failure_messages {
            bump_message(&mut self.failure_messages, msg, *n);
        }
        self.batches.merge(&other.batches);
    }

    fn count_failure(&mut self, message: &str) {
        self.failures += 1;
        bump_message(&mut self.failure_messages, message, 1);
    }
}

impl Default for TaskStats {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds `n` to the count of `msg`, allocating only the first time a message is seen.
fn bump_message(table: &mut Vec<(String, u64)>, msg: &str, n: u64) {
    match table.iter_mut().find(|(m, _)| m == msg) {
        Some((_, count)) => *count += n,
        None => table.push((msg.to_owned(), n)),
    }
}

/// One interval's worth of a worker's results: a delta, summed by the coordinator.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub worker: usize,
    /// The worker's last snapshot: it has stopped.
    pub last: bool,
    pub tasks: Vec<TaskStats>,
    /// (status code, count) for codes seen in the interval.
    pub status: Vec<(u16, u64)>,
    /// (error kind, count): transport and protocol errors, plus connection attempts that failed.
    pub errors: Vec<(&'static str, u64)>,
    /// Open model: how late each request was sent after its intended time, in microseconds.
    pub lateness: Histogram<u64>,
    /// Open model, last snapshot: requests the schedule had due by the end of the run that
    /// were never sent, by how long each had waited then, in microseconds.
    pub unsent: Histogram<u64>,
    /// Open model: requests due but not yet sent when the snapshot was taken.
    pub backlog: Option<u64>,
    /// The worker thread's CPU time over the interval.
    pub busy: Busy,
    /// Requests written to the wire.
    pub sent: u64,
    /// Users (connections) active at the end of the interval.
    pub users: u64,
    /// Successful connection establishments.
    pub connects: u64,
    /// Requests re-sent once on a fresh connection because the reused one had been closed
    /// by the server while idle (stale keep-alive): not failures.
    pub retried_stale: u64,
    /// Bytes read from the wire (heads, bodies, framing).
    pub bytes_in: u64,
    /// Connect and TLS handshake times, handshake kinds, first TLS error reasons.
    pub conns: ConnStats,
}

/// A worker's running tallies. Every method on the hot path is a few adds and one
/// histogram record.
pub struct Recorder {
    tasks: Vec<TaskStats>,
    status: Box<[u64; STATUS_TABLE_LEN]>,
    errors: Vec<(&'static str, u64)>,
    lateness: Histogram<u64>,
    unsent: Histogram<u64>,
    backlog: Option<u64>,
    busy: Busy,
    sent: u64,
    connects: u64,
    retried_stale: u64,
    bytes_in: u64,
    message: String,
    conns: ConnStats,
}

impl Recorder {
    pub fn new(tasks: usize) -> Self {
        Recorder {
            tasks: (0..tasks.max(1)).map(|_| TaskStats::new()).collect(),
            status: Box::new([0; STATUS_TABLE_LEN]),
            errors: Vec::new(),
            lateness: new_histogram(),
            unsent: new_histogram(),
            backlog: None,
            busy: Busy::default(),
            sent: 0,
            connects: 0,
            retried_stale: 0,
            bytes_in: 0,
            message: String::new(),
            conns: ConnStats::new(),
        }
    }

    #[inline]
    pub fn sent(&mut self, n: u64) {
        self.sent += n;
    }

    /// `n` requests found a stale keep-alive connection and go out again on a fresh one.
    pub fn retried_stale(&mut self, n: u64) {
        self.retried_stale += n;
    }

    #[inline]
    pub fn received(&mut self, bytes: usize) {
        self.bytes_in += bytes as u64;
    }

    #[inline]
    pub fn connected(&mut self) {
        self.connects += 1;
    }

    /// How connections were established (connect and handshake times, TLS details).
    #[inline]
    pub fn conns(&mut self) -> &mut ConnStats {
        &mut self.conns
    }

    /// A complete response for `task`.
    #[inline]
    pub fn response(&mut self, task: usize, status: u16, latency: Duration, body_bytes: u64) {
        let t = &mut self.tasks[task];
        t.responses += 1;
        t.body_bytes += body_bytes;
        t.latency.saturating_record(micros(latency));
        if let Some(slot) = self.status.get_mut(usize::from(status)) {
            *slot += 1;
        }
    }

    /// The latency of a complete response for `task` to a batch of `rows`.
    #[inline]
    pub fn batch(&mut self, task: usize, rows: u32, latency: Duration) {
        self.tasks[task].batches.record(rows, micros(latency));
    }

    /// The service time (from the actual send) of a complete response for `task`.
    #[inline]
    pub fn service(&mut self, task: usize, time: Duration) {
        self.tasks[task].service.saturating_record(micros(time));
    }

    /// A request the schedule had due that was never sent; it had waited `waited`.
    pub fn unsent(&mut self, waited: Duration) {
        self.unsent.saturating_record(micros(waited));
    }

    /// What the worker itself did over the interval, for the next snapshot: its thread's
    /// CPU time and, in the open model, the requests due but not yet sent.
    pub fn client(&mut self, busy: Busy, backlog: Option<u64>) {
        self.busy = busy;
        self.backlog = backlog;
    }

    /// A response that missed its expectation; `why` is rendered into a reused buffer.
    pub fn failure(&mut self, task: usize, why: &dyn std::fmt::Display) {
        self.message.clear();
        let _ = write!(self.message, "{why}");
        self.tasks[task].count_failure(&self.message);
    }

    /// A request of `task` that got no valid response because of `kind`.
    pub fn request_error(&mut self, task: usize, kind: &'static str) {
        let t = &mut self.tasks[task];
        t.errors += 1;
        t.count_failure(kind);
        self.count_error(kind);
    }

    /// An error that belongs to no request (a failed connection attempt).
    pub fn connection_error(&mut self, kind: &'static str) {
        self.count_error(kind);
    }

    /// An open-model request sent `by` after its intended time.
    #[inline]
    pub fn late(&mut self, by: Duration) {
        self.lateness.saturating_record(micros(by));
    }

    /// Keeps `message` as the first of `kind` in this interval unless one is kept already
    /// (the words are made only then: errors are rare, the check is not).
    pub fn note_error(&mut self, kind: &'static str, message: impl FnOnce() -> String) -> bool {
        self.conns.first_error(kind, message)
    }

    fn count_error(&mut self, kind: &'static str) {
        match self.errors.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.errors.push((kind, 1)),
        }
    }

    /// Hands over everything recorded since the last snapshot and starts again from zero.
    pub fn take_snapshot(&mut self, worker: usize, users: u64, last: bool) -> Snapshot {
        let tasks = self.tasks.iter_mut().map(std::mem::take).collect();
        let status = self
            .status
            .iter_mut()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code as u16, std::mem::take(n)))
            .collect();
        let lateness = std::mem::replace(&mut self.lateness, new_histogram());
        let unsent = std::mem::replace(&mut self.unsent, new_histogram());
        Snapshot {
            unsent,
            backlog: self.backlog.take(),
            busy: std::mem::take(&mut self.busy),
            worker,
            last,
            tasks,
            status,
            errors: std::mem::take(&mut self.errors),
            lateness,
            sent: std::mem::take(&mut self.sent),
            users,
            connects: std::mem::take(&mut self.connects),
            retried_stale: std::mem::take(&mut self.retried_stale),
            bytes_in: std::mem::take(&mut self.bytes_in),
            conns: std::mem::take(&mut self.conns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_is_a_delta_and_resets_the_recorder() {
        let mut r = Recorder::new(2);
        r.response(0, 200, Duration::from_micros(100), 2);
        r.response(1, 404, Duration::from_micros(300), 5);
        r.request_error(1, "timeout");
        r.sent(3);
        let s = r.take_snapshot(7, 4, false);
        assert_eq!(s.worker, 7);
        assert_eq!(s.tasks[0].responses, 1);
        assert_eq!(s.tasks[1].requests(), 2);
        assert_eq!(s.tasks[1].failures, 1);
        assert_eq!(s.tasks[1].body_bytes, 5);
        assert_eq!(s.status, vec![(200, 1), (404, 1)]);
        assert_eq!(s.errors, vec![("timeout", 1)]);
        assert_eq!(s.sent, 3);
        let again = r.take_snapshot(7, 4, true);
        assert_eq!(again.tasks[1].requests(), 0);
        assert!(again.status.is_empty() && again.errors.is_empty());
        assert_eq!(again.sent, 0);
        assert_eq!(again.tasks[0].latency.len(), 0);
    }

    #[test]
    fn failure_messages_are_counted_by_text() {
        let mut r = Recorder::new(1);
        r.failure(0, &"Expected status 400, got 200");
        r.failure(0, &"Expected status 400, got 200");
        r.failure(0, &"Expected status 400, got 500");
        let s = r.take_snapshot(0, 0, true);
        assert_eq!(s.tasks[0].failures, 3);
        assert_eq!(
            s.tasks[0].failure_messages,
            vec![
                ("Expected status 400, got 200".to_owned(), 2),
                ("Expected status 400, got 500".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn sub_microsecond_latency_is_recorded_not_dropped() {
        let mut r = Recorder::new(1);
        r.response(0, 200, Duration::from_nanos(10), 0);
        let s = r.take_snapshot(0, 0, true);
        assert_eq!(s.tasks[0].latency.len(), 1);
        assert_eq!(s.tasks[0].latency.min(), 1);
    }
}
