//! Drives a search against one target: an optional closed-model probe for the start rate,
//! then one warm-up and one measured open-model run per step, each through the shared
//! [`Runner`]. Used by `blast limit` and `blast compare`; it prints nothing itself.
use std::time::Duration;

use crate::limit::search::{Next, Search, SearchConfig, Stop, MIN_RATE};
use crate::limit::slo::Slo;
use crate::limit::step::{self, Context, Step, StepStats, Verdict};
use crate::plan::{PlanError, PlanInput};
use crate::runner::Runner;
use crate::units::per_second;

/// The closed-model probe that estimates the start rate runs this long.
pub const PROBE_DURATION: Duration = Duration::from_secs(2);
/// The search starts at this share of the probe's throughput: safely below the limit.
pub const PROBE_START_SHARE: f64 = 0.5;
/// The knee: the highest sustainable rate whose p50 is within this factor of the p50 at the
/// lowest rate tried.
pub const KNEE_FACTOR: f64 = 2.0;

/// Everything one search needs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Target, request or scenario, cores, connections (`users`), pipeline, timeouts.
    pub base: PlanInput,
    pub slo: Slo,
    pub step: Duration,
    pub warmup: Duration,
    pub precision: f64,
    pub max_steps: usize,
    /// None: probe for it.
    pub start_rate: Option<f64>,
}

/// What the closed-model probe measured.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Probe {
    pub users: u64,
    pub duration_s: f64,
    pub rps: f64,
    pub errors: u64,
}

/// Why the search ended, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    Converged,
    MaxSteps,
    NothingSustainable,
    /// The probe got no responses: there is nothing to search.
    ProbeFailed,
    Interrupted,
}

/// A finished (or interrupted) search.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    pub probe: Option<Probe>,
    pub start_rate: f64,
    pub steps: Vec<Step>,
    pub ended: Ended,
    /// Index into `steps` of the highest sustainable step: the limit.
    pub limit: Option<usize>,
    /// Index into `steps` of the knee.
    pub knee: Option<usize>,
    /// The step that bounded the limit from above failed on the client's side.
    pub client_limited: bool,
}

impl Outcome {
    pub fn limit_step(&self) -> Option<&Step> {
        self.limit.map(|i| &self.steps[i])
    }

    pub fn knee_step(&self) -> Option<&Step> {
        self.knee.map(|i| &self.steps[i])
    }

    /// The limit in requests/s, if one was found.
    pub fn limit_rps(&self) -> Option<f64> {
        self.limit_step().map(|s| s.stats.offered)
    }
}

/// Runs the whole search. `progress` sees each step as it is judged. Stopping the runner
/// (Ctrl-C) ends it after the current run, keeping every step already judged.
pub fn search(
    s: &Settings,
    runner: &Runner,
    mut progress: impl FnMut(&Step),
) -> Result<Outcome, PlanError> {
    let (probe, start) = match s.start_rate {
        Some(r) => (None, r),
        None => {
            let p = probe(s, runner)?;
            let start = (p.rps * PROBE_START_SHARE).max(MIN_RATE);
            (Some(p), start)
        }
    };
    let mut out = Outcome {
        probe,
        start_rate: start,
        steps: Vec::new(),
        ended: Ended::ProbeFailed,
        limit: None,
        knee: None,
        client_limited: false,
    };
    if out.probe.as_ref().is_some_and(|p| p.rps <= 0.0) {
        return Ok(out);
    }
    let mut search = Search::new(SearchConfig {
        start,
        precision: s.precision,
        max_steps: s.max_steps,
    });
    out.ended = loop {
        let rate = match search.next() {
            Next::Try(rate) => rate,
            Next::Done(why) => break ended(why),
        };
        let step = run_step(s, runner, rate, &out.steps)?;
        progress(&step);
        let verdict = step.verdict;
        out.steps.push(step);
        if verdict == Verdict::Interrupted || runner.stopped() {
            break Ended::Interrupted;
        }
        search.record(rate, verdict == Verdict::Sustainable);
    };
    out.limit = search.limit().and_then(|r| {
        out.steps
            .iter()
            .rposition(|st| st.stats.offered == r && st.verdict == Verdict::Sustainable)
    });
    out.knee = knee(&out.steps);
    out.client_limited = client_limited(&out);
    Ok(out)
}

fn ended(why: Stop) -> Ended {
    match why {
        Stop::Converged => Ended::Converged,
        Stop::MaxSteps => Ended::MaxSteps,
        Stop::NothingSustainable => Ended::NothingSustainable,
    }
}

/// The closed-model probe: the run's connections as users, as fast as they go.
fn probe(s: &Settings, runner: &Runner) -> Result<Probe, PlanError> {
    let plan = runner.plan(&s.base, None, Duration::ZERO, PROBE_DURATION)?;
    let users = plan.load.connections();
    let Some(r) = runner.run(plan) else {
        return Ok(Probe {
            users,
            duration_s: 0.0,
            rps: 0.0,
            errors: 0,
        });
    };
    let secs = r.elapsed.as_secs_f64();
    Ok(Probe {
        users,
        duration_s: secs,
        rps: per_second(r.totals.aggregate().responses, secs),
        errors: r.totals.errors_total(),
    })
}

/// One run at `rate`: its warm-up (not measured) opens the connections the measured part
/// goes on using, so no connection is opened inside the measurement; judged against the
/// steps before it.
pub fn run_step(
    s: &Settings,
    runner: &Runner,
    rate: f64,
    earlier: &[Step],
) -> Result<Step, PlanError> {
    let plan = runner.plan(&s.base, Some(rate), s.warmup, s.step)?;
    let ctx = Context {
        slots: plan.load.connections() * plan.pipeline as u64,
        max_failures: s.slo.max_failures,
        tightest_us: s.slo.tightest_us(),
        baseline_p50_ms: baseline_p50(earlier, rate),
    };
    let Some(r) = runner.run(plan) else {
        return Ok(interrupted(rate));
    };
    let stats = step::measure(&r, rate, &s.slo);
    if r.interrupted {
        return Ok(Step {
            stats,
            verdict: Verdict::Interrupted,
            reasons: vec!["interrupted (Ctrl-C)".into()],
        });
    }
    let (verdict, reasons) = step::judge(&stats, &ctx);
    Ok(Step {
        stats,
        verdict,
        reasons,
    })
}

fn interrupted(rate: f64) -> Step {
    Step {
        stats: StepStats {
            offered: rate,
            achieved: 0.0,
            duration_s: 0.0,
            responses: 0,
            failures: 0,
            errors: 0,
            failure_share: 0.0,
            latency_ms: None,
            sent: 0,
            late_share: 0.0,
            client_cpu: 0.0,
            client_errors: 0,
            breaches: Vec::new(),
        },
        verdict: Verdict::Interrupted,
        reasons: vec!["interrupted (Ctrl-C) before it ran".into()],
    }
}

/// p50 (ms) of the lowest-rate judged step below `rate`: the server's unloaded latency.
fn baseline_p50(steps: &[Step], rate: f64) -> Option<f64> {
    lowest(steps.iter().filter(|s| s.stats.offered < rate))
        .and_then(|s| s.stats.latency_ms.map(|l| l.p50))
}

/// The judged step with the lowest offered rate and a latency figure.
fn lowest<'a>(steps: impl Iterator<Item = &'a Step>) -> Option<&'a Step> {
    steps
        .filter(|s| s.verdict != Verdict::Interrupted && s.stats.latency_ms.is_some())
        .min_by(|a, b| a.stats.offered.total_cmp(&b.stats.offered))
}

/// The knee: the highest sustainable step whose p50 is within [`KNEE_FACTOR`] of the p50 at
/// the lowest rate tried.
pub fn knee(steps: &[Step]) -> Option<usize> {
    let base = lowest(steps.iter())?.stats.latency_ms?.p50;
    steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.verdict == Verdict::Sustainable)
        .filter(|(_, s)| {
            s.stats
                .latency_ms
                .is_some_and(|l| l.p50 <= KNEE_FACTOR * base)
        })
        .max_by(|a, b| a.1.stats.offered.total_cmp(&b.1.stats.offered))
        .map(|(i, _)| i)
}

/// True when the lowest failing rate above the limit failed on the client's side.
fn client_limited(out: &Outcome) -> bool {
    let floor = out.limit_rps().unwrap_or(0.0);
    out.steps
        .iter()
        .filter(|s| s.stats.offered > floor)
        .filter(|s| matches!(s.verdict, Verdict::Unsustainable | Verdict::ClientLimit))
        .min_by(|a, b| a.stats.offered.total_cmp(&b.stats.offered))
        .is_some_and(|s| s.verdict == Verdict::ClientLimit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::step::Percentiles;

    fn step(offered: f64, p50: f64, verdict: Verdict) -> Step {
        let mut s = interrupted(offered);
        s.stats.latency_ms = Some(Percentiles {
            p50,
            p95: p50 * 2.0,
            p99: p50 * 3.0,
        });
        s.verdict = verdict;
        s
    }

    #[test]
    fn the_knee_is_the_highest_good_rate_within_twice_the_lowest_p50() {
        use Verdict::*;
        let steps = [
            step(200.0, 1.5, Sustainable),
            step(100.0, 1.0, Sustainable),
            step(400.0, 2.0, Sustainable),
            step(800.0, 9.0, Unsustainable),
            step(600.0, 3.5, Sustainable),
            step(500.0, 1.9, Unsustainable),
        ];
        assert_eq!(knee(&steps), Some(2), "400 req/s: p50 2.0 <= 2 x 1.0");
        assert_eq!(knee(&[]), None);
        assert_eq!(knee(&[step(10.0, 5.0, Unsustainable)]), None);
    }

    #[test]
    fn the_baseline_is_the_lowest_rate_below() {
        let steps = [
            step(200.0, 1.5, Verdict::Sustainable),
            step(100.0, 1.0, Verdict::Sustainable),
        ];
        assert_eq!(baseline_p50(&steps, 300.0), Some(1.0));
        assert_eq!(baseline_p50(&steps, 100.0), None);
    }
}
