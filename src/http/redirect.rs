//! Following a redirect: where the `Location` of a 3xx points (RFC 9110 §10.2.2, a
//! reference resolved against the request's target), whether that is the origin the
//! request went to or another one, and the request that goes there (§15.4: 301/302 turn
//! POST into GET, 303 turns anything but HEAD into GET, 307/308 keep the method and body).
//! Pure functions: which connection a hop goes out on is the engine's (`engine::hop`).
use std::fmt;

/// Statuses that redirect (with a `Location`).
pub const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// Why a redirect is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectError {
    /// The location names a scheme blast does not speak (not http or https).
    UnsupportedScheme,
    /// The location is not a URI reference blast can send (spaces, control bytes, empty).
    BadLocation,
}

impl RedirectError {
    /// The error kind the stats count.
    pub fn name(self) -> &'static str {
        match self {
            RedirectError::UnsupportedScheme => "redirect_to_other_origin",
            RedirectError::BadLocation => "bad_redirect_location",
        }
    }
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An origin (RFC 6454): `https://` or not, and `host[:port]` as a `Host` header says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub tls: bool,
    pub authority: &'a [u8],
}

/// Where a location points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    /// The origin of the request it answered.
    Here,
    /// Another origin (its authority without any userinfo).
    Elsewhere(Origin<'a>),
}

/// Whether `a` and `b` are one origin: same scheme, and the same `host[:port]` ignoring
/// case and an explicit default port.
pub fn same_origin(a: Origin<'_>, b: Origin<'_>) -> bool {
    a.tls == b.tls && same_authority(a.authority, b.authority, a.tls)
}

/// Whether `status` is a redirect that is followed.
pub fn is_redirect(status: u16) -> bool {
    REDIRECTS.contains(&status)
}

/// Writes the origin-form target `location` points to into `out` and says whether it is
/// on `here`, the origin of the redirected request; `current` is that request's target,
/// for relative references.
pub fn resolve<'a>(
    location: &'a [u8],
    here: Origin<'_>,
    current: &[u8],
    out: &mut Vec<u8>,
) -> Result<Place<'a>, RedirectError> {
    out.clear();
    let location = strip_fragment(location);
    if location.is_empty() || !location.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(RedirectError::BadLocation);
    }
    let absolute = if let Some(rest) = strip_prefix_ci(location, b"http://") {
        Some((false, rest))
    } else if let Some(rest) = strip_prefix_ci(location, b"https://") {
        Some((true, rest))
    } else if location.starts_with(b"//") {
        Some((here.tls, &location[2..]))
    } else if has_scheme(location) {
        return Err(RedirectError::UnsupportedScheme);
    } else {
        None
    };
    let Some((tls, rest)) = absolute else {
        relative(location, current, out);
        return Ok(Place::Here);
    };
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?'))
        .unwrap_or(rest.len());
    let authority = without_userinfo(&rest[..end]);
    if authority.is_empty() {
        return Err(RedirectError::BadLocation);
    }
    if rest.get(end) != Some(&b'/') {
        out.push(b'/');
    }
    out.extend_from_slice(&rest[end..]);
    let there = Origin { tls, authority };
    Ok(match same_origin(there, here) {
        true => Place::Here,
        false => Place::Elsewhere(there),
    })
}

/// A path-absolute or relative reference (or a bare query), merged with the current
/// path's directory.
fn relative(location: &[u8], current: &[u8], out: &mut Vec<u8>) {
    if location[0] == b'/' {
        out.extend_from_slice(location);
        return;
    }
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

/// Writes the request that follows a `status` redirect of `request` (complete bytes) to
/// `target`: the method changed as the status says, `Cookie` lines dropped (the caller
/// adds `extra` lines for the new target, its cookies), and the body kept only with the
/// method. `host`, for a hop to another origin than `request`'s, replaces the `Host` line
/// and drops `Authorization` (credentials stay with the origin they were given for, as
/// Python `requests` keeps them). None when `request` is not a request.
pub fn rewrite(
    request: &[u8],
    status: u16,
    target: &[u8],
    host: Option<&[u8]>,
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
    if let Some(host) = host {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(host);
        out.extend_from_slice(b"\r\n");
    }
    let dropped = |name: &[u8]| {
        let is = |d: &[u8]| name.eq_ignore_ascii_case(d);
        is(b"cookie")
            || (to_get
                && (is(b"content-length") || is(b"content-type") || is(b"transfer-encoding")))
            || (host.is_some() && (is(b"host") || is(b"authorization")))
    };
    let headers = &request[line_end + 2..head_end - 2];
    for line in headers.split_inclusive(|&b| b == b'\n') {
        let name = &line[..line.iter().position(|&b| b == b':').unwrap_or(0)];
        if !dropped(name) {
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

/// `host[:port]` equal to another, ignoring case and an explicit default port of the scheme.
fn same_authority(a: &[u8], b: &[u8], tls: bool) -> bool {
    let default: &[u8] = if tls { b":443" } else { b":80" };
    let norm = |s: &'_ [u8]| -> usize {
        s.len()
            - if s.ends_with(default) {
                default.len()
            } else {
                0
            }
    };
    a[..norm(a)].eq_ignore_ascii_case(&b[..norm(b)])
}

/// An authority less any `userinfo@`.
fn without_userinfo(authority: &[u8]) -> &[u8] {
    &authority[authority
        .iter()
        .rposition(|&c| c == b'@')
        .map_or(0, |i| i + 1)..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: Origin<'static> = Origin {
        tls: false,
        authority: b"127.0.0.1:8000",
    };

    /// Where `location` points from `here`: None for here, else the other origin's scheme
    /// (https or not) and authority; and the target written.
    fn place(location: &str, here: Origin<'_>, current: &str) -> (Option<(bool, String)>, String) {
        let mut out = Vec::new();
        let place = resolve(location.as_bytes(), here, current.as_bytes(), &mut out)
            .unwrap_or_else(|e| panic!("{location:?}: {e}"));
        let there = match place {
            Place::Here => None,
            Place::Elsewhere(o) => Some((o.tls, String::from_utf8(o.authority.to_vec()).unwrap())),
        };
        (there, String::from_utf8(out).unwrap())
    }

    #[test]
    fn locations_resolve_to_same_origin_targets() {
        let ok: &[(&str, &str, &str)] = &[
            ("/predict", "/predict/", "/predict"),
            ("/a?b=1#frag", "/", "/a?b=1"),
            ("http://127.0.0.1:8000/predict", "/x", "/predict"),
            ("HTTP://127.0.0.1:8000", "/x", "/"),
            ("http://127.0.0.1:8000?q", "/x", "/?q"),
            ("//127.0.0.1:8000/p", "/x", "/p"),
            ("http://u:pw@127.0.0.1:8000/p", "/x", "/p"),
            ("next", "/a/b?x=1", "/a/next"),
            ("next", "/b", "/next"),
            ("?page=2", "/list?page=1", "/list?page=2"),
        ];
        for (location, current, want) in ok {
            assert_eq!(
                place(location, HERE, current),
                (None, want.to_string()),
                "{location}"
            );
        }
        let bad: &[(&str, RedirectError)] = &[
            ("ftp://127.0.0.1:8000/", RedirectError::UnsupportedScheme),
            ("http:///x", RedirectError::BadLocation),
            ("", RedirectError::BadLocation),
            ("/a b", RedirectError::BadLocation),
            ("/a\r\nX: y", RedirectError::BadLocation),
        ];
        for (location, want) in bad {
            let mut out = Vec::new();
            let got = resolve(location.as_bytes(), HERE, b"/", &mut out);
            assert_eq!(got, Err(*want), "{location}");
        }
        let h = Origin {
            tls: false,
            authority: b"h:80",
        };
        assert_eq!(place("http://h/x", h, "/"), (None, "/x".into()));
        let s = Origin {
            tls: true,
            authority: b"h",
        };
        assert_eq!(place("https://H:443/x", s, "/"), (None, "/x".into()));
        assert_eq!(place("//h/y", s, "/"), (None, "/y".into()));
    }

    #[test]
    fn another_host_port_or_scheme_is_another_origin() {
        let cases: &[(&str, bool, &str, &str)] = &[
            ("http://example.com/", false, "example.com", "/"),
            ("http://127.0.0.1:8001/a?b", false, "127.0.0.1:8001", "/a?b"),
            ("https://127.0.0.1:8000/", true, "127.0.0.1:8000", "/"),
            ("HTTPS://u:pw@Other:9?q", true, "Other:9", "/?q"),
            ("//other/p", false, "other", "/p"),
        ];
        for &(location, tls, authority, target) in cases {
            let want = Some((tls, authority.to_string()));
            assert_eq!(
                place(location, HERE, "/x"),
                (want, target.to_string()),
                "{location}"
            );
        }
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
            let done = rewrite(
                post,
                *status,
                b"/predict",
                None,
                b"Cookie: b=2\r\n",
                &mut out,
            );
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
            None,
            b"",
            &mut out,
        );
        assert_eq!(head.map(|r| r.head), Some(true));
        assert_eq!(out, b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(
            rewrite(b"junk", 302, b"/", None, b"", &mut Vec::new()),
            None
        );
    }

    #[test]
    fn a_hop_to_another_origin_names_its_host_and_drops_credentials() {
        let get = b"GET /a HTTP/1.1\r\nHost: home:1\r\nAuthorization: Basic eDp5\r\nX-Trace: 7\r\nCookie: a=1\r\n\r\n";
        let mut out = Vec::new();
        rewrite(get, 307, b"/b", Some(b"other:2"), b"", &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /b HTTP/1.1\r\nHost: other:2\r\nX-Trace: 7\r\n\r\n"
        );
    }
}
