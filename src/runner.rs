//! The step runner: for commands that run more than one plan in a row (`blast limit`'s
//! probe and steps, `blast compare`'s targets and rounds). Each run goes through the one
//! `Plan → coordinator → Results` path; after it the runner waits for the server to drain
//! what the run left in flight, so the next run does not inherit its backlog; pauses end
//! at once on Ctrl-C. This is the whole API the studies share: none of them reaches into
//! another's helpers. A watcher (the web dashboard, set by the command layer) may be given
//! a [`SinkFactory`]: each run's closed seconds then go to the sink it makes for that run.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::coordinator;
use crate::plan::{Plan, PlanError, PlanInput};
use crate::results::Results;
use crate::units::per_second;

/// Longest pause for the server to drain what a run left queued (see [`drain_time`]).
pub const MAX_DRAIN: Duration = Duration::from_secs(10);
/// A pause is slept in slices this long so Ctrl-C still ends it at once.
const PAUSE_SLICE: Duration = Duration::from_millis(50);

/// Makes the sink that sees one run's closed seconds, called as each run starts (so the
/// watcher knows where every run begins). The runner knows nothing of what is behind it.
#[derive(Clone)]
pub struct SinkFactory(Arc<dyn Fn(&Plan) -> coordinator::SecondSink + Send + Sync>);

impl SinkFactory {
    pub fn new(make: impl Fn(&Plan) -> coordinator::SecondSink + Send + Sync + 'static) -> Self {
        SinkFactory(Arc::new(make))
    }
}

impl std::fmt::Debug for SinkFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SinkFactory")
    }
}

/// Runs plans on this machine's cores until `stop` is set.
#[derive(Clone, Debug)]
pub struct Runner {
    available: Vec<usize>,
    stop: Arc<AtomicBool>,
    sinks: Option<SinkFactory>,
}

impl Runner {
    /// A runner over the cores `available` (ids the process may pin to); setting `stop`
    /// (Ctrl-C) ends the current run early and every later run and pause at once.
    pub fn new(available: Vec<usize>, stop: Arc<AtomicBool>) -> Self {
        Runner {
            available,
            stop,
            sinks: None,
        }
    }

    /// This runner, with every run's seconds going to a sink `sinks` makes for it.
    pub fn watched(self, sinks: SinkFactory) -> Self {
        Runner {
            sinks: Some(sinks),
            ..self
        }
    }

    /// True once the runs should end.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The plan for a quiet run of `base` at `rate` (None: closed model) measured for
    /// `length` after an unmeasured `warmup` on the same connections.
    pub fn plan(
        &self,
        base: &PlanInput,
        rate: Option<f64>,
        warmup: Duration,
        length: Duration,
    ) -> Result<Arc<Plan>, PlanError> {
        let input = PlanInput {
            rate,
            duration: Some(length),
            warmup: Some(warmup),
            requests: None,
            quiet: true,
            ..base.clone()
        };
        Plan::build(input, &self.available).map(Arc::new)
    }

    /// Runs `plan` unless already stopped, then waits for the server to drain what the run
    /// left in flight.
    pub fn run(&self, plan: Arc<Plan>) -> Option<Results> {
        if self.stopped() {
            return None;
        }
        let hooks = coordinator::Hooks {
            sink: self.sinks.as_ref().map(|make| (make.0)(&plan)),
            steering: None,
        };
        let r = coordinator::run_with(plan, self.stop.clone(), hooks);
        self.pause(drain_time(&r));
        Some(r)
    }

    /// Sleeps `d`, or less if the runs are stopped.
    pub fn pause(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopped() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(PAUSE_SLICE));
        }
    }
}

/// How long the server needs to answer the requests a run abandoned in flight when it
/// ended (they are still queued at the server), at the rate it just answered: in flight /
/// achieved rate, at most [`MAX_DRAIN`].
pub fn drain_time(r: &Results) -> Duration {
    let all = r.totals.aggregate();
    let abandoned = r.totals.sent.saturating_sub(all.requests());
    let rate = per_second(all.responses, r.elapsed.as_secs_f64());
    if rate <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(abandoned as f64 / rate).min(MAX_DRAIN)
}
