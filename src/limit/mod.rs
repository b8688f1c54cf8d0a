//! `blast limit`: the highest request rate a target sustains under an SLO. It composes
//! open-model `Plan`s at the rates a pure search picks ([`search`]), runs each through the
//! coordinator ([`runner`]), judges every step ([`step`]) against the objectives ([`slo`]),
//! and reports the steps, the limit and the knee (`report::limit`).
pub mod runner;
pub mod search;
pub mod slo;
pub mod step;

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use crate::cli::{self, parse_duration, ReportArgs, RunArgs};
use crate::plan::PlanInput;
use crate::report;
use crate::report::gates::Gate;
use runner::{Outcome, Settings};
use slo::Slo;

/// Connections (the open model's cap) when `--users` is not given: enough for a slow
/// server's queue at a few thousand req/s, few enough for any file descriptor limit.
pub const DEFAULT_CONNECTIONS: u64 = 256;
pub const DEFAULT_STEP: Duration = Duration::from_secs(10);
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(1);
/// Bisection stops when the bracket is this narrow, relative to the good rate.
pub const DEFAULT_PRECISION: f64 = 0.05;
/// Steps at most: a search always ends.
pub const DEFAULT_MAX_STEPS: usize = 20;
/// Exit code when not even the lowest rate tried was sustainable.
pub const EXIT_NO_LIMIT: u8 = 1;

/// The search and its objectives, shared by `limit` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// Latency objective on the p99: shorthand for --slo 'p99<DURATION'
    #[arg(long, value_name = "DURATION", value_parser = slo::parse_p99)]
    pub slo_p99: Option<Gate>,
    /// Latency objective, as a --fail-on gate: 'p95<100ms', 'task:predict:p99<250ms' (repeatable)
    #[arg(long = "slo", value_name = "OBJECTIVE", value_parser = slo::parse_objective)]
    pub slo: Vec<Gate>,
    /// Most failed requests (missed expectations + errors) a sustainable step may have [default: 1%]
    #[arg(long, value_name = "SHARE", value_parser = slo::parse_share)]
    pub max_failures: Option<f64>,
    /// First rate tried, req/s [default: half of what a 2s closed-model probe achieves]
    #[arg(long, value_name = "RATE")]
    pub start_rate: Option<f64>,
    /// Length of each measured step [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub step: Option<Duration>,
    /// Unmeasured run at the step's rate before each step [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Stop when the last good and first bad rate are this close [default: 5%]
    #[arg(long, value_name = "SHARE", value_parser = slo::parse_share)]
    pub precision: Option<f64>,
    /// Most steps the search may run [default: 20]
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
}

/// `blast limit [URL | --scenario FILE --host URL] [flags]`.
#[derive(Args, Debug)]
#[command(mut_arg("csv", |a| a.value_name("FILE").help("Write one CSV row per step to FILE")))]
#[command(mut_arg("json", |a| a.help("Write the steps, limit, knee and SLO as JSON to FILE")))]
#[command(mut_arg("html", |a| a.help("Write a page with the latency-vs-throughput chart to FILE")))]
#[command(mut_arg("users", |a| a.help("Most connections used [default: 256]")))]
#[command(mut_arg("rate", |a| a.hide(true)), mut_arg("duration", |a| a.hide(true)))]
#[command(mut_arg("requests", |a| a.hide(true)), mut_arg("fail_on", |a| a.hide(true)))]
#[command(mut_arg("csv_full_history", |a| a.hide(true)), mut_arg("spawn_rate", |a| a.hide(true)))]
#[command(mut_arg("history", |a| a.hide(true)), mut_arg("label", |a| a.hide(true)))]
#[command(mut_arg("shard", |a| a.hide(true)), mut_arg("start_at", |a| a.hide(true)))]
pub struct LimitArgs {
    #[command(flatten)]
    pub search: SearchArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Flags of the plain run that mean nothing to a search: refused, not silently ignored.
pub(crate) fn refuse_run_only_flags(a: &RunArgs, command: &str, allow_fixed: bool) -> Result<()> {
    let used = [
        ("--rate", a.rate.is_some() && !allow_fixed),
        ("--duration", a.duration.is_some() && !allow_fixed),
        ("--requests", a.requests.is_some()),
        ("--spawn-rate", a.spawn_rate.is_some()),
        ("--fail-on", !a.outputs.fail_on.is_empty()),
        ("--csv-full-history", a.outputs.csv_full_history),
        ("--history", a.outputs.history.is_some()),
        ("--shard", a.shard.is_some()),
        ("--start-at", a.start_at.is_some()),
        // The dashboard shows plain runs only, for now (issue 11).
        ("--web", a.web.web.is_some()),
        ("--metrics-only", a.web.metrics_only),
    ];
    match used.iter().find(|(_, on)| *on) {
        Some((flag, _)) => bail!("{flag} does not apply to blast {command}"),
        None => Ok(()),
    }
}

impl SearchArgs {
    /// The SLO and search settings around `base`.
    pub fn settings(&self, mut base: PlanInput) -> Result<Settings> {
        base.users = Some(base.users.unwrap_or(DEFAULT_CONNECTIONS));
        let precision = self.precision.unwrap_or(DEFAULT_PRECISION);
        if let Some(r) = self.start_rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            bail!("--start-rate must be a positive number, got {r}");
        }
        if precision <= 0.0 {
            bail!("--precision must be above 0%");
        }
        let step = self.step.unwrap_or(DEFAULT_STEP);
        if step.is_zero() {
            bail!("--step must be longer than 0s");
        }
        Ok(Settings {
            base,
            slo: self.slo(),
            step,
            warmup: self.warmup.unwrap_or(DEFAULT_WARMUP),
            precision,
            max_steps: self.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
            start_rate: self.start_rate,
        })
    }

    fn slo(&self) -> Slo {
        Slo {
            objectives: self.slo_p99.iter().chain(&self.slo).cloned().collect(),
            max_failures: self.max_failures.unwrap_or(slo::DEFAULT_MAX_FAILURES),
        }
    }
}

/// Splits the plain run's flags into the plan input and the report files.
pub fn split_run_args(a: RunArgs) -> Result<(PlanInput, ReportArgs)> {
    let outputs = a.outputs.clone();
    Ok((a.into_input()?, outputs))
}

/// Runs `blast limit`.
pub fn run(args: LimitArgs) -> Result<ExitCode> {
    refuse_run_only_flags(&args.run, "limit", false)?;
    let quiet = args.run.quiet;
    let (input, outputs) = split_run_args(args.run)?;
    let settings = args.search.settings(input)?;
    let available = cli::available_cores();
    let first = runner::plan_for(&settings.base, Some(1.0), settings.step, &available)?;
    for note in first
        .notes
        .iter()
        .chain(&cli::raise_fd_limit(first.load.connections()))
    {
        eprintln!("blast: {note}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    cli::install_ctrl_c(stop.clone())?;
    if !quiet {
        eprintln!(
            "blast limit: {} under {}",
            first.target.url,
            settings.slo.describe()
        );
    }
    let outcome = runner::search(&settings, &available, &stop, |s| {
        if !quiet {
            eprintln!("{}", report::limit::step_line(s));
        }
    })?;
    let context = report::limit::Context::new(&first, &settings);
    print!("{}", report::limit::render(&context, &outcome));
    write_reports(&context, &outcome, &outputs)?;
    Ok(exit_code(&outcome))
}

/// 0 with a limit; [`EXIT_NO_LIMIT`] when no rate tried was sustainable.
pub fn exit_code(outcome: &Outcome) -> ExitCode {
    match outcome.limit {
        Some(_) => ExitCode::SUCCESS,
        None => ExitCode::from(EXIT_NO_LIMIT),
    }
}

fn write_reports(c: &report::limit::Context, o: &Outcome, out: &ReportArgs) -> Result<()> {
    cli::write_if(&out.json, |p| report::limit::write_json(c, o, p))?;
    cli::write_if(&out.csv, |p| report::limit::write_csv(o, p))?;
    cli::write_if(&out.html, |p| report::limit::write_html(c, o, p))
}
