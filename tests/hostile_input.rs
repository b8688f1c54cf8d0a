//! Bad and hostile input given to blast itself (issue 13 items 8–12, issue 14 item 8): each is
//! one clear line and exit code 2 before any load is sent, or is made harmless on the wire
//! and in the reports.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use support::{blast, fast_target, ok_response, run_blast, url, Scratch};

/// Usage errors exit with this code.
const USAGE: i32 = 2;
/// How long the recording server waits for blast's request.
const RECORD_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener that must never see a connection, and its address.
fn untouched_target() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = l.local_addr().unwrap();
    l.set_nonblocking(true).unwrap();
    (l, addr)
}

/// Runs blast with `args` and checks: exit code 2, exactly one line on stderr that contains
/// `reason`, no panic, and no connection to `target`.
fn assert_usage_error(args: &[&str], reason: &str, target: &TcpListener) {
    let out = blast(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(USAGE), "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got {stderr}"
    );
    assert!(stderr.contains(reason), "{args:?}: {stderr}");
    assert!(
        matches!(target.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "{args:?}: load was sent"
    );
}

/// Issue 13 item 8: `--users 18446744073709551615` panicked with "capacity overflow".
#[test]
fn huge_users_exit_2_before_any_load_instead_of_a_capacity_overflow() {
    let (l, addr) = untouched_target();
    let target = url(addr, "/");
    for users in ["18446744073709551615", "9223372036854775807", "1000001"] {
        let args = ["-q", "-d", "1s", "--users", users, &target];
        assert_usage_error(&args, "above the maximum of 1000000", &l);
    }
    let dir = Scratch::new("huge-users");
    let scenario = dir.file("s.toml");
    let body =
        format!("host = \"{target}\"\nusers = 9223372036854775807\n[[task]]\npath = \"/\"\n");
    std::fs::write(&scenario, body).unwrap();
    assert_usage_error(&["-q", "-d", "1s", "-s", &scenario], "users", &l);
}

/// Issue 13 item 10: each of these ran (port 0 even sent load) instead of being refused.
#[test]
fn zero_durations_port_zero_and_unschedulable_rates_exit_2() {
    let (l, addr) = untouched_target();
    let target = url(addr, "/");
    let cases: &[(&[&str], &str)] = &[
        (&["-d", "0s"], "--duration must be longer than 0"),
        (&["--timeout", "0s"], "--timeout must be longer than 0"),
        (&["-R", "1e300"], "rate 1e300 is above the maximum"),
        (&["-d", "1e19"], "--duration must be at most a year"),
    ];
    for (flags, reason) in cases {
        let mut args = vec!["-q", "-n", "1"];
        args.extend_from_slice(flags);
        args.push(&target);
        assert_usage_error(&args, reason, &l);
    }
    let port0 = ["-q", "-d", "1s", "http://127.0.0.1:0/"];
    assert_usage_error(&port0, "port 0", &l);
}

/// Issue 13 item 9: `http://[::1:9600/` silently targeted `[::1:9600]:80`, and CR/LF in a
/// URL or a header went onto the wire raw.
#[test]
fn malformed_urls_and_injected_line_breaks_exit_2() {
    let (l, addr) = untouched_target();
    let target = url(addr, "/");
    assert_usage_error(
        &["-q", "-n", "1", "http://[::1:9600/"],
        "`[` without `]`",
        &l,
    );
    let smuggle = url(addr, "/a\r\nX-Injected: 1");
    assert_usage_error(&["-q", "-n", "1", &smuggle], "control byte", &l);
    let header = ["-q", "-n", "1", "-H", "X-A: a\r\nX-Injected: 1", &target];
    assert_usage_error(&header, "control byte", &l);
    let dir = Scratch::new("inject");
    let scenario = dir.file("s.toml");
    let body = format!(
        "host = \"{target}\"\n[[task]]\npath = \"/\"\nheaders = {{X-A = \"a\\r\\nX-Injected: 1\"}}\n"
    );
    std::fs::write(&scenario, body).unwrap();
    assert_usage_error(&["-q", "-n", "1", "-s", &scenario], "s.toml:4:", &l);
}

/// Issue 13 item 10: two tasks with one name were two report rows nobody could tell apart.
#[test]
fn duplicate_task_names_exit_2_at_file_line_col() {
    let (l, addr) = untouched_target();
    let dir = Scratch::new("dup");
    let scenario = dir.file("s.toml");
    let body = format!(
        "host = \"{}\"\n[[task]]\nname = \"a\"\npath = \"/x\"\n\n[[task]]\nname = \"a\"\npath = \"/y\"\n",
        url(addr, "")
    );
    std::fs::write(&scenario, body).unwrap();
    let want = format!("{scenario}:7:8: task name \"a\" is already used");
    assert_usage_error(&["-q", "-n", "1", "-s", &scenario], &want, &l);
}

/// A server that answers every request 200 and keeps each request head it read.
fn recording_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = l.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    thread::spawn(move || {
        for mut s in l.incoming().flatten().take(4) {
            let _ = s.set_read_timeout(Some(RECORD_TIMEOUT));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf).into_owned());
            let _ = s.write_all(&ok_response("ok"));
        }
    });
    (addr, heads)
}

/// Issue 14 item 8: `http://user:pw@host/` dropped the credentials silently.
#[test]
fn url_credentials_are_sent_as_basic_auth_and_never_shown() {
    let (addr, heads) = recording_server();
    let secret_url = format!("http://al%40ice:s3cret@{addr}/p");
    let dir = Scratch::new("auth");
    let (csv, html) = (dir.file("run"), dir.file("run.html"));
    let (report, out) = run_blast(&[
        "-n",
        "1",
        "-u",
        "1",
        "--csv",
        &csv,
        "--html",
        &html,
        &secret_url,
    ]);
    let head = heads.lock().unwrap().first().cloned().expect("a request");
    // base64("al@ice:s3cret")
    assert!(
        head.contains("\r\nAuthorization: Basic YWxAaWNlOnMzY3JldA==\r\n"),
        "{head}"
    );
    assert_eq!(report["plan"]["url"], format!("http://{addr}/p"));
    let mut shown = vec![
        report.to_string(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(&html).unwrap(),
    ];
    for suffix in ["_stats.csv", "_stats_history.csv", "_failures.csv"] {
        shown.push(std::fs::read_to_string(format!("{csv}{suffix}")).unwrap());
    }
    for text in shown {
        assert!(!text.contains("s3cret"), "the password is shown: {text}");
    }
}

/// Issue 13 item 12: a task named `=HYPERLINK(…)` became a live formula in a spreadsheet.
#[test]
fn csv_and_history_cells_that_start_like_a_formula_get_a_leading_quote() {
    let dir = Scratch::new("csv-injection");
    let scenario = dir.file("s.toml");
    let body = format!(
        "host = \"{}\"\n[[task]]\nname = \"=HYPERLINK(\\\"http://x\\\")\"\npath = \"/health\"\n",
        url(fast_target(), "")
    );
    std::fs::write(&scenario, body).unwrap();
    let (csv, history) = (dir.file("run"), dir.file("history.csv"));
    let args = [
        "-n",
        "2",
        "-u",
        "1",
        "-s",
        &scenario,
        "--csv",
        &csv,
        "--history",
        &history,
        "--label",
        "@SUM(A1)",
    ];
    run_blast(&args);
    let stats = std::fs::read_to_string(format!("{csv}_stats.csv")).unwrap();
    assert!(
        stats.contains("\nGET,\"'=HYPERLINK(\"\"http://x\"\")\","),
        "{stats}"
    );
    let rows = std::fs::read_to_string(&history).unwrap();
    assert!(rows.contains(",'@SUM(A1),"), "{rows}");
    let md = blast(&["report", &history, "--markdown"]);
    assert!(
        String::from_utf8_lossy(&md.stdout).contains("| @SUM(A1) |"),
        "{md:?}"
    );
}
