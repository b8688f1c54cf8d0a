//! `--json FILE`: the machine-readable result. Field meanings are documented in the README
//! and checked against `schemas/result.schema.json`. Besides the figures, it saves the plan and
//! every histogram (whole run and per second) so `report::saved` can read it back exactly.
use std::path::Path;

use serde_json::{json, Map, Value};

use super::LatencySummary;
use crate::load::Load;
use crate::results::Results;
use crate::stats::batch::ByBatch;
use crate::stats::compact::encode;
use crate::stats::{cpu, late_count, Compact, Point, LATE_AFTER_US};
use crate::units::per_second;

/// Names this file's layout; a reader refuses any other.
pub const FORMAT: &str = "blast-result/1";

/// Microseconds as milliseconds.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn latency_ms(l: Option<LatencySummary>) -> Value {
    match l {
        None => Value::Null,
        Some(l) => json!({
            "min": ms(l.min), "mean": l.mean / 1000.0, "p50": ms(l.p50), "p75": ms(l.p75),
            "p90": ms(l.p90), "p99": ms(l.p99), "p999": ms(l.p999), "max": ms(l.max),
        }),
    }
}

/// The result as a JSON value.
pub fn to_value(r: &Results) -> Value {
    let plan = &r.plan;
    let all = r.totals.aggregate();
    let secs = r.elapsed.as_secs_f64();
    let mut v = json!({
        "format": FORMAT,
        "version": env!("CARGO_PKG_VERSION"),
        "started_unix_ms": unix_ms(r.started_at),
        "plan": plan,
        "url": plan.url,
        "method": plan.method,
        "requests": all.responses,
        "duration_s": secs,
        "rps": per_second(all.responses, secs),
        "errors": r.totals.errors,
        "errors_total": r.totals.errors_total(),
        "status_codes": r.totals.status.iter().map(|(c, n)| (c.to_string(), json!(n))).collect::<Map<_, _>>(),
        "latency_ms": latency_ms(LatencySummary::of(&all.latency)),
        "bytes_received": r.totals.bytes_in,
        "body_bytes": all.body_bytes,
        "sent": r.totals.sent,
        "connections_opened": r.totals.connects,
        "retried_stale": r.totals.retried_stale,
        "changes": r.changes,
        "workers": plan.workers,
        "users": plan.load.connections(),
        "pipeline": plan.pipeline,
        "driver": r.driver,
        "interrupted": r.interrupted,
        "notes": plan.notes,
        "worker_failures": r.worker_failures,
        "lateness_histogram": encode(&r.totals.lateness),
        "service_ms": latency_ms(LatencySummary::of(&all.service)),
        "client_cpu": client_cpu(r),
        "client_bound": client_bound(r),
    });
    v["connections"] = super::connections::json(r);
    v["tasks"] = tasks(r, secs);
    v["timeline"] = timeline(r);
    if let Load::Open { rate, .. } = plan.load {
        let late = &r.totals.lateness;
        let unsent = &r.totals.unsent;
        v["target_rate"] = json!(rate);
        v["late_after_ms"] = json!(ms(LATE_AFTER_US));
        v["late_requests"] = json!(late_count(late));
        v["late_ms"] = if late.is_empty() {
            Value::Null
        } else {
            json!({"p50": ms(late.value_at_quantile(0.5)), "p99": ms(late.value_at_quantile(0.99)), "max": ms(late.max())})
        };
        v["scheduled"] = json!(r.totals.scheduled());
        v["unsent"] = json!(unsent.len());
        v["unsent_wait_ms"] = if unsent.is_empty() {
            Value::Null
        } else {
            json!({"p50": ms(unsent.value_at_quantile(0.5)), "max": ms(unsent.max())})
        };
        v["unsent_histogram"] = json!(encode(unsent));
    }
    v
}

/// Per worker: its thread's CPU time over the run and the share of a core that is, and
/// its time waiting for a CPU (`demand`: the share of the time it wanted one).
fn client_cpu(r: &Results) -> Value {
    let rows = r.totals.busy.iter().map(|b| {
        json!({
            "cpu_s": b.cpu_us as f64 / 1e6, "queued_s": b.queued_us as f64 / 1e6,
            "wall_s": b.wall_us as f64 / 1e6, "share": b.share(), "demand": b.demand(),
        })
    });
    Value::Array(rows.collect())
}

/// The plain-words warning when the client was the bottleneck, or null.
fn client_bound(r: &Results) -> Value {
    let open = matches!(r.plan.load, Load::Open { .. });
    let late = open.then(|| r.totals.late_share().unwrap_or(0.0));
    cpu::client_bound(r.totals.busiest(), late).map_or(Value::Null, Value::from)
}

/// Per-task rows: the Locust per-endpoint table.
fn tasks(r: &Results, secs: f64) -> Value {
    let rows = r.plan.tasks.iter().zip(&r.totals.tasks).map(|(info, t)| {
        json!({
            "method": info.method,
            "name": info.name,
            "requests": t.requests(),
            "responses": t.responses,
            "errors": t.errors,
            "failures": t.failures,
            "rps": per_second(t.requests(), secs),
            "body_bytes": t.body_bytes,
            "latency_ms": latency_ms(LatencySummary::of(&t.latency)),
            "service_ms": latency_ms(LatencySummary::of(&t.service)),
            "failure_messages": t.failure_messages.iter().map(|(m, n)| (m.clone(), json!(n))).collect::<Map<_, _>>(),
            "histogram": encode(&t.latency),
            "service_histogram": encode(&t.service),
            "batches": batches(&t.batches),
        })
    });
    Value::Array(rows.collect())
}

/// A task's latency by batch size, each bucket with its histogram so a saved report
/// reloads exactly.
fn batches(batches: &ByBatch) -> Value {
    let rows = batches.0.iter().map(|b| {
        let (lo, hi) = b.rows;
        json!({
            "rows_min": lo,
            "rows_max": hi,
            "responses": b.responses,
            "latency_ms": latency_ms(LatencySummary::of(&b.latency)),
            "histogram": encode(&b.latency),
        })
    });
    Value::Array(rows.collect())
}

/// One entry per second: users, rates and interval percentiles, aggregate and per task.
fn timeline(r: &Results) -> Value {
    let point = |p: &Point, secs: f64| {
        json!({
            "requests": p.requests,
            "failures": p.failures,
            "rps": per_second(p.requests, secs),
            "p50_ms": p.percentile(0.5).map(ms),
            "p95_ms": p.percentile(0.95).map(ms),
            "p99_ms": p.percentile(0.99).map(ms),
            "total_requests": p.total_requests,
            "total_failures": p.total_failures,
        })
    };
    let rows = r.timeline.iter().map(|s| {
        let mut v = point(&s.total, s.interval_s);
        v["elapsed_s"] = json!(s.elapsed_s);
        v["unix_s"] = json!(s.unix_s);
        v["users"] = json!(s.users);
        v["errors"] = json!(s.errors);
        v["interval_s"] = json!(s.interval_s);
        v["client_cpu"] = json!(s.client.cpu);
        v["backlog"] = json!(s.client.backlog);
        let tasks = s.tasks.iter().zip(&s.interval);
        v["tasks"] = Value::Array(
            tasks
                .map(|(p, c)| with_compact(point(p, s.interval_s), c))
                .collect(),
        );
        v
    });
    Value::Array(rows.collect())
}

/// A point's row with the raw interval figures that let it be rebuilt and merged.
fn with_compact(mut row: Value, c: &Compact) -> Value {
    row["responses"] = json!(c.responses);
    row["errors"] = json!(c.errors);
    row["body_bytes"] = json!(c.body_bytes);
    row["histogram"] = json!(c.histogram);
    row
}

fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Writes the result to `path`.
pub fn write(r: &Results, path: &Path) -> std::io::Result<()> {
    super::write_json_value(&to_value(r), path)
}
