//! `blast limit`: flags → search settings → the search (`limit`) → its reports.
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;

use super::args::{LoadArgs, SearchArgs, StudyFiles, TargetArgs};
use super::Files;
use crate::limit::{self, Outcome};
use crate::os;
use crate::report::limit::{self as render, Context as Header};
use crate::runner::Runner;

/// Exit code when not even the lowest rate tried was sustainable.
pub const EXIT_NO_LIMIT: u8 = 1;

const EXAMPLES: &str = "\
Examples:
  blast limit http://127.0.0.1:8080/health --slo-p99 250ms
  blast limit -s scenarios/predict-max.toml --host http://127.0.0.1:8001 \\
        --slo 'p95<100ms' --slo 'task:predict:p99<300ms' --max-failures 0.5% --html limit.html";

/// `blast limit [URL | --scenario FILE --host URL] [flags]`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
#[command(mut_arg("csv", |a| a.help("Write one CSV row per step to FILE")))]
#[command(mut_arg("json", |a| a.help("Write the steps, limit, knee and SLO as JSON to FILE")))]
#[command(mut_arg("html", |a| a.help("Write a page with the latency-vs-throughput chart to FILE")))]
#[command(mut_arg("users", |a| a.help("Most connections used [default: 256]")))]
pub struct LimitArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub search: SearchArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub files: StudyFiles,
    #[command(flatten)]
    pub web: super::ui::WebArgs,
}

/// Runs `blast limit`.
pub fn run(args: LimitArgs) -> Result<ExitCode> {
    args.files.check()?;
    let quiet = args.load.quiet;
    let settings = args
        .search
        .settings(args.load.into_input(args.target.url())?)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut runner = Runner::new(os::available_cores(), stop.clone());
    let first = runner.plan(&settings.base, Some(1.0), settings.warmup, settings.step)?;
    let dashboard = args.web.open()?;
    let fd_note = os::raise_fd_limit(first.load.connections());
    for note in first.notes.iter().chain(&fd_note) {
        eprintln!("blast: {note}");
    }
    os::install_ctrl_c(stop.clone()).context("installing the Ctrl-C handler")?;
    let title = format!(
        "blast limit: {} under {}",
        first.target.url,
        settings.slo.describe()
    );
    if !quiet {
        eprintln!("{title}");
    }
    let view = dashboard
        .as_ref()
        .map(|d| d.watch_study(&first, title, stop));
    if let Some(v) = &view {
        runner = runner.watched(v.sinks());
    }
    let reserve = os::FdReserve::hold();
    let outcome = limit::drive::search(&settings, &runner, |s| {
        if !quiet {
            eprintln!("{}", render::step_line(s));
        }
        if let Some(v) = &view {
            v.step(None, s);
        }
    })?;
    drop(reserve);
    let header = Header::new(&first.info(), &settings);
    print!("{}", render::render(&header, &outcome));
    let mut files = Files::default();
    files.write(&args.files.json, |p| {
        render::write_json(&header, &outcome, p)
    });
    files.write(&args.files.csv, |p| render::write_csv(&outcome, p));
    files.write(&args.files.html, |p| {
        render::write_html(&header, &outcome, p)
    });
    if let Some(v) = &view {
        v.finish();
    }
    if let Some(failed) = files.finish() {
        return Ok(failed);
    }
    Ok(exit_code(&outcome))
}

/// 0 with a limit; [`EXIT_NO_LIMIT`] when no rate tried was sustainable.
pub fn exit_code(outcome: &Outcome) -> ExitCode {
    match outcome.limit {
        Some(_) => ExitCode::SUCCESS,
        None => ExitCode::from(EXIT_NO_LIMIT),
    }
}
