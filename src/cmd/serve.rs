//! `blast serve`: the built-in model API, a target to try blast (and other tools) on.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::os;
use crate::serve;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  blast serve --addr 127.0.0.1:8080\n  blast serve --addr 127.0.0.1:8080 --threads 2\n  blast serve --addr 127.0.0.1:8443 --self-signed target/serve-tls\n  blast serve --addr 127.0.0.1:8443 --tls-cert cert.pem --tls-key key.pem"
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
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a throwaway CA and certificate for localhost, written to DIR
    /// (pass DIR/ca.pem to the client's --cacert)
    #[arg(long, value_name = "DIR", conflicts_with = "tls_cert")]
    pub self_signed: Option<PathBuf>,
}

pub fn run(a: &ServeArgs) -> Result<()> {
    let threads = a.threads.unwrap_or_else(os::available_cores_count);
    let tls = match (&a.tls_cert, &a.tls_key, &a.self_signed) {
        (Some(cert), Some(key), _) => Some(serve::tls::server_config(cert, key)?),
        (_, _, Some(dir)) => {
            let (ca, cert, key) = serve::tls::self_signed(dir)
                .with_context(|| format!("writing a certificate to {}", dir.display()))?;
            eprintln!(
                "blast serve: wrote a throwaway CA to {} (use --cacert {0})",
                ca.display()
            );
            Some(serve::tls::server_config(&cert, &key)?)
        }
        _ => None,
    };
    serve::serve_with(
        &serve::ServeConfig {
            addr: a.addr,
            threads,
        },
        &a.limits,
        tls,
    )
    .context("serving")
}
