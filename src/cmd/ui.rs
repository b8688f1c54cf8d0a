//! `blast ui` (the page with the start form) and the dashboard's flags on a run (`--web`,
//! `--metrics-only`, `--web-token`): flags → `web` settings; runs started from the page go
//! through the same coordinator as a command-line run.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::engine::steer::Steering;
use crate::os::DriverChoice;
use crate::plan::PlanInput;
use crate::scenario;
use crate::units::parse_duration;
use crate::web::{scenario_choices, Dashboard, Launcher, Mode, UiSetup, WebSettings};
use crate::{coordinator, os};
use std::process::ExitCode;

/// Where the dashboard listens unless told: Locust's port, loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8089";

/// `--web`, `--metrics-only` and `--web-token` on a command-line run.
#[derive(Args, Debug, Clone, Default)]
pub struct WebArgs {
    /// Serve the live dashboard (watch and Stop) while the run goes, on ADDR [default: 127.0.0.1:8089]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true,
          default_missing_value = DEFAULT_ADDR)]
    pub web: Option<SocketAddr>,
    /// Serve only Prometheus /metrics (on --web's address or the default)
    #[arg(long)]
    pub metrics_only: bool,
    /// Access token the dashboard requires; needed beyond 127.0.0.1 (else one is generated and printed)
    #[arg(long, value_name = "TOKEN")]
    pub web_token: Option<String>,
}

impl WebArgs {
    /// The dashboard these flags ask for, serving already; None without `--web`/`--metrics-only`.
    pub fn open(&self) -> anyhow::Result<Option<Dashboard>> {
        if self.web.is_none() && !self.metrics_only {
            return Ok(None);
        }
        let addr = match self.web {
            Some(a) => a,
            None => DEFAULT_ADDR.parse().expect("constant address"),
        };
        let mode = if self.metrics_only {
            Mode::MetricsOnly
        } else {
            Mode::Watch
        };
        let settings = WebSettings::new(addr, self.web_token.clone());
        Dashboard::serve(&settings, mode, None)
            .map(Some)
            .with_context(|| format!("serving the dashboard on {addr}"))
    }
}

/// `blast ui`: the page with the start form.
#[derive(Args, Debug)]
pub struct UiArgs {
    /// Scenario file offered first in the form (the files in --scenarios-dir are offered too)
    #[arg(value_name = "SCENARIO.toml")]
    pub scenario: Option<PathBuf>,
    /// Address to serve the page on
    #[arg(long, default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// Access token the page requires; needed beyond 127.0.0.1 (else one is generated and printed)
    #[arg(long, value_name = "TOKEN")]
    pub web_token: Option<String>,
    /// Directory whose *.toml scenarios the form offers
    #[arg(long, default_value = "scenarios")]
    pub scenarios_dir: PathBuf,
    /// Target URL or base URL filled in the form
    #[arg(long)]
    pub host: Option<String>,
    /// Users filled in the form
    #[arg(short = 'u', long)]
    pub users: Option<u64>,
    /// Spawn rate filled in the form
    #[arg(long)]
    pub spawn_rate: Option<f64>,
    /// Open-model rate filled in the form
    #[arg(short = 'R', long)]
    pub rate: Option<f64>,
    /// Pipeline depth filled in the form
    #[arg(short = 'p', long)]
    pub pipeline: Option<usize>,
    /// Run length filled in the form (blank in the form: until Stop)
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Worker threads for every run started from the page
    #[arg(short = 'c', long)]
    pub cores: Option<usize>,
    /// Per-request timeout [default: 10s]
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Connection establishment timeout [default: 5s]
    #[arg(long, value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,
    /// I/O driver
    #[arg(long, value_enum, default_value = "auto")]
    pub driver: DriverChoice,
}

impl UiArgs {
    /// Settings and form defaults; a scenario that does not load is an error before serving.
    pub fn setup(
        self,
        cores: Vec<usize>,
        launcher: Arc<dyn Launcher>,
    ) -> anyhow::Result<(WebSettings, UiSetup)> {
        let scenario = match &self.scenario {
            Some(p) => Some(Arc::new(scenario::load(p)?)),
            None => None,
        };
        let base = PlanInput {
            url: self.host,
            users: self.users,
            spawn_rate: self.spawn_rate,
            rate: self.rate,
            pipeline: self.pipeline,
            duration: self.duration,
            cores: self.cores,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            driver: Some(self.driver),
            scenario,
            quiet: true,
            ..PlanInput::default()
        };
        let ui = UiSetup {
            scenarios: scenario_choices(&self.scenarios_dir, self.scenario.as_deref()),
            base,
            cores,
            launcher,
        };
        Ok((WebSettings::new(self.addr, self.web_token), ui))
    }
}

/// `blast ui`: serves the page until interrupted; the page starts runs through the
/// coordinator like a command-line run.
pub fn run(a: UiArgs) -> anyhow::Result<ExitCode> {
    let launcher = |plan: Arc<crate::plan::Plan>, l: crate::web::Launch| {
        let fd_note = os::raise_fd_limit(plan.load.connections());
        for note in plan.notes.iter().chain(&fd_note) {
            eprintln!("blast: {note}");
        }
        // Edits from the page become new levels on this run's ramp.
        let steering = Arc::new(Steering::new(&plan));
        l.control.set(steering.clone());
        let hooks = coordinator::Hooks {
            sink: Some(l.sink),
            steering: Some(steering),
        };
        coordinator::run_with(plan, l.stop, hooks)
    };
    let (settings, ui) = a.setup(os::available_cores(), Arc::new(launcher))?;
    crate::web::serve_ui(&settings, ui).context("serving the dashboard")?;
    Ok(ExitCode::SUCCESS)
}
