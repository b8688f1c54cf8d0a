//! `blast serve`: the built-in model API, a target to try blast (and other tools) on.
use anyhow::{Context, Result};
use clap::Args;

use crate::os;
use crate::serve;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  blast serve --addr 127.0.0.1:8080\n  blast serve --addr 127.0.0.1:8080 --threads 2"
)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Server threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub limits: serve::Limits,
}

pub fn run(a: &ServeArgs) -> Result<()> {
    let threads = a.threads.unwrap_or_else(os::available_cores_count);
    serve::serve(
        &serve::ServeConfig {
            addr: a.addr,
            threads,
        },
        &a.limits,
    )
    .context("serving")
}
