//! `blast limit` and `blast compare` end to end, against loopback servers of known capacity:
//! each serves requests strictly one at a time with a fixed service time, so its true limit
//! is 1 / service time. The found limits must land near it, and a slower server must come
//! out slower. Every run is bounded in time; the tests take the machine to themselves.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::exclusive;

/// A serial server stops after this long even if never dropped.
const SERVER_LIFETIME: Duration = Duration::from_secs(90);
/// Longest one blast limit/compare run may take before the test kills it.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// Blocking reads wake this often to notice the stop flag.
const READ_POLL: Duration = Duration::from_millis(100);
const ACCEPT_POLL: Duration = Duration::from_millis(2);
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// Found limits must be within this share of the true capacity.
const TOLERANCE: f64 = 0.10;
/// The servers' accept queue, as large as real servers keep theirs (nginx 511, gunicorn and
/// uvicorn 2048). std's 128 overflowed when blast's 256 users connected at once: the
/// dropped connection attempts came back a second later (TCP's first retry), in the step
/// being measured, and halved its rate.
const LISTEN_BACKLOG: i32 = 1024;

/// A server that answers one request at a time, each taking `service`. Service slots are
/// handed out on a virtual clock (a request starts when it arrived or when the previous one
/// ended, whichever is later), so sleep overshoot delays answers but never lowers capacity:
/// under load it serves exactly 1 / service requests per second.
struct SerialServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
}

impl Drop for SerialServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Queue {
    service: Duration,
    /// When the last handed-out slot ends.
    free_at: Arc<Mutex<Instant>>,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    deadline: Instant,
}

impl Queue {
    fn over(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || Instant::now() > self.deadline
    }

    /// The end of the slot for a request that arrived at `arrival`.
    fn slot(&self, arrival: Instant) -> Instant {
        let mut free_at = self.free_at.lock().unwrap_or_else(|e| e.into_inner());
        let end = (*free_at).max(arrival) + self.service;
        *free_at = end;
        end
    }
}

impl SerialServer {
    fn start(service: Duration) -> SerialServer {
        let listener = listen_loopback();
        listener.set_nonblocking(true).expect("nonblocking");
        let q = Queue {
            service,
            free_at: Arc::new(Mutex::new(Instant::now())),
            stop: Arc::default(),
            served: Arc::default(),
            deadline: Instant::now() + SERVER_LIFETIME,
        };
        let server = SerialServer {
            addr: listener.local_addr().expect("addr"),
            stop: q.stop.clone(),
            served: q.served.clone(),
        };
        thread::spawn(move || {
            while !q.over() {
                match listener.accept() {
                    Ok((s, _)) => {
                        let q = q.clone();
                        thread::spawn(move || serve(s, &q));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(ACCEPT_POLL),
                    Err(_) => thread::sleep(ACCEPT_POLL),
                }
            }
        });
        server
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// A loopback listener on a free port with a [`LISTEN_BACKLOG`]-deep accept queue.
fn listen_loopback() -> TcpListener {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("loopback address");
    s.bind(&any.into()).expect("bind loopback");
    s.listen(LISTEN_BACKLOG).expect("listen");
    s.into()
}

/// One connection: each complete request head waits for its slot, then gets its answer.
fn serve(mut s: TcpStream, q: &Queue) {
    let _ = s.set_nodelay(true);
    let _ = s.set_nonblocking(false);
    if s.set_read_timeout(Some(READ_POLL)).is_err() {
        return;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !q.over() {
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        let arrival = Instant::now();
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let done = q.slot(arrival);
            thread::sleep(done.saturating_duration_since(Instant::now()));
            if s.write_all(RESPONSE).is_err() {
                return;
            }
            q.served.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs `blast ARGS --quiet --json FILE`, killed past `RUN_LIMIT`; the report and output.
fn blast(args: &[&str]) -> (Value, Output) {
    support::run_blast_within(args, RUN_LIMIT)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn limit_finds_a_serial_servers_capacity() {
    let _g = exclusive();
    const SERVICE: Duration = Duration::from_millis(4);
    let capacity = 1.0 / SERVICE.as_secs_f64();
    let server = SerialServer::start(SERVICE);
    let t = Instant::now();
    let (r, out) = blast(&[
        "limit",
        &server.url(),
        "--step",
        "1s",
        "--warmup",
        "1s",
        "--slo-p99",
        "100ms",
    ]);
    let took = t.elapsed();
    let table = stdout(&out);
    eprintln!("{table}(took {took:?})");
    assert!(out.status.success(), "{:?}\n{table}\n{r:#}", out.status);
    let limit = r["limit_rps"]
        .as_f64()
        .unwrap_or_else(|| panic!("no limit:\n{table}"));
    assert!(
        (limit - capacity).abs() <= TOLERANCE * capacity,
        "found {limit:.1} req/s, true capacity {capacity:.1} ({took:?}):\n{table}"
    );
    let steps = r["steps"].as_array().expect("steps");
    assert!(steps.len() >= 3, "{table}");
    assert!(
        steps.iter().any(|s| s["verdict"] == "unsustainable"),
        "{table}"
    );
    assert_eq!(r["ended"], "converged", "{table}");
    assert!(r["probe"]["rps"].as_f64().unwrap() > 0.0);
    assert!(server.served.load(Ordering::Relaxed) > 0);
    assert!(
        table.contains("limit   ") && table.contains("knee    "),
        "{table}"
    );
}

#[test]
fn limit_with_nothing_sustainable_says_so_and_exits_1() {
    let _g = exclusive();
    // 10 ms per request can never meet a 1 ms p50.
    let server = SerialServer::start(Duration::from_millis(10));
    let (r, out) = blast(&[
        "limit",
        &server.url(),
        "--step",
        "300ms",
        "--warmup",
        "0s",
        "--start-rate",
        "4",
        "--slo",
        "p50<1ms",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(r["limit_rps"].is_null(), "{r:#}");
    assert_eq!(r["ended"], "nothing_sustainable");
    assert!(
        stdout(&out).contains("no rate tried was sustainable"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn limit_refuses_flags_of_the_plain_run() {
    let _g = support::shared();
    let out = Command::new(env!("CARGO_BIN_EXE_blast"))
        .args(["limit", "http://127.0.0.1:9/", "--rate", "100"])
        .output()
        .expect("blast runs");
    assert_eq!(out.status.code(), Some(2));
    // Not offered at all: clap's own usage error, before anything runs.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--rate'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_blast"))
        .args(["limit", "http://127.0.0.1:9/", "--slo", "rps>5"])
        .output()
        .expect("blast runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn compare_ranks_a_slower_server_lower() {
    let _g = exclusive();
    let fast = SerialServer::start(Duration::from_millis(4));
    let slow = SerialServer::start(Duration::from_millis(10));
    let (fast_t, slow_t) = (
        format!("fast={}", fast.url()),
        format!("slow={}", slow.url()),
    );
    let t = Instant::now();
    let (r, out) = blast(&[
        "compare",
        "--target",
        &fast_t,
        "--target",
        &slow_t,
        "--step",
        "1s",
        "--warmup",
        "1s",
        "--start-rate",
        "60",
        "--precision",
        "20%",
        "--settle",
        "500ms",
        "--slo-p99",
        "100ms",
    ]);
    let table = stdout(&out);
    eprintln!("{table}(took {:?})", t.elapsed());
    assert!(out.status.success(), "{:?}\n{table}", out.status);
    let targets = r["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2, "{r:#}");
    let limit = |i: usize| {
        let v = targets[i]["median_rps"]
            .as_f64()
            .unwrap_or_else(|| panic!("no limit:\n{table}"));
        assert!(v.is_finite() && v > 0.0, "{table}");
        assert_eq!(targets[i]["rounds"].as_array().map(Vec::len), Some(1));
        assert!(
            targets[i]["at_common_rate"]["latency_ms"]["p99"].is_number(),
            "{r:#}"
        );
        v
    };
    assert_eq!(targets[0]["name"], "fast");
    assert!(
        limit(1) < limit(0),
        "slow {} vs fast {}:\n{table}",
        limit(1),
        limit(0)
    );
    let common = r["common_rate"].as_f64().expect("common rate");
    assert!((common - limit(1)).abs() < 1e-9, "{table}");
    assert!(table.contains("fast") && table.contains("slow") && table.contains("round 1"));
}
