//! Every shipped scenario, run for a few seconds against a real loopback model API: the
//! observed task mix, the expectations, and the errors a bad scenario file produces.
mod support;

use serde_json::Value;
use support::{
    assert_clean_article_mix, count, fast_target, ok_response, run_blast, shared, task, url, Reply,
    Server,
};

fn run_scenario(file: &str, host: &str, extra: &[&str]) -> Value {
    let mut args = vec!["-s", file, "--host", host, "-c", "2"];
    args.extend_from_slice(extra);
    let (report, out) = run_blast(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

#[test]
fn heart_disease_mix_holds_and_a_correct_server_has_no_failures() {
    let _g = shared();
    let host = url(fast_target(), "");
    // The file's 1-5 s think time stays; more users make a few seconds enough.
    let r = run_scenario(
        "scenarios/heart-disease.toml",
        &host,
        &["--users", "400", "--spawn-rate", "100000", "-d", "4s"],
    );
    assert_clean_article_mix(&r, 300, 0.08, "");
}

#[test]
fn every_invalid_request_fails_on_a_server_that_accepts_everything() {
    let _g = shared();
    let server = Server::start(|_| Reply::Send(ok_response(r#"{"diagnosis":"no-disease"}"#)));
    let host = url(server.addr, "");
    let r = run_scenario(
        "scenarios/heart-disease.toml",
        &host,
        &["--users", "300", "--spawn-rate", "100000", "-d", "3s"],
    );
    let invalid = task(&r, "predict-invalid");
    assert!(count(invalid, "requests") > 10, "{invalid}");
    assert_eq!(count(invalid, "failures"), count(invalid, "requests"));
    assert_eq!(
        invalid["failure_messages"]["Expected status 400, got 200"].as_u64(),
        Some(count(invalid, "requests")),
        "{invalid}"
    );
    assert_eq!(count(task(&r, "predict"), "failures"), 0);
}

#[test]
fn health_and_predict_max_run_clean_against_the_model_api() {
    let _g = shared();
    let host = url(fast_target(), "");
    for file in ["scenarios/health.toml", "scenarios/predict-max.toml"] {
        let r = run_scenario(file, &host, &["--users", "8", "-d", "2s"]);
        let rows = r["tasks"].as_array().unwrap();
        for row in rows {
            assert!(count(row, "requests") > 100, "{file}: {row}");
            assert_eq!(count(row, "failures"), 0, "{file}: {row}");
        }
    }
}

#[test]
fn a_users_ramp_starts_users_over_time() {
    let _g = shared();
    let host = url(fast_target(), "");
    // predict-max ramps 0 -> 32 users over its first 10 s: after 2 s about 6 run.
    let r = run_scenario("scenarios/predict-max.toml", &host, &["-d", "2s"]);
    let users: Vec<u64> = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["users"].as_u64().unwrap())
        .collect();
    let last = *users.last().unwrap();
    assert!((4..=8).contains(&last), "users over time {users:?}");
    assert!(users.first().unwrap() < &last, "users over time {users:?}");
}

#[test]
fn a_bad_scenario_file_stops_before_traffic_with_its_position() {
    let dir = std::env::temp_dir().join(format!("blast-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "users = 3\nbogus = 1\n[[task]]\npath = \"/\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_blast"))
        .args(["-s", path.to_str().unwrap(), "--host", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let expected = format!("{}:2:1: ", path.display());
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(stderr.contains("bogus"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn predict_from_csv_sends_data_rows_the_model_api_accepts() {
    let _g = shared();
    let host = url(fast_target(), "");
    let r = run_scenario(
        "scenarios/predict-from-csv.toml",
        &host,
        &["--users", "100", "-d", "2s"],
    );
    let row = task(&r, "predict-row");
    assert!(count(row, "requests") > 150, "{row}");
    assert_eq!(count(row, "failures"), 0, "{row}");
    assert_eq!(
        count(task(&r, "explain"), "requests"),
        0,
        "weight 0 is never sent"
    );
}
