//! Request framing with no I/O: finds the next complete request at the front of a read buffer,
//! or says why the connection must be answered with an error and closed.
//!
//! Bodies are framed by `Content-Length` only; every size is bounded by a named limit.

/// Longest request head (request line and headers) accepted.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Most headers accepted in one request.
pub const MAX_HEADERS: usize = 32;
/// Longest request body accepted: room for an image upload (`POST /image`).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One complete request, borrowed from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    /// Bytes this request occupies at the front of the buffer.
    pub len: usize,
    pub http10: bool,
    /// Whether the client may send another request on this connection.
    pub keep_alive: bool,
}

/// Why a request cannot be served; the connection is answered and closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Not HTTP/1.x, or an unusable header such as a bad `Content-Length`.
    BadRequest,
    /// A body framed other than by `Content-Length` (e.g. chunked).
    LengthRequired,
    BodyTooLarge,
    HeadTooLarge,
}

impl Reject {
    pub fn status(self) -> u16 {
        match self {
            Reject::BadRequest => 400,
            Reject::LengthRequired => 411,
            Reject::BodyTooLarge => 413,
            Reject::HeadTooLarge => 431,
        }
    }

    pub fn body(self) -> &'static [u8] {
        match self {
            Reject::BadRequest => br#"{"error":"bad request"}"#,
            Reject::LengthRequired => br#"{"error":"request bodies need Content-Length"}"#,
            Reject::BodyTooLarge => br#"{"error":"request body too large"}"#,
            Reject::HeadTooLarge => br#"{"error":"request head too large"}"#,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// More bytes are needed.
    Partial,
    Complete(Request<'a>),
    Rejected(Reject),
}

/// What the headers say about framing and the connection.
#[derive(Default)]
struct HeadFacts {
    content_length: Option<usize>,
    chunked_or_other_coding: bool,
    close: bool,
    keep_alive: bool,
}

/// Parses the request at the front of `buf`.
pub fn parse_request(buf: &[u8]) -> Parsed<'_> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD_BYTES => n,
        Ok(httparse::Status::Complete(_)) => return Parsed::Rejected(Reject::HeadTooLarge),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Parsed::Rejected(Reject::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Rejected(Reject::HeadTooLarge),
        Err(_) => return Parsed::Rejected(Reject::BadRequest),
    };
    let facts = match head_facts(req.headers) {
        Ok(facts) => facts,
        Err(reject) => return Parsed::Rejected(reject),
    };
    let body_len = facts.content_length.unwrap_or(0);
    if body_len > MAX_BODY_BYTES {
        return Parsed::Rejected(Reject::BodyTooLarge);
    }
    let Some(len) = head_len.checked_add(body_len) else {
        return Parsed::Rejected(Reject::BodyTooLarge);
    };
    let Some(body) = buf.get(head_len..len) else {
        return Parsed::Partial;
    };
    // httparse fills these on Complete; the fallbacks only keep this free of panics.
    let http10 = req.version != Some(1);
    Parsed::Complete(Request {
        method: req.method.unwrap_or(""),
        path: req.path.unwrap_or(""),
        body,
        len,
        http10,
        keep_alive: !facts.close && (!http10 || facts.keep_alive),
    })
}

fn head_facts(headers: &[httparse::Header<'_>]) -> Result<HeadFacts, Reject> {
    let mut facts = HeadFacts::default();
    for header in headers {
        if header.name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(header.value).ok_or(Reject::BadRequest)?;
            if facts.content_length.is_some_and(|seen| seen != n) {
                return Err(Reject::BadRequest);
            }
            facts.content_length = Some(n);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            facts.chunked_or_other_coding = true;
        } else if header.name.eq_ignore_ascii_case("connection") {
            note_connection_options(header.value, &mut facts);
        }
    }
    match (facts.chunked_or_other_coding, facts.content_length) {
        (true, Some(_)) => Err(Reject::BadRequest),
        (true, None) => Err(Reject::LengthRequired),
        (false, _) => Ok(facts),
    }
}

/// Decimal digits only, no sign or spaces inside; `None` on overflow.
fn parse_content_length(value: &[u8]) -> Option<usize> {
    let digits = value.trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &b| {
        let digit = b.is_ascii_digit().then(|| usize::from(b - b'0'))?;
        n.checked_mul(10)?.checked_add(digit)
    })
}

fn note_connection_options(value: &[u8], facts: &mut HeadFacts) {
    for option in value.split(|&b| b == b',') {
        let option = option.trim_ascii();
        if option.eq_ignore_ascii_case(b"close") {
            facts.close = true;
        } else if option.eq_ignore_ascii_case(b"keep-alive") {
            facts.keep_alive = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> Request<'_> {
        match parse_request(buf) {
            Parsed::Complete(r) => r,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn keep_alive_by_version_and_connection_header() {
        let cases: [(&[u8], bool); 7] = [
            (b"GET / HTTP/1.1\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            (
                b"GET / HTTP/1.1\r\nconnection: Upgrade, CLOSE\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", true),
        ];
        for (buf, keep_alive) in cases {
            let r = complete(buf);
            assert_eq!(r.keep_alive, keep_alive, "{}", String::from_utf8_lossy(buf));
            assert_eq!(r.len, buf.len());
        }
    }

    #[test]
    fn body_is_framed_by_content_length() {
        let buf = b"POST /predict HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET /";
        let r = complete(buf);
        assert_eq!(
            (r.method, r.path, r.body),
            ("POST", "/predict", &b"abcd"[..])
        );
        assert_eq!(&buf[r.len..], b"GET /");
    }

    #[test]
    fn incomplete_requests_are_partial() {
        let head = b"POST /predict HTTP/1.1\r\nContent-Length: 4\r\n\r\nab";
        for end in 0..head.len() {
            assert_eq!(parse_request(&head[..end]), Parsed::Partial, "{end}");
        }
    }

    #[test]
    fn rejects_table() {
        let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        let unfinished = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("H{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        let too_big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        let cases: [(&[u8], Reject); 12] = [
            (b"\x00\x01\x02garbage\r\n\r\n", Reject::BadRequest),
            (b"GET / HTTP/2.0\r\n\r\n", Reject::BadRequest),
            (
                b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                Reject::BadRequest,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
                Reject::BadRequest,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: \r\n\r\n",
                Reject::BadRequest,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                Reject::BadRequest,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                Reject::BadRequest,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Reject::LengthRequired,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                Reject::BadRequest,
            ),
            (too_big.as_bytes(), Reject::BodyTooLarge),
            (long_line.as_bytes(), Reject::HeadTooLarge),
            (unfinished.as_bytes(), Reject::HeadTooLarge),
        ];
        for (buf, want) in cases {
            assert_eq!(
                parse_request(buf),
                Parsed::Rejected(want),
                "{}",
                String::from_utf8_lossy(buf)
            );
        }
        assert_eq!(
            parse_request(many.as_bytes()),
            Parsed::Rejected(Reject::HeadTooLarge)
        );
    }

    #[test]
    fn repeated_equal_content_length_is_accepted() {
        let r = complete(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx");
        assert_eq!(r.body, b"x");
    }

    #[test]
    fn head_at_the_limit_is_accepted() {
        let prefix = "GET / HTTP/1.1\r\nX: ";
        let pad = MAX_HEAD_BYTES - prefix.len() - 4;
        let buf = format!("{prefix}{}\r\n\r\n", "a".repeat(pad));
        assert_eq!(buf.len(), MAX_HEAD_BYTES);
        assert_eq!(complete(buf.as_bytes()).len, MAX_HEAD_BYTES);
    }
}
