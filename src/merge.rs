//! `blast merge`: the results of shards that ran one plan together, added up exactly. Counts
//! are summed and histograms merged (so merged percentiles are those of every sample, not an
//! average of percentiles); per-second series are aligned by wall-clock second.
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::load::Load;
use crate::results::PlanInfo;
use crate::results::{Clock, Results, Second};
use crate::stats::compact::DecodeError;
use crate::stats::{Compact, TaskStats};

/// Shards merged into one, and what the user should know about how they differed.
pub struct MergedRun {
    pub results: Results,
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub enum MergeError {
    Nothing,
    /// The shards' task tables differ, so their rows cannot be added up.
    DifferentTasks(PathBuf),
    Histogram(DecodeError),
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Nothing => write!(f, "nothing to merge"),
            MergeError::DifferentTasks(p) => write!(
                f,
                "{} ran other tasks than the first report: results of different scenarios \
                 cannot be merged",
                p.display()
            ),
            MergeError::Histogram(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MergeError {}

/// Merges `shards` (read from `names`, for messages).
pub fn merge(shards: Vec<Results>, names: &[PathBuf]) -> Result<MergedRun, MergeError> {
    let first = shards.first().ok_or(MergeError::Nothing)?;
    for (r, name) in shards.iter().zip(names).skip(1) {
        if r.plan.tasks != first.plan.tasks {
            return Err(MergeError::DifferentTasks(name.clone()));
        }
    }
    let warnings = warnings(&shards, names);
    let started_at = shards
        .iter()
        .map(|r| r.started_at)
        .min()
        .unwrap_or(first.started_at);
    let ended_at = shards
        .iter()
        .map(|r| r.started_at + r.elapsed)
        .max()
        .unwrap_or(started_at);
    let mut totals = first.totals.clone();
    for r in &shards[1..] {
        totals.merge(&r.totals);
    }
    let results = Results {
        plan: merged_plan(&shards, names),
        elapsed: ended_at
            .duration_since(started_at)
            .unwrap_or(Duration::ZERO),
        started_at,
        driver: joined(shards.iter().map(|r| r.driver.as_str())),
        worker_failures: labelled(&shards, names, |r| &r.worker_failures),
        timeline: timeline(&shards, started_at).map_err(MergeError::Histogram)?,
        interrupted: shards.iter().any(|r| r.interrupted),
        changes: Vec::new(),
        totals,
    };
    Ok(MergedRun { results, warnings })
}

/// The plan the shards ran together: the first one's, with the load and workers summed.
fn merged_plan(shards: &[Results], names: &[PathBuf]) -> PlanInfo {
    let mut plan = shards[0].plan.clone();
    plan.workers = shards.iter().map(|r| r.plan.workers).sum();
    plan.users_per_worker = shards
        .iter()
        .map(|r| r.plan.users_per_worker)
        .max()
        .unwrap_or(0);
    plan.load = shards
        .iter()
        .skip(1)
        .fold(plan.load, |acc, r| add_load(acc, &r.plan.load));
    plan.requests = shards.iter().map(|r| r.plan.requests).sum();
    plan.notes = labelled(shards, names, |r| &r.plan.notes);
    plan.notes
        .push(format!("merged from {} shard reports", shards.len()));
    plan.shard = None;
    plan
}

fn add_load(a: Load, b: &Load) -> Load {
    match (a, b) {
        (Load::Closed { users }, Load::Closed { users: u }) => Load::Closed { users: users + u },
        (Load::Open { rate, conns }, Load::Open { rate: r, conns: c }) => Load::Open {
            rate: rate + r,
            conns: conns + c,
        },
        // Mixed models were warned about; keep the first shard's model.
        (a, _) => a,
    }
}

/// Each shard's lines, prefixed with the file they came from.
fn labelled(
    shards: &[Results],
    names: &[PathBuf],
    lines: impl Fn(&Results) -> &Vec<String>,
) -> Vec<String> {
    shards
        .iter()
        .zip(names)
        .flat_map(|(r, name)| {
            let name = name.display().to_string();
            lines(r).iter().map(move |l| format!("{name}: {l}"))
        })
        .collect()
}

fn joined<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = items.collect();
    v.sort_unstable();
    v.dedup();
    v.join(", ")
}

/// What differs between shards that should not: their plans, versions, or shard numbering.
fn warnings(shards: &[Results], names: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    let first = &shards[0].plan;
    for (r, name) in shards.iter().zip(names).skip(1) {
        let p = &r.plan;
        let differs = [
            ("version", p.version != first.version),
            ("target", p.url != first.url),
            ("scenario", p.scenario != first.scenario),
            ("method", p.method != first.method),
            ("pipeline", p.pipeline != first.pipeline),
            ("duration", p.duration != first.duration),
            (
                "load model",
                std::mem::discriminant(&p.load) != std::mem::discriminant(&first.load),
            ),
        ];
        for (what, _) in differs.iter().filter(|d| d.1) {
            out.push(format!(
                "{} ran a different {what} than {}",
                name.display(),
                names[0].display()
            ));
        }
    }
    out.extend(shard_numbering(shards));
    let starts: Vec<SystemTime> = shards.iter().map(|r| r.started_at).collect();
    if let (Some(a), Some(b)) = (starts.iter().min(), starts.iter().max()) {
        let spread = b.duration_since(*a).unwrap_or(Duration::ZERO);
        if spread > START_SPREAD_WARNING {
            out.push(format!(
                "shards started {} ms apart: use --start-at (and synchronised clocks)",
                spread.as_millis()
            ));
        }
    }
    out
}

/// Shards starting further apart than this did not run as one load.
pub const START_SPREAD_WARNING: Duration = Duration::from_secs(1);

/// Missing, repeated or unsharded reports.
fn shard_numbering(shards: &[Results]) -> Vec<String> {
    let mut seen: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for r in shards {
        match r.plan.shard {
            Some(s) => *seen.entry((s.index, s.count)).or_default() += 1,
            None => out.push("a report is not from a --shard run".to_owned()),
        }
    }
    let counts: Vec<u64> = seen.keys().map(|k| k.1).collect();
    if let Some(&n) = counts.first() {
        if counts.iter().any(|&c| c != n) {
            out.push("reports disagree on the number of shards".to_owned());
        }
        for i in 0..n {
            match seen.get(&(i, n)) {
                None => out.push(format!(
                    "shard {i}/{n} is missing: the merge covers part of the plan"
                )),
                Some(&k) if k > 1 => out.push(format!("shard {i}/{n} appears {k} times")),
                Some(_) => {}
            }
        }
    }
    out
}

/// Every shard's seconds, grouped by wall-clock second and summed, then replayed so the
/// running totals and percentiles are those of all shards together.
fn timeline(shards: &[Results], started_at: SystemTime) -> Result<Vec<Second>, DecodeError> {
    let tasks = shards[0].plan.tasks.len().max(1);
    let mut by_second: BTreeMap<u64, Slot> = BTreeMap::new();
    for (n, r) in shards.iter().enumerate() {
        for s in &r.timeline {
            let slot = by_second
                .entry(s.unix_s)
                .or_insert_with(|| Slot::new(tasks, shards.len()));
            slot.add(n, s)?;
        }
    }
    let start = started_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut running: Vec<TaskStats> = (0..tasks).map(|_| TaskStats::new()).collect();
    let mut out = Vec::with_capacity(by_second.len());
    for (unix_s, slot) in by_second {
        for (total, i) in running.iter_mut().zip(&slot.tasks) {
            total.merge(i);
        }
        let clock = Clock {
            elapsed_s: (unix_s as f64 - start).max(0.0),
            interval_s: slot.interval_s.iter().copied().fold(0.0, f64::max),
            unix_s,
            users: slot.users.iter().sum(),
            errors: slot.errors,
        };
        out.push(Second::new(clock, &slot.tasks, &running));
    }
    Ok(out)
}

/// One wall-clock second of every shard.
struct Slot {
    tasks: Vec<TaskStats>,
    /// Per shard: the time its seconds in this slot covered.
    interval_s: Vec<f64>,
    /// Per shard: users at the end of its last second in this slot.
    users: Vec<u64>,
    errors: u64,
}

impl Slot {
    fn new(tasks: usize, shards: usize) -> Self {
        Slot {
            tasks: (0..tasks).map(|_| TaskStats::new()).collect(),
            interval_s: vec![0.0; shards],
            users: vec![0; shards],
            errors: 0,
        }
    }

    fn add(&mut self, shard: usize, s: &Second) -> Result<(), DecodeError> {
        for (t, c) in self.tasks.iter_mut().zip(&s.interval) {
            t.merge(&Compact::stats(c)?);
        }
        self.interval_s[shard] += s.interval_s;
        self.users[shard] = s.users;
        self.errors += s.errors;
        Ok(())
    }
}
