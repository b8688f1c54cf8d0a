//! One accepted connection: read, answer every complete request in order with a single write,
//! and close when the client or an error asks for it, when a request takes longer than the
//! header timeout to arrive, when the connection idles past the idle timeout, when it has
//! reached its maximum age, or when a newer connection evicts it at the connection cap.

use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

use super::frame::{parse_request, Parsed, Request, MAX_BODY_BYTES, MAX_HEAD_BYTES};
use super::limits::Limits;
use super::model::{respond, Response};
use super::registry::Ticket;
use super::wire::{write_response, ConnectionHeader};

/// Bytes asked for per read, and the read buffer's starting capacity.
const READ_CHUNK: usize = 16 * 1024;
/// Starting capacity of the output buffer.
const WRITE_INITIAL: usize = 4 * 1024;
/// After a server-side close with unread input, how long to drain it before closing,
/// so the kernel does not reset the connection and destroy the last answer in flight.
const LINGER_TIME: Duration = Duration::from_secs(1);
/// Most bytes drained during that linger.
const LINGER_BYTES: usize = MAX_HEAD_BYTES + MAX_BODY_BYTES;
/// Status for a client turned away at the connection cap (RFC 9110 §15.6.4).
const UNAVAILABLE: u16 = 503;

/// What to do after answering what is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Read,
    Close,
    /// Close, but the client may still be sending: drain before closing.
    LingerThenClose,
}

/// Answers every complete request at the front of `input`, appending the responses to `out`.
/// Returns the bytes consumed and what to do next. A `retire`d connection answers its next
/// request with `Connection: close` and closes.
pub fn answer_buffered(input: &[u8], out: &mut Vec<u8>, retire: bool) -> (usize, Next) {
    let mut used = 0;
    // Each round consumes at least one byte or returns, so this ends.
    while let Some(rest) = input.get(used..) {
        match parse_request(rest) {
            Parsed::Partial => return (used, Next::Read),
            Parsed::Rejected(reject) => {
                let resp = Response::rejected(reject.status(), reject.body());
                write_response(out, &resp, ConnectionHeader::Close);
                return (used, Next::LingerThenClose);
            }
            Parsed::Complete(mut req) => {
                req.keep_alive &= !retire;
                write_response(
                    out,
                    &respond(req.method, req.path, req.body),
                    header_for(&req),
                );
                used += req.len;
                if !req.keep_alive {
                    let next = if used < input.len() {
                        Next::LingerThenClose
                    } else {
                        Next::Close
                    };
                    return (used, next);
                }
            }
        }
    }
    (used, Next::Read)
}

fn header_for(req: &Request<'_>) -> ConnectionHeader {
    match (req.keep_alive, req.http10) {
        (true, false) => ConnectionHeader::None,
        (true, true) => ConnectionHeader::KeepAlive,
        (false, _) => ConnectionHeader::Close,
    }
}

/// Serves one connection until it closes. I/O errors end it quietly: the peer has gone.
/// Dropping `ticket` at the end takes the connection out of its thread's registry. Plain TCP
/// or TLS alike (the accept loop set TCP_NODELAY).
pub async fn serve_connection<S: AsyncReadRent + AsyncWriteRent>(
    mut stream: S,
    limits: Limits,
    ticket: Ticket,
) {
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(WRITE_INITIAL);
    let opened = Instant::now();
    // When the first byte of the request now buffered (in part) arrived.
    let mut request_started: Option<Instant> = None;
    loop {
        let retire = limits.retires(opened, Instant::now());
        let (used, next) = answer_buffered(&input, &mut out, retire);
        if !out.is_empty() {
            ticket.waiting(None);
            // A client that does not read its answers gets as long as an idle one.
            let write = monoio::time::timeout(limits.idle_timeout, stream.write_all(out)).await;
            let Ok((Ok(_), buf)) = write else { return };
            out = buf;
            out.clear();
        }
        match next {
            Next::Read => {}
            Next::Close => return,
            Next::LingerThenClose => return linger(stream).await,
        }
        input.drain(..used);
        let now = Instant::now();
        request_started = match (input.is_empty(), used) {
            (true, _) => None,
            (false, 0) => request_started.or(Some(now)),
            (false, _) => Some(now),
        };
        let deadline = match request_started {
            None => now + limits.idle_timeout,
            Some(since) => since + limits.header_timeout,
        };
        ticket.waiting(Some(request_started.unwrap_or(now)));
        input.reserve(READ_CHUNK);
        let filled = input.len();
        let read = stream.read(input.slice_mut(filled..));
        let sleep = monoio::time::sleep_until(monoio::time::Instant::from_std(deadline));
        let (read, slice) = monoio::select! {
            r = read => r,
            _ = sleep => return,
            _ = ticket.eviction.wait() => return,
        };
        input = slice.into_inner();
        if !matches!(read, Ok(n) if n > 0) {
            return;
        }
        request_started = request_started.or(Some(Instant::now()));
    }
}

/// Answers a client turned away at the connection cap with 503 and closes.
pub async fn turn_away(mut stream: monoio::net::TcpStream) {
    let mut out = Vec::with_capacity(WRITE_INITIAL);
    let resp = Response::rejected(UNAVAILABLE, br#"{"error":"server at its connection cap"}"#);
    write_response(&mut out, &resp, ConnectionHeader::Close);
    let _ = monoio::time::timeout(LINGER_TIME, stream.write_all(out)).await;
}

/// Half-closes, then drains what the client still sends, within [`LINGER_TIME`] and
/// [`LINGER_BYTES`].
async fn linger<S: AsyncReadRent + AsyncWriteRent>(mut stream: S) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut buf = vec![0u8; READ_CHUNK];
        let mut drained = 0usize;
        while drained < LINGER_BYTES {
            let (read, back) = stream.read(buf).await;
            buf = back;
            match read {
                Ok(n) if n > 0 => drained = drained.saturating_add(n),
                _ => return,
            }
        }
    };
    let _ = monoio::time::timeout(LINGER_TIME, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(input: &[u8]) -> (usize, Next, String) {
        let mut out = Vec::new();
        let (used, next) = answer_buffered(input, &mut out, false);
        (used, next, String::from_utf8(out).unwrap())
    }

    fn statuses(text: &str) -> Vec<&str> {
        text.match_indices("HTTP/1.1 ")
            .map(|(i, _)| &text[i + 9..i + 12])
            .collect()
    }

    #[test]
    fn pipelined_requests_answered_in_order_and_partial_tail_kept() {
        let input = b"GET /health HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n\
                      POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /hea";
        let (used, next, text) = answer(input);
        assert_eq!(statuses(&text), ["200", "404", "405"]);
        assert_eq!((&input[used..], next), (&b"GET /hea"[..], Next::Read));
    }

    #[test]
    fn close_stops_answering() {
        let input =
            b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\nGET /health HTTP/1.1\r\n\r\n";
        let (used, next, text) = answer(input);
        assert_eq!(statuses(&text), ["200"]);
        assert!(text.contains("Connection: close"));
        assert!(used < input.len());
        assert_eq!(next, Next::LingerThenClose);

        let input = b"GET /health HTTP/1.0\r\n\r\n";
        let (used, next, _) = answer(input);
        assert_eq!((used, next), (input.len(), Next::Close));
    }

    #[test]
    fn a_retired_connection_answers_one_request_with_close() {
        let input = b"GET /health HTTP/1.1\r\n\r\nGET /health HTTP/1.1\r\n\r\n";
        let mut out = Vec::new();
        let (used, next) = answer_buffered(input, &mut out, true);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(statuses(&text), ["200"]);
        assert!(text.contains("Connection: close"));
        assert_eq!((used, next), (input.len() / 2, Next::LingerThenClose));
    }

    #[test]
    fn garbage_after_good_request_answers_both_then_closes() {
        let (_, next, text) = answer(b"GET /health HTTP/1.1\r\n\r\n\x01\x02\r\n\r\n");
        assert_eq!(statuses(&text), ["200", "400"]);
        assert_eq!(next, Next::LingerThenClose);
    }

    #[test]
    fn empty_input_reads() {
        assert_eq!(answer(b""), (0, Next::Read, String::new()));
    }
}
