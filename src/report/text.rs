//! The human summary printed at the end of a run.
use std::fmt::Write as _;

use super::LatencySummary;
use crate::load::Load;
use crate::results::Results;
use crate::stats::{cpu, late_count, LATE_AFTER_US};
use crate::units::{ms, per_second};

/// Renders the end-of-run summary.
pub fn render(r: &Results) -> String {
    let mut out = String::new();
    let plan = &r.plan;
    let all = r.totals.aggregate();
    let secs = r.elapsed.as_secs_f64();
    match &plan.scenario {
        Some(sc) => {
            let _ = writeln!(out, "blast {} -> {}", sc, plan.url);
        }
        None => {
            let _ = writeln!(out, "blast {} -> {}", plan.method, plan.url);
        }
    }
    let _ = writeln!(
        out,
        "  {} worker(s) on {} x {} users = {} connections, pipeline {}, {:.2}s{}",
        plan.workers,
        r.driver,
        plan.users_per_worker,
        plan.load.connections(),
        plan.pipeline,
        secs,
        if r.interrupted { " (interrupted)" } else { "" }
    );
    if let Load::Open { rate, .. } = plan.load {
        let _ = writeln!(out, "  open model: {rate} req/s offered");
    }
    let _ = writeln!(
        out,
        "  requests   {} ({:.1}/s)",
        all.responses,
        per_second(all.responses, secs)
    );
    let _ = writeln!(
        out,
        "  received   {} bytes ({} body bytes)",
        r.totals.bytes_in, all.body_bytes
    );
    match LatencySummary::of(&all.latency) {
        Some(l) => {
            let _ = writeln!(
                out,
                "  latency    min {}  mean {}  p50 {}  p75 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                ms(l.min),
                ms(l.mean.round() as u64),
                ms(l.p50),
                ms(l.p75),
                ms(l.p90),
                ms(l.p99),
                ms(l.p999),
                ms(l.max)
            );
        }
        None => out.push_str("  latency    no responses\n"),
    }
    if let Some(l) = LatencySummary::of(&all.service) {
        let _ = writeln!(
            out,
            "  service    p50 {}  p90 {}  p99 {}  max {}  (from the actual send: the server's part)",
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max)
        );
    }
    if let Load::Open { .. } = plan.load {
        write_lateness(&mut out, r);
        write_unsent(&mut out, r);
    }
    write_client(&mut out, r);
    let codes: Vec<String> = r
        .totals
        .status
        .iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    let _ = writeln!(out, "  status     {}", or_none(&codes));
    let errors: Vec<String> = r
        .totals
        .errors
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    let _ = writeln!(out, "  errors     {}", or_none(&errors));
    if r.totals.retried_stale > 0 {
        let _ = writeln!(
            out,
            "  retried    {} on a fresh connection: the server had closed an idle keep-alive one",
            r.totals.retried_stale
        );
    }
    if !r.changes.is_empty() {
        let changes: Vec<String> = r
            .changes
            .iter()
            .map(|c| format!("{:.1}s {}", c.elapsed_s, c.what))
            .collect();
        let _ = writeln!(out, "  edited     {}", changes.join("; "));
    }
    super::connections::text(&mut out, r);
    if plan.tasks.len() > 1 {
        write_tasks(&mut out, r, secs);
    }
    super::batch::text(&mut out, r);
    write_failures(&mut out, r);
    for f in &r.worker_failures {
        let _ = writeln!(out, "  worker failure: {f}");
    }
    out
}

/// The per-endpoint table a Locust user expects.
fn write_tasks(out: &mut String, r: &Results, secs: f64) {
    let _ = writeln!(
        out,
        "\n  {:<7} {:<24} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "Type", "Name", "# reqs", "# fails", "req/s", "p50", "p95", "p99", "max"
    );
    let rows = r.plan.tasks.iter().zip(&r.totals.tasks);
    let all = r.totals.aggregate();
    let agg = crate::results::TaskInfo {
        method: String::new(),
        name: "Aggregated".to_owned(),
    };
    for (info, t) in rows.chain(std::iter::once((&agg, &all))) {
        let q = |p: f64| {
            if t.latency.is_empty() {
                "-".to_owned()
            } else {
                ms(t.latency.value_at_quantile(p))
            }
        };
        let _ = writeln!(
            out,
            "  {:<7} {:<24} {:>9} {:>8} {:>9.1} {:>9} {:>9} {:>9} {:>9}",
            info.method,
            info.name,
            t.requests(),
            t.failures,
            per_second(t.requests(), secs),
            q(0.5),
            q(0.95),
            q(0.99),
            q(1.0)
        );
    }
}

/// Failure messages per task, most frequent first.
fn write_failures(out: &mut String, r: &Results) {
    let mut rows: Vec<(&str, &str, u64)> = Vec::new();
    for (info, t) in r.plan.tasks.iter().zip(&r.totals.tasks) {
        for (msg, n) in &t.failure_messages {
            rows.push((&info.name, msg, *n));
        }
    }
    if rows.is_empty() {
        return;
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.2));
    let _ = writeln!(out, "\n  failures");
    for (name, msg, n) in rows {
        let _ = writeln!(out, "  {n:>9}  {name}: {msg}");
    }
}

fn write_lateness(out: &mut String, r: &Results) {
    let late = &r.totals.lateness;
    if late.is_empty() {
        let _ = writeln!(out, "  schedule   nothing sent");
        return;
    }
    let _ = writeln!(
        out,
        "  schedule   {} of {} requests sent more than {} late; lateness p50 {}, p99 {}, max {}",
        late_count(late),
        r.totals.sent,
        ms(LATE_AFTER_US),
        ms(late.value_at_quantile(0.5)),
        ms(late.value_at_quantile(0.99)),
        ms(late.max())
    );
}

/// Requests the schedule had due that no connection could send before the end.
fn write_unsent(out: &mut String, r: &Results) {
    let unsent = &r.totals.unsent;
    if unsent.is_empty() {
        let _ = writeln!(
            out,
            "  unsent     none ({} scheduled, all sent)",
            r.totals.scheduled()
        );
        return;
    }
    let _ = writeln!(
        out,
        "  unsent     {} of {} scheduled never sent, every connection busy (waited p50 {}, max {})",
        unsent.len(),
        r.totals.scheduled(),
        ms(unsent.value_at_quantile(0.5)),
        ms(unsent.max())
    );
}

/// The client's own CPU per worker, and the warning when it was the bottleneck.
fn write_client(out: &mut String, r: &Results) {
    let busy = &r.totals.busy;
    if busy.is_empty() {
        return;
    }
    let shares: Vec<String> = busy
        .iter()
        .map(|b| format!("{:.0}%", b.share() * 100.0))
        .collect();
    let peak = r
        .timeline
        .iter()
        .map(|s| s.client.busiest())
        .fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "  client cpu {} of a core per worker (busiest second {:.0}%); busy {:.0}% of the time \
         counting waits for a CPU",
        shares.join(", "),
        peak * 100.0,
        r.totals.busiest() * 100.0
    );
    let open = matches!(r.plan.load, Load::Open { .. });
    let late = open.then(|| r.totals.late_share().unwrap_or(0.0));
    if let Some(msg) = cpu::client_bound(r.totals.busiest(), late) {
        let _ = writeln!(out, "  {msg}");
    }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}
