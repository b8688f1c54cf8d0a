//! The command line's own conventions: shell completion scripts (clap_complete) and a man
//! page (clap_mangen), both generated from the same clap definitions as the flags.
use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  blast completions bash > ~/.local/share/bash-completion/completions/blast\n  blast completions zsh > ~/.zfunc/_blast\n  blast completions fish > ~/.config/fish/completions/blast.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for `a.shell` on stdout.
pub fn completions(a: &CompletionsArgs) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "blast", &mut script);
    print_all(&script).context("writing the completion script")
}

/// Prints the man page (roff) on stdout.
pub fn man() -> Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("rendering the man page")?;
    print_all(&page).context("writing the man page")
}

/// Writes `bytes` to stdout; a reader that stops early (`blast man | head`) is no error.
fn print_all(bytes: &[u8]) -> std::io::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(e),
        _ => Ok(ExitCode::SUCCESS),
    }
}
