//! Reports of `blast compare`: targets side by side — each round's figure (the limit, or
//! the achieved rate in fixed mode), their median and spread, and p50/p99, failures and
//! errors at the common rate — on stdout, as `--json`, `--csv` (one row per target and
//! round) and `--html` (every target's latency-vs-throughput curve on one chart).
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use super::csv::text_cell;
use super::html::{self, charts, escape};
use super::html::{figure, page_head};
use super::limit::{curve, KNEE_DEFINITION};
use crate::compare::{Comparison, Mode, RoundResult, TargetResult};
use crate::limit::step::StepStats;
use crate::target::shown_url;

/// Shown where a figure does not exist.
const NONE: &str = "-";

/// Round figures of a target (None where a round found no limit).
fn figures(t: &TargetResult) -> Vec<Option<f64>> {
    t.rounds.iter().map(|r| r.result.rps()).collect()
}

/// The median of the figures that exist.
pub fn median(values: &[Option<f64>]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 0 {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

/// (max - min) / median: how far rounds disagree; None with fewer than two figures.
pub fn spread(values: &[Option<f64>]) -> Option<f64> {
    let v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.len() < 2 {
        return None;
    }
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), x| (l.min(*x), h.max(*x)));
    median(values).filter(|m| *m > 0.0).map(|m| (hi - lo) / m)
}

fn rate(v: Option<f64>) -> String {
    v.map_or(NONE.into(), |r| format!("{r:.1}"))
}

fn latency(s: Option<&StepStats>, pick: fn(&crate::limit::step::Percentiles) -> f64) -> String {
    s.and_then(|s| s.latency_ms.as_ref())
        .map_or(NONE.into(), |l| format!("{:.2}ms", pick(l)))
}

fn what(c: &Comparison) -> &'static str {
    match c.mode {
        Mode::Limit => "limit req/s",
        Mode::Fixed => "achieved req/s",
    }
}

fn common_text(c: &Comparison) -> String {
    match (c.mode, c.common_rate) {
        (Mode::Limit, Some(r)) => {
            format!("{r:.1} req/s, the highest rate every target sustained (one more step each)")
        }
        (Mode::Limit, None) => "none: a target sustained no rate".into(),
        (Mode::Fixed, Some(r)) => format!("{r:.1} req/s, the fixed rate (every round merged)"),
        (Mode::Fixed, None) => "closed model: every round merged".into(),
    }
}

/// Header and cells of the side-by-side table.
fn table(c: &Comparison) -> (Vec<String>, Vec<Vec<String>>) {
    let mut head = vec!["target".to_owned(), "url".to_owned()];
    head.extend((1..=c.rounds).map(|r| format!("round {r}")));
    head.extend(["median", "spread", "p50", "p99", "failures", "errors"].map(String::from));
    let rows = c
        .targets
        .iter()
        .map(|t| {
            let f = figures(t);
            let mut row = vec![t.target.name.clone(), shown_url(&t.target.url)];
            row.extend((0..c.rounds).map(|i| rate(f.get(i).copied().flatten())));
            row.push(rate(median(&f)));
            row.push(spread(&f).map_or(NONE.into(), |s| format!("{:.1}%", s * 100.0)));
            let common = t.common.as_ref();
            row.push(latency(common, |l| l.p50));
            row.push(latency(common, |l| l.p99));
            row.push(common.map_or(NONE.into(), |s| format!("{:.2}%", s.failure_share * 100.0)));
            row.push(common.map_or(NONE.into(), |s| s.errors.to_string()));
            row
        })
        .collect();
    (head, rows)
}

/// The side-by-side table printed on stdout.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "blast compare: {} mode, SLO {}, {} round(s), order rotated each round, {}s settle{}",
        match c.mode {
            Mode::Limit => "limit",
            Mode::Fixed => "fixed",
        },
        c.slo,
        c.rounds,
        c.settle.as_secs_f64(),
        if c.interrupted { " (interrupted)" } else { "" }
    );
    let _ = writeln!(
        out,
        "  rounds: {}; p50/p99/failures/errors at the common rate",
        what(c)
    );
    let _ = writeln!(out, "  common rate: {}\n", common_text(c));
    let (head, rows) = table(c);
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&head).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| match i {
                0 | 1 => format!("{cell:<w$}", w = widths[i]),
                _ => format!("{cell:>w$}", w = widths[i]),
            })
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  "));
    }
    out
}

fn round_value(r: &crate::compare::Round) -> Value {
    let mut v = json!({"round": r.round, "position": r.position, "rps": r.result.rps()});
    match &r.result {
        RoundResult::Limit(o) => v["limit"] = serde_json::to_value(o).unwrap_or(Value::Null),
        RoundResult::Fixed(s) => v["run"] = serde_json::to_value(s).unwrap_or(Value::Null),
    }
    v
}

/// The comparison as JSON.
pub fn to_value(c: &Comparison) -> Value {
    let targets: Vec<Value> = c
        .targets
        .iter()
        .map(|t| {
            let f = figures(t);
            json!({
                "name": t.target.name,
                "url": shown_url(&t.target.url),
                "rounds": t.rounds.iter().map(round_value).collect::<Vec<_>>(),
                "median_rps": median(&f),
                "spread": spread(&f),
                "at_common_rate": t.common,
            })
        })
        .collect();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "command": "compare",
        "mode": c.mode,
        "slo": c.slo,
        "rounds": c.rounds,
        "settle_s": c.settle.as_secs_f64(),
        "common_rate": c.common_rate,
        "knee_definition": KNEE_DEFINITION,
        "interrupted": c.interrupted,
        "targets": targets,
    })
}

pub fn write_json(c: &Comparison, path: &Path) -> std::io::Result<()> {
    super::write_json_value(&to_value(c), path)
}

pub const CSV_HEAD: [&str; 10] = [
    "target",
    "url",
    "round",
    "position",
    "rps",
    "p50_ms",
    "p99_ms",
    "failure_pct",
    "errors",
    "steps",
];

/// One row per target and round; latency of the limit step (limit mode) or of the run.
pub fn write_csv(c: &Comparison, path: &Path) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEAD)?;
    for t in &c.targets {
        for r in &t.rounds {
            let (stats, steps) = match &r.result {
                RoundResult::Limit(o) => (o.limit_step().map(|s| &s.stats), o.steps.len()),
                RoundResult::Fixed(s) => (Some(s), 1),
            };
            let lat = |pick: fn(&crate::limit::step::Percentiles) -> f64| {
                stats
                    .and_then(|s| s.latency_ms.as_ref())
                    .map_or(String::new(), |l| format!("{:.3}", pick(l)))
            };
            w.write_record([
                text_cell(&t.target.name).into_owned(),
                shown_url(&t.target.url),
                r.round.to_string(),
                r.position.to_string(),
                r.result.rps().map_or(String::new(), |v| format!("{v:.3}")),
                lat(|l| l.p50),
                lat(|l| l.p99),
                stats.map_or(String::new(), |s| format!("{:.3}", s.failure_share * 100.0)),
                stats.map_or(String::new(), |s| s.errors.to_string()),
                steps.to_string(),
            ])?;
        }
    }
    super::file::write_atomically(path, &super::csv::into_bytes(w)?)
}

/// Every measured point of a target, all rounds together.
fn target_curve(t: &TargetResult) -> charts::Curve {
    let mut points = Vec::new();
    for r in &t.rounds {
        match &r.result {
            RoundResult::Limit(o) => points.extend(curve(&t.target.name, &o.steps).points),
            RoundResult::Fixed(s) => {
                points.extend(s.latency_ms.map(|l| (s.achieved, l.p50, l.p99)));
            }
        }
    }
    charts::Curve {
        name: t.target.name.clone(),
        points,
    }
}

/// The page: setup, the side-by-side table, and the overlaid curves.
pub fn render_html(c: &Comparison) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let names: Vec<&str> = c.targets.iter().map(|t| t.target.name.as_str()).collect();
    page_head(&mut out, "blast compare", &names.join(" vs "));
    html::key_values(
        &mut out,
        &[
            ("SLO", c.slo.clone()),
            ("Rounds", format!("{} (order rotated each round)", c.rounds)),
            ("Settle", format!("{}s", c.settle.as_secs_f64())),
            ("Round figure", what(c).to_owned()),
            ("Common rate", common_text(c)),
        ],
    );
    let (head, rows) = table(c);
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    out.push_str("<h2>Targets</h2>\n");
    html::table(&mut out, &head, 2, &rows, None);
    let curves: Vec<charts::Curve> = c.targets.iter().map(target_curve).collect();
    let chart = charts::latency_vs_rate(&curves, c.slo_p99_ms.map(|v| ("p99", v)));
    out.push_str("<h2>Latency against throughput</h2>\n");
    figure(
        &mut out,
        "chart-compare",
        "p50 and p99 against achieved req/s, every step of every round",
        &chart,
    );
    let _ = writeln!(
        out,
        "<p>{}</p>",
        escape("Each point is one measured step or run.")
    );
    out.push_str("</main></body></html>\n");
    out
}

pub fn write_html(c: &Comparison, path: &Path) -> std::io::Result<()> {
    super::file::write_atomically(path, render_html(c).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread_skip_missing_rounds() {
        assert_eq!(median(&[Some(3.0), None, Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(median(&[Some(1.0), Some(2.0)]), Some(1.5));
        assert_eq!(median(&[None]), None);
        assert_eq!(spread(&[Some(90.0), Some(110.0)]), Some(0.2));
        assert_eq!(spread(&[Some(90.0), None]), None);
    }
}
