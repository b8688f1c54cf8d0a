//! Reading a `--json` report back into `Results`, so a finished run can be rendered again
//! (`blast report run.json --html out.html`) or merged with other shards (`blast merge`).
//! Counts come back as written and histograms exactly; the per-second series is rebuilt by
//! replaying each second's saved histograms through the same code a live run uses.
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::json::FORMAT;
use crate::results::PlanInfo;
use crate::results::{Change, Clock, Results, Second};
use crate::stats::compact::{decode, DecodeError};
use crate::stats::cpu::Busy;
use crate::stats::{Compact, Merged, TaskStats};

/// Why a saved report could not be read.
#[derive(Debug)]
pub enum LoadError {
    Io(std::io::Error),
    Json(serde_json::Error),
    /// Not a blast result, or one of another layout.
    Format(String),
    Histogram(DecodeError),
    /// The parts disagree (a timeline with more tasks than the plan, say).
    Inconsistent(&'static str),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "{e}"),
            LoadError::Json(e) => write!(f, "not a blast JSON report: {e}"),
            LoadError::Format(found) => write!(
                f,
                "not a blast JSON report of format {FORMAT} (found {found:?}): \
                 write it again with this version's --json"
            ),
            LoadError::Histogram(e) => write!(f, "{e}"),
            LoadError::Inconsistent(what) => write!(f, "inconsistent report: {what}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<DecodeError> for LoadError {
    fn from(e: DecodeError) -> Self {
        LoadError::Histogram(e)
    }
}

/// The parts of the JSON report that the figures are rebuilt from; derived fields (rates,
/// percentile summaries) are ignored and computed again.
#[derive(Deserialize)]
struct Saved {
    plan: PlanInfo,
    started_unix_ms: u64,
    duration_s: f64,
    driver: String,
    interrupted: bool,
    worker_failures: Vec<String>,
    status_codes: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    bytes_received: u64,
    sent: u64,
    connections_opened: u64,
    /// Absent from reports of versions before stale keep-alive retries.
    #[serde(default)]
    retried_stale: u64,
    /// Absent from reports of versions before a running test could be edited.
    #[serde(default)]
    changes: Vec<Change>,
    lateness_histogram: String,
    /// Absent in reports written before connections were measured.
    connections: Option<super::connections::Saved>,
    /// Open model only; absent from reports made before it was counted.
    #[serde(default)]
    unsent_histogram: Option<String>,
    #[serde(default)]
    client_cpu: Vec<SavedBusy>,
    tasks: Vec<SavedTask>,
    timeline: Vec<SavedSecond>,
}

#[derive(Deserialize)]
struct SavedTask {
    #[serde(flatten)]
    figures: Compact,
    failure_messages: BTreeMap<String, u64>,
    #[serde(default)]
    service_histogram: Option<String>,
    #[serde(default)]
    batches: Vec<SavedBatch>,
}

/// One batch-size bucket of a task (its percentiles follow from the histogram).
#[derive(Deserialize)]
struct SavedBatch {
    rows_min: u32,
    rows_max: u32,
    responses: u64,
    histogram: String,
}

#[derive(Deserialize)]
struct SavedBusy {
    cpu_s: f64,
    #[serde(default)]
    queued_s: f64,
    wall_s: f64,
}

#[derive(Deserialize)]
struct SavedSecond {
    #[serde(flatten)]
    clock: Clock,
    tasks: Vec<Compact>,
    #[serde(default)]
    client_cpu: Vec<f64>,
    #[serde(default)]
    backlog: Option<u64>,
}

/// Reads the report at `path`.
pub fn read(path: &Path) -> Result<Results, LoadError> {
    let text = std::fs::read_to_string(path).map_err(LoadError::Io)?;
    parse(&text)
}

/// Reads a report from its text.
pub fn parse(text: &str) -> Result<Results, LoadError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(LoadError::Json)?;
    let found = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if found != FORMAT {
        return Err(LoadError::Format(found.to_owned()));
    }
    let saved: Saved = serde_json::from_value(value).map_err(LoadError::Json)?;
    results(saved)
}

fn results(s: Saved) -> Result<Results, LoadError> {
    let tasks = s.plan.tasks.len().max(1);
    if s.tasks.len() != tasks {
        return Err(LoadError::Inconsistent(
            "task rows differ from the plan's tasks",
        ));
    }
    let timeline = replay(&s.timeline, tasks)?;
    let elapsed = Duration::try_from_secs_f64(s.duration_s)
        .map_err(|_| LoadError::Inconsistent("duration_s is not a duration"))?;
    Ok(Results {
        totals: totals(&s)?,
        elapsed,
        started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(s.started_unix_ms),
        driver: s.driver,
        worker_failures: s.worker_failures,
        timeline,
        interrupted: s.interrupted,
        changes: s.changes,
        plan: s.plan,
    })
}

fn totals(s: &Saved) -> Result<Merged, LoadError> {
    let mut m = Merged::new(s.tasks.len());
    for (slot, t) in m.tasks.iter_mut().zip(&s.tasks) {
        *slot = t.figures.stats()?;
        if let Some(h) = &t.service_histogram {
            slot.service = decode(h)?;
        }
        for b in &t.batches {
            slot.batches.add(
                (b.rows_min, b.rows_max),
                b.responses,
                &decode(&b.histogram)?,
            );
        }
        slot.failure_messages = t
            .failure_messages
            .iter()
            .map(|(msg, n)| (msg.clone(), *n))
            .collect();
    }
    for (code, n) in &s.status_codes {
        let code = code
            .parse()
            .map_err(|_| LoadError::Inconsistent("a status code is not a number"))?;
        m.status.insert(code, *n);
    }
    m.errors = s.errors.clone();
    m.lateness = decode(&s.lateness_histogram)?;
    if let Some(h) = &s.unsent_histogram {
        m.unsent = decode(h)?;
    }
    m.busy = s
        .client_cpu
        .iter()
        .map(|b| Busy {
            cpu_us: (b.cpu_s * 1e6).round() as u64,
            queued_us: (b.queued_s * 1e6).round() as u64,
            wall_us: (b.wall_s * 1e6).round() as u64,
        })
        .collect();
    m.sent = s.sent;
    m.connects = s.connections_opened;
    m.retried_stale = s.retried_stale;
    m.bytes_in = s.bytes_received;
    if let Some(c) = &s.connections {
        m.conns = c.stats().ok_or(LoadError::Inconsistent(
            "a connection histogram does not decode",
        ))?;
    }
    Ok(m)
}

/// Rebuilds the per-second series, running totals included, from each second's figures.
fn replay(seconds: &[SavedSecond], tasks: usize) -> Result<Vec<Second>, LoadError> {
    let mut running: Vec<TaskStats> = (0..tasks).map(|_| TaskStats::new()).collect();
    let mut timeline = Vec::with_capacity(seconds.len());
    for s in seconds {
        if s.tasks.len() != tasks {
            return Err(LoadError::Inconsistent(
                "a second's tasks differ from the plan's",
            ));
        }
        let interval = s
            .tasks
            .iter()
            .map(Compact::stats)
            .collect::<Result<Vec<_>, _>>()?;
        for (total, i) in running.iter_mut().zip(&interval) {
            total.merge(i);
        }
        let mut second = Second::new(s.clock, &interval, &running);
        second.client.cpu = s.client_cpu.clone();
        second.client.backlog = s.backlog;
        timeline.push(second);
    }
    Ok(timeline)
}
