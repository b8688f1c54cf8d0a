//! A study started from the command line (`blast limit`, `blast compare`) on the dashboard,
//! watch-only plus Stop: every run it makes (the probe, each step's warm-up and measurement)
//! streams its seconds onto one time axis, and each judged step becomes a row of the steps
//! table and a marker on the charts where its run began. Stop sets the study's stop flag,
//! which ends it as Ctrl-C does.
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

use super::control::{ControlSlot, Sink};
use super::dashboard::Shared;
use crate::limit::step::{Step, StepStats, Verdict};
use crate::plan::Plan;
use crate::runner::SinkFactory;

/// The dashboard's side of one study.
pub struct StudyView {
    shared: Arc<Shared>,
    began: Instant,
    /// Where the latest run began, in seconds on the study's axis: its step is marked there.
    run_began_s: Mutex<f64>,
}

impl StudyView {
    /// Shows the study `title`, whose first plan is `plan`, stoppable through `stop`.
    pub(super) fn open(
        shared: Arc<Shared>,
        plan: &Plan,
        title: String,
        stop: Arc<AtomicBool>,
    ) -> Self {
        shared.open(plan.info(), stop, ControlSlot::default(), Some(title));
        StudyView {
            shared,
            began: Instant::now(),
            run_began_s: Mutex::new(0.0),
        }
    }

    /// The sinks for the study's runner ([`crate::runner::Runner::watched`]).
    pub fn sinks(self: &Arc<Self>) -> SinkFactory {
        let view = self.clone();
        SinkFactory::new(move |plan| view.sink(plan))
    }

    /// A run of `plan` begins now: the sink for its seconds.
    pub fn sink(&self, plan: &Plan) -> Sink {
        let at = self.began.elapsed().as_secs_f64();
        *self.run_began_s.lock().unwrap_or_else(|e| e.into_inner()) = at;
        self.shared.next_run(plan);
        self.shared.sink(plan, at)
    }

    /// A limit step was judged (against `target`, in a comparison).
    pub fn step(&self, target: Option<&str>, step: &Step) {
        self.row(target, &step.stats, Some(step.verdict), &step.reasons);
    }

    /// A fixed run of a comparison was measured (no verdict: nothing is judged).
    pub fn measured(&self, target: Option<&str>, stats: &StepStats) {
        self.row(target, stats, None, &[]);
    }

    fn row(
        &self,
        target: Option<&str>,
        stats: &StepStats,
        verdict: Option<Verdict>,
        reasons: &[String],
    ) {
        let t = *self.run_began_s.lock().unwrap_or_else(|e| e.into_inner());
        self.shared
            .step(step_entry(t, target, stats, verdict, reasons));
    }

    /// The study is over and its reports are written.
    pub fn finish(&self) {
        self.shared.end_study();
    }
}

/// A row of the steps table, as the page gets it: plain figures, `t` on the charts' axis.
fn step_entry(
    t: f64,
    target: Option<&str>,
    stats: &StepStats,
    verdict: Option<Verdict>,
    reasons: &[String],
) -> Value {
    json!({
        "t": t,
        "target": target,
        "offered": stats.offered,
        "achieved": stats.achieved,
        "latency_ms": stats.latency_ms,
        "responses": stats.responses,
        "failures": stats.failures,
        "failure_share": stats.failure_share,
        "verdict": verdict,
        "label": verdict.map(Verdict::label),
        "reasons": reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::step::Percentiles;

    #[test]
    fn a_step_row_carries_its_figures_and_verdict() {
        let stats = StepStats {
            offered: 200.0,
            achieved: 199.5,
            duration_s: 1.0,
            responses: 200,
            failures: 1,
            errors: 0,
            failure_share: 0.005,
            latency_ms: Some(Percentiles {
                p50: 1.0,
                p95: 2.0,
                p99: 3.0,
            }),
            sent: 200,
            late_share: 0.0,
            client_cpu: 0.1,
            client_errors: 0,
            breaches: Vec::new(),
        };
        let row = step_entry(
            4.5,
            Some("a"),
            &stats,
            Some(Verdict::Unsustainable),
            &["p99 3 ms > 2 ms".into()],
        );
        assert_eq!(row["t"], 4.5);
        assert_eq!(row["target"], "a");
        assert_eq!(row["latency_ms"]["p99"], 3.0);
        assert_eq!(row["verdict"], "unsustainable");
        assert_eq!(row["label"], "FAIL");
        assert_eq!(row["reasons"][0], "p99 3 ms > 2 ms");
        let fixed = step_entry(0.0, None, &stats, None, &[]);
        assert_eq!(fixed["verdict"], Value::Null);
    }
}
