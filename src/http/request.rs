//! Request encoding: turns a validated request description into HTTP/1.1 bytes.
//!
//! A load generator sends the same request many times, so the engine encodes it once
//! (or encodes only the head when the body is rendered per request) and reuses the bytes.
//! Validation lives here too, so that nothing reaching the encoder can break framing
//! (a CR or LF smuggled into a header value would end the head early).

use std::fmt;

/// A request to be encoded once and reused.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpec<'a> {
    /// Method token, e.g. `GET`.
    pub method: &'a str,
    /// Origin-form target: path plus optional `?query`.
    pub target: &'a str,
    /// `Host` header value, e.g. `127.0.0.1:8080`; not sent if `headers` has a Host.
    pub host: &'a str,
    /// User headers, sent in order, as given.
    pub headers: &'a [(String, String)],
    /// Request body; may be empty.
    pub body: &'a [u8],
}

/// Why a request part was rejected before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The method was empty.
    EmptyMethod,
    /// The method held a byte outside the token set (RFC 9110 §5.6.2).
    InvalidMethod(String),
    /// A header name was empty.
    EmptyHeaderName,
    /// A header name held a byte outside the token set (RFC 9110 §5.6.2).
    InvalidHeaderName(String),
    /// A header value held a control byte other than tab (CR, LF, NUL …); CR and LF would
    /// break the framing (RFC 9110 §5.5).
    InvalidHeaderValue(String),
    /// The target was empty or held a space or control byte (RFC 9112 §3.2).
    InvalidTarget(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::EmptyMethod => write!(f, "empty HTTP method"),
            RequestError::InvalidMethod(m) => write!(f, "invalid HTTP method {m:?}"),
            RequestError::EmptyHeaderName => write!(f, "empty header name"),
            RequestError::InvalidHeaderName(n) => write!(f, "invalid header name {n:?}"),
            RequestError::InvalidHeaderValue(n) => {
                write!(
                    f,
                    "header {n:?} has a value with a control byte (CR, LF, NUL …)"
                )
            }
            RequestError::InvalidTarget(t) => write!(f, "invalid request target {t:?}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// True for the `tchar` bytes of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Checks that `m` is a token (RFC 9110 §9.1 defines a method as a token).
pub fn validate_method(m: &str) -> Result<(), RequestError> {
    if m.is_empty() {
        return Err(RequestError::EmptyMethod);
    }
    if !is_token(m) {
        return Err(RequestError::InvalidMethod(m.to_owned()));
    }
    Ok(())
}

/// Checks that `name` is a token and that `value` holds no control byte but tab
/// (RFC 9110 §5.5: field-content is visible bytes, space and tab).
pub fn validate_header(name: &str, value: &str) -> Result<(), RequestError> {
    if name.is_empty() {
        return Err(RequestError::EmptyHeaderName);
    }
    if !is_token(name) {
        return Err(RequestError::InvalidHeaderName(name.to_owned()));
    }
    if value.bytes().any(|b| b != b'\t' && b.is_ascii_control()) {
        return Err(RequestError::InvalidHeaderValue(name.to_owned()));
    }
    Ok(())
}

/// Checks that `target` is non-empty and holds no space or control byte, so that it
/// cannot split the request line (RFC 9112 §3.2).
pub fn validate_target(target: &str) -> Result<(), RequestError> {
    let bad = |b: u8| b <= b' ' || b == 0x7f;
    if target.is_empty() || target.bytes().any(bad) {
        return Err(RequestError::InvalidTarget(target.to_owned()));
    }
    Ok(())
}

/// Appends a complete HTTP/1.1 request to `out`.
///
/// Writes the request line, `Host` (unless the user headers have one), the user headers,
/// `Content-Length` when the body is non-empty or the method is POST/PUT/PATCH (unless the
/// user headers already frame the body with `Content-Length` or `Transfer-Encoding`),
/// the blank line, then the body. Inputs are assumed validated.
pub fn encode_request(spec: &RequestSpec, out: &mut Vec<u8>) {
    let user_framed = spec.headers.iter().any(|(n, _)| is_framing_header(n));
    let wants_length = !spec.body.is_empty() || method_expects_body(spec.method);
    let length = (wants_length && !user_framed).then_some(spec.body.len());
    out.reserve(
        head_size_hint(spec.method, spec.target, spec.host, spec.headers) + spec.body.len(),
    );
    write_request_line(spec.method, spec.target, out);
    write_host_unless_given(spec.host, spec.headers, out);
    for (name, value) in spec.headers {
        write_header(name, value.as_bytes(), out);
    }
    if let Some(len) = length {
        write_content_length(len, out);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(spec.body);
}

/// Appends only the head (up to and including the blank line) with `Content-Length: body_len`,
/// for bodies rendered separately per request.
///
/// Any user `Content-Length` or `Transfer-Encoding` header is left out: the body length is only
/// known to the caller, and a second framing header would make the request ambiguous.
pub fn encode_head(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, String)],
    body_len: usize,
    out: &mut Vec<u8>,
) {
    out.reserve(head_size_hint(method, target, host, headers));
    write_request_line(method, target, out);
    write_host_unless_given(host, headers, out);
    for (name, value) in headers.iter().filter(|(n, _)| !is_framing_header(n)) {
        write_header(name, value.as_bytes(), out);
    }
    write_content_length(body_len, out);
    out.extend_from_slice(b"\r\n");
}

/// Methods whose requests carry a body by convention, so an empty one is sent as
/// `Content-Length: 0` (RFC 9110 §8.6 says a user agent SHOULD send it then).
fn method_expects_body(method: &str) -> bool {
    ["POST", "PUT", "PATCH"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

fn is_framing_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding")
}

/// A generous guess of the head size, so `out` grows at most once.
fn head_size_hint(method: &str, target: &str, host: &str, headers: &[(String, String)]) -> usize {
    let fixed = " HTTP/1.1\r\nHost: \r\nContent-Length: 18446744073709551615\r\n\r\n".len();
    let user: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    method.len() + target.len() + host.len() + fixed + user
}

fn write_request_line(method: &str, target: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
}

fn write_host_unless_given(host: &str, headers: &[(String, String)], out: &mut Vec<u8>) {
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        write_header("Host", host.as_bytes(), out);
    }
}

fn write_header(name: &str, value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn write_content_length(len: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    write_header("Content-Length", format_decimal(len, &mut digits), out);
}

/// Formats `n` in decimal into the tail of `buf` without allocating; returns the digits.
fn format_decimal(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header pairs as written in a test table.
    type Pairs = &'static [(&'static str, &'static str)];

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn encode(method: &str, target: &str, hdrs: &[(&str, &str)], body: &[u8]) -> String {
        let headers = headers(hdrs);
        let spec = RequestSpec {
            method,
            target,
            host: "127.0.0.1:8080",
            headers: &headers,
            body,
        };
        let mut out = b"prefix|".to_vec();
        encode_request(&spec, &mut out);
        let text = String::from_utf8(out).unwrap();
        text.strip_prefix("prefix|")
            .expect("encode_request must append, not overwrite")
            .to_owned()
    }

    #[test]
    fn encode_request_exact_bytes() {
        let cases: &[(&str, &str, Pairs, &[u8], &str)] = &[
            (
                "GET",
                "/",
                &[],
                b"",
                "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
            ),
            (
                "GET",
                "/a?b=c",
                &[("Accept", "*/*"), ("X-Id", "7")],
                b"",
                "GET /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\nX-Id: 7\r\n\r\n",
            ),
            (
                "POST",
                "/p",
                &[],
                b"hello",
                "POST /p HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 5\r\n\r\nhello",
            ),
            (
                "POST",
                "/p",
                &[],
                b"",
                "POST /p HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 0\r\n\r\n",
            ),
            (
                "put",
                "/p",
                &[],
                b"",
                "put /p HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 0\r\n\r\n",
            ),
            (
                "PATCH",
                "/p",
                &[],
                b"",
                "PATCH /p HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 0\r\n\r\n",
            ),
            (
                "DELETE",
                "/d",
                &[],
                b"xy",
                "DELETE /d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 2\r\n\r\nxy",
            ),
            (
                "GET",
                "/",
                &[("host", "example.com")],
                b"",
                "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n",
            ),
            (
                "POST",
                "/",
                &[("content-length", "3")],
                b"abc",
                "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\ncontent-length: 3\r\n\r\nabc",
            ),
            (
                "POST",
                "/",
                &[("Transfer-Encoding", "chunked")],
                b"0\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            ),
        ];
        for (method, target, hdrs, body, want) in cases {
            assert_eq!(
                encode(method, target, hdrs, body),
                *want,
                "{method} {target}"
            );
        }
    }

    #[test]
    fn encode_head_exact_bytes() {
        let cases: &[(Pairs, usize, &str)] = &[
            (
                &[],
                0,
                "POST /t HTTP/1.1\r\nHost: h:1\r\nContent-Length: 0\r\n\r\n",
            ),
            (
                &[("X-A", "b")],
                1234567,
                "POST /t HTTP/1.1\r\nHost: h:1\r\nX-A: b\r\nContent-Length: 1234567\r\n\r\n",
            ),
            (
                &[
                    ("Content-Length", "9"),
                    ("transfer-encoding", "chunked"),
                    ("X", "y"),
                ],
                4,
                "POST /t HTTP/1.1\r\nHost: h:1\r\nX: y\r\nContent-Length: 4\r\n\r\n",
            ),
            (
                &[("HOST", "other")],
                usize::MAX,
                "POST /t HTTP/1.1\r\nHOST: other\r\nContent-Length: 18446744073709551615\r\n\r\n",
            ),
        ];
        for (hdrs, len, want) in cases {
            let mut out = Vec::new();
            encode_head("POST", "/t", "h:1", &headers(hdrs), *len, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), *want);
        }
    }

    #[test]
    fn encode_request_appends_across_calls() {
        let spec = RequestSpec {
            method: "GET",
            target: "/",
            host: "h",
            headers: &[],
            body: b"",
        };
        let mut out = Vec::new();
        encode_request(&spec, &mut out);
        encode_request(&spec, &mut out);
        assert_eq!(
            out,
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"
        );
    }

    #[test]
    fn format_decimal_edges() {
        for n in [0usize, 1, 9, 10, 99, 100, 65535, usize::MAX] {
            let mut buf = [0u8; 20];
            assert_eq!(format_decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn validate_method_table() {
        let cases: &[(&str, Option<RequestError>)] = &[
            ("GET", None),
            ("M-SEARCH", None),
            ("x!#$%&'*+.^_`|~9", None),
            ("", Some(RequestError::EmptyMethod)),
            ("GE T", Some(RequestError::InvalidMethod("GE T".into()))),
            (
                "GET\r\n",
                Some(RequestError::InvalidMethod("GET\r\n".into())),
            ),
            ("G(ET)", Some(RequestError::InvalidMethod("G(ET)".into()))),
            ("GÉT", Some(RequestError::InvalidMethod("GÉT".into()))),
        ];
        for (m, want) in cases {
            assert_eq!(validate_method(m).err(), *want, "{m:?}");
        }
    }

    #[test]
    fn validate_header_table() {
        let cases: &[(&str, &str, Option<RequestError>)] = &[
            ("Accept", "*/*", None),
            ("X-Empty", "", None),
            ("X-Tab", "a\tb", None),
            ("", "v", Some(RequestError::EmptyHeaderName)),
            (
                "Bad Name",
                "v",
                Some(RequestError::InvalidHeaderName("Bad Name".into())),
            ),
            (
                "Bad:",
                "v",
                Some(RequestError::InvalidHeaderName("Bad:".into())),
            ),
            (
                "X",
                "a\r\nInjected: 1",
                Some(RequestError::InvalidHeaderValue("X".into())),
            ),
            (
                "X",
                "a\nb",
                Some(RequestError::InvalidHeaderValue("X".into())),
            ),
            (
                "X",
                "a\0b",
                Some(RequestError::InvalidHeaderValue("X".into())),
            ),
            (
                "X",
                "a\rb",
                Some(RequestError::InvalidHeaderValue("X".into())),
            ),
            (
                "X",
                "a\x7fb",
                Some(RequestError::InvalidHeaderValue("X".into())),
            ),
            ("X-Utf8", "caf\u{e9}", None),
        ];
        for (n, v, want) in cases {
            assert_eq!(validate_header(n, v).err(), *want, "{n:?}: {v:?}");
        }
    }

    #[test]
    fn validate_target_table() {
        let ok = ["/", "/a?b=c&d=%20", "*", "/ü"];
        let bad = ["", "/a b", "/a\r\n", "/\t", "/\x7f"];
        for t in ok {
            assert_eq!(validate_target(t), Ok(()), "{t:?}");
        }
        for t in bad {
            assert_eq!(
                validate_target(t),
                Err(RequestError::InvalidTarget(t.into())),
                "{t:?}"
            );
        }
    }

    #[test]
    fn errors_display_something_useful() {
        let e = RequestError::InvalidHeaderValue("X-A".into());
        assert!(e.to_string().contains("X-A"));
    }
}
