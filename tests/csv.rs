//! `--csv PREFIX` against real Locust 2.47 output: headers byte for byte, each cell's kind as
//! Locust writes it, row order, and numbers that are those recorded. A `Results` is built by
//! hand from `Recorder` snapshots, so no socket or worker is involved.
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

mod support;

use blast::plan::{Plan, PlanInput};
use blast::report::csv::{self as report, with_suffix};
use blast::results::TaskInfo;
use blast::results::{Clock, Results, Second};
use blast::stats::{Merged, Recorder, REPORT_PERCENTILES};
use support::Scratch;

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/locust-2.47/ref"
);
const SUFFIXES: [&str; 4] = [
    report::STATS_SUFFIX,
    report::HISTORY_SUFFIX,
    report::FAILURES_SUFFIX,
    report::EXCEPTIONS_SUFFIX,
];

/// Plan order, deliberately not Locust's (name, method) order, with two tasks sharing
/// `POST /predict` (Locust's locustfile has two such tasks too) and one that never runs.
const TASKS: [(&str, &str); 5] = [
    ("POST", "/predict"),
    ("GET", "/health"),
    ("POST", "/predict"),
    ("GET", "/missing"),
    ("GET", "/predict"),
];
/// The rows Locust would write, in its order: (Type, Name, plan tasks in the row).
const ROWS: [(&str, &str, &[usize]); 5] = [
    ("GET", "/health", &[1]),
    ("GET", "/missing", &[3]),
    ("GET", "/predict", &[4]),
    ("POST", "/predict", &[0, 2]),
    ("", "Aggregated", &[0, 1, 2, 3, 4]),
];

const MISS: &str = "Expected status 400, got 200";
const START_UNIX_S: u64 = 1_795_605_847;
const ELAPSED: Duration = Duration::from_millis(2_500);

#[derive(Clone, Copy)]
enum Sample {
    /// A response: latency in µs, body bytes.
    Ok(u64, u64),
    /// A response that missed its expectation.
    Miss(u64, u64),
    /// No response.
    Timeout,
}
use Sample::{Miss, Ok as Hit, Timeout};

/// One second of the made-up run: (users, interval length in s, (task, sample)s).
type Tick = (u64, f64, Vec<(usize, Sample)>);

/// Per second: (users, interval length, what each task got). All latencies stay below
/// 2048 µs, where HdrHistogram keeps every microsecond, so the expected figures are exact.
fn seconds() -> Vec<Tick> {
    vec![
        (0, 1.0, vec![]),
        (
            20,
            1.0,
            vec![
                (1, Hit(100, 2)),
                (1, Hit(500, 2)),
                (1, Hit(1_000, 2)),
                (0, Hit(1_500, 29)),
                (0, Miss(1_500, 29)),
                (3, Hit(470, 5)),
            ],
        ),
        (
            20,
            0.5,
            vec![
                (1, Hit(1_500, 2)),
                (1, Hit(2_000, 2)),
                (1, Hit(2_047, 2)),
                (2, Hit(900, 29)),
                (2, Timeout),
                (0, Miss(1_999, 29)),
                (3, Hit(480, 5)),
            ],
        ),
    ]
}

fn results() -> Results {
    let mut plan = Plan::build(
        PlanInput {
            url: Some("http://127.0.0.1:9/x".into()),
            ..Default::default()
        },
        &[0],
    )
    .expect("a plain plan builds");
    plan.tasks = TASKS
        .iter()
        .map(|(m, n)| TaskInfo {
            method: (*m).to_owned(),
            name: (*n).to_owned(),
        })
        .collect();
    let mut rec = Recorder::new(TASKS.len());
    let mut totals = Merged::new(TASKS.len());
    let mut timeline = Vec::new();
    let all = seconds();
    for (i, (users, interval_s, samples)) in all.iter().enumerate() {
        for &(task, s) in samples {
            match s {
                Hit(us, body) => rec.response(task, 200, Duration::from_micros(us), body),
                Miss(us, body) => {
                    rec.response(task, 200, Duration::from_micros(us), body);
                    rec.failure(task, &MISS);
                }
                Timeout => rec.request_error(task, "timeout"),
            }
        }
        let snap = rec.take_snapshot(0, *users, i + 1 == all.len());
        let mut interval = Merged::new(TASKS.len());
        interval.add(&snap);
        totals.add(&snap);
        let clock = Clock {
            elapsed_s: (i + 1) as f64,
            interval_s: *interval_s,
            unix_s: START_UNIX_S + 1 + i as u64,
            users: *users,
            errors: interval.errors_total(),
        };
        timeline.push(Second::new(clock, &interval.tasks, &totals.tasks));
    }
    Results {
        plan: plan.info(),
        totals,
        elapsed: ELAPSED,
        started_at: UNIX_EPOCH + Duration::from_secs(START_UNIX_S),
        driver: "none".to_owned(),
        worker_failures: Vec::new(),
        timeline,
        interrupted: false,
        changes: Vec::new(),
    }
}

/// Writes the files and returns their prefix.
fn written(scratch: &Scratch, full_history: bool) -> PathBuf {
    let prefix = scratch.0.join("run");
    report::write(&results(), &prefix, full_history).expect("writing the CSV files");
    prefix
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_owned).collect())
        .collect()
}

fn reference(suffix: &str) -> String {
    read(&with_suffix(Path::new(REFERENCE), suffix))
}

/// What a cell may hold, as Locust writes that column.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Text,
    Int,
    /// Python's repr of a float: always a `.` or an exponent.
    Float,
    /// A float, or the integer 0 Locust writes before anything was recorded.
    FloatOrZero,
    /// An integer (below 100 ms) or a float (from 100 ms, or clamped to min or max).
    IntOrFloat,
    /// `%2f`: six decimals.
    Fixed6,
    /// A percentile: an integer, or `N/A` for a row with no requests yet.
    IntOrNa,
    /// `%Y-%m-%dT%H:%M:%SZ`.
    Time,
}

fn kind_of(column: &str) -> Kind {
    match column {
        "Type" | "Name" | "Method" | "Error" | "Message" | "Traceback" | "Nodes" => Kind::Text,
        "Request Count"
        | "Failure Count"
        | "Timestamp"
        | "User Count"
        | "Total Request Count"
        | "Total Failure Count"
        | "Occurrences"
        | "Count" => Kind::Int,
        "Average Response Time" | "Total Average Response Time" => Kind::Float,
        "Min Response Time"
        | "Max Response Time"
        | "Average Content Size"
        | "Total Min Response Time"
        | "Total Max Response Time"
        | "Total Average Content Size" => Kind::FloatOrZero,
        "Median Response Time" | "Total Median Response Time" => Kind::IntOrFloat,
        "Requests/s" | "Failures/s" => Kind::Float,
        "First Seen" | "Last Seen" => Kind::Time,
        c if c.ends_with('%') => Kind::IntOrNa,
        c => panic!("no kind for column {c:?}"),
    }
}

fn is_int(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

fn is_float(s: &str) -> bool {
    (s.contains('.') || s.contains('e')) && s.parse::<f64>().is_ok_and(f64::is_finite)
}

fn is_fixed6(s: &str) -> bool {
    s.split_once('.')
        .is_some_and(|(i, f)| is_int(i) && f.len() == 6 && f.bytes().all(|b| b.is_ascii_digit()))
}

fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digit = |i: &usize| b[*i].is_ascii_digit();
    b.len() == 20
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(digit)
        && (b[4], b[7], b[10], b[13], b[16], b[19]) == (b'-', b'-', b'T', b':', b':', b'Z')
}

fn fits(kind: Kind, cell: &str) -> bool {
    match kind {
        Kind::Text => true,
        Kind::Int => is_int(cell),
        Kind::Float => is_float(cell),
        Kind::FloatOrZero => is_float(cell) || cell == "0",
        Kind::IntOrFloat => is_int(cell) || is_float(cell),
        Kind::Fixed6 => is_fixed6(cell),
        Kind::IntOrNa => is_int(cell) || cell == "N/A",
        Kind::Time => is_time(cell),
    }
}

/// Every cell of `text` fits its column's kind; `history` switches the rate columns to `%2f`.
fn check_kinds(file: &str, text: &str, history: bool) {
    let rows = records(text);
    let head = &rows[0];
    for (r, row) in rows.iter().enumerate().skip(1) {
        assert_eq!(row.len(), head.len(), "{file} row {r}: {row:?}");
        for (column, cell) in head.iter().zip(row) {
            let mut kind = kind_of(column);
            if history && (column == "Requests/s" || column == "Failures/s") {
                kind = Kind::Fixed6;
            }
            assert!(
                fits(kind, cell),
                "{file} row {r} {column}: {cell:?} is not {kind:?}"
            );
        }
    }
}

/// Locust's stored response-time key for `us`, computed from float milliseconds the way
/// Python's `round` does (half to even).
fn locust_key_ms(us: u64) -> u64 {
    let ms = us as f64 / 1000.0;
    let step = match ms {
        m if m < 100.0 => 1.0,
        m if m < 1000.0 => 10.0,
        m if m < 10_000.0 => 100.0,
        _ => 1000.0,
    };
    ((ms / step).round_ties_even() * step) as u64
}

/// Locust's `calculate_response_time_percentile` over raw samples.
fn locust_percentile(samples: &[u64], q: f64) -> u64 {
    let mut keys: Vec<u64> = samples.iter().map(|&us| locust_key_ms(us)).collect();
    keys.sort_unstable();
    let wanted = (keys.len() as f64 * q) as usize;
    let below = wanted.min(keys.len() - 1);
    keys[below]
}

/// Every response latency recorded for the given plan tasks.
fn latencies(tasks: &[usize]) -> Vec<u64> {
    let mut out = Vec::new();
    for (_, _, samples) in seconds() {
        for (task, s) in samples {
            if let (true, Hit(us, _) | Miss(us, _)) = (tasks.contains(&task), s) {
                out.push(us);
            }
        }
    }
    out
}

fn counts(tasks: &[usize]) -> (u64, u64) {
    let (mut requests, mut failures) = (0, 0);
    for (_, _, samples) in seconds() {
        for (task, s) in samples {
            if tasks.contains(&task) {
                requests += 1;
                failures += u64::from(!matches!(s, Hit(..)));
            }
        }
    }
    (requests, failures)
}

fn num(cell: &str) -> f64 {
    cell.parse()
        .unwrap_or_else(|_| panic!("{cell:?} is not a number"))
}

#[test]
fn headers_match_locust_byte_for_byte() {
    let scratch = Scratch::new("headers");
    let prefix = written(&scratch, true);
    for suffix in SUFFIXES {
        let ours = read(&with_suffix(&prefix, suffix));
        let theirs = reference(suffix);
        let head = |s: &str| s.split_inclusive("\r\n").next().unwrap_or("").to_owned();
        assert_eq!(head(&ours), head(&theirs), "{suffix}");
        assert!(
            ours.ends_with("\r\n"),
            "{suffix}: CRLF line ends, as Python's csv"
        );
        assert_eq!(
            ours.matches('\n').count(),
            ours.matches("\r\n").count(),
            "{suffix}: no bare LF"
        );
    }
}

#[test]
fn every_cell_is_of_the_kind_locust_writes() {
    // The kinds table must hold for Locust's own files first, or it proves nothing.
    for (suffix, history) in [
        (report::STATS_SUFFIX, false),
        (report::HISTORY_SUFFIX, true),
        (report::FAILURES_SUFFIX, false),
        (report::EXCEPTIONS_SUFFIX, false),
    ] {
        check_kinds(&format!("ref{suffix}"), &reference(suffix), history);
        for full in [false, true] {
            let scratch = Scratch::new(&format!("kinds-{full}"));
            let prefix = written(&scratch, full);
            let ours = read(&with_suffix(&prefix, suffix));
            check_kinds(&format!("ours{suffix} full={full}"), &ours, history);
        }
    }
}

#[test]
fn stats_rows_are_sorted_by_name_then_method_and_end_with_aggregated() {
    let scratch = Scratch::new("order");
    let prefix = written(&scratch, false);
    let rows = records(&read(&with_suffix(&prefix, report::STATS_SUFFIX)));
    let names: Vec<(&str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    let want: Vec<(&str, &str)> = ROWS.iter().map(|(m, n, _)| (*m, *n)).collect();
    assert_eq!(names, want);
}

#[test]
fn stats_numbers_are_those_recorded() {
    let scratch = Scratch::new("numbers");
    let prefix = written(&scratch, false);
    let rows = records(&read(&with_suffix(&prefix, report::STATS_SUFFIX)));
    let secs = ELAPSED.as_secs_f64();
    for (row, (_, name, tasks)) in rows[1..].iter().zip(ROWS) {
        let (requests, failures) = counts(tasks);
        let lat = latencies(tasks);
        assert_eq!(row[2], requests.to_string(), "{name} requests");
        assert_eq!(row[3], failures.to_string(), "{name} failures");
        assert_eq!(num(&row[9]), requests as f64 / secs, "{name} rps");
        assert_eq!(num(&row[10]), failures as f64 / secs, "{name} failures/s");
        if lat.is_empty() {
            assert_eq!(
                &row[4..9],
                ["0", "0.0", "0", "0", "0"],
                "{name}: nothing yet"
            );
            assert!(row[11..].iter().all(|c| c == "N/A"), "{name}: {row:?}");
            continue;
        }
        let (lo, hi) = (lat.iter().min().unwrap(), lat.iter().max().unwrap());
        let mean = lat.iter().sum::<u64>() as f64 / lat.len() as f64;
        assert!((num(&row[5]) - mean / 1000.0).abs() < 1e-12, "{name} mean");
        assert_eq!(num(&row[6]), *lo as f64 / 1000.0, "{name} min");
        assert_eq!(num(&row[7]), *hi as f64 / 1000.0, "{name} max");
        let want: Vec<String> = REPORT_PERCENTILES
            .iter()
            .map(|&q| locust_percentile(&lat, q).to_string())
            .collect();
        assert_eq!(row[11..], want[..], "{name} percentiles");
    }
}

#[test]
fn stats_rows_match_hand_computed_locust_figures() {
    let scratch = Scratch::new("literal");
    let prefix = written(&scratch, false);
    let text = read(&with_suffix(&prefix, report::STATS_SUFFIX));
    let lines: Vec<&str> = text.split("\r\n").collect();
    // /health: 100..2047 µs → keys 0,0,1,2,2,2 (1.5 and 2.047 round to 2); median at
    // position 2.5 is key 1; 6 requests in 2.5 s.
    assert_eq!(
        lines[1],
        "GET,/health,6,0,1,1.1911666666666667,0.1,2.047,2.0,2.4,0.0,2,2,2,2,2,2,2,2,2,2,2"
    );
    // /missing: both samples round to key 0, below the 0.47 ms minimum: Locust prints the min.
    assert_eq!(
        lines[2],
        "GET,/missing,2,0,0.47,0.475,0.47,0.48,5.0,0.8,0.0,0,0,0,0,0,0,0,0,0,0,0"
    );
    assert_eq!(
        lines[3],
        "GET,/predict,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A"
    );
}

#[test]
fn history_has_one_aggregated_row_per_second() {
    let scratch = Scratch::new("history");
    let prefix = written(&scratch, false);
    let rows = records(&read(&with_suffix(&prefix, report::HISTORY_SUFFIX)));
    let r = results();
    assert_eq!(rows.len(), 1 + r.timeline.len());
    for (row, s) in rows[1..].iter().zip(&r.timeline) {
        assert_eq!(row[0], s.unix_s.to_string());
        assert_eq!(row[1], s.users.to_string());
        assert_eq!((row[2].as_str(), row[3].as_str()), ("", "Aggregated"));
        assert_eq!(
            row[4],
            format!("{:.6}", s.total.requests as f64 / s.interval_s)
        );
        assert_eq!(row[17], s.total.total_requests.to_string());
        assert_eq!(row[18], s.total.total_failures.to_string());
    }
    // Before any request Locust writes exactly this tail (its reference file's first row).
    let reference = records(&reference(report::HISTORY_SUFFIX));
    assert_eq!(rows[1][4..], reference[1][4..]);
    // The last row's running totals are the run's.
    let stats = records(&read(&with_suffix(&prefix, report::STATS_SUFFIX)));
    let (last, agg) = (&rows[rows.len() - 1], &stats[stats.len() - 1]);
    assert_eq!(last[17..], agg[2..9]);
}

#[test]
fn full_history_puts_each_rows_line_before_the_aggregated_one() {
    let scratch = Scratch::new("full");
    let prefix = written(&scratch, true);
    let rows = records(&read(&with_suffix(&prefix, report::HISTORY_SUFFIX)));
    let r = results();
    assert_eq!(rows.len(), 1 + r.timeline.len() * ROWS.len());
    for (chunk, s) in rows[1..].chunks(ROWS.len()).zip(&r.timeline) {
        for (row, (method, name, tasks)) in chunk.iter().zip(ROWS) {
            assert_eq!(row[0], s.unix_s.to_string());
            assert_eq!((row[2].as_str(), row[3].as_str()), (method, name));
            let point = |i: &usize| &s.tasks[*i];
            let total: u64 = tasks.iter().map(|i| point(i).total_requests).sum();
            let now: u64 = tasks.iter().map(|i| point(i).requests).sum();
            assert_eq!(row[17], total.to_string(), "{name} at {}", s.unix_s);
            assert_eq!(row[4], format!("{:.6}", now as f64 / s.interval_s));
            assert_eq!(total == 0, row[6] == "N/A", "{name}: N/A until a request");
        }
    }
    // The last second's running totals are the run's, rows of several tasks included.
    let stats = records(&read(&with_suffix(&prefix, report::STATS_SUFFIX)));
    let last = &rows[rows.len() - ROWS.len()..];
    for (h, s) in last.iter().zip(&stats[1..]) {
        assert_eq!(h[17..], s[2..9], "{}", s[1]);
    }
}

#[test]
fn failures_are_counted_per_row_and_message() {
    let scratch = Scratch::new("failures");
    let prefix = written(&scratch, false);
    let text = read(&with_suffix(&prefix, report::FAILURES_SUFFIX));
    let lines: Vec<&str> = text.split_inclusive("\r\n").collect();
    assert_eq!(
        lines[1..],
        [
            "POST,/predict,\"Expected status 400, got 200\",2,2026-11-25T11:24:07Z,2026-11-25T11:24:09Z\r\n",
            "POST,/predict,timeout,1,2026-11-25T11:24:07Z,2026-11-25T11:24:09Z\r\n",
        ]
    );
    let exceptions = read(&with_suffix(&prefix, report::EXCEPTIONS_SUFFIX));
    assert_eq!(exceptions, "Count,Message,Traceback,Nodes\r\n");
}

#[test]
fn an_unwritable_prefix_is_an_error_not_a_panic() {
    let scratch = Scratch::new("unwritable");
    let prefix = scratch.0.join("no-such-dir").join("run");
    assert!(report::write(&results(), &prefix, false).is_err());
}
