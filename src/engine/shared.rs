//! What one worker's users share: the plan, the request source, the recorder, the pacer, the
//! request budget and the stop signal. Single-threaded (`Cell`/`RefCell`, no locks); the
//! connection loop sees only this, never the worker's own loop or channel.
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::hop::Origins;
use super::pace::Pace;
use super::source::Source;
use crate::load::{Load, Pacer, Ramp};
use crate::plan::{Plan, Share};
use crate::stats::cpu::{self, Busy};
use crate::stats::{Recorder, Snapshot};

/// Worker-local state shared by its connections (single thread: `Cell`/`RefCell`, no locks).
pub struct Shared {
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
    /// Other origins redirects went to, resolved once per worker.
    pub origins: RefCell<Origins>,
    /// Open model: the schedule of intended send times.
    pub pacer: Option<RefCell<Pacer>>,
    /// Open model: waits to the microsecond for the intended send times.
    pub pace: Rc<Pace>,
    /// When the worker stopped: requests due by then and never sent are `unsent`.
    stopped_at: Cell<Option<Instant>>,
    /// Wall clock, thread CPU time and run-queue wait at the last snapshot.
    cpu_mark: Cell<(Instant, Duration, Duration)>,
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
    /// Closed model: the users level over run time (the plan's stages, or a steered level).
    level: RefCell<Option<Ramp>>,
    /// User tasks started on this worker (the plan's share, more after a steered increase).
    pub spawned: Cell<u64>,
    /// Users connected when the worker was told to stop (the last snapshot's figure).
    users_at_stop: Cell<Option<u64>>,
}

impl Shared {
    pub fn new(plan: Arc<Plan>, index: usize, start: Instant) -> Self {
        let share = plan.share(index);
        let pacer = share
            .schedule
            .as_ref()
            .map(|s| RefCell::new(s.pacer(start)));
        let capture = match &plan.scenario {
            Some(s) => s.tasks.iter().map(|t| t.needs_body_capture()).collect(),
            None => vec![false],
        };
        Shared {
            source: RefCell::new(Source::new(&plan, index)),
            capture,
            rec: RefCell::new(Recorder::new(plan.tasks.len())),
            origins: RefCell::default(),
            budget: Cell::new(share.requests),
            pacer,
            pace: Pace::new(),
            stopped_at: Cell::new(None),
            cpu_mark: Cell::new((Instant::now(), cpu::thread_time(), cpu::thread_queued())),
            alive: Cell::new(0),
            connected: Cell::new(0),
            stopping: Cell::new(false),
            stop_wakers: RefCell::new(vec![None; usize::try_from(share.users).unwrap_or(0)]),
            level: RefCell::new(match plan.load {
                Load::Closed { .. } => plan.ramp.clone(),
                Load::Open { .. } => None,
            }),
            spawned: Cell::new(0),
            users_at_stop: Cell::new(None),
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
        let within = match &*self.level.borrow() {
            Some(ramp) => (g as f64) < ramp.at(t).floor(),
            None => true,
        };
        spawned && within
    }

    /// Follows a steered level from now on: the users level (closed model) or the pacer's
    /// schedule (open model). Returns the users this worker needs at the level's peak.
    pub fn steer(&self, ramp: Ramp) -> u64 {
        match &self.pacer {
            Some(p) => {
                p.borrow_mut().retarget(&ramp);
                self.spawned.get()
            }
            None => {
                let peak = ramp.peak().ceil() as u64;
                *self.level.borrow_mut() = Some(ramp);
                self.plan.users_on_worker(self.index, peak)
            }
        }
    }

    /// Gives a newly spawned user its stop slot; returns the slot.
    pub fn add_user_slot(&self) -> usize {
        let mut w = self.stop_wakers.borrow_mut();
        w.push(None);
        w.len() - 1
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
    pub fn stop(&self) {
        self.users_at_stop.set(Some(self.connected.get()));
        self.stopping.set(true);
        self.stopped_at.set(Some(Instant::now()));
        self.pace.stop();
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

    /// The stats recorded since the last snapshot, for the coordinator, with this
    /// thread's CPU time since then and the open model's backlog.
    pub fn snapshot(&self, last: bool) -> Snapshot {
        let mark = (Instant::now(), cpu::thread_time(), cpu::thread_queued());
        let (then, cpu_then, queued_then) = self.cpu_mark.replace(mark);
        let (now, cpu_now, queued_now) = mark;
        let busy = Busy {
            cpu_us: micros(cpu_now.saturating_sub(cpu_then)),
            queued_us: micros(queued_now.saturating_sub(queued_then)),
            wall_us: micros(now.saturating_duration_since(then)),
        };
        let backlog = self.pacer.as_ref().map(|p| p.borrow().due_count(now));
        let mut rec = self.rec.borrow_mut();
        rec.client(busy, backlog);
        // The last snapshot comes after the users have closed: it reports those that were
        // connected when the run ended.
        let users = self.users_at_stop.get().unwrap_or(self.connected.get());
        rec.take_snapshot(self.index, users, last)
    }

    /// A request taken from the schedule for `intended` that was never written: unsent if
    /// it was due by the time the worker stopped (beyond that it was never scheduled).
    pub fn never_sent(&self, intended: Instant) {
        if let Some(stop) = self.stopped_at.get() {
            if intended <= stop {
                self.rec.borrow_mut().unsent(stop - intended);
            }
        }
    }

    /// Counts what the schedule had due by the stop and never handed out as unsent.
    pub fn count_unsent(&self) {
        let (Some(pacer), Some(stop)) = (&self.pacer, self.stopped_at.get()) else {
            return;
        };
        let mut pacer = pacer.borrow_mut();
        let mut rec = self.rec.borrow_mut();
        while let Some(t) = pacer.take_due(stop) {
            rec.unsent(stop - t);
        }
    }
}

pin_project_lite::pin_project! {
    /// [`Shared::or_stop`]'s future. A plain struct rather than an `async fn`: the user's
    /// session future lives inside it, and an `async fn` would hold a second copy of it
    /// (measured: 10,000 connections took 16 MB more peak RSS).
    pub struct OrStop<'a, F> {
        worker: &'a Shared,
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

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
