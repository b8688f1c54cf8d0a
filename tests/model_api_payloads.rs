//! Payloads that are not one JSON object, against the real Python model APIs
//! (`scripts/model-api/`): `scenarios/image-upload.toml` (multipart images) and
//! `scenarios/batch-predict.toml` (batches of 1–32 rows) run with no failures, and the
//! server's own counts (`GET /stats`) agree: an image received per request, every batch
//! size within the scenario's range. Also: secrets from `--env-file` appear in no output,
//! and bad payload settings stop blast before any traffic with exit code 2.
mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::python::PyServer;
use support::{blast, count, fast_target, no_errors, run_blast, shared, task, url, Scratch};

/// Requests per scenario run: enough for several batch sizes, light for one sync worker.
const REQUESTS: &str = "60";
/// The batch sizes `scenarios/batch-predict.toml` draws from.
const BATCH_SIZES: std::ops::RangeInclusive<u64> = 1..=32;

/// `GET /stats` of `server`.
fn stats(server: &PyServer) -> Value {
    let (status, doc) = server.request("GET", "/stats", None);
    assert_eq!(status, 200, "{}: /stats answered {doc}", server.framework);
    doc
}

/// Runs `file` against `server` for exactly `REQUESTS` requests; asserts a clean run.
fn run_clean(server: &PyServer, file: &str, extra: &[&str]) -> Value {
    let host = server.host();
    let mut args = vec!["-s", file, "--host", &host, "-n", REQUESTS, "-c", "1"];
    args.extend_from_slice(extra);
    let (r, out) = run_blast(&args);
    let context = format!(
        "{} {file}: blast exit {:?}; stderr:\n{}\nserver stderr:\n{}\nreport:\n{r:#}",
        server.framework,
        out.status,
        String::from_utf8_lossy(&out.stderr),
        server.stderr_text()
    );
    assert!(out.status.success(), "{context}");
    assert!(no_errors(&r), "{context}");
    for row in r["tasks"].as_array().expect("tasks") {
        assert_eq!(count(row, "failures"), 0, "{context}");
    }
    r
}

/// Every image blast sent arrived as a file part named `image`.
fn check_image_upload(server: &PyServer) {
    let before = stats(server)["images"].as_u64().expect("images");
    let r = run_clean(server, "scenarios/image-upload.toml", &[]);
    let sent = count(task(&r, "image"), "requests");
    assert_eq!(sent, REQUESTS.parse::<u64>().unwrap(), "{r:#}");
    let received = stats(server)["images"].as_u64().expect("images") - before;
    assert_eq!(received, sent, "{}: images received", server.framework);
}

/// Every batch arrived whole, with a size within the scenario's range, and sizes vary.
fn check_batch_predict(server: &PyServer) {
    let before = stats(server)["batches"].as_u64().expect("batches");
    let r = run_clean(server, "scenarios/batch-predict.toml", &[]);
    let sent = count(task(&r, "batch"), "requests") + count(task(&r, "batch-rows"), "requests");
    let after = stats(server);
    let batches = after["batches"].as_u64().expect("batches") - before;
    assert_eq!(
        batches, sent,
        "{}: batches received: {after}",
        server.framework
    );
    let sizes: BTreeMap<u64, u64> = after["batch_sizes"]
        .as_object()
        .expect("batch_sizes")
        .iter()
        .map(|(k, v)| (k.parse().expect("a size"), v.as_u64().expect("a count")))
        .collect();
    assert!(
        sizes.keys().all(|s| BATCH_SIZES.contains(s)),
        "{}: sizes {sizes:?}",
        server.framework
    );
    assert!(sizes.len() >= 3, "{}: sizes {sizes:?}", server.framework);
    check_latency_by_batch_size(&r, &sizes, server.framework);
}

/// The report's latency by batch size counts, bucket by bucket (1, 2-3, 4-7, ...), exactly
/// the batches the server received of those sizes (the server saw only this run's batches).
fn check_latency_by_batch_size(r: &Value, sizes: &BTreeMap<u64, u64>, framework: &str) {
    let mut reported: BTreeMap<u32, u64> = BTreeMap::new();
    for name in ["batch", "batch-rows"] {
        let t = task(r, name);
        let mut responses = 0;
        for b in t["batches"].as_array().expect("batches") {
            let (lo, hi) = (count(b, "rows_min"), count(b, "rows_max"));
            assert!(lo <= hi && lo.ilog2() == hi.ilog2(), "{framework}: {b}");
            assert!(b["latency_ms"]["p50"].as_f64().unwrap() > 0.0, "{b}");
            *reported.entry(lo.ilog2()).or_default() += count(b, "responses");
            responses += count(b, "responses");
        }
        assert_eq!(
            responses,
            count(t, "responses"),
            "{framework} {name}: {t:#}"
        );
    }
    let mut received: BTreeMap<u32, u64> = BTreeMap::new();
    for (size, n) in sizes {
        *received.entry(size.ilog2()).or_default() += n;
    }
    assert_eq!(reported, received, "{framework}: by log2 of the batch size");
}

fn payload_scenarios_run_clean(framework: &'static str) {
    let server = PyServer::start(framework);
    check_image_upload(&server);
    check_batch_predict(&server);
}

#[test]
fn flask_receives_every_image_and_batch() {
    payload_scenarios_run_clean("flask");
}

#[test]
fn fastapi_receives_every_image_and_batch() {
    payload_scenarios_run_clean("fastapi");
}

#[test]
fn starlette_receives_every_image_and_batch() {
    payload_scenarios_run_clean("starlette");
}

/// Secret values, each only in the env file.
const SECRETS: [&str; 4] = [
    "tok-4f1e9b2c",
    "key-77aa01de",
    "sid-0c0ffee1",
    "client-5ecre7",
];

/// A scenario whose secrets come from an env file: a bearer token, an API key in a header
/// and in the query string, a cookie and a header marked `secret = true`.
const SECRET_SCENARIO: &str = r#"
[[task]]
path = "/health?key={env.BT_KEY}"
headers = {Authorization = "Bearer {env.BT_TOKEN}", X-Api-Key = "{env.BT_KEY}", Cookie = "sid={env.BT_SID}", X-Client = {value = "{env.BT_CLIENT}", secret = true}, X-Plain = "p-{env.BT_KEY}"}
"#;

#[test]
fn secrets_from_an_env_file_appear_in_no_output() {
    let _g = shared();
    let scratch = Scratch::new("secrets");
    let scenario = scratch.file("s.toml");
    std::fs::write(&scenario, SECRET_SCENARIO).unwrap();
    let env_file = scratch.file("secrets.env");
    let env = format!(
        "BT_TOKEN={}\nexport BT_KEY='{}'\nBT_SID=\"{}\"\nBT_CLIENT={} # a comment\n",
        SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3]
    );
    std::fs::write(&env_file, env).unwrap();
    let host = url(fast_target(), "");
    let files = ["run.json", "run.html", "history.csv"].map(|f| scratch.file(f));
    let csv = scratch.file("run");
    let out = blast(&[
        "-s",
        &scenario,
        "--env-file",
        &env_file,
        "--host",
        &host,
        "-u",
        "2",
        "-c",
        "1",
        "-n",
        "50",
        "--json",
        &files[0],
        "--html",
        &files[1],
        "--history",
        &files[2],
        "--csv",
        &csv,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    // The request went out with the values: the server answered every one.
    assert_eq!(report["requests"].as_u64(), Some(50), "{report:#}");
    // The task is named after its path as written, placeholder and all.
    let name = "/health?key={env.BT_KEY}";
    task(&report, name);
    // The plan shows every header: credentials redacted, others as written.
    let shown: Vec<(&str, &str, &str)> = report["plan"]["headers"]
        .as_array()
        .expect("the plan's headers")
        .iter()
        .map(|h| {
            let field = |k: &str| h[k].as_str().unwrap();
            (field("task"), field("name"), field("value"))
        })
        .collect();
    let r = blast::scenario::REDACTED;
    let want = [
        ("Authorization", r),
        ("X-Api-Key", r),
        ("Cookie", r),
        ("X-Client", r),
        ("X-Plain", "p-{env.BT_KEY}"),
    ]
    .map(|(n, v)| (name, n, v));
    assert_eq!(shown, want);
    let schema: Value =
        serde_json::from_str(include_str!("../schemas/result.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        errors,
        Vec::<String>::new(),
        "the plan's headers fit the schema"
    );
    let html = std::fs::read_to_string(&files[1]).unwrap();
    assert!(
        html.contains(&format!("X-Client: {r}")),
        "the HTML plan shows headers"
    );
    let mut outputs = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
    ];
    for entry in std::fs::read_dir(&scratch.0).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "env" || e == "toml") {
            continue;
        }
        outputs.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    assert!(
        outputs.len() >= 2 + 3 + 4,
        "every report was written: {outputs:?}"
    );
    for (name, bytes) in &outputs {
        let text = String::from_utf8_lossy(bytes);
        for secret in SECRETS {
            assert!(!text.contains(secret), "{name} shows the secret {secret}");
        }
    }
}

/// Runs blast on a scenario written into `scratch` and returns its stderr, asserting a
/// load-time refusal: exit code 2, one `path:line:col: message` line, no panic.
fn refused(scratch: &Scratch, name: &str, toml: &str) -> String {
    let path = scratch.file(name);
    std::fs::write(&path, toml).unwrap();
    let out = blast(&["-s", &path, "--host", "http://127.0.0.1:9", "-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    assert!(stderr.starts_with(&format!("{path}:")), "{name}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    stderr
}

#[test]
fn a_plain_runs_credential_header_is_redacted_in_its_report() {
    let _g = shared();
    let host = url(fast_target(), "/health");
    let (r, out) = run_blast(&[
        &host,
        "-H",
        "Authorization: Bearer plain-s3cret",
        "-H",
        "X-Trace: t1",
        "-n",
        "10",
        "-u",
        "1",
        "-c",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = r["plan"]["headers"].to_string();
    assert!(!text.contains("plain-s3cret"), "{text}");
    assert!(
        text.contains(blast::scenario::REDACTED) && text.contains("t1"),
        "{text}"
    );
}

#[test]
fn bad_payload_settings_stop_blast_before_any_traffic() {
    let scratch = Scratch::new("bad-payloads");
    std::fs::create_dir_all(scratch.0.join("images/sub.png")).unwrap();
    let missing = refused(
        &scratch,
        "env.toml",
        "[[task]]\npath = \"/\"\nheaders = {Authorization = \"Bearer {env.BLAST_SURELY_UNSET_VAR}\"}\n",
    );
    assert!(missing.contains(":3:28: "), "{missing}");
    assert!(
        missing.contains("`BLAST_SURELY_UNSET_VAR` is not set"),
        "{missing}"
    );
    let no_match = refused(
        &scratch,
        "glob.toml",
        "[[task]]\npath = \"/\"\nbody_files = \"payloads/*.jpg\"\n",
    );
    assert!(no_match.contains(":3:14: "), "{no_match}");
    assert!(
        no_match.contains("payloads/*.jpg matches no file"),
        "{no_match}"
    );
    let directory = refused(
        &scratch,
        "dir.toml",
        "[[task]]\npath = \"/\"\nmultipart = {image = {files = \"images/*.png\"}}\n",
    );
    assert!(directory.contains(":3:31: "), "{directory}");
    assert!(directory.contains("sub.png is a directory"), "{directory}");
    let bad_env_file = scratch.file("bad.env");
    std::fs::write(&bad_env_file, "OK=1\nnot a line\n").unwrap();
    let out = blast(&[
        "-s",
        "scenarios/health.toml",
        "--env-file",
        &bad_env_file,
        "--host",
        "http://127.0.0.1:9",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("{bad_env_file}:2:1: ")),
        "{stderr}"
    );
}
