//! Histograms and task figures in a form that survives a file: HdrHistogram's V2 encoding
//! with DEFLATE, in base64 — the interchange format of HdrHistogram's own log tools — so a
//! saved report can be re-rendered or merged with others exactly, not from rounded figures.
use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{new_histogram, TaskStats};

/// Why a saved histogram could not be read back.
#[derive(Debug)]
pub enum DecodeError {
    Base64(base64::DecodeError),
    Histogram(hdrhistogram::serialization::DeserializeError),
    /// It holds values beyond blast's bounds (not written by blast, or a different build).
    OutOfRange,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Base64(e) => write!(f, "histogram is not valid base64: {e}"),
            DecodeError::Histogram(e) => write!(f, "histogram cannot be decoded: {e:?}"),
            DecodeError::OutOfRange => write!(f, "histogram holds values beyond blast's bounds"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// `h` as base64 of its V2+DEFLATE encoding.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("encoding into memory cannot fail");
    BASE64.encode(bytes)
}

/// The histogram `encode` wrote, with blast's bounds so it merges with any other.
pub fn decode(text: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = BASE64.decode(text).map_err(DecodeError::Base64)?;
    let read: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(DecodeError::Histogram)?;
    let mut h = new_histogram();
    h.add(&read).map_err(|_| DecodeError::OutOfRange)?;
    Ok(h)
}

/// One task's figures as saved: the counts and the encoded latency histogram.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compact {
    pub responses: u64,
    pub errors: u64,
    pub failures: u64,
    pub body_bytes: u64,
    /// Latency in µs: base64 of the V2+DEFLATE encoding.
    pub histogram: String,
}

impl Compact {
    pub fn of(t: &TaskStats) -> Self {
        Compact {
            responses: t.responses,
            errors: t.errors,
            failures: t.failures,
            body_bytes: t.body_bytes,
            histogram: encode(&t.latency),
        }
    }

    /// The task's stats again (failure messages are saved apart).
    pub fn stats(&self) -> Result<TaskStats, DecodeError> {
        Ok(TaskStats {
            responses: self.responses,
            errors: self.errors,
            failures: self.failures,
            body_bytes: self.body_bytes,
            latency: decode(&self.histogram)?,
            service: super::new_histogram(),
            failure_messages: Vec::new(),
            batches: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_encoding_exactly() {
        let mut h = new_histogram();
        for v in [1u64, 7, 950, 1_000, 12_345, 3_000_000, 3_600_000_000] {
            h.record_n(v, v % 5 + 1).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), h.len());
        for q in [0.0, 0.25, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(back.value_at_quantile(q), h.value_at_quantile(q), "q={q}");
        }
        assert_eq!((back.min(), back.max()), (h.min(), h.max()));
    }

    #[test]
    fn an_empty_histogram_survives_too() {
        let back = decode(&encode(&new_histogram())).unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(decode("not base64!"), Err(DecodeError::Base64(_))));
        assert!(matches!(decode("AAAA"), Err(DecodeError::Histogram(_))));
        let mut wide = Histogram::<u64>::new(3).unwrap();
        wide.record(u64::MAX / 4).unwrap();
        assert!(matches!(
            decode(&encode(&wide)),
            Err(DecodeError::OutOfRange)
        ));
    }

    #[test]
    fn compact_round_trips_the_counts() {
        let mut t = TaskStats::new();
        t.responses = 3;
        t.errors = 2;
        t.failures = 4;
        t.body_bytes = 99;
        t.latency.record(42).unwrap();
        let c = Compact::of(&t);
        let back = c.stats().unwrap();
        assert_eq!(
            (back.responses, back.errors, back.failures, back.body_bytes),
            (3, 2, 4, 99)
        );
        assert_eq!(back.latency.max(), t.latency.max());
    }
}
