//! A worker: one OS thread pinned to one core, running its own single-threaded monoio
//! runtime with its own connections, request bytes and `Recorder`. It talks to the
//! coordinator only through a bounded channel, once per interval, and never blocks on it.
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::conn::run_user;
use super::driver::{self, DriverUsed};
use super::shared::Shared;
use super::steer::Steering;
use crate::plan::Plan;
use crate::stats::Snapshot;

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
    /// Edits of the running test, when something may make them (the dashboard).
    pub steering: Option<Arc<Steering>>,
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
    let w = Rc::new(Shared::new(plan, index, link.start));
    for j in 0..w.share.users {
        spawn_user(&w, j, usize::try_from(j).unwrap_or(usize::MAX));
    }
    if w.pacer.is_some() {
        monoio::spawn(w.pace.clone().run());
    }
    let mut steered = 0;
    let deadline = w.plan.duration.map(|d| link.start + d);
    let mut next_snapshot = link.start + SNAPSHOT_INTERVAL;
    let mut pending: Option<Snapshot> = None;
    // Until the warm-up ends nothing is reported; at its end, to the tick, all of it is dropped.
    let mut warm_until = (!w.plan.warmup.is_zero()).then(|| link.start + w.plan.warmup);
    loop {
        let tick = Instant::now() + TICK;
        let wake = warm_until.map_or(tick, |end| end.min(tick));
        monoio::time::sleep_until(monoio::time::Instant::from_std(wake)).await;
        let now = Instant::now();
        if let Some(end) = warm_until.filter(|end| now >= *end) {
            warm_until = None;
            drop(w.snapshot(false));
            while next_snapshot <= end {
                next_snapshot += SNAPSHOT_INTERVAL;
            }
        }
        let done = link.stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| now >= d)
            || w.alive.get() == 0;
        if done {
            break;
        }
        if let Some(s) = link.steering.as_deref().filter(|s| s.version() != steered) {
            steered = s.version();
            let need = w.steer(s.ramp());
            while w.spawned.get() < need {
                let slot = w.add_user_slot();
                spawn_user(&w, w.spawned.get(), slot);
            }
        }
        if warm_until.is_none() && now >= next_snapshot {
            next_snapshot += SNAPSHOT_INTERVAL;
            let snap = pending.take().unwrap_or_else(|| w.snapshot(false));
            pending = offer(&link.events, snap);
        }
    }
    w.stop();
    // Let the woken users end and close their sockets before the runtime goes away; each
    // counts what it had taken from the schedule and not written as unsent.
    let grace = Instant::now() + STOP_GRACE;
    while w.alive.get() > 0 && Instant::now() < grace {
        monoio::time::sleep(Duration::from_millis(1)).await;
    }
    w.count_unsent();
    // The last snapshot may wait: the run is over. Anything not yet delivered goes first.
    if let Some(snap) = pending {
        let _ = link.events.send(Event::Stats(Box::new(snap)));
    }
    let _ = link.events.send(Event::Stats(Box::new(w.snapshot(true))));
}

/// Starts local user `j` (its run-wide number follows from the worker's index) in `slot`.
fn spawn_user(w: &Rc<Shared>, j: u64, slot: usize) {
    let g = w.plan.global_user(w.index, j);
    w.spawned.set(w.spawned.get() + 1);
    monoio::spawn(run_user(w.clone(), slot, g));
}

/// Sends without blocking; hands the snapshot back if the channel is full.
fn offer(events: &Sender<Event>, snap: Snapshot) -> Option<Snapshot> {
    match events.try_send(Event::Stats(Box::new(snap))) {
        Ok(()) => None,
        Err(TrySendError::Full(Event::Stats(snap))) => Some(*snap),
        Err(_) => None,
    }
}
