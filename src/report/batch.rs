//! Latency by batch size (`repeat` bodies): the text table (the JSON rows are in `json.rs`). A batch
//! predict's latency depends on how many rows it scores, so the reports show each size
//! bucket apart (1, 2–3, 4–7, …) next to the task's overall figures.
use std::fmt::Write as _;

use crate::results::Results;
use crate::stats::batch::BatchBucket;
use crate::units::ms;

/// The sizes a bucket saw: "1", "2-3", "5-7".
pub fn sizes_label(b: &BatchBucket) -> String {
    match b.rows {
        (lo, hi) if lo == hi => lo.to_string(),
        (lo, hi) => format!("{lo}-{hi}"),
    }
}

/// The table under the summary, when any task sent batches.
pub fn text(out: &mut String, r: &Results) {
    let tasks = r.plan.tasks.iter().zip(&r.totals.tasks);
    let batched: Vec<_> = tasks.filter(|(_, t)| !t.batches.is_empty()).collect();
    if batched.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n  latency by batch size\n  {:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "Name", "rows", "# resp", "p50", "p95", "p99", "max"
    );
    for (info, t) in batched {
        for b in &t.batches.0 {
            let q = |p: f64| ms(b.latency.value_at_quantile(p));
            let _ = writeln!(
                out,
                "  {:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                info.name,
                sizes_label(b),
                b.responses,
                q(0.5),
                q(0.95),
                q(0.99),
                q(1.0)
            );
        }
    }
}
