//! One step of the search: the figures of a fixed-rate open-model run and the verdict on
//! them. Measuring reads a finished run's `Results`; judging is a pure function of those
//! figures, so every verdict and reason is tested without a server.
use crate::limit::slo::Slo;
use crate::results::kind;
use crate::results::Results;
use crate::stats::{cpu, late_count};

/// A step holds its rate when responses/s reach this share of the offered rate.
pub const MIN_ACHIEVED_SHARE: f64 = 0.97;
/// A failed step is the client's limit (not the server's) when at least this share of
/// sends left late, the connections being all busy ...
pub const CLIENT_LATE_SHARE: f64 = 0.10;
/// ... while the server answered within this many times the lowest-rate step's p50 (it was
/// not queueing) and within every latency objective.
pub const QUEUEING_FACTOR: f64 = 2.0;

/// Latency percentiles of a step in milliseconds, from its merged HdrHistogram.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// What a step measured.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StepStats {
    /// Requests/s offered on the open-model schedule.
    pub offered: f64,
    /// Responses/s received over the step.
    pub achieved: f64,
    pub duration_s: f64,
    pub responses: u64,
    /// Requests that failed (missed expectations and errors) plus failed connection attempts.
    pub failures: u64,
    /// Errors of every kind, connection attempts included.
    pub errors: u64,
    /// `failures` as a share of requests (those that ended plus failed connection attempts).
    pub failure_share: f64,
    pub latency_ms: Option<Percentiles>,
    pub sent: u64,
    /// Share of sends that left more than `stats::LATE_AFTER_US` after their intended time.
    pub late_share: f64,
    /// The busiest client worker's demand for a CPU over the step (`cpu::Busy::demand`).
    pub client_cpu: f64,
    /// Connection attempts that failed on the client's side (`connect_error`: EMFILE and kin).
    pub client_errors: u64,
    /// Latency objectives the step breached, with the actual figure.
    pub breaches: Vec<String>,
}

/// The verdict on a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Sustainable,
    /// The server could not hold the rate under the SLO.
    Unsustainable,
    /// The step failed because the client could not keep up, not the server.
    ClientLimit,
    /// Cut short by Ctrl-C: not judged.
    Interrupted,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Sustainable => "ok",
            Verdict::Unsustainable => "FAIL",
            Verdict::ClientLimit => "CLIENT LIMIT",
            Verdict::Interrupted => "interrupted",
        }
    }
}

/// A judged step.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub stats: StepStats,
    pub verdict: Verdict,
    /// Why it failed (empty when sustainable).
    pub reasons: Vec<String>,
}

/// What judging a step needs besides its own figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Context {
    /// Requests the client can have in flight: connections × pipeline depth.
    pub slots: u64,
    pub max_failures: f64,
    /// Tightest latency objective in microseconds, if any.
    pub tightest_us: Option<f64>,
    /// p50 of the lowest-rate step so far, ms: the server's unloaded latency.
    pub baseline_p50_ms: Option<f64>,
}

/// The figures of a finished step run at `offered` req/s.
pub fn measure(r: &Results, offered: f64, slo: &Slo) -> StepStats {
    let all = r.totals.aggregate();
    let secs = r.elapsed.as_secs_f64();
    let errors = r.totals.errors_total();
    let connect_failures = errors.saturating_sub(all.errors);
    let failures = all.failures + connect_failures;
    let attempts = all.requests() + connect_failures;
    let h = &all.latency;
    let latency_ms = (!h.is_empty()).then(|| {
        let at = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Percentiles {
            p50: at(0.5),
            p95: at(0.95),
            p99: at(0.99),
        }
    });
    StepStats {
        offered,
        achieved: share(all.responses, secs),
        duration_s: secs,
        responses: all.responses,
        failures,
        errors,
        failure_share: share(failures, attempts as f64),
        latency_ms,
        sent: r.totals.sent,
        late_share: share(late_count(&r.totals.lateness), r.totals.sent as f64),
        client_cpu: r.totals.busiest(),
        client_errors: r
            .totals
            .errors
            .get(kind::CONNECT_ERROR)
            .copied()
            .unwrap_or(0),
        breaches: slo.breaches(r),
    }
}

fn share(n: u64, of: f64) -> f64 {
    if of > 0.0 {
        n as f64 / of
    } else {
        0.0
    }
}

/// The verdict on `s` and the reasons for it.
pub fn judge(s: &StepStats, ctx: &Context) -> (Verdict, Vec<String>) {
    let mut reasons = Vec::new();
    if s.achieved < MIN_ACHIEVED_SHARE * s.offered {
        reasons.push(format!(
            "achieved {:.1} req/s < {:.0}% of {:.1} offered",
            s.achieved,
            MIN_ACHIEVED_SHARE * 100.0,
            s.offered
        ));
    }
    reasons.extend(s.breaches.iter().cloned());
    if s.failure_share > ctx.max_failures {
        reasons.push(format!(
            "failures {:.2}% > {}%",
            s.failure_share * 100.0,
            ctx.max_failures * 100.0
        ));
    }
    if reasons.is_empty() {
        return (Verdict::Sustainable, reasons);
    }
    match client_limit(s, ctx) {
        Some(why) => {
            reasons.push(why);
            (Verdict::ClientLimit, reasons)
        }
        None => (Verdict::Unsustainable, reasons),
    }
}

/// Why a failed step is the client's limit, if it is: the client could not open
/// connections, a client worker was short of CPU while its sends ran late, or every
/// connection was busy (sends left late) while the server's own response time — by
/// Little's law, slots / achieved rate — stayed unloaded and within the SLO.
fn client_limit(s: &StepStats, ctx: &Context) -> Option<String> {
    if let Some(why) = cpu::client_bound(s.client_cpu, Some(s.late_share)) {
        return Some(format!(
            "{why}; the limit is at least the rate reached, not the server's"
        ));
    }
    if s.client_errors > 0 {
        return Some(format!(
            "{} client-side connect errors (file descriptors or ports ran out): the client's \
             limit, not the server's",
            s.client_errors
        ));
    }
    if s.late_share < CLIENT_LATE_SHARE || s.achieved <= 0.0 {
        return None;
    }
    let server_ms = ctx.slots as f64 / s.achieved * 1000.0;
    let unloaded = ctx
        .baseline_p50_ms
        .is_some_and(|b| server_ms <= QUEUEING_FACTOR * b);
    let within_slo = ctx.tightest_us.is_none_or(|us| server_ms * 1000.0 <= us);
    (unloaded && within_slo).then(|| {
        format!(
            "{:.0}% of sends late with all {} connection slots busy while the server answered \
             in about {server_ms:.1} ms: the client's limit, not the server's (raise --users)",
            s.late_share * 100.0,
            ctx.slots
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(offered: f64, achieved: f64) -> StepStats {
        StepStats {
            offered,
            achieved,
            duration_s: 10.0,
            responses: (achieved * 10.0) as u64,
            failures: 0,
            errors: 0,
            failure_share: 0.0,
            latency_ms: Some(Percentiles {
                p50: 1.0,
                p95: 2.0,
                p99: 3.0,
            }),
            sent: (offered * 10.0) as u64,
            late_share: 0.0,
            client_cpu: 0.1,
            client_errors: 0,
            breaches: Vec::new(),
        }
    }

    const CTX: Context = Context {
        slots: 10,
        max_failures: 0.01,
        tightest_us: Some(100_000.0),
        baseline_p50_ms: Some(40.0),
    };

    #[test]
    fn verdicts_and_reasons() {
        type Edit = fn(&mut StepStats);
        let table: [(&str, Edit, Verdict, &str); 9] = [
            (
                // One core flat out, sends slipping: whatever the server did, the client
                // could not offer the rate.
                "client cpu bound",
                |s| {
                    s.achieved = 60.0;
                    s.late_share = 0.8;
                    s.client_cpu = 0.99;
                },
                Verdict::ClientLimit,
                "client-bound",
            ),
            (
                // Busy but on time: the server's own failure to keep up.
                "client busy but on time",
                |s| {
                    s.achieved = 60.0;
                    s.client_cpu = 0.99;
                },
                Verdict::Unsustainable,
                "achieved 60.0",
            ),
            ("holds", |_| {}, Verdict::Sustainable, ""),
            (
                "rate short",
                |s| s.achieved = 96.0,
                Verdict::Unsustainable,
                "achieved 96.0",
            ),
            (
                "exactly 97%",
                |s| s.achieved = 97.0,
                Verdict::Sustainable,
                "",
            ),
            (
                "slo breached",
                |s| s.breaches = vec!["p99<100ms (actual 180.00ms)".into()],
                Verdict::Unsustainable,
                "p99<100ms",
            ),
            (
                "failures",
                |s| s.failure_share = 0.02,
                Verdict::Unsustainable,
                "failures 2.00% > 1%",
            ),
            (
                "emfile",
                |s| {
                    s.failure_share = 0.5;
                    s.client_errors = 3;
                },
                Verdict::ClientLimit,
                "client-side connect errors",
            ),
            (
                // 10 slots at 200 req/s: the server took 50 ms each, near its unloaded 40 ms.
                "connections all busy",
                |s| {
                    s.offered = 400.0;
                    s.achieved = 200.0;
                    s.late_share = 0.5;
                },
                Verdict::ClientLimit,
                "the client's limit",
            ),
        ];
        for (name, edit, verdict, reason) in table {
            let mut s = stats(100.0, 100.0);
            edit(&mut s);
            let (v, reasons) = judge(&s, &CTX);
            assert_eq!(v, verdict, "{name}: {reasons:?}");
            assert!(reasons.join("; ").contains(reason), "{name}: {reasons:?}");
        }
    }

    #[test]
    fn late_sends_behind_a_queueing_server_are_the_servers_limit() {
        // 10 slots at 50 req/s: 200 ms per request, five times the unloaded 40 ms.
        let mut s = stats(100.0, 50.0);
        s.late_share = 0.9;
        assert_eq!(judge(&s, &CTX).0, Verdict::Unsustainable);
        // Unloaded, but over the SLO: the server's latency itself breaks the objective.
        let ctx = Context {
            tightest_us: Some(10_000.0),
            ..CTX
        };
        let mut s = stats(400.0, 200.0);
        s.late_share = 0.9;
        assert_eq!(judge(&s, &ctx).0, Verdict::Unsustainable);
        // No baseline yet (the first step): no claim about the client.
        let ctx = Context {
            baseline_p50_ms: None,
            ..CTX
        };
        assert_eq!(judge(&s, &ctx).0, Verdict::Unsustainable);
        // Few late sends: connections were not the bottleneck.
        s.late_share = 0.05;
        assert_eq!(judge(&s, &CTX).0, Verdict::Unsustainable);
    }
}
