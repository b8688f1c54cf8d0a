//! `--history FILE`: one row per run appended to a CSV that grows across runs, so a team sees
//! how a model API's throughput and latency move from build to build; `blast report FILE
//! --markdown` prints the latest runs as a table for a README or a pull request.
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use super::csv::{text_cell, utc_iso, FORMULA_STARTS};
use crate::load::Load;
use crate::results::Results;
use crate::units::per_second;

/// The columns, in order; an existing file with other columns is refused, not mixed.
pub const HEADER: [&str; 13] = [
    "timestamp",
    "run_id",
    "label",
    "target",
    "scenario",
    "users",
    "rate",
    "requests",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "failure_pct",
];
/// Runs `--markdown` lists unless told otherwise.
pub const DEFAULT_LAST: usize = 10;

/// The row for one run. Latency cells are empty when nothing was answered.
pub fn row(r: &Results, label: Option<&str>) -> Vec<String> {
    let all = r.totals.aggregate();
    let secs = r.elapsed.as_secs_f64();
    let q = |p: f64| {
        if all.latency.is_empty() {
            String::new()
        } else {
            format!("{:.3}", all.latency.value_at_quantile(p) as f64 / 1000.0)
        }
    };
    let rate = match r.plan.load {
        Load::Open { rate, .. } => rate.to_string(),
        Load::Closed { .. } => String::new(),
    };
    let failure_pct = if all.requests() > 0 {
        format!("{:.3}", 100.0 * all.failures as f64 / all.requests() as f64)
    } else {
        String::new()
    };
    vec![
        utc_iso(r.started_at),
        run_id(r),
        text_cell(label.unwrap_or_default()).into_owned(),
        text_cell(&r.plan.url).into_owned(),
        text_cell(r.plan.scenario.as_deref().unwrap_or_default()).into_owned(),
        r.plan.load.connections().to_string(),
        rate,
        all.requests().to_string(),
        format!("{:.1}", per_second(all.requests(), secs)),
        q(0.5),
        q(0.95),
        q(0.99),
        failure_pct,
    ]
}

/// A run's id: its start in milliseconds, so a run appended again from its saved JSON keeps
/// the id it had.
fn run_id(r: &Results) -> String {
    let ms = r
        .started_at
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("r{ms}")
}

/// Appends `r` to the history at `path`, writing the header first into a new or empty file.
/// The file is rewritten whole (`report::file`): an interrupted append leaves the history as
/// it was, never a torn last row.
pub fn append(r: &Results, path: &Path, label: Option<&str>) -> io::Result<()> {
    let mut bytes = existing(path)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    if bytes.is_empty() {
        w.write_record(HEADER)?;
    }
    w.write_record(row(r, label))?;
    bytes.extend(super::csv::into_bytes(w)?);
    super::file::write_atomically(path, &bytes)
}

/// The history's bytes so far (none for a new file), refused unless it is a blast history.
pub fn existing(path: &Path) -> io::Result<Vec<u8>> {
    let bytes = match std::fs::read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other?,
    };
    if !bytes.is_empty() {
        check_header(path, &bytes)?;
    }
    Ok(bytes)
}

fn check_header(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut rd = csv::Reader::from_reader(bytes);
    let found = rd.headers()?;
    if found.iter().eq(HEADER) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a blast history file (its columns are {:?})",
                path.display(),
                found.iter().collect::<Vec<_>>()
            ),
        ))
    }
}

/// A cell as it was before `text_cell` guarded it: Markdown runs no formulas.
fn as_text(cell: &str) -> &str {
    match cell.as_bytes() {
        [b'\'', b, ..] if FORMULA_STARTS.contains(b) => &cell[1..],
        _ => cell,
    }
}

/// The last `last` runs in `path` as a Markdown table, newest first.
pub fn markdown(path: &Path, last: usize) -> io::Result<String> {
    let bytes = std::fs::read(path)?;
    check_header(path, &bytes)?;
    let mut rows = Vec::new();
    for rec in csv::Reader::from_reader(&bytes[..]).records() {
        rows.push(rec?);
    }
    let mut out = String::from(
        "| when (UTC) | label | target | scenario | users | rate | req/s | p50 ms | p95 ms | p99 ms | failures % |\n\
         |---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for rec in rows.iter().rev().take(last) {
        let cell = |i: usize| as_text(rec.get(i).unwrap_or("")).replace('|', "\\|");
        let shown = [0, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12].map(|i| match cell(i) {
            c if c.is_empty() => "-".to_owned(),
            c => c,
        });
        let _ = writeln!(out, "| {} |", shown.join(" | "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_shows_guarded_cells_as_they_were_typed() {
        for (cell, shown) in [
            ("'=1+1", "=1+1"),
            ("'@x", "@x"),
            ("'plain", "'plain"),
            ("", ""),
        ] {
            assert_eq!(as_text(cell), shown, "{cell:?}");
        }
    }
}
