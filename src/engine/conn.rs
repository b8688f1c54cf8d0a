//! One user's connection loop, shared by every load model: connect, send what the schedule
//! allows (up to the pipeline depth), read and account for responses; on any error count
//! it under a named kind, close, and reconnect. The schedule decides *when*; this decides *how*.
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};

use super::flow::{Done, Flow, Redirect};
use super::shared::Shared;
use super::source::Pick;
use super::stale::{self, Peek};
use super::transport::{self, Stream};
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
/// A connection with nothing on the wire for this long is peeked at before its next
/// request, for bytes nobody asked for. A peek is a system call (2 µs measured on a loaded
/// VM, a third of a request's whole CPU cost), so a connection reused at once is not
/// peeked; unasked bytes that came with a response are caught as leftovers of its read.
pub const PEEK_AFTER_IDLE: Duration = Duration::from_millis(1);
/// How often a user that is not (yet) part of the load checks whether it is now.
pub const PARKED_POLL: Duration = Duration::from_millis(50);

/// A request on the wire, waiting for its response.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    pick: Pick,
    /// When it should have been sent: latency is measured from here.
    intended: Instant,
    /// When it was written (its intended time until then): the timeout and the service
    /// time run from here.
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
    /// A redirect's next hop goes to another origin ([`Conn::away`]); this connection
    /// stays the user's.
    Away,
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
    /// The last this many of `inflight` are rendered into `wbuf` but not yet written.
    unwritten: usize,
    /// A new connection: look for bytes nobody asked for before the first write.
    fresh: bool,
    /// When the last response left nothing in flight.
    /// Unwritten requests kept for the next connection (this one sent bytes unasked).
    carry: bool,
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
    /// The user's state between requests: on_start, captures, cookies, redirects.
    flow: Flow,
    /// The server closed the connection that a redirect to another origin came on.
    closed_behind: bool,
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
        unwritten: 0,
        fresh: true,
        carry: false,
        decoder: ResponseDecoder::new(),
        next_at: None,
        last_start: Instant::now(),
        sent_batch: Vec::new(),
        served: 0,
        retryable: false,
        idle_since: Instant::now(),
        flow: Flow::new(&w.plan),
        closed_behind: false,
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
        let stream = match w.or_stop(slot, transport::connect(&w)).await {
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
    conn.count_never_sent(&w);
    w.alive.set(w.alive.get() - 1);
}

/// The kind of an I/O error on an open connection, its words kept for the reports.
fn io_kind(w: &Shared, e: &io::Error) -> &'static str {
    let kind = match (transport::io_error_kind(e), e.kind()) {
        (Some(kind), _) => kind,
        (None, io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe) => kind::RESET,
        (None, _) => kind::IO,
    };
    w.rec.borrow_mut().note_error(kind, || e.to_string());
    kind
}

impl Conn {
    /// Drives one connection until it must be replaced or the run ends. A batch that a
    /// stale connection swallowed (still in `wbuf`, its requests in flight) goes out first.
    async fn session(&mut self, w: &Shared, mut stream: Stream) -> End {
        self.rbuf.clear();
        self.served = 0;
        if !std::mem::take(&mut self.carry) {
            self.inflight.clear();
            self.wbuf.clear();
            self.unwritten = 0;
        } else if self.unwritten == 0 {
            // A batch already written once and swallowed by a stale connection.
            self.resend_carried();
        }
        self.fresh = true;
        let mut sent_one = false;
        loop {
            // --no-keepalive: one request per connection, whatever the server would allow.
            if !w.plan.keepalive
                && self.inflight.is_empty()
                && std::mem::replace(&mut sent_one, true)
            {
                return End::Reconnect;
            }
            let idle = self.inflight.is_empty();
            if let Some(end) = self.fill(w).await {
                return end;
            }
            if let Some(end) = self.look_before_writing(w, &stream) {
                return end;
            }
            if !self.wbuf.is_empty() {
                self.retryable = idle && self.reused_after_idle() && self.all_idempotent();
                self.written(w);
                if let Err(kind) = self.flush(w, &mut stream).await {
                    return self.fail_or_retry(w, kind);
                }
            }
            if self.inflight.is_empty() {
                return End::Stop;
            }
            match self.receive(w, &mut stream).await {
                Ok(()) => {}
                Err(End::Away) => {
                    // Boxed: a hop elsewhere is rare, and its state would otherwise widen
                    // every user's future.
                    if let Some(end) = Box::pin(self.away(w)).await {
                        return end;
                    }
                }
                Err(end) => return end,
            }
        }
    }

    /// The queued hop goes to another origin: it and every hop after it there go out on a
    /// connection opened for them (`transport::connect_away`), until the chain ends or
    /// comes back to the target, whose hop then goes out on the user's own connection,
    /// still open unless its server closed it. Some(end) when that connection is over.
    async fn away(&mut self, w: &Shared) -> Option<End> {
        let closed = std::mem::take(&mut self.closed_behind);
        let left = Instant::now();
        let own = std::mem::replace(&mut self.rbuf, Vec::with_capacity(READ_BUF_MIN));
        self.retryable = false;
        while !self.inflight.is_empty() {
            let Some(to) = self.flow.away() else { break };
            self.carry = false;
            match transport::connect_away(w, to).await {
                Ok(mut stream) => self.exchange(w, &mut stream).await,
                Err(kind) => {
                    self.wbuf.clear();
                    self.fail_inflight(w, kind);
                }
            }
            self.rbuf.clear();
        }
        if self.inflight.is_empty() {
            self.flow.end_chain();
        }
        self.rbuf = own;
        // The user's own connection sat idle meanwhile (its server may have timed it out).
        self.idle_since = left;
        // A connection elsewhere that closed behind a hop back here is gone already.
        self.closed_behind = false;
        self.carry = closed && !self.inflight.is_empty();
        closed.then_some(End::Reconnect)
    }

    /// Writes the queued hop to `stream` and reads its answers until the chain leaves this
    /// connection, ends, or the connection fails (counted).
    async fn exchange(&mut self, w: &Shared, stream: &mut Stream) {
        loop {
            if !self.wbuf.is_empty() {
                if let Err(kind) = self.flush(w, stream).await {
                    self.fail_inflight(w, kind);
                    return;
                }
            }
            if self.inflight.is_empty() || self.receive(w, stream).await.is_err() {
                return;
            }
        }
    }

    /// The connection served before and then sat idle long enough for a server to time it
    /// out. Back-to-back requests are not: a server that closes one of those after reading
    /// it has refused it, and that is an error, not a stale connection.
    fn reused_after_idle(&self) -> bool {
        self.served > 0 && self.idle_since.elapsed() >= stale::CHECK_AFTER_IDLE
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
        self.carry = true;
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
            self.queue(w, now);
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
            // Queued before the wait: if the run ends first, it is counted unsent.
            self.queue(w, t);
            if t > now {
                w.pace.sleep_until(t).await;
                if !w.running() {
                    return Some(End::Stop);
                }
                now = Instant::now();
            }
            room -= 1;
        }
        while room > 0 {
            let Some(t) = pacer.borrow_mut().take_due(now) else {
                break;
            };
            if w.take_budget(1) == 0 {
                break;
            }
            self.queue(w, t);
            room -= 1;
        }
        None
    }

    /// Renders one request into the write buffer, intended for `intended`; counted when
    /// written.
    fn queue(&mut self, w: &Shared, intended: Instant) {
        let start = self.wbuf.len();
        let pick = w
            .source
            .borrow_mut()
            .next(&w.plan, &mut self.flow, &mut self.wbuf);
        self.flow.sent(&w.plan, pick.task, &self.wbuf[start..]);
        if self.inflight.is_empty() {
            self.decoder.reset(pick.head);
        }
        self.inflight.push_back(InFlight {
            pick,
            intended,
            sent: intended,
        });
        self.unwritten += 1;
    }

    /// The unwritten requests are about to be written now: counts them sent and, in the
    /// open model, records how late each leaves (every one, on time or not).
    fn written(&mut self, w: &Shared) {
        let now = Instant::now();
        let open = w.pacer.is_some();
        let mut rec = w.rec.borrow_mut();
        let from = self.inflight.len().saturating_sub(self.unwritten);
        for req in self.inflight.range_mut(from..) {
            req.sent = now;
            if open {
                rec.late(now.saturating_duration_since(req.intended));
            }
        }
        rec.sent(self.unwritten as u64);
        self.unwritten = 0;
    }

    /// Before writing to a connection that is new or sat quiet, one non-blocking peek says
    /// what happened meanwhile (a busy connection pays nothing): bytes nobody asked for are
    /// counted as `unsolicited_response`, and a close by the server while the connection
    /// idled is a quiet reconnect; either way the queued requests go on the next connection.
    /// Over TLS, bytes waiting may be the server's session tickets, so only a close counts.
    fn look_before_writing(&mut self, w: &Shared, stream: &Stream) -> Option<End> {
        let fresh = std::mem::take(&mut self.fresh);
        if self.unwritten != self.inflight.len() || self.inflight.is_empty() {
            return None;
        }
        if !fresh && self.idle_since.elapsed() < PEEK_AFTER_IDLE {
            return None;
        }
        match stale::peek(stream) {
            Peek::Data if !stream.is_tls() => {
                w.rec.borrow_mut().connection_error(kind::UNSOLICITED);
            }
            Peek::Closed if self.reused_after_idle() => {}
            _ => return None,
        }
        self.carry = true;
        Some(End::Reconnect)
    }

    /// The run ended: what this user had taken from the schedule and not written is unsent.
    fn count_never_sent(&mut self, w: &Shared) {
        if w.pacer.is_none() {
            return;
        }
        let from = self.inflight.len().saturating_sub(self.unwritten);
        for req in self.inflight.range(from..) {
            w.never_sent(req.intended);
        }
        self.unwritten = 0;
    }

    async fn flush(&mut self, w: &Shared, stream: &mut Stream) -> Result<(), &'static str> {
        let buf = std::mem::take(&mut self.wbuf);
        let (res, buf) = stream.write_all(buf).await;
        // Keep what was written until its responses start; the two buffers take turns.
        self.wbuf = std::mem::replace(&mut self.sent_batch, buf);
        self.wbuf.clear();
        res.map(drop).map_err(|e| io_kind(w, &e))
    }

    /// Reads once (bounded by the oldest request's timeout) and accounts for every response
    /// completed by the bytes read.
    async fn receive(&mut self, w: &Shared, stream: &mut Stream) -> Result<(), End> {
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
            let fresh = self.decoder.head().is_none();
            let decoded = self.decoder.decode(&self.rbuf[pos..], capture);
            if let Some(head) = self.decoder.head().filter(|_| fresh) {
                self.flow.on_head(&w.plan, task, head, &self.rbuf[pos..]);
            }
            match decoded {
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
        if result.is_ok() && self.inflight.is_empty() {
            if pos < self.rbuf.len() {
                // More than was asked for: never the next request's response.
                w.rec.borrow_mut().connection_error(kind::UNSOLICITED);
                return Err(End::Reconnect);
            }
            self.idle_since = now;
        }
        self.rbuf.drain(..pos.min(self.rbuf.len()));
        result
    }

    async fn read_some(&mut self, w: &Shared, stream: &mut Stream) -> Result<usize, &'static str> {
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
                w.rec.borrow_mut().note_error(kind::TIMEOUT, || {
                    format!("no complete response within --timeout {:?}", w.plan.timeout)
                });
                Err(kind::TIMEOUT)
            }
            Ok((res, slice)) => {
                self.rbuf = slice.into_inner();
                res.map_err(|e| io_kind(w, &e))
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
        let hop = self.flow.redirect(&w.plan, task, status, &mut self.wbuf);
        if let Redirect::Hop {
            head,
            to_get,
            moved,
        } = hop
        {
            let idempotent = to_get || req.pick.idempotent;
            let pick = Pick {
                head,
                idempotent,
                ..req.pick
            };
            return self.hop(req, pick, keep_alive, moved);
        }
        {
            let mut rec = w.rec.borrow_mut();
            if let Redirect::Fail(kind) = hop {
                rec.request_error(task, kind);
            } else {
                rec.response(task, status, latency, self.decoder.body_bytes());
                rec.service(task, now.saturating_duration_since(req.sent));
                if let Some(rows) = req.pick.batch {
                    rec.batch(task, rows, latency);
                }
                let invalid = req.pick.invalid;
                let done = Done {
                    task,
                    invalid,
                    status,
                    latency,
                };
                let checked = self.flow.finish(&w.plan, done, &self.body);
                if let Err(miss) = checked {
                    rec.failure(task, &miss);
                }
            }
        }
        self.body.clear();
        self.served += 1;
        self.decoder
            .reset(self.inflight.front().is_some_and(|f| f.pick.head));
        if self.inflight.is_empty() {
            self.next_at = self.flow.hold_back(self.think(w, now), now);
            self.idle_since = now;
        }
        match (keep_alive, self.inflight.is_empty()) {
            (true, _) => None,
            (false, true) => Some(End::Reconnect),
            (false, false) => Some(self.fail_inflight(w, kind::UNANSWERED)),
        }
    }

    /// A redirect answered `req`; its next hop (already written) goes out on this
    /// connection, or on a fresh one when the server closes this one, or to another origin
    /// (`moved`). Latency runs on from the task's intended time.
    fn hop(&mut self, req: InFlight, pick: Pick, keep_alive: bool, moved: bool) -> Option<End> {
        self.body.clear();
        self.served += 1;
        self.decoder.reset(pick.head);
        self.inflight.push_back(InFlight {
            pick,
            sent: Instant::now(),
            ..req
        });
        if moved {
            self.closed_behind = !keep_alive;
            return Some(End::Away);
        }
        // The hop's bytes wait in `wbuf`: carried to the fresh connection when this one closes.
        self.carry = !keep_alive;
        (!keep_alive).then_some(End::Reconnect)
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
            Ok(true) => match self.complete(w, Instant::now()) {
                Some(End::Away) => {
                    self.closed_behind = true;
                    End::Away
                }
                end => end.unwrap_or(End::Reconnect),
            },
            Ok(false) => self.fail_or_retry(w, kind::CLOSED),
            Err(e) => self.fail_parse(w, e),
        }
    }

    fn fail_parse(&mut self, w: &Shared, e: ParseError) -> End {
        w.rec.borrow_mut().note_error(e.name(), || e.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Plan, PlanInput};
    use std::sync::Arc;

    /// The largest a user's future may be: one lives per connection. It is 2,432 bytes; with
    /// the TLS session inside the connect future and a hop's connect inside every session,
    /// it was 3,968 (and peak RSS at 10,000 connections 61 MiB instead of 47).
    const USER_FUTURE_MAX: usize = 3072;

    #[test]
    fn a_users_future_does_not_hold_a_tls_session() {
        let input = PlanInput {
            url: Some("http://127.0.0.1:9/".into()),
            users: Some(1),
            ..PlanInput::default()
        };
        let plan = Arc::new(Plan::build(input, &[0]).unwrap());
        let size = crate::engine::driver::block_on(crate::os::DriverChoice::Auto, |_| async {
            let w = std::rc::Rc::new(Shared::new(plan, 0, Instant::now()));
            std::mem::size_of_val(&run_user(w, 0, 0))
        })
        .expect("runtime");
        eprintln!("a user's future: {size} bytes");
        assert!(size <= USER_FUTURE_MAX, "{size} bytes");
    }
}
