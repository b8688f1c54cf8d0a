//! The engine end to end: the real `blast` binary against scripted loopback servers that
//! answer well, oddly or badly. Each test checks what the JSON report says against what the
//! server saw, and every run is bounded (`-d 1s` or `-n N`) so the suite stays fast.

mod support;

use std::time::Duration;

use support::{
    dead_port, errors_of, exclusive, fast_target, no_errors, ok_response, run_blast, shared, uint,
    url, Batching, Reply, Server,
};

/// Pipeline depth used to check that depth K puts K requests on the wire.
const DEPTH: usize = 8;

fn assert_exit_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "blast failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn keep_alive_reuses_connections() {
    let _g = shared();
    let server = Server::start(|_| Reply::Send(ok_response("ok")));
    let target = url(server.addr, "/");
    let (r, out) = run_blast(&[&target, "-c", "1", "-u", "4", "-d", "1s"]);
    assert_exit_ok(&out);
    assert!(no_errors(&r), "{r:#}");
    assert_eq!(uint(&r, "connections_opened"), 4, "{r:#}");
    assert_eq!(server.accepted(), 4);
    assert!(uint(&r, "requests") > 100, "{r:#}");
    assert_eq!(uint(&r, "body_bytes"), uint(&r, "requests") * 2);
}

#[test]
fn pipelining_depth_k_puts_k_requests_in_flight() {
    let _g = shared();
    let batching = Batching {
        size: DEPTH,
        wait: Duration::from_millis(500),
    };
    let server = Server::with_batching(batching, |_| Reply::Send(ok_response("ok")));
    let target = url(server.addr, "/");
    let n = (DEPTH * 8).to_string();
    let depth = DEPTH.to_string();
    let (r, out) = run_blast(&[&target, "-c", "1", "-u", "1", "-p", &depth, "-n", &n]);
    assert_exit_ok(&out);
    assert!(no_errors(&r), "{r:#}");
    assert_eq!(uint(&r, "requests"), (DEPTH * 8) as u64);
    assert_eq!(server.max_batch(), DEPTH);
}

#[test]
fn pipelining_depth_1_keeps_one_request_in_flight() {
    let _g = shared();
    // The server holds each request 100 ms hoping for more: none may come at depth 1.
    let batching = Batching {
        size: DEPTH,
        wait: Duration::from_millis(100),
    };
    let server = Server::with_batching(batching, |_| Reply::Send(ok_response("ok")));
    let target = url(server.addr, "/");
    let (r, out) = run_blast(&[&target, "-c", "1", "-u", "1", "-p", "1", "-n", "5"]);
    assert_exit_ok(&out);
    assert!(no_errors(&r), "{r:#}");
    assert_eq!(uint(&r, "requests"), 5);
    assert_eq!(server.max_batch(), 1);
}

#[test]
fn chunked_bodies_are_decoded() {
    let _g = shared();
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n";
    const BODY_LEN: u64 = 11;
    let server = Server::start(|_| Reply::Send(RESPONSE.to_vec()));
    let target = url(server.addr, "/");
    let (r, out) = run_blast(&[&target, "-c", "1", "-u", "2", "-n", "200"]);
    assert_exit_ok(&out);
    assert!(no_errors(&r), "{r:#}");
    assert_eq!(uint(&r, "requests"), 200);
    assert_eq!(uint(&r, "body_bytes"), 200 * BODY_LEN, "{r:#}");
    assert_eq!(
        server.accepted(),
        2,
        "chunked responses keep the connection"
    );
}

/// Responses after which the server closes; blast must take them as complete, not as errors.
const CLOSING_RESPONSES: &[(&str, &str, u64)] = &[
    (
        "connection_close",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        5,
    ),
    (
        "http_1_0",
        "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        5,
    ),
    (
        "read_until_close",
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close",
        11,
    ),
];

fn check_closing_response(name: &str, response: &'static str, body_len: u64) {
    let server = Server::start(move |_| Reply::SendClose(response.as_bytes().to_vec()));
    let target = url(server.addr, "/");
    let (r, out) = run_blast(&[&target, "-c", "1", "-u", "2", "-n", "50"]);
    assert_exit_ok(&out);
    assert!(no_errors(&r), "{name}: {r:#}");
    let requests = uint(&r, "requests");
    assert_eq!(requests, 50, "{name}: {r:#}");
    assert_eq!(uint(&r, "body_bytes"), requests * body_len, "{name}: {r:#}");
    assert!(uint(&r, "connections_opened") >= requests, "{name}: {r:#}");
    assert_eq!(server.accepted(), uint(&r, "connections_opened"), "{name}");
}

#[test]
fn connection_close_is_honoured() {
    let _g = shared();
    let (name, response, len) = CLOSING_RESPONSES[0];
    check_closing_response(name, response, len);
}

#[test]
fn http_1_0_response_closes() {
    let _g = shared();
    let (name, response, len) = CLOSING_RESPONSES[1];
    check_closing_response(name, response, len);
}

#[test]
fn read_until_close_body() {
    let _g = shared();
    let (name, response, len) = CLOSING_RESPONSES[2];
    check_closing_response(name, response, len);
}

/// A response head one byte past what blast accepts, in a single header line.
fn oversized_head() -> Vec<u8> {
    let pad = "a".repeat(blast::http::MAX_HEAD_BYTES);
    format!("HTTP/1.1 200 OK\r\nX-Pad: {pad}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

/// A malformed-response case: the reply and the error kind blast must name it by.
struct Malformed {
    kind: &'static str,
    reply: fn() -> Reply,
    extra: &'static [&'static str],
}

const MALFORMED: &[Malformed] = &[
    Malformed {
        kind: "invalid_head",
        reply: || Reply::Send(b"\x00\x01garbage that is not HTTP\r\n\r\n".to_vec()),
        extra: &[],
    },
    Malformed {
        kind: "head_too_large",
        reply: || Reply::Send(oversized_head()),
        extra: &[],
    },
    Malformed {
        kind: "invalid_chunk_size",
        reply: || {
            Reply::Send(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n".to_vec(),
            )
        },
        extra: &[],
    },
    Malformed {
        kind: "truncated",
        reply: || {
            Reply::SendClose(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec())
        },
        extra: &[],
    },
    Malformed {
        kind: "timeout",
        reply: || Reply::Silent,
        extra: &["--timeout", "200ms"],
    },
];

/// Requests sent per malformed case (each fails, is counted, and its connection replaced).
const MALFORMED_REQUESTS: u64 = 4;

fn check_malformed(case: &Malformed) {
    let reply = case.reply;
    let server = Server::start(move |_| reply());
    let target = url(server.addr, "/");
    let n = MALFORMED_REQUESTS.to_string();
    let mut args = vec![target.as_str(), "-c", "1", "-u", "1", "-n", &n];
    args.extend_from_slice(case.extra);
    let started = std::time::Instant::now();
    let (r, out) = run_blast(&args);
    assert_exit_ok(&out);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{}: took {:?}",
        case.kind,
        started.elapsed()
    );
    assert_eq!(uint(&r, "requests"), 0, "{}: {r:#}", case.kind);
    assert_eq!(
        errors_of(&r, case.kind),
        MALFORMED_REQUESTS,
        "{}: {r:#}",
        case.kind
    );
    assert_eq!(
        uint(&r, "errors_total"),
        MALFORMED_REQUESTS,
        "{}: {r:#}",
        case.kind
    );
    assert_eq!(
        server.accepted(),
        MALFORMED_REQUESTS,
        "{}: one connection per failure",
        case.kind
    );
}

#[test]
fn garbage_response_is_invalid_head() {
    let _g = shared();
    check_malformed(&MALFORMED[0]);
}

#[test]
fn oversized_head_is_head_too_large() {
    let _g = shared();
    check_malformed(&MALFORMED[1]);
}

#[test]
fn bad_chunk_size_is_invalid_chunk_size() {
    let _g = shared();
    check_malformed(&MALFORMED[2]);
}

#[test]
fn short_body_then_close_is_truncated() {
    let _g = shared();
    check_malformed(&MALFORMED[3]);
}

#[test]
fn silent_server_is_timeout() {
    let _g = shared();
    check_malformed(&MALFORMED[4]);
}

#[test]
fn server_closing_connections_triggers_reconnects() {
    let _g = shared();
    const PER_CONNECTION: u64 = 3;
    let server = Server::start(|n| {
        if n < PER_CONNECTION {
            Reply::Send(ok_response("ok"))
        } else {
            Reply::Close
        }
    });
    let target = url(server.addr, "/");
    let (r, out) = run_blast(&[&target, "-c", "1", "-u", "1", "-n", "40"]);
    assert_exit_ok(&out);
    let requests = uint(&r, "requests");
    let opened = uint(&r, "connections_opened");
    assert!(opened > 1, "{r:#}");
    assert!(requests > PER_CONNECTION, "{r:#}");
    // Every 4th request, sent right behind the 3rd, finds the connection closing under it:
    // the server refused it, an error (only a request sent after an idle spell is retried).
    assert_eq!(requests + uint(&r, "errors_total"), 40, "{r:#}");
    assert_eq!(requests, PER_CONNECTION * 10, "{r:#}");
    assert_eq!(uint(&r, "retried_stale"), 0, "{r:#}");
    assert_eq!(server.accepted(), opened);
}

#[test]
fn dead_target_still_reports() {
    let _g = shared();
    let target = url(dead_port(), "/");
    let (r, out) = run_blast(&[&target, "-c", "1", "-u", "2", "-d", "1s"]);
    assert_exit_ok(&out);
    assert_eq!(uint(&r, "requests"), 0, "{r:#}");
    assert!(errors_of(&r, "connect_refused") > 0, "{r:#}");
    assert_eq!(uint(&r, "connections_opened"), 0, "{r:#}");
    // The first message of the kind is the system's, with the address it was said of.
    let first = r["connections"]["first_errors"]["connect_refused"]
        .as_str()
        .unwrap_or_else(|| panic!("no first message: {r:#}"));
    let addr = target.trim_start_matches("http://").trim_end_matches('/');
    assert!(
        first.starts_with(addr) && first.contains("refused"),
        "{first}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("first connect_refused: {first}")),
        "{text}"
    );
}

#[test]
fn both_drivers_run() {
    let _g = shared();
    let target = url(fast_target(), "/health");
    for (flag, prefix) in [("epoll", "epoll"), ("uring", "io_uring")] {
        let (r, out) = run_blast(&[&target, "-c", "1", "-u", "2", "-n", "100", "--driver", flag]);
        assert_exit_ok(&out);
        let driver = r["driver"].as_str().unwrap_or_default();
        assert!(driver.starts_with(prefix), "--driver {flag}: {r:#}");
        assert_eq!(uint(&r, "requests"), 100, "--driver {flag}: {r:#}");
        assert!(no_errors(&r), "--driver {flag}: {r:#}");
    }
}

#[test]
fn open_model_rate_is_met() {
    let _g = exclusive();
    const RATE: f64 = 2000.0;
    let target = url(fast_target(), "/health");
    let (r, out) = run_blast(&[&target, "-R", "2000", "-d", "3s", "-u", "20", "-c", "1"]);
    assert_exit_ok(&out);
    assert!(no_errors(&r), "{r:#}");
    assert_eq!(r["target_rate"].as_f64(), Some(RATE), "{r:#}");
    let rps = r["rps"].as_f64().expect("rps");
    assert!((rps - RATE).abs() <= RATE * 0.02, "rps {rps}: {r:#}");
    assert!(r["late_requests"].is_u64(), "{r:#}");
}

#[test]
fn requests_count_is_exact() {
    let _g = shared();
    let target = url(fast_target(), "/health");
    let (r, out) = run_blast(&[&target, "-c", "1", "-u", "5", "-n", "500"]);
    assert_exit_ok(&out);
    assert!(no_errors(&r), "{r:#}");
    assert_eq!(uint(&r, "requests"), 500, "{r:#}");
    assert_eq!(uint(&r, "sent"), 500, "{r:#}");
}

#[test]
fn cores_more_than_available_are_clamped() {
    let _g = shared();
    let target = url(fast_target(), "/health");
    let (r, out) = run_blast(&[&target, "-c", "64", "-u", "64", "-n", "200"]);
    assert_exit_ok(&out);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    assert!(uint(&r, "workers") <= cpus, "{r:#}");
    let notes = r["notes"].to_string();
    assert!(notes.contains("64 cores asked"), "{r:#}");
    assert_eq!(uint(&r, "requests"), 200, "{r:#}");
}

/// Responses that end at their head whatever their Content-Length says, by request method.
const BODILESS: &[(&str, &str)] = &[
    ("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
    (
        "GET",
        "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
    ),
    (
        "GET",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
    ),
];

#[test]
fn bodiless_responses_end_at_their_head() {
    let _g = shared();
    for &(method, response) in BODILESS {
        let server = Server::start(move |_| Reply::Send(response.as_bytes().to_vec()));
        let target = url(server.addr, "/");
        let args = [
            &target,
            "-c",
            "1",
            "-u",
            "1",
            "-n",
            "20",
            "-m",
            method,
            "--timeout",
            "1s",
        ];
        let (r, out) = run_blast(&args);
        assert_exit_ok(&out);
        assert!(no_errors(&r), "{method} {response:?}: {r:#}");
        assert_eq!(uint(&r, "requests"), 20, "{method} {response:?}: {r:#}");
        assert_eq!(uint(&r, "body_bytes"), 0, "{method} {response:?}: {r:#}");
        assert_eq!(server.accepted(), 1, "{method} {response:?}");
    }
}

#[test]
fn interim_1xx_responses_are_skipped() {
    let _g = shared();
    const RESPONSE: &[u8] =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let server = Server::start(|_| Reply::Send(RESPONSE.to_vec()));
    let target = url(server.addr, "/");
    let (r, out) = run_blast(&[&target, "-c", "1", "-u", "1", "-n", "20"]);
    assert_exit_ok(&out);
    assert!(no_errors(&r), "{r:#}");
    assert_eq!(uint(&r, "requests"), 20, "{r:#}");
    assert_eq!(uint(&r, "body_bytes"), 40, "{r:#}");
    assert_eq!(r["status_codes"]["200"].as_u64(), Some(20), "{r:#}");
}

/// Pipelined requests behind a response that ends the connection: (reply, kinds expected
/// per connection with their counts, responses per connection).
type PipelineFailure = (fn() -> Reply, &'static [(&'static str, u64)], u64);

const PIPELINE_FAILURES: &[PipelineFailure] = &[
    (
        || {
            Reply::SendClose(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_vec(),
            )
        },
        &[("unanswered", 3)],
        1,
    ),
    (
        || Reply::Send(b"garbage\r\n\r\n".to_vec()),
        &[("invalid_head", 1), ("unanswered", 3)],
        0,
    ),
];

#[test]
fn pipelined_requests_behind_a_failure_are_unanswered() {
    let _g = shared();
    const CONNECTIONS: u64 = 2;
    let depth = 4u64;
    for &(reply, kinds, answered) in PIPELINE_FAILURES {
        // Read all four before answering, so each connection carries exactly one batch.
        let batching = Batching {
            size: depth as usize,
            wait: Duration::from_millis(300),
        };
        let server = Server::with_batching(batching, move |_| reply());
        let target = url(server.addr, "/");
        let n = (depth * CONNECTIONS).to_string();
        let (r, out) = run_blast(&[&target, "-c", "1", "-u", "1", "-p", "4", "-n", &n]);
        assert_exit_ok(&out);
        assert_eq!(uint(&r, "requests"), answered * CONNECTIONS, "{r:#}");
        for &(kind, count) in kinds {
            assert_eq!(errors_of(&r, kind), count * CONNECTIONS, "{kind}: {r:#}");
        }
        assert_eq!(server.max_batch(), depth as usize, "{r:#}");
        assert_eq!(uint(&r, "connections_opened"), CONNECTIONS, "{r:#}");
    }
}

#[test]
fn dead_target_with_a_request_count_ends_instead_of_retrying_forever() {
    let _g = shared();
    let addr = dead_port();
    let (report, out) = run_blast(&["-n", "20", "-u", "4", "-c", "1", &url(addr, "/")]);
    assert!(out.status.success());
    assert_eq!(uint(&report, "requests"), 0);
    assert_eq!(errors_of(&report, "connect_refused"), 20, "{report:#}");
}

#[test]
fn ctrl_c_stops_the_run_and_still_writes_the_report() {
    let _g = shared();
    let target = fast_target();
    let json = std::env::temp_dir().join(format!("blast-sigint-{}.json", std::process::id()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_blast"))
        .args(["-d", "60s", "-u", "4", "-c", "1", "--quiet", "--json"])
        .arg(&json)
        .arg(url(target, "/health"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "blast ignored Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["interrupted"], true);
    assert!(uint(&report, "requests") > 0);
    assert!(report["duration_s"].as_f64().unwrap() < 10.0, "{report:#}");
}

#[test]
fn fail_on_gates_pass_breach_and_reject_malformed_expressions() {
    let _g = shared();
    let target = url(fast_target(), "/health");
    let base = ["-n", "300", "-u", "4", "-c", "1"];
    let run = |gates: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        for g in gates {
            args.extend(["--fail-on", g]);
        }
        args.push(&target);
        run_blast(&args).1
    };
    let pass = run(&["p99<10s", "failures<1%", "rps>=1"]);
    assert_eq!(
        pass.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pass.stderr)
    );
    let breach = run(&["p50<1us", "rps>=1", "task:/health:rps>=100000000"]);
    assert_eq!(breach.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&breach.stderr);
    assert!(stderr.contains("gate failed: p50<1us"), "{stderr}");
    assert!(
        stderr.contains("gate failed: task:/health:rps>=100000000"),
        "{stderr}"
    );
    assert!(!stderr.contains("gate failed: rps>=1"), "{stderr}");
    let malformed = std::process::Command::new(env!("CARGO_BIN_EXE_blast"))
        .args(["--fail-on", "p99 fast", &target])
        .output()
        .unwrap();
    assert_eq!(malformed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("invalid gate"));
}

/// Regression: a finished run left the sockets of users waiting on a silent server open (the
/// runtime does not drop tasks parked on I/O), so the next run in the same process (as
/// `blast limit` makes them) found a one-connection-at-a-time server still blocked on them.
#[test]
fn a_finished_run_closes_every_connection_it_opened() {
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let _g = shared();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    {
        let (open, accepted) = (open.clone(), accepted.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(64) {
                let Ok(mut s) = stream else { return };
                open.fetch_add(1, Ordering::SeqCst);
                accepted.fetch_add(1, Ordering::SeqCst);
                let open = open.clone();
                // Reads and never answers; the connection counts as open until EOF.
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                    let mut buf = [0u8; 4096];
                    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }
    for (rate, users) in [(None, 8), (Some(200.0), 8)] {
        let input = blast::plan::PlanInput {
            url: Some(url(addr, "/")),
            users: Some(users),
            rate,
            cores: Some(1),
            duration: Some(Duration::from_millis(500)),
            quiet: true,
            ..Default::default()
        };
        let plan = Arc::new(blast::plan::Plan::build(input, &[0]).unwrap());
        let r = blast::coordinator::run(plan, Arc::new(AtomicBool::new(false)));
        assert!(r.totals.sent > 0, "requests were sent");
        let deadline = Instant::now() + Duration::from_secs(2);
        while open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            open.load(Ordering::SeqCst),
            0,
            "rate {rate:?}: {} of {} connections still open after the run",
            open.load(Ordering::SeqCst),
            accepted.load(Ordering::SeqCst)
        );
    }
}
