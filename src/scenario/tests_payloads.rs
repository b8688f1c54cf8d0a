//! Scenario tests for environment placeholders, named bodies, `repeat` batches and the
//! payloads that are not JSON (text, files, multipart), through the public API.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value as Json;

use super::tests::{render_one, scenario, shipped, split, TempDir};
use super::*;

fn with_env(src: &str, pairs: &[(&str, &str)]) -> std::result::Result<Scenario, ScenarioError> {
    parse_with_env(
        src,
        Path::new("s.toml"),
        &Env::from_pairs(pairs.iter().copied()),
    )
}

fn error(src: &str, path: &Path) -> ScenarioError {
    parse_with_env(src, path, &Env::default())
        .err()
        .unwrap_or_else(|| panic!("no error for:\n{src}"))
}

/// The shipped heart-disease file with its `[bodies.heart]` pasted into each task that
/// names it, as the file was written before named bodies existed.
fn heart_disease_inline() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/heart-disease.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("[bodies.heart]\n").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let fields: Vec<&str> = text[start..end].lines().skip(1).collect();
    let inline = format!("body = {{{}}}", fields.join(", "));
    let without = format!("{}{}", &text[..start], &text[end..]);
    let named = "\nbody = \"heart\"\n";
    assert_eq!(without.matches(named).count(), 2);
    without.replace(named, &format!("\n{inline}\n"))
}

#[test]
fn heart_disease_with_a_named_body_sends_what_two_copies_did() {
    let named = shipped("heart-disease.toml");
    let inline = scenario(&format!("seed = 42\n{}", heart_disease_inline()));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/heart-disease.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let named_seeded = parse(&format!("seed = 42\n{text}"), &path).unwrap();
    assert_eq!(named.tasks.len(), inline.tasks.len());
    let stream = |s: &Scenario| {
        let mut r = Renderer::new(s, 1);
        let mut out = Vec::new();
        for i in 0..600 {
            r.render(i % 3, "h", &mut out);
        }
        out
    };
    assert_eq!(stream(&named_seeded), stream(&inline));
}

#[test]
fn named_bodies_are_shared_and_unknown_names_are_errors() {
    let s = scenario(
        "[bodies.b]\nx = {int = [1, 1]}\n[[task]]\npath = \"/a\"\nbody = \"b\"\n\
         [[task]]\npath = \"/c\"\nbody = \"b\"\ninvalid = {drop_field = 1}\n",
    );
    let mut r = Renderer::new(&s, 0);
    assert_eq!(render_one(&mut r, 0).0.body, b"{\"x\":1}");
    assert_eq!(render_one(&mut r, 1).0.body, b"{}");
    let err = error(
        "[bodies.b]\nx = 1\n[[task]]\npath = \"/\"\nbody = \"c\"\n",
        Path::new("s.toml"),
    );
    assert_eq!((err.line, err.col), (5, 8), "{err}");
    assert_eq!(err.message, "no body named `c` (bodies: b)");
    let err = error(
        "[[task]]\npath = \"/\"\nbody = \"c\"\n",
        Path::new("s.toml"),
    );
    assert!(err.message.contains("[bodies.c]"), "{err}");
    let looping = "[bodies.b]\nx = {repeat = {count = 1, of = \"b\"}}\n[[task]]\npath = \"/\"\nbody = \"b\"\n";
    let err = error(looping, Path::new("s.toml"));
    assert!(err.message.contains("nest more than"), "{err}");
}

#[test]
fn env_placeholders_fill_host_path_headers_bodies_and_data_paths() {
    let dir = TempDir::new("env", &[("rows.csv", "n\n7\n")]);
    let src = "host = \"http://{env.H}:8080\"\ndata = \"{env.D:-rows}.csv\"\n[[task]]\n\
               path = \"/v1/{env.M}/predict?k={env.K:-none}&id={id}\"\n\
               vars = {id = {column = \"n\"}}\n\
               headers = {Authorization = \"Bearer {env.T}\", X-Lit = \"{{env.T}}\"}\n\
               body = {t = \"{env.T}\", c = {choice = [\"{env.M}\"]}, n = {column = \"n\"}}\n";
    let env = Env::from_pairs([("H", "api.local"), ("M", "heart"), ("T", "s3\"cret")]);
    let s = parse_with_env(src, &dir.0.join("s.toml"), &env).unwrap();
    assert_eq!(s.host.as_deref(), Some("http://api.local:8080"));
    let mut r = Renderer::new(&s, 0);
    let (req, _) = render_one(&mut r, 0);
    assert_eq!(req.path, "/v1/heart/predict?k=none&id=7");
    assert_eq!(req.header("authorization"), Some("Bearer s3\"cret"));
    assert_eq!(req.header("x-lit"), Some("{env.T}"));
    assert_eq!(
        req.json(),
        serde_json::json!({"t": "s3\"cret", "c": "heart", "n": 7})
    );
    assert_eq!(
        s.tasks[0].name,
        "/v1/{env.M}/predict?k={env.K:-none}&id={id}"
    );
}

#[test]
fn missing_or_unfit_env_values_are_load_errors_that_show_no_value() {
    for (src, (line, col), want) in [
        (
            "host = \"{env.NOPE}\"\n[[task]]\npath = \"/\"\n",
            (1, 8),
            "environment variable `NOPE` is not set",
        ),
        (
            "[[task]]\npath = \"/{env.NOPE}\"\n",
            (2, 8),
            "`path`: environment variable `NOPE` is not set",
        ),
        (
            "[[task]]\npath = \"/\"\nbody = {a = [\"{env.NOPE}\"]}\n",
            (3, 14),
            "environment variable `NOPE` is not set",
        ),
        (
            "[[task]]\npath = \"/\"\nheaders = {X-A = \"{env.NL}\"}\n",
            (3, 18),
            "`X-A`: the value of {env.NL} contains a character not allowed there",
        ),
        (
            "[[task]]\npath = \"/{env.SP}\"\n",
            (2, 8),
            "`path`: the value of {env.SP} contains a character not allowed there",
        ),
        (
            "data = \"{env.NOPE}\"\n[[task]]\npath = \"/\"\n",
            (1, 8),
            "environment variable `NOPE` is not set",
        ),
        (
            "[[task]]\npath = \"/\"\ntext = \"{env.bad name}\"\n",
            (3, 8),
            "`text`: malformed placeholder",
        ),
    ] {
        let err = with_env(src, &[("NL", "a\r\nX-Injected: 1"), ("SP", "a b")])
            .err()
            .unwrap_or_else(|| panic!("no error for {src}"));
        assert_eq!((err.line, err.col), (line, col), "{err}");
        assert!(err.message.starts_with(want), "{err}");
        assert!(!err.message.contains("Injected"), "{err}");
    }
}

#[test]
fn secret_headers_are_shown_redacted_and_others_as_written() {
    let s = with_env(
        "[[task]]\npath = \"/\"\nheaders = {Authorization = \"Bearer {env.T}\", cookie = \"a=1\", \
         X-API-KEY = \"k\", X-Mine = {value = \"{env.T}\", secret = true}, X-Plain = \"v {env.T}\", \
         X-Open = {value = \"o\", secret = false}}\n",
        &[("T", "tok")],
    )
    .unwrap();
    let shown: Vec<(&str, &str)> = s.tasks[0]
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("Authorization", REDACTED),
            ("cookie", REDACTED),
            ("X-API-KEY", REDACTED),
            ("X-Mine", REDACTED),
            ("X-Plain", "v {env.T}"),
            ("X-Open", "o"),
        ]
    );
    let mut r = Renderer::new(&s, 0);
    let (req, _) = render_one(&mut r, 0);
    assert_eq!(req.header("x-mine"), Some("tok"));
    assert_eq!(req.header("x-plain"), Some("v tok"));
}

const BATCH: &str = r#"
seed = 3
[[task]]
path = "/batch"
body = {instances = {repeat = {count = [1, 32], of = {a = {int = [0, 9]}, s = {string = {len = 8}}}}}, k = 1}
"#;

#[test]
fn repeat_renders_independent_rows_and_reports_the_batch_size() {
    let s = scenario(BATCH);
    let mut r = Renderer::new(&s, 0);
    let mut sizes = HashSet::new();
    for _ in 0..500 {
        let mut out = Vec::new();
        let rendered = r.render(0, "h", &mut out);
        let doc = split(&out).json();
        let rows = doc["instances"].as_array().unwrap();
        assert!((1..=32).contains(&rows.len()), "{doc}");
        assert_eq!(rendered.batch, Some(rows.len() as u32));
        assert_eq!(doc["k"], 1);
        let distinct: HashSet<&str> = rows.iter().map(|row| row["s"].as_str().unwrap()).collect();
        assert_eq!(distinct.len(), rows.len(), "rows are drawn independently");
        sizes.insert(rows.len());
    }
    assert!(sizes.contains(&1) && sizes.contains(&32), "{sizes:?}");
    let fixed = scenario("[[task]]\npath = \"/\"\nbody = {repeat = {count = 3, of = [true]}}\n");
    let mut r = Renderer::new(&fixed, 0);
    assert_eq!(render_one(&mut r, 0).0.body, b"[[true],[true],[true]]");
    let plain = scenario("[[task]]\npath = \"/\"\nbody = {a = 1}\n");
    let mut out = Vec::new();
    assert_eq!(
        Renderer::new(&plain, 0).render(0, "h", &mut out).batch,
        None
    );
}

#[test]
fn repeat_elements_read_their_own_data_rows() {
    let rows: String = (0..50).map(|i| format!("{i},x{i}\n")).collect();
    let dir = TempDir::new("repeat-rows", &[("rows.csv", &format!("n,s\n{rows}"))]);
    let src = "data = \"rows.csv\"\n[[task]]\npath = \"/\"\n\
               body = {repeat = {count = 10, of = {n = {column = \"n\"}, s = {column = \"s\"}}}}\n";
    let s = parse(src, &dir.0.join("s.toml")).unwrap();
    let mut r = Renderer::new(&s, 0);
    let (req, _) = render_one(&mut r, 0);
    let doc = req.json();
    let items = doc.as_array().unwrap();
    for item in items {
        assert_eq!(
            item["s"].as_str().unwrap(),
            format!("x{}", item["n"]),
            "one row per element"
        );
    }
    let distinct: HashSet<u64> = items.iter().map(|i| i["n"].as_u64().unwrap()).collect();
    assert!(distinct.len() > 3, "elements read different rows: {doc}");
}

#[test]
fn bad_repeats_are_errors_at_their_place() {
    for (src, (line, col), want) in [
        (
            "[[task]]\npath = \"/\"\nbody = {a = {repeat = {count = 20000, of = 1}}}\n",
            (3, 32),
            "`count` must be at most 10000",
        ),
        (
            "[[task]]\npath = \"/\"\nbody = {a = {repeat = {count = 2}}}\n",
            (3, 23),
            "`repeat` needs",
        ),
        (
            "[[task]]\npath = \"/\"\nbody = {a = {repeat = {count = [3, 1], of = 1}}}\n",
            (3, 32),
            "`count`: min is greater than max",
        ),
        (
            "[[task]]\npath = \"/{v}\"\nvars = {v = {repeat = {count = 1, of = 1}}}\n",
            (3, 13),
            "a `repeat` generator cannot be used here",
        ),
    ] {
        let err = error(src, Path::new("s.toml"));
        assert_eq!((err.line, err.col), (line, col), "{err}");
        assert!(err.message.starts_with(want), "{err}");
    }
}

#[test]
fn text_bodies_render_vars_as_they_are_with_their_content_type() {
    let s = scenario(
        "[[task]]\npath = \"/t\"\nvars = {n = {choice = [\"a\\\"b\"]}}\ntext = \"id={n}&x=1 {{n}}\"\n\
         [[task]]\npath = \"/c\"\ntext = \"<q/>\"\ncontent_type = \"application/xml\"\n",
    );
    let mut r = Renderer::new(&s, 0);
    let (req, _) = render_one(&mut r, 0);
    assert_eq!(req.method, "POST");
    assert_eq!(req.body, b"id=a\"b&x=1 {n}");
    assert_eq!(
        req.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let (req, _) = render_one(&mut r, 1);
    assert_eq!(req.header("content-type"), Some("application/xml"));
}

#[test]
fn body_files_send_one_whole_file_per_request() {
    let dir = TempDir::new(
        "body-files",
        &[
            ("a.png", "AAAA"),
            ("b.png", "BB"),
            ("one.bin", "\u{1}\u{2}"),
        ],
    );
    let src = "[[task]]\npath = \"/f\"\nbody_files = \"*.png\"\n\
               [[task]]\npath = \"/o\"\nbody_file = \"one.bin\"\ncontent_type = \"x/y\"\n\
               invalid = {share = 0.5, empty_body = true}\n";
    let s = parse(src, &dir.0.join("s.toml")).unwrap();
    let mut r = Renderer::new(&s, 0);
    let mut seen = HashSet::new();
    for _ in 0..100 {
        let (req, _) = render_one(&mut r, 0);
        assert_eq!(req.header("content-type"), Some("image/png"));
        seen.insert(req.body);
    }
    let want: HashSet<Vec<u8>> = [b"AAAA".to_vec(), b"BB".to_vec()].into();
    assert_eq!(seen, want);
    let mut empty = 0;
    for _ in 0..200 {
        let (req, invalid) = render_one(&mut r, 1);
        assert_eq!(req.header("content-type"), Some("x/y"));
        assert_eq!(req.body.is_empty(), invalid);
        if !invalid {
            assert_eq!(req.body, b"\x01\x02");
        }
        empty += usize::from(invalid);
    }
    assert!((60..140).contains(&empty), "{empty} empty of 200");
}

/// Splits a multipart body by its boundary into (headers, content) per part, checking the
/// framing RFC 7578 asks for.
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let text = body.to_vec();
    let close = format!("{delimiter}--\r\n");
    assert!(text.ends_with(close.as_bytes()), "closing delimiter");
    let inner = &text[..text.len() - close.len()];
    let mut parts = Vec::new();
    let open = format!("{delimiter}\r\n");
    let mut rest: &[u8] = inner;
    while !rest.is_empty() {
        assert!(rest.starts_with(open.as_bytes()), "part delimiter");
        rest = &rest[open.len()..];
        let head_end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(rest[..head_end].to_vec()).unwrap();
        rest = &rest[head_end + 4..];
        let next = format!("\r\n{delimiter}");
        let end = rest
            .windows(next.len())
            .position(|w| w == next.as_bytes())
            .unwrap_or(rest.len() - 2);
        parts.push((head, rest[..end].to_vec()));
        rest = &rest[end + 2..];
    }
    parts
}

#[test]
fn multipart_bodies_follow_rfc_7578() {
    let dir = TempDir::new(
        "multipart",
        &[("cat.png", "PNGDATA\r\n--x"), ("dog.jpg", "JPG")],
    );
    std::fs::create_dir_all(dir.0.join("imgs")).unwrap();
    std::fs::write(dir.0.join("imgs/q\"uote.png"), "Q").unwrap();
    let src = "seed = 9\n[[task]]\npath = \"/image\"\nvars = {id = {seq = true}}\n\
               multipart = {image = {files = \"*.*g\"}, meta = \"id={id}\", \
               other = {file = \"imgs/q\\\"uote.png\", content_type = \"image/x-q\"}}\n";
    let s = parse(src, &dir.0.join("s.toml")).unwrap();
    let mut r = Renderer::new(&s, 0);
    let mut files = HashSet::new();
    let mut boundary = String::new();
    for i in 0..50 {
        let (req, _) = render_one(&mut r, 0);
        let ct = req.header("content-type").unwrap();
        boundary = ct
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap()
            .to_string();
        assert!((27..=70).contains(&boundary.len()), "{boundary}");
        let parts = multipart_parts(&req.body, &boundary);
        assert_eq!(parts.len(), 3);
        let (head, content) = &parts[0];
        let (name, ctype) = if content == b"JPG" {
            ("dog.jpg", "image/jpeg")
        } else {
            assert_eq!(content, b"PNGDATA\r\n--x");
            ("cat.png", "image/png")
        };
        assert_eq!(
            head,
            &format!(
                "Content-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n\
                 Content-Type: {ctype}"
            )
        );
        files.insert(name);
        assert_eq!(parts[1].0, "Content-Disposition: form-data; name=\"meta\"");
        assert_eq!(parts[1].1, format!("id={i}").as_bytes());
        assert_eq!(
            parts[2].0,
            "Content-Disposition: form-data; name=\"other\"; filename=\"q%22uote.png\"\r\n\
             Content-Type: image/x-q"
        );
    }
    assert_eq!(files.len(), 2);
    let again = parse(src, &dir.0.join("s.toml")).unwrap();
    let mut out = Vec::new();
    Renderer::new(&again, 0).render(0, "h", &mut out);
    assert!(
        String::from_utf8_lossy(&out).contains(&boundary),
        "a seeded run draws the same boundary"
    );
}

#[test]
fn payload_errors_point_at_their_key_or_value() {
    let dir = TempDir::new("payload-errors", &[("a.png", "A")]);
    std::fs::create_dir_all(dir.0.join("d.png")).unwrap();
    let path = dir.0.join("s.toml");
    for (src, (line, col), want) in [
        (
            "[[task]]\npath = \"/\"\nbody = {a = 1}\ntext = \"x\"\n",
            (4, 1),
            "a task has one payload: `body` or `text`, not both",
        ),
        (
            "[[task]]\npath = \"/\"\nbody_files = \"*.jpg\"\n",
            (3, 14),
            "`body_files`: ",
        ),
        (
            "[[task]]\npath = \"/\"\nbody_files = \"*.png\"\n",
            (3, 14),
            "`body_files`: ",
        ),
        (
            "[[task]]\npath = \"/\"\nbody_file = \"d.png\"\n",
            (3, 13),
            "`body_file`: ",
        ),
        (
            "[[task]]\npath = \"/\"\nmultipart = {image = {file = \"d.png\"}}\n",
            (3, 30),
            "`file`: ",
        ),
        (
            "[[task]]\npath = \"/\"\nmultipart = {image = {file = \"a.png\"}}\ncontent_type = \"x/y\"\n",
            (4, 1),
            "`content_type` goes with",
        ),
        (
            "[[task]]\npath = \"/\"\nmultipart = {m = \"x\"}\nheaders = {Content-Type = \"x/y\"}\n",
            (4, 12),
            "blast sets `Content-Type` of a multipart body itself",
        ),
        (
            "[[task]]\npath = \"/\"\nmultipart = {\"a\\\"b\" = \"x\"}\n",
            (3, 14),
            "\"a\\\"b\" is not a usable form field name",
        ),
        (
            "[[task]]\npath = \"/\"\nmultipart = {}\n",
            (3, 13),
            "`multipart` needs at least one part",
        ),
        (
            "[[task]]\npath = \"/\"\nmultipart = {m = {files = \"*.png\", file = \"a.png\"}}\n",
            (3, 18),
            "a multipart part is a string, or a table with `file` or `files`",
        ),
        (
            "[[task]]\npath = \"/\"\ntext = \"x\"\ninvalid = {malformed_json = true}\n",
            (4, 12),
            "`malformed_json` needs a JSON `body`",
        ),
        (
            "[[task]]\npath = \"/\"\nbody_file = \"a.png\"\ninvalid = {drop_field = 1}\n",
            (4, 12),
            "`drop_field` needs a JSON `body`",
        ),
        (
            "[[task]]\npath = \"/\"\nheaders = {X = {value = \"v\", secret = 1}}\n",
            (3, 39),
            "`secret` must be true or false",
        ),
    ] {
        let err = error(src, &path);
        assert_eq!((err.line, err.col), (line, col), "{src}: {err}");
        assert!(err.message.starts_with(want), "{src}: {err}");
    }
    let none = error("[[task]]\npath = \"/\"\nbody_files = \"*.jpg\"\n", &path);
    assert!(none.message.ends_with("*.jpg matches no file"), "{none}");
    let dir_err = error("[[task]]\npath = \"/\"\nbody_files = \"*.png\"\n", &path);
    assert!(
        dir_err
            .message
            .ends_with("d.png is a directory, not a file"),
        "{dir_err}"
    );
}

#[test]
fn shipped_payload_scenarios_load() {
    let image = shipped("image-upload.toml");
    assert_eq!(
        image.tasks[0].headers[0],
        ("Authorization".into(), REDACTED.into())
    );
    let mut r = Renderer::new(&image, 0);
    let (req, _) = render_one(&mut r, 0);
    assert!(req
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    let batch = shipped("batch-predict.toml");
    let mut r = Renderer::new(&batch, 0);
    for task in 0..2 {
        let (req, _) = render_one(&mut r, task);
        let doc: Json = req.json();
        let rows = doc["instances"].as_array().unwrap();
        for row in rows {
            super::tests::assert_heart_fields(row.as_object().unwrap());
            assert_eq!(row.as_object().unwrap().len(), 13);
        }
    }
}
