//! The HTML report: built from a hand-made `Results` (no run needed), checked as text for its
//! content, escaping and self-containment, then opened in headless Chromium when available
//! (required under CI; `scripts/install-chromium.sh` installs it).
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use blast::engine::DriverUsed;
use blast::plan::{Plan, PlanInput};
use blast::report::html;
use blast::results::TaskInfo;
use blast::results::{Clock, Results, Second};
use blast::stats::{Merged, Recorder};

const TARGET: &str = "http://127.0.0.1:9/x";
const SECONDS: u64 = 10;
const CHART_IDS: [&str; 4] = [
    "chart-rps",
    "chart-latency",
    "chart-users",
    "chart-distribution",
];
const CHROMIUM: &str = "/usr/bin/chromium";
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);
/// A 1200x2400 screenshot of a blank page is about 13 KB, of a heading and a small table
/// about 18 KB; this report's, with its tables and four charts, about 240 KB.
const MIN_SCREENSHOT_BYTES: u64 = 100 * 1024;

/// A plan with two tasks, the second with a name that needs escaping.
fn plan() -> Plan {
    let input = PlanInput {
        url: Some(TARGET.into()),
        ..Default::default()
    };
    let mut plan = Plan::build(input, &[0]).expect("valid plan");
    plan.tasks = vec![
        TaskInfo {
            method: "GET".into(),
            name: "/x".into(),
        },
        TaskInfo {
            method: "POST".into(),
            name: "<b>&x".into(),
        },
    ];
    plan
}

/// `seconds` one-second intervals of traffic: latencies that grow with time, a slow tail,
/// and failures on the second task, merged and timed as the coordinator does.
fn results(seconds: u64) -> Results {
    let plan = plan();
    let tasks = plan.tasks.len();
    let mut rec = Recorder::new(tasks);
    let mut totals = Merged::new(tasks);
    let mut timeline = Vec::new();
    for s in 0..seconds {
        for i in 0..1000u64 {
            let task = (i % 4 == 0) as usize;
            let us = 500 + s * 100 + (i * 7919) % 2000 + if i % 200 == 0 { 40_000 } else { 0 };
            rec.response(task, 200, Duration::from_micros(us), 10);
        }
        for _ in 0..s {
            rec.failure(1, &"status 500 <bad>");
            rec.request_error(1, "timeout");
        }
        let snap = rec.take_snapshot(0, 10 * (s + 1), s + 1 == seconds);
        let mut interval = Merged::new(tasks);
        interval.add(&snap);
        totals.add(&snap);
        timeline.push(second(s, &snap.users, &interval, &totals));
    }
    Results {
        plan: plan.info(),
        totals,
        elapsed: Duration::from_secs(seconds),
        started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        driver: DriverUsed::IoUring.name().to_owned(),
        worker_failures: Vec::new(),
        timeline,
        interrupted: false,
        changes: Vec::new(),
    }
}

fn second(s: u64, users: &u64, interval: &Merged, totals: &Merged) -> Second {
    let clock = Clock {
        elapsed_s: (s + 1) as f64,
        interval_s: 1.0,
        unix_s: 1_700_000_000 + s,
        users: *users,
        errors: interval.errors_total(),
    };
    Second::new(clock, &interval.tasks, &totals.tasks)
}

#[test]
fn report_has_four_titled_charts() {
    let page = html::render(&results(SECONDS));
    assert_eq!(page.matches("<svg").count(), 4, "one SVG per chart");
    for id in CHART_IDS {
        let at = page
            .find(&format!("<figure id=\"{id}\">"))
            .unwrap_or_else(|| panic!("{id} missing"));
        let figure = &page[at..at + page[at..].find("</figure>").expect("closed figure")];
        assert!(figure.contains("<svg"), "{id} has its SVG");
        assert!(figure.contains("<title>"), "{id} SVG is titled");
        assert!(
            figure.contains("<polyline") || figure.contains("<path"),
            "{id} draws a line"
        );
    }
    let at = page
        .find("id=\"chart-distribution\"")
        .expect("distribution chart");
    let labels = svg_texts(&page[at..]);
    for label in ["0%", "90%", "99%", "99.9%", "99.99%"] {
        assert!(
            labels.contains(&label),
            "distribution axis label {label} in {labels:?}"
        );
    }
}

#[test]
fn report_has_plan_summary_and_task_rows() {
    let page = html::render(&results(SECONDS));
    for want in [
        "<td>GET</td><td>/x</td><td class=\"n\">7500</td><td class=\"n\">0</td>",
        "<td>POST</td><td>&lt;b&gt;&amp;x</td><td class=\"n\">2545</td><td class=\"n\">90</td>",
        "<td></td><td>Aggregated</td><td class=\"n\">10045</td><td class=\"n\">90</td>",
        "<th>Target</th><td>http://127.0.0.1:9/x</td>",
        "<th>Workers</th><td>1</td>",
        "<th>Driver</th><td>io_uring (asked: auto)</td>",
        "<th>Load</th><td>closed model: 50 users</td>",
        "<th>Pipeline</th><td>1</td>",
        "<th>Duration</th><td>10s</td>",
        "<th>Started</th><td>2023-11-14T22:13:20Z</td>",
        "<th>Status codes</th><td>200: 10000</td>",
        "<th>Errors</th><td>timeout: 45</td>",
    ] {
        assert!(page.contains(want), "missing {want}");
    }
}

#[test]
fn strings_from_the_run_are_escaped() {
    let page = html::render(&results(SECONDS));
    assert!(!page.contains("<b>&x"), "raw task name leaked");
    assert!(!page.contains("<bad>"), "raw failure message leaked");
    for want in [
        "<td>POST &lt;b&gt;&amp;x</td><td>status 500 &lt;bad&gt;</td><td class=\"n\">45</td>",
        "<td>POST &lt;b&gt;&amp;x</td><td>timeout</td><td class=\"n\">45</td>",
    ] {
        assert!(page.contains(want), "missing failure row {want}");
    }
}

#[test]
fn report_loads_nothing_from_the_network() {
    let page = html::render(&results(SECONDS));
    // The vendored uPlot names its home in its licence comment; it is not loaded.
    let allowed = [
        "127.0.0.1:9/x",
        "www.w3.org/2000/svg",
        "github.com/leeoniya/uPlot (v",
    ];
    for scheme in ["http://", "https://"] {
        for (at, _) in page.match_indices(scheme) {
            let rest = &page[at + scheme.len()..];
            assert!(
                allowed.iter().any(|a| rest.starts_with(a)),
                "unexpected reference: {}",
                &rest[..rest.len().min(60)]
            );
        }
    }
    // Scripts are inline only (uPlot and the chart code): none is fetched.
    for (at, _) in page.match_indices("<script") {
        let tag = &page[at..at + page[at..].find('>').expect("closed tag") + 1];
        assert!(
            tag == "<script>" || tag.starts_with("<script type=\"application/json\" id=\"blast-"),
            "script tag {tag}"
        );
    }
    for banned in ["<link", "<img", "<iframe", "src=", "@import", "url("] {
        assert!(
            !page.contains(banned),
            "external-resource construct {banned}"
        );
    }
}

#[test]
fn report_of_a_run_without_responses_still_renders() {
    let mut r = results(0);
    r.worker_failures = vec!["worker 0: <boom>".into()];
    let page = html::render(&r);
    assert_eq!(page.matches("<svg").count(), 4);
    assert!(page.contains("No failures."));
    assert!(page.contains("worker 0: &lt;boom&gt;"));
    assert!(page.contains("<td></td><td>Aggregated</td><td class=\"n\">0</td>"));
}

#[test]
fn write_puts_the_rendered_page_in_the_file() {
    let dir = scratch("write");
    let path = dir.join("report.html");
    let r = results(2);
    html::write(&r, &path).expect("write report");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), html::render(&r));
    let _ = std::fs::remove_dir_all(dir);
}

/// Headless Chromium renders the page: a screenshot with content, and a DOM with the charts
/// (the SVGs, and uPlot's canvases for the three over-time ones) and the escaped name as
/// text, with no console message or script error.
#[test]
fn chromium_renders_the_report() {
    if !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} missing under CI: run scripts/install-chromium.sh"
        );
        eprintln!("skipping: {CHROMIUM} not installed (scripts/install-chromium.sh installs it)");
        return;
    }
    let dir = scratch("chromium");
    let report = dir.join("report.html");
    html::write(&results(SECONDS), &report).expect("write report");
    let url = format!("file://{}", report.display());

    let shot = dir.join("shot.png");
    let out = chromium(
        &dir,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,2400",
            &url,
        ],
    );
    assert!(out.status.success(), "screenshot failed: {}", stderr(&out));
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(png_size(&png), Some((1200, 2400)));
    assert!(
        png.len() as u64 > MIN_SCREENSHOT_BYTES,
        "screenshot of {} bytes looks blank",
        png.len()
    );

    let out = chromium(
        &dir,
        &["--dump-dom", "--enable-logging=stderr", "--v=0", &url],
    );
    assert!(out.status.success(), "dump-dom failed: {}", stderr(&out));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert_eq!(dom.matches("<svg").count(), 4, "four charts in the DOM");
    assert_eq!(
        dom.matches("<canvas").count(),
        3,
        "uPlot drew the three over-time charts"
    );
    assert!(
        dom.contains("&lt;b&gt;&amp;x"),
        "name stays text in the DOM"
    );
    let log = stderr(&out);
    assert!(!log.contains("CONSOLE"), "console messages: {log}");
    assert!(!log.contains("Uncaught"), "script errors: {log}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The trimmed contents of the `<text>` elements in `svg`, in order.
fn svg_texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim()))
        .collect()
}

fn chromium(dir: &Path, args: &[&str]) -> Output {
    let profile = dir.join("profile");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Drained on threads: a full pipe would stall chromium until the deadline.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium ran past {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let be = |at: usize| Some(u32::from_be_bytes(png.get(at..at + 4)?.try_into().ok()?));
    Some((be(16)?, be(20)?))
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("blast-html-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
