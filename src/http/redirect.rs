//! Following a redirect on the user's own connection: where the `Location` of a 3xx
//! points (RFC 9110 §10.2.2, a reference resolved against the request's target), and the
//! request that goes there (§15.4: 301/302 turn POST into GET, 303 turns anything but HEAD
//! into GET, 307/308 keep the method and body). Only same-origin locations are followed: a
//! user keeps one connection to one host.
use std::fmt;

/// Statuses that redirect (with a `Location`).
pub const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// Why a redirect is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectError {
    /// The location names another scheme, host or port.
    OtherOrigin,
    /// The location is not a URI reference blast can send (spaces, control bytes, empty).
    BadLocation,
}

impl RedirectError {
    /// The error kind the stats count.
    pub fn name(self) -> &'static str {
        match self {
            RedirectError::OtherOrigin => "redirect_to_other_origin",
            RedirectError::BadLocation => "bad_redirect_location",
        }
    }
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `status` is a redirect that is followed.
pub fn is_redirect(status: u16) -> bool {
    REDIRECTS.contains(&status)
}

/// Writes the origin-form target `location` points to into `out`. `authority` is the
/// target's `host[:port]` (the `Host` header), `current` the target of the redirected
/// request, for relative references.
pub fn resolve(
    location: &[u8],
    authority: &str,
    current: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), RedirectError> {
    out.clear();
    let location = strip_fragment(location);
    if location.is_empty() || !location.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(RedirectError::BadLocation);
    }
    let rest = if let Some(rest) = strip_prefix_ci(location, b"http://") {
        Some(rest)
    } else if location.starts_with(b"//") {
        Some(&location[2..])
    } else if has_scheme(location) {
        return Err(RedirectError::OtherOrigin);
    } else {
        None
    };
    match rest {
        Some(rest) => {
            let end = rest
                .iter()
                .position(|&b| matches!(b, b'/' | b'?'))
                .unwrap_or(rest.len());
            if !same_authority(&rest[..end], authority.as_bytes()) {
                return Err(RedirectError::OtherOrigin);
            }
            if rest.get(end) != Some(&b'/') {
                out.push(b'/');
            }
            out.extend_from_slice(&rest[end..]);
        }
        None if location[0] == b'/' => out.extend_from_slice(location),
        None => {
            // A relative path (or a bare query): merge with the current path's directory.
            let path_end = current
                .iter()
                .position(|&b| b == b'?')
                .unwrap_or(current.len());
            if location[0] == b'?' {
                out.extend_from_slice(&current[..path_end]);
            } else {
                let dir = current[..path_end]
                    .iter()
                    .rposition(|&b| b == b'/')
                    .map_or(0, |i| i + 1);
                if dir == 0 {
                    out.push(b'/');
                }
                out.extend_from_slice(&current[..dir]);
            }
            out.extend_from_slice(location);
        }
    }
    Ok(())
}

/// Writes the request that follows a `status` redirect of `request` (complete bytes) to
/// `target`: the method changed as the status says, `Cookie` lines dropped (the caller
/// adds `extra` lines for the new target, its cookies), and the body kept only with the
/// method. None when `request` is not a request.
pub fn rewrite(
    request: &[u8],
    status: u16,
    target: &[u8],
    extra: &[u8],
    out: &mut Vec<u8>,
) -> Option<Rewritten> {
    let head_end = find(request, b"\r\n\r\n")? + 4;
    let line_end = find(request, b"\r\n")?;
    let method = &request[..request.iter().position(|&b| b == b' ')?];
    let version = &request[line_end - b"HTTP/1.1".len()..line_end];
    let to_get = match status {
        301 | 302 => method.eq_ignore_ascii_case(b"POST"),
        303 => !method.eq_ignore_ascii_case(b"HEAD"),
        _ => false,
    };
    out.extend_from_slice(if to_get { b"GET" } else { method });
    out.push(b' ');
    out.extend_from_slice(target);
    out.push(b' ');
    out.extend_from_slice(version);
    out.extend_from_slice(b"\r\n");
    let mut dropped: &[&[u8]] = &[b"cookie"];
    if to_get {
        dropped = &[
            b"cookie",
            b"content-length",
            b"content-type",
            b"transfer-encoding",
        ];
    }
    let headers = &request[line_end + 2..head_end - 2];
    for line in headers.split_inclusive(|&b| b == b'\n') {
        let name = &line[..line.iter().position(|&b| b == b':').unwrap_or(0)];
        if !dropped.iter().any(|d| name.eq_ignore_ascii_case(d)) {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(extra);
    out.extend_from_slice(b"\r\n");
    if !to_get {
        out.extend_from_slice(&request[head_end..]);
    }
    Some(Rewritten {
        head: !to_get && method.eq_ignore_ascii_case(b"HEAD"),
        to_get,
    })
}

/// What [`rewrite`] made of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// The new request is a HEAD (its response has no body).
    pub head: bool,
    /// The method became GET (and the body was dropped).
    pub to_get: bool,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn strip_fragment(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&b| b == b'#').unwrap_or(s.len())]
}

fn strip_prefix_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"` before any `/`.
fn has_scheme(s: &[u8]) -> bool {
    let Some(colon) = s.iter().position(|&b| b == b':') else {
        return false;
    };
    let scheme = &s[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `host[:port]` equal to the target's, ignoring case and an explicit default port.
fn same_authority(a: &[u8], b: &[u8]) -> bool {
    fn norm(s: &[u8]) -> &[u8] {
        let s = s.strip_suffix(b":80").unwrap_or(s);
        &s[s.iter().rposition(|&c| c == b'@').map_or(0, |i| i + 1)..]
    }
    norm(a).eq_ignore_ascii_case(norm(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_to_same_origin_targets() {
        let ok: &[(&str, &str, &str)] = &[
            ("/predict", "/predict/", "/predict"),
            ("/a?b=1#frag", "/", "/a?b=1"),
            ("http://127.0.0.1:8000/predict", "/x", "/predict"),
            ("HTTP://127.0.0.1:8000", "/x", "/"),
            ("http://127.0.0.1:8000?q", "/x", "/?q"),
            ("//127.0.0.1:8000/p", "/x", "/p"),
            ("next", "/a/b?x=1", "/a/next"),
            ("next", "/b", "/next"),
            ("?page=2", "/list?page=1", "/list?page=2"),
        ];
        for (location, current, want) in ok {
            let mut out = Vec::new();
            resolve(
                location.as_bytes(),
                "127.0.0.1:8000",
                current.as_bytes(),
                &mut out,
            )
            .unwrap_or_else(|e| panic!("{location}: {e}"));
            assert_eq!(String::from_utf8(out).unwrap(), *want, "{location}");
        }
        let bad: &[(&str, RedirectError)] = &[
            ("http://example.com/", RedirectError::OtherOrigin),
            ("http://127.0.0.1:8001/", RedirectError::OtherOrigin),
            ("https://127.0.0.1:8000/", RedirectError::OtherOrigin),
            ("//other/", RedirectError::OtherOrigin),
            ("", RedirectError::BadLocation),
            ("/a b", RedirectError::BadLocation),
            ("/a\r\nX: y", RedirectError::BadLocation),
        ];
        for (location, want) in bad {
            let mut out = Vec::new();
            let got = resolve(location.as_bytes(), "127.0.0.1:8000", b"/", &mut out);
            assert_eq!(got, Err(*want), "{location}");
        }
        let mut out = Vec::new();
        resolve(b"http://h/x", "h:80", b"/", &mut out).unwrap();
        assert_eq!(out, b"/x");
    }

    #[test]
    fn redirected_requests_change_method_as_the_status_says() {
        let post = b"POST /predict/ HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let cases: &[(u16, &str)] = &[
            (307, "POST /predict HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 2\r\nCookie: b=2\r\n\r\n{}"),
            (308, "POST /predict HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 2\r\nCookie: b=2\r\n\r\n{}"),
            (302, "GET /predict HTTP/1.1\r\nHost: h\r\nCookie: b=2\r\n\r\n"),
            (301, "GET /predict HTTP/1.1\r\nHost: h\r\nCookie: b=2\r\n\r\n"),
            (303, "GET /predict HTTP/1.1\r\nHost: h\r\nCookie: b=2\r\n\r\n"),
        ];
        for (status, want) in cases {
            let mut out = Vec::new();
            let done = rewrite(post, *status, b"/predict", b"Cookie: b=2\r\n", &mut out);
            let to_get = *status < 307;
            assert_eq!(
                done,
                Some(Rewritten {
                    head: false,
                    to_get
                })
            );
            assert_eq!(String::from_utf8(out).unwrap(), *want, "{status}");
        }
        let mut out = Vec::new();
        let head = rewrite(
            b"HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n",
            303,
            b"/b",
            b"",
            &mut out,
        );
        assert_eq!(head.map(|r| r.head), Some(true));
        assert_eq!(out, b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(rewrite(b"junk", 302, b"/", b"", &mut Vec::new()), None);
    }
}
