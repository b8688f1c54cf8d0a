//! `blast serve` under clients that try to pin it (issue 13 item 13): an idle flood larger
//! than its descriptor limit, and slowloris clients that dribble header bytes. A fresh
//! `GET /health` must still be answered quickly, and the server's memory must stay bounded.
//! The server runs as a child process so its descriptor limit and RSS are its own. Also
//! `--max-connection-age`, which retires connections so that soak tests reconnect.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh health check must be answered within this, as the issue asks (the median of the
/// probes; the machine is shared, so one slow probe is not held against the server).
const HEALTH_BOUND: Duration = Duration::from_millis(50);
/// No probe may take longer than this: before the fix, a locked-out probe never finished.
const PROBE_LIMIT: Duration = Duration::from_secs(2);
/// Probes per test.
const PROBES: usize = 9;
/// Connection age given to the server in the retirement test, and the wait past it.
const MAX_AGE: Duration = Duration::from_millis(300);
const PAST_MAX_AGE: Duration = Duration::from_millis(400);
/// The whole of `blast serve`'s `GET /health` answer without a `Connection` header.
const HEALTH_KEPT_ALIVE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK";

/// Descriptor limit of the server in the idle-flood test: the issue's `ulimit -n 64`.
const SERVER_NOFILE: u64 = 64;
/// Header timeout given to the server in the slowloris tests.
const HEADER_TIMEOUT: Duration = Duration::from_millis(500);
/// Slack over the header timeout before a slowloris connection must have been cut.
const CUT_SLACK: Duration = Duration::from_millis(1500);
/// Most the server's RSS may grow from the first slowloris round to the last.
const RSS_GROWTH_LIMIT_KB: u64 = 8 * 1024;

/// A `blast serve` child, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `blast serve --addr 127.0.0.1:0 --threads 1 EXTRA`, its descriptor limit set to
    /// `nofile` if given, and reads the bound address from its first line.
    fn start(extra: &[&str], nofile: Option<u64>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_blast"));
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--threads", "1"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(n) = nofile {
            // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || rlimit::setrlimit(rlimit::Resource::NOFILE, n, n));
            }
        }
        let mut child = cmd.spawn().expect("spawning blast serve");
        let mut line = String::new();
        let stderr = child.stderr.take().unwrap();
        BufReader::new(stderr).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

/// One fresh `GET /health` on a new connection; how long until the whole answer arrived.
fn probe(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, PROBE_LIMIT).expect("probe connects");
    s.set_read_timeout(Some(PROBE_LIMIT)).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let read = s.read_to_end(&mut reply);
    assert!(
        read.is_ok() && reply.starts_with(b"HTTP/1.1 200 "),
        "no answer to a fresh GET /health after {:?}: {read:?} {:?}",
        start.elapsed(),
        String::from_utf8_lossy(&reply)
    );
    start.elapsed()
}

/// Probes `PROBES` times; the median must be within [`HEALTH_BOUND`].
fn assert_health_answered_quickly(addr: SocketAddr, context: &str) {
    let mut times: Vec<Duration> = (0..PROBES).map(|_| probe(addr)).collect();
    times.sort();
    let median = times[PROBES / 2];
    assert!(
        median <= HEALTH_BOUND,
        "{context}: median health check {median:?} (all: {times:?})"
    );
}

/// `n` connections that connect and send nothing.
fn idle_flood(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| TcpStream::connect(addr).expect("idle client connects"))
        .collect()
}

/// `n` connections that each send the start of a request head and never finish it.
fn slowloris(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut clients = idle_flood(addr, n);
    for c in &mut clients {
        let _ = c.write_all(b"GET /health HTTP/1.1\r\nX-a: ");
    }
    clients
}

/// Sends one more header byte on every client, as slowloris does between its pauses.
fn dribble(clients: &mut [TcpStream]) {
    for c in clients {
        let _ = c.write_all(b"a");
    }
}

/// Whether the server has closed `c` (a read sees EOF or a reset rather than a timeout).
fn closed_by_server(c: &mut TcpStream) -> bool {
    c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // an error response before the close
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

/// The case: 100 idle connections against `ulimit -n 64` stopped the server from
/// answering anyone.
#[test]
fn idle_flood_past_the_descriptor_limit_does_not_lock_out_a_fresh_health_check() {
    let server = Server::start(&[], Some(SERVER_NOFILE));
    let _flood = idle_flood(server.addr, 100);
    std::thread::sleep(Duration::from_millis(200));
    assert_health_answered_quickly(server.addr, "100 idle clients, 64 descriptors");
}

/// Slowloris clients (over the connection cap) neither delay a fresh health check nor keep
/// their connections past the header timeout.
#[test]
fn slowloris_clients_are_cut_at_the_header_timeout_and_do_not_delay_a_fresh_health_check() {
    let timeout = format!("{}ms", HEADER_TIMEOUT.as_millis());
    let server = Server::start(
        &["--header-timeout", &timeout, "--max-connections", "50"],
        None,
    );
    let started = Instant::now();
    let mut clients = slowloris(server.addr, 40);
    dribble(&mut clients);
    assert_health_answered_quickly(server.addr, "40 slowloris clients");
    let mut more = slowloris(server.addr, 40);
    assert_health_answered_quickly(server.addr, "80 slowloris clients, cap 50");
    while started.elapsed() < HEADER_TIMEOUT / 2 {
        dribble(&mut clients);
        dribble(&mut more);
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(HEADER_TIMEOUT + CUT_SLACK - started.elapsed().min(HEADER_TIMEOUT));
    let open = clients
        .iter_mut()
        .chain(&mut more)
        .map(closed_by_server)
        .filter(|closed| !closed)
        .count();
    assert_eq!(
        open, 0,
        "slowloris connections still open past the header timeout"
    );
}

/// Rounds of slowloris clients that vanish without closing (their sockets are kept open, as
/// a dead peer's would be) must not make the server's memory grow round after round.
#[test]
fn server_memory_stays_bounded_over_rounds_of_abandoned_slowloris_clients() {
    let timeout = format!("{}ms", HEADER_TIMEOUT.as_millis());
    let server = Server::start(&["--header-timeout", &timeout], None);
    let mut abandoned = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..5 {
        let mut round = slowloris(server.addr, 150);
        for _ in 0..4 {
            round
                .iter_mut()
                .for_each(|c| drop(c.write_all(&[b'a'; 512])));
        }
        std::thread::sleep(HEADER_TIMEOUT + Duration::from_millis(300));
        abandoned.extend(round);
        rss.push(server.rss_kb());
    }
    assert_health_answered_quickly(server.addr, "after 750 abandoned slowloris clients");
    let growth = rss.last().unwrap().saturating_sub(rss[0]);
    assert!(
        growth <= RSS_GROWTH_LIMIT_KB,
        "server RSS grew {growth} kB over the rounds: {rss:?} kB"
    );
}

/// `--max-connection-age` (scripts/bench-soak.sh): a connection is kept alive until it is
/// that old; its next response then says `Connection: close` and the server closes it.
#[test]
fn a_connection_past_its_max_age_is_answered_with_close_and_closed() {
    let age = format!("{}ms", MAX_AGE.as_millis());
    let server = Server::start(&["--max-connection-age", &age], None);
    let mut c = TcpStream::connect(server.addr).unwrap();
    c.set_read_timeout(Some(PROBE_LIMIT)).unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    c.write_all(request).unwrap();
    let mut young = vec![0u8; HEALTH_KEPT_ALIVE.len()];
    c.read_exact(&mut young).unwrap();
    assert_eq!(
        young,
        HEALTH_KEPT_ALIVE,
        "{:?}",
        String::from_utf8_lossy(&young)
    );

    std::thread::sleep(PAST_MAX_AGE);
    c.write_all(request).unwrap();
    let mut old = Vec::new();
    c.read_to_end(&mut old)
        .expect("the server closes the old connection");
    let text = String::from_utf8_lossy(&old);
    assert!(
        text.starts_with("HTTP/1.1 200 ") && text.contains("\r\nConnection: close\r\n"),
        "{text:?}"
    );
}
