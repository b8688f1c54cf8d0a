//! Header fields of a response head, for the few a user's flow reads (`Set-Cookie`,
//! `Location`, captured headers). The decoder keeps no header bytes; this re-reads the
//! head while it is still in the read buffer, and only when the decoder said it holds a
//! field someone wants (or a task captures a header), so a plain response costs nothing.
use std::mem::MaybeUninit;

use super::response::MAX_HEADERS;

/// Calls `each(name, value)` for every field of the final (non-1xx) response head at the
/// start of `buf`, skipping interim 1xx heads. Values are trimmed of surrounding spaces.
/// Returns false when `buf` holds no complete, valid final head (nothing is called then).
pub fn for_each(buf: &[u8], mut each: impl FnMut(&[u8], &[u8])) -> bool {
    let Some(head) = final_head(buf) else {
        return false;
    };
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = config().parse_response_with_uninit_headers(&mut response, head, &mut slots);
    if parsed.is_err() {
        return false;
    }
    for h in response.headers.iter() {
        each(h.name.as_bytes(), trim(h.value));
    }
    true
}

fn config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_obsolete_multiline_headers_in_responses(true);
    c
}

/// The bytes of the final (non-1xx) response head at the start of `buf`, its blank line
/// included; None when `buf` holds no complete, valid one.
pub fn final_head(mut buf: &[u8]) -> Option<&[u8]> {
    loop {
        let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = config().parse_response_with_uninit_headers(&mut response, buf, &mut slots);
        let Ok(httparse::Status::Complete(len)) = parsed else {
            return None;
        };
        match response.code {
            Some(100..=199) => buf = &buf[len..],
            Some(_) => return Some(&buf[..len]),
            None => return None,
        }
    }
}

/// The first value of field `name` (any case) in the final head at the start of `buf`.
pub fn find<'a>(buf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut found = None;
    for_each(buf, |n, v| {
        if found.is_none() && n.eq_ignore_ascii_case(name) {
            // Re-borrow from `buf`: `v` points into it.
            let start = v.as_ptr() as usize - buf.as_ptr() as usize;
            found = Some(start..start + v.len());
        }
    });
    found.map(|r| &buf[r])
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fields_by_name_in_any_case() {
        type Case<'a> = (&'a [u8], &'a [u8], Option<&'a [u8]>);
        let cases: &[Case] = &[
            (b"HTTP/1.1 200 OK\r\nX-Session: abc\r\n\r\n", b"x-session", Some(b"abc")),
            (b"HTTP/1.1 200 OK\r\nx-session:   abc  \r\n\r\nbody", b"X-Session", Some(b"abc")),
            (b"HTTP/1.1 200 OK\r\nA: 1\r\nA: 2\r\n\r\n", b"a", Some(b"1")),
            (b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n", b"b", None),
            (b"HTTP/1.1 100 Continue\r\nA: interim\r\n\r\nHTTP/1.1 302 Found\r\nA: final\r\n\r\n", b"a", Some(b"final")),
            (b"HTTP/1.1 200 OK\r\nA: 1\r\n", b"a", None),
            (b"garbage\r\n\r\n", b"a", None),
        ];
        for (head, name, want) in cases {
            assert_eq!(find(head, name), *want, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn for_each_sees_every_field_of_the_final_head() {
        let head = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n";
        let mut seen = Vec::new();
        assert!(for_each(head, |n, v| seen.push((n.to_vec(), v.to_vec()))));
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].1, b"b=2");
        let two = b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody";
        assert_eq!(
            final_head(two),
            Some(&b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n"[..])
        );
    }
}
