//! `/metrics`: the run in Prometheus' text exposition format (version 0.0.4), for Grafana
//! and alerting. Everything is read once per second from the coordinator's merged totals —
//! the latency histogram's fixed buckets are counted from the HdrHistograms, so there is no
//! second recording path on the workers.
use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::load::Load;
use crate::results::Second;
use crate::results::TaskInfo;
use crate::stats::Merged;

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the latency buckets, in microseconds (`+Inf` follows). Fixed, so series
/// from different runs and versions line up in Prometheus.
pub const BUCKETS_US: [u64; 16] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

const US_PER_S: f64 = 1e6;

/// A Prometheus histogram: cumulative counts at each of `BUCKETS_US`, the count and sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Buckets {
    /// Samples at or below each bound, cumulative.
    pub le: Vec<u64>,
    pub count: u64,
    /// Sum of samples in seconds (count × the histogram's mean).
    pub sum_s: f64,
}

impl Buckets {
    /// Counted from `h`: each recorded value goes in the first bucket whose bound is not below
    /// the highest value HdrHistogram could have recorded it as (so a sample never lands in a
    /// bucket faster than it was).
    pub fn of(h: &Histogram<u64>) -> Self {
        let mut counts = vec![0u64; BUCKETS_US.len()];
        for v in h.iter_recorded() {
            let at = BUCKETS_US.partition_point(|&b| b < v.value_iterated_to());
            if let Some(c) = counts.get_mut(at) {
                *c += v.count_at_value();
            }
        }
        let mut running = 0;
        let le = counts
            .iter()
            .map(|c| {
                running += c;
                running
            })
            .collect();
        let count = h.len();
        Buckets {
            le,
            count,
            sum_s: if count == 0 {
                0.0
            } else {
                h.mean() * count as f64 / US_PER_S
            },
        }
    }
}

/// One task's series.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSeries {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub latency: Buckets,
}

/// Everything `/metrics` shows, as of the last closed second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub tasks: Vec<TaskSeries>,
    pub status: Vec<(u16, u64)>,
    pub errors: Vec<(String, u64)>,
    pub users: u64,
    pub connections_opened: u64,
    pub sent: u64,
    /// Requests sent per second in the last second.
    pub offered_rate: f64,
    /// Requests completed (responses and errors) per second in the last second.
    pub achieved_rate: f64,
    /// The open model's planned total rate; None for the closed model.
    pub planned_rate: Option<f64>,
    /// How late open-model sends left, against their schedule.
    pub lateness: Buckets,
    pub elapsed_s: f64,
    pub running: bool,
}

impl Metrics {
    /// The figures at `second`, from the run's totals; `sent_before` is the total sent at the
    /// previous second (for the offered rate).
    pub fn observe(
        second: &Second,
        totals: &Merged,
        tasks: &[TaskInfo],
        load: &Load,
        sent_before: u64,
    ) -> Self {
        let series = tasks
            .iter()
            .zip(&totals.tasks)
            .map(|(info, t)| TaskSeries {
                method: info.method.clone(),
                name: info.name.clone(),
                requests: t.requests(),
                failures: t.failures,
                latency: Buckets::of(&t.latency),
            })
            .collect();
        let per_s = |n: u64| {
            if second.interval_s > 0.0 {
                n as f64 / second.interval_s
            } else {
                0.0
            }
        };
        Metrics {
            tasks: series,
            status: totals.status.iter().map(|(&c, &n)| (c, n)).collect(),
            errors: totals.errors.iter().map(|(k, &n)| (k.clone(), n)).collect(),
            users: second.users,
            connections_opened: totals.connects,
            sent: totals.sent,
            offered_rate: per_s(totals.sent.saturating_sub(sent_before)),
            achieved_rate: second.rps(),
            planned_rate: match load {
                Load::Open { rate, .. } => Some(*rate),
                Load::Closed { .. } => None,
            },
            lateness: Buckets::of(&totals.lateness),
            elapsed_s: second.elapsed_s,
            running: true,
        }
    }
}

/// A label value with `\`, `"` and newlines escaped as the format asks.
pub fn label_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A float as the format writes it (`+Inf`, `NaN` spelled out).
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn task_labels(t: &TaskSeries) -> String {
    format!(
        "method=\"{}\",name=\"{}\"",
        label_value(&t.method),
        label_value(&t.name)
    )
}

fn histogram(out: &mut String, name: &str, labels: &str, b: &Buckets) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, c) in BUCKETS_US.iter().zip(&b.le) {
        let le = num(*bound as f64 / US_PER_S);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {c}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", b.count);
    let braced = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braced} {}", num(b.sum_s));
    let _ = writeln!(out, "{name}_count{braced} {}", b.count);
}

/// The exposition text.
pub fn render(m: &Metrics) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "blast_requests_total",
        "counter",
        "Requests that ended (responses and errors), by task.",
    );
    for t in &m.tasks {
        let _ = writeln!(
            out,
            "blast_requests_total{{{}}} {}",
            task_labels(t),
            t.requests
        );
    }
    family(
        &mut out,
        "blast_failures_total",
        "counter",
        "Requests counted as failures (errors and missed expectations), by task.",
    );
    for t in &m.tasks {
        let _ = writeln!(
            out,
            "blast_failures_total{{{}}} {}",
            task_labels(t),
            t.failures
        );
    }
    family(
        &mut out,
        "blast_responses_total",
        "counter",
        "Complete responses by HTTP status code.",
    );
    for (code, n) in &m.status {
        let _ = writeln!(out, "blast_responses_total{{status=\"{code}\"}} {n}");
    }
    family(
        &mut out,
        "blast_errors_total",
        "counter",
        "Transport and protocol errors by kind, connection attempts included.",
    );
    for (kind, n) in &m.errors {
        let _ = writeln!(
            out,
            "blast_errors_total{{kind=\"{}\"}} {n}",
            label_value(kind)
        );
    }
    family(
        &mut out,
        "blast_request_duration_seconds",
        "histogram",
        "Response time by task, counted from blast's HdrHistograms.",
    );
    for t in &m.tasks {
        histogram(
            &mut out,
            "blast_request_duration_seconds",
            &task_labels(t),
            &t.latency,
        );
    }
    family(
        &mut out,
        "blast_send_lateness_seconds",
        "histogram",
        "Open model: how late requests left against their schedule.",
    );
    histogram(&mut out, "blast_send_lateness_seconds", "", &m.lateness);
    let gauges: [(&str, &str, f64); 5] = [
        (
            "blast_users",
            "Users with an open connection.",
            m.users as f64,
        ),
        (
            "blast_offered_rate",
            "Requests sent per second, last second.",
            m.offered_rate,
        ),
        (
            "blast_achieved_rate",
            "Requests completed per second, last second.",
            m.achieved_rate,
        ),
        (
            "blast_elapsed_seconds",
            "Seconds since the run started.",
            m.elapsed_s,
        ),
        (
            "blast_running",
            "1 while a run is going.",
            f64::from(u8::from(m.running)),
        ),
    ];
    for (name, help, v) in gauges {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", num(v));
    }
    if let Some(rate) = m.planned_rate {
        family(
            &mut out,
            "blast_planned_rate",
            "gauge",
            "Open model: the planned total requests per second.",
        );
        let _ = writeln!(out, "blast_planned_rate {}", num(rate));
    }
    family(
        &mut out,
        "blast_connections_opened_total",
        "counter",
        "Connections established.",
    );
    let _ = writeln!(
        out,
        "blast_connections_opened_total {}",
        m.connections_opened
    );
    family(
        &mut out,
        "blast_sent_total",
        "counter",
        "Requests written to the wire.",
    );
    let _ = writeln!(out, "blast_sent_total {}", m.sent);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let mut h = new_histogram();
        for us in [100u64, 500, 900, 3_000, 2_000_000, 3_000_000_000] {
            h.record(us).unwrap();
        }
        let b = Buckets::of(&h);
        assert_eq!(b.le.len(), BUCKETS_US.len());
        assert_eq!(b.le[0], 2, "100 µs and 500 µs are at or below 0.5 ms");
        assert_eq!(b.le[1], 3);
        assert_eq!(b.le[3], 4, "3 ms under 5 ms");
        assert_eq!(b.le[11], 5, "2 s under 2.5 s");
        assert_eq!(*b.le.last().unwrap(), 5, "50 minutes only in +Inf");
        assert_eq!(b.count, 6);
        assert!(b.le.windows(2).all(|w| w[0] <= w[1]));
        assert!((b.sum_s - h.mean() * 6.0 / 1e6).abs() < 1e-9);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_text_has_every_family_and_escaped_labels() {
        let mut latency = new_histogram();
        latency.record(1234).unwrap();
        let m = Metrics {
            tasks: vec![TaskSeries {
                method: "GET".into(),
                name: "/x\"<img>".into(),
                requests: 3,
                failures: 1,
                latency: Buckets::of(&latency),
            }],
            status: vec![(200, 2)],
            errors: vec![("timeout".into(), 1)],
            planned_rate: Some(100.0),
            ..Metrics::default()
        };
        let text = render(&m);
        for want in [
            "blast_requests_total{method=\"GET\",name=\"/x\\\"<img>\"} 3",
            "blast_failures_total{method=\"GET\",name=\"/x\\\"<img>\"} 1",
            "blast_responses_total{status=\"200\"} 2",
            "blast_errors_total{kind=\"timeout\"} 1",
            "blast_request_duration_seconds_bucket{method=\"GET\",name=\"/x\\\"<img>\",le=\"0.0025\"} 1",
            "blast_request_duration_seconds_bucket{method=\"GET\",name=\"/x\\\"<img>\",le=\"+Inf\"} 1",
            "blast_send_lateness_seconds_bucket{le=\"+Inf\"} 0",
            "blast_planned_rate 100",
            "# TYPE blast_request_duration_seconds histogram",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
    }
}
