//! The report's over-time charts drawn by uPlot — the vendored file and the chart definitions
//! the live dashboard uses (`assets/web/charts.js`) — so a saved report looks like the last
//! frame of the live page, zoom and hover included. Everything is inline: the page still loads
//! nothing. The SVG figures stay in the page, shown where scripts do not run (and in print).
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::results::{Change, Second};

/// uPlot 1.6.32 from npm, unchanged (MIT; `assets/uplot/README.md`).
pub const UPLOT_JS: &str = include_str!("../../../assets/uplot/uPlot.iife.min.js");
pub const UPLOT_CSS: &str = include_str!("../../../assets/uplot/uPlot.min.css");
/// The three charts and their series, shared with the dashboard.
pub const CHARTS_JS: &str = include_str!("../../../assets/web/charts.js");

/// Replaces each over-time figure's SVG with its uPlot chart.
const INIT_JS: &str = r#"(function () {
  var points = JSON.parse(document.getElementById("blast-points").textContent);
  var edits = JSON.parse(document.getElementById("blast-edits").textContent);
  var data = blastCharts.columns(points);
  var hosts = {};
  [["rps", "chart-rps"], ["latency", "chart-latency"], ["users", "chart-users"]].forEach(function (p) {
    var fig = document.getElementById(p[1]);
    Array.prototype.forEach.call(fig.children, function (c) { c.style.display = "none"; });
    var host = document.createElement("div");
    host.className = "uplot-host";
    fig.appendChild(host);
    hosts[p[0]] = host;
  });
  var width = Math.max(600, document.getElementById("chart-rps").clientWidth - 24);
  blastCharts.build(hosts, data, width, function () { return edits; });
})();"#;

/// Microseconds as milliseconds.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// One chart point: `[t, req/s, failures/s, p50, p95, p99, users]`, latencies in ms (null
/// when the second had no response). The dashboard streams the same points.
pub fn chart_point(s: &Second) -> Value {
    let p = |q: f64| s.total.percentile(q).map(ms);
    json!([
        s.elapsed_s,
        s.rps(),
        s.failures_per_s(),
        p(0.5),
        p(0.95),
        p(0.99),
        s.users
    ])
}

/// JSON safe inside a `<script>` element: no `</` can end it early.
fn script_json(v: &Value) -> String {
    v.to_string().replace("</", "<\\/")
}

/// The styles, data and scripts that draw the charts; goes at the end of the body.
/// Edits of the running test are drawn as markers, as on the dashboard.
pub fn scripts(out: &mut String, timeline: &[Second], changes: &[Change]) {
    let points = Value::Array(timeline.iter().map(chart_point).collect());
    let edits = Value::Array(
        changes
            .iter()
            .map(|c| json!({"t": c.elapsed_s, "what": c.what}))
            .collect(),
    );
    let _ = write!(
        out,
        "<style>{UPLOT_CSS}.uplot-host{{overflow:hidden}}</style>\n\
         <script type=\"application/json\" id=\"blast-points\">{}</script>\n\
         <script type=\"application/json\" id=\"blast-edits\">{}</script>\n\
         <script>{UPLOT_JS}</script>\n<script>{CHARTS_JS}</script>\n<script>{INIT_JS}</script>\n",
        script_json(&points),
        script_json(&edits)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_its_element() {
        let v = json!(["</script><img src=x onerror=alert(1)>"]);
        let s = script_json(&v);
        assert!(!s.contains("</"), "{s}");
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
    }

    #[test]
    fn the_vendored_files_hold_no_closing_script_tag() {
        for text in [UPLOT_JS, UPLOT_CSS, CHARTS_JS, INIT_JS] {
            assert!(!text.to_ascii_lowercase().contains("</script"));
        }
    }
}
