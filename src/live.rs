//! The live view while a run is going, on stderr. On a terminal a block is redrawn in place
//! each second: the run's line, then a row per task when the run has several (the table a
//! Locust user watches). Otherwise (a pipe, a CI log) each second gets one plain line.
use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::results::{Second, TaskInfo};
use crate::stats::Point;
use crate::units::ms;

/// Task rows shown at most; a scenario with more shows the first ones and a count.
pub const MAX_TASK_ROWS: usize = 12;

pub struct Live {
    quiet: bool,
    tty: bool,
    /// Lines of the block drawn last, to move back over.
    drawn: usize,
    tasks: Vec<TaskInfo>,
    /// Said on every line (`--insecure`).
    mark: Option<&'static str>,
}

/// What the live view says on every line of an `--insecure` run.
pub const INSECURE_MARK: &str = "  INSECURE: certificates not verified";

impl Live {
    pub fn new(quiet: bool, tasks: &[TaskInfo]) -> Self {
        Live {
            quiet,
            tty: std::io::stderr().is_terminal(),
            drawn: 0,
            tasks: tasks.to_vec(),
            mark: None,
        }
    }

    /// Adds `mark` to the end of the run's line each second.
    pub fn marked(mut self, mark: Option<&'static str>) -> Self {
        self.mark = mark;
        self
    }

    pub fn show(&mut self, s: &Second, duration: Option<Duration>) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        let mark = self.mark.unwrap_or_default();
        if !self.tty {
            let _ = writeln!(err, "{}{mark}", format_line(s, duration));
            return;
        }
        let mut block = format_block(s, duration, &self.tasks);
        block[0].push_str(mark);
        let mut out = String::new();
        if self.drawn > 1 {
            out.push_str(&format!("\x1b[{}A", self.drawn - 1));
        }
        for (i, line) in block.iter().enumerate() {
            let end = if i + 1 < block.len() { "\n" } else { "" };
            out.push_str(&format!("\r\x1b[2K{line}{end}"));
        }
        let _ = err.write_all(out.as_bytes());
        let _ = err.flush();
        self.drawn = block.len();
    }

    /// Says something once, on its own line below the live block.
    pub fn say(&mut self, msg: &str) {
        if self.quiet {
            return;
        }
        if self.tty && self.drawn > 0 {
            eprintln!();
        }
        eprintln!("{msg}");
        self.drawn = 0;
    }

    /// Ends the redrawn block so the report starts on a fresh line.
    pub fn finish(&mut self) {
        if self.tty && self.drawn > 0 && !self.quiet {
            eprintln!();
        }
    }
}

/// The run's line, then per-task rows when there are several tasks.
pub fn format_block(s: &Second, duration: Option<Duration>, tasks: &[TaskInfo]) -> Vec<String> {
    let mut block = vec![format_line(s, duration)];
    if tasks.len() > 1 {
        let rows = tasks.iter().zip(&s.tasks).take(MAX_TASK_ROWS);
        block.extend(rows.map(|(info, p)| format_task(info, p, s.interval_s)));
        if tasks.len() > MAX_TASK_ROWS {
            block.push(format!("  … {} more tasks", tasks.len() - MAX_TASK_ROWS));
        }
    }
    block
}

/// `[   3s/10s]    45210 req/s  p50 0.52ms  p99 1.90ms  failures 0  errors 0  users 50
/// service p50 0.50ms  cpu 41%`: the interval's rate, the latency percentiles so far (from
/// the intended send time), running failure/error counts, then the client's part: the
/// service time from the actual send, the busiest worker's CPU and, in the open model,
/// requests due but not yet sent.
pub fn format_line(s: &Second, duration: Option<Duration>) -> String {
    let t = &s.total;
    let of = duration.map_or(String::new(), |d| format!("/{}s", d.as_secs()));
    let mut line = format!(
        "[{:>4.0}s{of}] {:>8.0} req/s  p50 {}  p99 {}  failures {}  errors {}  users {}",
        s.elapsed_s,
        s.rps(),
        or_dash(t.total_median_us),
        or_dash(t.total_p99_us),
        t.total_failures,
        s.errors,
        s.users
    );
    let c = &s.client;
    if c.service_median_us.is_some() {
        line.push_str(&format!("  service p50 {}", or_dash(c.service_median_us)));
    }
    if !c.cpu.is_empty() {
        line.push_str(&format!("  cpu {:.0}%", c.busiest() * 100.0));
    }
    if let Some(b) = c.backlog.filter(|&b| b > 0) {
        line.push_str(&format!("  unsent {b}"));
    }
    line
}

/// `  POST   predict          1203 req/s  p50 0.52ms  p99 1.90ms  failures 0`.
fn format_task(info: &TaskInfo, p: &Point, interval_s: f64) -> String {
    let rps = if interval_s > 0.0 {
        p.requests as f64 / interval_s
    } else {
        0.0
    };
    format!(
        "  {:<6} {:<20} {:>8.0} req/s  p50 {}  p99 {}  failures {}",
        info.method,
        info.name,
        rps,
        or_dash(p.total_median_us),
        or_dash(p.total_p99_us),
        p.total_failures
    )
}

fn or_dash(us: Option<u64>) -> String {
    us.map_or_else(|| "-".to_owned(), ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Clock;
    use crate::stats::Recorder;

    fn second(tasks: usize) -> Second {
        let mut r = Recorder::new(tasks);
        for t in 0..tasks {
            for us in 1..=(t as u64 + 1) * 10 {
                r.response(t, 200, Duration::from_micros(us * 100), 0);
                r.service(t, Duration::from_micros(us * 90));
            }
        }
        r.failure(0, &"Expected status 400, got 200");
        let snap = r.take_snapshot(0, 5, false);
        let clock = Clock {
            elapsed_s: 3.0,
            interval_s: 0.5,
            unix_s: 0,
            users: 5,
            errors: 0,
        };
        Second::new(clock, &snap.tasks, &snap.tasks)
    }

    fn tasks(n: usize) -> Vec<TaskInfo> {
        (0..n)
            .map(|i| TaskInfo {
                method: "POST".into(),
                name: format!("task{i}"),
            })
            .collect()
    }

    #[test]
    fn the_line_shows_rate_percentiles_and_counts() {
        let line = format_line(&second(1), Some(Duration::from_secs(10)));
        assert!(line.starts_with("[   3s/10s]"), "{line}");
        assert!(
            line.contains("20 req/s"),
            "10 requests in half a second: {line}"
        );
        assert!(
            line.contains("failures 1") && line.contains("users 5"),
            "{line}"
        );
    }

    #[test]
    fn the_line_shows_the_clients_part() {
        let mut s = second(1);
        s.client.cpu = vec![0.2, 0.93];
        s.client.backlog = Some(42);
        let line = format_line(&s, None);
        assert!(line.contains("service p50 "), "{line}");
        assert!(line.contains("cpu 93%"), "the busiest worker: {line}");
        assert!(line.contains("unsent 42"), "{line}");
        s.client.backlog = Some(0);
        assert!(!format_line(&s, None).contains("unsent"));
    }

    #[test]
    fn several_tasks_get_a_row_each() {
        let block = format_block(&second(2), None, &tasks(2));
        assert_eq!(block.len(), 3, "{block:#?}");
        assert!(block[1].contains("task0") && block[1].contains("20 req/s"));
        assert!(block[2].contains("task1") && block[2].contains("40 req/s"));
        assert!(block[1].contains("failures 1") && block[2].contains("failures 0"));
        assert_eq!(format_block(&second(1), None, &tasks(1)).len(), 1);
    }

    #[test]
    fn many_tasks_are_cut_with_a_count() {
        let n = MAX_TASK_ROWS + 3;
        let block = format_block(&second(n), None, &tasks(n));
        assert_eq!(block.len(), 1 + MAX_TASK_ROWS + 1);
        assert!(block.last().unwrap().contains("3 more tasks"));
    }
}
