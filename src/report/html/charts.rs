//! The HTML report's charts, drawn by `plotters` into SVG strings that the page inlines.
//! Every chart degrades to a short escaped message instead of failing the report.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::escape;
use crate::results::Second;
use crate::stats::TaskStats;

/// Chart size in SVG user units; the page scales it to the column width.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 340;
/// Room for the last x label, which is centred on the plot's right edge.
const RIGHT_MARGIN: u32 = 32;
/// Headroom above the highest value so lines do not touch the frame.
const HEADROOM: f64 = 1.1;
/// Points per halving of the remaining distance to 100% in the distribution chart.
const QUANTILE_TICKS_PER_HALF: u32 = 8;
/// The distribution chart stops at 99.9999% (six nines) whatever the sample count.
const MAX_NINES: u32 = 6;
const FONT: &str = "sans-serif";
/// Font sizes as plotters takes them (it draws SVG text at about 0.8 of these).
const LABEL_SIZE: u32 = 17;
const DESC_SIZE: u32 = 18;

const BLUE_LINE: RGBColor = RGBColor(31, 119, 180);
const RED_LINE: RGBColor = RGBColor(214, 39, 40);
const GREEN_LINE: RGBColor = RGBColor(44, 160, 44);
const ORANGE_LINE: RGBColor = RGBColor(255, 127, 14);
const PURPLE_LINE: RGBColor = RGBColor(148, 103, 189);
const GRID: RGBColor = RGBColor(225, 225, 225);
const GREY_LINE: RGBColor = RGBColor(127, 127, 127);
/// Line colours for curves beyond the first (p50 and p99 of each target take two).
const PALETTE: [RGBColor; 6] = [
    GREEN_LINE,
    RED_LINE,
    BLUE_LINE,
    ORANGE_LINE,
    PURPLE_LINE,
    RGBColor(140, 86, 75),
];
/// Radius of a measured point on the latency-vs-throughput chart.
const MARKER_RADIUS: u32 = 4;

/// A drawn chart and its legend: (label, CSS colour) per line, shown by the page.
pub struct Chart {
    pub svg: String,
    pub legend: Vec<(String, String)>,
}

/// One named line; `None` leaves a gap (an interval with nothing to show).
struct Series {
    label: String,
    color: RGBColor,
    points: Vec<(f64, Option<f64>)>,
    /// Mark each point (measured steps), not only the line through them.
    markers: bool,
}

/// Axis text and tick labelling of one chart.
struct Axes<'a> {
    x_desc: &'a str,
    y_desc: &'a str,
    x_range: std::ops::Range<f64>,
    /// Number of x labels and how each value reads.
    x_labels: usize,
    x_format: &'a dyn Fn(&f64) -> String,
}

/// Requests and failures per second against elapsed time.
pub fn throughput(timeline: &[Second]) -> Chart {
    let series = [
        over_time(timeline, "requests/s", BLUE_LINE, |s| Some(s.rps())),
        over_time(timeline, "failures/s", RED_LINE, |s| {
            Some(s.failures_per_s())
        }),
    ];
    timed_chart(timeline, "requests per second", &series)
}

/// Interval latency percentiles in milliseconds against elapsed time.
pub fn latency(timeline: &[Second]) -> Chart {
    let pct = |q: f64| move |s: &Second| s.total.percentile(q).map(ms);
    let series = [
        over_time(timeline, "p50", GREEN_LINE, pct(0.5)),
        over_time(timeline, "p95", ORANGE_LINE, pct(0.95)),
        over_time(timeline, "p99", RED_LINE, pct(0.99)),
    ];
    timed_chart(timeline, "latency (ms)", &series)
}

/// Users with an open connection against elapsed time.
pub fn users(timeline: &[Second]) -> Chart {
    let series = [over_time(timeline, "users", PURPLE_LINE, |s| {
        Some(s.users as f64)
    })];
    timed_chart(timeline, "users", &series)
}

/// Latency at each percentile, on an axis where every tick adds a nine (0%, 90%, 99%, ...).
pub fn distribution(all: &TaskStats) -> Chart {
    let h = &all.latency;
    let nines = nines_for(h.len());
    let points = h
        .iter_quantiles(QUANTILE_TICKS_PER_HALF)
        .map(|v| {
            (
                nines_of(v.quantile_iterated_to(), nines),
                Some(ms(v.value_iterated_to())),
            )
        })
        .collect();
    let series = [Series {
        label: "latency".to_owned(),
        color: BLUE_LINE,
        points,
        markers: false,
    }];
    let axes = Axes {
        x_desc: "percentile",
        y_desc: "latency (ms)",
        x_range: 0.0..f64::from(nines),
        x_labels: nines as usize + 1,
        x_format: &|x| percentile_label(*x),
    };
    draw(&axes, &series)
}

/// Measured steps of one target: (achieved req/s, p50 ms, p99 ms) each.
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// p50 and p99 against achieved throughput, one pair of lines per curve (a target), with
/// the SLO (label, ms) as a horizontal line. Points are joined in order of throughput.
pub fn latency_vs_rate(curves: &[Curve], slo: Option<(&str, f64)>) -> Chart {
    let mut series = Vec::new();
    for (i, c) in curves.iter().enumerate() {
        let mut pts = c.points.clone();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let name = |q: &str| match curves.len() {
            1 => q.to_owned(),
            _ => format!("{} {q}", c.name),
        };
        for (k, q) in ["p50", "p99"].into_iter().enumerate() {
            series.push(Series {
                label: name(q),
                color: PALETTE[(2 * i + k) % PALETTE.len()],
                points: pts
                    .iter()
                    .map(|p| (p.0, Some(if k == 0 { p.1 } else { p.2 })))
                    .collect(),
                markers: true,
            });
        }
    }
    let x_max = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .fold(0.0f64, f64::max);
    let x_range = 0.0..(x_max * HEADROOM).max(1.0);
    if let Some((label, ms)) = slo {
        series.push(Series {
            label: format!("SLO {label}"),
            color: GREY_LINE,
            points: vec![(0.0, Some(ms)), (x_range.end, Some(ms))],
            markers: false,
        });
    }
    let axes = Axes {
        x_desc: "achieved throughput (req/s)",
        y_desc: "latency (ms)",
        x_range,
        x_labels: 10,
        x_format: &|x| number(*x),
    };
    draw(&axes, &series)
}

/// How many nines the distribution axis shows: enough to reach the slowest sample, at least one.
fn nines_for(samples: u64) -> u32 {
    let mut nines = 1;
    while nines < MAX_NINES && 10u64.pow(nines) < samples {
        nines += 1;
    }
    nines
}

/// Position of quantile `q` on the distribution axis: log10(1 / (1 - q)), capped at `max`.
pub fn nines_of(q: f64, max: u32) -> f64 {
    let rest = (1.0 - q).max(10f64.powi(-(max as i32)));
    (-rest.log10()).clamp(0.0, f64::from(max))
}

/// The percentile at axis position `x` when it is a whole number of nines; blank in between.
pub fn percentile_label(x: f64) -> String {
    if x < 0.0 || x.fract() != 0.0 {
        return String::new();
    }
    match x as u32 {
        0 => "0%".to_owned(),
        1 => "90%".to_owned(),
        2 => "99%".to_owned(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)),
    }
}

/// A tick value without float noise: whole numbers bare, others to at most three decimals.
pub fn number(v: f64) -> String {
    let fixed = format!("{v:.3}");
    fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn over_time(
    timeline: &[Second],
    label: &'static str,
    color: RGBColor,
    value: impl Fn(&Second) -> Option<f64>,
) -> Series {
    Series {
        label: label.to_owned(),
        color,
        points: timeline.iter().map(|s| (s.elapsed_s, value(s))).collect(),
        markers: false,
    }
}

fn timed_chart(timeline: &[Second], y_desc: &str, series: &[Series]) -> Chart {
    let end = timeline.last().map_or(0.0, |s| s.elapsed_s);
    let axes = Axes {
        x_desc: "elapsed (s)",
        y_desc,
        x_range: 0.0..end.max(1.0),
        x_labels: 10,
        x_format: &|x| number(*x),
    };
    draw(&axes, series)
}

/// Renders `series` into an SVG string, or a message saying why it could not.
fn draw(axes: &Axes, series: &[Series]) -> Chart {
    let legend = series
        .iter()
        .map(|s| (s.label.clone(), css(s.color)))
        .collect();
    Chart {
        svg: draw_svg(axes, series),
        legend,
    }
}

fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn draw_svg(axes: &Axes, series: &[Series]) -> String {
    let mut svg = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        plot(&root, axes, series).and_then(|()| root.present())
    };
    match result {
        Ok(()) => svg,
        Err(e) => format!("<p>chart unavailable: {}</p>", escape(&e.to_string())),
    }
}

type DrawResult<'a> =
    Result<(), DrawingAreaErrorKind<<SVGBackend<'a> as DrawingBackend>::ErrorType>>;

fn plot<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    axes: &Axes,
    series: &[Series],
) -> DrawResult<'a> {
    root.fill(&WHITE)?;
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .fold(0.0f64, f64::max);
    let y_top = if y_max > 0.0 { y_max * HEADROOM } else { 1.0 };
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .margin_right(RIGHT_MARGIN)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(axes.x_range.clone(), 0.0..y_top)?;
    chart
        .configure_mesh()
        .light_line_style(GRID.mix(0.5))
        .bold_line_style(GRID)
        .x_labels(axes.x_labels)
        .x_label_formatter(axes.x_format)
        .y_labels(8)
        .y_label_formatter(&|y| number(*y))
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .draw()?;
    for s in series {
        let style = s.color.stroke_width(2);
        for run in runs(&s.points) {
            if s.markers {
                let dots = run
                    .iter()
                    .map(|&p| Circle::new(p, MARKER_RADIUS, s.color.filled()));
                chart.draw_series(dots)?;
            }
            chart.draw_series(LineSeries::new(run, style))?;
        }
    }
    Ok(())
}

/// Splits a line at its gaps into the runs of consecutive known points.
fn runs(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for &(x, y) in points {
        match (y, runs.last_mut()) {
            (Some(y), Some(run)) => run.push((x, y)),
            (None, Some(run)) if !run.is_empty() => runs.push(Vec::new()),
            _ => {}
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_labels_add_a_nine_per_tick() {
        let table = [
            (0.0, "0%"),
            (1.0, "90%"),
            (2.0, "99%"),
            (3.0, "99.9%"),
            (4.0, "99.99%"),
            (6.0, "99.9999%"),
            (0.5, ""),
            (-1.0, ""),
        ];
        for (x, want) in table {
            assert_eq!(percentile_label(x), want, "x={x}");
        }
    }

    #[test]
    fn quantiles_map_to_nines_and_cap() {
        let table = [
            (0.0, 3, 0.0),
            (0.9, 3, 1.0),
            (0.99, 3, 2.0),
            (0.999, 3, 3.0),
            (1.0, 3, 3.0),
            (0.99999, 2, 2.0),
        ];
        for (q, max, want) in table {
            assert!((nines_of(q, max) - want).abs() < 1e-9, "q={q} max={max}");
        }
    }

    #[test]
    fn nines_cover_the_samples() {
        let table = [
            (0, 1),
            (10, 1),
            (11, 2),
            (1000, 3),
            (1001, 4),
            (u64::MAX, MAX_NINES),
        ];
        for (samples, want) in table {
            assert_eq!(nines_for(samples), want, "samples={samples}");
        }
    }

    #[test]
    fn tick_numbers_drop_float_noise() {
        let table = [
            (0.0, "0"),
            (1000.0, "1000"),
            (0.30000000000000004, "0.3"),
            (2.5, "2.5"),
            (0.0125, "0.013"),
        ];
        for (v, want) in table {
            assert_eq!(number(v), want, "v={v}");
        }
    }

    #[test]
    fn gaps_split_lines() {
        let pts = [
            (0.0, None),
            (1.0, Some(1.0)),
            (2.0, Some(2.0)),
            (3.0, None),
            (4.0, None),
            (5.0, Some(5.0)),
        ];
        assert_eq!(
            runs(&pts),
            vec![vec![(1.0, 1.0), (2.0, 2.0)], vec![(5.0, 5.0)]]
        );
        assert!(runs(&[]).is_empty());
    }
}
