//! What opening connections cost, apart from request latency: the TCP connect time and the
//! TLS handshake time as their own HdrHistograms, full against resumed handshakes, the TLS
//! versions and cipher suites negotiated, and the first message of each error kind (so a
//! report can say *why* certificates were refused or connections failed, once). Plain numbers, merged exactly.
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{micros, new_histogram};

/// Connection establishment, summed over workers (and shards).
#[derive(Clone, Debug)]
pub struct ConnStats {
    /// TCP connect time of each successful connection, in microseconds.
    pub connect: Histogram<u64>,
    /// TLS handshake time of each successful handshake, in microseconds.
    pub handshake: Histogram<u64>,
    /// Handshakes that ran in full.
    pub full: u64,
    /// Handshakes that resumed an earlier session.
    pub resumed: u64,
    /// ("TLSv1.3 TLS13_AES_256_GCM_SHA384", count): what was negotiated.
    pub negotiated: Vec<(String, u64)>,
    /// (error kind, message): the first message seen of each error kind, TLS or not.
    pub first_errors: Vec<(String, String)>,
}

impl ConnStats {
    pub fn new() -> Self {
        ConnStats {
            connect: new_histogram(),
            handshake: new_histogram(),
            full: 0,
            resumed: 0,
            negotiated: Vec::new(),
            first_errors: Vec::new(),
        }
    }

    /// A TCP connection opened after `took`.
    #[inline]
    pub fn connected(&mut self, took: Duration) {
        self.connect.saturating_record(micros(took));
    }

    /// A TLS handshake completed after `took`, negotiating `what` (version and suite).
    pub fn handshake(&mut self, took: Duration, resumed: bool, what: &str) {
        self.handshake.saturating_record(micros(took));
        if resumed {
            self.resumed += 1;
        } else {
            self.full += 1;
        }
        bump(&mut self.negotiated, what, 1);
    }

    /// Keeps `reason` when it is the first of its `kind`; true when it was.
    pub fn first_error(&mut self, kind: &str, reason: impl FnOnce() -> String) -> bool {
        if self.first_errors.iter().any(|(k, _)| k == kind) {
            return false;
        }
        self.first_errors.push((kind.to_owned(), reason()));
        true
    }

    /// Adds `other` into `self`; the earlier first reason of a kind wins.
    pub fn merge(&mut self, other: &ConnStats) {
        self.connect
            .add(&other.connect)
            .expect("histograms share bounds");
        self.handshake
            .add(&other.handshake)
            .expect("histograms share bounds");
        self.full += other.full;
        self.resumed += other.resumed;
        for (what, n) in &other.negotiated {
            bump(&mut self.negotiated, what, *n);
        }
        for (kind, reason) in &other.first_errors {
            self.first_error(kind, || reason.clone());
        }
    }

    /// True when the run spoke TLS (any handshake completed).
    pub fn is_tls(&self) -> bool {
        self.full + self.resumed > 0
    }
}

impl Default for ConnStats {
    fn default() -> Self {
        Self::new()
    }
}

fn bump(table: &mut Vec<(String, u64)>, what: &str, n: u64) {
    match table.iter_mut().find(|(w, _)| w == what) {
        Some((_, count)) => *count += n,
        None => table.push((what.to_owned(), n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_counts_and_keeps_the_first_reason_of_each_kind() {
        let mut a = ConnStats::new();
        a.connected(Duration::from_micros(50));
        a.handshake(Duration::from_micros(900), false, "TLSv1.3 X");
        assert!(a.first_error("tls_cert", || "wrong name".into()));
        assert!(!a.first_error("tls_cert", || "expired".into()));
        let mut b = ConnStats::new();
        b.handshake(Duration::from_micros(300), true, "TLSv1.3 X");
        b.first_error("tls_cert", || "expired".into());
        b.first_error("tls_alert", || "handshake_failure".into());
        a.merge(&b);
        assert_eq!((a.full, a.resumed), (1, 1));
        assert_eq!(a.handshake.len(), 2);
        assert_eq!(a.connect.len(), 1);
        assert_eq!(a.negotiated, vec![("TLSv1.3 X".to_owned(), 2)]);
        assert_eq!(
            a.first_errors,
            vec![
                ("tls_cert".to_owned(), "wrong name".to_owned()),
                ("tls_alert".to_owned(), "handshake_failure".to_owned())
            ]
        );
        assert!(a.is_tls());
    }
}
