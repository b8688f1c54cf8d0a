//! `blast compare`: the same load against several targets in turn, so two servers (or two
//! builds of one) are measured by one client under one set of conditions. Each target gets a
//! `blast limit` search (the default) or a fixed `--rate`/`--users` run for `--duration`;
//! rounds rotate the order and a settle pause separates targets, so drift on a noisy machine
//! shows as spread instead of as a difference between targets. Plans go through the limit
//! runner and the coordinator; nothing here touches the engine.
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use crate::cli::{self, parse_duration, ReportArgs, RunArgs};
use crate::coordinator;
use crate::limit::runner::{self, Outcome, Settings};
use crate::limit::step::{self, StepStats, Verdict};
use crate::limit::{self, SearchArgs};
use crate::plan::{PlanInput, DEFAULT_DURATION};
use crate::report;

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

/// `blast compare --target NAME=URL --target NAME=URL … [flags]`.
#[derive(Args, Debug)]
#[command(mut_arg("url", |a| a.hide(true).required_unless_present("targets")))]
#[command(mut_arg("csv", |a| a.value_name("FILE").help("Write one CSV row per target and round to FILE")))]
#[command(mut_arg("json", |a| a.help("Write every target's rounds, steps and summary as JSON to FILE")))]
#[command(mut_arg("html", |a| a.help("Write a page overlaying the targets' latency-vs-throughput curves to FILE")))]
#[command(mut_arg("rate", |a| a.help("Fixed mode: this many req/s against each target instead of a limit search")))]
#[command(mut_arg("duration", |a| a.help("Fixed mode: run length per target and round [default: 10s]")))]
#[command(mut_arg("requests", |a| a.hide(true)), mut_arg("fail_on", |a| a.hide(true)))]
#[command(mut_arg("csv_full_history", |a| a.hide(true)), mut_arg("spawn_rate", |a| a.hide(true)))]
#[command(mut_arg("history", |a| a.hide(true)), mut_arg("label", |a| a.hide(true)))]
#[command(mut_arg("shard", |a| a.hide(true)), mut_arg("start_at", |a| a.hide(true)))]
pub struct CompareArgs {
    /// A target, NAME=URL (repeat: two or more). With --scenario, URL is the host.
    #[arg(long = "target", value_name = "NAME=URL", value_parser = parse_target, required = true)]
    pub targets: Vec<NamedTarget>,
    /// Rounds over every target; each round starts one target later [default: 1]
    #[arg(long, value_name = "N")]
    pub rounds: Option<usize>,
    /// Pause between targets [default: 2s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub settle: Option<Duration>,
    #[command(flatten)]
    pub search: SearchArgs,
    #[command(flatten)]
    pub run: RunArgs,
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

/// Runs `blast compare`.
pub fn run(args: CompareArgs) -> Result<ExitCode> {
    if args.targets.len() < 2 {
        bail!("blast compare needs at least two --target NAME=URL");
    }
    if args.run.url.is_some() || args.run.host.is_some() {
        bail!("blast compare takes its targets from --target NAME=URL, not a URL or --host");
    }
    let mode = if args.run.rate.is_some() || args.run.duration.is_some() {
        Mode::Fixed
    } else {
        Mode::Limit
    };
    crate::limit::refuse_run_only_flags(&args.run, "compare", true)?;
    let quiet = args.run.quiet;
    let rounds = args.rounds.unwrap_or(DEFAULT_ROUNDS).max(1);
    let settle = args.settle.unwrap_or(DEFAULT_SETTLE);
    let (input, outputs) = limit::split_run_args(args.run)?;
    let settings = match mode {
        Mode::Limit => args.search.settings(input)?,
        Mode::Fixed => fixed_settings(&args.search, input)?,
    };
    let stop = Arc::new(AtomicBool::new(false));
    cli::install_ctrl_c(stop.clone())?;
    let available = cli::available_cores();
    let c = compare(
        &args.targets,
        mode,
        rounds,
        settle,
        &settings,
        &available,
        &stop,
        quiet,
    )?;
    print!("{}", report::compare::render(&c));
    write_reports(&c, &outputs)?;
    Ok(ExitCode::SUCCESS)
}

/// Fixed mode keeps the plan input as given (--rate, --users, --duration).
fn fixed_settings(search: &SearchArgs, mut base: PlanInput) -> Result<Settings> {
    base.duration = Some(base.duration.unwrap_or(DEFAULT_DURATION));
    let rate = base.rate;
    let mut s = search.settings(base)?;
    // settings() caps connections for the open model; a closed run keeps --users' default.
    if rate.is_none() {
        s.base.users = None;
    }
    Ok(s)
}

/// Every round over every target, then the common-rate runs.
#[allow(clippy::too_many_arguments)]
fn compare(
    targets: &[NamedTarget],
    mode: Mode,
    rounds: usize,
    settle: Duration,
    s: &Settings,
    available: &[usize],
    stop: &Arc<AtomicBool>,
    quiet: bool,
) -> Result<Comparison> {
    let mut results: Vec<TargetResult> = targets
        .iter()
        .map(|t| TargetResult {
            target: t.clone(),
            rounds: Vec::new(),
            common: None,
        })
        .collect();
    let mut merged: Vec<Option<coordinator::Results>> = Vec::new();
    merged.resize_with(targets.len(), || None);
    let mut first = true;
    'rounds: for round in 0..rounds {
        for (position, &i) in order(targets.len(), round).iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break 'rounds;
            }
            if !std::mem::take(&mut first) {
                runner::pause(settle, stop);
            }
            let t = &targets[i];
            if !quiet {
                eprintln!(
                    "blast compare: round {} of {rounds}: {} ({})",
                    round + 1,
                    t.name,
                    crate::target::shown_url(&t.url)
                );
            }
            let settings = for_target(s, t);
            let result = match mode {
                Mode::Limit => {
                    RoundResult::Limit(Box::new(search(&settings, available, stop, quiet)?))
                }
                Mode::Fixed => {
                    let (stats, r) = fixed_run(&settings, available, stop)?;
                    merge_into(&mut merged[i], r);
                    RoundResult::Fixed(stats)
                }
            };
            results[i].rounds.push(Round {
                round: round + 1,
                position,
                result,
            });
        }
    }
    let common_rate = match mode {
        Mode::Limit => common_limit(&results),
        Mode::Fixed => s.base.rate,
    };
    match mode {
        Mode::Limit => {
            if let Some(rate) = common_rate {
                for (i, t) in targets.iter().enumerate() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    runner::pause(settle, stop);
                    if !quiet {
                        eprintln!(
                            "blast compare: {} at the common rate {rate:.1} req/s",
                            t.name
                        );
                    }
                    let st = runner::run_step(&for_target(s, t), available, stop, rate, &[])?;
                    results[i].common = (st.verdict != Verdict::Interrupted).then_some(st.stats);
                }
            }
        }
        Mode::Fixed => {
            for (i, m) in merged.into_iter().enumerate() {
                results[i].common =
                    m.map(|r| step::measure(&r, common_rate.unwrap_or(0.0), &s.slo));
            }
        }
    }
    Ok(Comparison {
        mode,
        slo: s.slo.describe(),
        slo_p99_ms: s.slo.p99_ms(),
        rounds,
        settle,
        common_rate,
        targets: results,
        interrupted: stop.load(Ordering::Relaxed),
    })
}

/// The settings with `t`'s URL as the target (a scenario's host).
fn for_target(s: &Settings, t: &NamedTarget) -> Settings {
    let mut s = s.clone();
    s.base.url = Some(t.url.clone());
    s
}

fn search(
    s: &Settings,
    available: &[usize],
    stop: &Arc<AtomicBool>,
    quiet: bool,
) -> Result<Outcome> {
    runner::search(s, available, stop, |st| {
        if !quiet {
            eprintln!("{}", report::limit::step_line(st));
        }
    })
    .context("planning a step")
}

/// One fixed run: its figures and its results (kept for merging over rounds).
fn fixed_run(
    s: &Settings,
    available: &[usize],
    stop: &Arc<AtomicBool>,
) -> Result<(StepStats, coordinator::Results)> {
    let length = s.base.duration.unwrap_or(DEFAULT_DURATION);
    let plan = runner::plan_for(&s.base, s.base.rate, length, available)?;
    if !s.warmup.is_zero() {
        let warm = runner::plan_for(&s.base, s.base.rate, s.warmup, available)?;
        let _ = coordinator::run(warm, stop.clone());
    }
    let r = coordinator::run(plan, stop.clone());
    runner::pause(runner::drain_time(&r), stop);
    Ok((step::measure(&r, s.base.rate.unwrap_or(0.0), &s.slo), r))
}

/// Adds a round's results into a target's running merge, histograms and all.
fn merge_into(acc: &mut Option<coordinator::Results>, r: coordinator::Results) {
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

fn write_reports(c: &Comparison, out: &ReportArgs) -> Result<()> {
    cli::write_if(&out.json, |p| report::compare::write_json(c, p))?;
    cli::write_if(&out.csv, |p| report::compare::write_csv(c, p))?;
    cli::write_if(&out.html, |p| report::compare::write_html(c, p))
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
