//! Waiting to the microsecond for open-model sends. monoio's timer wheel ticks once a
//! millisecond, so a send that waits on it leaves up to a millisecond late and that
//! millisecond lands in the reported latency. Here each worker keeps one `timerfd`
//! (CLOCK_MONOTONIC, absolute deadlines; hrtimer precision, no timer slack) armed for its
//! earliest waiter, awaited through the runtime as a readable file descriptor, which works
//! the same on io_uring (a poll operation) and on epoll. A thread woken from idle (a halted
//! virtual CPU, say) runs 30–90 µs after its timer, so the timer fires [`LEAD`] early and
//! the waiter yields to the runtime for the rest. Measured at `-R 200` against nginx, three
//! runs each (lateness p50, client CPU): no lead 80–90 µs, 4.4–4.6%; 50 µs 16–33 µs,
//! 3.6–4.4%; 75 µs 7–10 µs, 4.2–5.4%; 100 µs 6–18 µs, 4.6–5.2%; 200 µs 6–7 µs, 6.2–7.0%.
//! 75 µs is the shortest that keeps the p50 under 20 µs. A yielding task keeps the
//! runtime from parking, and with io_uring's DEFER_TASKRUN completions are reaped only when
//! it parks, so at most one deadline in every [`MIN_GAP_FOR_LEAD`] gets the lead: yielding
//! never takes more than 15% of the time, and at high rates the thread is awake anyway.
//! Where no timerfd can be made the wheel is the fallback (millisecond lateness, as before).
use std::cell::{Cell, RefCell};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::future::Future;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use monoio::net::UnixStream;

/// The timer fires this long before a deadline that gets a lead.
pub const LEAD: Duration = Duration::from_micros(75);
/// A deadline gets a lead only this long after the last one that did: yielding takes at
/// most 15% of the time. At 750 µs (ten leads) every other send at 2,000 req/s went
/// without and the lateness p50 there rose from 3 to 23 µs.
pub const MIN_GAP_FOR_LEAD: Duration = Duration::from_micros(500);

/// One waiter: its deadline, a tie-breaker for equal deadlines, and whom to wake.
struct Entry {
    at: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// A worker's precise clock: the timerfd and everyone waiting on it. Single-threaded.
pub struct Pace {
    fd: Cell<Option<RawFd>>,
    /// The timerfd as the runtime sees it, until [`Pace::run`] takes it.
    stream: RefCell<Option<UnixStream>>,
    /// `CLOCK_MONOTONIC` at `base`, to turn an `Instant` into an absolute timerfd deadline.
    base: Instant,
    base_ts: Duration,
    waiters: RefCell<BinaryHeap<Reverse<Entry>>>,
    seq: Cell<u64>,
    /// The deadline the timerfd is armed for.
    armed: Cell<Option<Instant>>,
    /// The last deadline given a lead.
    last_lead: Cell<Option<Instant>>,
    /// The task that reads the timerfd, when it waits for a first waiter.
    idle: RefCell<Option<Waker>>,
    stopped: Cell<bool>,
}

impl Pace {
    /// A clock for the current runtime's thread; [`Pace::run`] must run for it to tick.
    pub fn new() -> Rc<Self> {
        // `Instant` first: a deadline converted through these is never early, only up to
        // the gap between the two reads late.
        let base = Instant::now();
        let base_ts = monotonic_now();
        let (stream, fd) = match timerfd() {
            Ok((s, fd)) => (Some(s), Some(fd)),
            Err(_) => (None, None),
        };
        Rc::new(Pace {
            fd: Cell::new(fd),
            stream: RefCell::new(stream),
            base,
            base_ts,
            waiters: RefCell::new(BinaryHeap::new()),
            seq: Cell::new(0),
            armed: Cell::new(None),
            last_lead: Cell::new(None),
            idle: RefCell::new(None),
            stopped: Cell::new(false),
        })
    }

    /// Waits until `at`, to the microsecond when the timerfd works (the wheel otherwise).
    pub fn sleep_until(&self, at: Instant) -> Sleep<'_> {
        Sleep {
            pace: self,
            at,
            wake_at: None,
            wheel: None,
        }
    }

    /// Ends [`Pace::run`] (its file descriptor closes) and wakes every waiter.
    pub fn stop(&self) {
        self.stopped.set(true);
        if let Some(fd) = self.fd.get() {
            // Fire at once so the reading task sees the stop.
            arm(fd, self.base_ts);
        }
        if let Some(w) = self.idle.borrow_mut().take() {
            w.wake();
        }
        for Reverse(e) in self.waiters.borrow_mut().drain() {
            e.waker.wake();
        }
    }

    /// The task that owns the timerfd: wakes waiters whose time has come and arms the
    /// timer for the next. Returns when stopped (closing the timerfd) or at once when no
    /// timerfd could be made (waiters then use the wheel).
    pub async fn run(self: Rc<Self>) {
        let Some(stream) = self.stream.borrow_mut().take() else {
            return;
        };
        while !self.stopped.get() {
            self.wake_due(Instant::now());
            let next = self.waiters.borrow().peek().map(|Reverse(e)| e.at);
            match next {
                None => Idle { pace: &self }.await,
                Some(at) => {
                    self.arm_for(at);
                    if stream.readable(false).await.is_err() {
                        break;
                    }
                    self.armed.set(None);
                    drain(self.fd.get());
                }
            }
        }
        self.fd.set(None);
        drop(stream);
    }

    fn wake_due(&self, now: Instant) {
        let mut heap = self.waiters.borrow_mut();
        while heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            if let Some(Reverse(e)) = heap.pop() {
                e.waker.wake();
            }
        }
    }

    /// Arms the timerfd for `at` unless it is armed for that already.
    fn arm_for(&self, at: Instant) {
        let Some(fd) = self.fd.get() else { return };
        if self.armed.get() == Some(at) {
            return;
        }
        self.armed.set(Some(at));
        let since_base = at.saturating_duration_since(self.base);
        arm(fd, self.base_ts + since_base.max(Duration::from_nanos(1)));
    }

    /// When the timer should wake the waiter for `at`: [`LEAD`] early when no deadline
    /// within [`MIN_GAP_FOR_LEAD`] before it had a lead, else at `at` itself.
    fn wake_at_for(&self, at: Instant) -> Instant {
        let spaced = self
            .last_lead
            .get()
            .is_none_or(|last| at >= last + MIN_GAP_FOR_LEAD);
        if spaced {
            self.last_lead.set(Some(at));
            at - LEAD
        } else {
            at
        }
    }

    /// Queues a waiter; re-arms the timer when it is now the earliest.
    fn push(&self, at: Instant, waker: Waker) {
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        self.waiters
            .borrow_mut()
            .push(Reverse(Entry { at, seq, waker }));
        if self.armed.get().is_some_and(|armed| at < armed) {
            self.arm_for(at);
        }
        if let Some(w) = self.idle.borrow_mut().take() {
            w.wake();
        }
    }
}

/// [`Pace::sleep_until`]'s future.
pub struct Sleep<'a> {
    pace: &'a Pace,
    at: Instant,
    /// When the timer wakes this waiter (decided on the first poll).
    wake_at: Option<Instant>,
    /// Without a timerfd: the wheel's sleep.
    wheel: Option<Pin<Box<monoio::time::Sleep>>>,
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        if now >= self.at || self.pace.stopped.get() {
            return Poll::Ready(());
        }
        if self.pace.fd.get().is_none() {
            // No precise timer: the wheel, to the millisecond.
            let at = monoio::time::Instant::from_std(self.at);
            let wheel = self
                .wheel
                .get_or_insert_with(|| Box::pin(monoio::time::sleep_until(at)));
            return wheel.as_mut().poll(cx);
        }
        let (at, pace) = (self.at, self.pace);
        let wake_at = *self.wake_at.get_or_insert_with(|| pace.wake_at_for(at));
        if now >= wake_at {
            // Within the lead: yield, and look again once the runtime has run the rest.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // First poll, or woken before the timer (a stop signal's wake): wait on the timer.
        // Each entry wakes once, so a second one only costs a spurious wake.
        self.pace.push(wake_at, cx.waker().clone());
        Poll::Pending
    }
}

/// Waits until a waiter is queued or the clock stops.
struct Idle<'a> {
    pace: &'a Pace,
}

impl Future for Idle<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.pace.stopped.get() || !self.pace.waiters.borrow().is_empty() {
            return Poll::Ready(());
        }
        *self.pace.idle.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// `CLOCK_MONOTONIC` now, the clock `Instant` reads on Linux.
fn monotonic_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// A non-blocking monotonic timerfd, registered with the current runtime.
fn timerfd() -> io::Result<(UnixStream, RawFd)> {
    // SAFETY: plain syscall; the result is checked.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // The runtime only needs a readable descriptor; a timerfd is one. The stream owns it.
    // SAFETY: `fd` is open and owned by nobody else.
    let std = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
    Ok((UnixStream::from_std(std)?, fd))
}

/// Arms `fd` for the absolute monotonic time `at` (one shot).
fn arm(fd: RawFd, at: Duration) {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: libc::time_t::try_from(at.as_secs()).unwrap_or(libc::time_t::MAX),
            // Under 10^9: fits a c_long of any width.
            tv_nsec: at.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: `fd` is a timerfd this module opened; `spec` is valid.
    unsafe { libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
}

/// Reads the expiration count so the descriptor is no longer readable.
fn drain(fd: Option<RawFd>) {
    let Some(fd) = fd else { return };
    let mut n = 0u64;
    // SAFETY: reads 8 bytes into `n`; the fd is non-blocking.
    unsafe { libc::read(fd, (&mut n as *mut u64).cast(), 8) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lateness of `n` waits `gap` apart on `driver`, in microseconds, sorted.
    fn lateness(driver: crate::os::DriverChoice, n: usize, gap: Duration) -> Vec<u64> {
        crate::engine::driver::block_on(driver, |_| async move {
            let pace = Pace::new();
            monoio::spawn(pace.clone().run());
            let mut late = Vec::with_capacity(n);
            let mut at = Instant::now() + gap;
            for _ in 0..n {
                pace.sleep_until(at).await;
                late.push(Instant::now().saturating_duration_since(at).as_micros() as u64);
                at += gap;
            }
            pace.stop();
            monoio::time::sleep(Duration::from_millis(2)).await;
            late.sort_unstable();
            late
        })
        .expect("runtime")
    }

    /// Bounds loose enough for a shared 2-core machine; the wheel's 1 ms would fail them.
    fn assert_precise(late: &[u64]) {
        let p50 = late[late.len() / 2];
        let p99 = late[late.len() * 99 / 100];
        eprintln!("lateness p50 {p50} µs, p99 {p99} µs");
        assert!(p50 < 300, "p50 lateness {p50} µs: {late:?}");
    }

    #[test]
    fn waits_end_within_microseconds_on_io_uring() {
        assert_precise(&lateness(
            crate::os::DriverChoice::Auto,
            200,
            Duration::from_micros(1700),
        ));
    }

    #[test]
    fn waits_end_within_microseconds_on_epoll() {
        assert_precise(&lateness(
            crate::os::DriverChoice::Epoll,
            200,
            Duration::from_micros(1700),
        ));
    }

    #[test]
    fn a_stopped_clock_ends_its_waits() {
        crate::engine::driver::block_on(crate::os::DriverChoice::Auto, |_| async move {
            let pace = Pace::new();
            monoio::spawn(pace.clone().run());
            let p = pace.clone();
            monoio::spawn(async move {
                monoio::time::sleep(Duration::from_millis(5)).await;
                p.stop();
            });
            let t0 = Instant::now();
            pace.sleep_until(t0 + Duration::from_secs(30)).await;
            assert!(t0.elapsed() < Duration::from_secs(5));
        })
        .expect("runtime");
    }
}
