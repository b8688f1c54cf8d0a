//! How connections were opened, in every report: TCP connect time and TLS handshake time
//! (their own histograms, apart from request latency), full against resumed handshakes,
//! what was negotiated, the first message of each error kind (the system's, the parser's
//! or the TLS library's words), and whether certificates went unverified (`--insecure`). JSON saves the histograms so a saved run reads back
//! exactly; CSV gets its own file (`PREFIX_connections.csv`) since Locust has no column.
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::LatencySummary;
use crate::results::{kind, Results};
use crate::stats::compact::{decode, encode};
use crate::stats::{ConnStats, Merged};
use crate::units::ms;

/// Appended to the `--csv` prefix for the connection figures.
pub const CSV_SUFFIX: &str = "_connections.csv";
const CSV_HEADER: &str = "Measure,Count,Min,Mean,50%,90%,99%,99.9%,Max";

fn summary_ms(h: &Histogram<u64>) -> Value {
    match LatencySummary::of(h) {
        None => Value::Null,
        Some(l) => {
            let f = |us: u64| us as f64 / 1000.0;
            json!({"min": f(l.min), "mean": l.mean / 1000.0, "p50": f(l.p50), "p90": f(l.p90),
                   "p99": f(l.p99), "p999": f(l.p999), "max": f(l.max)})
        }
    }
}

/// The `connections` object of the JSON report.
pub fn json(r: &Results) -> Value {
    let c = &r.totals.conns;
    let tls_failed = c.first_errors.iter().any(|(k, _)| k.starts_with("tls_"));
    let tls = (c.is_tls() || tls_failed || r.plan.insecure).then(|| {
        json!({
            "handshake_ms": summary_ms(&c.handshake),
            "handshake_histogram": encode(&c.handshake),
            "full_handshakes": c.full,
            "resumed_handshakes": c.resumed,
            "negotiated": c.negotiated.iter().map(|(w, n)| (w.clone(), json!(n))).collect::<Map<_, _>>(),
            "insecure": r.plan.insecure,
        })
    });
    json!({
        "connect_ms": summary_ms(&c.connect),
        "connect_histogram": encode(&c.connect),
        "first_errors": c.first_errors.iter().map(|(k, why)| (k.clone(), json!(why))).collect::<Map<_, _>>(),
        "tls": tls,
    })
}

/// The `connections` object as saved, read back.
#[derive(Deserialize)]
pub struct Saved {
    connect_histogram: String,
    #[serde(default)]
    first_errors: Map<String, Value>,
    tls: Option<SavedTls>,
}

#[derive(Deserialize)]
struct SavedTls {
    handshake_histogram: String,
    full_handshakes: u64,
    resumed_handshakes: u64,
    negotiated: Map<String, Value>,
    /// Where reports before every kind had a first message kept the TLS kinds'.
    #[serde(default)]
    first_errors: Map<String, Value>,
}

impl Saved {
    /// The figures again; None when a histogram does not decode.
    pub fn stats(&self) -> Option<ConnStats> {
        let mut c = ConnStats::new();
        c.connect = decode(&self.connect_histogram).ok()?;
        let older = self.tls.iter().flat_map(|t| &t.first_errors);
        c.first_errors = self
            .first_errors
            .iter()
            .chain(older)
            .map(|(k, why)| (k.clone(), why.as_str().unwrap_or_default().to_owned()))
            .collect();
        if let Some(t) = &self.tls {
            c.handshake = decode(&t.handshake_histogram).ok()?;
            c.full = t.full_handshakes;
            c.resumed = t.resumed_handshakes;
            c.negotiated = t
                .negotiated
                .iter()
                .map(|(w, n)| (w.clone(), n.as_u64().unwrap_or(0)))
                .collect();
        }
        Some(c)
    }
}

/// Lines for the text summary (nothing for a run that opened no connection).
pub fn text(out: &mut String, r: &Results) {
    let c = &r.totals.conns;
    if let Some(line) = percentiles_line(&c.connect) {
        let _ = writeln!(out, "  connect    {line}");
    }
    if let Some(line) = percentiles_line(&c.handshake) {
        let _ = writeln!(out, "  tls        {line}");
        let negotiated: Vec<String> = c
            .negotiated
            .iter()
            .map(|(w, n)| format!("{w} ({n})"))
            .collect();
        let _ = writeln!(
            out,
            "  handshakes {} full, {} resumed; {}",
            c.full,
            c.resumed,
            negotiated.join(", ")
        );
    }
    if r.plan.insecure {
        let _ = writeln!(
            out,
            "  INSECURE   server certificates were not verified (--insecure)"
        );
    }
    for kind in r.totals.errors.keys() {
        let _ = writeln!(out, "  first {kind}: {}", first_message(&r.totals, kind));
    }
}

/// The first words recorded for an error `kind` (the system's, the parser's, the TLS
/// library's), or what the kind means when none were.
pub fn first_message<'a>(totals: &'a Merged, kind: &str) -> &'a str {
    totals
        .conns
        .first_errors
        .iter()
        .find(|(k, _)| k == kind)
        .map_or(kind::describe(kind), |(_, why)| why.as_str())
}

fn percentiles_line(h: &Histogram<u64>) -> Option<String> {
    let l = LatencySummary::of(h)?;
    Some(format!(
        "{} connections: min {}  mean {}  p50 {}  p90 {}  p99 {}  max {}",
        h.len(),
        ms(l.min),
        ms(l.mean.round() as u64),
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.max)
    ))
}

/// Rows for the HTML plan table: (label, value).
pub fn html_rows(r: &Results) -> Vec<(&'static str, String)> {
    let c = &r.totals.conns;
    let mut rows = Vec::new();
    if let Some(line) = percentiles_line(&c.connect) {
        rows.push(("TCP connect", line));
    }
    if let Some(line) = percentiles_line(&c.handshake) {
        rows.push(("TLS handshake", line));
        rows.push((
            "Handshakes",
            format!("{} full, {} resumed", c.full, c.resumed),
        ));
        for (w, n) in &c.negotiated {
            rows.push(("Negotiated", format!("{w} ({n} connections)")));
        }
    }
    if r.plan.insecure {
        rows.push((
            "INSECURE",
            "server certificates were not verified (--insecure)".to_owned(),
        ));
    }
    for (kind, why) in &c.first_errors {
        rows.push(("First TLS error", format!("{kind}: {why}")));
    }
    rows
}

/// `PREFIX_connections.csv`: one row per measure (times in milliseconds, as Locust's).
pub fn write_csv(r: &Results, prefix: &Path) -> io::Result<()> {
    let mut path = prefix.as_os_str().to_owned();
    path.push(CSV_SUFFIX);
    let c = &r.totals.conns;
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for (name, h) in [("connect", &c.connect), ("tls_handshake", &c.handshake)] {
        csv_row(&mut out, name, h);
    }
    let _ = writeln!(out, "full_handshakes,{},,,,,,,", c.full);
    let _ = writeln!(out, "resumed_handshakes,{},,,,,,,", c.resumed);
    super::file::write_atomically(Path::new(&path), out.as_bytes())
}

fn csv_row(out: &mut String, name: &str, h: &Histogram<u64>) {
    let f = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    match LatencySummary::of(h) {
        None => {
            let _ = writeln!(out, "{name},0,N/A,N/A,N/A,N/A,N/A,N/A,N/A");
        }
        Some(l) => {
            let _ = writeln!(
                out,
                "{name},{},{},{:.3},{},{},{},{},{}",
                h.len(),
                f(l.min),
                l.mean / 1000.0,
                f(l.p50),
                f(l.p90),
                f(l.p99),
                f(l.p999),
                f(l.max)
            );
        }
    }
}
