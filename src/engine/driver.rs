//! Building a worker's runtime: io_uring tuned for one thread, plain io_uring where the
//! kernel refuses a setup flag, epoll where io_uring is refused altogether (old kernels,
//! seccomp sandboxes). The worker code is the same on each; only the driver differs.
use std::fmt;
use std::future::Future;
use std::io;

use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};

use crate::os::DriverChoice;

/// Submission queue entries per worker ring: room for thousands of connections' reads and
/// writes in one submission without waiting for the kernel.
pub const URING_ENTRIES: u32 = 4096;

/// The driver a worker actually ran on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverUsed {
    /// io_uring with COOP_TASKRUN, SINGLE_ISSUER and DEFER_TASKRUN.
    IoUring,
    /// io_uring without those flags (the kernel refused one).
    IoUringPlain,
    Epoll,
}

impl DriverUsed {
    pub fn name(self) -> &'static str {
        match self {
            DriverUsed::IoUring => "io_uring",
            DriverUsed::IoUringPlain => "io_uring (plain ring)",
            DriverUsed::Epoll => "epoll",
        }
    }
}

impl fmt::Display for DriverUsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A ring for a runtime that only ever runs on its own thread: task work is deferred to
/// when the thread waits (fewer interrupts), and the kernel skips cross-thread locking.
fn tuned_ring() -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    b.setup_coop_taskrun()
        .setup_single_issuer()
        .setup_defer_taskrun();
    b
}

/// Builds the best runtime `choice` allows and runs the future `make` returns on it.
pub fn block_on<F, Fut>(choice: DriverChoice, make: F) -> io::Result<Fut::Output>
where
    F: FnOnce(DriverUsed) -> Fut,
    Fut: Future,
{
    if choice != DriverChoice::Epoll {
        let tuned = RuntimeBuilder::<IoUringDriver>::new()
            .with_entries(URING_ENTRIES)
            .uring_builder(tuned_ring())
            .enable_timer()
            .build();
        if let Ok(mut rt) = tuned {
            return Ok(rt.block_on(make(DriverUsed::IoUring)));
        }
        let plain = RuntimeBuilder::<IoUringDriver>::new()
            .with_entries(URING_ENTRIES)
            .enable_timer()
            .build();
        match plain {
            Ok(mut rt) => return Ok(rt.block_on(make(DriverUsed::IoUringPlain))),
            Err(e) if choice == DriverChoice::Uring => return Err(e),
            Err(_) => {}
        }
    }
    let mut rt = RuntimeBuilder::<LegacyDriver>::new()
        .enable_timer()
        .build()?;
    Ok(rt.block_on(make(DriverUsed::Epoll)))
}
