//! What keeps `blast serve` answering while clients misbehave: a deadline for each request
//! to arrive once it has begun (slowloris), a deadline for an idle keep-alive connection,
//! and a cap on open connections derived from the file-descriptor limit, so that a flood of
//! idle clients can neither exhaust descriptors nor lock out a fresh client. And, for soak
//! tests of clients, an optional age after which a connection is retired (nginx's
//! `keepalive_time`), so a client has to reconnect every so often.
use std::time::{Duration, Instant};

/// How long a request may take to arrive, from its first byte to its last.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may wait for the first byte of its next request. Longer than the
/// think time of any shipped scenario (at most 5 s), as long as common load balancers.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most connections open at once, over all server threads.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Descriptors kept for everything but connections: stdio, each thread's ring, listener
/// and timers, and a connection being evicted while its replacement is accepted.
pub const SPARE_FDS: u64 = 32;

/// The server's defences, set by `blast serve` flags.
#[derive(clap::Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most time a request may take to arrive once its first byte has (slowloris defence);
    /// the connection is closed when it runs out
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    pub header_timeout: Duration,
    /// Most time a keep-alive connection may wait for its next request before it is closed
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = positive_duration)]
    pub idle_timeout: Duration,
    /// Most connections open at once (lowered to fit the file-descriptor limit); at the cap a
    /// new connection closes the one that has waited longest for a request
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = at_least_one)]
    pub max_connections: usize,
    /// Retire a connection this old: its next response says `Connection: close` and the
    /// server closes it, so clients reconnect every so often (soak tests) [default: never]
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub max_connection_age: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connection_age: None,
        }
    }
}

impl Limits {
    /// Whether a connection opened at `opened` is old enough to retire at `now`.
    pub fn retires(&self, opened: Instant, now: Instant) -> bool {
        self.max_connection_age
            .is_some_and(|age| now.saturating_duration_since(opened) >= age)
    }

    /// Each of `threads` server threads' share of the connection cap, after the cap is
    /// lowered to what `fd_limit` descriptors allow; at least one.
    pub fn per_thread_cap(&self, threads: usize, fd_limit: u64) -> usize {
        let fit = usize::try_from(fd_limit.saturating_sub(SPARE_FDS)).unwrap_or(usize::MAX);
        let total = self.max_connections.min(fit);
        total.div_ceil(threads.max(1)).max(1)
    }
}

/// Raises the soft descriptor limit to the hard one and returns it.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(u64::MAX)
}

/// A count of one or more.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A humantime duration above zero: `500ms`, `10s`, `1m`.
fn positive_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("must be longer than 0".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (try 10s, 500ms)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_descriptor_limit_and_splits_over_threads() {
        let l = Limits::default();
        assert_eq!(l.per_thread_cap(2, 1 << 20), DEFAULT_MAX_CONNECTIONS / 2);
        assert_eq!(l.per_thread_cap(1, 64), 32);
        assert_eq!(l.per_thread_cap(3, 64), 11);
        assert_eq!(l.per_thread_cap(4, 10), 1, "never zero");
    }

    #[test]
    fn flag_defaults_are_the_named_constants() {
        use clap::Parser;
        #[derive(Parser)]
        struct Flags {
            #[command(flatten)]
            limits: Limits,
        }
        assert_eq!(Flags::parse_from(["serve"]).limits, Limits::default());
    }

    #[test]
    fn a_connection_retires_at_its_age_and_never_without_one() {
        let t0 = Instant::now();
        let aged = Limits {
            max_connection_age: Some(Duration::from_secs(5)),
            ..Limits::default()
        };
        assert!(!aged.retires(t0, t0 + Duration::from_secs(4)));
        assert!(aged.retires(t0, t0 + Duration::from_secs(5)));
        assert!(!Limits::default().retires(t0, t0 + Duration::from_secs(1 << 30)));
    }

    #[test]
    fn zero_and_nonsense_durations_are_refused() {
        assert!(positive_duration("0s").is_err());
        assert!(positive_duration("soon").is_err());
        assert_eq!(positive_duration("250ms"), Ok(Duration::from_millis(250)));
    }
}
