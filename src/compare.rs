//! `blast compare`: placeholder.
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {}

pub fn run(_a: CompareArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
