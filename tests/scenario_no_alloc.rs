//! Rendering and checking allocate nothing once a renderer is warm: a counting
//! global allocator watches this thread while every kind of template, mutation,
//! payload (JSON, `repeat` batches, text, files, multipart) and expectation runs
//! thousands of times.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use blast::scenario::{self, Renderer, Scenario};

/// Renders per task before counting starts, and while counting.
const WARM_UP: usize = 1_000;
const COUNTED: usize = 10_000;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn shipped(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Every generator, vars in path/header/body, and each mutation on its own task.
const EVERYTHING: &str = r#"
seed = 11
data = "data/heart-sample.csv"

[[task]]
path = "/items/{id}?u={u}"
headers = {X-Id = "{id}", X-Name = "{name}"}
vars = {id = {seq = true}, u = {uuid = true}, name = {choice = ["a\"b", "c d\n"]}}
invalid = {share = 0.3, drop_field = 2}
expect = {status = 200, json_has = "diagnosis", body_contains = "diag", max_latency = "1s"}
[task.body]
id = {var = "id"}
age = {column = "age"}
oldpeak = {column = "oldpeak"}
i = {int = [-1000000, 1000000]}
f = {float = [-1e10, 1e10]}
r = {float = {range = [0.0, 6.2], decimals = 1}}
b = {bool = true}
s = {string = {len = [0, 300]}}
c = {choice = ["x", 1, {k = [true]}]}
nested = {deep = [{column = "chol"}, {uuid = true}]}

[[task]]
path = "/w"
body = {a = {int = [0, 9]}, b = {string = {len = [1, 9]}}, c = [1, 2]}
invalid = {share = 0.5, wrong_type = 2}

[[task]]
path = "/m"
body = {a = {int = [0, 9]}, b = {string = {len = [1, 40]}}}
invalid = {malformed_json = true}

[[task]]
path = "/e"
body = {a = 1}
invalid = {share = 0.5, empty_body = true}

[[task]]
path = "/scalar"
body = {string = {len = [1, 50]}}
invalid = {malformed_json = true}

[[task]]
path = "/batch"
headers = {Authorization = "Bearer {env.BLAST_NO_ALLOC_TOKEN:-fallback}"}
body = {instances = {repeat = {count = [1, 32], of = "row"}}, rows = {repeat = {count = [0, 4], of = {age = {column = "age"}}}}}
invalid = {share = 0.2, wrong_type = 1}

[[task]]
path = "/text"
vars = {id = {seq = true}}
text = "id={id} name={env.BLAST_NO_ALLOC_NAME:-x}"

[[task]]
path = "/files"
body_files = "payloads/images/*.png"
invalid = {share = 0.3, empty_body = true}

[[task]]
path = "/image"
vars = {trace = {uuid = true}}
multipart = {image = {files = "payloads/images/*.png"}, meta = "trace={trace}", one = {file = "payloads/images/sample-1.png", content_type = "image/x"}}

[bodies.row]
a = {int = [0, 9]}
s = {string = {len = [1, 20]}}
c = {column = "chol"}
"#;

fn assert_warm_renders_do_not_allocate(s: &Scenario) {
    let mut r = Renderer::new(s, 2);
    let mut out = Vec::with_capacity(64 * 1024);
    for task in 0..s.tasks.len() {
        for _ in 0..WARM_UP {
            out.clear();
            r.render(task, "localhost:8080", &mut out);
        }
    }
    for task in 0..s.tasks.len() {
        let before = allocations();
        let mut invalid = 0;
        for _ in 0..COUNTED {
            out.clear();
            invalid += usize::from(r.render(task, "localhost:8080", &mut out).invalid);
        }
        let spent = allocations() - before;
        assert_eq!(
            spent,
            0,
            "{}: task {task} allocated {spent} times in {COUNTED} renders",
            s.source.display()
        );
        assert!(
            out.len() > 20,
            "the loop rendered something ({invalid} invalid)"
        );
    }
}

#[test]
fn warm_renders_and_checks_do_not_allocate() {
    for name in [
        "heart-disease.toml",
        "health.toml",
        "predict-max.toml",
        "predict-from-csv.toml",
        "image-upload.toml",
        "batch-predict.toml",
    ] {
        assert_warm_renders_do_not_allocate(&shipped(name));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join("everything.toml");
    let everything = scenario::parse(EVERYTHING, &path).unwrap_or_else(|e| panic!("{e}"));
    assert_warm_renders_do_not_allocate(&everything);

    let task = &everything.tasks[0];
    let body = br#"{"diagnosis": "heart-disease", "scores": [0.1, {"x": "y"}]}"#;
    let latency = Duration::from_millis(5);
    let mut passed = 0;
    let mut failed = 0;
    let before = allocations();
    for _ in 0..COUNTED {
        passed += usize::from(task.check(false, 200, latency, body).is_ok());
        failed += usize::from(task.check(false, 503, latency, body).is_err());
        failed += usize::from(task.check(false, 200, latency, b"{}").is_err());
        passed += usize::from(task.check(true, 400, latency, b"").is_ok());
    }
    let spent = allocations() - before;
    assert_eq!((passed, failed), (2 * COUNTED, 2 * COUNTED));
    assert_eq!(spent, 0, "checks allocated {spent} times");
}

/// A user as the engine keeps one: a captured token and a jar with one cookie.
struct User {
    token: Vec<u8>,
    jar: blast::http::cookie::Jar,
}

impl scenario::UserValues for User {
    fn value(&self, _: usize) -> &[u8] {
        &self.token
    }
    fn extra_headers(&self, target: &[u8], out: &mut Vec<u8>) {
        self.jar.write_header(target, 1_700_000_000, false, out);
    }
}

/// `{user.token}` in a header and the cookie jar's line cost no allocation once warm, and
/// neither does taking a header capture or storing a cookie again. A `json:` capture does
/// allocate (serde_json parses the body): it runs once per user, on its login.
#[test]
fn captured_values_and_cookies_do_not_allocate_once_warm() {
    let s = shipped("login-token.toml");
    assert_warm_renders_do_not_allocate(&s);
    let mut user = User {
        token: b"abcdefghijklmnopqrstuvwxyz012345".to_vec(),
        jar: Default::default(),
    };
    user.jar.store(
        b"sid=0123456789abcdef; Path=/; HttpOnly",
        b"/login",
        1_700_000_000,
    );
    let predict = s.tasks.iter().position(|t| t.name == "predict").unwrap();
    let login = s.tasks.iter().position(|t| t.name == "login").unwrap();
    let mut r = Renderer::new(&s, 0);
    let mut out = Vec::with_capacity(64 * 1024);
    let head = b"HTTP/1.1 200 OK\r\nX-Session: 0123456789abcdef\r\nSet-Cookie: sid=0123456789abcdef; Path=/\r\n\r\n";
    let session = s.tasks[login]
        .captures
        .iter()
        .find(|c| !c.reads_body())
        .unwrap();
    let mut captured = Vec::new();
    for round in 0..2 {
        let before = allocations();
        for _ in 0..if round == 0 { WARM_UP } else { COUNTED } {
            out.clear();
            r.render_for(predict, "localhost:8080", &user, &mut out);
            session
                .take(&s.user_vars, Some(head), b"", &mut captured)
                .unwrap();
            user.jar
                .store(b"sid=0123456789abcdef; Path=/", b"/login", 1_700_000_000);
        }
        let spent = allocations() - before;
        if round == 1 {
            assert_eq!(spent, 0, "allocated {spent} times in {COUNTED} renders");
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345\r\n"),
        "{text}"
    );
    assert!(text.contains("Cookie: sid=0123456789abcdef\r\n"), "{text}");
    assert_eq!(captured, b"0123456789abcdef");
}
