//! The article's model API served by real Python frameworks (`scripts/model-api/`): each
//! server answers the contract directly (health, a prediction, 400 for a missing or mistyped
//! field), the shipped heart-disease scenario runs against it with no failures, and `blast
//! limit` and `blast compare` answer against Flask and Starlette.
//!
//! Needs the virtualenv that `scripts/model-api/setup.sh` makes (`scripts/test.sh` runs it);
//! without it these tests fail and say so, they never pass by skipping.
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{assert_clean_article_mix, no_errors, run_blast, run_blast_within, Scratch};

/// How long a server may take to answer `GET /health` after it is spawned (imports of
/// scikit-learn and the framework take a few seconds on a busy 2-core machine).
const STARTUP_LIMIT: Duration = Duration::from_secs(30);
/// Longest one direct request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
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

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test, saying how to fix it, when setup.sh has not been run.
fn require_setup() {
    let venv = repo().join(".venv");
    for needed in [
        "bin/python",
        "bin/gunicorn",
        "bin/uvicorn",
        "model/heart.joblib",
    ] {
        assert!(
            venv.join(needed).exists(),
            "{} is missing: the Python model-API servers are not set up; \
             run scripts/model-api/setup.sh (or scripts/test.sh)",
            venv.join(needed).display()
        );
    }
}

/// A port on loopback that nothing listened on a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// A `scripts/model-api/serve.sh` server; dropping it kills its whole process group
/// (gunicorn's master and workers), so no test leaves a server behind, even on panic.
struct PyServer {
    framework: &'static str,
    port: u16,
    child: Child,
    stderr: PathBuf,
}

impl PyServer {
    /// Spawns `serve.sh FRAMEWORK PORT` and waits until `GET /health` answers 200.
    fn start(framework: &'static str) -> PyServer {
        Self::start_with(framework, &[])
    }

    /// `start` with extra environment for serve.sh (e.g. `KEEP_ALIVE_S`).
    fn start_with(framework: &'static str, env: &[(&str, &str)]) -> PyServer {
        require_setup();
        let port = free_port();
        let stderr = std::env::temp_dir().join(format!(
            "blast-model-api-{}-{framework}-{port}.stderr",
            std::process::id()
        ));
        let child = Command::new(repo().join("scripts/model-api/serve.sh"))
            .arg(framework)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("server stderr file"))
            .process_group(0) // its own group, so Drop reaches every worker
            .envs(env.iter().copied())
            .spawn()
            .expect("spawning scripts/model-api/serve.sh");
        let mut server = PyServer {
            framework,
            port,
            child,
            stderr,
        };
        server.wait_healthy();
        server
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_healthy(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} server exited ({status}) before answering /health; stderr:\n{}",
                    self.framework,
                    self.stderr_text()
                );
            }
            if let Ok((200, _)) = try_request(self.port, "GET", "/health", None) {
                return;
            }
            if start.elapsed() > STARTUP_LIMIT {
                panic!(
                    "{} server on port {} did not answer GET /health within {STARTUP_LIMIT:?}; \
                     stderr:\n{}",
                    self.framework,
                    self.port,
                    self.stderr_text()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn host(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One request on a fresh connection: the status and the body as JSON.
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (status, body) = try_request(self.port, method, path, body).unwrap_or_else(|e| {
            panic!(
                "{} {method} {path}: {e}; server stderr:\n{}",
                self.framework,
                self.stderr_text()
            )
        });
        let doc = serde_json::from_str(&body).unwrap_or_else(|e| {
            panic!(
                "{} {method} {path}: body is not JSON ({e}): {body:?}",
                self.framework
            )
        });
        (status, doc)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        // serve.sh execs the server, so the child's PID leads the group made at spawn.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the whole answer.
fn try_request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let bad = || std::io::Error::other(format!("not an HTTP response: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(bad)?;
    // The servers answer these small documents with Content-Length, never chunked.
    Ok((status, body.to_string()))
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
    let fw = server.framework;
    // 200 users with the file's 1-5 s think time: ~300 requests in 3 s, enough to judge the
    // mix, yet a light load even for one gunicorn sync worker.
    let (r, out) = run_blast(&[
        "-s",
        "scenarios/heart-disease.toml",
        "--host",
        &server.host(),
        "--users",
        "200",
        "--spawn-rate",
        "1000",
        "-d",
        "3s",
        "-c",
        "1",
    ]);
    let context = || {
        format!(
            "{fw}: blast exit {:?}; blast stderr:\n{}\nserver stderr:\n{}\nreport:\n{r:#}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            server.stderr_text()
        )
    };
    assert!(out.status.success(), "{}", context());
    assert!(no_errors(&r), "{}", context());
    assert_clean_article_mix(&r, 150, 0.1, &context());
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
