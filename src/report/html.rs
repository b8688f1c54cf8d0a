//! `--html FILE`: the run as one self-contained page (plan, summary, per-task table, failures
//! and charts). Styles, SVG charts and the uPlot charts that replace the over-time ones
//! (`interactive`, the dashboard's chart code) are inline, so the file opens offline and loads
//! nothing. Every string from the plan or the run is escaped.
pub(crate) mod charts;
pub mod interactive;

use std::fmt::Write as _;
use std::path::Path;

use clap::ValueEnum as _;

use super::LatencySummary;
use crate::load::Load;
use crate::results::PlanInfo;
use crate::results::Results;
use crate::stats::TaskStats;
use crate::units::per_second;

/// Shown where a figure does not exist (no responses, no limit).
const NONE: &str = "\u{2014}";

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;margin:0;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:28px 0 8px}h3{font-size:16px;margin:0 0 2px}
.sub{color:#666;margin:0 0 12px;word-break:break-all}
table{border-collapse:collapse;background:#fff;margin:4px 0 8px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #dde;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#eef0f5;font-weight:600}td.n,th.n{text-align:right}
tr.total td{font-weight:600;background:#f3f4f8}
table.kv th{width:11em}
td{word-break:break-word}
figure{margin:12px 0 20px;background:#fff;border:1px solid #dde;padding:10px}
.legend{margin:0 0 4px;font-size:14px}.legend span{margin-right:18px;white-space:nowrap}
.legend i{display:inline-block;width:22px;height:3px;margin:0 6px 4px 0;vertical-align:middle}
figure svg{width:100%;height:auto;display:block}
";

/// The report as an HTML document.
pub fn render(r: &Results) -> String {
    let mut out = String::with_capacity(128 * 1024);
    page_head(&mut out, "blast report", &r.plan.url);
    plan_section(&mut out, r);
    summary_section(&mut out, r);
    tasks_section(&mut out, r);
    batches_section(&mut out, r);
    failures_section(&mut out, r);
    charts_section(&mut out, r);
    out.push_str("</main>\n");
    interactive::scripts(&mut out, &r.timeline, &r.changes);
    out.push_str("</body></html>\n");
    out
}

/// Writes the report to `path`.
pub fn write(r: &Results, path: &Path) -> std::io::Result<()> {
    super::file::write_atomically(path, render(r).as_bytes())
}

/// `s` with the characters HTML gives meaning to replaced by references.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn plan_section(out: &mut String, r: &Results) {
    let plan = &r.plan;
    let mut rows = vec![("Target", plan.url.clone())];
    match &plan.scenario {
        Some(sc) => rows.push(("Scenario", sc.clone())),
        None => rows.push(("Method", plan.method.clone())),
    }
    let asked = plan
        .driver
        .to_possible_value()
        .map_or_else(String::new, |v| format!(" (asked: {})", v.get_name()));
    rows.extend([
        ("Workers", plan.workers.to_string()),
        ("Driver", format!("{}{asked}", r.driver)),
        ("Load", load_text(plan)),
        ("Pipeline", plan.pipeline.to_string()),
        ("Duration", plan.duration.map_or(NONE.into(), human)),
        (
            "Request limit",
            plan.requests.map_or(NONE.into(), |n| n.to_string()),
        ),
        ("Timeout", human(plan.timeout)),
        (
            "Started",
            humantime::format_rfc3339_seconds(r.started_at).to_string(),
        ),
        ("Ran for", ran_for(r)),
    ]);
    rows.extend(plan.notes.iter().map(|n| ("Note", n.clone())));
    rows.extend(
        plan.headers
            .iter()
            .map(|h| ("Header", format!("{}: {}: {}", h.task, h.name, h.value))),
    );
    rows.extend(super::connections::html_rows(r));
    out.push_str("<h2>Plan</h2>\n");
    key_values(out, &rows);
}

fn load_text(plan: &PlanInfo) -> String {
    let mut text = match plan.load {
        Load::Closed { users } => format!("closed model: {users} users"),
        Load::Open { rate, conns } => {
            format!("open model: {rate} req/s over at most {conns} connections")
        }
    };
    if let Some(s) = plan.spawn_rate {
        let _ = write!(text, ", spawning {s} users/s");
    }
    if plan.stages {
        text.push_str(", following the scenario's stages");
    }
    text
}

fn ran_for(r: &Results) -> String {
    let secs = format!("{:.2}s", r.elapsed.as_secs_f64());
    if r.interrupted {
        secs + " (interrupted)"
    } else {
        secs
    }
}

fn human(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn summary_section(out: &mut String, r: &Results) {
    let all = r.totals.aggregate();
    let secs = r.elapsed.as_secs_f64();
    let head = [
        "Requests", "Failures", "Req/s", "Min", "Mean", "p50", "p90", "p99", "p99.9", "Max",
    ];
    let mut row = vec![
        all.requests().to_string(),
        all.failures.to_string(),
        format!("{:.1}", per_second(all.requests(), secs)),
    ];
    match LatencySummary::of(&all.latency) {
        Some(l) => row.extend(
            [
                l.min,
                l.mean.round() as u64,
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max,
            ]
            .map(ms),
        ),
        None => row.extend(std::iter::repeat_n(NONE.to_owned(), 7)),
    }
    out.push_str("<h2>Summary</h2>\n<p>Latencies in milliseconds.</p>\n");
    table(out, &head, 0, &[row], None);
    let counts = |pairs: Vec<String>| {
        if pairs.is_empty() {
            NONE.to_owned()
        } else {
            pairs.join(", ")
        }
    };
    let status = r.totals.status.iter().map(|(c, n)| format!("{c}: {n}"));
    let errors = r.totals.errors.iter().map(|(k, n)| format!("{k}: {n}"));
    key_values(
        out,
        &[
            ("Status codes", counts(status.collect())),
            ("Errors", counts(errors.collect())),
            ("Bytes received", r.totals.bytes_in.to_string()),
        ],
    );
}

fn tasks_section(out: &mut String, r: &Results) {
    let secs = r.elapsed.as_secs_f64();
    let head = [
        "Method", "Name", "Requests", "Failures", "Req/s", "p50", "p95", "p99", "Max",
    ];
    let rows: Vec<_> = r
        .plan
        .tasks
        .iter()
        .zip(&r.totals.tasks)
        .map(|(info, t)| task_row(&info.method, &info.name, t, secs))
        .collect();
    let total = task_row("", "Aggregated", &r.totals.aggregate(), secs);
    out.push_str("<h2>Tasks</h2>\n<p>Latencies in milliseconds.</p>\n");
    table(out, &head, 2, &rows, Some(&total));
}

fn task_row(method: &str, name: &str, t: &TaskStats, secs: f64) -> Vec<String> {
    let h = &t.latency;
    let at = |q: f64| {
        if h.is_empty() {
            NONE.to_owned()
        } else {
            ms(h.value_at_quantile(q))
        }
    };
    vec![
        method.to_owned(),
        name.to_owned(),
        t.requests().to_string(),
        t.failures.to_string(),
        format!("{:.1}", per_second(t.requests(), secs)),
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0),
    ]
}

/// Latency by batch size, when a task's body is a `repeat` batch.
fn batches_section(out: &mut String, r: &Results) {
    let mut rows = Vec::new();
    for (info, t) in r.plan.tasks.iter().zip(&r.totals.tasks) {
        for b in &t.batches.0 {
            let at = |q: f64| ms(b.latency.value_at_quantile(q));
            rows.push(vec![
                format!("{} {}", info.method, info.name),
                super::batch::sizes_label(b),
                b.responses.to_string(),
                at(0.5),
                at(0.95),
                at(0.99),
                at(1.0),
            ]);
        }
    }
    if rows.is_empty() {
        return;
    }
    out.push_str("<h2>Latency by batch size</h2>\n<p>Rows per request, in power-of-two buckets; latencies in milliseconds.</p>\n");
    let head = ["Task", "Rows", "Responses", "p50", "p95", "p99", "Max"];
    table(out, &head, 1, &rows, None);
}

fn failures_section(out: &mut String, r: &Results) {
    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    for (info, t) in r.plan.tasks.iter().zip(&r.totals.tasks) {
        for (msg, n) in &t.failure_messages {
            let task = format!("{} {}", info.method, info.name);
            rows.push((*n, vec![task, msg.clone(), n.to_string()]));
        }
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    out.push_str("<h2>Failures</h2>\n");
    if rows.is_empty() {
        out.push_str("<p>No failures.</p>\n");
    } else {
        let rows: Vec<_> = rows.into_iter().map(|(_, row)| row).collect();
        table(out, &["Task", "Message", "Count"], 2, &rows, None);
    }
    for f in &r.worker_failures {
        let _ = writeln!(out, "<p>Worker failure: {}</p>", escape(f));
    }
}

fn charts_section(out: &mut String, r: &Results) {
    let all = r.totals.aggregate();
    let figures = [
        (
            "chart-rps",
            "Requests and failures per second",
            charts::throughput(&r.timeline),
        ),
        (
            "chart-latency",
            "Latency over time (p50, p95, p99)",
            charts::latency(&r.timeline),
        ),
        ("chart-users", "Users over time", charts::users(&r.timeline)),
        (
            "chart-distribution",
            "Latency by percentile",
            charts::distribution(&all),
        ),
    ];
    out.push_str("<h2>Charts</h2>\n");
    for (id, title, chart) in figures {
        figure(out, id, title, &chart);
    }
}

/// The start of a page: document head with the styles, `title` as heading, `sub` below it.
pub(crate) fn page_head(out: &mut String, title: &str, sub: &str) {
    let (title, sub) = (escape(title), escape(sub));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}: {sub}</title><style>{STYLE}</style></head><body><main>\n\
         <h1>{title}</h1><p class=\"sub\">{sub}</p>\n"
    );
}

/// A chart as a figure with its title and, for more than one line, its legend.
pub(crate) fn figure(out: &mut String, id: &str, title: &str, chart: &charts::Chart) {
    let title = escape(title);
    let _ = write!(
        out,
        "<figure id=\"{id}\"><h3>{title}</h3><p class=\"legend\">"
    );
    // A single line needs no key: the title names it.
    let key = if chart.legend.len() > 1 {
        &chart.legend[..]
    } else {
        &[]
    };
    for (label, color) in key {
        let _ = write!(
            out,
            "<span><i style=\"background:{}\"></i>{}</span>",
            escape(color),
            escape(label)
        );
    }
    let _ = writeln!(out, "</p>{}</figure>", titled(&chart.svg, &title));
}

/// The SVG with a `<title>` (its accessible name and tooltip) right after the opening tag.
fn titled(svg: &str, title: &str) -> String {
    match svg.find('>') {
        Some(end) if svg.starts_with("<svg") => {
            format!("{}<title>{title}</title>{}", &svg[..=end], &svg[end + 1..])
        }
        _ => svg.to_owned(),
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// A two-column table of labels and values.
pub(crate) fn key_values(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table class=\"kv\">\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    out.push_str("</table>\n");
}

/// A table with a header row; columns from `numeric_from` on are right-aligned numbers.
pub(crate) fn table(
    out: &mut String,
    head: &[&str],
    numeric_from: usize,
    rows: &[Vec<String>],
    total: Option<&Vec<String>>,
) {
    let class = |i: usize| {
        if i >= numeric_from {
            " class=\"n\""
        } else {
            ""
        }
    };
    out.push_str("<table>\n<tr>");
    for (i, h) in head.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(i), escape(h));
    }
    out.push_str("</tr>\n");
    let all = rows
        .iter()
        .map(|r| ("", r))
        .chain(total.map(|t| (" class=\"total\"", t)));
    for (tr_class, row) in all {
        let _ = write!(out, "<tr{tr_class}>");
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(out, "<td{}>{}</td>", class(i), escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_every_special_character() {
        let table = [
            ("plain", "plain"),
            ("<b>&x", "&lt;b&gt;&amp;x"),
            ("a\"b'c", "a&quot;b&#39;c"),
            ("", ""),
            ("é<", "é&lt;"),
        ];
        for (raw, want) in table {
            assert_eq!(escape(raw), want);
        }
    }

    #[test]
    fn titled_inserts_after_the_opening_tag_only_for_svg() {
        assert_eq!(
            titled("<svg a=\"1\"><g/></svg>", "T"),
            "<svg a=\"1\"><title>T</title><g/></svg>"
        );
        assert_eq!(titled("<p>x</p>", "T"), "<p>x</p>");
    }
}
