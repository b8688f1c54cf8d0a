//! CI gates (`--fail-on 'p99<250ms'`): conditions a run must meet, checked against the merged
//! results after every report is written. A breached gate makes the exit code 1.
use std::fmt;

use crate::results::Results;
use crate::stats::TaskStats;

/// What a gate measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// A latency percentile (0..=1), compared in microseconds.
    Latency(f64),
    Mean,
    /// Requests per second.
    Rps,
    /// Failures as a fraction of requests.
    Failures,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// The expression as written, for messages.
    pub text: String,
    /// `task:NAME:` prefix: the gate applies to that task only.
    pub task: Option<String>,
    pub metric: Metric,
    pub op: Op,
    /// Microseconds for latency, req/s for rps, a fraction for failures.
    pub limit: f64,
}

/// Why an expression is not a gate.
#[derive(Debug, PartialEq, Eq)]
pub struct GateError(String);

impl fmt::Display for GateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GateError {}

fn bad(expr: &str, why: &str) -> GateError {
    GateError(format!(
        "invalid gate {expr:?}: {why} (examples: 'p99<250ms', 'failures<1%', 'rps>=500', 'task:predict:p95<100ms')"
    ))
}

/// Parses `[task:NAME:]METRIC OP VALUE`.
pub fn parse(expr: &str) -> Result<Gate, GateError> {
    let (task, cond) = match expr.strip_prefix("task:") {
        Some(rest) => {
            let (name, cond) = rest
                .rsplit_once(':')
                .ok_or_else(|| bad(expr, "expected task:NAME:CONDITION"))?;
            (Some(name.to_owned()), cond)
        }
        None => (None, expr),
    };
    let at = cond
        .find(['<', '>'])
        .ok_or_else(|| bad(expr, "no comparison (<, <=, >, >=)"))?;
    let (name, rest) = cond.split_at(at);
    let (op, value) = match rest.as_bytes() {
        [b'<', b'=', ..] => (Op::Le, &rest[2..]),
        [b'>', b'=', ..] => (Op::Ge, &rest[2..]),
        [b'<', ..] => (Op::Lt, &rest[1..]),
        _ => (Op::Gt, &rest[1..]),
    };
    let metric = metric(name.trim()).ok_or_else(|| bad(expr, "unknown metric"))?;
    let limit = limit(metric, value.trim()).ok_or_else(|| bad(expr, "bad value"))?;
    Ok(Gate {
        text: expr.to_owned(),
        task,
        metric,
        op,
        limit,
    })
}

fn metric(name: &str) -> Option<Metric> {
    match name {
        "mean" | "avg" => Some(Metric::Mean),
        "max" => Some(Metric::Latency(1.0)),
        "min" => Some(Metric::Latency(0.0)),
        "rps" => Some(Metric::Rps),
        "failures" => Some(Metric::Failures),
        "p999" | "p99.9" => Some(Metric::Latency(0.999)),
        _ => {
            let p: f64 = name.strip_prefix('p')?.parse().ok()?;
            (0.0..=100.0)
                .contains(&p)
                .then_some(Metric::Latency(p / 100.0))
        }
    }
}

fn limit(metric: Metric, value: &str) -> Option<f64> {
    let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
    match metric {
        Metric::Latency(_) | Metric::Mean => {
            let us = crate::units::parse_duration(value).ok()?.as_secs_f64() * 1e6;
            value
                .contains(|c: char| c.is_ascii_alphabetic())
                .then_some(us)
        }
        Metric::Rps => number(value),
        Metric::Failures => number(value.strip_suffix('%')?).map(|p| p / 100.0),
    }
}

/// A gate that did not hold.
#[derive(Debug, PartialEq)]
pub struct Breach {
    pub gate: String,
    pub actual: String,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gate failed: {} (actual {})", self.gate, self.actual)
    }
}

/// Checks every gate; the breached ones, in order.
pub fn check(gates: &[Gate], r: &Results) -> Vec<Breach> {
    gates.iter().filter_map(|g| check_one(g, r)).collect()
}

fn check_one(g: &Gate, r: &Results) -> Option<Breach> {
    let stats = match &g.task {
        None => r.totals.aggregate(),
        Some(name) => match r.plan.tasks.iter().position(|t| &t.name == name) {
            Some(i) => r.totals.tasks[i].clone(),
            None => {
                return Some(Breach {
                    gate: g.text.clone(),
                    actual: format!("no task named {name:?}"),
                })
            }
        },
    };
    let (actual, shown) = measure(g.metric, &stats, r.elapsed.as_secs_f64());
    (!g.op.holds(actual, g.limit)).then(|| Breach {
        gate: g.text.clone(),
        actual: shown,
    })
}

/// The metric's value and how to show it. A latency gate with no responses measures NaN,
/// which meets no comparison: no data never passes a latency objective.
fn measure(metric: Metric, t: &TaskStats, secs: f64) -> (f64, String) {
    let latency = |us: f64| (us, format!("{:.2}ms", us / 1000.0));
    match metric {
        Metric::Latency(_) | Metric::Mean if t.latency.is_empty() => {
            (f64::NAN, "no responses".into())
        }
        Metric::Latency(q) => latency(t.latency.value_at_quantile(q) as f64),
        Metric::Mean => latency(t.latency.mean()),
        Metric::Rps => {
            let rps = crate::units::per_second(t.requests(), secs);
            (rps, format!("{rps:.1} req/s"))
        }
        Metric::Failures => {
            let share = if t.requests() == 0 {
                0.0
            } else {
                t.failures as f64 / t.requests() as f64
            };
            (share, format!("{:.2}%", share * 100.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let cases = [
            ("p99<250ms", None, Metric::Latency(0.99), Op::Lt, 250_000.0),
            ("p95<=1s", None, Metric::Latency(0.95), Op::Le, 1_000_000.0),
            ("p99.9<500us", None, Metric::Latency(0.999), Op::Lt, 500.0),
            ("failures<1%", None, Metric::Failures, Op::Lt, 0.01),
            ("rps>=500", None, Metric::Rps, Op::Ge, 500.0),
            ("mean>2ms", None, Metric::Mean, Op::Gt, 2000.0),
            (
                "task:predict:p95<100ms",
                Some("predict"),
                Metric::Latency(0.95),
                Op::Lt,
                100_000.0,
            ),
        ];
        for (text, task, metric, op, limit) in cases {
            let g = parse(text).unwrap();
            assert_eq!(g.task.as_deref(), task, "{text}");
            assert_eq!((g.metric, g.op), (metric, op), "{text}");
            assert!((g.limit - limit).abs() < 1e-6, "{text}: {}", g.limit);
        }
    }

    #[test]
    fn rejects_malformed_gates() {
        for text in [
            "p99",
            "p99<",
            "p99<fast",
            "p99<250",
            "latency<1ms",
            "failures<1",
            "rps>=-5",
            "p120<1ms",
            "task:p99<1ms",
        ] {
            assert!(parse(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn comparisons_hold_as_written() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && Op::Ge.holds(2.0, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(f64::NAN, 2.0));
        assert!(
            !Op::Lt.holds(f64::NAN, 2.0),
            "no responses never meets a latency gate"
        );
    }
}
