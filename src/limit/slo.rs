//! The service-level objective a rate must meet to count as sustainable: latency objectives
//! written as `--fail-on` gates (`p95<100ms`, `task:predict:p99<250ms`) and a bound on the
//! share of failed requests. Parsing reuses the gate parser so both read the same way.
use std::fmt;

use crate::gates::{self, Gate, Metric, Op};
use crate::results::Results;

/// The failure bound when `--max-failures` is not given: 1% of requests.
pub const DEFAULT_MAX_FAILURES: f64 = 0.01;

/// Why a flag value is not an objective.
#[derive(Debug, PartialEq, Eq)]
pub struct SloError(String);

impl fmt::Display for SloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SloError {}

/// `--slo 'p95<100ms'`: a latency gate with an upper bound.
pub fn parse_objective(expr: &str) -> Result<Gate, SloError> {
    let gate = gates::parse(expr).map_err(|e| SloError(e.to_string()))?;
    let latency = matches!(gate.metric, Metric::Latency(_) | Metric::Mean);
    let upper = matches!(gate.op, Op::Lt | Op::Le);
    if !(latency && upper) {
        return Err(SloError(format!(
            "invalid objective {expr:?}: an SLO bounds latency from above, e.g. 'p99<250ms' \
             (failures have --max-failures)"
        )));
    }
    Ok(gate)
}

/// `--slo-p99 250ms`: shorthand for `--slo 'p99<250ms'`.
pub fn parse_p99(value: &str) -> Result<Gate, SloError> {
    parse_objective(&format!("p99<{value}"))
}

/// `--max-failures 1%`: a share of requests, written as a percentage.
pub fn parse_share(value: &str) -> Result<f64, SloError> {
    value
        .trim()
        .strip_suffix('%')
        .and_then(|p| p.trim().parse::<f64>().ok())
        .filter(|p| (0.0..=100.0).contains(p))
        .map(|p| p / 100.0)
        .ok_or_else(|| {
            SloError(format!(
                "invalid share {value:?}: expected a percentage like 1% or 0.5%"
            ))
        })
}

/// Every objective one step must meet.
#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    pub objectives: Vec<Gate>,
    /// Failed requests (missed expectations + errors) as a share of requests, at most.
    pub max_failures: f64,
}

impl Slo {
    /// The objectives that `r` breaches, each as `gate (actual …)`.
    pub fn breaches(&self, r: &Results) -> Vec<String> {
        gates::check(&self.objectives, r)
            .iter()
            .map(|b| format!("{} (actual {})", b.gate, b.actual))
            .collect()
    }

    /// The smallest latency bound in microseconds, if any objective bounds latency.
    pub fn tightest_us(&self) -> Option<f64> {
        self.objectives.iter().map(|g| g.limit).reduce(f64::min)
    }

    /// The bound on aggregate p99 in milliseconds, if one is set (drawn on the charts).
    pub fn p99_ms(&self) -> Option<f64> {
        self.objectives
            .iter()
            .find(|g| g.task.is_none() && g.metric == Metric::Latency(0.99))
            .map(|g| g.limit / 1000.0)
    }

    /// `p99<250ms, failures<=1%`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.objectives.iter().map(|g| g.text.clone()).collect();
        parts.push(format!("failures<={}%", self.max_failures * 100.0));
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_objectives_parse_like_gates() {
        let table = [
            ("p95<100ms", Metric::Latency(0.95), 100_000.0),
            ("p99<=1s", Metric::Latency(0.99), 1_000_000.0),
            ("mean<2ms", Metric::Mean, 2_000.0),
            ("task:predict:p50<5ms", Metric::Latency(0.5), 5_000.0),
        ];
        for (text, metric, limit) in table {
            let g = parse_objective(text).unwrap();
            assert_eq!(g.metric, metric, "{text}");
            assert!((g.limit - limit).abs() < 1e-6, "{text}");
        }
        let g = parse_p99("250ms").unwrap();
        assert_eq!(
            (g.metric, g.limit, g.text.as_str()),
            (Metric::Latency(0.99), 250_000.0, "p99<250ms")
        );
    }

    #[test]
    fn rejects_what_is_not_a_latency_upper_bound() {
        for text in [
            "p99>1ms",
            "rps>=500",
            "failures<1%",
            "p99<250",
            "p99",
            "latency<1ms",
        ] {
            assert!(parse_objective(text).is_err(), "{text} should be rejected");
        }
        assert!(parse_p99("fast").is_err());
        assert!(parse_p99("250").is_err(), "a bound needs a unit");
    }

    #[test]
    fn failure_shares_are_percentages() {
        assert_eq!(parse_share("1%"), Ok(0.01));
        assert_eq!(parse_share("0.5%"), Ok(0.005));
        assert_eq!(parse_share("0%"), Ok(0.0));
        for bad in ["1", "-1%", "101%", "x%", ""] {
            assert!(parse_share(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn describes_and_finds_the_tightest_bound() {
        let slo = Slo {
            objectives: vec![
                parse_p99("250ms").unwrap(),
                parse_objective("p50<20ms").unwrap(),
            ],
            max_failures: 0.01,
        };
        assert_eq!(slo.describe(), "p99<250ms, p50<20ms, failures<=1%");
        assert_eq!(slo.tightest_us(), Some(20_000.0));
        assert_eq!(slo.p99_ms(), Some(250.0));
    }
}
