//! Command-line flags (clap derive) and the edge where errors become exit codes. Flags are
//! turned into a `PlanInput`; `Plan::build` validates it before any thread starts.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::plan::{DriverChoice, Plan, PlanInput};
use crate::{coordinator, merge, report, scenario, serve};

/// File descriptors kept for everything but connections (stdio, ring, channels, reports).
pub const SPARE_FDS: u64 = 64;

#[derive(Parser, Debug)]
#[command(
    name = "blast",
    version,
    about = "A thread-per-core io_uring HTTP/1.1 load generator",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve a built-in model API (GET /health, POST /predict) to load-test against.
    Serve(ServeArgs),
    /// Render a saved run again (`run.json`), or list past runs (`history.csv --markdown`).
    Report(ReportCmd),
    /// Combine the JSON reports of sharded runs into one, exactly.
    Merge(MergeCmd),
    /// Find the highest request rate the target sustains under an SLO.
    Limit(Box<crate::limit::LimitArgs>),
    /// Run the same load against several targets in turn and compare them side by side.
    Compare(Box<crate::compare::CompareArgs>),
    /// Serve the live web dashboard: start, watch, edit, stop and download tests from a browser.
    Ui(Box<crate::web::UiArgs>),
}

#[derive(Args, Debug)]
pub struct ReportCmd {
    /// A `--json` report, or with --markdown a `--history` CSV
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the last runs of a --history CSV as a Markdown table, newest first
    #[arg(long)]
    pub markdown: bool,
    /// With --markdown: how many runs
    #[arg(long, default_value_t = report::history::DEFAULT_LAST, requires = "markdown")]
    pub last: usize,
    #[command(flatten)]
    pub outputs: ReportArgs,
}

#[derive(Args, Debug)]
pub struct MergeCmd {
    /// The shards' `--json` reports
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub outputs: ReportArgs,
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
    #[arg(long = "fail-on", value_name = "GATE", value_parser = report::gates::parse)]
    pub fail_on: Vec<report::gates::Gate>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Server threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Target URL, e.g. http://127.0.0.1:8080/health
    #[arg(required_unless_present_any = ["scenario", "host"])]
    pub url: Option<String>,
    /// Scenario file (TOML): tasks, think time, load shape; flags override its settings
    #[arg(short = 's', long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Target base URL for a scenario's paths, e.g. http://127.0.0.1:8001
    #[arg(long, conflicts_with = "url")]
    pub host: Option<String>,
    /// Users started per second (closed model) [default: all at once]
    #[arg(long)]
    pub spawn_rate: Option<f64>,
    /// Worker threads, each pinned to its own core [default: every core this process may use]
    #[arg(short = 'c', long)]
    pub cores: Option<usize>,
    /// Concurrent users (closed model: one keep-alive connection each) [default: 50]
    #[arg(short = 'u', long)]
    pub users: Option<u64>,
    /// Open model: requests per second in total, on a fixed schedule; --users caps connections
    #[arg(short = 'R', long)]
    pub rate: Option<f64>,
    /// Requests in flight per connection (HTTP/1.1 pipelining) [default: 1]
    #[arg(short = 'p', long)]
    pub pipeline: Option<usize>,
    /// Run length, e.g. 30s, 1m [default: 10s unless --requests is given]
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many requests in total
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
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
    /// Shard I of N (0-based): run this process's share of the plan; see `blast merge`
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::shard::Shard>,
    /// Wait until this instant before starting (RFC 3339 or unix seconds), so shards start together
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    #[command(flatten)]
    pub outputs: ReportArgs,
    /// No live view
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub web: crate::web::WebArgs,
}

/// "30s", "1m30s", "250ms", or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| e.to_string());
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 1m, 250ms)"))
}

/// `--start-at`: RFC 3339 (`2026-11-25T15:00:00Z`) or unix seconds (`1764082800`).
pub fn parse_start_at(s: &str) -> Result<SystemTime, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let since = Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())?;
        return Ok(SystemTime::UNIX_EPOCH + since);
    }
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("{e} (try 2026-11-25T15:00:00Z or unix seconds)"))
}

/// Parses flags and runs; errors here are usage or setup errors (exit code 2).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(a)) => run_serve(&a).map(|()| ExitCode::SUCCESS),
        Some(Command::Report(a)) => run_report(&a),
        Some(Command::Merge(a)) => run_merge(&a),
        Some(Command::Limit(a)) => crate::limit::run(*a),
        Some(Command::Compare(a)) => crate::compare::run(*a),
        Some(Command::Ui(a)) => run_ui(*a),
        None => run_load(cli.run),
    };
    result.unwrap_or_else(|e| {
        // A scenario error is already `path:line:col: message`, as editors expect.
        match e.downcast_ref::<scenario::ScenarioError>() {
            Some(se) => eprintln!("{se}"),
            None => eprintln!("blast: {e:#}"),
        }
        ExitCode::from(2)
    })
}

fn run_serve(a: &ServeArgs) -> Result<()> {
    let threads = a.threads.unwrap_or_else(available_cores_count);
    serve::serve(&serve::ServeConfig {
        addr: a.addr,
        threads,
    })
    .context("serving")
}

pub(crate) fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

fn available_cores_count() -> usize {
    available_cores().len().max(1)
}

impl RunArgs {
    pub(crate) fn into_input(self) -> Result<PlanInput> {
        let body = match (self.body, &self.body_file) {
            (Some(b), _) => Some(b.into_bytes()),
            (None, Some(path)) => {
                Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
            }
            (None, None) => None,
        };
        let scenario = match &self.scenario {
            Some(path) => Some(Arc::new(scenario::load(path)?)),
            None => None,
        };
        Ok(PlanInput {
            url: self.url.or(self.host),
            scenario,
            spawn_rate: self.spawn_rate,
            cores: self.cores,
            users: self.users,
            rate: self.rate,
            pipeline: self.pipeline,
            duration: self.duration,
            requests: self.requests,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            method: self.method,
            headers: self.headers,
            body,
            driver: Some(self.driver),
            shard: self.shard,
            quiet: self.quiet,
        })
    }
}

fn run_load(args: RunArgs) -> Result<ExitCode> {
    let outputs = args.outputs.clone();
    let start_at = args.start_at;
    let web = args.web.clone();
    let plan = Plan::build(args.into_input()?, &available_cores())?;
    let dashboard = web.open()?;
    let mut notes = plan.notes.clone();
    notes.extend(raise_fd_limit(plan.load.connections()));
    for note in &notes {
        eprintln!("blast: {note}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    install_ctrl_c(stop.clone())?;
    if let Some(at) = start_at {
        notes.push(wait_until(at, &stop));
    }
    let plan = Arc::new(Plan { notes, ..plan });
    let results = match &dashboard {
        Some(d) => {
            coordinator::run_with_sink(plan.clone(), stop.clone(), Some(d.attach(&plan, stop)))
        }
        None => coordinator::run(plan.clone(), stop),
    };
    if let Some(d) = &dashboard {
        d.finish(&results);
    }
    finish(&results, &outputs)
}

/// `blast ui`: the dashboard starts runs through the coordinator, like a command-line run.
fn run_ui(a: crate::web::UiArgs) -> Result<ExitCode> {
    let launcher = |plan: Arc<Plan>, l: crate::web::Launch| {
        for note in plan
            .notes
            .iter()
            .cloned()
            .chain(raise_fd_limit(plan.load.connections()))
        {
            eprintln!("blast: {note}");
        }
        coordinator::run_with_sink(plan, l.stop, Some(l.sink))
    };
    let (settings, ui) = a.setup(available_cores(), Arc::new(launcher))?;
    crate::web::serve_ui(&settings, ui).context("serving the dashboard")?;
    Ok(ExitCode::SUCCESS)
}

fn run_report(a: &ReportCmd) -> Result<ExitCode> {
    if a.markdown {
        print!("{}", report::history::markdown(&a.file, a.last)?);
        return Ok(ExitCode::SUCCESS);
    }
    let results =
        report::saved::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    finish(&results, &a.outputs)
}

fn run_merge(a: &MergeCmd) -> Result<ExitCode> {
    let shards = a
        .files
        .iter()
        .map(|f| report::saved::read(f).with_context(|| format!("reading {}", f.display())))
        .collect::<Result<Vec<_>>>()?;
    let merged = merge::merge(shards, &a.files)?;
    for w in &merged.warnings {
        eprintln!("blast: warning: {w}");
    }
    finish(&merged.results, &a.outputs)
}

/// Prints the summary, writes every report asked for (even after Ctrl-C or against a dead
/// target), then checks the gates: a breach is exit code 1.
fn finish(results: &coordinator::Results, out: &ReportArgs) -> Result<ExitCode> {
    print!("{}", report::text::render(results));
    write_reports(results, out)?;
    let breaches = report::gates::check(&out.fail_on, results);
    for b in &breaches {
        eprintln!("blast: {b}");
    }
    Ok(if breaches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_reports(results: &coordinator::Results, out: &ReportArgs) -> Result<()> {
    write_if(&out.json, |p| report::json::write(results, p))?;
    write_if(&out.csv, |p| {
        report::csv::write(results, p, out.csv_full_history)
    })?;
    write_if(&out.html, |p| report::html::write(results, p))?;
    write_if(&out.history, |p| {
        report::history::append(results, p, out.label.as_deref())
    })
}

/// Writes one report when its path was given, naming the file in any error.
pub(crate) fn write_if(
    path: &Option<PathBuf>,
    write: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
) -> Result<()> {
    match path {
        Some(p) => write(p).with_context(|| format!("writing {}", p.display())),
        None => Ok(()),
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; a note when connections won't fit.
pub(crate) fn raise_fd_limit(connections: u64) -> Option<String> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).ok()?;
    let needed = connections + SPARE_FDS;
    (needed > limit).then(|| {
        format!(
            "--users {connections} needs about {needed} file descriptors but the limit is {limit}: \
             connections beyond it will fail (raise the hard limit: ulimit -Hn)"
        )
    })
}

/// Longest nap while waiting for `--start-at`, so Ctrl-C stays responsive.
const START_AT_POLL: Duration = Duration::from_millis(50);

/// Sleeps until `at` (or Ctrl-C); returns the note saying how far off the start was, which
/// `blast merge` uses to show how well shards started together.
fn wait_until(at: SystemTime, stop: &AtomicBool) -> String {
    if let Ok(ahead) = at.duration_since(SystemTime::now()) {
        eprintln!(
            "blast: waiting {} for --start-at",
            humantime::format_duration(Duration::from_secs(ahead.as_secs()))
        );
    }
    while !stop.load(Ordering::Relaxed) {
        match at.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => std::thread::sleep(left.min(START_AT_POLL)),
            _ => break,
        }
    }
    let off_ms = match SystemTime::now().duration_since(at) {
        Ok(late) => late.as_secs_f64() * 1000.0,
        Err(early) => -early.duration().as_secs_f64() * 1000.0,
    };
    format!("started {off_ms:.1} ms after --start-at")
}

/// First Ctrl-C: stop the run and still report. Second: exit at once.
pub(crate) fn install_ctrl_c(stop: Arc<AtomicBool>) -> Result<()> {
    ctrlc::set_handler(move || {
        if stop.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    })
    .context("installing the Ctrl-C handler")
}
