//! `blast report`: render a saved run again, or list past runs from a `--history` file.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::args::ReportArgs;
use crate::report::{history, saved};

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  blast report run.json --html run.html\n  blast report run.json --fail-on 'p99<250ms'\n  blast report history.csv --markdown --last 5"
)]
pub struct ReportCmd {
    /// A `--json` report, or with --markdown a `--history` CSV
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the last runs of a --history CSV as a Markdown table, newest first
    #[arg(long)]
    pub markdown: bool,
    /// With --markdown: how many runs
    #[arg(long, default_value_t = history::DEFAULT_LAST, requires = "markdown")]
    pub last: usize,
    #[command(flatten)]
    pub outputs: ReportArgs,
}

pub fn run(a: &ReportCmd) -> Result<ExitCode> {
    if a.markdown {
        print!("{}", history::markdown(&a.file, a.last)?);
        return Ok(ExitCode::SUCCESS);
    }
    a.outputs.check()?;
    let results = saved::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    super::finish(&results, &a.outputs)
}
