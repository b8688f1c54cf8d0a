//! The dashboard end to end, as a person uses it: `blast ui` in front of `blast serve` on
//! loopback, driven by headless Chromium over the DevTools protocol. The page refuses a bad
//! field with the CLI's message, starts a scenario whose task name is markup (shown as text),
//! draws at least 3 seconds of chart points and table rows, refuses an edit the run's model
//! cannot take, applies one it can (the users series follows), stops, and serves a stats CSV
//! whose header is Locust's.
//! Skipped where Chromium is missing, except under CI (`scripts/install-chromium.sh`).
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

const CHROMIUM: &str = "/usr/bin/chromium";
const LOCUST_STATS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/locust-2.47/ref_stats.csv"
);
/// Longest wait for any one thing (a process to listen, the page to change).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
/// Redrawing the three charts at 1,800 points takes a few ms; this bound leaves room for a
/// loaded CI machine while still catching a page that slows down with run length.
const MAX_REDRAW_MS: f64 = 250.0;
const MARKUP_NAME: &str = "<img src=x onerror=alert(1)>";

/// Child processes killed when the test ends, however it ends.
struct Kill(Vec<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("blast-web-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// `blast ui` on a free loopback port; its address from the line it prints.
fn start_ui(scenarios: &Path, procs: &mut Kill) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blast"))
        .args(["ui", "--addr", "127.0.0.1:0", "-c", "1", "--scenarios-dir"])
        .arg(scenarios)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start blast ui");
    let stderr = child.stderr.take().unwrap();
    procs.0.push(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("http://") {
                let _ = tx.send(line[at..].trim_end_matches('/').to_owned());
            }
        }
    });
    rx.recv_timeout(STEP_TIMEOUT)
        .expect("blast ui printed its address")
}

/// Headless Chromium on `url`; the DevTools socket of its page.
fn open_page(url: &str, dir: &Path, procs: &mut Kill) -> WebSocket<TcpStream> {
    let profile = dir.join("profile");
    let child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
            "--remote-debugging-port=0",
            &format!("--user-data-dir={}", profile.display()),
            url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    procs.0.push(child);
    let port: u16 = wait_until("DevToolsActivePort", || {
        let text = std::fs::read_to_string(profile.join("DevToolsActivePort")).ok()?;
        text.lines().next()?.trim().parse().ok()
    });
    let ws_url = wait_until("the page target", || {
        let list: Value = serde_json::from_str(&http_get(port, "/json/list")?).ok()?;
        list.as_array()?
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
    });
    let (ws, _) = tungstenite::connect(ws_url.as_str()).expect("DevTools websocket");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(STEP_TIMEOUT)).unwrap();
    }
    // connect() gives a MaybeTlsStream; keep the plain socket.
    let stream = match ws.into_inner() {
        tungstenite::stream::MaybeTlsStream::Plain(s) => s,
        _ => unreachable!("ws:// is plain"),
    };
    WebSocket::from_raw_socket(stream, tungstenite::protocol::Role::Client, None)
}

/// A GET to Chromium's DevTools HTTP endpoint, which keeps the connection open: the body is
/// read by its Content-Length.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(STEP_TIMEOUT)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut reader = BufReader::new(s);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

/// A DevTools session on one page.
struct Page {
    ws: WebSocket<TcpStream>,
    next: u64,
}

impl Page {
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::text(msg)).expect("send to DevTools");
        loop {
            let m = self.ws.read().expect("read from DevTools");
            let Ok(text) = m.to_text() else { continue };
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Waits until `expr` is true; a page still loading (elements missing) reads as false.
    fn wait_for(&mut self, what: &str, expr: &str) {
        let guarded =
            format!("(() => {{ try {{ return !!({expr}); }} catch (e) {{ return false; }} }})()");
        wait_until(what, || (self.eval(&guarded) == json!(true)).then_some(()));
    }
}

fn set_fields(page: &mut Page, fields: &[(&str, &str)]) {
    for (id, value) in fields {
        let js = format!(
            "document.getElementById({}).value = {}; true",
            json!(id),
            json!(value)
        );
        assert_eq!(page.eval(&js), json!(true));
    }
}

#[test]
fn the_page_starts_watches_stops_and_downloads_a_run() {
    if !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} missing under CI"
        );
        eprintln!("skipping: {CHROMIUM} not installed (scripts/install-chromium.sh)");
        return;
    }
    let dir = scratch();
    let mut procs = Kill(Vec::new());
    let target_port = free_port();
    let server = Command::new(env!("CARGO_BIN_EXE_blast"))
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{target_port}"),
            "--threads",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start blast serve");
    procs.0.push(server);
    wait_until("blast serve", || {
        TcpStream::connect(("127.0.0.1", target_port)).ok()
    });

    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    let scenario = scenarios.join("markup.toml");
    std::fs::write(
        &scenario,
        format!(
            "[[task]]\nname = {}\npath = \"/health\"\n",
            json!(MARKUP_NAME)
        ),
    )
    .unwrap();
    let ui = start_ui(&scenarios, &mut procs);
    let ws = open_page(&ui, &dir, &mut procs);
    let mut page = Page { ws, next: 0 };
    page.wait_for("the start form", "!document.getElementById('start').hidden && document.getElementById('f-scenario').options.length == 2");

    // A bad value: the CLI's message next to its field, and nothing starts.
    let host = format!("http://127.0.0.1:{target_port}");
    let scenario_name = scenario.display().to_string();
    set_fields(
        &mut page,
        &[
            ("f-url", &host),
            ("f-scenario", &scenario_name),
            ("f-users", "0"),
            ("f-spawn_rate", "50"),
        ],
    );
    page.eval("document.getElementById('start-button').click(); true");
    page.wait_for(
        "the users field's error",
        "document.getElementById('err-users').textContent == '--users must be at least 1'",
    );
    assert_eq!(page.eval("window.blast.state().phase"), json!("idle"));

    set_fields(&mut page, &[("f-users", "4")]);
    page.eval("document.getElementById('start-button').click(); true");
    page.wait_for(
        "3 seconds of chart points and a table row",
        "window.blast.data[0].length >= 3 && document.querySelectorAll('#stats tbody tr').length == 1",
    );
    let rps: Vec<f64> = serde_json::from_value(page.eval("window.blast.data[1]")).unwrap();
    assert!(rps.iter().any(|&r| r > 0.0), "req/s series {rps:?}");
    let users: Vec<f64> = serde_json::from_value(page.eval("window.blast.data[6]")).unwrap();
    assert_eq!(users.last(), Some(&4.0), "users series {users:?}");
    assert_eq!(
        page.eval("document.querySelector('#stats tbody td:nth-child(2)').textContent"),
        json!(MARKUP_NAME),
        "the task name shows as text"
    );
    assert_eq!(
        page.eval("document.querySelectorAll('main img').length"),
        json!(0)
    );
    let plan_line = page.eval("document.getElementById('plan').textContent");
    assert!(
        plan_line.as_str().unwrap().contains("4 users"),
        "{plan_line}"
    );
    for canvas in ["chart-rps", "chart-latency", "chart-users"] {
        let js = format!("document.querySelectorAll('#{canvas} canvas').length");
        assert_eq!(page.eval(&js), json!(1), "{canvas} drawn");
    }

    // A rate is refused for a closed-model run, with the engine's reason next to the form.
    set_fields(&mut page, &[("e-rate", "100")]);
    page.eval("document.getElementById('edit-button').click(); true");
    page.wait_for(
        "the edit refusal",
        "document.getElementById('err-edit').textContent.includes('closed-model')",
    );
    // Edit the running test: the workers take the new level within a second, the users
    // series follows, and the change is marked.
    set_fields(&mut page, &[("e-rate", ""), ("e-users", "2")]);
    page.eval("document.getElementById('edit-button').click(); true");
    page.wait_for(
        "the users series to move to the edit",
        "window.blast.data[6][window.blast.data[6].length - 1] == 2 && window.blast.edits().length == 1",
    );

    page.eval("document.querySelector('[data-tab=charts]').click(); true");
    let shot = page.call("Page.captureScreenshot", json!({"format": "png"}));
    let png = base64_decode(shot["data"].as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let shot_path = dir.join("dashboard.png");
    std::fs::write(&shot_path, &png).unwrap();
    eprintln!("screenshot: {} ({} bytes)", shot_path.display(), png.len());

    page.eval("document.getElementById('stop').click(); true");
    page.wait_for(
        "the run to finish",
        "window.blast.state().phase == 'finished'",
    );
    assert_eq!(
        page.eval("document.getElementById('new').hidden"),
        json!(false)
    );

    // A 30-minute run's 1,800 points (and more) redraw in a blink: uPlot draws in a microtask
    // after setData, so the time is taken once the following timer fires.
    let redraw_ms = page.eval(
        "(() => { const d = window.blast.data; for (let i = 0; i < 1800; i++) { d[0].push(10 + i); \
         for (let k = 1; k < 7; k++) d[k].push(50 + 40 * Math.sin(i / 30 + k)); } \
         const t0 = performance.now(); window.blast.redraw(); \
         return new Promise((done) => setTimeout(() => done(performance.now() - t0), 0)); })()",
    );
    let redraw_ms = redraw_ms.as_f64().expect("a time");
    assert!(
        redraw_ms < MAX_REDRAW_MS,
        "1,800-point redraw took {redraw_ms} ms"
    );
    eprintln!("1,800-point redraw of three charts: {redraw_ms:.1} ms");

    let csv = page.eval("fetch('/download/stats.csv').then(r => r.text())");
    let csv = csv.as_str().expect("CSV text");
    let locust = std::fs::read_to_string(LOCUST_STATS).expect("Locust's reference CSV");
    assert_eq!(
        csv.lines().next(),
        locust.lines().next(),
        "stats header is Locust's"
    );
    assert!(csv.contains(&format!("GET,{MARKUP_NAME},")), "{csv}");
    assert!(csv.contains("\r\n,Aggregated,"), "{csv}");
    drop(procs);
    let _ = std::fs::remove_dir_all(dir.join("profile"));
}

/// Standard base64 (the screenshot), without a crate of the test's own.
fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}
