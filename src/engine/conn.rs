//! One user's connection loop, shared by every load model: connect, send what the schedule
//! allows (up to the pipeline depth), read and account for responses; on any error count
//! it under a named kind, close, and reconnect. The schedule decides *when*; this decides *how*.
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use super::shared::Shared;
use super::source::Pick;
use super::stale::{self, Peek};
use crate::http::{ParseError, ResponseDecoder, Status, MAX_HEAD_BYTES};
use crate::load::Pacer;
use crate::results::kind;
use crate::scenario::Wait;

/// A connection's read buffer starts this small (10,000 connections stay cheap) ...
pub const READ_BUF_MIN: usize = 512;
/// ... and doubles whenever a read fills it, up to this (it must hold a maximal response head).
pub const READ_BUF_MAX: usize = MAX_HEAD_BYTES + 4096;
/// First pause after a failed connection attempt; doubles up to `RECONNECT_BACKOFF_MAX`.
pub const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(10);
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// A request sent this long after its intended time counts as late (the timer's resolution).
pub const LATE_AFTER: Duration = Duration::from_millis(1);
/// How often a user that is not (yet) part of the load checks whether it is now.
pub const PARKED_POLL: Duration = Duration::from_millis(50);

/// A request on the wire, waiting for its response.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    pick: Pick,
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
    /// The load shape has no room for this user now: close and wait.
    Park,
}

/// Buffers and state that outlive a single TCP connection.
struct Conn {
    /// Run-wide user index (spawn order, ramp membership).
    user: u64,
    rbuf: Vec<u8>,
    /// The last read filled `rbuf`: grow it before the next.
    grow_read_buffer: bool,
    wbuf: Vec<u8>,
    /// The response body, kept only for tasks whose expectations read it.
    body: Vec<u8>,
    inflight: VecDeque<InFlight>,
    decoder: ResponseDecoder,
    /// Think time: no request before this instant.
    next_at: Option<Instant>,
    /// When this user's last task started (for pacing).
    last_start: Instant,
    /// The bytes of the last write, kept until its responses start, so a batch a stale
    /// keep-alive connection swallowed can go out again unchanged.
    sent_batch: Vec<u8>,
    /// Responses completed on the current connection: a connection with none is fresh.
    served: u64,
    /// The requests in flight are exactly the last write, made on a reused connection
    /// after it sat idle, all idempotent, and no byte has come back since: if the
    /// connection turns out closed, they may be sent again once.
    retryable: bool,
    /// When the current connection last had nothing in flight.
    idle_since: Instant,
}

/// Runs user `user` (local index `slot` on this worker) until the worker stops or the user
/// has nothing left to send. Every wait ends on the worker's stop signal, so a stopped
/// worker's users close their sockets at once.
pub async fn run_user(w: std::rc::Rc<Shared>, slot: usize, user: u64) {
    let mut conn = Conn {
        user,
        rbuf: Vec::with_capacity(READ_BUF_MIN),
        grow_read_buffer: false,
        wbuf: Vec::new(),
        body: Vec::new(),
        inflight: VecDeque::with_capacity(w.plan.pipeline),
        decoder: ResponseDecoder::new(),
        next_at: None,
        last_start: Instant::now(),
        sent_batch: Vec::new(),
        served: 0,
        retryable: false,
        idle_since: Instant::now(),
    };
    let mut backoff = RECONNECT_BACKOFF_MIN;
    w.alive.set(w.alive.get() + 1);
    // A batch carried to a fresh connection (a stale keep-alive retry, or requests queued
    // before an idle close was noticed) was sent and counted already: it still needs its
    // outcome when the request budget is spent.
    while w.running() && (w.has_budget() || !conn.inflight.is_empty()) {
        if !w.user_active(user, Instant::now()) {
            w.or_stop(slot, monoio::time::sleep(PARKED_POLL)).await;
            continue;
        }
        // Reconnect when the user is about to send, not while it thinks: after the server
        // closed the last connection (`Connection: close`), an idle connection held through
        // the think time would block a server that serves one connection at a time, as
        // gunicorn's sync workers do, for up to the whole think time. Locust connects lazily.
        if let Some(at) = conn.next_at {
            if at > Instant::now() {
                let think = monoio::time::sleep_until(monoio::time::Instant::from_std(at));
                w.or_stop(slot, think).await;
                continue;
            }
        }
        let stream = match w.or_stop(slot, connect(&w)).await {
            None => break,
            Some(Ok(s)) => s,
            Some(Err(kind)) => {
                // With --requests, a failed attempt uses up a request: a dead target must
                // end the run, not retry forever. Once none is left, a carried batch
                // fails with the attempt instead.
                if w.take_budget(1) == 0 && !conn.inflight.is_empty() {
                    conn.wbuf.clear();
                    conn.fail_inflight(&w, kind);
                } else {
                    w.rec.borrow_mut().connection_error(kind);
                }
                // The failed attempt was this user's task: its think time follows as after
                // any task, with the reconnect backoff on top, never instead.
                let now = Instant::now();
                let think = conn.think(&w, now).unwrap_or(now);
                conn.next_at = Some(think + backoff);
                backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
                continue;
            }
        };
        backoff = RECONNECT_BACKOFF_MIN;
        w.rec.borrow_mut().connected();
        w.connected.set(w.connected.get() + 1);
        let end = w.or_stop(slot, conn.session(&w, stream)).await;
        w.connected.set(w.connected.get() - 1);
        if matches!(end, None | Some(End::Stop)) {
            break;
        }
    }
    w.alive.set(w.alive.get() - 1);
}

async fn connect(w: &Shared) -> Result<TcpStream, &'static str> {
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
    /// Drives one TCP connection until it must be replaced or the run ends. A batch that a
    /// stale connection swallowed (still in `wbuf`, its requests in flight) goes out first.
    async fn session(&mut self, w: &Shared, mut stream: TcpStream) -> End {
        self.rbuf.clear();
        self.served = 0;
        let mut carried = !self.wbuf.is_empty();
        if carried {
            self.resend_carried();
        }
        loop {
            let idle = self.inflight.is_empty();
            if !std::mem::take(&mut carried) {
                if let Some(end) = self.fill(w).await {
                    return end;
                }
                if idle && self.closed_while_idle(&stream) {
                    // Reconnect quietly; what was queued goes out on the new connection.
                    return End::Reconnect;
                }
            }
            if !self.wbuf.is_empty() {
                self.retryable = idle && self.served > 0 && self.all_idempotent();
                if let Err(kind) = self.flush(&mut stream).await {
                    return self.fail_or_retry(w, kind);
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

    /// A reused connection that sat idle: has the server closed it meanwhile?
    fn closed_while_idle(&self, stream: &TcpStream) -> bool {
        self.served > 0
            && self.idle_since.elapsed() >= stale::CHECK_AFTER_IDLE
            && stale::peek(stream) == Peek::Closed
    }

    fn all_idempotent(&self) -> bool {
        self.inflight.iter().all(|f| f.pick.idempotent)
    }

    /// The carried batch leaves now: its timeout runs from this send, its latency still
    /// from each request's intended time.
    fn resend_carried(&mut self) {
        let now = Instant::now();
        for f in &mut self.inflight {
            f.sent = now;
        }
        if let Some(front) = self.inflight.front() {
            self.decoder.reset(front.pick.head);
        }
    }

    /// The connection failed with `kind`: a batch a stale keep-alive connection swallowed
    /// is carried to a fresh connection once (counted, not failed); anything else fails.
    fn fail_or_retry(&mut self, w: &Shared, kind: &'static str) -> End {
        let stale = self.retryable && (kind == kind::CLOSED || kind == kind::RESET);
        self.retryable = false;
        if !stale {
            return self.fail_inflight(w, kind);
        }
        std::mem::swap(&mut self.wbuf, &mut self.sent_batch);
        w.rec.borrow_mut().retried_stale(self.inflight.len() as u64);
        End::Reconnect
    }

    /// Queues what the schedule allows now into the write buffer; Some(end) when this
    /// session is over. With nothing in flight it first waits for the user's think time
    /// (closed model) or the next intended send time (open model).
    async fn fill(&mut self, w: &Shared) -> Option<End> {
        if !w.running() {
            return Some(End::Stop);
        }
        let room = w.plan.pipeline - self.inflight.len();
        if room < self.refill_at(w) {
            return None;
        }
        if self.inflight.is_empty() && !w.user_active(self.user, Instant::now()) {
            return Some(End::Park);
        }
        match &w.pacer {
            None => self.fill_closed(w, room).await,
            Some(pacer) => self.fill_open(w, pacer, room).await,
        }
    }

    /// Free pipeline slots worth a write: with depth K, refill once half the slots are
    /// free (one write per K/2 responses, like a batch), a single slot at depth 1. The open
    /// model sends whatever is due, so it refills from one free slot.
    fn refill_at(&self, w: &Shared) -> usize {
        if w.pacer.is_some() {
            1
        } else {
            (w.plan.pipeline / 2).max(1)
        }
    }

    /// Closed model: as many requests as there is room for, once the think time is over.
    async fn fill_closed(&mut self, w: &Shared, room: usize) -> Option<End> {
        if self.inflight.is_empty() {
            if let Some(at) = self.next_at.take() {
                if at > Instant::now() {
                    monoio::time::sleep_until(monoio::time::Instant::from_std(at)).await;
                    if !w.running() {
                        return Some(End::Stop);
                    }
                }
            }
        }
        let n = w.take_budget(room);
        if n == 0 {
            return self.inflight.is_empty().then_some(End::Stop);
        }
        let now = Instant::now();
        self.last_start = now;
        for _ in 0..n {
            self.queue(w, now, now);
        }
        None
    }

    /// Open model: the next intended time (waiting for it if nothing is in flight), then
    /// every other one already due, up to the pipeline depth.
    async fn fill_open(
        &mut self,
        w: &Shared,
        pacer: &std::cell::RefCell<Pacer>,
        mut room: usize,
    ) -> Option<End> {
        let mut now = Instant::now();
        if self.inflight.is_empty() {
            if w.take_budget(1) == 0 {
                return Some(End::Stop);
            }
            let Some(t) = pacer.borrow_mut().take() else {
                return Some(End::Stop);
            };
            if t > now {
                monoio::time::sleep_until(monoio::time::Instant::from_std(t)).await;
                if !w.running() {
                    return Some(End::Stop);
                }
                now = Instant::now();
            }
            self.queue(w, t, now);
            room -= 1;
        }
        while room > 0 {
            let Some(t) = pacer.borrow_mut().take_due(now) else {
                break;
            };
            if w.take_budget(1) == 0 {
                break;
            }
            self.queue(w, t, now);
            room -= 1;
        }
        None
    }

    /// Renders one request into the write buffer, intended for `intended`, written at `now`.
    fn queue(&mut self, w: &Shared, intended: Instant, now: Instant) {
        let pick = w
            .source
            .borrow_mut()
            .next(&w.plan.target.host, &mut self.wbuf);
        if self.inflight.is_empty() {
            self.decoder.reset(pick.head);
        }
        self.inflight.push_back(InFlight {
            pick,
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
        let (res, buf) = stream.write_all(buf).await;
        // Keep what was written until its responses start; the two buffers take turns.
        self.wbuf = std::mem::replace(&mut self.sent_batch, buf);
        self.wbuf.clear();
        res.map(drop).map_err(|e| io_kind(&e))
    }

    /// Reads once (bounded by the oldest request's timeout) and accounts for every response
    /// completed by the bytes read.
    async fn receive(&mut self, w: &Shared, stream: &mut TcpStream) -> Result<(), End> {
        let space = self.rbuf.capacity() - self.rbuf.len();
        let n = match self.read_some(w, stream).await {
            Ok(n) => n,
            Err(kind) => return Err(self.fail_or_retry(w, kind)),
        };
        if n == 0 {
            return Err(self.on_eof(w));
        }
        self.retryable = false;
        w.rec.borrow_mut().received(n);
        // A full read means more is waiting: read more at a time from now on.
        self.grow_read_buffer = n == space;
        let now = Instant::now();
        let mut pos = 0;
        let result = loop {
            let task = self.inflight.front().map_or(0, |f| f.pick.task);
            let capture = w.capture[task].then_some(&mut self.body);
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
        w: &Shared,
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

    /// Grows the read buffer when unconsumed bytes fill it or the last read filled it.
    fn make_room(&mut self) {
        let cap = self.rbuf.capacity();
        let full = self.rbuf.len() == cap || std::mem::take(&mut self.grow_read_buffer);
        if full && cap < READ_BUF_MAX {
            self.rbuf.reserve_exact((cap * 2).min(READ_BUF_MAX) - cap);
        }
    }

    /// A response ended: record it against the oldest request and check its expectations.
    /// Some(Reconnect) when the server asked to close the connection.
    fn complete(&mut self, w: &Shared, now: Instant) -> Option<End> {
        let req = self
            .inflight
            .pop_front()
            .expect("a response answers a request");
        let (status, keep_alive) = self
            .decoder
            .head()
            .map_or((0, false), |h| (h.status, h.keep_alive));
        let latency = now.saturating_duration_since(req.intended);
        let task = req.pick.task;
        {
            let mut rec = w.rec.borrow_mut();
            rec.response(task, status, latency, self.decoder.body_bytes());
            if let Some(s) = &w.plan.scenario {
                if let Err(miss) =
                    s.tasks[task].check(req.pick.invalid, status, latency, &self.body)
                {
                    rec.failure(task, &miss);
                }
            }
        }
        self.body.clear();
        self.served += 1;
        self.decoder
            .reset(self.inflight.front().is_some_and(|f| f.pick.head));
        if self.inflight.is_empty() {
            self.next_at = self.think(w, now);
            self.idle_since = now;
        }
        match (keep_alive, self.inflight.is_empty()) {
            (true, _) => None,
            (false, true) => Some(End::Reconnect),
            (false, false) => Some(self.fail_inflight(w, kind::UNANSWERED)),
        }
    }

    /// When this user may send again after a response at `now`.
    fn think(&self, w: &Shared, now: Instant) -> Option<Instant> {
        match w.plan.wait {
            Wait::None => None,
            Wait::Pacing(every) => Some(self.last_start + every),
            wait => Some(now + w.source.borrow_mut().think(wait)),
        }
    }

    /// The peer closed the connection.
    fn on_eof(&mut self, w: &Shared) -> End {
        match self.decoder.finish_on_eof() {
            // A read-until-close body ended; anything behind it went unanswered.
            Ok(true) => self.complete(w, Instant::now()).unwrap_or(End::Reconnect),
            Ok(false) => self.fail_or_retry(w, kind::CLOSED),
            Err(e) => self.fail_parse(w, e),
        }
    }

    fn fail_parse(&mut self, w: &Shared, e: ParseError) -> End {
        self.fail_inflight(w, e.name())
    }

    /// Counts the oldest request as failed by `kind` and every one behind it as unanswered.
    /// The user then thinks as after a response: a failing server is not sent more
    /// requests than a healthy one.
    fn fail_inflight(&mut self, w: &Shared, kind: &'static str) -> End {
        {
            let mut rec = w.rec.borrow_mut();
            if let Some(front) = self.inflight.pop_front() {
                rec.request_error(front.pick.task, kind);
            }
            for behind in self.inflight.drain(..) {
                rec.request_error(behind.pick.task, kind::UNANSWERED);
            }
        }
        self.body.clear();
        self.next_at = self.think(w, Instant::now());
        End::Reconnect
    }
}
