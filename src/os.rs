//! What blast asks of the operating system before a run: the cores it may pin workers to,
//! enough file descriptors for its connections, a Ctrl-C handler that stops a run without
//! losing its reports, and which kernel I/O interface workers use.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// File descriptors kept for everything but connections (stdio, ring, channels, reports).
pub const SPARE_FDS: u64 = 64;

/// Descriptors held back while load runs and given back before reports are written (one
/// report file is open at a time; the rest is margin for stdio and the temporary beside it).
pub const RESERVED_FDS: usize = 8;

/// Exit code after a second Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Which I/O driver workers run on.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DriverChoice {
    /// io_uring, falling back to epoll where the kernel or a sandbox refuses it.
    #[default]
    Auto,
    /// io_uring only.
    Uring,
    /// epoll only.
    Epoll,
}

/// The ids of the cores this process may run on (empty where affinity is unavailable).
pub fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

/// How many cores this process may run on, at least 1.
pub fn available_cores_count() -> usize {
    available_cores().len().max(1)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; a note when connections won't fit.
pub fn raise_fd_limit(connections: u64) -> Option<String> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).ok()?;
    let needed = connections + SPARE_FDS;
    (needed > limit).then(|| {
        format!(
            "--users {connections} needs about {needed} file descriptors but the limit is {limit}: \
             connections beyond it will fail (raise the hard limit: ulimit -Hn)"
        )
    })
}

/// First Ctrl-C: set `stop`, so the run ends and still reports. Second: exit at once.
pub fn install_ctrl_c(stop: Arc<AtomicBool>) -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(move || {
        if stop.swap(true, Ordering::SeqCst) {
            std::process::exit(EXIT_INTERRUPTED);
        }
    })
}

/// Descriptors held back during a run (see [`RESERVED_FDS`]): a run whose connections took
/// every other descriptor ("Too many open files") can still write its reports once this is
/// dropped.
pub struct FdReserve {
    _held: Vec<std::fs::File>,
}

impl FdReserve {
    /// Holds up to [`RESERVED_FDS`] descriptors (fewer if the limit is already that tight).
    pub fn hold() -> Self {
        FdReserve {
            _held: (0..RESERVED_FDS)
                .map_while(|_| std::fs::File::open("/dev/null").ok())
                .collect(),
        }
    }
}

/// A file-size limit (`ulimit -f`) makes a write fail with EFBIG instead of killing the
/// process with SIGXFSZ, so blast can keep the old report, name the failure and go on
/// writing the others.
pub fn report_file_size_errors() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
