//! Response encoding with no I/O: appends HTTP/1.1 responses to an output buffer.

use super::model::Response;

/// What the response says about the connection's future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionHeader {
    /// HTTP/1.1 persistence is the default: no header.
    None,
    Close,
    /// HTTP/1.0 persistence must be confirmed.
    KeepAlive,
}

/// Appends `resp` to `out` as one HTTP/1.1 response.
pub fn write_response(out: &mut Vec<u8>, resp: &Response, connection: ConnectionHeader) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, usize::from(resp.status));
    out.push(b' ');
    out.extend_from_slice(reason(resp.status).as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(resp.content_type.as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    push_decimal(out, resp.body.len());
    if let Some(allow) = resp.allow {
        out.extend_from_slice(b"\r\nAllow: ");
        out.extend_from_slice(allow.as_bytes());
    }
    if let Some(cookie) = resp.set_cookie {
        out.extend_from_slice(b"\r\nSet-Cookie: ");
        out.extend_from_slice(cookie.as_bytes());
    }
    match connection {
        ConnectionHeader::None => {}
        ConnectionHeader::Close => out.extend_from_slice(b"\r\nConnection: close"),
        ConnectionHeader::KeepAlive => out.extend_from_slice(b"\r\nConnection: keep-alive"),
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&resp.body);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Unknown",
    }
}

/// Appends `n` in decimal without going through `fmt`.
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::model::respond;

    fn encode(resp: &Response, connection: ConnectionHeader) -> String {
        let mut out = Vec::new();
        write_response(&mut out, resp, connection);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn health_bytes() {
        let text = encode(&respond("GET", "/health", b""), ConnectionHeader::None);
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK"
        );
    }

    #[test]
    fn headers_for_405_and_connection() {
        let text = encode(&respond("POST", "/health", b""), ConnectionHeader::Close);
        assert!(
            text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nAllow: GET\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        let text = encode(&respond("GET", "/x", b""), ConnectionHeader::KeepAlive);
        assert!(text.contains("\r\nConnection: keep-alive\r\n"), "{text}");
    }

    #[test]
    fn decimal_table() {
        for n in [0, 7, 10, 99, 100, 65_536, usize::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
