//! Reports: what a finished run leaves behind. Each format reads the merged `Results`;
//! none of them touches the engine.
pub mod batch;
pub mod client_csv;
pub mod compare;
pub mod connections;
pub mod csv;
pub mod file;
pub mod history;
pub mod html;
pub mod json;
pub mod limit;
pub mod saved;
pub mod text;

use std::path::Path;

use hdrhistogram::Histogram;

/// Writes `value` to `path` as indented JSON with a final newline.
pub fn write_json_value(value: &serde_json::Value, path: &Path) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    file::write_atomically(path, (text + "\n").as_bytes())
}

/// Summary latency figures in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct LatencySummary {
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p75: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl LatencySummary {
    /// None when the histogram is empty: a figure for no samples would be made up.
    pub fn of(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        Some(LatencySummary {
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p75: h.value_at_quantile(0.75),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        })
    }
}
