//! A worker: one OS thread pinned to one core, running its own single-threaded monoio
//! runtime with its own connections, request bytes and `Recorder`. It talks to the
//! coordinator only through a bounded channel, once per interval, and never blocks on it.
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::conn::run_user;
use super::driver::{self, DriverUsed};
use super::schedule::{Pacer, Ramp};
use super::source::Source;
use crate::plan::{Load, Plan, Share};
use crate::stats::{Recorder, Snapshot};

/// How often a worker checks for the stop signal and the end of its run.
pub const TICK: Duration = Duration::from_millis(10);
/// How often a worker hands its stats to the coordinator.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(1);
/// How long a stopping worker waits for its users to close their connections. They stop at
/// once (every wait of theirs ends on the stop signal); this only bounds a surprise.
pub const STOP_GRACE: Duration = Duration::from_millis(500);

/// What a worker tells the coordinator.
#[derive(Debug)]
pub enum Event {
    Started { worker: usize, driver: DriverUsed },
    Stats(Box<Snapshot>),
    Failed { worker: usize, error: String },
}

/// What the coordinator gives a worker.
pub struct Link {
    pub events: Sender<Event>,
    /// Set by the coordinator (deadline, Ctrl-C); read once per tick.
    pub stop: Arc<AtomicBool>,
    /// The instant the run's clock starts, shared by every worker.
    pub start: Instant,
}

/// Worker-local state shared by its connections (single thread: `Cell`/`RefCell`, no locks).
pub struct Worker {
    pub plan: Arc<Plan>,
    pub index: usize,
    pub share: Share,
    /// The run's clock starts here (shared by every worker).
    pub start: Instant,
    /// This worker's own request bytes or scenario renderer.
    pub source: RefCell<Source>,
    /// Per task: whether checking its responses reads the body.
    pub capture: Vec<bool>,
    pub rec: RefCell<Recorder>,
    /// Open model: the schedule of intended send times.
    pub pacer: Option<RefCell<Pacer>>,
    /// User tasks still running.
    pub alive: Cell<u64>,
    /// Users with an open session (the live view's "users").
    pub connected: Cell<u64>,
    stopping: Cell<bool>,
    /// Per user (local index): the waker of its current wait, woken when the worker stops.
    /// The runtime does not drop tasks parked on I/O or timers when it is dropped, so a user
    /// left waiting would keep its socket open past the run (and across runs in one process,
    /// as `blast limit` makes them).
    stop_wakers: RefCell<Vec<Option<Waker>>>,
    /// Requests this worker may still send (`--requests`), or None for no limit.
    budget: Cell<Option<u64>>,
}

impl Worker {
    fn new(plan: Arc<Plan>, index: usize, start: Instant) -> Self {
        let share = plan.share(index);
        let pacer = open_pacer(&plan, index, start).map(RefCell::new);
        let capture = match &plan.scenario {
            Some(s) => s.tasks.iter().map(|t| t.needs_body_capture()).collect(),
            None => vec![false],
        };
        Worker {
            source: RefCell::new(Source::new(&plan, index)),
            capture,
            rec: RefCell::new(Recorder::new(plan.tasks.len())),
            budget: Cell::new(share.requests),
            pacer,
            alive: Cell::new(0),
            connected: Cell::new(0),
            stopping: Cell::new(false),
            stop_wakers: RefCell::new(vec![None; usize::try_from(share.users).unwrap_or(0)]),
            share,
            index,
            start,
            plan,
        }
    }

    /// Whether user `g` (run-wide index) should be running now: spawned already, and
    /// within the current level of a users ramp.
    pub fn user_active(&self, g: u64, now: Instant) -> bool {
        let t = now.saturating_duration_since(self.start).as_secs_f64();
        let spawned = self.plan.spawn_rate.is_none_or(|r| g as f64 <= t * r);
        let within = match (&self.plan.ramp, &self.plan.load) {
            (Some(ramp), Load::Closed { .. }) => (g as f64) < ramp.at(t).floor(),
            _ => true,
        };
        spawned && within
    }

    #[inline]
    pub fn running(&self) -> bool {
        !self.stopping.get()
    }

    /// Runs `fut` for local user `slot` unless the worker stops first (then None, and `fut`
    /// is dropped: its socket closes, its I/O is cancelled).
    pub fn or_stop<F: Future>(&self, slot: usize, fut: F) -> OrStop<'_, F> {
        OrStop {
            worker: self,
            slot,
            fut,
        }
    }

    fn register_stop_waker(&self, slot: usize, waker: &Waker) {
        if let Some(w) = self.stop_wakers.borrow_mut().get_mut(slot) {
            match w {
                Some(old) if old.will_wake(waker) => {}
                _ => *w = Some(waker.clone()),
            }
        }
    }

    /// Tells every user to stop and wakes those that are waiting.
    fn stop(&self) {
        self.stopping.set(true);
        let wakers = std::mem::take(&mut *self.stop_wakers.borrow_mut());
        for w in wakers.into_iter().flatten() {
            w.wake();
        }
    }

    pub fn has_budget(&self) -> bool {
        self.budget.get() != Some(0)
    }

    /// Takes up to `want` requests from the budget; returns how many may be sent.
    #[inline]
    pub fn take_budget(&self, want: usize) -> usize {
        match self.budget.get() {
            None => want,
            Some(left) => {
                let n = left.min(want as u64);
                self.budget.set(Some(left - n));
                n as usize
            }
        }
    }

    fn snapshot(&self, last: bool) -> Snapshot {
        self.rec
            .borrow_mut()
            .take_snapshot(self.index, self.connected.get(), last)
    }
}

pin_project_lite::pin_project! {
    /// [`Worker::or_stop`]'s future. A plain struct rather than an `async fn`: the user's
    /// session future lives inside it, and an `async fn` would hold a second copy of it
    /// (measured: 10,000 connections took 16 MB more peak RSS).
    pub struct OrStop<'a, F> {
        worker: &'a Worker,
        slot: usize,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for OrStop<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.worker.stopping.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(v) = this.fut.poll(cx) {
            return Poll::Ready(Some(v));
        }
        this.worker.register_stop_waker(*this.slot, cx.waker());
        Poll::Pending
    }
}

/// Worker `index`'s schedule of intended send times in an open-model run. Workers take turns
/// on the process's schedule; with `--shard I/N` at a constant rate the whole schedule is
/// also shifted by I requests of the total rate, so N shards (of as many workers each) send
/// in turn too rather than N at once.
pub(crate) fn open_pacer(plan: &Plan, index: usize, start: Instant) -> Option<Pacer> {
    let Load::Open { rate, .. } = plan.load else {
        return None;
    };
    let (i, n) = (index as u64, plan.workers as u64);
    match &plan.ramp {
        Some(ramp) => Some(Pacer::interleaved(start, ramp, i, n)),
        None => {
            let total = rate * plan.shard.count as f64;
            let phase = Duration::from_secs_f64(plan.shard.index as f64 / total);
            Some(Pacer::interleaved(
                start + phase,
                &Ramp::constant(rate),
                i,
                n,
            ))
        }
    }
}

/// Runs worker `index` on the current thread until the plan's end or the stop signal.
pub fn run(plan: Arc<Plan>, index: usize, link: Link) {
    if let Some(Some(core)) = plan.cores.get(index) {
        core_affinity::set_for_current(core_affinity::CoreId { id: *core });
    }
    let events = link.events.clone();
    let result = driver::block_on(plan.driver, |driver| {
        let _ = link.events.send(Event::Started {
            worker: index,
            driver,
        });
        worker_main(plan.clone(), index, &link)
    });
    if let Err(e) = result {
        let _ = events.send(Event::Failed {
            worker: index,
            error: e.to_string(),
        });
    }
}

async fn worker_main(plan: Arc<Plan>, index: usize, link: &Link) {
    let w = Rc::new(Worker::new(plan, index, link.start));
    for j in 0..w.share.users {
        let g = w.plan.global_user(index, j);
        let slot = usize::try_from(j).unwrap_or(usize::MAX);
        monoio::spawn(run_user(w.clone(), slot, g));
    }
    let deadline = w.plan.duration.map(|d| link.start + d);
    let mut next_snapshot = link.start + SNAPSHOT_INTERVAL;
    let mut pending: Option<Snapshot> = None;
    loop {
        monoio::time::sleep(TICK).await;
        let now = Instant::now();
        let done = link.stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| now >= d)
            || w.alive.get() == 0;
        if done {
            break;
        }
        if now >= next_snapshot {
            next_snapshot += SNAPSHOT_INTERVAL;
            let snap = pending.take().unwrap_or_else(|| w.snapshot(false));
            pending = offer(&link.events, snap);
        }
    }
    w.stop();
    // The last snapshot may wait: the run is over. Anything not yet delivered goes first.
    if let Some(snap) = pending {
        let _ = link.events.send(Event::Stats(Box::new(snap)));
    }
    let _ = link.events.send(Event::Stats(Box::new(w.snapshot(true))));
    // Let the woken users end and close their sockets before the runtime goes away.
    let grace = Instant::now() + STOP_GRACE;
    while w.alive.get() > 0 && Instant::now() < grace {
        monoio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Sends without blocking; hands the snapshot back if the channel is full.
fn offer(events: &Sender<Event>, snap: Snapshot) -> Option<Snapshot> {
    match events.try_send(Event::Stats(Box::new(snap))) {
        Ok(()) => None,
        Err(TrySendError::Full(Event::Stats(snap))) => Some(*snap),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanInput;
    use crate::shard::Shard;

    /// Every intended send time of `plans`' workers, sorted, in seconds after `t0`.
    fn schedule(plans: &[Plan], t0: Instant, per_worker: usize) -> Vec<f64> {
        let mut times: Vec<f64> = plans
            .iter()
            .flat_map(|p| (0..p.workers).map(move |w| open_pacer(p, w, t0).unwrap()))
            .flat_map(|mut pacer| {
                (0..per_worker).map(move |_| pacer.take().unwrap().duration_since(t0).as_secs_f64())
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times
    }

    #[test]
    fn shards_and_workers_take_turns_on_one_schedule() {
        let plan = |shard: Option<Shard>| {
            let input = PlanInput {
                url: Some("http://127.0.0.1:1/".into()),
                rate: Some(400.0),
                users: Some(40),
                shard,
                ..PlanInput::default()
            };
            Plan::build(input, &[0, 1]).unwrap()
        };
        let t0 = Instant::now();
        let whole = schedule(&[plan(None)], t0, 100);
        let shards: Vec<Plan> = (0..2)
            .map(|index| plan(Some(Shard { index, count: 2 })))
            .collect();
        let sharded = schedule(&shards, t0, 50);
        assert_eq!(whole.len(), sharded.len());
        for (k, (a, b)) in whole.iter().zip(&sharded).enumerate() {
            assert!((a - b).abs() < 1e-6, "request {k}: {a} vs {b}");
            assert!((a - k as f64 / 400.0).abs() < 1e-6, "request {k} at {a}");
        }
    }
}
