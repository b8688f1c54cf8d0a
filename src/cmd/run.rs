//! `blast URL` / `blast -s scenario.toml`: one run. Flags become a `Plan`, the coordinator
//! runs it, and every report asked for is written from its `Results`.
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::Args;

use super::args::{LoadArgs, ReportArgs, TargetArgs};
use crate::coordinator;
use crate::os;
use crate::plan::{Plan, PlanInput};
use crate::shard::Shard;
use crate::units::{parse_duration, parse_start_at};

/// Longest nap while waiting for `--start-at`, so Ctrl-C stays responsive.
const START_AT_POLL: Duration = Duration::from_millis(50);

/// The flags of a plain run: the target and load, and what only a single run has.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Open model: requests per second in total, on a fixed schedule; --users caps connections
    #[arg(short = 'R', long)]
    pub rate: Option<f64>,
    /// Users started per second (closed model) [default: all at once]
    #[arg(long)]
    pub spawn_rate: Option<f64>,
    /// Run length, e.g. 30s, 1m [default: 10s unless --requests is given]
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many requests in total
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Shard I of N (0-based): run this process's share of the plan; see `blast merge`
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Wait until this instant before starting (RFC 3339 or unix seconds), so shards start together
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<SystemTime>,
    #[command(flatten)]
    pub outputs: ReportArgs,
    #[command(flatten)]
    pub web: super::ui::WebArgs,
}

impl RunArgs {
    /// The plan input these flags describe.
    pub fn into_input(self) -> Result<PlanInput> {
        Ok(PlanInput {
            rate: self.rate,
            spawn_rate: self.spawn_rate,
            duration: self.duration,
            requests: self.requests,
            shard: self.shard,
            ..self.load.into_input(self.target.url())?
        })
    }
}

/// Runs one plan and writes its reports.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    args.outputs.check()?;
    let outputs = args.outputs.clone();
    let start_at = args.start_at;
    let web = args.web.clone();
    let plan = Plan::build(args.into_input()?, &os::available_cores())?;
    let dashboard = web.open()?;
    let mut notes = plan.notes.clone();
    notes.extend(os::raise_fd_limit(plan.load.connections()));
    for note in &notes {
        eprintln!("blast: {note}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    os::install_ctrl_c(stop.clone()).context("installing the Ctrl-C handler")?;
    if let Some(at) = start_at {
        notes.push(wait_until(at, &stop));
    }
    let plan = Arc::new(Plan { notes, ..plan });
    let reserve = os::FdReserve::hold();
    let sink = dashboard.as_ref().map(|d| d.attach(&plan, stop.clone()));
    let hooks = coordinator::Hooks {
        sink,
        steering: None,
    };
    let results = coordinator::run_with(plan, stop, hooks);
    drop(reserve);
    if let Some(d) = &dashboard {
        d.finish(&results);
    }
    super::finish(&results, &outputs)
}

/// Sleeps until `at` (or Ctrl-C); returns the note saying how far off the start was, which
/// `blast merge` uses to show how well shards started together.
fn wait_until(at: SystemTime, stop: &AtomicBool) -> String {
    if let Ok(ahead) = at.duration_since(SystemTime::now()) {
        eprintln!(
            "blast: waiting {} for --start-at",
            humantime::format_duration(Duration::from_secs(ahead.as_secs()))
        );
    }
    while !stop.load(Ordering::Relaxed) {
        match at.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => std::thread::sleep(left.min(START_AT_POLL)),
            _ => break,
        }
    }
    let off_ms = match SystemTime::now().duration_since(at) {
        Ok(late) => late.as_secs_f64() * 1000.0,
        Err(early) => -early.duration().as_secs_f64() * 1000.0,
    };
    format!("started {off_ms:.1} ms after --start-at")
}
