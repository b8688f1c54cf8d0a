//! The live view: one line per second on stderr while a run is going. On a terminal the
//! line is redrawn in place; otherwise (a pipe, a CI log) each second gets its own line.
use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::coordinator::Second;

pub struct Live {
    quiet: bool,
    tty: bool,
    drawn: bool,
}

impl Live {
    pub fn new(quiet: bool) -> Self {
        Live {
            quiet,
            tty: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    pub fn show(&mut self, s: &Second, duration: Option<Duration>) {
        if self.quiet {
            return;
        }
        let line = format_line(s, duration);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        self.drawn = true;
    }

    /// Ends the redrawn line so the report starts on a fresh one.
    pub fn finish(&mut self) {
        if self.tty && self.drawn && !self.quiet {
            eprintln!();
        }
    }
}

/// `[   3s/10s]    45210 req/s  p50 0.52ms  p99 1.90ms  failures 0  errors 0  users 50`:
/// the interval's rate, the latency percentiles so far, and running failure/error counts.
pub fn format_line(s: &Second, duration: Option<Duration>) -> String {
    let t = &s.total;
    let q = |us: Option<u64>| us.map_or_else(|| "-".to_owned(), ms);
    let of = duration.map_or(String::new(), |d| format!("/{}s", d.as_secs()));
    format!(
        "[{:>4.0}s{of}] {:>8.0} req/s  p50 {}  p99 {}  failures {}  errors {}  users {}",
        s.elapsed_s,
        s.rps(),
        q(t.total_median_us),
        q(t.total_p99_us),
        t.total_failures,
        s.errors,
        s.users
    )
}

/// Microseconds as milliseconds with two decimals: "1.25ms".
pub fn ms(us: u64) -> String {
    format!("{:.2}ms", us as f64 / 1000.0)
}
