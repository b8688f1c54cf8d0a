//! Reports of `blast limit`: the step table and verdict on stdout, and `--json`, `--csv`
//! (one row per step) and `--html` (a latency-vs-throughput chart with the SLO line). Every
//! figure comes from a judged step; where there is none the report says so.
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use super::html::{self, charts};
use crate::limit::step::{Step, MIN_ACHIEVED_SHARE};
use crate::limit::{Ended, Outcome, Settings, KNEE_FACTOR};
use crate::results::PlanInfo;

/// How the knee is defined, in every report that shows it.
pub const KNEE_DEFINITION: &str =
    "the highest sustainable rate whose p50 is within 2x the p50 of the lowest rate tried";
const _: () = assert!(KNEE_FACTOR == 2.0, "KNEE_DEFINITION names the factor");

/// What was searched, for the report headers.
#[derive(Clone, Debug)]
pub struct Context {
    pub url: String,
    /// `GET` or the scenario file.
    pub what: String,
    pub slo: String,
    /// The aggregate p99 bound in ms, drawn on the chart.
    pub slo_p99_ms: Option<f64>,
    pub workers: usize,
    pub connections: u64,
    pub pipeline: usize,
    pub step_s: f64,
    pub warmup_s: f64,
    pub precision: f64,
    pub max_steps: usize,
}

impl Context {
    /// The context of a search of `s` whose steps run plans like `plan`.
    pub fn new(plan: &PlanInfo, s: &Settings) -> Self {
        let what = plan.scenario.clone().unwrap_or_else(|| plan.method.clone());
        Context {
            url: plan.url.clone(),
            what,
            slo: s.slo.describe(),
            slo_p99_ms: s.slo.p99_ms(),
            workers: plan.workers,
            connections: plan.load.connections(),
            pipeline: plan.pipeline,
            step_s: s.step.as_secs_f64(),
            warmup_s: s.warmup.as_secs_f64(),
            precision: s.precision,
            max_steps: s.max_steps,
        }
    }

    fn setup_line(&self) -> String {
        format!(
            "SLO {}; {}s steps after {}s warm-up; {} connections, pipeline {}, {} worker(s)",
            self.slo, self.step_s, self.warmup_s, self.connections, self.pipeline, self.workers
        )
    }
}

fn ms(v: f64) -> String {
    format!("{v:.2}ms")
}

fn pct(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

/// The three latency cells of a step, `-` without responses.
fn latency_cells(s: &Step) -> [String; 3] {
    match s.stats.latency_ms {
        Some(l) => [ms(l.p50), ms(l.p95), ms(l.p99)],
        None => ["-".into(), "-".into(), "-".into()],
    }
}

/// One line per judged step, as it finishes (the live view of a search).
pub fn step_line(s: &Step) -> String {
    let [p50, p95, p99] = latency_cells(s);
    let mut line = format!(
        "  step {:>10.1} req/s offered  {:>10.1} achieved  p50 {p50}  p95 {p95}  p99 {p99}  failures {}  {}",
        s.stats.offered,
        s.stats.achieved,
        pct(s.stats.failure_share),
        s.verdict.label()
    );
    if !s.reasons.is_empty() {
        let _ = write!(line, ": {}", s.reasons.join("; "));
    }
    line
}

/// The step table: every step in the order it ran, with the verdict and its reasons.
pub fn steps_table(out: &mut String, steps: &[Step]) {
    let _ = writeln!(
        out,
        "  {:>4} {:>11} {:>11} {:>10} {:>10} {:>10} {:>9}  verdict",
        "#", "offered/s", "achieved/s", "p50", "p95", "p99", "failures"
    );
    for (i, s) in steps.iter().enumerate() {
        let [p50, p95, p99] = latency_cells(s);
        let _ = writeln!(
            out,
            "  {:>4} {:>11.1} {:>11.1} {p50:>10} {p95:>10} {p99:>10} {:>9}  {}",
            i + 1,
            s.stats.offered,
            s.stats.achieved,
            pct(s.stats.failure_share),
            s.verdict.label()
        );
        for r in &s.reasons {
            let _ = writeln!(out, "  {:>4} {r}", "");
        }
    }
}

/// A one-line summary of the limit: rate and its figures, or why there is none.
pub fn limit_text(o: &Outcome) -> String {
    match o.limit_step() {
        Some(s) => {
            let [p50, p95, p99] = latency_cells(s);
            format!(
                "{:.1} req/s (achieved {:.1}; p50 {p50}, p95 {p95}, p99 {p99}, failures {})",
                s.stats.offered,
                s.stats.achieved,
                pct(s.stats.failure_share)
            )
        }
        None => match o.ended {
            Ended::ProbeFailed => "none: the probe got no responses from the target".into(),
            Ended::Interrupted => "none: interrupted before any step held".into(),
            _ => {
                let lowest = o.steps.iter().map(|s| s.stats.offered).reduce(f64::min);
                format!(
                    "none: no rate tried was sustainable (lowest tried {:.1} req/s)",
                    lowest.unwrap_or(0.0)
                )
            }
        },
    }
}

fn knee_text(o: &Outcome) -> String {
    match o.knee_step() {
        Some(s) => format!(
            "{:.1} req/s (p50 {}) — {KNEE_DEFINITION}",
            s.stats.offered,
            s.stats.latency_ms.map_or("-".into(), |l| ms(l.p50))
        ),
        None => format!("none — {KNEE_DEFINITION}"),
    }
}

fn ended_text(c: &Context, o: &Outcome) -> String {
    let n = o.steps.len();
    match o.ended {
        Ended::Converged => format!("converged within {}% after {n} steps", c.precision * 100.0),
        Ended::MaxSteps => format!("stopped at --max-steps {} before converging", c.max_steps),
        Ended::NothingSustainable => format!("no sustainable rate after {n} steps"),
        Ended::ProbeFailed => "the probe got no responses".into(),
        Ended::Interrupted => format!("interrupted after {n} steps"),
    }
}

/// The note that the limit is the client's, when it is.
pub fn client_note(o: &Outcome) -> Option<&'static str> {
    o.client_limited.then_some(
        "the step above the limit failed on the client's side (see its reason): this is the \
         client's limit, the server's is at least this high — raise --users or give blast more cores",
    )
}

/// The summary printed on stdout.
pub fn render(c: &Context, o: &Outcome) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "blast limit {} -> {}", c.what, c.url);
    let _ = writeln!(out, "  {}", c.setup_line());
    if let Some(p) = &o.probe {
        let _ = writeln!(
            out,
            "  probe: {:.2}s closed model with {} users: {:.1} req/s ({} errors); start at {:.1} req/s",
            p.duration_s, p.users, p.rps, p.errors, o.start_rate
        );
    }
    out.push('\n');
    steps_table(&mut out, &o.steps);
    let _ = writeln!(
        out,
        "\n  a step is sustainable when achieved >= {:.0}% of offered, every objective holds and failures stay within the bound",
        MIN_ACHIEVED_SHARE * 100.0
    );
    let _ = writeln!(out, "  limit   {}", limit_text(o));
    let _ = writeln!(out, "  knee    {}", knee_text(o));
    let _ = writeln!(out, "  search  {}", ended_text(c, o));
    if let Some(note) = client_note(o) {
        let _ = writeln!(out, "  note    {note}");
    }
    out
}

/// A step's figures as JSON (the step list and the limit share this shape).
fn step_value(s: &Step) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

/// The whole search as JSON: plan context, SLO, probe, steps, limit and knee.
pub fn to_value(c: &Context, o: &Outcome) -> Value {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "command": "limit",
        "url": c.url,
        "request": c.what,
        "slo": c.slo,
        "plan": {
            "workers": c.workers,
            "connections": c.connections,
            "pipeline": c.pipeline,
            "step_s": c.step_s,
            "warmup_s": c.warmup_s,
            "precision": c.precision,
            "max_steps": c.max_steps,
            "min_achieved_share": MIN_ACHIEVED_SHARE,
        },
        "probe": o.probe,
        "start_rate": o.start_rate,
        "ended": o.ended,
        "limit_rps": o.limit_rps(),
        "limit": o.limit_step().map(step_value),
        "knee_rps": o.knee_step().map(|s| s.stats.offered),
        "knee_definition": KNEE_DEFINITION,
        "client_limited": o.client_limited,
        "steps": o.steps.iter().map(step_value).collect::<Vec<_>>(),
    })
}

pub fn write_json(c: &Context, o: &Outcome, path: &Path) -> std::io::Result<()> {
    super::write_json_value(&to_value(c, o), path)
}

/// CSV columns, one row per step.
pub const CSV_HEAD: [&str; 12] = [
    "step",
    "offered_rps",
    "achieved_rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "failure_pct",
    "errors",
    "late_pct",
    "verdict",
    "limit",
    "reasons",
];

/// The CSV cells of one step, in `CSV_HEAD` order.
pub fn csv_row(i: usize, s: &Step, is_limit: bool) -> Vec<String> {
    let lat = |f: fn(&crate::limit::step::Percentiles) -> f64| {
        s.stats
            .latency_ms
            .as_ref()
            .map_or(String::new(), |l| format!("{:.3}", f(l)))
    };
    vec![
        (i + 1).to_string(),
        format!("{:.3}", s.stats.offered),
        format!("{:.3}", s.stats.achieved),
        lat(|l| l.p50),
        lat(|l| l.p95),
        lat(|l| l.p99),
        format!("{:.3}", s.stats.failure_share * 100.0),
        s.stats.errors.to_string(),
        format!("{:.3}", s.stats.late_share * 100.0),
        s.verdict.label().to_owned(),
        is_limit.to_string(),
        s.reasons.join("; "),
    ]
}

pub fn write_csv(o: &Outcome, path: &Path) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEAD)?;
    for (i, s) in o.steps.iter().enumerate() {
        w.write_record(csv_row(i, s, o.limit == Some(i)))?;
    }
    super::file::write_atomically(path, &super::csv::into_bytes(w)?)
}

/// The measured points of a search for the chart: (achieved, p50, p99).
pub fn curve(name: &str, steps: &[Step]) -> charts::Curve {
    charts::Curve {
        name: name.to_owned(),
        points: steps
            .iter()
            .filter_map(|s| s.stats.latency_ms.map(|l| (s.stats.achieved, l.p50, l.p99)))
            .collect(),
    }
}

/// The step table as HTML rows: verdict and reasons, then the figures.
pub fn steps_html(out: &mut String, steps: &[Step], limit: Option<usize>) {
    let head = [
        "Verdict",
        "Reasons",
        "#",
        "Offered/s",
        "Achieved/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "Failures",
    ];
    let rows: Vec<Vec<String>> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut verdict = s.verdict.label().to_owned();
            if limit == Some(i) {
                verdict.push_str(" (limit)");
            }
            let [p50, p95, p99] = latency_cells(s).map(|c| c.trim_end_matches("ms").to_owned());
            vec![
                verdict,
                s.reasons.join("; "),
                (i + 1).to_string(),
                format!("{:.1}", s.stats.offered),
                format!("{:.1}", s.stats.achieved),
                p50,
                p95,
                p99,
                pct(s.stats.failure_share),
            ]
        })
        .collect();
    html::table(out, &head, 2, &rows, None);
}

/// The page: context, limit and knee, the chart, and every step.
pub fn render_html(c: &Context, o: &Outcome) -> String {
    let mut out = String::with_capacity(64 * 1024);
    html::page_head(&mut out, "blast limit", &c.url);
    let mut rows = vec![
        ("Target", c.url.clone()),
        ("Request", c.what.clone()),
        ("Setup", c.setup_line()),
        ("Limit", limit_text(o)),
        ("Knee", knee_text(o)),
        ("Search", ended_text(c, o)),
    ];
    rows.extend(client_note(o).map(|n| ("Note", n.to_owned())));
    html::key_values(&mut out, &rows);
    let chart =
        charts::latency_vs_rate(&[curve(&c.url, &o.steps)], c.slo_p99_ms.map(|v| ("p99", v)));
    out.push_str("<h2>Latency against throughput</h2>\n");
    html::figure(
        &mut out,
        "chart-limit",
        "p50 and p99 against achieved req/s",
        &chart,
    );
    out.push_str("<h2>Steps</h2>\n");
    steps_html(&mut out, &o.steps, o.limit);
    out.push_str("</main></body></html>\n");
    out
}

pub fn write_html(c: &Context, o: &Outcome, path: &Path) -> std::io::Result<()> {
    super::file::write_atomically(path, render_html(c, o).as_bytes())
}
