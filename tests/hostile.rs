//! Hostile conditions around the parser, each pinned by a regression test named after it:
//! a failing server must not be hammered (think time holds after errors), and a keep-alive
//! connection the server closed while the user thought is reconnected, not failed.
mod support;

use std::io::Write;

use serde_json::Value;
use support::{errors_of, ok_response, run_blast, shared, uint, url, Reply, Scratch, Server};

/// A scenario of one GET (or `method`) task with `wait` as think time.
fn scenario(dir: &Scratch, method: &str, wait: &str) -> String {
    let path = dir.file("s.toml");
    let body = if method == "POST" {
        "body = {x = 1}\n"
    } else {
        ""
    };
    std::fs::write(
        &path,
        format!("{wait}\n[[task]]\nname = \"t\"\nmethod = \"{method}\"\npath = \"/t\"\n{body}"),
    )
    .unwrap();
    path
}

fn run(file: &str, server: &Server, extra: &[&str]) -> Value {
    let host = url(server.addr, "");
    let mut args = vec!["-s", file, "--host", &host, "-c", "1"];
    args.extend_from_slice(extra);
    let (r, out) = run_blast(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    r
}

#[test]
fn an_error_does_not_skip_the_think_time() {
    let _g = shared();
    let dir = Scratch::new("think-after-error");
    // Every connection is closed before an answer: each request fails with `closed`.
    let server = Server::start(|_| Reply::Close);
    let file = scenario(&dir, "GET", "wait = {between = [1, 2]}");
    let r = run(&file, &server, &["-u", "10", "-d", "2500ms"]);
    // 10 users, 1-2 s think time, 2.5 s: each sends at t=0 and at most twice more.
    let sent = uint(&r, "sent");
    assert!(sent >= 10, "every user tried: {sent}");
    assert!(
        sent <= 30,
        "{sent} requests in 2.5 s from 10 users thinking 1-2 s: errors skipped the think time"
    );
    assert_eq!(errors_of(&r, "closed"), sent, "each one failed: {r:#}");
}

#[test]
fn a_refused_connection_waits_its_think_time_too() {
    let _g = shared();
    let dir = Scratch::new("think-after-refused");
    let dead = support::dead_port();
    let file = scenario(&dir, "GET", "wait = {constant = 1}");
    let host = url(dead, "");
    let (r, _) = run_blast(&[
        "-s", &file, "--host", &host, "-c", "1", "-u", "5", "-d", "2500ms",
    ]);
    let refused = errors_of(&r, "connect_refused");
    // 5 users, 1 s think time plus backoff, 2.5 s: about 3 attempts each, never hundreds.
    assert!((5..=20).contains(&refused), "{refused} attempts: {r:#}");
}

/// A server that answers each request and then closes the connection without saying so
/// (no `Connection: close`): the client's next request finds it closed.
fn closes_idle_connections() -> Server {
    Server::start(|_| Reply::SendClose(ok_response("ok")))
}

#[test]
fn a_keep_alive_connection_closed_during_think_time_is_reconnected_not_failed() {
    let _g = shared();
    let dir = Scratch::new("stale-think");
    let server = closes_idle_connections();
    let file = scenario(&dir, "GET", "wait = {constant = 0.2}");
    let r = run(&file, &server, &["-u", "5", "-d", "2s"]);
    let responses = uint(&r, "requests");
    assert!(responses >= 20, "{responses} responses: {r:#}");
    assert!(
        support::no_errors(&r),
        "stale connections counted as errors: {r:#}"
    );
    assert!(
        server.accepted() >= responses,
        "every request had a fresh connection"
    );
}

/// A server that answers the first request of each connection and closes the connection
/// on reading the second without answering it.
fn closes_on_the_second_request() -> Server {
    Server::start(|n| match n {
        0 => Reply::Send(ok_response("ok")),
        _ => Reply::Close,
    })
}

#[test]
fn a_stale_idempotent_request_is_sent_again_once_and_not_failed() {
    let _g = shared();
    let dir = Scratch::new("stale-retry");
    let server = closes_on_the_second_request();
    // The peek after 100 ms of thinking finds the connection open; the request sent then is
    // refused by the close, and goes out again on a fresh connection.
    let file = scenario(&dir, "GET", "wait = {constant = 0.1}");
    let r = run(&file, &server, &["-u", "2", "-n", "12"]);
    assert_eq!(uint(&r, "sent"), 12, "{r:#}");
    assert_eq!(
        uint(&r, "requests"),
        12,
        "every retried request was answered: {r:#}"
    );
    assert!(support::no_errors(&r), "{r:#}");
    assert!(
        uint(&r, "retried_stale") > 0,
        "nothing found a stale connection: {r:#}"
    );
}

/// Found by fuzz/fuzz_targets/connection.rs: with `-n`, the last request found its
/// keep-alive connection closed and was counted `retried_stale`, but the budget was spent,
/// so the user stopped before re-sending it: sent 2, answered 1, failed 0.
#[test]
fn a_stale_retry_of_the_last_request_is_still_sent_when_the_budget_is_spent() {
    let _g = shared();
    let dir = Scratch::new("stale-last");
    // Each connection answers its first request, then closes on the second unanswered.
    let server = Server::start(|n| match n {
        0 => Reply::Send(ok_response("ok")),
        _ => Reply::Close,
    });
    // The second request leaves after 100 ms of thinking: a stale retry is allowed.
    let file = scenario(&dir, "GET", "wait = {constant = 0.1}");
    let r = run(&file, &server, &["-u", "1", "-n", "2"]);
    assert_eq!(uint(&r, "sent"), 2, "{r:#}");
    assert_eq!(uint(&r, "retried_stale"), 1, "{r:#}");
    assert_eq!(
        uint(&r, "requests"),
        2,
        "the retried request was answered: {r:#}"
    );
    assert!(support::no_errors(&r), "{r:#}");
}

/// The same, against a server gone by the retry: the carried request fails with the
/// refused connection attempt (and the run ends); it does not vanish.
#[test]
fn a_stale_retry_that_cannot_reconnect_fails_instead_of_vanishing() {
    let _g = shared();
    let dir = Scratch::new("stale-last-gone");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        read_heads(&mut c, 1);
        c.write_all(&ok_response("ok")).unwrap();
        read_heads(&mut c, 1);
        // The listener goes first, so the retry's connection attempt is refused.
        drop(listener);
    });
    let file = scenario(&dir, "GET", "wait = {constant = 0.1}");
    let host = url(addr, "");
    let (r, out) = run_blast(&[
        "-s", &file, "--host", &host, "-c", "1", "-u", "1", "-n", "2",
    ]);
    server.join().unwrap();
    assert!(out.status.code().is_some(), "blast ended: {out:?}");
    assert_eq!(uint(&r, "sent"), 2, "{r:#}");
    assert_eq!(uint(&r, "retried_stale"), 1, "{r:#}");
    assert_eq!(uint(&r, "requests"), 1, "{r:#}");
    assert_eq!(
        errors_of(&r, "connect_refused"),
        1,
        "the retried request failed: {r:#}"
    );
}

/// Reads from `c` until `n` request heads have arrived.
fn read_heads(c: &mut std::net::TcpStream, n: usize) {
    use std::io::Read;
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while seen.windows(4).filter(|w| w == b"\r\n\r\n").count() < n {
        let k = c.read(&mut buf).unwrap();
        assert!(k > 0, "the client closed early");
        seen.extend_from_slice(&buf[..k]);
    }
}

#[test]
fn a_stale_post_is_not_sent_again() {
    let _g = shared();
    let dir = Scratch::new("stale-post");
    let server = closes_on_the_second_request();
    let file = scenario(&dir, "POST", "wait = {constant = 0.1}");
    let r = run(&file, &server, &["-u", "2", "-d", "1s"]);
    let failed = errors_of(&r, "closed") + errors_of(&r, "connection_reset");
    assert!(
        failed > 0,
        "a POST into a closed connection is an error: {r:#}"
    );
    assert_eq!(uint(&r, "retried_stale"), 0, "{r:#}");
}

#[test]
fn a_server_that_closes_after_reading_the_request_is_still_an_error() {
    let _g = shared();
    let dir = Scratch::new("close-on-read");
    let server = Server::start(|_| Reply::Close);
    let file = scenario(&dir, "GET", "");
    let r = run(&file, &server, &["-u", "2", "-d", "500ms"]);
    assert!(errors_of(&r, "closed") > 0, "{r:#}");
    assert_eq!(
        uint(&r, "retried_stale"),
        0,
        "a fresh connection is never retried: {r:#}"
    );
}

// Reports that cannot be lost.

/// `blast ARGS` with `limits` (resource, soft = hard) set in the child before it runs.
fn blast_limited(
    args: &[&str],
    limits: &[(libc::__rlimit_resource_t, u64)],
) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let limits = limits.to_vec();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_blast"));
    cmd.args(args).stdin(std::process::Stdio::null());
    // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for &(res, n) in &limits {
                let lim = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(res, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.output().expect("running blast")
}

#[test]
fn an_unwritable_report_path_is_a_usage_error_before_any_load() {
    let _g = shared();
    let server = Server::start(|_| Reply::Send(ok_response("ok")));
    let target = url(server.addr, "/");
    let dir = Scratch::new("unwritable");
    let not_history = dir.file("notes.csv");
    // A directory that does not exist (not /nonexistent: some tools make that one).
    let missing = dir.file("missing-dir");
    let (json, prefix, html, csv) = (
        format!("{missing}/x.json"),
        format!("{missing}/prefix"),
        format!("{missing}/x.html"),
        format!("{missing}/c.csv"),
    );
    std::fs::write(&not_history, "a,b\n1,2\n").unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![&target, "-d", "1s", "--json", &json],
        vec![&target, "-d", "1s", "--csv", &prefix],
        vec![&target, "-d", "1s", "--html", &html],
        vec![&target, "-d", "1s", "--history", &not_history],
        vec!["limit", &target, "--step", "1s", "--json", &json],
        vec![
            "compare",
            "--target",
            "a=http://127.0.0.1:9/",
            "--target",
            "b=http://127.0.0.1:9/",
            "--csv",
            &csv,
        ],
    ];
    for args in cases {
        let out = support::blast(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("cannot"), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    }
    assert_eq!(server.requests(), 0, "nothing was sent");
}

#[test]
fn one_failed_report_does_not_stop_the_others() {
    let _g = shared();
    let server = Server::start(|_| Reply::Send(ok_response("ok")));
    let target = url(server.addr, "/");
    let dir = Scratch::new("one-fails");
    let doomed = std::path::PathBuf::from(dir.file("gone"));
    std::fs::create_dir_all(&doomed).unwrap();
    let html = doomed.join("r.html");
    let json = dir.file("r.json");
    let csv = dir.file("r");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_blast"))
        .args([
            &target,
            "-q",
            "-d",
            "1s",
            "--html",
            html.to_str().unwrap(),
            "--json",
            &json,
            "--csv",
            &csv,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The paths were fine when the run started; the HTML's directory goes away during it.
    std::thread::sleep(std::time::Duration::from_millis(400));
    std::fs::remove_dir_all(&doomed).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("writing") && err.contains("r.html"), "{err}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(uint(&r, "requests") > 0);
    assert!(
        std::path::Path::new(&format!("{csv}_stats.csv")).exists(),
        "the CSV after the failed HTML"
    );
}

#[test]
fn a_file_size_limit_leaves_the_old_report_whole() {
    let _g = shared();
    let server = Server::start(|_| Reply::Send(ok_response("ok")));
    let target = url(server.addr, "/");
    let dir = Scratch::new("fsize");
    let json = dir.file("r.json");
    std::fs::write(&json, "old report\n").unwrap();
    // A 1 s JSON report is several KB: the limit cuts it midway.
    let out = blast_limited(
        &[&target, "-q", "-d", "1s", "--json", &json],
        &[(libc::RLIMIT_FSIZE, 2048)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(
        std::fs::read_to_string(&json).unwrap(),
        "old report\n",
        "never a truncated file"
    );
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "no temporary left behind: {left:?}");
}

/// Regression: with `ulimit -n 1024` and `-u 20000` the run ended with "writing fd.json: Too
/// many open files": the workers' sockets were still open when the reports were written.
#[test]
fn reports_are_written_when_connections_took_every_descriptor() {
    let _g = support::exclusive();
    let server = Server::start(|_| Reply::Send(ok_response("ok")));
    let target = url(server.addr, "/");
    let dir = Scratch::new("emfile");
    let json = dir.file("fd.json");
    let out = blast_limited(
        &[
            &target, "-q", "-c", "1", "-u", "2000", "-d", "1s", "--json", &json,
        ],
        &[(libc::RLIMIT_NOFILE, 256)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        errors_of(&r, "connect_error") > 0,
        "the descriptors did run out: {r:#}"
    );
}

#[test]
fn compare_refuses_a_bad_target_before_measuring_any() {
    let _g = shared();
    let server = Server::start(|_| Reply::Send(ok_response("ok")));
    let good = format!("a={}", url(server.addr, "/"));
    let out = support::blast(&[
        "compare",
        "--target",
        &good,
        "--target",
        "b=http://[::1:9600/",
        "--step",
        "1s",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--target b"), "{err}");
    assert_eq!(server.requests(), 0, "the first target was not measured");
}
