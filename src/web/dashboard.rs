//! The dashboard's state: which run it shows (idle, running, stopping, finished), the chart
//! points and latest table of that run, its `/metrics` figures, its change log and, once it
//! ends, its `Results` for downloads. The coordinator writes it through the sink once a
//! second; the server's threads read it. One lock, held only to copy figures in or out.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::control::{ControlSlot, Edit, Launch, Launcher, Sink};
use super::form::{ScenarioChoice, StartForm};
use super::frame;
use super::metrics::Metrics;
use super::security::Guard;
use super::stream::{event, Hub, Queue};
use crate::plan::{Plan, PlanInput};
use crate::results::PlanInfo;
use crate::results::{Results, Second};
use crate::stats::Merged;

/// Where the run shown is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Idle,
    Running,
    Stopping,
    Finished,
}

/// What the server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `blast ui`: the start form, control and downloads.
    Ui,
    /// `--web` on a command-line run: watch and stop.
    Watch,
    /// `--metrics-only`: only `/metrics`.
    MetricsOnly,
}

/// What `blast ui` needs to start runs from the form.
pub struct UiSetup {
    /// The command line's engine flags; the form's fields go over them.
    pub base: PlanInput,
    pub scenarios: Vec<ScenarioChoice>,
    /// Cores the process may use (`Plan::build`'s `available`).
    pub cores: Vec<usize>,
    pub launcher: Arc<dyn Launcher>,
}

/// The run shown and everything drawn from it.
struct Run {
    phase: Phase,
    plan: Option<PlanInfo>,
    stop: Option<Arc<AtomicBool>>,
    control: ControlSlot,
    started_at: SystemTime,
    points: Vec<Value>,
    latest: Value,
    edits: Vec<Value>,
    /// A study's judged steps (`blast limit`, `blast compare`), each with its chart time.
    steps: Vec<Value>,
    /// What the study is, for the header; None for a single run.
    study: Option<String>,
    metrics: Metrics,
    /// The totals and seconds so far, for downloads while it runs.
    totals: Option<Merged>,
    timeline: Vec<Second>,
    results: Option<Arc<Results>>,
}

impl Run {
    fn idle() -> Self {
        Run {
            phase: Phase::Idle,
            plan: None,
            stop: None,
            control: ControlSlot::default(),
            started_at: SystemTime::now(),
            points: Vec::new(),
            latest: Value::Null,
            edits: Vec::new(),
            steps: Vec::new(),
            study: None,
            metrics: Metrics::default(),
            totals: None,
            timeline: Vec::new(),
            results: None,
        }
    }
}

/// Shared between the server's threads, the coordinator's sink and the run thread.
pub struct Shared {
    pub mode: Mode,
    pub guard: Guard,
    pub hub: Hub,
    pub ui: Option<UiSetup>,
    run: Mutex<Run>,
}

/// Why a control request is refused: an HTTP status and a message for the page.
pub type Refused = (u16, Value);

fn refused(status: u16, field: &str, message: impl Into<String>) -> Refused {
    (status, json!({"field": field, "message": message.into()}))
}

impl Shared {
    pub fn new(mode: Mode, guard: Guard, ui: Option<UiSetup>) -> Arc<Self> {
        Arc::new(Shared {
            mode,
            guard,
            hub: Hub::default(),
            ui,
            run: Mutex::new(Run::idle()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Run> {
        self.run.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state_of(&self, run: &Run) -> Value {
        let ui = self.ui.as_ref();
        json!({
            "mode": self.mode,
            "phase": run.phase,
            "plan": run.plan,
            "points": run.points,
            "latest": run.latest,
            "edits": run.edits,
            "steps": run.steps,
            "study": run.study,
            "scenarios": ui.map(|u| u.scenarios.iter().map(|c| c.name.clone()).collect::<Vec<_>>()),
            "defaults": ui.map(|u| json!({
                "url": u.base.url,
                "users": u.base.users,
                "spawn_rate": u.base.spawn_rate,
                "rate": u.base.rate,
                "pipeline": u.base.pipeline,
                "duration": u.base.duration.map(|d| d.as_secs_f64()),
                "scenario": u.base.scenario.as_ref().map(|s| s.source.display().to_string()),
            })),
            "editable": run.control.get().is_some(),
        })
    }

    /// The whole state, as `/api/state` and a new stream's first event carry it.
    pub fn state(&self) -> Value {
        self.state_of(&self.lock())
    }

    /// A new stream: its queue, and the state event to send first. Taken under the run's
    /// lock so no second is missed or sent twice.
    pub fn subscribe(&self) -> (Vec<u8>, Arc<Queue>) {
        let run = self.lock();
        let first = event("state", &self.state_of(&run));
        (first.as_bytes().to_vec(), self.hub.subscribe())
    }

    fn publish_state(&self, run: &Run) {
        self.hub.publish(&event("state", &self.state_of(run)));
    }

    /// `/metrics` text.
    pub fn metrics(&self) -> String {
        let run = self.lock();
        let mut m = run.metrics.clone();
        m.running = run.phase == Phase::Running || run.phase == Phase::Stopping;
        super::metrics::render(&m)
    }

    /// Shows a new run of `plan` and returns the sink the coordinator feeds.
    pub fn begin(
        self: &Arc<Self>,
        plan: &Plan,
        stop: Arc<AtomicBool>,
        control: ControlSlot,
    ) -> Sink {
        self.open(plan.info(), stop, control, None);
        self.sink(plan, 0.0)
    }

    /// Shows a new run, or a study of many (`study` says what it is), stoppable by `stop`.
    pub fn open(
        &self,
        info: PlanInfo,
        stop: Arc<AtomicBool>,
        control: ControlSlot,
        study: Option<String>,
    ) {
        let mut run = self.lock();
        *run = Run {
            phase: Phase::Running,
            plan: Some(info),
            stop: Some(stop),
            control,
            study,
            ..Run::idle()
        };
        self.publish_state(&run);
    }

    /// A study's next run of `plan` begins: the header, table and downloads show it from now.
    pub fn next_run(&self, plan: &Plan) {
        let mut run = self.lock();
        run.plan = Some(plan.info());
        run.totals = None;
        run.timeline.clear();
        run.started_at = SystemTime::now();
        self.publish_state(&run);
    }

    /// The sink for one run of `plan`, its seconds drawn `offset_s` after the shown run (or
    /// study) began, so a study's runs follow each other on one time axis.
    pub fn sink(self: &Arc<Self>, plan: &Plan, offset_s: f64) -> Sink {
        let info = plan.info();
        let shared = self.clone();
        let mut sent_before = 0;
        Box::new(move |second: &Second, totals: &Merged| {
            let mut f = frame::second_frame(second, totals, &info.tasks);
            f["point"][0] = json!(offset_s + second.elapsed_s);
            let metrics = Metrics::observe(second, totals, &info.tasks, &info.load, sent_before);
            sent_before = totals.sent;
            let mut run = shared.lock();
            run.points.push(f["point"].clone());
            run.latest = f.clone();
            run.metrics = metrics;
            run.totals = Some(totals.clone());
            run.timeline.push(second.clone());
            shared.hub.publish(&event("second", &f));
        })
    }

    /// A study judged a step: a row of its table and a marker on the charts.
    pub fn step(&self, entry: Value) {
        let mut run = self.lock();
        run.steps.push(entry.clone());
        self.hub.publish(&event("step", &entry));
    }

    /// A study is over (its reports written): the last run stays for downloads.
    pub fn end_study(&self) {
        let mut run = self.lock();
        run.phase = Phase::Finished;
        run.stop = None;
        self.publish_state(&run);
    }

    /// The run is over: keep its results for downloads and tell the pages.
    pub fn end(&self, results: Results) {
        let mut run = self.lock();
        run.phase = Phase::Finished;
        run.stop = None;
        run.control = ControlSlot::default();
        run.results = Some(Arc::new(results));
        self.publish_state(&run);
    }

    /// Starts the form's run on a thread of its own.
    pub fn start(self: &Arc<Self>, form: &StartForm) -> Result<(), Refused> {
        let ui = self
            .ui
            .as_ref()
            .ok_or_else(|| refused(404, "form", "this server only watches"))?;
        if matches!(self.lock().phase, Phase::Running | Phase::Stopping) {
            return Err(refused(
                409,
                "form",
                "a test is already running: stop it first",
            ));
        }
        let plan = form
            .plan(&ui.base, &ui.scenarios, &ui.cores)
            .map_err(|e| refused(422, e.field, e.message))?;
        let plan = Arc::new(plan);
        let stop = Arc::new(AtomicBool::new(false));
        let control = ControlSlot::default();
        let sink = self.begin(&plan, stop.clone(), control.clone());
        let (shared, launcher) = (self.clone(), ui.launcher.clone());
        std::thread::Builder::new()
            .name("blast-web-run".into())
            .spawn(move || {
                let results = launcher.launch(
                    plan,
                    Launch {
                        stop,
                        sink,
                        control,
                    },
                );
                shared.end(results);
            })
            .map_err(|e| refused(503, "form", format!("cannot start the run: {e}")))?;
        Ok(())
    }

    /// Asks the running test to stop; it reports and ends as after Ctrl-C.
    pub fn stop(&self) -> Result<(), Refused> {
        let mut run = self.lock();
        let Some(stop) = run.stop.clone().filter(|_| run.phase == Phase::Running) else {
            return Err(refused(409, "form", "no test is running"));
        };
        stop.store(true, Ordering::SeqCst);
        run.phase = Phase::Stopping;
        self.publish_state(&run);
        Ok(())
    }

    /// Applies `edit` to the running test through the engine's control, and logs it.
    pub fn edit(&self, edit: &Edit) -> Result<(), Refused> {
        let mut run = self.lock();
        if run.phase != Phase::Running {
            return Err(refused(409, "form", "no test is running"));
        }
        let control = run.control.get().ok_or_else(|| {
            refused(
                501,
                "form",
                "this engine cannot change a running test yet (no LoadControl)",
            )
        })?;
        control.apply(edit).map_err(|m| refused(422, "form", m))?;
        let t = run.points.last().and_then(|p| p[0].as_f64()).unwrap_or(0.0);
        let entry = json!({"t": t, "what": edit.describe(), "edit": edit});
        run.edits.push(entry.clone());
        self.hub.publish(&event("edit", &entry));
        Ok(())
    }

    /// "New test": back to the form once the last run is over.
    pub fn reset(&self) -> Result<(), Refused> {
        if self.ui.is_none() {
            return Err(refused(404, "form", "this server only watches"));
        }
        let mut run = self.lock();
        if matches!(run.phase, Phase::Running | Phase::Stopping) {
            return Err(refused(409, "form", "stop the running test first"));
        }
        *run = Run::idle();
        self.publish_state(&run);
        Ok(())
    }

    /// The results to download: the finished run's, or the running one's so far.
    pub fn results(&self) -> Option<Arc<Results>> {
        let run = self.lock();
        if let Some(r) = &run.results {
            return Some(r.clone());
        }
        let (plan, totals) = (run.plan.clone()?, run.totals.clone()?);
        let elapsed = run.timeline.last().map_or(0.0, |s| s.elapsed_s);
        Some(Arc::new(Results {
            plan,
            totals,
            elapsed: Duration::from_secs_f64(elapsed),
            started_at: run.started_at,
            driver: "running".into(),
            worker_failures: Vec::new(),
            timeline: run.timeline.clone(),
            interrupted: false,
            changes: Vec::new(),
        }))
    }
}
