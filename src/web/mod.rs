//! The live web dashboard (`blast ui`, `--web`) and Prometheus `/metrics` (`--metrics-only`):
//! Locust's web UI in front of blast's engine.
//!
//! The server runs on threads of its own and reads only plain data: the coordinator hands
//! each closed `Second` and the run's merged totals to a sink ([`Dashboard::attach`]), which
//! copies the figures and queues one event per browser (bounded, dropping the oldest, so a
//! hung browser never slows a run). Runs started from the page go through a [`Launcher`] the
//! command layer provides; edits of a running test go to the engine's [`LoadControl`].
//!
//! Files: `server` (HTTP over std::net), `security` (token, Host, Origin, CSRF), `routes`,
//! `stream` (per-client queues), `frame` (the page's per-second JSON), `metrics`
//! (exposition text), `form` (start/edit forms → `Plan`), `dashboard` (state), `control`
//! (launcher and load-control seams), `page` (embedded files), `study` (`blast limit` and
//! `blast compare` shown run by run, step by step). Its flags live in `cmd::ui`.
mod control;
mod dashboard;
mod form;
mod frame;
pub mod metrics;
mod page;
mod routes;
pub mod security;
mod server;
pub mod stream;
mod study;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use control::{ControlSlot, Edit, Launch, Launcher, LoadControl, Sink};
pub use dashboard::{Mode, Phase, UiSetup};
pub use form::{scenario_choices, ScenarioChoice, StartForm};
pub use study::StudyView;

use crate::plan::Plan;
use crate::results::Results;
use dashboard::Shared;
use security::Guard;

/// Where to listen and the access token, if any.
#[derive(Clone, Debug)]
pub struct WebSettings {
    pub addr: SocketAddr,
    /// Required on every request when set; generated when binding beyond loopback without one.
    pub token: Option<String>,
}

impl WebSettings {
    /// `addr` with `token`; beyond loopback a missing token is generated (and printed once by
    /// `Dashboard::serve`).
    pub fn new(addr: SocketAddr, token: Option<String>) -> Self {
        let token = match token {
            None if !addr.ip().is_loopback() => Some(security::random_token()),
            t => t,
        };
        WebSettings { addr, token }
    }
}

/// A running dashboard server.
pub struct Dashboard {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Dashboard {
    /// Binds and serves on a thread of its own; prints where (with the token, once).
    pub fn serve(settings: &WebSettings, mode: Mode, ui: Option<UiSetup>) -> io::Result<Self> {
        let guard = Guard::new(settings.addr, settings.token.clone());
        let shared = Shared::new(mode, guard, ui);
        let handler = Arc::new(routes::Routes(shared.clone()));
        let addr = server::spawn(settings.addr, handler)?;
        let what = match mode {
            Mode::MetricsOnly => "metrics at",
            _ => "dashboard at",
        };
        let path = if mode == Mode::MetricsOnly {
            "metrics"
        } else {
            ""
        };
        match &settings.token {
            Some(t) => eprintln!("blast: {what} http://{addr}/{path}?token={t}"),
            None => eprintln!("blast: {what} http://{addr}/{path}"),
        }
        Ok(Dashboard { shared, addr })
    }

    /// The bound address (port 0 resolved).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shows a command-line run: the sink to hand the coordinator (`coordinator::Hooks::sink`).
    pub fn attach(&self, plan: &Plan, stop: Arc<AtomicBool>) -> Sink {
        self.shared.begin(plan, stop, ControlSlot::default())
    }

    /// Shows a study (`blast limit`, `blast compare`) described by `title` whose first plan is
    /// `plan`: its runner's runs and its steps go to the view; Stop sets `stop`.
    pub fn watch_study(&self, plan: &Plan, title: String, stop: Arc<AtomicBool>) -> Arc<StudyView> {
        Arc::new(StudyView::open(self.shared.clone(), plan, title, stop))
    }

    /// The run is over: its results become the downloads.
    pub fn finish(&self, results: &Results) {
        self.shared.end(results.clone());
    }
}

/// `blast ui`: serves the start form and runs what it asks for, until the process ends.
pub fn serve_ui(settings: &WebSettings, ui: UiSetup) -> io::Result<()> {
    let _dashboard = Dashboard::serve(settings, Mode::Ui, Some(ui))?;
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_loopback_a_token_is_always_required() {
        let open = WebSettings::new("0.0.0.0:8089".parse().unwrap(), None);
        let token = open.token.expect("a generated token");
        assert_eq!(token.len(), 2 * security::TOKEN_BYTES);
        let given = WebSettings::new("10.0.0.1:8089".parse().unwrap(), Some("t".into()));
        assert_eq!(given.token.as_deref(), Some("t"));
        let local = WebSettings::new("127.0.0.1:8089".parse().unwrap(), None);
        assert_eq!(local.token, None, "loopback alone needs none");
    }
}
