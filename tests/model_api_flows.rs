//! Per-user flows against real servers: `scenarios/login-token.toml` (log in once per user
//! in `[on_start]`, capture the token and a header, predict in `sequence` with
//! `{user.token}`, follow the framework's own 307 for a trailing slash on the user's
//! connection) runs clean on the three Python model APIs in their auth mode, and the
//! server counts exactly one login per user. The cookie jar alone authorizes a user, and
//! `cookies = false` turns it off. Bad input: a capture that never matches is a counted
//! failure with its message and the user logs in again after a pause (no storm); a
//! redirect loop ends as `too_many_redirects`; an unknown `{user.NAME}` stops blast at
//! load time; `--cookies` and `--follow` do the same for plain runs.
mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::python::PyServer;
use support::{blast, count, errors_of, no_errors, run_blast, task, url, Reply, Scratch, Server};

/// Users of each flow run, and how long it runs.
const USERS: u64 = 4;
const RUN: &str = "3s";

fn stats(server: &PyServer) -> Value {
    let (status, doc) = server.request("GET", "/stats", None);
    assert_eq!(status, 200, "{}: /stats answered {doc}", server.framework);
    doc
}

fn context(server: &PyServer, r: &Value, out: &std::process::Output) -> String {
    format!(
        "{}: blast exit {:?}; stderr:\n{}\nserver stderr:\n{}\nreport:\n{r:#}",
        server.framework,
        out.status,
        String::from_utf8_lossy(&out.stderr),
        server.stderr_text()
    )
}

/// Runs scenario `file` against `server` for [`RUN`] with [`USERS`] users.
fn run(server: &PyServer, file: &str, extra: &[&str]) -> (Value, String) {
    let host = server.host();
    let users = USERS.to_string();
    let mut args = vec![
        "-s", file, "--host", &host, "-d", RUN, "-u", &users, "-c", "1",
    ];
    args.extend_from_slice(extra);
    let (r, out) = run_blast(&args);
    let ctx = context(server, &r, &out);
    assert!(out.status.success(), "{ctx}");
    (r, ctx)
}

fn check_login_token(framework: &'static str) {
    let _g = support::shared();
    let server = PyServer::start_with(framework, &[("AUTH", "1")]);
    let (r, ctx) = run(&server, "scenarios/login-token.toml", &[]);
    assert!(no_errors(&r), "{ctx}");
    for row in r["tasks"].as_array().expect("tasks") {
        assert_eq!(count(row, "failures"), 0, "{ctx}");
    }
    assert_eq!(count(task(&r, "login"), "requests"), USERS, "{ctx}");
    assert!(count(task(&r, "predict"), "requests") >= USERS, "{ctx}");
    // The trailing-slash task was redirected (307) and counted once, with its final status.
    assert!(count(task(&r, "predict-slash"), "requests") >= 1, "{ctx}");
    assert!(r["status_codes"].get("307").is_none(), "{ctx}");
    let s = stats(&server);
    assert_eq!(
        s["logins"], USERS,
        "one login per user, server-side: {s}\n{ctx}"
    );
    assert_eq!(s["sessions_used"], USERS, "{s}\n{ctx}");
    assert_eq!(s["unauthorized"], 0, "{s}\n{ctx}");
}

#[test]
fn login_token_runs_clean_on_flask_with_one_login_per_user() {
    check_login_token("flask");
}

#[test]
fn login_token_runs_clean_on_fastapi_with_one_login_per_user() {
    check_login_token("fastapi");
}

#[test]
fn login_token_runs_clean_on_starlette_with_one_login_per_user() {
    check_login_token("starlette");
}

/// A login whose token is never used: only the `sid` cookie can authorize `/predict`.
fn cookie_only(cookies: &str) -> String {
    format!(
        r#"
wait = {{constant = 0.2}}
{cookies}
[on_start]
path = "/login"
method = "POST"

[[task]]
name = "predict"
path = "/predict"
body = {{age = 50, sex = 1, cp = 0, trestbps = 120, chol = 200, fbs = 0, restecg = 0, thalach = 150, exang = 0, oldpeak = 1.0, slope = 1, ca = 0, thal = 2}}
expect = {{status = 200}}
"#
    )
}

#[test]
fn the_cookie_jar_alone_keeps_a_user_logged_in_and_can_be_turned_off() {
    let _g = support::shared();
    let scratch = Scratch::new("flows-cookies");
    let server = PyServer::start_with("fastapi", &[("AUTH", "1")]);
    let on = scratch.file("on.toml");
    std::fs::write(&on, cookie_only("")).unwrap();
    let (r, ctx) = run(&server, &on, &[]);
    assert!(no_errors(&r), "{ctx}");
    assert!(count(task(&r, "predict"), "requests") > USERS, "{ctx}");
    assert_eq!(count(task(&r, "predict"), "failures"), 0, "{ctx}");
    let off = scratch.file("off.toml");
    std::fs::write(&off, cookie_only("cookies = false")).unwrap();
    let (r, ctx) = run(&server, &off, &[]);
    let predict = task(&r, "predict");
    assert!(count(predict, "requests") > 0, "{ctx}");
    assert_eq!(
        count(predict, "failures"),
        count(predict, "requests"),
        "{ctx}"
    );
    assert_eq!(
        r["status_codes"]["401"],
        count(predict, "requests"),
        "{ctx}"
    );
}

#[test]
fn a_capture_that_never_matches_fails_the_login_and_retries_after_a_pause() {
    let _g = support::shared();
    let scratch = Scratch::new("flows-capture");
    let server = PyServer::start_with("fastapi", &[("AUTH", "1")]);
    // No think time at all: without the pause after a failed login this is a tight loop.
    let file = scratch.file("miss.toml");
    std::fs::write(
        &file,
        r#"
[on_start]
name = "login"
path = "/login"
method = "POST"
capture = {token = "json:/no_such_field"}

[[task]]
name = "predict"
path = "/predict"
headers = {Authorization = "Bearer {user.token}"}
body = {}
"#,
    )
    .unwrap();
    let (r, ctx) = run(&server, &file, &[]);
    let login = task(&r, "login");
    let tries = count(login, "requests");
    assert!(tries >= 1, "{ctx}");
    // 3 s with a 1 s pause after each failure: at most 4 tries per user.
    assert!(tries <= USERS * 4, "a login storm: {tries} logins\n{ctx}");
    assert_eq!(count(login, "failures"), tries, "{ctx}");
    assert_eq!(count(task(&r, "predict"), "requests"), 0, "{ctx}");
    let failures = r.to_string();
    assert!(
        failures.contains("capture `token` (json:/no_such_field): not found in the response body"),
        "{ctx}"
    );
    // The server saw those, and at most one more per user (in flight when the run ended).
    let logins = stats(&server)["logins"].as_u64().expect("logins");
    assert!(
        (tries..=tries + USERS).contains(&logins),
        "{logins} logins\n{ctx}"
    );
}

/// A server whose every answer redirects to itself.
fn redirect_loop() -> Server {
    Server::start(|_| {
        Reply::Send(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n".to_vec())
    })
}

#[test]
fn a_redirect_loop_ends_as_too_many_redirects() {
    let _g = support::shared();
    let server = redirect_loop();
    let target = url(server.addr, "/start");
    let (r, out) = run_blast(&[&target, "--follow", "3", "-n", "5", "-u", "1", "-c", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(errors_of(&r, "too_many_redirects"), 5, "{stderr}\n{r:#}");
    // Each request is the first one and 3 hops, all on one connection.
    assert_eq!(server.requests(), 5 * 4, "{r:#}");
    assert_eq!(server.accepted(), 1, "{r:#}");
    // A scenario follows 5 by default; a task may say otherwise.
    let scratch = Scratch::new("flows-loop");
    let file = scratch.file("loop.toml");
    std::fs::write(&file, "[[task]]\nname = \"loop\"\npath = \"/\"\n[[task]]\nname = \"once\"\npath = \"/\"\nfollow_redirects = 1\n").unwrap();
    let before = server.requests();
    let (r, out) = run_blast(&[
        "-s",
        &file,
        "--host",
        &url(server.addr, "/"),
        "-n",
        "40",
        "-u",
        "1",
        "-c",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(errors_of(&r, "too_many_redirects"), 40, "{stderr}\n{r:#}");
    let (looped, once) = (
        count(task(&r, "loop"), "requests"),
        count(task(&r, "once"), "requests"),
    );
    assert_eq!(looped + once, 40, "{r:#}");
    assert_eq!(server.requests() - before, looped * 6 + once * 2, "{r:#}");
    // Without --follow a plain run counts the 302 itself.
    let (r, _) = run_blast(&[&target, "-n", "3", "-u", "1", "-c", "1"]);
    assert_eq!(r["status_codes"]["302"], 3, "{r:#}");
}

#[test]
fn an_unknown_user_value_stops_blast_at_load_time() {
    let scratch = Scratch::new("flows-unknown");
    let path = scratch.file("unknown.toml");
    std::fs::write(
        &path,
        "[on_start]\npath = \"/login\"\ncapture = {token = \"json:/t\"}\n\n[[task]]\npath = \"/\"\nheaders = {Authorization = \"Bearer {user.tokn}\"}\n",
    )
    .unwrap();
    let out = blast(&["-s", &path, "--host", "http://127.0.0.1:9", "-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&format!("{path}:7:28: ")), "{stderr}");
    assert!(
        stderr.contains("uses {user.tokn} but no task captures `tokn` (captured: token)"),
        "{stderr}"
    );
}

/// A keep-alive server that sets `n=1` on its first answer per connection and counts the
/// requests that send it back.
struct CookieServer {
    addr: std::net::SocketAddr,
    with_cookie: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl CookieServer {
    fn start() -> CookieServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let with_cookie = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, done) = (Arc::clone(&with_cookie), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let (mut buf, mut chunk, mut first) = (Vec::new(), [0u8; 4096], true);
                    while let Ok(n @ 1..) = stream.read(&mut chunk) {
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_string();
                            buf.drain(..end + 4);
                            if head.lines().any(|l| l == "Cookie: n=1") {
                                seen.fetch_add(1, Ordering::SeqCst);
                            }
                            let set = if std::mem::take(&mut first) {
                                "Set-Cookie: n=1; Path=/\r\n"
                            } else {
                                ""
                            };
                            let reply =
                                format!("HTTP/1.1 200 OK\r\n{set}Content-Length: 2\r\n\r\nok");
                            if stream.write_all(reply.as_bytes()).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        CookieServer {
            addr,
            with_cookie,
            stop,
        }
    }
}

impl Drop for CookieServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

#[test]
fn plain_runs_keep_cookies_only_with_the_flag() {
    let _g = support::shared();
    for (flag, want) in [(Some("--cookies"), 9), (None, 0)] {
        let server = CookieServer::start();
        let target = url(server.addr, "/a/b");
        let mut args = vec![target.as_str(), "-n", "10", "-u", "1", "-c", "1"];
        args.extend(flag);
        let (r, out) = run_blast(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            server.with_cookie.load(Ordering::SeqCst),
            want,
            "{flag:?}: {r:#}"
        );
    }
}

#[test]
fn a_plain_run_follows_the_frameworks_trailing_slash_redirect() {
    let _g = support::shared();
    let server = PyServer::start("starlette");
    let target = format!("{}/predict/", server.host());
    let body = r#"{"age":50,"sex":1,"cp":0,"trestbps":120,"chol":200,"fbs":0,"restecg":0,"thalach":150,"exang":0,"oldpeak":1.0,"slope":1,"ca":0,"thal":2}"#;
    let (r, out) = run_blast(&[
        &target, "-b", body, "--follow", "1", "-n", "20", "-u", "2", "-c", "1",
    ]);
    let ctx = context(&server, &r, &out);
    assert!(no_errors(&r), "{ctx}");
    assert_eq!(r["status_codes"]["200"], 20, "{ctx}");
}

/// A keep-alive server that answers each request head with `reply(head)` and keeps every
/// head it read (request line and fields), for redirects between servers.
struct HeadServer {
    addr: std::net::SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    accepted: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl HeadServer {
    fn start(reply: impl Fn(&str) -> String + Send + Sync + 'static) -> HeadServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (heads, accepted) = (Arc::default(), Arc::new(AtomicU64::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let reply = Arc::new(reply);
        let (seen, count, done) = (Arc::clone(&heads), Arc::clone(&accepted), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let (seen, reply): (Arc<Mutex<Vec<String>>>, _) =
                    (Arc::clone(&seen), Arc::clone(&reply));
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
                    while let Ok(n @ 1..) = stream.read(&mut chunk) {
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_string();
                            buf.drain(..end + 4);
                            let answer = reply(&head);
                            seen.lock().unwrap().push(head);
                            if stream.write_all(answer.as_bytes()).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        HeadServer {
            addr,
            heads,
            accepted,
            stop,
        }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for HeadServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

fn redirect_to(status: u16, location: &str) -> String {
    format!("HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
}

fn ok_reply() -> String {
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_owned()
}

/// How long the other origin takes to answer: the task's latency must include it.
const ELSEWHERE_DELAY: Duration = Duration::from_millis(30);

#[test]
fn a_redirect_to_another_port_is_followed_there_and_the_users_connection_stays() {
    let _g = support::shared();
    let there = HeadServer::start(|_| {
        std::thread::sleep(ELSEWHERE_DELAY);
        ok_reply()
    });
    let location = format!("http://{}/final?x=1", there.addr);
    let here = HeadServer::start(move |_| redirect_to(302, &location));
    let target = url(here.addr, "/start");
    let (r, out) = run_blast(&[&target, "--follow", "2", "-n", "6", "-u", "1", "-c", "1"]);
    let ctx = format!("{}\n{r:#}", String::from_utf8_lossy(&out.stderr));
    assert!(no_errors(&r), "{ctx}");
    assert_eq!(r["status_codes"]["200"], 6, "{ctx}");
    assert!(r["status_codes"]["302"].is_null(), "{ctx}");
    let min_ms = r["latency_ms"]["min"].as_f64().unwrap();
    assert!(min_ms >= ELSEWHERE_DELAY.as_secs_f64() * 1000.0, "{ctx}");
    // The user's own connection carried every task; each hop went to the other port.
    assert_eq!((here.heads().len(), here.accepted()), (6, 1), "{ctx}");
    let heads = there.heads();
    assert_eq!(heads.len(), 6, "{ctx}");
    let host = format!("Host: {}", there.addr);
    for head in &heads {
        assert!(head.starts_with("GET /final?x=1 HTTP/1.1\r\n"), "{head}");
        assert_eq!(
            head.lines().filter(|l| l.starts_with("Host:")).count(),
            1,
            "{head}"
        );
        assert!(head.lines().any(|l| l == host), "{head}");
    }
}

#[test]
fn a_chain_that_comes_back_to_the_target_uses_the_users_own_connection() {
    let _g = support::shared();
    let back = Arc::new(Mutex::new(String::new()));
    let to_back = Arc::clone(&back);
    let there = HeadServer::start(move |_| redirect_to(307, &to_back.lock().unwrap()));
    let location = format!("http://{}/x", there.addr);
    let here = HeadServer::start(move |head| match head.starts_with("GET /back ") {
        true => ok_reply(),
        false => redirect_to(307, &location),
    });
    *back.lock().unwrap() = format!("http://{}/back", here.addr);
    let (r, out) = run_blast(&[
        &url(here.addr, "/start"),
        "--follow",
        "3",
        "-n",
        "4",
        "-u",
        "1",
        "-c",
        "1",
    ]);
    let ctx = format!("{}\n{r:#}", String::from_utf8_lossy(&out.stderr));
    assert!(no_errors(&r), "{ctx}");
    assert_eq!(r["status_codes"]["200"], 4, "{ctx}");
    assert_eq!(there.heads().len(), 4, "{ctx}");
    let heads = here.heads();
    assert_eq!((heads.len(), here.accepted()), (8, 1), "{ctx}");
    let host = format!("Host: {}", here.addr);
    for head in heads.iter().filter(|h| h.starts_with("GET /back ")) {
        assert!(head.lines().any(|l| l == host), "{head}");
    }
}

#[test]
fn a_redirect_to_a_closed_port_is_a_counted_error_and_the_run_goes_on() {
    let _g = support::shared();
    let location = format!("http://{}/", support::dead_port());
    let here = HeadServer::start(move |_| redirect_to(302, &location));
    let (r, out) = run_blast(&[
        &url(here.addr, "/start"),
        "--follow",
        "3",
        "-n",
        "5",
        "-u",
        "1",
        "-c",
        "1",
    ]);
    let ctx = format!("{}\n{r:#}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(errors_of(&r, "connect_refused"), 5, "{ctx}");
    assert_eq!(r["errors"].as_object().map(|m| m.len()), Some(1), "{ctx}");
    assert_eq!((here.heads().len(), here.accepted()), (5, 1), "{ctx}");
}
