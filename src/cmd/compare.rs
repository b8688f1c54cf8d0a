//! `blast compare`: flags → a comparison's settings → `compare` → its reports.
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::args::{LoadArgs, SearchArgs, StudyFiles};
use super::ui::WebArgs;
use super::Files;
use crate::compare::{self, CompareSettings, Mode, NamedTarget, Progress};
use crate::os;
use crate::plan::DEFAULT_DURATION;
use crate::report;
use crate::runner::Runner;
use crate::units::parse_duration;
use crate::web::StudyView;

const EXAMPLES: &str = "\
Examples:
  blast compare --target a=http://127.0.0.1:8080/health --target b=http://127.0.0.1:8081/health \\
        --slo-p99 100ms --rounds 3 --json compare.json
  blast compare --target a=http://127.0.0.1:8080/health --target b=http://127.0.0.1:8081/health \\
        -R 2000 -d 20s";

/// `blast compare --target NAME=URL --target NAME=URL … [flags]`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
#[command(mut_arg("csv", |a| a.help("Write one CSV row per target and round to FILE")))]
#[command(mut_arg("json", |a| a.help("Write every target's rounds, steps and summary as JSON to FILE")))]
#[command(mut_arg("html", |a| a.help("Write a page overlaying the targets' latency-vs-throughput curves to FILE")))]
pub struct CompareArgs {
    /// A target, NAME=URL (repeat: two or more). With --scenario, URL is the host.
    #[arg(long = "target", value_name = "NAME=URL", value_parser = compare::parse_target, required = true)]
    pub targets: Vec<NamedTarget>,
    /// Rounds over every target; each round starts one target later [default: 1]
    #[arg(long, value_name = "N")]
    pub rounds: Option<usize>,
    /// Pause between targets [default: 2s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub settle: Option<Duration>,
    /// Fixed mode: this many req/s against each target instead of a limit search
    #[arg(short = 'R', long)]
    pub rate: Option<f64>,
    /// Fixed mode: run length per target and round [default: 10s]
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub search: SearchArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub files: StudyFiles,
    #[command(flatten)]
    pub web: super::ui::WebArgs,
}

impl CompareArgs {
    /// The validated comparison these flags describe.
    fn settings(self) -> Result<CompareSettings> {
        if self.targets.len() < 2 {
            bail!("blast compare needs at least two --target NAME=URL");
        }
        let fixed = self.rate.is_some() || self.duration.is_some();
        let users = self.load.users;
        let mut base = self.load.into_input(None)?;
        let search = if fixed {
            let closed = self.rate.is_none();
            base.rate = self.rate;
            base.duration = Some(self.duration.unwrap_or(DEFAULT_DURATION));
            let mut s = self.search.settings(base)?;
            // settings() caps connections for the open model; a closed run has --users users
            // (by default the plain run's default).
            if closed {
                s.base.users = users;
            }
            s
        } else {
            self.search.settings(base)?
        };
        Ok(CompareSettings {
            targets: self.targets,
            mode: if fixed { Mode::Fixed } else { Mode::Limit },
            rounds: self.rounds.unwrap_or(compare::DEFAULT_ROUNDS).max(1),
            settle: self.settle.unwrap_or(compare::DEFAULT_SETTLE),
            search,
        })
    }
}

/// Runs `blast compare`.
pub fn run(args: CompareArgs) -> Result<ExitCode> {
    args.files.check()?;
    let quiet = args.load.quiet;
    let paths = args.files.clone();
    let web = args.web.clone();
    let c = args.settings()?;
    let stop = Arc::new(AtomicBool::new(false));
    os::install_ctrl_c(stop.clone()).context("installing the Ctrl-C handler")?;
    let mut runner = Runner::new(os::available_cores(), stop.clone());
    let view = watch(&web, &c, &runner, stop)?;
    if let Some(v) = &view {
        runner = runner.watched(v.sinks());
    }
    let reserve = os::FdReserve::hold();
    let mut target: Option<String> = None;
    let comparison = compare::compare(&c, &runner, &mut |p| {
        if let Some(line) = progress_line(&p).filter(|_| !quiet) {
            eprintln!("{line}");
        }
        match (&p, &view) {
            (Progress::Round { target: t, .. } | Progress::Common { target: t, .. }, _) => {
                target = Some(t.name.clone());
            }
            (Progress::Step(s), Some(v)) => v.step(target.as_deref(), s),
            (Progress::Measured(s), Some(v)) => v.measured(target.as_deref(), s),
            _ => {}
        }
    })?;
    drop(reserve);
    print!("{}", report::compare::render(&comparison));
    let mut files = Files::default();
    files.write(&paths.json, |p| report::compare::write_json(&comparison, p));
    files.write(&paths.csv, |p| report::compare::write_csv(&comparison, p));
    files.write(&paths.html, |p| report::compare::write_html(&comparison, p));
    if let Some(v) = &view {
        v.finish();
    }
    Ok(files.finish().unwrap_or(ExitCode::SUCCESS))
}

/// The dashboard showing the comparison, with `--web` or `--metrics-only`, once every
/// target's plan is known to be good; its header shows the first target's plan until the
/// first run starts.
fn watch(
    web: &WebArgs,
    c: &CompareSettings,
    runner: &Runner,
    stop: Arc<AtomicBool>,
) -> Result<Option<Arc<StudyView>>> {
    compare::validate(c, runner)?;
    let Some(dashboard) = web.open()? else {
        return Ok(None);
    };
    let mut base = c.search.base.clone();
    base.url = c.targets.first().map(|t| t.url.clone());
    let plan = runner.plan(
        &base,
        base.rate.or(Some(1.0)),
        c.search.warmup,
        c.search.step,
    )?;
    let names: Vec<&str> = c.targets.iter().map(|t| t.name.as_str()).collect();
    let title = format!("blast compare: {}", names.join(" vs "));
    Ok(Some(dashboard.watch_study(&plan, title, stop)))
}

fn progress_line(p: &Progress<'_>) -> Option<String> {
    Some(match p {
        Progress::Round { round, of, target } => format!(
            "blast compare: round {round} of {of}: {} ({})",
            target.name,
            crate::target::shown_url(&target.url)
        ),
        Progress::Common { rate, target } => format!(
            "blast compare: {} at the common rate {rate:.1} req/s",
            target.name
        ),
        Progress::Step(s) => report::limit::step_line(s),
        Progress::Measured(_) => return None,
    })
}
