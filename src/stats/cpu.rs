//! How busy the client itself is: a worker's thread CPU time (`CLOCK_THREAD_CPUTIME_ID`)
//! and the time it spent runnable but waiting for a CPU (`/proc/thread-self/schedstat`),
//! read once per snapshot, and the judgement of when that makes the client, not the server,
//! the bottleneck. CPU time alone understates a worker on a machine it shares: one that
//! never waits for I/O but gets half a core is as much the bottleneck as one that uses a
//! whole core. Plain numbers in, plain words out.
use std::time::Duration;

/// A worker busy this share of a core (or more) is short of CPU.
pub const BUSY_SHARE: f64 = 0.90;
/// ... and in the open model it limits the run when at least this share of its sends left
/// late (so the schedule slipped because of it).
pub const LATE_SHARE: f64 = 0.10;

/// CPU time the calling thread has used (user + system).
pub fn thread_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Time the calling thread spent runnable but waiting for a CPU (zero where the kernel
/// does not say).
pub fn thread_queued() -> Duration {
    let Ok(text) = std::fs::read_to_string("/proc/thread-self/schedstat") else {
        return Duration::ZERO;
    };
    // "<ns on a CPU> <ns waiting on a run queue> <time slices>"
    let queued = text.split_ascii_whitespace().nth(1);
    Duration::from_nanos(queued.and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// A worker's busy time over a stretch of wall time, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Busy {
    /// On a CPU.
    pub cpu_us: u64,
    /// Runnable, waiting for a CPU another thread or process had.
    pub queued_us: u64,
    pub wall_us: u64,
}

impl Busy {
    /// The share of one core used, 0 when no time passed.
    pub fn share(self) -> f64 {
        ratio(self.cpu_us, self.wall_us)
    }

    /// The share of the time the worker wanted a CPU (used one or waited for one): near 1
    /// when it never waited for the network, whatever else the machine ran.
    pub fn demand(self) -> f64 {
        ratio(self.cpu_us + self.queued_us, self.wall_us)
    }

    pub fn add(&mut self, other: Busy) {
        self.cpu_us += other.cpu_us;
        self.queued_us += other.queued_us;
        self.wall_us += other.wall_us;
    }
}

fn ratio(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

/// Adds `b` to worker `worker`'s entry, growing the table as workers appear.
pub fn add_busy(table: &mut Vec<Busy>, worker: usize, b: Busy) {
    if table.len() <= worker {
        table.resize(worker + 1, Busy::default());
    }
    table[worker].add(b);
}

/// The plain-words warning when the client was the bottleneck, None when it was not:
/// some worker was at least [`BUSY_SHARE`] busy (its [`Busy::demand`]) and, in the open
/// model, at least [`LATE_SHARE`] of the sends left late (`late_share` is None for the
/// closed model, whose users with no think time are never idle by design).
pub fn client_bound(busiest: f64, late_share: Option<f64>) -> Option<String> {
    if busiest < BUSY_SHARE || late_share.is_some_and(|l| l < LATE_SHARE) {
        return None;
    }
    let why = match late_share {
        Some(l) => format!(
            "a worker was {:.0}% busy (on a CPU or waiting for one) while {:.0}% of its sends \
             left late",
            busiest * 100.0,
            l * 100.0
        ),
        None => format!(
            "a worker was {:.0}% busy (on a CPU or waiting for one)",
            busiest * 100.0
        ),
    };
    Some(format!(
        "client-bound: {why}, so these figures describe blast on this machine, not the \
         server; give it more cores (--cores), pipeline requests (--pipeline) or run shards \
         on more machines"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_thread_uses_its_time() {
        let t0 = thread_time();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(0u64);
        }
        let used = thread_time() - t0;
        assert!(used >= Duration::from_millis(5), "{used:?}");
        let t1 = thread_time();
        std::thread::sleep(Duration::from_millis(30));
        assert!(thread_time() - t1 < Duration::from_millis(10));
    }

    #[test]
    fn busy_and_late_is_client_bound_and_says_what_to_do() {
        let msg = client_bound(0.95, Some(0.4)).expect("bound");
        assert!(msg.contains("95% busy") && msg.contains("--cores"), "{msg}");
        assert!(client_bound(0.95, None).is_some(), "closed model, busy");
        assert!(client_bound(0.95, Some(0.01)).is_none(), "on time");
        assert!(client_bound(0.5, Some(0.9)).is_none(), "idle client");
    }

    #[test]
    fn busy_shares_add_up_per_worker() {
        let mut t = Vec::new();
        let b = Busy {
            cpu_us: 500,
            queued_us: 400,
            wall_us: 1000,
        };
        add_busy(&mut t, 1, b);
        add_busy(&mut t, 1, b);
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].share(), 0.5);
        assert_eq!(t[1].demand(), 0.9);
        assert_eq!(t[0].share(), 0.0);
    }
}
