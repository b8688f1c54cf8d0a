//! A worker: one OS thread pinned to one core, running its own single-threaded monoio
//! runtime with its own connections, request bytes and `Recorder`. It talks to the
//! coordinator only through a bounded channel, once per interval, and never blocks on it.
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::conn::run_user;
use super::driver::{self, DriverUsed};
use super::schedule::Pacer;
use crate::plan::{Load, Plan, Share};
use crate::stats::{Recorder, Snapshot};

/// How often a worker checks for the stop signal and the end of its run.
pub const TICK: Duration = Duration::from_millis(10);
/// How often a worker hands its stats to the coordinator.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(1);

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
    /// This worker's own copy of the encoded request.
    pub request: Vec<u8>,
    /// The request is HEAD: responses have no body.
    pub head: bool,
    pub rec: RefCell<Recorder>,
    /// Open model: the schedule of intended send times.
    pub pacer: Option<RefCell<Pacer>>,
    /// Users currently running.
    pub users: Cell<u64>,
    stopping: Cell<bool>,
    /// Requests this worker may still send (`--requests`), or None for no limit.
    budget: Cell<Option<u64>>,
}

impl Worker {
    fn new(plan: Arc<Plan>, index: usize, start: Instant) -> Self {
        let share = plan.share(index);
        let pacer = match plan.load {
            Load::Open { .. } => Some(RefCell::new(Pacer::new(start, share.rate))),
            Load::Closed { .. } => None,
        };
        Worker {
            request: plan.request.clone(),
            head: plan.is_head(),
            rec: RefCell::new(Recorder::new(plan.tasks.len())),
            budget: Cell::new(share.requests),
            pacer,
            users: Cell::new(0),
            stopping: Cell::new(false),
            share,
            index,
            plan,
        }
    }

    #[inline]
    pub fn running(&self) -> bool {
        !self.stopping.get()
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
            .take_snapshot(self.index, self.users.get(), last)
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
    for _ in 0..w.share.users {
        monoio::spawn(run_user(w.clone()));
    }
    let deadline = w.plan.duration.map(|d| link.start + d);
    let mut next_snapshot = link.start + SNAPSHOT_INTERVAL;
    let mut pending: Option<Snapshot> = None;
    loop {
        monoio::time::sleep(TICK).await;
        let now = Instant::now();
        let done = link.stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| now >= d)
            || w.users.get() == 0;
        if done {
            break;
        }
        if now >= next_snapshot {
            next_snapshot += SNAPSHOT_INTERVAL;
            let snap = pending.take().unwrap_or_else(|| w.snapshot(false));
            pending = offer(&link.events, snap);
        }
    }
    w.stopping.set(true);
    // The last snapshot may wait: the run is over. Anything not yet delivered goes first.
    if let Some(snap) = pending {
        let _ = link.events.send(Event::Stats(Box::new(snap)));
    }
    let _ = link.events.send(Event::Stats(Box::new(w.snapshot(true))));
}

/// Sends without blocking; hands the snapshot back if the channel is full.
fn offer(events: &Sender<Event>, snap: Snapshot) -> Option<Snapshot> {
    match events.try_send(Event::Stats(Box::new(snap))) {
        Ok(()) => None,
        Err(TrySendError::Full(Event::Stats(snap))) => Some(*snap),
        Err(_) => None,
    }
}
