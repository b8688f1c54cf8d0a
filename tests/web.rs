//! The web dashboard's server in-process on 127.0.0.1 port 0, with a launcher that only
//! counts the runs it is asked to start: every refusal (no token, foreign Host or Origin,
//! no CSRF token, GET on a state-changing path, a bad form value) is checked to start
//! nothing, next to the one good request that does. Also: a hung browser never slows the
//! coordinator's sink, and `/metrics` passes `promtool check metrics`.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use blast::plan::{Plan, PlanInput};
use blast::results::{Clock, Results, Second};
use blast::stats::{Merged, Recorder};
use blast::web::{Dashboard, Edit, Launch, LoadControl, Mode, UiSetup, WebSettings};

const TARGET: &str = "http://127.0.0.1:9/x";
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const PROMTOOL: &str = "/usr/bin/promtool";
/// Size of each stream event in the hung-browser test, and how many are published.
const EVENT_BYTES: usize = 4_000;
const SECONDS_PUBLISHED: usize = 300;
/// The hung browser's receive buffer: small, so the server's writes block soon.
const HUNG_RECEIVE_BUFFER: usize = 4_096;

/// A `blast ui` server whose launcher counts launches and returns an empty result at once.
fn ui_server(token: Option<&str>) -> (Dashboard, Arc<AtomicUsize>) {
    let launched = Arc::new(AtomicUsize::new(0));
    let count = launched.clone();
    let launcher = move |plan: Arc<Plan>, _l: Launch| {
        count.fetch_add(1, Ordering::SeqCst);
        empty_results(&plan)
    };
    let ui = UiSetup {
        base: PlanInput::default(),
        scenarios: Vec::new(),
        cores: vec![0],
        launcher: Arc::new(launcher),
    };
    let settings = WebSettings::new("127.0.0.1:0".parse().unwrap(), token.map(str::to_owned));
    let d = Dashboard::serve(&settings, Mode::Ui, Some(ui)).expect("serving");
    (d, launched)
}

fn empty_results(plan: &Plan) -> Results {
    Results {
        plan: plan.info(),
        totals: Merged::new(plan.tasks.len()),
        elapsed: Duration::ZERO,
        started_at: SystemTime::now(),
        driver: "none".into(),
        worker_failures: Vec::new(),
        timeline: Vec::new(),
        interrupted: false,
        changes: Vec::new(),
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One request on its own connection; `headers` are added after Host.
fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let host = format!("127.0.0.1:{}", addr.port());
    let has_host = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host"));
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    if !has_host {
        req.push_str(&format!("Host: {host}\r\n"));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read reply");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    Reply {
        status: head[9..12].parse().expect("status"),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// The CSRF token the page carries.
fn csrf(addr: SocketAddr, headers: &[(&str, &str)]) -> String {
    let page = send(addr, "GET", "/", headers, "").body;
    let at = page.find("name=\"csrf\" content=\"").expect("csrf meta") + 21;
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

fn start_body() -> String {
    format!("{{\"url\":\"{TARGET}\",\"users\":\"2\",\"duration\":\"1s\"}}")
}

fn origin(addr: SocketAddr) -> String {
    format!("http://127.0.0.1:{}", addr.port())
}

#[test]
fn a_same_origin_post_with_the_csrf_token_starts_a_run() {
    let (d, launched) = ui_server(None);
    let addr = d.addr();
    let token = csrf(addr, &[]);
    let o = origin(addr);
    let r = send(
        addr,
        "POST",
        "/api/start",
        &[("Origin", &o), ("X-CSRF-Token", &token)],
        &start_body(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_for(|| launched.load(Ordering::SeqCst) == 1);
}

#[test]
fn get_on_a_state_changing_path_is_405_and_starts_nothing() {
    let (d, launched) = ui_server(None);
    let addr = d.addr();
    let token = csrf(addr, &[]);
    for path in ["/api/start", "/api/stop", "/api/edit", "/api/reset"] {
        let r = send(
            addr,
            "GET",
            &format!("{path}?x=1"),
            &[("X-CSRF-Token", &token)],
            "",
        );
        assert_eq!(r.status, 405, "GET {path}");
        assert!(r.head.contains("Allow: POST"), "{}", r.head);
    }
    settle_then_assert_none(&launched);
}

#[test]
fn a_foreign_origin_is_refused_and_starts_nothing() {
    let (d, launched) = ui_server(None);
    let addr = d.addr();
    let token = csrf(addr, &[]);
    for headers in [
        vec![
            ("Origin", "http://evil.example"),
            ("X-CSRF-Token", token.as_str()),
        ],
        vec![
            ("Origin", "http://127.0.0.1:1"),
            ("X-CSRF-Token", token.as_str()),
        ],
        vec![
            ("Sec-Fetch-Site", "cross-site"),
            ("X-CSRF-Token", token.as_str()),
        ],
    ] {
        let r = send(addr, "POST", "/api/start", &headers, &start_body());
        assert_eq!(r.status, 403, "{headers:?}: {}", r.body);
    }
    settle_then_assert_none(&launched);
}

#[test]
fn a_post_without_the_csrf_token_is_refused_and_starts_nothing() {
    let (d, launched) = ui_server(None);
    let addr = d.addr();
    let o = origin(addr);
    for headers in [
        vec![("Origin", o.as_str())],
        vec![("Origin", o.as_str()), ("X-CSRF-Token", "0123")],
    ] {
        let r = send(addr, "POST", "/api/start", &headers, &start_body());
        assert_eq!(r.status, 403, "{headers:?}");
    }
    settle_then_assert_none(&launched);
}

#[test]
fn a_foreign_host_name_is_refused_on_a_loopback_server() {
    let (d, launched) = ui_server(None);
    let addr = d.addr();
    let token = csrf(addr, &[]);
    let r = send(addr, "GET", "/", &[("Host", "rebound.example")], "");
    assert_eq!(r.status, 403);
    let r = send(
        addr,
        "POST",
        "/api/start",
        &[("Host", "rebound.example"), ("X-CSRF-Token", &token)],
        &start_body(),
    );
    assert_eq!(r.status, 403);
    settle_then_assert_none(&launched);
}

#[test]
fn without_the_token_everything_is_refused_and_starts_nothing() {
    let (d, launched) = ui_server(Some("s3cret"));
    let addr = d.addr();
    for path in [
        "/",
        "/api/state",
        "/api/stream",
        "/metrics",
        "/app.js",
        "/download/stats.csv",
    ] {
        assert_eq!(send(addr, "GET", path, &[], "").status, 403, "{path}");
        let wrong = send(addr, "GET", &format!("{path}?token=nope"), &[], "");
        assert_eq!(wrong.status, 403, "{path} with a wrong token");
    }
    // With the token the page is served and the CSRF token readable, but a POST that
    // carries the CSRF token and not the access token is still refused.
    let csrf = csrf(addr, &[("Authorization", "Bearer s3cret")]);
    let r = send(
        addr,
        "POST",
        "/api/start",
        &[("X-CSRF-Token", &csrf)],
        &start_body(),
    );
    assert_eq!(r.status, 403);
    settle_then_assert_none(&launched);

    let first = send(addr, "GET", "/?token=s3cret", &[], "");
    assert_eq!(first.status, 200);
    assert!(
        first
            .head
            .contains("Set-Cookie: blast_token=s3cret; Path=/; HttpOnly; SameSite=Strict"),
        "{}",
        first.head
    );
    let again = send(
        addr,
        "GET",
        "/api/state",
        &[("Cookie", "blast_token=s3cret")],
        "",
    );
    assert_eq!(again.status, 200);
    let r = send(
        addr,
        "POST",
        "/api/start",
        &[("Cookie", "blast_token=s3cret"), ("X-CSRF-Token", &csrf)],
        &start_body(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_for(|| launched.load(Ordering::SeqCst) == 1);
}

#[test]
fn a_bad_form_value_gets_the_cli_message_for_its_field_and_starts_nothing() {
    let (d, launched) = ui_server(None);
    let addr = d.addr();
    let token = csrf(addr, &[]);
    for (body, field, message) in [
        (
            r#"{"url":"http://127.0.0.1:9/","users":"0"}"#,
            "users",
            "--users must be at least 1",
        ),
        (
            r#"{"url":"http://127.0.0.1:9/","rate":"-1"}"#,
            "rate",
            "rate must be a positive number, got -1",
        ),
        (r#"{"url":""}"#, "url", "no target URL given"),
        (
            r#"{"url":"http://127.0.0.1:9/","scenario":"/etc/passwd"}"#,
            "scenario",
            "no scenario named",
        ),
    ] {
        let r = send(
            addr,
            "POST",
            "/api/start",
            &[("X-CSRF-Token", &token)],
            body,
        );
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["field"], field, "{body}");
        assert!(
            v["message"].as_str().unwrap().starts_with(message),
            "{}",
            v["message"]
        );
    }
    settle_then_assert_none(&launched);
}

#[test]
fn metrics_only_serves_nothing_but_metrics() {
    let settings = WebSettings::new("127.0.0.1:0".parse().unwrap(), None);
    let d = Dashboard::serve(&settings, Mode::MetricsOnly, None).unwrap();
    assert_eq!(send(d.addr(), "GET", "/", &[], "").status, 404);
    assert_eq!(send(d.addr(), "POST", "/api/start", &[], "{}").status, 404);
    let m = send(d.addr(), "GET", "/metrics", &[], "");
    assert_eq!(m.status, 200);
    assert!(m.head.contains("text/plain; version=0.0.4"), "{}", m.head);
}

/// A plan with a task whose name is markup, and one second of its traffic.
fn plan_and_second() -> (Plan, Vec<(Second, Merged)>) {
    let input = PlanInput {
        url: Some(TARGET.into()),
        ..Default::default()
    };
    let mut plan = Plan::build(input, &[0]).unwrap();
    plan.tasks[0].name = "<img src=x onerror=alert(1)>\"\\".into();
    let mut rec = Recorder::new(1);
    let mut totals = Merged::new(1);
    let mut seconds = Vec::new();
    for s in 0..3u64 {
        for i in 0..500u64 {
            rec.response(0, 200, Duration::from_micros(300 + i * 97), 10);
        }
        rec.failure(0, &"status 500");
        rec.request_error(0, "timeout");
        rec.late(Duration::from_micros(1500));
        let snap = rec.take_snapshot(0, 7, false);
        let mut interval = Merged::new(1);
        interval.add(&snap);
        totals.add(&snap);
        let clock = Clock {
            elapsed_s: (s + 1) as f64,
            interval_s: 1.0,
            unix_s: 1_700_000_000 + s,
            users: 7,
            errors: interval.errors_total(),
        };
        seconds.push((
            Second::new(clock, &interval.tasks, &totals.tasks),
            totals.clone(),
        ));
    }
    (plan, seconds)
}

/// A browser that asks for the stream and never reads, with a small receive buffer.
fn hung_browser(addr: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(HUNG_RECEIVE_BUFFER).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut s: TcpStream = socket.into();
    let req = format!(
        "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        addr.port()
    );
    s.write_all(req.as_bytes()).unwrap();
    s
}

#[test]
fn a_hung_browser_never_slows_the_sink() {
    let settings = WebSettings::new("127.0.0.1:0".parse().unwrap(), None);
    let d = Dashboard::serve(&settings, Mode::Watch, None).unwrap();
    let (mut plan, seconds) = plan_and_second();
    // Events of a few KB, to browsers whose sockets take a few KB: their queues fill at once.
    plan.tasks[0].name = "x".repeat(EVENT_BYTES);
    let mut sink = d.attach(&plan, Arc::new(AtomicBool::new(false)));
    // Three browsers that open the stream and never read a byte.
    let hung: Vec<TcpStream> = (0..3).map(|_| hung_browser(d.addr())).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut slowest = Duration::ZERO;
    let (second, totals) = &seconds[2];
    for _ in 0..SECONDS_PUBLISHED {
        let t = Instant::now();
        sink(second, totals);
        slowest = slowest.max(t.elapsed());
    }
    // Far more than the browsers' sockets hold; a sink that waited on a browser would stall
    // here (for the write timeout, 10 s).
    assert!(
        slowest < Duration::from_millis(500),
        "a sink call took {slowest:?}"
    );
    drop(hung);
}

#[test]
fn metrics_pass_promtool_and_count_what_the_run_counted() {
    let settings = WebSettings::new("127.0.0.1:0".parse().unwrap(), None);
    let d = Dashboard::serve(&settings, Mode::Watch, None).unwrap();
    let (plan, seconds) = plan_and_second();
    let mut sink = d.attach(&plan, Arc::new(AtomicBool::new(false)));
    for (s, t) in &seconds {
        sink(s, t);
    }
    let text = send(d.addr(), "GET", "/metrics", &[], "").body;
    let labels = "method=\"GET\",name=\"<img src=x onerror=alert(1)>\\\"\\\\\"";
    for want in [
        format!("blast_requests_total{{{labels}}} 1503"),
        format!("blast_failures_total{{{labels}}} 6"),
        format!("blast_request_duration_seconds_count{{{labels}}} 1500"),
        format!("blast_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 1500"),
        "blast_responses_total{status=\"200\"} 1500".into(),
        "blast_errors_total{kind=\"timeout\"} 3".into(),
        "blast_send_lateness_seconds_bucket{le=\"0.0025\"} 3".into(),
        "blast_users 7".into(),
        "blast_running 1".into(),
    ] {
        assert!(text.contains(&want), "missing {want} in\n{text}");
    }
    // 0.5 ms bucket: latencies 300 + i*97 µs at or below 500 µs are i = 0, 1, 2, per second.
    assert!(text.contains(&format!(
        "blast_request_duration_seconds_bucket{{{labels},le=\"0.0005\"}} 9"
    )));
    promtool_check(&text);
    let d2 = d;
    d2.finish(&empty_results(&plan));
    let after = send(d2.addr(), "GET", "/metrics", &[], "").body;
    assert!(after.contains("blast_running 0"), "{after}");
}

/// `promtool check metrics` on `text`; skipped (and said so) where promtool is missing,
/// except under CI (scripts/install-prometheus.sh installs it).
fn promtool_check(text: &str) {
    if !Path::new(PROMTOOL).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{PROMTOOL} missing under CI"
        );
        eprintln!("skipping promtool: not installed (scripts/install-prometheus.sh)");
        return;
    }
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
}

fn wait_for(cond: impl Fn() -> bool) {
    let end = Instant::now() + IO_TIMEOUT;
    while !cond() {
        assert!(Instant::now() < end, "condition not met in {IO_TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A refused start would launch on a thread; give it time to, then check it did not.
fn settle_then_assert_none(launched: &AtomicUsize) {
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        launched.load(Ordering::SeqCst),
        0,
        "a refused request started a run"
    );
}

/// `blast URL --web=ADDR`: the page shows the command-line run while it goes, and its Stop
/// (a same-origin POST with the CSRF token) ends the run early, reported as interrupted.
#[test]
fn stop_on_the_page_of_a_command_line_run_ends_it_early() {
    let serve = blast::serve::ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
    };
    let target_addr = blast::serve::spawn(&serve).expect("built-in target");
    let web = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let json = std::env::temp_dir().join(format!("blast-web-stop-{}.json", std::process::id()));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_blast"))
        .arg(format!("http://{target_addr}/health"))
        .args(["-d", "60s", "-u", "2", "-c", "1", "-q", "--json"])
        .arg(&json)
        .arg(format!("--web={web}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start blast");
    let running = || {
        TcpStream::connect(web).is_ok()
            && send(web, "GET", "/api/state", &[], "")
                .body
                .contains("\"phase\":\"running\"")
    };
    wait_for(running);
    wait_for(|| {
        send(web, "GET", "/metrics", &[], "")
            .body
            .contains("blast_requests_total{")
    });
    let token = csrf(web, &[]);
    let r = send(
        web,
        "POST",
        "/api/stop",
        &[("Origin", &origin(web)), ("X-CSRF-Token", &token)],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let status = exit_within(&mut child, started, "blast did not stop from the page");
    assert!(status.success(), "{status:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["interrupted"], true);
    assert!(report["requests"].as_u64().unwrap() > 0);
}

/// A `LoadControl` that records what it is asked and refuses rates.
#[derive(Default)]
struct Recording(std::sync::Mutex<Vec<Edit>>);

impl LoadControl for Recording {
    fn apply(&self, edit: &Edit) -> Result<(), String> {
        match edit {
            Edit::Rate { .. } => Err("this run is closed-model: set users".into()),
            e => {
                self.0.lock().unwrap().push(e.clone());
                Ok(())
            }
        }
    }
}

/// The edit endpoint forwards to the run's `LoadControl` once the launcher offers one, logs
/// each applied change with its second, and shows the control's refusal on the field.
#[test]
fn edits_go_to_the_runs_load_control_and_are_logged() {
    let control = Arc::new(Recording::default());
    let offered = control.clone();
    let launcher = move |plan: Arc<Plan>, l: Launch| {
        l.control.set(offered.clone());
        let end = Instant::now() + IO_TIMEOUT;
        while !l.stop.load(Ordering::SeqCst) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        empty_results(&plan)
    };
    let ui = UiSetup {
        base: PlanInput::default(),
        scenarios: Vec::new(),
        cores: vec![0],
        launcher: Arc::new(launcher),
    };
    let settings = WebSettings::new("127.0.0.1:0".parse().unwrap(), None);
    let d = Dashboard::serve(&settings, Mode::Ui, Some(ui)).unwrap();
    let addr = d.addr();
    let token = csrf(addr, &[]);
    let h = [("Origin", origin(addr)), ("X-CSRF-Token", token)];
    let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(
        send(addr, "POST", "/api/edit", &h, r#"{"users":"3"}"#).status,
        409,
        "nothing runs yet"
    );
    assert_eq!(
        send(addr, "POST", "/api/start", &h, &start_body()).status,
        200
    );
    wait_for(|| {
        send(addr, "GET", "/api/state", &[], "")
            .body
            .contains("\"editable\":true")
    });

    let r = send(
        addr,
        "POST",
        "/api/edit",
        &h,
        r#"{"users":"3","spawn_rate":"2"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(addr, "POST", "/api/edit", &h, r#"{"rate":"100"}"#);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("closed-model"), "{}", r.body);
    let r = send(addr, "POST", "/api/edit", &h, r#"{"users":"0"}"#);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("\"field\":\"users\""), "{}", r.body);
    assert_eq!(
        *control.0.lock().unwrap(),
        vec![Edit::Users {
            users: 3,
            spawn_rate: Some(2.0)
        }],
        "only the valid, accepted edit reached the engine"
    );
    let state: serde_json::Value =
        serde_json::from_str(&send(addr, "GET", "/api/state", &[], "").body).unwrap();
    assert_eq!(state["edits"][0]["what"], "users → 3 at 2/s");
    assert_eq!(state["edits"].as_array().unwrap().len(), 1);
    assert_eq!(send(addr, "POST", "/api/stop", &h, "").status, 200);
}

/// How long a command-line run or study under test may take before it is killed.
const PROCESS_LIMIT: Duration = Duration::from_secs(30);

/// The child's exit status, or a kill and a panic saying `why` once `PROCESS_LIMIT` passed.
fn exit_within(
    child: &mut std::process::Child,
    started: Instant,
    why: &str,
) -> std::process::ExitStatus {
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if started.elapsed() > PROCESS_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{why}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `blast ARGS --web=127.0.0.1:0 -q` against nothing in particular: the child and the
/// dashboard's address, read from the line it prints on stderr (the rest is drained).
fn spawn_watched(args: &[String]) -> (std::process::Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blast"))
        .args(args)
        .args(["-q", "--web=127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start blast");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("dashboard at http://") {
                let addr = line[at + 20..].trim_end_matches('/').to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(IO_TIMEOUT)
        .expect("blast printed its dashboard");
    (child, addr.parse().expect("an address"))
}

/// The dashboard's event stream, one `(event, data)` at a time.
struct Events(BufReader<TcpStream>);

impl Events {
    fn open(addr: SocketAddr) -> Self {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let req = format!(
            "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            addr.port()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while line != "\r\n" {
            line.clear();
            r.read_line(&mut line).expect("the stream's head");
        }
        Events(r)
    }

    /// The next event; None when the stream ended (the process exited).
    fn next(&mut self) -> Option<(String, serde_json::Value)> {
        let (mut name, mut data) = (String::new(), None);
        loop {
            let mut line = String::new();
            if self.0.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.trim().to_owned();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(serde_json::from_str(d).expect("JSON data"));
            } else if line.trim().is_empty() {
                if let Some(d) = data.take() {
                    return Some((name, d));
                }
            }
        }
    }

    /// The steps judged so far (the first state's and each step event's) once `want` of
    /// them arrived, and how many seconds came in between.
    fn steps(&mut self, want: usize) -> (Vec<serde_json::Value>, usize) {
        let (mut steps, mut seconds) = (Vec::new(), 0);
        while steps.len() < want {
            match self.next() {
                Some((n, d)) if n == "state" && steps.is_empty() => {
                    steps = d["steps"].as_array().cloned().unwrap_or_default();
                }
                Some((n, d)) if n == "step" => steps.push(d),
                Some((n, _)) if n == "second" => seconds += 1,
                Some(_) => {}
                None => panic!("the stream ended after {} steps", steps.len()),
            }
        }
        (steps, seconds)
    }
}

fn temp_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("blast-web-{}-{name}", std::process::id()))
}

fn builtin_target() -> SocketAddr {
    let serve = blast::serve::ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
    };
    blast::serve::spawn(&serve).expect("built-in target")
}

/// `blast limit --web`: each run's seconds and each judged step reach the page as they
/// happen, and Stop (a same-origin POST with the CSRF token) ends the search as Ctrl-C
/// does: interrupted, long before its 30 steps, with every report written.
#[test]
fn stop_on_the_page_of_blast_limit_ends_the_search_with_its_reports() {
    const MAX_STEPS: usize = 30;
    let target = builtin_target();
    let (json, csv) = (temp_file("limit.json"), temp_file("limit.csv"));
    let started = Instant::now();
    let args: Vec<String> = [
        "limit",
        &format!("http://{target}/health"),
        "--start-rate",
        "100",
        "--step",
        "500ms",
        "--warmup",
        "200ms",
        "--precision",
        "0.1%",
        "--max-steps",
        &MAX_STEPS.to_string(),
        "-c",
        "1",
        "-u",
        "4",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let (mut child, web) = spawn_watched(&args);
    let (steps, seconds) = Events::open(web).steps(2);
    assert!(seconds > 0, "the runs' seconds stream between steps");
    assert_eq!(steps[0]["offered"], 100.0);
    // Judged, whatever the verdict on a busy machine; then the search went on.
    let judged = ["sustainable", "unsustainable", "client_limit"];
    assert!(
        judged.contains(&steps[0]["verdict"].as_str().unwrap()),
        "{}",
        steps[0]
    );
    assert!(steps[1]["t"].as_f64() > steps[0]["t"].as_f64(), "{steps:?}");
    let r = send(
        web,
        "POST",
        "/api/stop",
        &[("Origin", &origin(web)), ("X-CSRF-Token", &csrf(web, &[]))],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let status = exit_within(
        &mut child,
        started,
        "blast limit did not stop from the page",
    );
    // 0 with a limit, 1 without one (a busy machine may hold no rate): not a usage error.
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count();
    let _ = (std::fs::remove_file(&json), std::fs::remove_file(&csv));
    assert_eq!(report["ended"], "interrupted");
    let judged = report["steps"].as_array().unwrap().len();
    assert!((2..MAX_STEPS).contains(&judged), "{judged} steps");
    assert_eq!(rows, judged + 1, "the CSV has a row per step");
}

/// `blast compare --web`: each target's run streams to the page and becomes a row of the
/// steps table, named for its target, and the comparison ends with its report written.
#[test]
fn blast_compare_shows_each_targets_run_as_it_is_measured() {
    let target = builtin_target();
    let url = format!("http://{target}/health");
    let json = temp_file("compare.json");
    let started = Instant::now();
    let args: Vec<String> = [
        "compare",
        "--target",
        &format!("a={url}"),
        "--target",
        &format!("b={url}"),
        "-R",
        "100",
        "-d",
        "500ms",
        "--warmup",
        "200ms",
        "--settle",
        "100ms",
        "-c",
        "1",
        "-u",
        "4",
        "--json",
        json.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let (mut child, web) = spawn_watched(&args);
    let (steps, _) = Events::open(web).steps(2);
    let targets: Vec<_> = steps.iter().map(|s| s["target"].clone()).collect();
    assert_eq!(targets, ["a", "b"], "{steps:?}");
    assert_eq!(steps[1]["offered"], 100.0);
    assert!(steps[1]["achieved"].as_f64().unwrap() > 0.0, "{}", steps[1]);
    let status = exit_within(&mut child, started, "blast compare did not end");
    assert!(status.success(), "{status:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["targets"].as_array().unwrap().len(), 2, "{report}");
}
