//! The coordinator: starts one pinned worker per core, merges their snapshots once per
//! interval, drives the live view, stops the run on its deadline or on Ctrl-C, and hands the
//! merged `Results` to reporting. It never touches a worker's hot path.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};

use crate::engine::steer::Steering;
use crate::engine::worker::{self, SNAPSHOT_INTERVAL};
use crate::engine::{DriverUsed, Event, Link};
use crate::live::Live;
use crate::load::Load;
use crate::plan::Plan;
use crate::results::{Change, Clock, Results, Second};
use crate::stats::{cpu, Merged, Snapshot};
use crate::timeline::Timeline;

/// Snapshots a worker may have queued before it must hold on to them itself.
pub const SNAPSHOTS_QUEUED_PER_WORKER: usize = 4;
/// Workers snapshot on the second; the coordinator closes each second this much later so
/// every worker's snapshot for it has arrived.
pub const INTERVAL_CLOSE_DELAY: Duration = Duration::from_millis(100);
/// How long past the plan's end the coordinator waits for a worker before reporting without it.
pub const STRAGGLER_GRACE: Duration = Duration::from_secs(5);

/// "io_uring", or "io_uring, epoll" if workers differed; "none" if no worker started.
pub fn driver_names(drivers: &[DriverUsed]) -> String {
    let mut names: Vec<&str> = drivers.iter().map(|d| d.name()).collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Runs `plan` to completion; `stop` may be set at any time (Ctrl-C) to end it early.
pub fn run(plan: Arc<Plan>, stop: Arc<AtomicBool>) -> Results {
    run_with(plan, stop, Hooks::default())
}

/// Called on the coordinator thread with each closed second and the run's totals so far
/// (the web dashboard). It must return quickly; the dashboard only copies figures and
/// queues them for its own thread.
pub type SecondSink = Box<dyn FnMut(&Second, &Merged) + Send>;

/// What else may watch or steer a run besides the live view.
#[derive(Default)]
pub struct Hooks {
    /// Sees every closed second.
    pub sink: Option<SecondSink>,
    /// Carries edits of the running test to the workers; its log ends up in the results.
    pub steering: Option<Arc<Steering>>,
}

/// `run`, with a sink for each second and steering for edits.
pub fn run_with(plan: Arc<Plan>, stop: Arc<AtomicBool>, hooks: Hooks) -> Results {
    let (tx, rx) = bounded(plan.workers * SNAPSHOTS_QUEUED_PER_WORKER);
    let start = Instant::now();
    let started_at = SystemTime::now();
    if let Some(s) = &hooks.steering {
        s.started(start);
    }
    let threads: Vec<_> = (0..plan.workers)
        .map(|index| {
            let link = Link {
                events: tx.clone(),
                stop: stop.clone(),
                start,
                steering: hooks.steering.clone(),
            };
            let plan = plan.clone();
            thread::Builder::new()
                .name(format!("blast-worker-{index}"))
                .spawn(move || worker::run(plan, index, link))
                .expect("spawning a worker thread")
        })
        .collect();
    drop(tx);
    let mut c = Collector::new(plan.clone(), start, started_at);
    c.sink = hooks.sink;
    c.collect(&rx, &stop);
    // Join every worker that has finished, so its sockets are closed before reports are
    // written (a run that used every descriptor must still be able to open a file). A
    // worker that never reported its end is left behind rather than waited on forever.
    for (t, done) in threads.into_iter().zip(&c.done) {
        if *done {
            let _ = t.join();
        }
    }
    let changes = hooks.steering.map_or_else(Vec::new, |s| s.changes());
    c.finish(stop.load(Ordering::Relaxed), changes)
}

/// The coordinator's running state.
struct Collector {
    plan: Arc<Plan>,
    start: Instant,
    started_at: SystemTime,
    totals: Merged,
    interval: Merged,
    users: Vec<u64>,
    drivers: Vec<DriverUsed>,
    failures: Vec<String>,
    finished: usize,
    /// Per worker: it sent its last snapshot or failed, so its thread is ending.
    done: Vec<bool>,
    /// Every closed second, for the reports (the oldest spilled to a file).
    timeline: Timeline,
    live: Live,
    ended: Option<Instant>,
    /// Web dashboard hook (issue 11): sees every second after the live view.
    sink: Option<SecondSink>,
    /// The run has said once that the client is the bottleneck.
    client_bound_said: bool,
}

impl Collector {
    fn new(plan: Arc<Plan>, start: Instant, started_at: SystemTime) -> Self {
        let tasks = plan.tasks.len();
        Collector {
            live: Live::new(plan.quiet, &plan.tasks).marked(
                (plan.tls.as_ref().is_some_and(|t| t.insecure))
                    .then_some(crate::live::INSECURE_MARK),
            ),
            totals: Merged::new(tasks),
            interval: Merged::new(tasks),
            users: vec![0; plan.workers],
            drivers: Vec::new(),
            failures: Vec::new(),
            finished: 0,
            done: vec![false; plan.workers],
            timeline: Timeline::new(),
            ended: None,
            sink: None,
            client_bound_said: false,
            plan,
            start,
            started_at,
        }
    }

    /// Receives until every worker has reported its last snapshot (or failed), the grace
    /// period past the plan's end has run out, or the channel closes.
    fn collect(&mut self, rx: &Receiver<Event>, stop: &AtomicBool) {
        let mut next_tick = self.start + SNAPSHOT_INTERVAL + INTERVAL_CLOSE_DELAY;
        let mut stop_seen: Option<Instant> = None;
        while self.finished < self.plan.workers {
            let now = Instant::now();
            if stop_seen.is_none() && stop.load(Ordering::Relaxed) {
                stop_seen = Some(now);
            }
            if self.given_up(now, stop_seen) {
                let missing = self.plan.workers - self.finished;
                self.failures
                    .push(format!("{missing} worker(s) did not stop in time"));
                break;
            }
            // A short wait keeps Ctrl-C responsive; snapshots arrive once a second anyway.
            let wait = next_tick
                .saturating_duration_since(now)
                .min(worker::TICK * 10);
            match rx.recv_timeout(wait) {
                Ok(event) => self.on_event(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next_tick {
                self.close_interval();
                next_tick += SNAPSHOT_INTERVAL;
            }
        }
        self.ended = Some(self.load_ended(Instant::now(), stop_seen));
        if self.interval.aggregate().requests() > 0 || self.timeline.is_empty() {
            self.close_interval();
        }
        self.live.finish();
    }

    /// When the load stopped: the plan's end or the stop signal, whichever came first (not
    /// later than `now`). Workers close their users and report after that instant; the
    /// run's length, and every rate reported over it, must not include that wind-down.
    fn load_ended(&self, now: Instant, stop_seen: Option<Instant>) -> Instant {
        let planned = self.plan.duration.map(|d| self.start + d);
        [planned, stop_seen]
            .into_iter()
            .flatten()
            .min()
            .map_or(now, |end| end.min(now))
    }

    fn given_up(&self, now: Instant, stop_seen: Option<Instant>) -> bool {
        let grace = self.plan.timeout + STRAGGLER_GRACE;
        let past_end = self
            .plan
            .duration
            .is_some_and(|d| now > self.start + d + grace);
        past_end || stop_seen.is_some_and(|t| now > t + grace)
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Started { driver, .. } => self.drivers.push(driver),
            Event::Stats(snap) => self.on_snapshot(&snap),
            Event::Failed { worker, error } => {
                self.failures.push(format!("worker {worker}: {error}"));
                self.finished += 1;
                self.mark_done(worker);
            }
        }
    }

    fn on_snapshot(&mut self, snap: &Snapshot) {
        self.totals.add(snap);
        self.interval.add(snap);
        if let Some(u) = self.users.get_mut(snap.worker) {
            *u = snap.users;
        }
        if snap.last {
            self.finished += 1;
            self.mark_done(snap.worker);
        }
    }

    fn mark_done(&mut self, worker: usize) {
        if let Some(d) = self.done.get_mut(worker) {
            *d = true;
        }
    }

    fn close_interval(&mut self) {
        let now = Instant::now();
        let elapsed_s = now.duration_since(self.start).as_secs_f64();
        let before = self.timeline.last().map_or(0.0, |s| s.elapsed_s);
        let clock = Clock {
            elapsed_s,
            interval_s: elapsed_s - before,
            unix_s: unix_now(),
            users: self.users.iter().sum(),
            errors: self.interval.errors_total(),
        };
        let mut second = Second::new(clock, &self.interval.tasks, &self.totals.tasks);
        second.client.cpu = self.interval.busy.iter().map(|b| b.share()).collect();
        second.client.backlog = self.interval.backlog;
        self.live.show(&second, self.plan.duration);
        if let Some(sink) = &mut self.sink {
            sink(&second, &self.totals);
        }
        if !self.client_bound_said {
            let open = matches!(self.plan.load, Load::Open { .. });
            let late = open.then(|| self.interval.late_share().unwrap_or(0.0));
            let demand = self.interval.busy.iter().map(|b| b.demand());
            if let Some(msg) = cpu::client_bound(demand.fold(0.0, f64::max), late) {
                self.live.say(&msg);
                self.client_bound_said = true;
            }
        }
        self.timeline.push(second);
        self.interval = Merged::new(self.plan.tasks.len());
    }

    /// The results of the measured part of the run: from the warm-up's end (the start when
    /// there is none) to when the load stopped.
    fn finish(self, interrupted: bool, changes: Vec<(f64, String)>) -> Results {
        let ended = self.ended.unwrap_or_else(Instant::now);
        let warmup = self.plan.warmup;
        let (timeline, lost) = self.timeline.into_seconds();
        let mut failures = self.failures;
        failures.extend(lost.map(|e| format!("the timeline's older seconds were lost: {e}")));
        Results {
            elapsed: ended.saturating_duration_since(self.start + warmup),
            plan: self.plan.info(),
            totals: self.totals,
            started_at: self.started_at + warmup,
            driver: driver_names(&self.drivers),
            worker_failures: failures,
            timeline,
            interrupted,
            changes: changes
                .into_iter()
                .map(|(elapsed_s, what)| Change { elapsed_s, what })
                .collect(),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
