//! The commands: flags (clap derive) become a validated `Plan` (or a search's settings),
//! which runs, and whose plain results the reports render; errors here become exit codes.
//! One file per subcommand; shared flag groups in [`args`]. This is the only layer that
//! knows about flags: everything below takes plain values.
pub mod args;
pub mod compare;
pub mod limit;
pub mod merge;
pub mod report;
pub mod run;
pub mod serve;
pub mod shell;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::results::Results;
use crate::scenario;
use args::ReportArgs;

/// Exit code for usage errors, bad files and setup errors (as clap's own).
pub const EXIT_USAGE: u8 = 2;

/// `blast --version`: the crate's version, with the git commit it was built from when
/// built from a checkout (set by build.rs).
pub const VERSION: &str = env!("BLAST_VERSION");

const EXAMPLES: &str = "\
Examples:
  blast --cores 8 --users 10000 http://127.0.0.1:8080/health
  blast -R 5000 -u 200 -d 30s http://127.0.0.1:8080/health
  blast -s scenarios/heart-disease.toml --host http://127.0.0.1:8001 -u 300 --spawn-rate 50
  blast limit http://127.0.0.1:8080/health --slo-p99 250ms
  blast serve --addr 127.0.0.1:8080";

#[derive(Parser, Debug)]
#[command(
    name = "blast",
    version = VERSION,
    about = "A thread-per-core io_uring HTTP/1.1 load generator",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: run::RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve a built-in model API (GET /health, POST /predict) to load-test against.
    Serve(serve::ServeArgs),
    /// Render a saved run again (`run.json`), or list past runs (`history.csv --markdown`).
    Report(report::ReportCmd),
    /// Combine the JSON reports of sharded runs into one, exactly.
    Merge(merge::MergeCmd),
    /// Find the highest request rate the target sustains under an SLO.
    Limit(Box<limit::LimitArgs>),
    /// Run the same load against several targets in turn and compare them side by side.
    Compare(Box<compare::CompareArgs>),
    /// Print a shell completion script: blast completions bash > /etc/bash_completion.d/blast
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff): blast man > blast.1
    Man,
}

/// Parses flags and runs; errors here are usage or setup errors (exit code 2).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(a)) => serve::run(&a).map(|()| ExitCode::SUCCESS),
        Some(Command::Report(a)) => report::run(&a),
        Some(Command::Merge(a)) => merge::run(&a),
        Some(Command::Limit(a)) => limit::run(*a),
        Some(Command::Compare(a)) => compare::run(*a),
        Some(Command::Completions(a)) => shell::completions(&a),
        Some(Command::Man) => shell::man(),
        None => run::run(cli.run),
    };
    result.unwrap_or_else(|e| {
        // A scenario error is already `path:line:col: message`, as editors expect.
        match e.downcast_ref::<scenario::ScenarioError>() {
            Some(se) => eprintln!("{se}"),
            None => eprintln!("blast: {e:#}"),
        }
        ExitCode::from(EXIT_USAGE)
    })
}

/// Prints the summary, writes every report asked for (even after Ctrl-C or against a dead
/// target), then checks the gates: a breach is exit code 1. Shared by a run, `report` and
/// `merge`, which all end in one `Results`.
pub fn finish(results: &Results, out: &ReportArgs) -> Result<ExitCode> {
    print!("{}", crate::report::text::render(results));
    write_reports(results, out)?;
    let breaches = crate::gates::check(&out.fail_on, results);
    for b in &breaches {
        eprintln!("blast: {b}");
    }
    Ok(if breaches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_reports(results: &Results, out: &ReportArgs) -> Result<()> {
    use crate::report::{client_csv, csv, history, html, json};
    write_if(&out.json, |p| json::write(results, p))?;
    write_if(&out.csv, |p| {
        csv::write(results, p, out.csv_full_history)?;
        client_csv::write(results, p)
    })?;
    write_if(&out.html, |p| html::write(results, p))?;
    write_if(&out.history, |p| {
        history::append(results, p, out.label.as_deref())
    })
}

/// Writes one report when its path was given, naming the file in any error.
pub fn write_if(
    path: &Option<PathBuf>,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    match path {
        Some(p) => write(p).with_context(|| format!("writing {}", p.display())),
        None => Ok(()),
    }
}
