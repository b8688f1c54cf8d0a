//! Hostile conditions around the parser, each pinned by a regression test named after it:
//! a failing server must not be hammered (think time holds after errors), and a keep-alive
//! connection the server closed while the user thought is reconnected, not failed.
mod support;

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

#[test]
fn a_stale_idempotent_request_is_sent_again_once_and_not_failed() {
    let _g = shared();
    let dir = Scratch::new("stale-retry");
    let server = closes_idle_connections();
    // No think time: the next GET races the server's close; the ones that lose are re-sent.
    let file = scenario(&dir, "GET", "");
    let r = run(&file, &server, &["-u", "4", "-d", "1s"]);
    assert!(uint(&r, "requests") > 50, "{r:#}");
    assert!(support::no_errors(&r), "{r:#}");
    assert!(
        uint(&r, "retried_stale") > 0,
        "nothing found a stale connection: {r:#}"
    );
}

#[test]
fn a_stale_post_is_not_sent_again() {
    let _g = shared();
    let dir = Scratch::new("stale-post");
    let server = closes_idle_connections();
    let file = scenario(&dir, "POST", "");
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
