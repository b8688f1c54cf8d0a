//! One user's connection loop, shared by every load model: connect, send what the schedule
//! allows (up to the pipeline depth), read and account for responses; on any error count
//! it under a named kind, close, and reconnect. The schedule decides *when*; this decides *how*.
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use super::worker::Worker;
use crate::http::{ParseError, ResponseDecoder, Status, MAX_HEAD_BYTES};

/// A connection's read buffer starts this small (10,000 idle connections stay cheap) ...
pub const READ_BUF_MIN: usize = 2048;
/// ... and doubles while reads fill it, up to this (it must hold a maximal response head).
pub const READ_BUF_MAX: usize = MAX_HEAD_BYTES + 4096;
/// First pause after a failed connection attempt; doubles up to `RECONNECT_BACKOFF_MAX`.
pub const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(10);
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// A request sent this long after its intended time counts as late (the timer's resolution).
pub const LATE_AFTER: Duration = Duration::from_millis(1);

/// Error kinds raised here; response parse errors use `ParseError::name`.
pub mod kind {
    pub const CONNECT_REFUSED: &str = "connect_refused";
    pub const CONNECT_TIMEOUT: &str = "connect_timeout";
    pub const CONNECT_ERROR: &str = "connect_error";
    pub const TIMEOUT: &str = "timeout";
    /// The server closed the connection before any byte of the response.
    pub const CLOSED: &str = "closed";
    pub const RESET: &str = "connection_reset";
    pub const IO: &str = "io_error";
    /// A request behind a failed one on a pipelined connection: never answered, never re-sent.
    pub const UNANSWERED: &str = "unanswered";
}

/// A request on the wire, waiting for its response.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    /// When it should have been sent: latency is measured from here.
    intended: Instant,
    /// When it was written: the timeout runs from here.
    sent: Instant,
}

/// Why a session ended.
enum End {
    /// The run is over for this user.
    Stop,
    /// The connection is unusable (error counted, or the server asked to close): reconnect.
    Reconnect,
}

/// Buffers and state that outlive a single TCP connection.
struct Conn {
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    inflight: VecDeque<InFlight>,
    decoder: ResponseDecoder,
}

/// Runs user `id` until the worker stops or the user has nothing left to send.
pub async fn run_user(w: std::rc::Rc<Worker>) {
    let mut conn = Conn {
        rbuf: Vec::with_capacity(READ_BUF_MIN),
        wbuf: Vec::with_capacity(w.request.len() * w.plan.pipeline),
        inflight: VecDeque::with_capacity(w.plan.pipeline),
        decoder: ResponseDecoder::new(),
    };
    let mut backoff = RECONNECT_BACKOFF_MIN;
    w.users.set(w.users.get() + 1);
    while w.running() && w.has_budget() {
        let stream = match connect(&w).await {
            Ok(s) => s,
            Err(kind) => {
                w.rec.borrow_mut().connection_error(kind);
                monoio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
                continue;
            }
        };
        backoff = RECONNECT_BACKOFF_MIN;
        w.rec.borrow_mut().connected();
        if let End::Stop = conn.session(&w, stream).await {
            break;
        }
    }
    w.users.set(w.users.get() - 1);
}

async fn connect(w: &Worker) -> Result<TcpStream, &'static str> {
    let attempt = TcpStream::connect_addr(w.plan.target.addr);
    match monoio::time::timeout(w.plan.connect_timeout, attempt).await {
        Err(_) => Err(kind::CONNECT_TIMEOUT),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(kind::CONNECT_REFUSED),
        Ok(Err(_)) => Err(kind::CONNECT_ERROR),
        Ok(Ok(s)) => {
            // Small requests must leave at once, not wait for Nagle's algorithm.
            let _ = s.set_nodelay(true);
            Ok(s)
        }
    }
}

fn io_kind(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => kind::RESET,
        _ => kind::IO,
    }
}

impl Conn {
    /// Drives one TCP connection until it must be replaced or the run ends.
    async fn session(&mut self, w: &Worker, mut stream: TcpStream) -> End {
        self.rbuf.clear();
        self.inflight.clear();
        self.decoder.reset(w.head);
        loop {
            if !self.fill(w).await {
                return End::Stop;
            }
            if !self.wbuf.is_empty() {
                if let Err(kind) = self.flush(&mut stream).await {
                    self.fail_inflight(w, kind);
                    return End::Reconnect;
                }
            }
            if self.inflight.is_empty() {
                return End::Stop;
            }
            if let Err(end) = self.receive(w, &mut stream).await {
                return end;
            }
        }
    }

    /// Queues what the schedule allows now into the write buffer; false when this user is done.
    /// With nothing in flight and nothing due, it first waits for the next intended time.
    async fn fill(&mut self, w: &Worker) -> bool {
        if !w.running() {
            return false;
        }
        let room = w.plan.pipeline - self.inflight.len();
        if room == 0 {
            return true;
        }
        let Some(pacer) = &w.pacer else {
            let n = w.take_budget(room);
            self.queue(w, n);
            return n > 0 || !self.inflight.is_empty();
        };
        let mut now = Instant::now();
        let mut room = room;
        if self.inflight.is_empty() {
            if w.take_budget(1) == 0 {
                return false;
            }
            let Some(t) = pacer.borrow_mut().take() else {
                return false;
            };
            if t > now {
                monoio::time::sleep_until(monoio::time::Instant::from_std(t)).await;
                if !w.running() {
                    return false;
                }
                now = Instant::now();
            }
            self.queue_at(w, t, now);
            room -= 1;
        }
        while room > 0 {
            let Some(t) = pacer.borrow_mut().take_due(now) else {
                break;
            };
            if w.take_budget(1) == 0 {
                break;
            }
            self.queue_at(w, t, now);
            room -= 1;
        }
        true
    }

    /// Queues `n` requests intended for now (closed model).
    fn queue(&mut self, w: &Worker, n: usize) {
        if n == 0 {
            return;
        }
        let now = Instant::now();
        for _ in 0..n {
            self.wbuf.extend_from_slice(&w.request);
            self.inflight.push_back(InFlight {
                intended: now,
                sent: now,
            });
        }
        w.rec.borrow_mut().sent(n as u64);
    }

    /// Queues one request intended for `intended`, written at `now` (open model).
    fn queue_at(&mut self, w: &Worker, intended: Instant, now: Instant) {
        self.wbuf.extend_from_slice(&w.request);
        self.inflight.push_back(InFlight {
            intended,
            sent: now,
        });
        let mut rec = w.rec.borrow_mut();
        rec.sent(1);
        let late = now.saturating_duration_since(intended);
        if late > LATE_AFTER {
            rec.late(late);
        }
    }

    async fn flush(&mut self, stream: &mut TcpStream) -> Result<(), &'static str> {
        let buf = std::mem::take(&mut self.wbuf);
        let (res, mut buf) = stream.write_all(buf).await;
        buf.clear();
        self.wbuf = buf;
        res.map(drop).map_err(|e| io_kind(&e))
    }

    /// Reads once (bounded by the oldest request's timeout) and accounts for every response
    /// completed by the bytes read.
    async fn receive(&mut self, w: &Worker, stream: &mut TcpStream) -> Result<(), End> {
        let n = match self.read_some(w, stream).await {
            Ok(n) => n,
            Err(kind) => return Err(self.fail_inflight(w, kind)),
        };
        if n == 0 {
            return Err(self.on_eof(w));
        }
        w.rec.borrow_mut().received(n);
        let now = Instant::now();
        let mut pos = 0;
        let result = loop {
            let capture = None;
            match self.decoder.decode(&self.rbuf[pos..], capture) {
                Ok(Status::Partial(used)) => {
                    pos += used;
                    break Ok(());
                }
                Ok(Status::Complete(used)) => {
                    pos += used;
                    if let Some(end) = self.complete(w, now) {
                        break Err(end);
                    }
                    if self.inflight.is_empty() {
                        break Ok(());
                    }
                }
                Err(e) => break Err(self.fail_parse(w, e)),
            }
        };
        self.rbuf.drain(..pos.min(self.rbuf.len()));
        result
    }

    async fn read_some(
        &mut self,
        w: &Worker,
        stream: &mut TcpStream,
    ) -> Result<usize, &'static str> {
        self.make_room();
        let front = self
            .inflight
            .front()
            .expect("reading with a request in flight");
        let deadline = monoio::time::Instant::from_std(front.sent + w.plan.timeout);
        let buf = std::mem::take(&mut self.rbuf);
        let len = buf.len();
        let cap = buf.capacity();
        match monoio::time::timeout_at(deadline, stream.read(buf.slice_mut(len..cap))).await {
            Err(_) => {
                // The cancelled read owns the old buffer; this connection is closed anyway.
                self.rbuf = Vec::with_capacity(READ_BUF_MIN);
                Err(kind::TIMEOUT)
            }
            Ok((res, slice)) => {
                self.rbuf = slice.into_inner();
                res.map_err(|e| io_kind(&e))
            }
        }
    }

    /// Grows the read buffer when unconsumed bytes fill it.
    fn make_room(&mut self) {
        let cap = self.rbuf.capacity();
        if self.rbuf.len() == cap && cap < READ_BUF_MAX {
            self.rbuf.reserve_exact((cap * 2).min(READ_BUF_MAX) - cap);
        }
    }

    /// A response ended: record it against the oldest request. Some(Reconnect) when the
    /// server asked to close the connection.
    fn complete(&mut self, w: &Worker, now: Instant) -> Option<End> {
        let req = self
            .inflight
            .pop_front()
            .expect("a response answers a request");
        let (status, keep_alive) = self
            .decoder
            .head()
            .map_or((0, false), |h| (h.status, h.keep_alive));
        let body = self.decoder.body_bytes();
        w.rec
            .borrow_mut()
            .response(0, status, now.saturating_duration_since(req.intended), body);
        self.decoder.reset(w.head);
        if keep_alive {
            None
        } else {
            Some(self.fail_inflight(w, kind::UNANSWERED))
        }
    }

    /// The peer closed the connection.
    fn on_eof(&mut self, w: &Worker) -> End {
        match self.decoder.finish_on_eof() {
            // A read-until-close body ended; anything behind it went unanswered.
            Ok(true) => self.complete(w, Instant::now()).unwrap_or(End::Reconnect),
            Ok(false) => self.fail_inflight(w, kind::CLOSED),
            Err(e) => self.fail_parse(w, e),
        }
    }

    fn fail_parse(&mut self, w: &Worker, e: ParseError) -> End {
        self.fail_inflight(w, e.name())
    }

    /// Counts the oldest request as failed by `kind` and every one behind it as unanswered.
    fn fail_inflight(&mut self, w: &Worker, kind: &'static str) -> End {
        let mut rec = w.rec.borrow_mut();
        if self.inflight.pop_front().is_some() {
            rec.request_error(0, kind);
        }
        for _ in self.inflight.drain(..) {
            rec.request_error(0, kind::UNANSWERED);
        }
        End::Reconnect
    }
}
