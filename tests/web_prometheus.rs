//! A real Prometheus scrapes `blast --metrics-only` on loopback once a second through a 5 s
//! run; its last scraped `blast_requests_total` must be exactly the run's request count at
//! one of the run's last seconds (the figures `/metrics` serves change once a second), as
//! the run's own JSON timeline records them. Skipped where Prometheus is missing, except
//! under CI (`scripts/install-prometheus.sh` installs it).
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{dead_port, fast_target, run_blast, url, Scratch};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const RUN_SECONDS: u64 = 5;
/// The last scrape may come up to a scrape interval (1 s) before the run's last second, and
/// the run's final, short interval closes as it stops: the count matches one of these.
const LAST_SECONDS_MATCHED: usize = 3;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET answered with `Connection: close`: status and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(STEP_TIMEOUT)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    Some((head.get(9..12)?.parse().ok()?, body.to_owned()))
}

#[test]
fn prometheus_scrapes_the_runs_request_count() {
    if !Path::new(PROMETHEUS).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{PROMETHEUS} missing under CI"
        );
        eprintln!("skipping: {PROMETHEUS} not installed (scripts/install-prometheus.sh)");
        return;
    }
    let _guard = support::shared();
    let dir = Scratch::new("prometheus");
    let metrics = dead_port();
    let prom = dead_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n\
         scrape_configs:\n  - job_name: blast\n    static_configs:\n      - targets: ['{metrics}']\n"
    );
    std::fs::write(dir.0.join("prometheus.yml"), config).unwrap();
    let _prometheus = Kill(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", dir.file("prometheus.yml")))
            .arg(format!("--storage.tsdb.path={}", dir.file("data")))
            .arg(format!("--web.listen-address={prom}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.0.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus"),
    );
    let end = Instant::now() + STEP_TIMEOUT;
    // Prometheus hands targets to its scraper some seconds after it is ready: wait for ours.
    let scraping = || {
        get(prom.port(), "/api/v1/targets")
            .is_some_and(|(_, body)| body.contains(&metrics.to_string()))
    };
    while !scraping() {
        assert!(Instant::now() < end, "prometheus never listed the target");
        std::thread::sleep(Duration::from_millis(100));
    }

    let target = url(fast_target(), "/health");
    let web = format!("--web={metrics}");
    let duration = format!("{RUN_SECONDS}s");
    let (report, out) = run_blast(&[
        &target,
        "-d",
        &duration,
        "-u",
        "4",
        "-c",
        "1",
        "--metrics-only",
        &web,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A range selector returns the raw scraped samples, before the staleness marker that
    // follows the run's exit.
    let (status, body) = get(
        prom.port(),
        "/api/v1/query?query=blast_requests_total%5B1m%5D",
    )
    .expect("query");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let samples = v["data"]["result"][0]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no series: {body}"));
    assert!(
        samples.len() >= 3,
        "scraped {} times: {body}",
        samples.len()
    );
    let last: u64 = samples.last().unwrap()[1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(last > 0, "{body}");

    let timeline = report["timeline"].as_array().expect("timeline");
    let counts: Vec<u64> = timeline
        .iter()
        .map(|s| s["total_requests"].as_u64().unwrap())
        .collect();
    let tail = &counts[counts.len().saturating_sub(LAST_SECONDS_MATCHED)..];
    assert!(
        tail.contains(&last),
        "last scrape {last} is not the count at one of the last seconds {tail:?} (all: {counts:?})"
    );
}
