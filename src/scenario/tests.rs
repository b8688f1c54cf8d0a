//! Scenario tests through the public API: the shipped files, every validation
//! error at its exact position, and rendered requests checked byte by byte.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::*;

/// Renders per statistical test; shares are checked to within `TOLERANCE`.
const SAMPLES: usize = 10_000;
const TOLERANCE: f64 = 0.02;

pub(super) fn shipped(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn scenario(src: &str) -> Scenario {
    parse(src, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// A scratch directory holding `files`, removed on drop.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str, files: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("blast-scenario-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One rendered request, split and checked for HTTP/1.1 well-formedness.
pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub(super) fn object(&self) -> Map<String, Json> {
        match self.json() {
            Json::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }
}

pub(super) fn split(bytes: &[u8]) -> Request {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!("bad head {other:?}: {}", String::from_utf8_lossy(bytes)),
    };
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8(h.value.to_vec()).unwrap(),
            )
        })
        .collect();
    let out = Request {
        method: req.method.unwrap().to_string(),
        path: req.path.unwrap().to_string(),
        headers,
        body: bytes[head_len..].to_vec(),
    };
    match out.header("content-length") {
        Some(n) => assert_eq!(n.parse::<usize>().unwrap(), out.body.len()),
        None => assert!(out.body.is_empty()),
    }
    out
}

pub(super) fn render_one(r: &mut Renderer, task: usize) -> (Request, bool) {
    let mut out = Vec::new();
    let rendered = r.render(task, "localhost:8080", &mut out);
    (split(&out), rendered.invalid)
}

const HEART_RANGES: &[(&str, f64, f64)] = &[
    ("age", 29.0, 77.0),
    ("sex", 0.0, 1.0),
    ("cp", 0.0, 3.0),
    ("trestbps", 94.0, 200.0),
    ("chol", 126.0, 564.0),
    ("fbs", 0.0, 1.0),
    ("restecg", 0.0, 2.0),
    ("thalach", 71.0, 202.0),
    ("exang", 0.0, 1.0),
    ("oldpeak", 0.0, 6.2),
    ("slope", 0.0, 2.0),
    ("ca", 0.0, 4.0),
    ("thal", 0.0, 3.0),
];

/// Every present field is in its UCI range, integers except `oldpeak`.
pub(super) fn assert_heart_fields(body: &Map<String, Json>) {
    for (name, lo, hi) in HEART_RANGES {
        let Some(v) = body.get(*name) else { continue };
        let x = v.as_f64().unwrap_or_else(|| panic!("{name} = {v}"));
        assert!((*lo..=*hi).contains(&x), "{name} = {x}");
        if *name != "oldpeak" {
            assert!(v.is_i64(), "{name} = {v} is not an integer");
        }
    }
}

#[test]
fn heart_disease_scenario_is_the_articles_user() {
    let s = shipped("heart-disease.toml");
    assert_eq!(s.host.as_deref(), Some("http://localhost:8080"));
    assert_eq!(
        s.wait,
        Wait::Between(Duration::from_secs(1), Duration::from_secs(5))
    );
    let names: Vec<&str> = s.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["predict", "predict-invalid", "health"]);
    let weights: Vec<u32> = s.tasks.iter().map(|t| t.weight).collect();
    assert_eq!(weights, [4, 1, 1]);
    assert_eq!(s.tasks[0].method, "POST");
    assert_eq!(s.tasks[2].method, "GET");
    assert_eq!(
        s.tasks[1].invalid,
        Some(Invalid {
            share: 1.0,
            mutation: Mutation::DropField(1)
        })
    );
    let mut r = Renderer::new(&s, 0);
    for _ in 0..200 {
        let (valid, invalid) = render_one(&mut r, 0);
        assert!(!invalid);
        assert_eq!(
            (valid.method.as_str(), valid.path.as_str()),
            ("POST", "/predict")
        );
        assert_eq!(valid.header("content-type"), Some("application/json"));
        let body = valid.object();
        assert_eq!(body.len(), 13);
        assert_heart_fields(&body);
        let (dropped, invalid) = render_one(&mut r, 1);
        assert!(invalid);
        let body = dropped.object();
        assert_eq!(body.len(), 12);
        assert_heart_fields(&body);
    }
    let (health, _) = render_one(&mut r, 2);
    assert_eq!(
        (health.method.as_str(), health.path.as_str()),
        ("GET", "/health")
    );
    assert!(health.body.is_empty() && health.header("content-length").is_none());
    assert!(s.tasks[0].needs_body_capture());
    assert!(!s.tasks[1].needs_body_capture());
}

#[test]
fn health_and_predict_max_scenarios_load() {
    let h = shipped("health.toml");
    assert_eq!(h.wait, Wait::None);
    assert_eq!(h.tasks.len(), 1);
    assert_eq!(h.tasks[0].expect.max_latency, Some(Duration::from_secs(1)));
    let p = shipped("predict-max.toml");
    assert_eq!(p.wait, Wait::None);
    assert_eq!(p.seed, Some(7));
    assert_eq!(
        p.stages,
        [
            Stage {
                target: StageTarget::Users(32),
                duration: Duration::from_secs(10)
            },
            Stage {
                target: StageTarget::Users(64),
                duration: Duration::from_secs(60)
            },
            Stage {
                target: StageTarget::Users(0),
                duration: Duration::from_secs(10)
            },
        ]
    );
    let mut r = Renderer::new(&p, 0);
    let (req, _) = render_one(&mut r, 0);
    let body = req.object();
    assert_eq!(body.len(), 13);
    assert_heart_fields(&body);
}

#[test]
fn predict_from_csv_scenario_sends_whole_rows() {
    let s = shipped("predict-from-csv.toml");
    let data = s.data.as_ref().unwrap();
    assert!(data.rows() > 1);
    let rows: HashSet<String> = (0..data.rows())
        .map(|row| {
            (0..data.columns().len())
                .map(|c| String::from_utf8(data.cell(row, c).bytes.to_vec()).unwrap())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let mut r = Renderer::new(&s, 0);
    for _ in 0..100 {
        let (req, _) = render_one(&mut r, 0);
        let body = req.object();
        assert_heart_fields(&body);
        let line: Vec<String> = data.columns().iter().map(|c| body[c].to_string()).collect();
        assert!(
            rows.contains(&line.join(",")),
            "{line:?} is not a row of the file"
        );
    }
    let (explain, _) = render_one(&mut r, 1);
    let trace = explain.header("x-request-id").unwrap().to_string();
    assert_eq!(explain.path, format!("/explain/0?trace={trace}"));
}

/// Error cases: source, expected line:col, and the start of the message.
const ERROR_CASES: &[(&str, &str, (usize, usize), &str)] = &[
    (
        "unknown top-level key",
        "hots = \"x\"\n",
        (1, 1),
        "unknown key `hots` in the scenario",
    ),
    (
        "unknown task key",
        "[[task]]\npath = \"/\"\nmethd = \"GET\"\n",
        (3, 1),
        "unknown key `methd` in [[task]]",
    ),
    (
        "unknown expect key",
        "[[task]]\npath = \"/\"\nexpect = {status = 200, json = \"x\"}\n",
        (3, 25),
        "unknown key `json` in expect",
    ),
    (
        "users of the wrong type",
        "users = \"10\"\n",
        (1, 9),
        "`users` must be a non-negative integer, found a string",
    ),
    (
        "negative users",
        "users = -1\n",
        (1, 9),
        "`users` must not be negative",
    ),
    (
        "zero users",
        "users = 0\n",
        (1, 9),
        "`users` must be at least 1",
    ),
    (
        "generator of the wrong type",
        "[[task]]\npath = \"/\"\nbody = {a = {int = \"x\"}}\n",
        (3, 20),
        "`int` must be an array, found a string",
    ),
    (
        "weights summing to 0",
        "[[task]]\npath = \"/a\"\nweight = 0\n[[task]]\npath = \"/b\"\nweight = 0\n",
        (3, 10),
        "task weights sum to 0",
    ),
    (
        "between with min > max",
        "wait = {between = [5, 1]}\n[[task]]\npath = \"/\"\n",
        (1, 19),
        "`between`: min is greater than max",
    ),
    (
        "int range with min > max",
        "[[task]]\npath = \"/\"\n[task.body]\nage = {int = [77, 29]}\n",
        (4, 14),
        "`int`: min is greater than max",
    ),
    (
        "float range with min > max",
        "[[task]]\npath = \"/\"\n[task.body]\nx = {float = [6.2, 0.0]}\n",
        (4, 14),
        "`float`: min is greater than max",
    ),
    (
        "float range too wide",
        "[[task]]\npath = \"/\"\nbody = {x = {float = {range = [-1e308, 1e308]}}}\n",
        (3, 31),
        "`range` is too wide to draw from",
    ),
    (
        "empty choice",
        "[[task]]\npath = \"/\"\nbody = {c = {choice = []}}\n",
        (3, 23),
        "`choice` needs at least one option",
    ),
    (
        "share above 1",
        "[[task]]\npath = \"/\"\nbody = {a = 1}\ninvalid = {share = 1.5, drop_field = 1}\n",
        (4, 20),
        "`share` must be between 0 and 1",
    ),
    (
        "share below 0",
        "[[task]]\npath = \"/\"\nbody = {a = 1}\ninvalid = {share = -0.1, drop_field = 1}\n",
        (4, 20),
        "`share` must be between 0 and 1",
    ),
    ("no tasks", "users = 1\n", (1, 1), "no tasks"),
    ("empty task list", "task = []\n", (1, 8), "no tasks"),
    (
        "toml syntax",
        "users = 1\nusers = 2\n",
        (2, 1),
        "duplicate key",
    ),
    (
        "drop more fields than the body has",
        "[[task]]\npath = \"/\"\nbody = {a = 1, b = 2}\ninvalid = {drop_field = 3}\n",
        (4, 25),
        "`drop_field` must be between 1 and the body's 2 top-level fields",
    ),
    (
        "drop_field without a body",
        "[[task]]\npath = \"/\"\ninvalid = {drop_field = 1}\n",
        (3, 12),
        "`drop_field` needs a `body`",
    ),
    (
        "two mutations",
        "[[task]]\npath = \"/\"\nbody = {a = 1}\ninvalid = {drop_field = 1, empty_body = true}\n",
        (4, 28),
        "`invalid` takes one mutation",
    ),
    (
        "invalid without a mutation",
        "[[task]]\npath = \"/\"\nbody = {a = 1}\ninvalid = {share = 0.5}\n",
        (4, 11),
        "`invalid` needs one of",
    ),
    (
        "expect_invalid without invalid",
        "[[task]]\npath = \"/\"\nexpect_invalid = {status = 422}\n",
        (3, 1),
        "`expect_invalid` needs `invalid`",
    ),
    (
        "missing path",
        "[[task]]\nname = \"x\"\n",
        (1, 1),
        "a task needs a `path`",
    ),
    (
        "relative path",
        "[[task]]\npath = \"health\"\n",
        (2, 8),
        "`path` must start with `/`",
    ),
    (
        "unknown var in path",
        "[[task]]\npath = \"/items/{id}\"\n",
        (2, 8),
        "`path` uses {id} but the task has no var `id`",
    ),
    (
        "unknown var in body",
        "[[task]]\npath = \"/\"\nbody = {a = {var = \"id\"}}\n",
        (3, 20),
        "the task has no var `id`",
    ),
    (
        "space in path",
        "[[task]]\npath = \"/a b\"\n",
        (2, 8),
        "`path` contains a character",
    ),
    (
        "reserved header",
        "[[task]]\npath = \"/\"\nheaders = {Host = \"x\"}\n",
        (3, 12),
        "blast sets `Host` itself",
    ),
    (
        "bad status class",
        "[[task]]\npath = \"/\"\nexpect = {status = \"6xx\"}\n",
        (3, 20),
        "`status` class must be one of 1xx..5xx",
    ),
    (
        "status out of range",
        "[[task]]\npath = \"/\"\nexpect = {status = [200, 99]}\n",
        (3, 26),
        "`status` must be between 100 and 599",
    ),
    (
        "bad duration",
        "duration = \"soon\"\n",
        (1, 12),
        "`duration`: invalid duration \"soon\"",
    ),
    (
        "mixed stages",
        "stages = [{users = 1, for = \"1s\"}, {rate = 5, for = \"1s\"}]\n",
        (1, 37),
        "all stages must use `users`, or all `rate`",
    ),
    (
        "stage without for",
        "stages = [{users = 1}]\n",
        (1, 11),
        "a stage needs `for",
    ),
    (
        "wait with two kinds",
        "wait = {constant = 1, pacing = 2}\n",
        (1, 8),
        "`wait` takes exactly one of",
    ),
    (
        "column without data",
        "[[task]]\npath = \"/\"\nbody = {a = {column = \"age\"}}\n",
        (3, 23),
        "`column` needs a top-level `data",
    ),
    (
        "string length too long",
        "[[task]]\npath = \"/\"\nbody = {s = {string = {len = [1, 100000]}}}\n",
        (3, 30),
        "`len` must be at most 65536",
    ),
    (
        "nan literal",
        "[[task]]\npath = \"/\"\nbody = {x = nan}\n",
        (3, 13),
        "JSON has no nan or inf",
    ),
    (
        "duplicate task name (issue 13 item 10)",
        "[[task]]\nname = \"a\"\npath = \"/x\"\n[[task]]\nname = \"a\"\npath = \"/y\"\n",
        (5, 8),
        "task name \"a\" is already used by task 1",
    ),
    (
        "duplicate default task name (issue 13 item 10)",
        "[[task]]\npath = \"/x\"\n[[task]]\nmethod = \"POST\"\npath = \"/x\"\n",
        (5, 8),
        "task name \"/x\" is already used by task 1",
    ),
    (
        "CR LF in a header value (issue 13 item 9)",
        "[[task]]\npath = \"/\"\nheaders = {X-A = \"a\\r\\nInjected: 1\"}\n",
        (3, 18),
        "`X-A` contains a character not allowed there",
    ),
    (
        "CR LF in a path (issue 13 item 9)",
        "[[task]]\npath = \"/a\\r\\nX: 1\"\n",
        (2, 8),
        "`path` contains a character not allowed there",
    ),
    (
        "weight above u32",
        "[[task]]\npath = \"/\"\nweight = 5000000000\n",
        (3, 10),
        "`weight` must be at most",
    ),
];

#[test]
fn each_error_points_at_its_key_or_value() {
    for (what, src, (line, col), message) in ERROR_CASES {
        let err = parse(src, Path::new("s.toml"))
            .err()
            .unwrap_or_else(|| panic!("{what}: no error"));
        assert_eq!((err.line, err.col), (*line, *col), "{what}: {err}");
        assert!(err.message.starts_with(message), "{what}: {err}");
        assert_eq!(
            err.to_string(),
            format!("s.toml:{line}:{col}: {}", err.message)
        );
    }
}

#[test]
fn data_file_errors_point_at_data_or_column() {
    let dir = TempDir::new("errors", &[("rows.csv", "age,sex\n63,1\n")]);
    let path = dir.0.join("s.toml");
    for (what, src, (line, col), message) in [
        (
            "unknown column",
            "data = \"rows.csv\"\n[[task]]\npath = \"/\"\nbody = {a = {column = \"agee\"}}\n",
            (4, 23),
            "unknown column `agee` in ",
        ),
        (
            "unreadable data file",
            "data = \"missing.csv\"\n[[task]]\npath = \"/\"\n",
            (1, 8),
            "",
        ),
    ] {
        let err = parse(src, &path)
            .err()
            .unwrap_or_else(|| panic!("{what}: no error"));
        assert_eq!((err.line, err.col), (line, col), "{what}: {err}");
        assert!(err.message.starts_with(message), "{what}: {err}");
    }
    let err = parse("data = \"missing.csv\"\n[[task]]\npath = \"/\"\n", &path).unwrap_err();
    assert!(
        err.message.contains("missing.csv: cannot read data file"),
        "{err}"
    );
    let err = parse(
        "data = \"rows.csv\"\n[[task]]\npath = \"/\"\nbody = {a = {column = \"agee\"}}\n",
        &path,
    )
    .unwrap_err();
    assert!(err.message.ends_with("(columns: age, sex)"), "{err}");
}

#[test]
fn unreadable_scenario_file_names_the_file() {
    let err = load(Path::new("/nonexistent/s.toml")).unwrap_err();
    assert_eq!((err.line, err.col), (0, 0));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/s.toml: cannot read scenario: "),
        "{err}"
    );
}

#[test]
fn top_level_settings_parse() {
    let s = scenario(
        "host = \"http://h:1\"\nusers = 10\nspawn_rate = 2.5\nduration = \"1m 30s\"\nrate = 100\n\
         requests = 5000\nseed = 9\nwait = {pacing = 0.25}\n\
         stages = [{rate = 10, for = \"5s\"}, {rate = 0, for = \"1s\"}]\n[[task]]\npath = \"/\"\n",
    );
    assert_eq!(s.host.as_deref(), Some("http://h:1"));
    assert_eq!(s.users, Some(10));
    assert_eq!(s.spawn_rate, Some(2.5));
    assert_eq!(s.duration, Some(Duration::from_secs(90)));
    assert_eq!(s.rate, Some(100.0));
    assert_eq!(s.requests, Some(5000));
    assert_eq!(s.seed, Some(9));
    assert_eq!(s.wait, Wait::Pacing(Duration::from_millis(250)));
    assert_eq!(s.stages[0].target, StageTarget::Rate(10.0));
    assert_eq!(s.tasks[0].name, "/");
    assert_eq!(
        scenario("wait = {constant = 1}\n[[task]]\npath = \"/\"\n").wait,
        Wait::Constant(Duration::from_secs(1))
    );
}

const ALL_GENERATORS: &str = r#"
seed = 1
[[task]]
path = "/g"
[task.body]
i = {int = [-5, 5]}
f = {float = [-1.5, 2.5]}
r = {float = {range = [0.0, 6.2], decimals = 1}}
c = {choice = ["a", "b\"q", 3, true]}
b = {bool = true}
u = {uuid = true}
n = {seq = true}
s = {string = {len = [5, 20]}}
fixed = {string = {len = 4}}
lit = {nested = [1, 2.5, "x", false, {int = "not a generator: two keys", k = 1}]}
"#;

#[test]
fn generators_stay_in_range() {
    let s = scenario(ALL_GENERATORS);
    let mut r = Renderer::new(&s, 0);
    let mut seen_choices = HashSet::new();
    let mut seen_bools = HashSet::new();
    for expected_seq in 0..2_000u64 {
        let (req, _) = render_one(&mut r, 0);
        let b = req.object();
        let i = b["i"].as_i64().unwrap();
        assert!((-5..=5).contains(&i));
        let f = b["f"].as_f64().unwrap();
        assert!((-1.5..=2.5).contains(&f));
        let rounded = b["r"].as_f64().unwrap();
        assert!((0.0..=6.2).contains(&rounded));
        assert_eq!(
            (rounded * 10.0).round() / 10.0,
            rounded,
            "{rounded} has more than 1 decimal"
        );
        seen_choices.insert(b["c"].to_string());
        seen_bools.insert(b["b"].as_bool().unwrap());
        let u = b["u"].as_str().unwrap();
        assert_eq!((u.len(), &u[14..15]), (36, "4"));
        assert_eq!(b["n"].as_u64().unwrap(), expected_seq);
        let st = b["s"].as_str().unwrap();
        assert!((5..=20).contains(&st.len()) && st.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(b["fixed"].as_str().unwrap().len(), 4);
        assert_eq!(
            b["lit"],
            serde_json::json!({"nested": [1, 2.5, "x", false, {"int": "not a generator: two keys", "k": 1}]})
        );
    }
    let want: HashSet<String> = ["\"a\"", "\"b\\\"q\"", "3", "true"]
        .map(String::from)
        .into();
    assert_eq!(seen_choices, want);
    assert_eq!(seen_bools.len(), 2);
}

#[test]
fn strings_from_choices_and_data_are_escaped() {
    let dir = TempDir::new(
        "escape",
        &[
            ("rows.csv", "text,n\n\"say \"\"hi\"\"\n\\ tab\t\",1\n"),
            (
                "rows.jsonl",
                "{\"text\": \"\\u0001 \\\"q\\\" é\", \"obj\": {\"k\": [1]}}\n",
            ),
        ],
    );
    for file in ["rows.csv", "rows.jsonl"] {
        let src = format!(
            "data = \"{file}\"\nseed = 2\n[[task]]\npath = \"/{{t}}\"\nheaders = {{X-T = \"{{t}}\"}}\n\
             vars = {{t = {{column = \"text\"}}}}\nbody = {{t = {{column = \"text\"}}, v = {{var = \"t\"}}, \
             c = {{choice = [\"\\n\\u0000\"]}}}}\n"
        );
        let s = parse(&src, &dir.0.join("s.toml")).unwrap_or_else(|e| panic!("{e}"));
        let mut r = Renderer::new(&s, 0);
        let (req, _) = render_one(&mut r, 0);
        let body = req.object();
        let text = body["t"].as_str().unwrap();
        assert_eq!(body["v"].as_str().unwrap(), text);
        assert_eq!(body["c"].as_str().unwrap(), "\n\u{0}");
        let want = if file == "rows.csv" {
            "say \"hi\"\n\\ tab\t"
        } else {
            "\u{1} \"q\" é"
        };
        assert_eq!(text, want);
        assert!(
            req.path.starts_with("/say%20%22hi%22%0A") || req.path.starts_with("/%01%20%22q%22"),
            "{}",
            req.path
        );
        assert!(!req.header("x-t").unwrap().contains(['\n', '\u{1}']));
    }
}

#[test]
fn json_lines_values_keep_their_types() {
    let dir = TempDir::new(
        "types",
        &[(
            "rows.jsonl",
            "{\"o\": {\"k\": [1, null]}, \"n\": 2.5}\n{\"n\": 3}\n",
        )],
    );
    let src = "data = \"rows.jsonl\"\nseed = 1\n[[task]]\npath = \"/\"\nbody = {o = {column = \"o\"}, n = {column = \"n\"}}\n";
    let s = parse(src, &dir.0.join("s.toml")).unwrap();
    let mut r = Renderer::new(&s, 0);
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let body = render_one(&mut r, 0).0.object();
        seen.insert(Json::Object(body).to_string());
    }
    let want: HashSet<String> = [r#"{"n":2.5,"o":{"k":[1,null]}}"#, r#"{"n":3,"o":null}"#]
        .map(String::from)
        .into();
    assert_eq!(seen, want);
}

#[test]
fn column_leaves_of_one_request_share_a_row() {
    let rows: String = (0..50)
        .map(|i| format!("{i},{},row{i}\n", i * 10))
        .collect();
    let dir = TempDir::new("rows", &[("rows.csv", &format!("a,b,c\n{rows}"))]);
    let src = "data = \"rows.csv\"\nseed = 3\n[[task]]\npath = \"/{c}\"\nvars = {c = {column = \"c\"}}\n\
               body = {a = {column = \"a\"}, nested = {b = {column = \"b\"}}, c = {column = \"c\"}}\n";
    let s = parse(src, &dir.0.join("s.toml")).unwrap();
    let mut r = Renderer::new(&s, 0);
    let mut rows_seen = HashSet::new();
    for _ in 0..500 {
        let (req, _) = render_one(&mut r, 0);
        let body = req.object();
        let a = body["a"].as_i64().unwrap();
        assert_eq!(body["nested"]["b"].as_i64().unwrap(), a * 10);
        assert_eq!(body["c"].as_str().unwrap(), format!("row{a}"));
        assert_eq!(req.path, format!("/row{a}"));
        rows_seen.insert(a);
    }
    assert!(
        rows_seen.len() > 40,
        "rows are drawn at random: saw {}",
        rows_seen.len()
    );
}

fn mutation_scenario(invalid: &str) -> Scenario {
    scenario(&format!(
        "seed = 4\n[[task]]\npath = \"/p\"\ninvalid = {invalid}\n\
         body = {{a = {{int = [0, 9]}}, b = \"s\", c = {{choice = [\"x\"]}}, d = true, e = [1], f = {{g = 1}}}}\n"
    ))
}

#[test]
fn drop_field_drops_exactly_n_fields_at_the_requested_share() {
    for n in [1usize, 2, 6] {
        let s = mutation_scenario(&format!("{{share = 0.2, drop_field = {n}}}"));
        let mut r = Renderer::new(&s, 0);
        let mut mutated = 0;
        let mut dropped_names = HashSet::new();
        for _ in 0..SAMPLES {
            let (req, invalid) = render_one(&mut r, 0);
            let body = req.object();
            if invalid {
                mutated += 1;
                assert_eq!(body.len(), 6 - n);
                for k in ["a", "b", "c", "d", "e", "f"] {
                    if !body.contains_key(k) {
                        dropped_names.insert(k);
                    }
                }
            } else {
                assert_eq!(body.len(), 6);
            }
        }
        let share = mutated as f64 / SAMPLES as f64;
        assert!(
            (share - 0.2).abs() < TOLERANCE,
            "drop_field {n}: share {share}"
        );
        assert_eq!(dropped_names.len(), 6, "every field gets dropped sometimes");
    }
}

#[test]
fn wrong_type_changes_the_type_of_exactly_n_fields() {
    let kind = |v: &Json| match v {
        Json::Null => 0,
        Json::Bool(_) => 1,
        Json::Number(_) => 2,
        Json::String(_) => 3,
        Json::Array(_) => 4,
        Json::Object(_) => 5,
    };
    let s = mutation_scenario("{wrong_type = 2}");
    let mut r = Renderer::new(&s, 0);
    let (reference, invalid) = render_one(
        &mut Renderer::new(&mutation_scenario("{share = 0.0, wrong_type = 1}"), 0),
        0,
    );
    assert!(!invalid);
    let reference = reference.object();
    for _ in 0..1_000 {
        let (req, invalid) = render_one(&mut r, 0);
        assert!(invalid, "share defaults to 1");
        let body = req.object();
        assert_eq!(body.len(), 6);
        let changed = body
            .iter()
            .filter(|(k, v)| kind(v) != kind(&reference[k.as_str()]))
            .count();
        assert_eq!(changed, 2, "{body:?}");
    }
}

#[test]
fn malformed_and_empty_bodies_are_invalid_json_with_correct_length() {
    let s = mutation_scenario("{share = 0.5, malformed_json = true}");
    let mut r = Renderer::new(&s, 0);
    let mut mutated = 0;
    for _ in 0..2_000 {
        let (req, invalid) = render_one(&mut r, 0);
        let parsed = serde_json::from_slice::<Json>(&req.body);
        assert_eq!(
            parsed.is_err(),
            invalid,
            "{}",
            String::from_utf8_lossy(&req.body)
        );
        mutated += usize::from(invalid);
    }
    assert!((800..1200).contains(&mutated), "{mutated}");
    let s = mutation_scenario("{empty_body = true}");
    let (req, invalid) = render_one(&mut Renderer::new(&s, 0), 0);
    assert!(invalid && req.body.is_empty());
    assert_eq!(req.header("content-length"), Some("0"));
}

#[test]
fn mutated_requests_are_checked_against_expect_invalid() {
    let s = scenario(
        "[[task]]\npath = \"/p\"\nbody = {a = 1}\ninvalid = {share = 0.5, drop_field = 1}\n\
         expect = {status = [200, 201]}\nexpect_invalid = {status = \"4xx\", body_contains = \"missing\"}\n",
    );
    let t = &s.tasks[0];
    let ms = Duration::from_millis(3);
    assert!(t.check(false, 201, ms, b"").is_ok());
    assert_eq!(
        t.check(false, 400, ms, b"").unwrap_err().to_string(),
        "Expected status 200 or 201, got 400"
    );
    assert!(t.check(true, 422, ms, b"field missing").is_ok());
    assert_eq!(
        t.check(true, 200, ms, b"").unwrap_err().to_string(),
        "Expected status 4xx, got 200"
    );
    assert_eq!(
        t.check(true, 400, ms, b"nope").unwrap_err().to_string(),
        "Expected body to contain \"missing\""
    );
    assert!(t.needs_body_capture());
    let plain = scenario("[[task]]\npath = \"/\"\n");
    assert_eq!(
        plain.tasks[0]
            .check(false, 500, ms, b"")
            .unwrap_err()
            .to_string(),
        "Expected status 2xx, got 500"
    );
}

#[test]
fn same_seed_gives_the_same_bytes_and_workers_differ() {
    let s = scenario(ALL_GENERATORS);
    let stream = |worker: usize| {
        let mut r = Renderer::new(&s, worker);
        let mut out = Vec::new();
        for _ in 0..100 {
            r.render(0, "h", &mut out);
        }
        out
    };
    assert_eq!(stream(0), stream(0));
    assert_eq!(stream(3), stream(3));
    assert_ne!(stream(0), stream(1));
}

#[test]
fn heads_carry_method_path_vars_and_headers() {
    let s = scenario(
        "seed = 5\n[[task]]\nmethod = \"DELETE\"\npath = \"/items/{id}?q={name}&lit={{x}}\"\n\
         headers = {Authorization = \"Bearer {id}\", Accept = \"text/plain\"}\n\
         vars = {id = {int = [100, 100]}, name = \"a b/é\"}\n\
         [[task]]\npath = \"/up\"\nmethod = \"PUT\"\n\
         [[task]]\npath = \"/j\"\nheaders = {content-type = \"application/vnd+json\"}\nbody = [1, {x = {var = \"v\"}}]\nvars = {v = {seq = true}}\n",
    );
    let mut r = Renderer::new(&s, 0);
    let mut out = Vec::new();
    r.render(0, "example.com", &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "DELETE /items/100?q=a%20b%2F%C3%A9&lit={x} HTTP/1.1\r\nHost: example.com\r\n\
         Authorization: Bearer 100\r\nAccept: text/plain\r\n\r\n"
    );
    let (put, _) = render_one(&mut r, 1);
    assert_eq!(
        (put.method.as_str(), put.header("content-length")),
        ("PUT", Some("0"))
    );
    let (j, _) = render_one(&mut r, 2);
    assert_eq!(j.method, "POST");
    assert_eq!(j.header("content-type"), Some("application/vnd+json"));
    assert_eq!(
        j.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .count(),
        1
    );
    assert_eq!(j.json(), serde_json::json!([1, {"x": 0}]));
    let mut out = Vec::new();
    assert_eq!(
        r.render(99, "h", &mut out),
        Rendered {
            invalid: false,
            batch: None
        }
    );
    assert!(out.is_empty());
}

#[test]
fn task_picker_follows_scenario_weights() {
    let s = shipped("heart-disease.toml");
    let picker = TaskPicker::new(&s.tasks);
    let mut r = Renderer::new(&s, 0);
    let mut counts = [0usize; 3];
    for _ in 0..60_000 {
        counts[picker.pick(r.rng())] += 1;
    }
    for (count, weight) in counts.iter().zip([4.0, 1.0, 1.0]) {
        let share = *count as f64 / 60_000.0;
        assert!((share - weight / 6.0).abs() < TOLERANCE, "{counts:?}");
    }
}

/// Workers share the scenario across threads and move renderers onto them.
#[test]
fn scenario_is_shareable_and_renderer_movable() {
    fn shared<T: Send + Sync>() {}
    fn movable<T: Send>() {}
    shared::<Scenario>();
    shared::<Task>();
    shared::<Failure>();
    movable::<Renderer>();
}

/// Corrupting a shipped scenario one byte at a time gives errors or scenarios,
/// never a panic, and whatever parses renders.
#[test]
fn corrupted_sources_never_panic() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/predict-from-csv.toml");
    let src = std::fs::read_to_string(&path).unwrap();
    let mut parsed = 0;
    // Every third position keeps the debug-build run short.
    for i in (0..src.len())
        .step_by(3)
        .filter(|&i| src.is_char_boundary(i))
    {
        for replacement in ["", "-", "\"", "{", "]", "9e999"] {
            let mut bad = src.clone();
            let end = (i + 1..=src.len())
                .find(|&j| src.is_char_boundary(j))
                .unwrap_or(i);
            bad.replace_range(i..end, replacement);
            match parse(&bad, &path) {
                Ok(s) => {
                    parsed += 1;
                    let mut r = Renderer::new(&s, 0);
                    let mut out = Vec::new();
                    for task in 0..s.tasks.len() {
                        r.render(task, "h", &mut out);
                    }
                }
                Err(e) => assert!(e.line >= 1 && e.col >= 1, "{e}"),
            }
        }
    }
    assert!(parsed > 0, "some corruptions (comments) still parse");
}

#[test]
fn shards_draw_disjoint_seq_values_and_data_rows() {
    use crate::shard::Shard;
    let seqs = scenario("[[task]]\npath = \"/s\"\nbody = {n = {seq = true}}\n");
    let rows = shipped("predict-from-csv.toml");
    let data = rows.data.as_ref().unwrap();
    let count = 3u64;
    let mut all_seq = Vec::new();
    let mut row_owner: HashMap<String, u64> = HashMap::new();
    for index in 0..count {
        let shard = Shard { index, count };
        let mut r = Renderer::for_shard(&seqs, 0, shard);
        for _ in 0..10 {
            all_seq.push(render_one(&mut r, 0).0.object()["n"].as_u64().unwrap());
        }
        let mut r = Renderer::for_shard(&rows, 0, shard);
        for _ in 0..50 {
            let body = render_one(&mut r, 0).0.object();
            let line: Vec<String> = data.columns().iter().map(|c| body[c].to_string()).collect();
            let owner = *row_owner.entry(line.join(",")).or_insert(index);
            assert_eq!(owner, index, "shards {owner} and {index} sent the same row");
        }
    }
    all_seq.sort_unstable();
    assert_eq!(all_seq, (0..30).collect::<Vec<_>>(), "every value once");
    assert!(row_owner.values().collect::<HashSet<_>>().len() == 3);
}

/// Issue 14 item 8: credentials in the target URL reach every task as Basic auth, unless the
/// task sets its own `Authorization`.
#[test]
fn url_credentials_reach_every_task_that_sets_no_authorization() {
    let s = scenario(
        "[[task]]\npath = \"/a\"\n[[task]]\npath = \"/b\"\nheaders = {authorization = \"Bearer t\"}\n",
    );
    let mut r = Renderer::new(&s, 0).with_url_authorization(Some("Basic dTpw"));
    let (plain, _) = render_one(&mut r, 0);
    assert_eq!(plain.header("authorization"), Some("Basic dTpw"));
    let (own, _) = render_one(&mut r, 1);
    assert_eq!(own.header("authorization"), Some("Bearer t"));
    let mut none = Renderer::new(&s, 0);
    assert_eq!(render_one(&mut none, 0).0.header("authorization"), None);
}
