//! Fuzz target: the connection loop end to end, against a loopback server that replays the
//! input as a script.
//!
//! Why end to end rather than a pure model: the accounting (a response, an error, an
//! unanswered request behind it, a stale keep-alive retry) lives in the async loop of
//! `engine::conn`, interleaved with its reads, writes, buffer growth and reconnects; there
//! is no pure part of it to call, and a model of it would fuzz a copy. So each input runs a
//! real, short `blast` run (`Plan` + `coordinator::run`, one user, a budget of a few
//! requests) against a server thread that plays the script: per connection, wait for
//! requests, send canned or raw response bytes in pieces with stalls between them, and end
//! with a close, a reset or a hang. Then the run's results must add up:
//!
//! - every request sent ended as exactly one response or one error (`unanswered` included):
//!   `sent == responses + errors`, with a stale keep-alive retry counted apart, never twice;
//! - no more requests were sent than the budget, and no more retried than sent;
//! - no worker failed, nothing panicked, and the run ended (a hang is libFuzzer's timeout).
#![no_main]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use blast::coordinator;
use blast::plan::{Plan, PlanInput};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// Most requests one run may send (its `-n` budget is 1 to this).
const MAX_REQUESTS: u8 = 12;
/// Deepest pipeline tried.
const MAX_PIPELINE: u8 = 4;
/// Connections scripted per run; later ones are closed at once.
const MAX_CONNECTIONS: usize = 6;
/// Steps per connection.
const MAX_STEPS: usize = 24;
/// The client's per-request timeout: a hanging connection costs this much.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(40);
/// A hang outlasts the client's timeout by this much, then the server closes.
const HANG_PAST_TIMEOUT: Duration = Duration::from_millis(20);
/// Longest the server waits for requests it awaits.
const AWAIT_LIMIT: Duration = Duration::from_millis(30);
/// Longest single stall between writes.
const MAX_STALL_MS: u8 = 3;
/// Largest body of a canned response (several times the client's first read buffer).
const MAX_BODY: u16 = 20_000;
/// Largest header padding: past the client's 64 KiB head limit, so both sides are tried.
const MAX_PAD: u32 = 70_000;

#[derive(Arbitrary, Debug)]
struct Input {
    requests: u8,
    pipeline: u8,
    method: Method,
    connections: Vec<Connection>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Method {
    Get,
    Head,
    /// Not idempotent: never retried on a stale connection.
    Post,
}

#[derive(Arbitrary, Debug)]
struct Connection {
    steps: Vec<Step>,
    end: End,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// Wait until this many more request heads (1 + n % MAX_PIPELINE) have arrived.
    Await(u8),
    /// Write these bytes, in writes of `split` bytes (0: all at once) with a stall between.
    Send {
        piece: Piece,
        split: u16,
    },
    Stall(u8),
}

#[derive(Arbitrary, Debug)]
enum Piece {
    /// A whole response, optionally cut short after `cut` bytes.
    Response {
        status: u16,
        body: u16,
        framing: Framing,
        close: bool,
        pad: u32,
        cut: Option<u16>,
    },
    /// `100 Continue` or `103 Early Hints`.
    Interim(bool),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Framing {
    Length,
    Chunked(u16),
    /// No length: the body runs to the close.
    UntilClose,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum End {
    /// Drain what the client sent, then close (FIN).
    Close,
    /// Close with unread data or SO_LINGER 0: the client sees a reset.
    Reset,
    /// Say nothing past the client's timeout, then close.
    Hang,
}

fuzz_target!(|input: Input| {
    let requests = u64::from(1 + input.requests % MAX_REQUESTS);
    let pipeline = usize::from(1 + input.pipeline % MAX_PIPELINE);
    let mut connections = input.connections;
    connections.truncate(MAX_CONNECTIONS);
    for c in &mut connections {
        c.steps.truncate(MAX_STEPS);
    }
    let server = ScriptServer::start(connections);
    let plan = plan(server.addr, input.method, requests, pipeline);
    let results = coordinator::run(Arc::new(plan), Arc::new(AtomicBool::new(false)));
    server.stop();

    let t = &results.totals;
    let all = t.aggregate();
    assert!(
        results.worker_failures.is_empty(),
        "{:?}",
        results.worker_failures
    );
    assert_eq!(
        t.sent,
        all.responses + all.errors,
        "every request sent ends as one response or one error: {} responses, errors {:?}, \
         {} retried stale",
        all.responses,
        t.errors,
        t.retried_stale
    );
    assert!(
        t.sent <= requests,
        "sent {} of a budget of {requests}",
        t.sent
    );
    assert!(
        t.retried_stale <= t.sent,
        "{} retried of {}",
        t.retried_stale,
        t.sent
    );
    assert!(
        t.errors_total() >= all.errors,
        "{:?} vs {}",
        t.errors,
        all.errors
    );
});

fn plan(addr: SocketAddr, method: Method, requests: u64, pipeline: usize) -> Plan {
    let (method, body) = match method {
        Method::Get => ("GET", None),
        Method::Head => ("HEAD", None),
        Method::Post => ("POST", Some(b"{}".to_vec())),
    };
    let input = PlanInput {
        url: Some(format!("http://{addr}/")),
        cores: Some(1),
        users: Some(1),
        pipeline: Some(pipeline),
        requests: Some(requests),
        timeout: Some(CLIENT_TIMEOUT),
        connect_timeout: Some(Duration::from_secs(1)),
        method: Some(method.to_owned()),
        body,
        quiet: true,
        ..PlanInput::default()
    };
    Plan::build(input, &blast::os::available_cores()).expect("a valid plan")
}

/// A loopback server that plays one scripted connection per accepted connection, in order.
struct ScriptServer {
    addr: SocketAddr,
    done: Arc<AtomicBool>,
    thread: thread::JoinHandle<()>,
}

impl ScriptServer {
    fn start(script: Vec<Connection>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding loopback");
        let addr = listener.local_addr().expect("local address");
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = thread::spawn(move || serve(&listener, script, &flag));
        ScriptServer { addr, done, thread }
    }

    /// Wakes the accept loop with one last connection and waits for the thread.
    fn stop(self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        self.thread.join().expect("script server");
    }
}

fn serve(listener: &TcpListener, script: Vec<Connection>, done: &AtomicBool) {
    let mut script = script.into_iter();
    for stream in listener.incoming() {
        if done.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        match script.next() {
            Some(conn) => play(stream, &conn),
            None => drop(stream),
        }
    }
}

/// Plays one connection's script. Write errors mean the client has gone: stop there.
fn play(mut stream: TcpStream, conn: &Connection) {
    let _ = stream.set_nodelay(true);
    let mut seen = RequestCounter::default();
    for step in &conn.steps {
        let ok = match step {
            Step::Await(n) => {
                seen.await_more(&mut stream, usize::from(1 + n % MAX_PIPELINE));
                true
            }
            Step::Send { piece, split } => send(&mut stream, &piece.bytes(), *split),
            Step::Stall(ms) => {
                stall(*ms);
                true
            }
        };
        if !ok {
            return;
        }
    }
    finish(stream, conn.end);
}

fn send(stream: &mut TcpStream, bytes: &[u8], split: u16) -> bool {
    let size = if split == 0 {
        bytes.len().max(1)
    } else {
        usize::from(split)
    };
    for (i, part) in bytes.chunks(size).enumerate() {
        if i > 0 {
            stall(1);
        }
        if stream.write_all(part).is_err() {
            return false;
        }
    }
    true
}

fn stall(ms: u8) {
    thread::sleep(Duration::from_millis(u64::from(ms % (MAX_STALL_MS + 1))));
}

fn finish(mut stream: TcpStream, end: End) {
    match end {
        End::Close => {
            drain(&mut stream);
            let _ = stream.shutdown(Shutdown::Write);
        }
        End::Reset => {
            let _ = socket_linger_zero(&stream);
        }
        End::Hang => thread::sleep(CLIENT_TIMEOUT + HANG_PAST_TIMEOUT),
    }
}

/// Reads whatever the client has sent so far without waiting, so the close is a FIN.
fn drain(stream: &mut TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut buf = [0u8; 4096];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

/// SO_LINGER with a zero timeout: closing sends RST instead of FIN.
fn socket_linger_zero(stream: &TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads a live, correctly sized `linger` for a borrowed open socket.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Counts request heads (`\r\n\r\n`) in what the client has sent on one connection.
#[derive(Default)]
struct RequestCounter {
    received: Vec<u8>,
    /// Bytes of `received` already searched for heads.
    scanned: usize,
    /// Heads seen so far.
    heads: usize,
    /// Heads the script has waited for so far.
    awaited: usize,
}

impl RequestCounter {
    /// Reads until `n` more heads than already awaited have arrived, the client closes,
    /// or [`AWAIT_LIMIT`] passes.
    fn await_more(&mut self, stream: &mut TcpStream, n: usize) {
        let want = self.awaited + n;
        let deadline = Instant::now() + AWAIT_LIMIT;
        let mut buf = [0u8; 4096];
        while self.count() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => self.received.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.awaited = self.heads.min(want);
    }

    fn count(&mut self) -> usize {
        while let Some(at) = find(&self.received[self.scanned..], b"\r\n\r\n") {
            self.scanned += at + 4;
            self.heads += 1;
        }
        self.heads
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Piece {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Piece::Response {
                status,
                body,
                framing,
                close,
                pad,
                cut,
            } => {
                let mut out = response(*status, *body, *framing, *close, *pad);
                if let Some(cut) = cut {
                    out.truncate(usize::from(*cut));
                }
                out
            }
            Piece::Interim(true) => b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(),
            Piece::Interim(false) => b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n".to_vec(),
            Piece::Raw(bytes) => bytes.clone(),
        }
    }
}

/// A well-formed response: status 200..=599, a body of `body % MAX_BODY` bytes framed as
/// asked, `Connection: close` if asked, and `pad % MAX_PAD` bytes of header padding.
fn response(status: u16, body: u16, framing: Framing, close: bool, pad: u32) -> Vec<u8> {
    let status = 200 + status % 400;
    let body = vec![b'b'; usize::from(body % MAX_BODY)];
    let mut out = format!("HTTP/1.1 {status} X\r\n").into_bytes();
    let pad = usize::try_from(pad % MAX_PAD).unwrap_or(0);
    if pad > 0 {
        out.extend_from_slice(b"X-Pad: ");
        out.resize(out.len() + pad, b'p');
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    match framing {
        Framing::Length => {
            out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(&body);
        }
        Framing::Chunked(size) => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in body.chunks(usize::from(size).max(1)) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
        Framing::UntilClose => {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body);
        }
    }
    out
}
