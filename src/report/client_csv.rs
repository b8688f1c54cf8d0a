//! `PREFIX_schedule.csv` and `PREFIX_client_history.csv`: what Locust's CSV files have no
//! columns for, kept in files of their own so those stay exactly Locust's. The schedule
//! file is one row for the run: what the open-model schedule had due, what was sent and
//! what never was (and how long it had waited), how late sends left, and the service time
//! from the actual send. The client history is one row a second: each worker's CPU and
//! the requests due but not yet sent.
use std::path::Path;

use hdrhistogram::Histogram;

use super::csv::{py_float, with_suffix};
use crate::load::Load;
use crate::results::Results;
use crate::stats::late_count;

pub const SCHEDULE_SUFFIX: &str = "_schedule.csv";
pub const CLIENT_HISTORY_SUFFIX: &str = "_client_history.csv";
/// Both files, by suffix.
pub const SUFFIXES: [&str; 2] = [SCHEDULE_SUFFIX, CLIENT_HISTORY_SUFFIX];

const SCHEDULE_HEAD: [&str; 12] = [
    "model",
    "scheduled",
    "sent",
    "unsent",
    "unsent_wait_p50_ms",
    "unsent_wait_max_ms",
    "late_requests",
    "late_p50_ms",
    "late_p99_ms",
    "service_p50_ms",
    "service_p99_ms",
    "client_cpu_max",
];

/// Writes both files next to the Locust ones.
pub fn write(r: &Results, prefix: &Path) -> std::io::Result<()> {
    write_rows(&with_suffix(prefix, SCHEDULE_SUFFIX), schedule_rows(r))?;
    write_rows(&with_suffix(prefix, CLIENT_HISTORY_SUFFIX), history_rows(r))
}

fn write_rows(path: &Path, rows: Vec<Vec<String>>) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in rows {
        w.write_record(&row).map_err(std::io::Error::from)?;
    }
    super::file::write_atomically(path, &super::csv::into_bytes(w)?)
}

/// A percentile in ms, empty for no samples.
fn q_ms(h: &Histogram<u64>, q: f64) -> String {
    if h.is_empty() {
        String::new()
    } else {
        py_float(h.value_at_quantile(q) as f64 / 1000.0)
    }
}

fn schedule_rows(r: &Results) -> Vec<Vec<String>> {
    let t = &r.totals;
    let open = matches!(r.plan.load, Load::Open { .. });
    let service = t.aggregate().service;
    let blank_closed = |v: String| if open { v } else { String::new() };
    let row = vec![
        if open { "open" } else { "closed" }.to_owned(),
        blank_closed(t.scheduled().to_string()),
        t.sent.to_string(),
        blank_closed(t.unsent.len().to_string()),
        q_ms(&t.unsent, 0.5),
        q_ms(&t.unsent, 1.0),
        blank_closed(late_count(&t.lateness).to_string()),
        q_ms(&t.lateness, 0.5),
        q_ms(&t.lateness, 0.99),
        q_ms(&service, 0.5),
        q_ms(&service, 0.99),
        py_float(t.busiest()),
    ];
    vec![SCHEDULE_HEAD.iter().map(|s| s.to_string()).collect(), row]
}

fn history_rows(r: &Results) -> Vec<Vec<String>> {
    let workers = r.totals.busy.len();
    let mut head = vec![
        "Timestamp".to_owned(),
        "elapsed_s".to_owned(),
        "backlog".to_owned(),
    ];
    head.extend((0..workers).map(|w| format!("cpu_worker_{w}")));
    let mut rows = vec![head];
    for s in &r.timeline {
        let mut row = vec![
            s.unix_s.to_string(),
            py_float(s.elapsed_s),
            s.client.backlog.map_or(String::new(), |b| b.to_string()),
        ];
        row.extend(
            (0..workers).map(|w| s.client.cpu.get(w).map_or(String::new(), |c| py_float(*c))),
        );
        rows.push(row);
    }
    rows
}
