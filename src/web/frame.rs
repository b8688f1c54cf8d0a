//! What the page draws each second, as JSON: one chart point and Locust's statistics table
//! (per task and aggregated), plus the failures and errors tables. Built on the coordinator's
//! thread from the closed `Second` and the run's totals; plain numbers, so the page only
//! formats them (and writes every string as text, never as markup).
use serde_json::{json, Value};

use crate::report::connections;
use crate::report::html::interactive;
use crate::results::Second;
use crate::results::TaskInfo;
use crate::stats::{Merged, TaskStats};

/// Microseconds as milliseconds.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// A statistics row: running figures of `total` and this second's rates.
fn row(
    method: &str,
    name: &str,
    total: &TaskStats,
    requests: u64,
    failures: u64,
    secs: f64,
) -> Value {
    let h = &total.latency;
    let q = |q: f64| (!h.is_empty()).then(|| ms(h.value_at_quantile(q)));
    let rate = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    json!({
        "method": method,
        "name": name,
        "requests": total.requests(),
        "failures": total.failures,
        "median": q(0.5),
        "p90": q(0.9),
        "p95": q(0.95),
        "p99": q(0.99),
        "avg": (!h.is_empty()).then(|| h.mean() / 1000.0),
        "min": (!h.is_empty()).then(|| ms(h.min())),
        "max": (!h.is_empty()).then(|| ms(h.max())),
        "size": if total.responses > 0 { total.body_bytes as f64 / total.responses as f64 } else { 0.0 },
        "rps": rate(requests),
        "fps": rate(failures),
    })
}

/// The whole second: point, table, failures and errors.
pub fn second_frame(s: &Second, totals: &Merged, tasks: &[TaskInfo]) -> Value {
    let rows: Vec<Value> = tasks
        .iter()
        .zip(&totals.tasks)
        .zip(&s.tasks)
        .map(|((info, total), p)| {
            row(
                &info.method,
                &info.name,
                total,
                p.requests,
                p.failures,
                s.interval_s,
            )
        })
        .collect();
    let all = totals.aggregate();
    let aggregated = row(
        "",
        "Aggregated",
        &all,
        s.total.requests,
        s.total.failures,
        s.interval_s,
    );
    let failures: Vec<Value> = tasks
        .iter()
        .zip(&totals.tasks)
        .flat_map(|(info, t)| {
            t.failure_messages.iter().map(move |(msg, n)| {
                json!({"method": info.method, "name": info.name, "message": msg, "count": n})
            })
        })
        .collect();
    let errors: Vec<Value> = totals
        .errors
        .iter()
        .map(|(kind, n)| json!({"kind": kind, "count": n, "message": connections::first_message(totals, kind)}))
        .collect();
    json!({
        "point": interactive::chart_point(s),
        "rows": rows,
        "aggregated": aggregated,
        "failures": failures,
        "errors": errors,
        "elapsed_s": s.elapsed_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Clock;
    use crate::stats::Recorder;
    use std::time::Duration;

    #[test]
    fn a_second_becomes_a_point_and_table_rows() {
        let mut rec = Recorder::new(1);
        for us in [1_000u64, 2_000, 3_000] {
            rec.response(0, 200, Duration::from_micros(us), 10);
        }
        rec.failure(0, &"status 500 <img src=x onerror=alert(1)>");
        let snap = rec.take_snapshot(0, 4, false);
        let mut totals = Merged::new(1);
        totals.add(&snap);
        let clock = Clock {
            elapsed_s: 1.0,
            interval_s: 0.5,
            unix_s: 0,
            users: 4,
            errors: 0,
        };
        let s = Second::new(clock, &totals.tasks, &totals.tasks);
        let tasks = [TaskInfo {
            method: "GET".into(),
            name: "/x".into(),
        }];
        let f = second_frame(&s, &totals, &tasks);
        // 3 ms is HdrHistogram's 3.001 ms bucket top at three significant digits.
        assert_eq!(f["point"], json!([1.0, 6.0, 2.0, 2.0, 3.001, 3.001, 4]));
        assert_eq!(f["rows"][0]["requests"], 3);
        assert_eq!(f["rows"][0]["failures"], 1);
        assert_eq!(f["rows"][0]["median"], 2.0);
        assert_eq!(f["rows"][0]["size"], 10.0);
        assert_eq!(f["aggregated"]["name"], "Aggregated");
        assert_eq!(
            f["failures"][0]["message"], "status 500 <img src=x onerror=alert(1)>",
            "kept as data; the page writes it as text"
        );
    }

    #[test]
    fn each_error_kind_shows_its_first_message_or_what_it_means() {
        let mut rec = Recorder::new(1);
        rec.note_error("timeout", || {
            "no complete response within --timeout 1s".into()
        });
        rec.request_error(0, "timeout");
        rec.note_error("timeout", || "a later one, not kept".into());
        rec.request_error(0, "timeout");
        rec.request_error(0, "closed");
        let mut totals = Merged::new(1);
        totals.add(&rec.take_snapshot(0, 1, false));
        let clock = Clock {
            elapsed_s: 1.0,
            interval_s: 1.0,
            unix_s: 0,
            users: 1,
            errors: 3,
        };
        let s = Second::new(clock, &totals.tasks, &totals.tasks);
        let tasks = [TaskInfo {
            method: "GET".into(),
            name: "/".into(),
        }];
        let f = second_frame(&s, &totals, &tasks);
        let by_kind = |k: &str| {
            let rows = f["errors"].as_array().unwrap();
            rows.iter().find(|e| e["kind"] == k).unwrap().clone()
        };
        assert_eq!(by_kind("timeout")["count"], 2);
        assert_eq!(
            by_kind("timeout")["message"],
            "no complete response within --timeout 1s"
        );
        assert_eq!(
            by_kind("closed")["message"],
            crate::results::kind::describe("closed")
        );
    }
}
