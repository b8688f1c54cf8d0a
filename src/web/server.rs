//! The dashboard's HTTP server: std::net on its own threads, one short-lived thread per
//! connection (bounded in number), one request per connection (`Connection: close`), the
//! request head parsed by httparse. Nothing here knows the routes; `Handler` does.
//!
//! It never shares a thread, a lock held for long, or a channel with the load workers: the
//! coordinator only pushes into the bounded queues of `stream`, which never block.
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::stream::{Next, Queue};

/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 64;
/// Longest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Longest request body (the start form is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Headers parsed at most.
pub const MAX_HEADERS: usize = 64;
/// A client that sends its request slower than this is dropped.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A client that does not take a response (or a stream event) within this is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A stream with nothing new sends a comment this often, so a closed browser is noticed.
pub const STREAM_HEARTBEAT: Duration = Duration::from_secs(10);

/// A parsed request.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(v))
        })
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .find_map(|c| {
                let (k, v) = c.trim().split_once('=')?;
                (k == name).then_some(v)
            })
    }
}

/// `+` and `%XX` decoded; malformed escapes are kept as written.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a handler answers: a whole response, or a stream of server-sent events.
pub enum Reply {
    Whole(Response),
    Stream {
        /// Extra headers for the stream's head (a cookie, say).
        headers: Vec<(&'static str, String)>,
        /// Sent first, then whatever the queue yields.
        first: Vec<u8>,
        queue: Arc<Queue>,
    },
}

/// A complete response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Self {
        let mut body = body.into();
        body.push('\n');
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response::new(status, "application/json", value.to_string())
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Routes a request to its reply.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request) -> Reply;
}

/// Binds `addr` and serves `handler` on a thread of its own; returns the bound address.
pub fn spawn(addr: SocketAddr, handler: Arc<dyn Handler>) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    thread::Builder::new()
        .name("blast-web".into())
        .spawn(move || accept_loop(&listener, &handler))?;
    Ok(local)
}

fn accept_loop(listener: &TcpListener, handler: &Arc<dyn Handler>) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = write_response(&stream, &Response::text(503, "too many connections"));
            continue;
        }
        let (handler, active) = (handler.clone(), active.clone());
        let spawned = thread::Builder::new()
            .name("blast-web-conn".into())
            .spawn(move || {
                serve_connection(stream, &*handler);
                active.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // The thread and its count went with the closure; nothing else to undo.
            continue;
        }
    }
}

fn serve_connection(stream: TcpStream, handler: &dyn Handler) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let req = match read_request(&stream) {
        Ok(req) => req,
        Err(ReadError::Io) => return,
        Err(ReadError::Bad(why)) => {
            let _ = write_response(&stream, &Response::text(400, why));
            return;
        }
        Err(ReadError::TooLarge) => {
            let _ = write_response(&stream, &Response::text(413, "request too large"));
            return;
        }
    };
    match handler.handle(&req) {
        Reply::Whole(resp) => {
            let _ = write_response(&stream, &resp);
        }
        Reply::Stream {
            headers,
            first,
            queue,
        } => {
            let _ = write_stream(&stream, &headers, &first, &queue);
            queue.close();
        }
    }
}

#[derive(Debug)]
enum ReadError {
    /// The client went away or was too slow; nothing to answer.
    Io,
    Bad(&'static str),
    TooLarge,
}

/// Reads one request: the head up to its blank line, then `Content-Length` bytes of body.
fn read_request(stream: &TcpStream) -> Result<Request, ReadError> {
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let before = head.len();
        // `Take` over the one BufReader: nothing is buffered past the head.
        let n = (&mut reader)
            .take((MAX_HEAD_BYTES + 1 - head.len()) as u64)
            .read_until(b'\n', &mut head)
            .map_err(|_| ReadError::Io)?;
        if n == 0 && head.len() == before {
            return Err(ReadError::Io);
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(ReadError::TooLarge);
        }
    }
    let mut req = parse_head(&head)?;
    let length: usize = match req.header("content-length") {
        None => 0,
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ReadError::Bad("bad Content-Length"))?,
    };
    if length > MAX_BODY_BYTES {
        return Err(ReadError::TooLarge);
    }
    req.body = vec![0; length];
    reader
        .read_exact(&mut req.body)
        .map_err(|_| ReadError::Io)?;
    Ok(req)
}

fn parse_head(head: &[u8]) -> Result<Request, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ReadError::Bad("incomplete request head")),
        Err(_) => return Err(ReadError::Bad("malformed request head")),
    }
    let target = parsed.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Request {
        method: parsed.method.unwrap_or("").to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers: parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Headers every response carries: no caching, no framing by other sites, a script policy
/// that runs only the server's own files.
const COMMON_HEADERS: &str = "Connection: close\r\n\
Cache-Control: no-store\r\n\
X-Content-Type-Options: nosniff\r\n\
X-Frame-Options: DENY\r\n\
Referrer-Policy: no-referrer\r\n\
Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'\r\n";

fn head(status: u16, content_type: &str, headers: &[(&'static str, String)]) -> String {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\n{COMMON_HEADERS}Content-Type: {content_type}\r\n",
        reason(status)
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out
}

fn write_response(mut stream: &TcpStream, resp: &Response) -> io::Result<()> {
    let mut out = head(resp.status, resp.content_type, &resp.headers).into_bytes();
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", resp.body.len()).as_bytes());
    out.extend_from_slice(&resp.body);
    stream.write_all(&out)?;
    stream.flush()
}

/// The stream's head, then each event as the queue yields it, until the client goes away,
/// stops reading for `WRITE_TIMEOUT`, or the queue is closed.
fn write_stream(
    mut stream: &TcpStream,
    headers: &[(&'static str, String)],
    first: &[u8],
    queue: &Queue,
) -> io::Result<()> {
    let mut out = head(200, "text/event-stream", headers).into_bytes();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(first);
    stream.write_all(&out)?;
    loop {
        match queue.next(STREAM_HEARTBEAT) {
            Next::Event(e) => stream.write_all(e.as_bytes())?,
            Next::Idle => stream.write_all(b": ping\n\n")?,
            Next::Closed => return Ok(()),
        }
        stream.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_cookies_are_read() {
        let req = Request {
            query: "a=1&token=x%2By+z&b".into(),
            headers: vec![("Cookie".into(), "k=v; blast_token=abc".into())],
            ..Request::default()
        };
        assert_eq!(req.query_param("token").as_deref(), Some("x+y z"));
        assert_eq!(req.query_param("b").as_deref(), Some(""));
        assert_eq!(req.query_param("c"), None);
        assert_eq!(req.cookie("blast_token"), Some("abc"));
        assert_eq!(req.cookie("nope"), None);
    }

    #[test]
    fn malformed_escapes_are_kept_not_a_panic() {
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%41"), "A");
    }

    #[test]
    fn the_head_is_parsed_with_path_and_query_apart() {
        let req = parse_head(b"GET /x?y=1 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", "/x"));
        assert_eq!(req.query, "y=1");
        assert_eq!(req.header("host"), Some("h"));
        assert!(parse_head(b"NOT HTTP\r\n\r\n").is_err());
    }
}
