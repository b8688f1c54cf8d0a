//! `--csv PREFIX`: the four files Locust 2.47 writes with `--csv`, with its exact headers,
//! row order, `Aggregated` row, `N/A` cells and number formats, so that scripts and
//! spreadsheets built around Locust's output read blast's unchanged.
//!
//! Locust's conventions, reproduced here:
//! - one row per (method, name), sorted by name then method, then the `Aggregated` row with
//!   an empty Type; tasks sharing a method and name are one row, as in Locust;
//! - times in milliseconds; floats as Python's `repr` prints them (`2.0`, `1.5e-05`);
//! - percentiles are taken over response times rounded the way Locust stores them
//!   (whole ms below 100 ms, then to 10 ms, 100 ms and 1 s), printed as integers;
//! - the median is such a rounded time, kept between the exact min and max;
//! - cells for "nothing yet" are `0`, `0.0` or `N/A` exactly where Locust prints those.
//!
//! Where blast's data differs from Locust's, the closest honest figure is written:
//! history rates and percentiles are those of each one-second interval (Locust uses a lagging
//! ten-second window, or running totals for percentiles without `--csv-full-history`), and
//! failure rows carry the run's start and end as First/Last Seen, since blast does not time
//! each message.
//!
//! Text a user or a server chose (task names, failure messages, `--history` labels) that a
//! spreadsheet would run as a formula is written with a leading `'` ([`text_cell`]).
use std::borrow::Cow;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use crate::results::TaskInfo;
use crate::results::{Results, Second};
use crate::stats::{new_histogram, Point, TaskStats, REPORT_PERCENTILES};
use crate::units::per_second;

pub const STATS_SUFFIX: &str = "_stats.csv";
pub const HISTORY_SUFFIX: &str = "_stats_history.csv";
pub const FAILURES_SUFFIX: &str = "_failures.csv";
pub const EXCEPTIONS_SUFFIX: &str = "_exceptions.csv";
/// Every file `--csv PREFIX` writes, by suffix.
pub const SUFFIXES: [&str; 4] = [
    STATS_SUFFIX,
    HISTORY_SUFFIX,
    FAILURES_SUFFIX,
    EXCEPTIONS_SUFFIX,
];

/// The name Locust gives the row of every request together.
pub const AGGREGATED: &str = "Aggregated";
/// What Locust writes for a percentile of a row with no requests yet.
pub const NOT_AVAILABLE: &str = "N/A";

/// First bytes that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
pub const FORMULA_STARTS: &[u8] = b"=+-@\t\r";

/// `text` as a CSV cell a spreadsheet shows as text: a leading `'` when it starts like a
/// formula, unchanged otherwise.
pub fn text_cell(text: &str) -> Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b) if FORMULA_STARTS.contains(b) => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// Percentile column names, in `REPORT_PERCENTILES` order.
const PERCENTILE_COLUMNS: [&str; REPORT_PERCENTILES.len()] = [
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
];

const STATS_HEAD: [&str; 11] = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
];

const HISTORY_HEAD: [&str; 6] = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
];

const HISTORY_TAIL: [&str; 7] = [
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
];

const FAILURES_HEAD: [&str; 6] = [
    "Method",
    "Name",
    "Error",
    "Occurrences",
    "First Seen",
    "Last Seen",
];

const EXCEPTIONS_HEAD: [&str; 4] = ["Count", "Message", "Traceback", "Nodes"];

/// Microseconds in a millisecond.
const US_PER_MS: u64 = 1_000;
/// Locust keeps response times below this many ms to the whole ms ...
const EXACT_BELOW_MS: u64 = 100;
/// ... below this to 10 ms, below ten times this to 100 ms, and above to 1 s.
const TENS_BELOW_MS: u64 = 1_000;
const HUNDREDS_BELOW_MS: u64 = 10_000;

/// Python's `repr` writes floats in positional notation for decimal exponents in this range.
const PY_POSITIONAL_EXPONENTS: std::ops::Range<i32> = -4..16;

const SECS_PER_DAY: u64 = 86_400;

/// Writes `PREFIX_stats.csv`, `PREFIX_stats_history.csv`, `PREFIX_failures.csv` and
/// `PREFIX_exceptions.csv`. The history has one `Aggregated` row per second of the run;
/// with `full_history`, each second's per-row lines come first, as Locust writes them.
pub fn write(r: &Results, prefix: &Path, full_history: bool) -> io::Result<()> {
    let rows = Rows::of(&r.plan.tasks);
    // Every file is tried; the first failure is returned after the others were written.
    let results = [
        write_file(&with_suffix(prefix, STATS_SUFFIX), |w| {
            write_stats(w, r, &rows)
        }),
        write_file(&with_suffix(prefix, HISTORY_SUFFIX), |w| {
            write_history(w, r, &rows, full_history)
        }),
        write_file(&with_suffix(prefix, FAILURES_SUFFIX), |w| {
            write_failures(w, r, &rows)
        }),
        write_file(&with_suffix(prefix, EXCEPTIONS_SUFFIX), |w| {
            w.write_record(EXCEPTIONS_HEAD)
        }),
    ];
    results.into_iter().collect()
}

/// `PREFIX` followed by `suffix`, as Locust names its files (no separator added).
pub fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(prefix.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

type CsvOut = csv::Writer<Vec<u8>>;

/// Python's csv module ends lines with CRLF; so do Locust's files. Rendered in memory and
/// written whole (`report::file`).
fn write_file(path: &Path, body: impl FnOnce(&mut CsvOut) -> csv::Result<()>) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    body(&mut w).map_err(io::Error::from)?;
    super::file::write_atomically(path, &into_bytes(w)?)
}

/// The bytes an in-memory CSV writer holds.
pub fn into_bytes(w: csv::Writer<Vec<u8>>) -> io::Result<Vec<u8>> {
    w.into_inner().map_err(|e| e.into_error())
}

/// Report rows: plan tasks grouped by (method, name), in Locust's (name, method) order.
struct Rows {
    groups: Vec<(TaskInfo, Vec<usize>)>,
}

impl Rows {
    fn of(tasks: &[TaskInfo]) -> Self {
        let mut groups: Vec<(TaskInfo, Vec<usize>)> = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            match groups.iter_mut().find(|(info, _)| info == t) {
                Some((_, members)) => members.push(i),
                None => groups.push((t.clone(), vec![i])),
            }
        }
        groups.sort_by(|(a, _), (b, _)| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
        Rows { groups }
    }

    /// A row's totals: its tasks merged.
    fn stats(&self, all: &[TaskStats]) -> Vec<TaskStats> {
        self.groups
            .iter()
            .map(|(_, members)| {
                let mut sum = TaskStats::new();
                for t in members.iter().filter_map(|&i| all.get(i)) {
                    sum.merge(t);
                }
                sum
            })
            .collect()
    }
}

fn write_stats(w: &mut CsvOut, r: &Results, rows: &Rows) -> csv::Result<()> {
    w.write_record(STATS_HEAD.iter().chain(&PERCENTILE_COLUMNS))?;
    let secs = r.elapsed.as_secs_f64();
    let merged = rows.stats(&r.totals.tasks);
    for ((info, _), t) in rows.groups.iter().zip(&merged) {
        w.write_record(stats_row(&info.method, &info.name, t, secs))?;
    }
    w.write_record(stats_row("", AGGREGATED, &r.totals.aggregate(), secs))
}

/// One `_stats.csv` line.
fn stats_row(method: &str, name: &str, t: &TaskStats, secs: f64) -> Vec<String> {
    let h = &t.latency;
    let requests = t.requests();
    let mut row = vec![
        method.to_owned(),
        text_cell(name).into_owned(),
        requests.to_string(),
        t.failures.to_string(),
        median_cell(h),
        py_float(if h.is_empty() { 0.0 } else { h.mean() / 1000.0 }),
        extreme_cell(h, h.min()),
        extreme_cell(h, h.max()),
        avg_content_cell(requests, t.body_bytes, t.responses),
        py_float(per_second(requests, secs)),
        py_float(per_second(t.failures, secs)),
    ];
    if requests == 0 {
        row.extend(PERCENTILE_COLUMNS.iter().map(|_| NOT_AVAILABLE.to_owned()));
    } else {
        let buckets = Buckets::of(h);
        row.extend(
            REPORT_PERCENTILES
                .iter()
                .map(|&q| (buckets.percentile(q) / US_PER_MS).to_string()),
        );
    }
    row
}

/// Min or max: Locust's integer `0` before any response, then the exact time in ms.
fn extreme_cell(h: &Histogram<u64>, us: u64) -> String {
    if h.is_empty() {
        "0".to_owned()
    } else {
        py_float(ms(us))
    }
}

/// Locust divides by its request count and prints the integer `0` while that is zero. Blast
/// divides by responses (only responses have a body), as its other reports and history do.
fn avg_content_cell(requests: u64, body_bytes: u64, responses: u64) -> String {
    if requests == 0 {
        "0".to_owned()
    } else if responses == 0 {
        py_float(0.0)
    } else {
        py_float(body_bytes as f64 / responses as f64)
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / US_PER_MS as f64
}

/// The median cell: Locust's rounded median held between min and max, `0` with no response.
fn median_cell(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "0".to_owned();
    }
    let b = Buckets::of(h);
    median_in_range(b.median(), h.min(), h.max())
}

/// Locust prints a median that fell outside [min, max] as that exact float, and otherwise
/// the rounded key: an integer below 100 ms, a float (`150.0`) from there on.
fn median_in_range(key: Bucket, min_us: u64, max_us: u64) -> String {
    let key_ms = ms(key.us);
    if key_ms > ms(max_us) {
        py_float(ms(max_us))
    } else if key_ms < ms(min_us) {
        py_float(ms(min_us))
    } else if key.float {
        py_float(key_ms)
    } else {
        (key.us / US_PER_MS).to_string()
    }
}

/// A response time as Locust stores it: rounded, in µs (a whole number of ms); `float` when
/// Python would hold it as a float (times of 100 ms and more are rounded with `round(x, -n)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bucket {
    us: u64,
    float: bool,
}

/// Rounds `us` to Locust's response-time key, half to even as Python's `round` does.
fn bucket(us: u64) -> Bucket {
    let step_ms = if us < EXACT_BELOW_MS * US_PER_MS {
        1
    } else if us < TENS_BELOW_MS * US_PER_MS {
        10
    } else if us < HUNDREDS_BELOW_MS * US_PER_MS {
        100
    } else {
        1_000
    };
    Bucket {
        us: round_half_even(us, step_ms * US_PER_MS),
        float: us >= EXACT_BELOW_MS * US_PER_MS,
    }
}

fn round_half_even(x: u64, step: u64) -> u64 {
    let (q, rem) = (x / step, x % step);
    let twice = rem.saturating_mul(2);
    let up = twice > step || (twice == step && q % 2 == 1);
    q.saturating_add(u64::from(up)).saturating_mul(step)
}

/// A histogram regrouped into Locust's keys, ascending, with counts.
struct Buckets {
    keys: Vec<(Bucket, u64)>,
    count: u64,
}

impl Buckets {
    fn of(h: &Histogram<u64>) -> Self {
        let mut keys: Vec<(Bucket, u64)> = Vec::new();
        for v in h.iter_recorded() {
            let b = bucket(h.median_equivalent(v.value_iterated_to()));
            match keys.last_mut() {
                Some((last, n)) if last.us == b.us => *n += v.count_at_value(),
                _ => keys.push((b, v.count_at_value())),
            }
        }
        Buckets {
            keys,
            count: h.len(),
        }
    }

    /// Locust's percentile: the largest key with at most `floor(count * q)` samples below it.
    fn percentile(&self, q: f64) -> u64 {
        let wanted = (self.count as f64 * q) as u64;
        let mut seen = 0u64;
        for (b, n) in self.keys.iter().rev() {
            seen += n;
            if self.count - seen <= wanted {
                return b.us;
            }
        }
        0
    }

    /// Locust's median: the key holding the sample at position `(count - 1) / 2`.
    fn median(&self) -> Bucket {
        let mut pos = (self.count as f64 - 1.0) / 2.0;
        let mut last = Bucket {
            us: 0,
            float: false,
        };
        for &(b, n) in &self.keys {
            if pos < n as f64 {
                return b;
            }
            pos -= n as f64;
            last = b;
        }
        last
    }
}

fn write_history(w: &mut CsvOut, r: &Results, rows: &Rows, full: bool) -> csv::Result<()> {
    w.write_record(
        HISTORY_HEAD
            .iter()
            .chain(&PERCENTILE_COLUMNS)
            .chain(&HISTORY_TAIL),
    )?;
    let normal = new_histogram();
    let finals = rows.stats(&r.totals.tasks);
    for (n, s) in r.timeline.iter().enumerate() {
        let last = n + 1 == r.timeline.len();
        if full {
            for ((info, members), total) in rows.groups.iter().zip(&finals) {
                let mut p = merge_points(members.iter().filter_map(|&i| s.tasks.get(i)));
                if last && members.len() > 1 {
                    // The run's totals are known exactly: the last line agrees with _stats.csv.
                    p = Point {
                        requests: p.requests,
                        failures: p.failures,
                        percentiles: p.percentiles,
                        ..Point::new(&TaskStats::new(), total)
                    };
                }
                w.write_record(history_row(s, &info.method, &info.name, &p, &normal))?;
            }
        }
        w.write_record(history_row(s, "", AGGREGATED, &s.total, &normal))?;
    }
    Ok(())
}

/// One `_stats_history.csv` line. `normal` only maps a value to its histogram bucket's middle,
/// as the `_stats.csv` percentiles do.
fn history_row(
    s: &Second,
    method: &str,
    name: &str,
    p: &Point,
    normal: &Histogram<u64>,
) -> Vec<String> {
    let mut row = vec![
        s.unix_s.to_string(),
        s.users.to_string(),
        method.to_owned(),
        text_cell(name).into_owned(),
        format!("{:.6}", per_second(p.requests, s.interval_s)),
        format!("{:.6}", per_second(p.failures, s.interval_s)),
    ];
    let percentile = |us: u64| (bucket(normal.median_equivalent(us)).us / US_PER_MS).to_string();
    match (p.total_requests, p.percentiles) {
        (0, _) => row.extend(PERCENTILE_COLUMNS.iter().map(|_| NOT_AVAILABLE.to_owned())),
        (_, Some(ps)) => row.extend(ps.iter().map(|&us| percentile(us))),
        (_, None) => row.extend(PERCENTILE_COLUMNS.iter().map(|_| "0".to_owned())),
    }
    let median = match (p.total_median_us, p.total_min_us, p.total_max_us) {
        (Some(m), Some(lo), Some(hi)) => {
            median_in_range(bucket(normal.median_equivalent(m)), lo, hi)
        }
        _ => "0".to_owned(),
    };
    let opt_ms = |v: Option<u64>| v.map_or_else(|| "0".to_owned(), |us| py_float(ms(us)));
    row.extend([
        p.total_requests.to_string(),
        p.total_failures.to_string(),
        median,
        py_float(p.total_mean_us.map_or(0.0, |us| us / 1000.0)),
        opt_ms(p.total_min_us),
        opt_ms(p.total_max_us),
        if p.total_requests == 0 {
            "0".to_owned()
        } else {
            py_float(p.total_avg_content)
        },
    ]);
    row
}

/// One point for tasks sharing a row. Counts, min and max combine exactly; a `Point` keeps no
/// histogram, so percentiles, median and means of several tasks are request-weighted means
/// of theirs (the 100% column is their max, exact). One task's point is used as it is.
fn merge_points<'a>(points: impl Iterator<Item = &'a Point>) -> Point {
    let points: Vec<&Point> = points.collect();
    if let [one] = points.as_slice() {
        return (*one).clone();
    }
    let sum = |f: fn(&Point) -> u64| points.iter().map(|p| f(p)).sum::<u64>();
    let weighted = |value: &dyn Fn(&Point) -> Option<f64>, weight: fn(&Point) -> u64| {
        let (mut total, mut weights) = (0.0, 0u64);
        for p in &points {
            if let Some(v) = value(p) {
                total += v * weight(p) as f64;
                weights += weight(p);
            }
        }
        (weights > 0).then(|| total / weights as f64)
    };
    let interval = |i: usize| {
        weighted(&|p: &Point| p.percentiles.map(|ps| ps[i] as f64), |p| {
            p.requests
        })
        .map(|v| v.round() as u64)
    };
    let last = REPORT_PERCENTILES.len() - 1;
    let percentiles = points.iter().any(|p| p.percentiles.is_some()).then(|| {
        let mut ps = [0u64; REPORT_PERCENTILES.len()];
        for (i, slot) in ps.iter_mut().enumerate() {
            *slot = interval(i).unwrap_or(0);
        }
        ps[last] = points
            .iter()
            .filter_map(|p| p.percentiles.map(|ps| ps[last]))
            .max()
            .unwrap_or(0);
        ps
    });
    let total = |f: fn(&Point) -> Option<u64>| {
        weighted(&|p: &Point| f(p).map(|v| v as f64), |p| p.total_requests)
            .map(|v| v.round() as u64)
    };
    Point {
        requests: sum(|p| p.requests),
        failures: sum(|p| p.failures),
        percentiles,
        total_requests: sum(|p| p.total_requests),
        total_failures: sum(|p| p.total_failures),
        total_median_us: total(|p| p.total_median_us),
        total_p99_us: total(|p| p.total_p99_us),
        total_mean_us: weighted(&|p: &Point| p.total_mean_us, |p| p.total_requests),
        total_min_us: points.iter().filter_map(|p| p.total_min_us).min(),
        total_max_us: points.iter().filter_map(|p| p.total_max_us).max(),
        total_avg_content: weighted(&|p: &Point| Some(p.total_avg_content), |p| p.total_requests)
            .unwrap_or(0.0),
    }
}

fn write_failures(w: &mut CsvOut, r: &Results, rows: &Rows) -> csv::Result<()> {
    w.write_record(FAILURES_HEAD)?;
    // Blast counts each message but does not time it: the run's start and end bound every one.
    let first = utc_iso(r.started_at);
    let last = utc_iso(r.started_at + r.elapsed);
    let merged = rows.stats(&r.totals.tasks);
    for ((info, _), t) in rows.groups.iter().zip(&merged) {
        for (message, n) in &t.failure_messages {
            w.write_record([
                info.method.as_str(),
                &text_cell(&info.name),
                &text_cell(message),
                &n.to_string(),
                &first,
                &last,
            ])?;
        }
    }
    Ok(())
}

/// `%Y-%m-%dT%H:%M:%SZ` in UTC, as Locust writes First/Last Seen.
pub fn utc_iso(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rest) = (secs / SECS_PER_DAY, secs % SECS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, counted in 400-year eras
/// (146,097 days each) of years starting on 1 March, so the leap day falls last.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    const DAYS_PER_ERA: u64 = 146_097;
    const MARCH_1_OF_YEAR_0_TO_EPOCH: u64 = 719_468;
    let z = days + MARCH_1_OF_YEAR_0_TO_EPOCH;
    let era = z / DAYS_PER_ERA;
    let doe = z % DAYS_PER_ERA;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A float as Python's `repr` writes it: the shortest digits that read back the same, with
/// `.0` on whole numbers and an exponent (`1e-05`, `1e+16`) outside 1e-4 ..< 1e16.
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if PY_POSITIONAL_EXPONENTS.contains(&exponent) {
        let s = x.to_string();
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13 item 12: a task named `=HYPERLINK(…)` was written as a live formula.
    #[test]
    fn cells_that_start_like_a_formula_get_a_leading_quote() {
        for (raw, want) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("/predict", "/predict"),
            ("predict-invalid", "predict-invalid"),
            ("", ""),
        ] {
            assert_eq!(text_cell(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn floats_print_as_python_repr() {
        let table: [(f64, &str); 12] = [
            (0.0, "0.0"),
            (2.0, "2.0"),
            (29.0, "29.0"),
            (1.0129173523213244, "1.0129173523213244"),
            (94.75899045003297, "94.75899045003297"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000015, "1.5e-05"),
            (1e16, "1e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (123456789.0, "123456789.0"),
        ];
        for (x, want) in table {
            assert_eq!(py_float(x), want, "{x:e}");
        }
    }

    #[test]
    fn buckets_round_half_to_even_like_python() {
        // (µs, key in µs, float key)
        let table: [(u64, u64, bool); 11] = [
            (1, 0, false),
            (499, 0, false),
            (500, 0, false),
            (501, 1_000, false),
            (1_500, 2_000, false),
            (2_500, 2_000, false),
            (99_600, 100_000, false),
            (125_000, 120_000, true),
            (147_300, 150_000, true),
            (3_432_000, 3_400_000, true),
            (58_760_000, 59_000_000, true),
        ];
        for (us, key, float) in table {
            assert_eq!(bucket(us), Bucket { us: key, float }, "{us} µs");
        }
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        let table: [(u64, &str); 4] = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_605_848, "2026-11-25T11:24:08Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
        ];
        for (s, want) in table {
            assert_eq!(utc_iso(UNIX_EPOCH + Duration::from_secs(s)), want);
        }
    }

    #[test]
    fn percentiles_follow_locusts_ranks() {
        let mut h = new_histogram();
        for us in [1_000, 2_000, 3_000, 4_000] {
            h.record(us).unwrap();
        }
        let b = Buckets::of(&h);
        // floor(4 * 0.5) = 2 samples below: the third value, where HdrHistogram says 2 ms.
        assert_eq!(b.percentile(0.5), 3_000);
        assert_eq!(b.percentile(0.66), 3_000);
        assert_eq!(b.percentile(0.75), 4_000);
        assert_eq!(b.percentile(1.0), 4_000);
        assert_eq!(b.median().us, 2_000);
    }

    #[test]
    fn median_outside_min_max_prints_the_exact_bound() {
        let key = Bucket {
            us: 0,
            float: false,
        };
        assert_eq!(median_in_range(key, 470, 480), "0.47");
        let key = Bucket {
            us: 150_000,
            float: true,
        };
        assert_eq!(median_in_range(key, 100_000, 200_000), "150.0");
        assert_eq!(median_in_range(key, 100_000, 147_300), "147.3");
        let key = Bucket {
            us: 1_000,
            float: false,
        };
        assert_eq!(median_in_range(key, 470, 12_000), "1");
    }
}
