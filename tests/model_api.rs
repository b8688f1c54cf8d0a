//! The article's model API served by real Python frameworks (`scripts/model-api/`): each
//! server answers the contract directly (health, a prediction, 400 for a missing or mistyped
//! field), the shipped heart-disease scenario runs against it with no failures, and `blast
//! limit` and `blast compare` answer against Flask and Starlette.
//!
//! Needs the virtualenv that `scripts/model-api/setup.sh` makes (`scripts/test.sh` runs it);
//! without it these tests fail and say so, they never pass by skipping.
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::python::{repo, PyServer};
use support::{assert_clean_article_mix, no_errors, run_blast, run_blast_within, Scratch};

/// Longest a short limit search or comparison against these servers may take.
const SEARCH_LIMIT: Duration = Duration::from_secs(150);
/// Short searches for CI: 1 s steps after a 0.5 s warm-up, a few steps each.
const SHORT_SEARCH: [&str; 12] = [
    "-c",
    "1",
    "--slo-p99",
    "500ms",
    "--step",
    "1s",
    "--warmup",
    "500ms",
    "--max-steps",
    "5",
    "-s",
    "scenarios/predict-max.toml",
];

/// A valid payload the trained model calls heart disease (old, male, every risk factor).
fn risky() -> Value {
    json!({"age": 70, "sex": 1, "cp": 0, "trestbps": 160, "chol": 330, "fbs": 1, "restecg": 1,
           "thalach": 100, "exang": 1, "oldpeak": 3.5, "slope": 0, "ca": 3, "thal": 3})
}

/// A valid payload the trained model calls no disease.
fn healthy() -> Value {
    json!({"age": 35, "sex": 0, "cp": 2, "trestbps": 110, "chol": 190, "fbs": 0, "restecg": 0,
           "thalach": 185, "exang": 0, "oldpeak": 0.0, "slope": 2, "ca": 0, "thal": 2})
}

/// `payload` with `field` replaced by `value` (or removed, for `None`), as JSON text.
fn with(payload: Value, field: &str, value: Option<Value>) -> String {
    let mut object = payload.as_object().expect("an object").clone();
    match value {
        Some(v) => object.insert(field.to_string(), v),
        None => object.remove(field),
    };
    Value::Object(object).to_string()
}

/// The contract, request by request, as the article states it.
fn check_contract(server: &PyServer) {
    let fw = server.framework;
    assert_eq!(
        server.request("GET", "/health", None),
        (200, json!({"status": "ok"})),
        "{fw}"
    );
    for (payload, diagnosis) in [(risky(), "heart-disease"), (healthy(), "no-disease")] {
        let body = payload.to_string();
        assert_eq!(
            server.request("POST", "/predict", Some(&body)),
            (200, json!({ "diagnosis": diagnosis })),
            "{fw}: {body}"
        );
    }
    let invalid = [
        (
            with(healthy(), "chol", None),
            "missing field: chol".to_string(),
        ),
        (
            with(healthy(), "age", None),
            "missing field: age".to_string(),
        ),
        (
            with(healthy(), "chol", Some(json!("190"))),
            "field chol must be a number".to_string(),
        ),
        // JSON's true is no number, though Python's bool is an int.
        (
            with(healthy(), "sex", Some(json!(true))),
            "field sex must be a number".to_string(),
        ),
        (
            with(healthy(), "ca", Some(Value::Null)),
            "field ca must be a number".to_string(),
        ),
        (
            "[1, 2, 3]".to_string(),
            "body must be a JSON object".to_string(),
        ),
    ];
    for (body, message) in invalid {
        assert_eq!(
            server.request("POST", "/predict", Some(&body)),
            (400, json!({ "error": message })),
            "{fw}: {body}"
        );
    }
    for body in ["{\"age\": 5", ""] {
        let (status, doc) = server.request("POST", "/predict", Some(body));
        assert_eq!(status, 400, "{fw}: {body:?} answered {doc}");
        let message = doc["error"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("malformed JSON"),
            "{fw}: {body:?}: {doc}"
        );
    }
}

/// The article's user against the server: the task mix, and every check passing.
fn check_scenario(server: &PyServer) {
    // 200 users with the file's 1-5 s think time: ~300 requests in 3 s, enough to judge the
    // mix, yet a light load even for one gunicorn sync worker.
    let (r, context) = run_article_user(server, "200", &[]);
    assert_clean_article_mix(&r, 150, 0.1, &context);
}

/// Runs the article's user (`heart-disease.toml`) against `server` for 3 s with `users`
/// users and `extra` flags; checks the run ended well with no errors and returns the report
/// and the context (blast's and the server's stderr, the report) for further checks.
fn run_article_user(server: &PyServer, users: &str, extra: &[&str]) -> (Value, String) {
    let host = server.host();
    let mut args = vec![
        "-s",
        "scenarios/heart-disease.toml",
        "--host",
        &host,
        "--users",
        users,
        "--spawn-rate",
        "1000",
        "-d",
        "3s",
        "-c",
        "1",
    ];
    args.extend_from_slice(extra);
    let (r, out) = run_blast(&args);
    let context = format!(
        "{}: blast exit {:?}; blast stderr:\n{}\nserver stderr:\n{}\nreport:\n{r:#}",
        server.framework,
        out.status,
        String::from_utf8_lossy(&out.stderr),
        server.stderr_text()
    );
    assert!(out.status.success(), "{context}");
    assert!(no_errors(&r), "{context}");
    (r, context)
}

fn serves_the_article_contract_and_scenario(framework: &'static str) {
    let server = PyServer::start(framework);
    check_contract(&server);
    check_scenario(&server);
}

#[test]
fn flask_on_gunicorn_serves_the_contract_and_the_scenario_runs_clean() {
    serves_the_article_contract_and_scenario("flask");
}

#[test]
fn fastapi_on_uvicorn_serves_the_contract_and_the_scenario_runs_clean() {
    serves_the_article_contract_and_scenario("fastapi");
}

#[test]
fn starlette_on_uvicorn_serves_the_contract_and_the_scenario_runs_clean() {
    serves_the_article_contract_and_scenario("starlette");
}

/// Regression: uvicorn closes keep-alive connections idle longer than its timeout; users
/// thinking longer sent their next request into the closed socket and blast counted
/// `closed` (10 of 21 requests). Now the close is noticed while the user thinks, or the
/// idempotent request is sent again once, and nothing fails.
#[test]
fn uvicorn_closing_idle_keep_alive_connections_costs_no_failures() {
    let server = PyServer::start_with("fastapi", &[("KEEP_ALIVE_S", "1")]);
    let dir = support::Scratch::new("uvicorn-keepalive");
    let file = dir.file("health.toml");
    std::fs::write(
        &file,
        "wait = {constant = 2}\n[[task]]\nname = \"health\"\npath = \"/health\"\n",
    )
    .unwrap();
    let (r, out) = run_blast(&[
        "-s",
        &file,
        "--host",
        &server.host(),
        "-u",
        "10",
        "-d",
        "5s",
        "-c",
        "1",
    ]);
    let context = || format!("{}\n{r:#}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}", context());
    assert!(support::uint(&r, "requests") >= 20, "{}", context());
    assert!(
        no_errors(&r),
        "stale keep-alive connections failed: {}",
        context()
    );
}

/// HTTPS in front of a real model API: the article's scenario over https:// against uvicorn
/// (and gunicorn) with a certificate from a throwaway CA passed by --cacert, clean.
fn heart_disease_runs_clean_over_tls(framework: &'static str) {
    let dir = Scratch::new("model-api-tls");
    let (ca, cert, key) = blast::serve::tls::self_signed(std::path::Path::new(&dir.file("pki")))
        .expect("a throwaway certificate");
    let server = PyServer::start_with(
        framework,
        &[
            ("TLS_CERT", cert.to_str().unwrap()),
            ("TLS_KEY", key.to_str().unwrap()),
        ],
    );
    let (r, context) = run_article_user(&server, "100", &["--cacert", ca.to_str().unwrap()]);
    assert_clean_article_mix(&r, 60, 0.15, &context);
    let tls = &r["connections"]["tls"];
    assert!(
        tls["full_handshakes"].as_u64().unwrap_or(0) > 0,
        "{context}"
    );
}

#[test]
fn fastapi_over_tls_runs_the_heart_disease_scenario_clean() {
    heart_disease_runs_clean_over_tls("fastapi");
}

#[test]
fn flask_over_tls_runs_the_heart_disease_scenario_clean() {
    heart_disease_runs_clean_over_tls("flask");
}

#[test]
fn serve_sh_rejects_an_unknown_framework() {
    let out = Command::new(repo().join("scripts/model-api/serve.sh"))
        .args(["django", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("running serve.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown framework 'django'"), "{stderr}");
}

fn positive_finite(v: &Value) -> bool {
    v.as_f64().is_some_and(|x| x.is_finite() && x > 0.0)
}

/// `blast limit` against the article's stack, then `blast compare` of two frameworks: the
/// answers exist, are positive and finite, and every report asked for is complete.
#[test]
fn limit_and_compare_answer_for_real_frameworks() {
    let flask = PyServer::start("flask");
    let starlette = PyServer::start("starlette");
    let scratch = Scratch::new("model-limit");
    let (html, csv) = (scratch.file("limit.html"), scratch.file("limit.csv"));
    let host = flask.host();
    let mut args = vec!["limit", "--host", &host];
    args.extend(SHORT_SEARCH);
    args.extend(["--html", &html, "--csv", &csv]);
    let (r, out) = run_blast_within(&args, SEARCH_LIMIT);
    let stderr = || {
        format!(
            "{}\nflask stderr:\n{}",
            String::from_utf8_lossy(&out.stderr),
            flask.stderr_text()
        )
    };
    assert!(out.status.success(), "{}", stderr());
    assert!(positive_finite(&r["limit_rps"]), "{r:#}\n{}", stderr());
    let steps = r["steps"].as_array().expect("steps");
    assert!((1..=5).contains(&steps.len()), "{} steps", steps.len());
    assert!(
        r["limit"]["latency_ms"]["p99"]
            .as_f64()
            .is_some_and(|p| p < 500.0),
        "{r:#}"
    );
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count();
    assert_eq!(rows, steps.len() + 1, "a header and a row per step");

    let (f, s) = (
        format!("flask={}", flask.host()),
        format!("starlette={}", starlette.host()),
    );
    let mut args = vec![
        "compare", "--target", &f, "--target", &s, "--settle", "500ms",
    ];
    args.extend(SHORT_SEARCH);
    let (c, out) = run_blast_within(&args, SEARCH_LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let targets = c["targets"].as_array().expect("targets");
    let names: Vec<&str> = targets.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["flask", "starlette"]);
    for t in targets {
        assert!(positive_finite(&t["median_rps"]), "{t:#}");
        assert!(
            t["at_common_rate"]["latency_ms"]["p99"].is_number(),
            "{t:#}"
        );
    }
    assert!(positive_finite(&c["common_rate"]), "{c:#}");
}
