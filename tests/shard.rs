//! Sharded runs end to end: three `--shard I/3` processes started together with `--start-at`
//! against one loopback server, merged by `blast merge`; the merged plan is the unsharded one
//! and the merged figures are exactly the sums of the shards'.
mod support;

use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use blast::stats::compact::decode;
use serde_json::Value;
use support::{blast, exclusive, fast_target, run_blast, url, Scratch};

const SHARDS: u64 = 3;
const RATE: u64 = 300;
const USERS: u64 = 30;
const SECONDS: u64 = 3;

/// Runs the three shards at once; each returns its JSON report.
fn run_shards(target: &str) -> Vec<Value> {
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let handles: Vec<_> = (0..SHARDS)
        .map(|i| {
            let target = target.to_owned();
            thread::spawn(move || {
                let shard = format!("{i}/{SHARDS}");
                let (rate, users, secs) =
                    (RATE.to_string(), USERS.to_string(), format!("{SECONDS}s"));
                let at = start.to_string();
                let args = [
                    "-R",
                    &rate,
                    "-u",
                    &users,
                    "-d",
                    &secs,
                    "-c",
                    "1",
                    "--shard",
                    &shard,
                    "--start-at",
                    &at,
                    &target,
                ];
                let (report, out) = run_blast(&args);
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                report
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn sum(reports: &[Value], key: &str) -> u64 {
    reports.iter().map(|r| r[key].as_u64().unwrap()).sum()
}

#[test]
fn three_shards_merge_into_exactly_the_unsharded_plan() {
    let _g = exclusive();
    let scratch = Scratch::new("shards");
    let shards = run_shards(&url(fast_target(), "/health"));
    let files: Vec<String> = shards
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let path = scratch.file(&format!("shard-{i}.json"));
            std::fs::write(&path, r.to_string()).unwrap();
            path
        })
        .collect();
    for (i, r) in shards.iter().enumerate() {
        assert_eq!(r["plan"]["shard"]["index"], i as u64);
        assert!(
            r["notes"].to_string().contains("after --start-at"),
            "{}",
            r["notes"]
        );
    }
    let merged_path = scratch.file("merged.json");
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--json", &merged_path]);
    let out = blast(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(&merged_path).unwrap()).unwrap();

    // The plan the shards ran together is the one asked for, unsharded.
    let load = &merged["plan"]["load"];
    assert_eq!(load["model"], "open");
    assert!(
        (load["rate"].as_f64().unwrap() - RATE as f64).abs() < 1e-9,
        "{load}"
    );
    assert_eq!(load["conns"], USERS);
    assert_eq!(merged["users"], USERS);
    assert_eq!(merged["plan"]["shard"], Value::Null);

    // Counts are the shards' sums, and the offered load was sent on schedule.
    for key in [
        "requests",
        "sent",
        "errors_total",
        "bytes_received",
        "late_requests",
    ] {
        assert_eq!(merged[key].as_u64().unwrap(), sum(&shards, key), "{key}");
    }
    let expected = (RATE * SECONDS) as f64;
    let sent = merged["sent"].as_u64().unwrap() as f64;
    assert!(
        (sent - expected).abs() <= expected * 0.03,
        "sent {sent}, planned {expected}"
    );

    // The merged histogram is every shard's samples together: its percentiles are exact.
    let mut all = decode(shards[0]["tasks"][0]["histogram"].as_str().unwrap()).unwrap();
    for r in &shards[1..] {
        all.add(decode(r["tasks"][0]["histogram"].as_str().unwrap()).unwrap())
            .unwrap();
    }
    let m = decode(merged["tasks"][0]["histogram"].as_str().unwrap()).unwrap();
    assert_eq!(m.len(), all.len());
    let p99_ms = merged["latency_ms"]["p99"].as_f64().unwrap();
    assert_eq!(p99_ms, all.value_at_quantile(0.99) as f64 / 1000.0);

    // Per-second series line up by wall-clock second and add up to the totals.
    let timeline = merged["timeline"].as_array().unwrap();
    let last = timeline.last().unwrap();
    assert_eq!(
        last["total_requests"].as_u64().unwrap(),
        sum(&shards, "requests")
    );
    assert!(
        timeline.len() <= SECONDS as usize + 2,
        "{} seconds",
        timeline.len()
    );

    // Merging part of the shards says what is missing.
    let partial = blast(&["merge", &files[0], &files[1]]);
    assert!(partial.status.success());
    let warned = String::from_utf8_lossy(&partial.stderr);
    assert!(warned.contains("shard 2/3 is missing"), "{warned}");
}

#[test]
fn reports_of_different_scenarios_are_not_merged() {
    let _g = support::shared();
    let scratch = Scratch::new("different");
    let host = url(fast_target(), "");
    let (plain, _) = run_blast(&["-n", "20", "-u", "2", "-c", "1", &format!("{host}/health")]);
    let (scenario, _) = run_blast(&[
        "-s",
        "scenarios/predict-max.toml",
        "--host",
        &host,
        "-n",
        "20",
        "-u",
        "2",
        "-c",
        "1",
    ]);
    let a = scratch.file("a.json");
    let b = scratch.file("b.json");
    std::fs::write(&a, plain.to_string()).unwrap();
    std::fs::write(&b, scenario.to_string()).unwrap();
    let out = blast(&["merge", &a, &b]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("other tasks"));
}
