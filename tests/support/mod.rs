//! Shared harness for the end-to-end tests: runs the `blast` binary under a hard wall-clock
//! limit and reads its `--json` report, and provides a tiny scripted HTTP server whose
//! replies (well-formed, odd or broken) are decided by each test. Everything is bounded in
//! time so a misbehaving engine fails a test instead of hanging the suite.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod python;

/// Longest one blast run may take before the test kills it and fails.
pub const BLAST_WALL_LIMIT: Duration = Duration::from_secs(30);
/// How often a running blast is checked for exit.
const BLAST_POLL: Duration = Duration::from_millis(10);
/// A scripted server stops accepting and answering after this long, even if never dropped.
pub const SERVER_LIFETIME: Duration = Duration::from_secs(45);
/// How often the listener looks for new connections and the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(2);
/// A connection thread wakes up at least this often to check the stop flag and batch timer.
const CONN_POLL: Duration = Duration::from_millis(5);
/// Bytes read from a connection at once.
const READ_CHUNK: usize = 16 * 1024;
/// What ends a request head; blast's default GET carries no body.
const HEAD_END: &[u8] = b"\r\n\r\n";

/// Timing-sensitive tests take this exclusively; the others share it, so a rate measurement
/// is never disturbed by other runs competing for the few cores.
static TIMING: RwLock<()> = RwLock::new(());

/// Held by a test that runs alongside others.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    TIMING.read().unwrap_or_else(|e| e.into_inner())
}

/// Held by a test whose measurements need the machine to itself.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    TIMING.write().unwrap_or_else(|e| e.into_inner())
}

/// A file name in the temp dir no other test (or test process) uses.
fn temp_path(tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("blast-test-{}-{n}-{tag}", std::process::id()))
}

/// Waits for `child` to exit, killing it (and failing the test) past `limit`.
fn wait_bounded(child: &mut std::process::Child, args: &[&str], limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for blast") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("blast {args:?} still running after {limit:?}: killed");
        }
        thread::sleep(BLAST_POLL);
    }
}

/// Runs `blast ARGS --quiet --json FILE` and returns the parsed report and the process output.
/// Panics when blast runs too long or writes no valid JSON (its stderr is in the message).
pub fn run_blast(args: &[&str]) -> (Value, Output) {
    run_blast_within(args, BLAST_WALL_LIMIT)
}

/// `run_blast` for runs that may take up to `limit` (limit searches, comparisons).
pub fn run_blast_within(args: &[&str], limit: Duration) -> (Value, Output) {
    let json = temp_path("report.json");
    let json_arg = json.to_string_lossy().into_owned();
    let mut full = args.to_vec();
    full.extend(["--quiet", "--json", &json_arg]);
    let output = blast_within(&full, limit);
    let text = std::fs::read_to_string(&json);
    let _ = std::fs::remove_file(&json);
    let text = text.unwrap_or_else(|e| {
        panic!(
            "blast {args:?} wrote no JSON ({e}); exit {:?}; stderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("blast {args:?} wrote invalid JSON ({e}):\n{text}"));
    (value, output)
}

/// Runs `blast ARGS` as given (no flags added) under the wall-clock limit.
pub fn blast(args: &[&str]) -> Output {
    blast_within(args, BLAST_WALL_LIMIT)
}

/// `blast` for runs that may take up to `limit`.
pub fn blast_within(args: &[&str], limit: Duration) -> Output {
    let out = temp_path("stdout");
    let err = temp_path("stderr");
    // Output goes to files, not pipes: a full pipe can never stall the child while we poll.
    let mut child = Command::new(env!("CARGO_BIN_EXE_blast"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("spawning blast");
    let status = wait_bounded(&mut child, args, limit);
    let output = Output {
        status,
        stdout: std::fs::read(&out).unwrap_or_default(),
        stderr: std::fs::read(&err).unwrap_or_default(),
    };
    for p in [&out, &err] {
        let _ = std::fs::remove_file(p);
    }
    output
}

/// A fresh directory for one test's files, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let dir = temp_path(tag);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// `name` inside the directory, as a string for argument lists.
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `report[key]` as an integer; panics with the report when missing.
pub fn uint(report: &Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer {key:?} in report:\n{report:#}"))
}

/// The row of task `name` in a report.
pub fn task<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tasks"]
        .as_array()
        .and_then(|t| t.iter().find(|row| row["name"] == name))
        .unwrap_or_else(|| panic!("no task {name:?} in {report:#}"))
}

/// `row[key]` as an integer; panics with the row when missing.
pub fn count(row: &Value, key: &str) -> u64 {
    row[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {row}"))
}

/// The article's user (`scenarios/heart-disease.toml`) against a correct model API: more than
/// `min_requests`, invalid predictions `share_tolerance` or closer to 1 in 5, no task with a
/// failure, every invalid prediction answered 400 and every other request 200. `context` is
/// added to each message.
pub fn assert_clean_article_mix(r: &Value, min_requests: u64, share_tolerance: f64, context: &str) {
    let (valid, invalid, health) = (
        task(r, "predict"),
        task(r, "predict-invalid"),
        task(r, "health"),
    );
    let (v, i, h) = (
        count(valid, "requests"),
        count(invalid, "requests"),
        count(health, "requests"),
    );
    assert!(
        v + i + h > min_requests,
        "too few requests to judge the mix: {v} {i} {h}\n{context}"
    );
    let share = i as f64 / (v + i) as f64;
    assert!(
        (share - 0.2).abs() < share_tolerance,
        "invalid share of predictions {share}\n{context}"
    );
    for row in [valid, invalid, health] {
        assert_eq!(count(row, "failures"), 0, "{row}\n{context}");
    }
    // Every invalid prediction was rejected, every valid one and every health check answered.
    assert_eq!(
        r["status_codes"]["400"].as_u64(),
        Some(i),
        "{r:#}\n{context}"
    );
    assert_eq!(
        r["status_codes"]["200"].as_u64(),
        Some(v + h),
        "{r:#}\n{context}"
    );
}

/// How many errors of `kind` the report counts (0 when absent).
pub fn errors_of(report: &Value, kind: &str) -> u64 {
    report["errors"][kind].as_u64().unwrap_or(0)
}

/// True when the report's error map is empty.
pub fn no_errors(report: &Value) -> bool {
    report["errors"].as_object().is_some_and(|m| m.is_empty())
}

/// What the scripted server does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Write these bytes and keep the connection open.
    Send(Vec<u8>),
    /// Write these bytes, then close the connection.
    SendClose(Vec<u8>),
    /// Close the connection without answering.
    Close,
    /// Never answer (the connection stays open until the server stops).
    Silent,
}

/// Decides the reply to the `n`th request (from 0) on a connection.
pub type Behaviour = Arc<dyn Fn(u64) -> Reply + Send + Sync>;

/// What the scripted server observed, shared with its threads.
#[derive(Default, Debug)]
pub struct Counters {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Complete request heads read.
    pub requests: AtomicU64,
    /// Most requests answered together (read before any of them was answered).
    pub max_batch: AtomicUsize,
}

/// How the server groups requests before answering.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Answer once this many requests are waiting ...
    pub size: usize,
    /// ... or once the oldest waiting one has waited this long.
    pub wait: Duration,
}

impl Batching {
    /// Answer every request as soon as it is read.
    pub const NONE: Batching = Batching {
        size: 1,
        wait: Duration::ZERO,
    };
}

/// A running scripted server; dropping it stops the listener and every connection thread.
pub struct Server {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Server {
    /// A server answering each request at once with `reply(n)`.
    pub fn start(reply: impl Fn(u64) -> Reply + Send + Sync + 'static) -> Server {
        Server::with_batching(Batching::NONE, reply)
    }

    /// A server that groups requests as `batching` says before answering them in one write.
    pub fn with_batching(
        batching: Batching,
        reply: impl Fn(u64) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let server = Server {
            addr: listener.local_addr().expect("local addr"),
            counters: Arc::default(),
            stop: Arc::default(),
        };
        let shared = Shared {
            behaviour: Arc::new(reply),
            batching,
            counters: server.counters.clone(),
            stop: server.stop.clone(),
            deadline: Instant::now() + SERVER_LIFETIME,
        };
        thread::spawn(move || accept_loop(listener, shared));
        server
    }

    pub fn accepted(&self) -> u64 {
        self.counters.accepted.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }

    pub fn max_batch(&self) -> usize {
        self.counters.max_batch.load(Ordering::SeqCst)
    }
}

/// Everything a connection thread needs.
#[derive(Clone)]
struct Shared {
    behaviour: Behaviour,
    batching: Batching,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    deadline: Instant,
}

impl Shared {
    fn over(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || Instant::now() > self.deadline
    }
}

fn accept_loop(listener: TcpListener, shared: Shared) {
    while !shared.over() {
        match listener.accept() {
            Ok((stream, _)) => {
                shared.counters.accepted.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                thread::spawn(move || serve_connection(stream, shared));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(ACCEPT_POLL),
            Err(_) => thread::sleep(ACCEPT_POLL),
        }
    }
}

/// Removes every complete request head from the front of `buf`; returns how many.
fn take_requests(buf: &mut Vec<u8>) -> usize {
    let mut n = 0;
    let mut pos = 0;
    while let Some(i) = buf[pos..]
        .windows(HEAD_END.len())
        .position(|w| w == HEAD_END)
    {
        pos += i + HEAD_END.len();
        n += 1;
    }
    buf.drain(..pos);
    n
}

/// One connection: read heads, batch them, answer as the behaviour says.
fn serve_connection(mut stream: TcpStream, shared: Shared) {
    let _ = stream.set_nodelay(true);
    if stream.set_read_timeout(Some(CONN_POLL)).is_err() {
        return;
    }
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut waiting = 0usize;
    let mut oldest: Option<Instant> = None;
    let mut answered = 0u64;
    while !shared.over() {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        let new = take_requests(&mut buf);
        if new > 0 {
            shared
                .counters
                .requests
                .fetch_add(new as u64, Ordering::SeqCst);
            oldest.get_or_insert_with(Instant::now);
            waiting += new;
        }
        let due = oldest.is_some_and(|t| t.elapsed() >= shared.batching.wait);
        if waiting == 0 || (waiting < shared.batching.size && !due) {
            continue;
        }
        shared
            .counters
            .max_batch
            .fetch_max(waiting, Ordering::SeqCst);
        let (out, close) = answer(&shared.behaviour, &mut answered, waiting);
        waiting = 0;
        oldest = None;
        if stream.write_all(&out).is_err() {
            return;
        }
        if close {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// The bytes answering `count` requests, and whether to close afterwards.
fn answer(behaviour: &Behaviour, answered: &mut u64, count: usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    for _ in 0..count {
        let reply = behaviour(*answered);
        *answered += 1;
        match reply {
            Reply::Send(bytes) => out.extend_from_slice(&bytes),
            Reply::SendClose(bytes) => {
                out.extend_from_slice(&bytes);
                return (out, true);
            }
            Reply::Close => return (out, true),
            Reply::Silent => {}
        }
    }
    (out, false)
}

/// A keep-alive 200 response with `body`, framed by Content-Length.
pub fn ok_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A port on loopback with nothing listening (bound, then released).
pub fn dead_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().expect("local addr")
}

/// The in-process built-in target (fast GET /health), started once per test process.
pub fn fast_target() -> SocketAddr {
    static ADDR: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
    *ADDR.get_or_init(|| {
        let cfg = blast::serve::ServeConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            threads: 1,
        };
        blast::serve::spawn(&cfg).expect("built-in target starts")
    })
}

/// `http://ADDR/PATH`.
pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}
