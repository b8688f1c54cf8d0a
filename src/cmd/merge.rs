//! `blast merge`: the JSON reports of sharded runs added up into one run's results.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::args::ReportArgs;
use crate::merge;
use crate::report::saved;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  blast merge s0.json s1.json s2.json s3.json --html all.html --json all.json"
)]
pub struct MergeCmd {
    /// The shards' `--json` reports
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub outputs: ReportArgs,
}

pub fn run(a: &MergeCmd) -> Result<ExitCode> {
    a.outputs.check()?;
    let shards = a
        .files
        .iter()
        .map(|f| saved::read(f).with_context(|| format!("reading {}", f.display())))
        .collect::<Result<Vec<_>>>()?;
    let merged = merge::merge(shards, &a.files)?;
    for w in &merged.warnings {
        eprintln!("blast: warning: {w}");
    }
    super::finish(&merged.results, &a.outputs)
}
