//! Flag groups shared by the subcommands (clap derive), each flattened where it applies:
//! what to load ([`TargetArgs`], [`LoadArgs`]) into `run` and `limit` (and the load alone
//! into `compare`), what to write ([`ReportArgs`] for one run, [`StudyFiles`] for a search
//! or comparison), and how to search ([`SearchArgs`]). A flag a command does not take is
//! not offered, so clap refuses it with its usual message.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::gates::{self, Gate};
use crate::limit::slo::{self, Slo};
use crate::limit::{self, Settings};
use crate::os::DriverChoice;
use crate::plan::PlanInput;
use crate::scenario;
use crate::tls::TlsOptions;
use crate::units::parse_duration;

/// The target of a run or a search: a URL, or a scenario's host.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// Target URL, e.g. http://127.0.0.1:8080/health
    #[arg(required_unless_present_any = ["scenario", "host"])]
    pub url: Option<String>,
    /// Target base URL for a scenario's paths, e.g. http://127.0.0.1:8001
    #[arg(long, conflicts_with = "url")]
    pub host: Option<String>,
}

impl TargetArgs {
    pub fn url(self) -> Option<String> {
        self.url.or(self.host)
    }
}

/// What every request looks like and what sends it: the engine's settings.
#[derive(Args, Debug, Clone, Default)]
pub struct LoadArgs {
    /// Scenario file (TOML): tasks, think time, load shape; flags override its settings
    #[arg(short = 's', long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Variables (dotenv format) for the scenario's {env.NAME} placeholders; the environment wins
    #[arg(long, value_name = "FILE", requires = "scenario")]
    pub env_file: Option<PathBuf>,
    /// Worker threads, each pinned to its own core [default: every core this process may use]
    #[arg(short = 'c', long)]
    pub cores: Option<usize>,
    /// Concurrent users (closed model: one keep-alive connection each) [default: 50]
    #[arg(short = 'u', long)]
    pub users: Option<u64>,
    /// Requests in flight per connection (HTTP/1.1 pipelining) [default: 1]
    #[arg(short = 'p', long)]
    pub pipeline: Option<usize>,
    /// Per-request timeout [default: 10s]
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Connection establishment timeout [default: 5s]
    #[arg(long, value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,
    /// HTTP method [default: GET, or POST with a body]
    #[arg(short = 'm', long)]
    pub method: Option<String>,
    /// Extra request header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body
    #[arg(short = 'b', long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Request body read from a file
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// I/O driver: io_uring with epoll fallback (auto), io_uring only, or epoll only
    #[arg(long, value_enum, default_value = "auto")]
    pub driver: DriverChoice,
    /// No live view
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Keep a cookie jar per user: Set-Cookie comes back as Cookie (scenarios: `cookies`)
    #[arg(long, conflicts_with = "scenario")]
    pub cookies: bool,
    /// Follow up to N same-origin redirects per request [default: 0] (scenarios: `follow_redirects`)
    #[arg(long, value_name = "N", conflicts_with = "scenario",
          value_parser = clap::value_parser!(u32).range(0..=crate::scenario::MAX_FOLLOW as i64))]
    pub follow: Option<u32>,
    /// One request per connection, sent with 'Connection: close' (connection churn)
    #[arg(long)]
    pub no_keepalive: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// How to reach an https:// target (ignored, with a note, for http://).
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Trust the CA certificates in FILE (PEM) besides the built-in Mozilla roots
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate chain (PEM) for servers that ask for one (mTLS); needs --key
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Accept any server certificate (every report says so)
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Run a full TLS handshake on every connection (no session resumption)
    #[arg(long)]
    pub no_tls_resume: bool,
    /// Connect to ADDR:PORT for HOST:PORT, keeping the URL's name for Host, SNI and the
    /// certificate check (curl's meaning; repeatable)
    #[arg(long, value_name = "HOST:PORT:ADDR:PORT")]
    pub connect_to: Vec<String>,
}

impl TlsArgs {
    fn options(&self) -> TlsOptions {
        TlsOptions {
            cacert: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            insecure: self.insecure,
            no_resume: self.no_tls_resume,
        }
    }
}

impl LoadArgs {
    /// The plan input for `url` with these settings (files read, the scenario loaded); the
    /// caller fills in the load model's own flags.
    pub fn into_input(self, url: Option<String>) -> Result<PlanInput> {
        let body = match (self.body, &self.body_file) {
            (Some(b), _) => Some(b.into_bytes()),
            (None, Some(path)) => {
                Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
            }
            (None, None) => None,
        };
        let scenario = match &self.scenario {
            Some(path) => Some(Arc::new(scenario::load_with_env_file(
                path,
                self.env_file.as_deref(),
            )?)),
            None => None,
        };
        Ok(PlanInput {
            url,
            scenario,
            cores: self.cores,
            users: self.users,
            pipeline: self.pipeline,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            method: self.method,
            headers: self.headers,
            body,
            driver: Some(self.driver),
            quiet: self.quiet,
            tls: self.tls.options(),
            connect_to: self.tls.connect_to,
            no_keepalive: self.no_keepalive,
            cookies: self.cookies,
            follow: self.follow.unwrap_or(0),
            ..PlanInput::default()
        })
    }
}

/// What a finished run leaves behind: shared by a run, `report` and `merge`.
#[derive(Args, Debug, Clone, Default)]
pub struct ReportArgs {
    /// Write machine-readable results to FILE
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write Locust-compatible CSV: PREFIX_stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// With --csv: per-task rows in the history file too, not only the aggregate
    #[arg(long, requires = "csv")]
    pub csv_full_history: bool,
    /// Write a self-contained HTML report with charts to FILE
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Append one row for this run to a CSV that grows across runs
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// A label for this run in --history (a git commit, a server build)
    #[arg(long, requires = "history")]
    pub label: Option<String>,
    /// A condition the run must meet, else exit code 1: 'p99<250ms', 'failures<1%',
    /// 'rps>=500', 'task:NAME:p95<100ms' (repeatable)
    #[arg(long = "fail-on", value_name = "GATE", value_parser = gates::parse)]
    pub fail_on: Vec<Gate>,
}

impl ReportArgs {
    /// Refuses, before the run, report paths that could not be written (see
    /// [`super::check_outputs`]): the CSV prefix's four files and an existing `--history`
    /// that is not a blast history included.
    pub fn check(&self) -> Result<()> {
        let csv_files: Vec<Option<PathBuf>> = self
            .csv
            .iter()
            .flat_map(|prefix| {
                crate::report::csv::SUFFIXES
                    .map(|s| Some(crate::report::csv::with_suffix(prefix, s)))
            })
            .collect();
        let mut paths = vec![&self.json, &self.html, &self.history];
        paths.extend(csv_files.iter());
        super::check_outputs(&paths)?;
        if let Some(h) = &self.history {
            crate::report::history::existing(h)
                .with_context(|| format!("cannot append to {}", h.display()))?;
        }
        Ok(())
    }
}

/// What a search or a comparison writes; each command says what goes in them.
#[derive(Args, Debug, Clone, Default)]
pub struct StudyFiles {
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

impl StudyFiles {
    /// Refuses, before the first run, paths that could not be written.
    pub fn check(&self) -> Result<()> {
        super::check_outputs(&[&self.json, &self.csv, &self.html])
    }
}

/// The search and its objectives, shared by `limit` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// Latency objective on the p99: shorthand for --slo 'p99<DURATION'
    #[arg(long, value_name = "DURATION", value_parser = slo::parse_p99)]
    pub slo_p99: Option<Gate>,
    /// Latency objective, as a --fail-on gate: 'p95<100ms', 'task:predict:p99<250ms' (repeatable)
    #[arg(long = "slo", value_name = "OBJECTIVE", value_parser = slo::parse_objective)]
    pub slo: Vec<Gate>,
    /// Most failed requests (missed expectations + errors) a sustainable step may have [default: 1%]
    #[arg(long, value_name = "SHARE", value_parser = slo::parse_share)]
    pub max_failures: Option<f64>,
    /// First rate tried, req/s [default: half of what a 2s closed-model probe achieves]
    #[arg(long, value_name = "RATE")]
    pub start_rate: Option<f64>,
    /// Length of each measured step [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub step: Option<Duration>,
    /// Unmeasured load at the step's rate before each step, on its connections [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Stop when the last good and first bad rate are this close [default: 5%]
    #[arg(long, value_name = "SHARE", value_parser = slo::parse_share)]
    pub precision: Option<f64>,
    /// Most steps the search may run [default: 20]
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
}

impl SearchArgs {
    /// The SLO and search settings around `base`; connections default to the search's.
    pub fn settings(&self, mut base: PlanInput) -> Result<Settings> {
        base.users = Some(base.users.unwrap_or(limit::DEFAULT_CONNECTIONS));
        let precision = self.precision.unwrap_or(limit::DEFAULT_PRECISION);
        if let Some(r) = self.start_rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            bail!("--start-rate must be a positive number, got {r}");
        }
        if precision <= 0.0 {
            bail!("--precision must be above 0%");
        }
        let step = self.step.unwrap_or(limit::DEFAULT_STEP);
        if step.is_zero() {
            bail!("--step must be longer than 0s");
        }
        Ok(Settings {
            base,
            slo: self.slo(),
            step,
            warmup: self.warmup.unwrap_or(limit::DEFAULT_WARMUP),
            precision,
            max_steps: self.max_steps.unwrap_or(limit::DEFAULT_MAX_STEPS),
            start_rate: self.start_rate,
        })
    }

    fn slo(&self) -> Slo {
        Slo {
            objectives: self.slo_p99.iter().chain(&self.slo).cloned().collect(),
            max_failures: self.max_failures.unwrap_or(slo::DEFAULT_MAX_FAILURES),
        }
    }
}
