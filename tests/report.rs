//! Saved results: the `--json` report against its JSON Schema, `blast report` rendering a saved
//! run again (the same JSON back, HTML and CSV from it), `--history` and its Markdown table,
//! and refusals of files that are not blast reports.
mod support;

use serde_json::Value;
use support::{blast, fast_target, run_blast, shared, url, Scratch};

const SCHEMA: &str = include_str!("../schemas/result.schema.json");

/// A short real scenario run: rendered payloads, expectations and a per-second series.
fn real_run() -> Value {
    run_scenario("scenarios/predict-max.toml")
}

fn run_scenario(file: &str) -> Value {
    let host = url(fast_target(), "");
    let (report, out) = run_blast(&[
        "-s", file, "--host", &host, "-u", "4", "-c", "1", "-d", "2s",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    report
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn schema_errors(report: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn write_json(scratch: &Scratch, name: &str, v: &Value) -> String {
    let path = scratch.file(name);
    std::fs::write(&path, serde_json::to_string(v).unwrap()).unwrap();
    path
}

#[test]
fn the_json_report_matches_its_schema() {
    let _g = shared();
    let report = real_run();
    assert_eq!(schema_errors(&report), Vec::<String>::new());
    // The schema is strict enough to catch drift: a field of the wrong type is caught.
    let mut broken = report.clone();
    broken["requests"] = Value::from("many");
    assert!(!schema_errors(&broken).is_empty());
    let mut extra = report;
    extra["tasks"][0]["surprise"] = Value::from(1);
    assert!(!schema_errors(&extra).is_empty());
}

/// An open-model run carries what a closed one has not: lateness of every send, service
/// time, the schedule's books (scheduled = sent + unsent) and each worker's CPU. All of it
/// matches the schema and survives `blast report` unchanged.
#[test]
fn an_open_model_report_matches_its_schema_and_renders_again_the_same() {
    let _g = shared();
    let scratch = Scratch::new("open");
    let (first, out) = run_blast(&[
        &url(fast_target(), "/health"),
        "-R",
        "500",
        "-u",
        "5",
        "-c",
        "1",
        "-d",
        "2s",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(schema_errors(&first), Vec::<String>::new());
    let n = |k: &str| {
        first[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k}: {first:#}"))
    };
    assert_eq!(n("sent") + n("unsent"), n("scheduled"), "{first:#}");
    assert!(first["service_ms"]["p50"].is_number(), "{first:#}");
    assert!(first["client_cpu"][0]["share"].is_number(), "{first:#}");
    let saved = write_json(&scratch, "run.json", &first);
    let again = scratch.file("again.json");
    let out = blast(&["report", &saved, "--json", &again]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second: Value = serde_json::from_str(&std::fs::read_to_string(&again).unwrap()).unwrap();
    assert_eq!(first, second, "a re-rendered report is the report");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("service") && text.contains("unsent"),
        "{text}"
    );
}

#[test]
fn a_saved_run_renders_again_to_the_same_json_and_to_html_and_csv() {
    let _g = shared();
    let scratch = Scratch::new("rerender");
    let first = real_run();
    assert!(first["timeline"].as_array().is_some_and(|t| t.len() >= 2));
    let saved = write_json(&scratch, "run.json", &first);
    let again = scratch.file("again.json");
    let html = scratch.file("run.html");
    let csv = scratch.file("run");
    let out = blast(&[
        "report", &saved, "--json", &again, "--html", &html, "--csv", &csv,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second: Value = serde_json::from_str(&std::fs::read_to_string(&again).unwrap()).unwrap();
    assert_eq!(first, second, "a re-rendered report is the report");
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    let stats = std::fs::read_to_string(format!("{csv}_stats.csv")).unwrap();
    assert!(stats.contains("Aggregated"), "{stats}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("predict"), "the summary is printed: {text}");
}

/// Latency by batch size (a `repeat` body) is in the schema, and a saved run keeps it:
/// `blast report` gives the same JSON back and shows the table in text and HTML.
#[test]
fn a_saved_batch_run_keeps_its_latency_by_batch_size() {
    let _g = shared();
    let scratch = Scratch::new("batches");
    let first = run_scenario("scenarios/batch-predict.toml");
    assert_eq!(schema_errors(&first), Vec::<String>::new());
    let buckets = first["tasks"][0]["batches"].as_array().expect("batches");
    assert!(buckets.len() >= 3, "{buckets:#?}");
    let saved = write_json(&scratch, "batch.json", &first);
    let again = scratch.file("again.json");
    let html = scratch.file("batch.html");
    let out = blast(&["report", &saved, "--json", &again, "--html", &html]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second: Value = serde_json::from_str(&std::fs::read_to_string(&again).unwrap()).unwrap();
    assert_eq!(first, second, "a re-rendered report is the report");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("latency by batch size"), "{text}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Latency by batch size"), "{page}");
}

#[test]
fn report_applies_gates_to_a_saved_run() {
    let _g = shared();
    let scratch = Scratch::new("gates");
    let saved = write_json(&scratch, "run.json", &real_run());
    let pass = blast(&["report", &saved, "--fail-on", "failures<100%"]);
    assert_eq!(pass.status.code(), Some(0), "{}", stderr(&pass));
    let breach = blast(&["report", &saved, "--fail-on", "rps>1000000000"]);
    assert_eq!(breach.status.code(), Some(1), "{}", stderr(&breach));
    assert!(stderr(&breach).contains("rps>1000000000"));
}

#[test]
fn history_grows_by_a_row_per_run_and_lists_the_newest_first() {
    let _g = shared();
    let scratch = Scratch::new("history");
    let history = scratch.file("history.csv");
    let mut saved = real_run();
    for (n, label) in ["build-1", "build-2"].iter().enumerate() {
        // Two distinct runs: the second started later.
        let start = saved["started_unix_ms"].as_u64().unwrap() + n as u64 * 1000;
        saved["started_unix_ms"] = Value::from(start);
        let path = write_json(&scratch, "run.json", &saved);
        let out = blast(&["report", &path, "--history", &history, "--label", label]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let csv = std::fs::read_to_string(&history).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "header and two rows:\n{csv}");
    assert!(lines[0].starts_with("timestamp,run_id,label,target"));
    assert!(lines[1].contains("build-1") && lines[2].contains("build-2"));
    let md = blast(&["report", &history, "--markdown", "--last", "1"]);
    assert!(md.status.success(), "{}", stderr(&md));
    let table = String::from_utf8_lossy(&md.stdout);
    assert_eq!(table.lines().count(), 3, "header, rule, one run:\n{table}");
    assert!(table.contains("build-2") && !table.contains("build-1"));
    let rps = saved["rps"].as_f64().unwrap();
    assert!(table.contains(&format!("{rps:.1}")), "{table}");
}

#[test]
fn a_file_that_is_not_a_blast_report_is_refused_with_exit_code_2() {
    let scratch = Scratch::new("refuse");
    let garbage = scratch.file("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap();
    let other = write_json(&scratch, "other.json", &serde_json::json!({"format": "k6"}));
    let missing = scratch.file("missing.json");
    for (file, says) in [
        (&garbage, "not a blast JSON report"),
        (&other, "blast-result/1"),
        (&missing, "missing.json"),
    ] {
        let out = blast(&["report", file]);
        assert_eq!(out.status.code(), Some(2), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{file}: {}", stderr(&out));
    }
    let not_history = blast(&["report", &other, "--markdown"]);
    assert_eq!(not_history.status.code(), Some(2));
}

#[test]
fn a_report_whose_parts_disagree_is_refused() {
    let _g = shared();
    let scratch = Scratch::new("inconsistent");
    let mut report = real_run();
    report["timeline"][0]["tasks"].as_array_mut().unwrap().pop();
    let path = write_json(&scratch, "bad.json", &report);
    let out = blast(&["report", &path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("inconsistent"), "{}", stderr(&out));
}
