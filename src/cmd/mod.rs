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
pub mod ui;

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
    /// Serve the live web dashboard: start, watch, edit, stop and download tests from a browser.
    Ui(Box<ui::UiArgs>),
    /// Print a shell completion script: blast completions bash > /etc/bash_completion.d/blast
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff): blast man > blast.1
    Man,
}

/// Parses flags and runs; errors here are usage or setup errors (exit code 2).
pub fn main() -> ExitCode {
    crate::os::report_file_size_errors();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(a)) => serve::run(&a).map(|()| ExitCode::SUCCESS),
        Some(Command::Report(a)) => report::run(&a),
        Some(Command::Merge(a)) => merge::run(&a),
        Some(Command::Limit(a)) => limit::run(*a),
        Some(Command::Compare(a)) => compare::run(*a),
        Some(Command::Ui(a)) => ui::run(*a),
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

/// Exit code when the run finished but a report could not be written (each failure is
/// named on stderr; every other report was still written).
pub const EXIT_REPORT_FAILED: u8 = 3;

/// Prints the summary, writes every report asked for (even after Ctrl-C or against a dead
/// target), then checks the gates: a breach is exit code 1, a report that could not be
/// written [`EXIT_REPORT_FAILED`]. Shared by a run, `report` and `merge`, which all end in
/// one `Results`.
pub fn finish(results: &Results, out: &ReportArgs) -> Result<ExitCode> {
    use crate::report::{csv, history, html, json};
    print!("{}", crate::report::text::render(results));
    let mut files = Files::default();
    files.write(&out.json, |p| json::write(results, p));
    files.write(&out.csv, |p| csv::write(results, p, out.csv_full_history));
    files.write(&out.csv, |p| {
        crate::report::connections::write_csv(results, p)
    });
    files.write(&out.csv, |p| crate::report::client_csv::write(results, p));
    files.write(&out.html, |p| html::write(results, p));
    files.write(&out.history, |p| {
        history::append(results, p, out.label.as_deref())
    });
    let breaches = crate::gates::check(&out.fail_on, results);
    for b in &breaches {
        eprintln!("blast: {b}");
    }
    Ok(match (files.finish(), breaches.is_empty()) {
        (Some(failed), _) => failed,
        (None, true) => ExitCode::SUCCESS,
        (None, false) => ExitCode::FAILURE,
    })
}

/// Report files of one command: each is written whatever happened to the others.
#[derive(Default)]
pub struct Files {
    failed: usize,
}

impl Files {
    /// Writes one report when its path was given; a failure is named on stderr at once.
    pub fn write(
        &mut self,
        path: &Option<PathBuf>,
        write: impl FnOnce(&Path) -> std::io::Result<()>,
    ) {
        if let Some(p) = path {
            if let Err(e) = write(p) {
                eprintln!("blast: writing {}: {e}", p.display());
                self.failed += 1;
            }
        }
    }

    /// [`EXIT_REPORT_FAILED`] when any report failed.
    pub fn finish(self) -> Option<ExitCode> {
        (self.failed > 0).then(|| ExitCode::from(EXIT_REPORT_FAILED))
    }
}

/// Refuses, before anything runs, report paths that cannot be written: a missing directory,
/// a directory given as a file, a read-only place, or a `--history` file that is not one.
pub fn check_outputs(paths: &[&Option<PathBuf>]) -> Result<()> {
    for p in paths.iter().filter_map(|p| p.as_ref()) {
        crate::report::file::check_writable(p)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}
