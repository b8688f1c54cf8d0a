//! `blast compare`: the same load against several targets in turn, so two servers (or two
//! builds of one) are measured by one client under one set of conditions. Each target gets a
//! `blast limit` search (the default) or a fixed `--rate`/`--users` run for `--duration`;
//! rounds rotate the order and a settle pause separates targets, so drift on a noisy machine
//! shows as spread instead of as a difference between targets. Every run goes through the
//! shared step runner ([`crate::runner`]) and the limit search's public API; nothing here
//! touches the engine. The command's flags live in `cmd::compare`.
use std::time::Duration;

use crate::limit::step::{self, StepStats, Verdict};
use crate::limit::{self, Outcome, Settings};
use crate::plan::{PlanError, DEFAULT_DURATION};
use crate::results::Results;
use crate::runner::Runner;

pub const DEFAULT_ROUNDS: usize = 1;
/// Pause between two targets' runs, so one target's backlog or TIME_WAIT sockets do not
/// weigh on the next.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(2);

/// `--target NAME=URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedTarget {
    pub name: String,
    pub url: String,
}

/// Parses `NAME=URL`.
pub fn parse_target(s: &str) -> Result<NamedTarget, String> {
    match s.split_once('=') {
        Some((name, url)) if !name.trim().is_empty() && !url.trim().is_empty() => Ok(NamedTarget {
            name: name.trim().to_owned(),
            url: url.trim().to_owned(),
        }),
        _ => Err(format!("expected NAME=URL, got {s:?}")),
    }
}

/// A whole comparison, validated: what runs against whom, how often.
#[derive(Clone, Debug)]
pub struct CompareSettings {
    pub targets: Vec<NamedTarget>,
    pub mode: Mode,
    pub rounds: usize,
    pub settle: Duration,
    /// The load, objectives and search of every target's runs (its URL is replaced).
    pub search: Settings,
}

/// What each target is put through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A limit search per target and round.
    Limit,
    /// One fixed run (open model with --rate, closed with --users) per target and round.
    Fixed,
}

/// One target's run in one round.
#[derive(Clone, Debug)]
pub enum RoundResult {
    Limit(Box<Outcome>),
    Fixed(StepStats),
}

impl RoundResult {
    /// The round's headline figure: the limit, or the achieved rate.
    pub fn rps(&self) -> Option<f64> {
        match self {
            RoundResult::Limit(o) => o.limit_rps(),
            RoundResult::Fixed(s) => Some(s.achieved),
        }
    }
}

/// One round of one target.
#[derive(Clone, Debug)]
pub struct Round {
    pub round: usize,
    /// Where in the round's order this target ran (from 0).
    pub position: usize,
    pub result: RoundResult,
}

/// Everything measured for one target.
#[derive(Clone, Debug)]
pub struct TargetResult {
    pub target: NamedTarget,
    pub rounds: Vec<Round>,
    /// Limit mode: one run at the common rate. Fixed mode: every round merged.
    pub common: Option<StepStats>,
}

/// The whole comparison.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub mode: Mode,
    pub slo: String,
    /// The aggregate p99 bound in ms, drawn on the chart.
    pub slo_p99_ms: Option<f64>,
    pub rounds: usize,
    pub settle: Duration,
    /// The rate of the common-rate figures: the highest every target sustained (limit
    /// mode) or the fixed --rate; None in a closed fixed run or when a target had no limit.
    pub common_rate: Option<f64>,
    pub targets: Vec<TargetResult>,
    pub interrupted: bool,
}

/// The order of round `r` (from 0): every target once, rotated by `r`.
pub fn order(targets: usize, round: usize) -> Vec<usize> {
    (0..targets).map(|i| (i + round) % targets).collect()
}

/// Runs the comparison: every round over every target, then the common-rate figures.
/// `progress` hears each run as it starts and each limit step as it is judged.
pub fn compare(
    c: &CompareSettings,
    runner: &Runner,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Comparison, TargetError> {
    validate(c, runner)?;
    let mut results: Vec<TargetResult> = c
        .targets
        .iter()
        .map(|t| TargetResult {
            target: t.clone(),
            rounds: Vec::new(),
            common: None,
        })
        .collect();
    let merged = run_rounds(c, runner, &mut results, progress).map_err(TargetError::unnamed)?;
    let common_rate = match c.mode {
        Mode::Limit => common_limit(&results),
        Mode::Fixed => c.search.base.rate,
    };
    match (c.mode, common_rate) {
        (Mode::Limit, Some(rate)) => run_at_common_rate(c, runner, rate, &mut results, progress)
            .map_err(TargetError::unnamed)?,
        (Mode::Limit, None) => {}
        (Mode::Fixed, _) => {
            for (t, m) in results.iter_mut().zip(merged) {
                t.common = m.map(|r| step::measure(&r, common_rate.unwrap_or(0.0), &c.search.slo));
            }
        }
    }
    Ok(Comparison {
        mode: c.mode,
        slo: c.search.slo.describe(),
        slo_p99_ms: c.search.slo.p99_ms(),
        rounds: c.rounds,
        settle: c.settle,
        common_rate,
        targets: results,
        interrupted: runner.stopped(),
    })
}

/// A target whose plan is invalid (its URL, say), named.
#[derive(Debug)]
pub struct TargetError {
    pub target: Option<String>,
    pub error: PlanError,
}

impl TargetError {
    fn unnamed(error: PlanError) -> Self {
        TargetError {
            target: None,
            error,
        }
    }
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            Some(t) => write!(f, "--target {t}: {}", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl std::error::Error for TargetError {}

/// Every target's plan is built once before the first run, so a bad target is refused
/// before any measurement rather than after the first target's (and before a dashboard
/// serves it).
pub fn validate(c: &CompareSettings, runner: &Runner) -> Result<(), TargetError> {
    for t in &c.targets {
        let s = for_target(&c.search, t);
        runner
            .plan(&s.base, s.base.rate.or(Some(1.0)), s.warmup, s.step)
            .map_err(|error| TargetError {
                target: Some(t.name.clone()),
                error,
            })?;
    }
    Ok(())
}

/// What a comparison tells its caller as it goes.
pub enum Progress<'a> {
    /// A target's run in a round starts (round from 1).
    Round {
        round: usize,
        of: usize,
        target: &'a NamedTarget,
    },
    /// A target's run at the common rate starts.
    Common { rate: f64, target: &'a NamedTarget },
    /// A step of a limit search (or the run at the common rate) was judged.
    Step(&'a limit::step::Step),
    /// A fixed run was measured.
    Measured(&'a StepStats),
}

/// Every round over every target in rotated order; in fixed mode each target's results
/// merged over the rounds.
fn run_rounds(
    c: &CompareSettings,
    runner: &Runner,
    results: &mut [TargetResult],
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<Option<Results>>, PlanError> {
    let mut merged: Vec<Option<Results>> = vec![None; c.targets.len()];
    let mut first = true;
    for round in 0..c.rounds {
        for (position, &i) in order(c.targets.len(), round).iter().enumerate() {
            if runner.stopped() {
                return Ok(merged);
            }
            if !std::mem::take(&mut first) {
                runner.pause(c.settle);
            }
            let target = &c.targets[i];
            progress(Progress::Round {
                round: round + 1,
                of: c.rounds,
                target,
            });
            let settings = for_target(&c.search, target);
            let result = match c.mode {
                Mode::Limit => {
                    RoundResult::Limit(Box::new(limit::drive::search(&settings, runner, |st| {
                        progress(Progress::Step(st))
                    })?))
                }
                Mode::Fixed => match fixed_run(&settings, runner)? {
                    Some((stats, r)) => {
                        progress(Progress::Measured(&stats));
                        merge_into(&mut merged[i], r);
                        RoundResult::Fixed(stats)
                    }
                    None => return Ok(merged),
                },
            };
            results[i].rounds.push(Round {
                round: round + 1,
                position,
                result,
            });
        }
    }
    Ok(merged)
}

/// Limit mode: one more measured step per target at the highest rate every target held.
fn run_at_common_rate(
    c: &CompareSettings,
    runner: &Runner,
    rate: f64,
    results: &mut [TargetResult],
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(), PlanError> {
    for (t, target) in results.iter_mut().zip(&c.targets) {
        if runner.stopped() {
            break;
        }
        runner.pause(c.settle);
        progress(Progress::Common { rate, target });
        let st = limit::run_step(&for_target(&c.search, target), runner, rate, &[])?;
        progress(Progress::Step(&st));
        t.common = (st.verdict != Verdict::Interrupted).then_some(st.stats);
    }
    Ok(())
}

/// The settings with `t`'s URL as the target (a scenario's host).
fn for_target(s: &Settings, t: &NamedTarget) -> Settings {
    let mut s = s.clone();
    s.base.url = Some(t.url.clone());
    s
}

/// One fixed run (its warm-up on the same connections, not measured): its figures and its results (kept for merging over rounds); None when
/// the comparison was stopped before it ran.
fn fixed_run(s: &Settings, runner: &Runner) -> Result<Option<(StepStats, Results)>, PlanError> {
    let length = s.base.duration.unwrap_or(DEFAULT_DURATION);
    let plan = runner.plan(&s.base, s.base.rate, s.warmup, length)?;
    Ok(runner
        .run(plan)
        .map(|r| (step::measure(&r, s.base.rate.unwrap_or(0.0), &s.slo), r)))
}

/// Adds a round's results into a target's running merge, histograms and all.
fn merge_into(acc: &mut Option<Results>, r: Results) {
    match acc {
        None => *acc = Some(r),
        Some(merged) => {
            merged.totals.merge(&r.totals);
            merged.elapsed += r.elapsed;
        }
    }
}

/// The highest rate every target sustained: the lowest of the targets' best limits.
pub fn common_limit(targets: &[TargetResult]) -> Option<f64> {
    targets
        .iter()
        .map(|t| {
            t.rounds
                .iter()
                .filter_map(|r| r.result.rps())
                .reduce(f64::max)
        })
        .collect::<Option<Vec<f64>>>()?
        .into_iter()
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_name_equals_url() {
        let t = parse_target("fast=http://127.0.0.1:8080/health").unwrap();
        assert_eq!(
            (t.name.as_str(), t.url.as_str()),
            ("fast", "http://127.0.0.1:8080/health")
        );
        for bad in ["http://x", "=http://x", "name=", ""] {
            assert!(parse_target(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rounds_rotate_the_order() {
        assert_eq!(order(3, 0), vec![0, 1, 2]);
        assert_eq!(order(3, 1), vec![1, 2, 0]);
        assert_eq!(order(3, 3), vec![0, 1, 2]);
    }
}
