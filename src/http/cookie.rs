//! A user's cookie jar: `Set-Cookie` fields (RFC 6265 §5.2) in, a `Cookie` header
//! (§5.4) out, with path matching and expiry (`Max-Age` over `Expires`) at the level a
//! Python `requests` session keeps them. One user talks to one origin (redirects to other
//! origins are not followed), so `Domain` is read and not checked. Values are kept in
//! buffers reused when a cookie is set again, so a warm jar writes its header without
//! allocating.

/// Most cookies one user keeps; a further new name is ignored (browsers keep ~50 per site).
pub const MAX_COOKIES: usize = 64;
/// Longest `name=value` kept (RFC 6265 §6.1: at least 4096 bytes per cookie).
pub const MAX_COOKIE_BYTES: usize = 4096;

/// One stored cookie.
#[derive(Debug, Clone, Default)]
struct Cookie {
    name: Vec<u8>,
    value: Vec<u8>,
    path: Vec<u8>,
    /// Unix seconds after which it is gone; None for a session cookie.
    expires: Option<i64>,
    secure: bool,
}

/// The cookies one user holds.
#[derive(Debug, Clone, Default)]
pub struct Jar {
    cookies: Vec<Cookie>,
}

impl Jar {
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Stores one `Set-Cookie` field value received for a request to `target`, at unix
    /// time `now`. A malformed field is ignored, as user agents do (§5.2 step 2).
    pub fn store(&mut self, field: &[u8], target: &[u8], now: i64) {
        let mut attrs = field.split(|&b| b == b';');
        let Some(pair) = attrs.next() else { return };
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            return;
        };
        let (name, value) = (trim(&pair[..eq]), trim(&pair[eq + 1..]));
        if name.is_empty() || name.len() + value.len() > MAX_COOKIE_BYTES {
            return;
        }
        let mut path: Option<&[u8]> = None;
        let mut max_age: Option<i64> = None;
        let mut expires: Option<i64> = None;
        let mut secure = false;
        for attr in attrs {
            let (key, val) = match attr.iter().position(|&b| b == b'=') {
                Some(i) => (trim(&attr[..i]), trim(&attr[i + 1..])),
                None => (trim(attr), &b""[..]),
            };
            if key.eq_ignore_ascii_case(b"path") && val.first() == Some(&b'/') {
                path = Some(val);
            } else if key.eq_ignore_ascii_case(b"max-age") {
                max_age = parse_max_age(val).or(max_age);
            } else if key.eq_ignore_ascii_case(b"expires") {
                expires = parse_date(val).or(expires);
            } else if key.eq_ignore_ascii_case(b"secure") {
                secure = true;
            }
        }
        let expires = match max_age {
            Some(s) if s <= 0 => Some(i64::MIN),
            Some(s) => Some(now.saturating_add(s)),
            None => expires,
        };
        let path = path.unwrap_or_else(|| default_path(target));
        let found = self
            .cookies
            .iter()
            .position(|c| c.name == name && c.path == path);
        if expires.is_some_and(|e| e <= now) {
            if let Some(i) = found {
                self.cookies.swap_remove(i);
            }
            return;
        }
        let slot = match found {
            Some(i) => &mut self.cookies[i],
            None if self.cookies.len() < MAX_COOKIES => {
                self.cookies.push(Cookie::default());
                self.cookies.last_mut().expect("just pushed")
            }
            None => return,
        };
        set(&mut slot.name, name);
        set(&mut slot.value, value);
        set(&mut slot.path, path);
        slot.expires = expires;
        slot.secure = secure;
    }

    /// Appends `Cookie: a=1; b=2\r\n` for a request to `target` at unix time `now`, with
    /// the cookies whose path matches and that have not expired; nothing when none do.
    /// `secure_transport` says whether `Secure` cookies may go (not over plain http).
    pub fn write_header(&self, target: &[u8], now: i64, secure_transport: bool, out: &mut Vec<u8>) {
        let path = path_of(target);
        let mut first = true;
        for c in &self.cookies {
            let live = c.expires.is_none_or(|e| e > now);
            if !live || (c.secure && !secure_transport) || !path_matches(path, &c.path) {
                continue;
            }
            out.extend_from_slice(if first { b"Cookie: " } else { b"; " });
            first = false;
            out.extend_from_slice(&c.name);
            out.push(b'=');
            out.extend_from_slice(&c.value);
        }
        if !first {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Replaces `dst`'s bytes with `src`'s, reusing its buffer. Control bytes (which would
/// break the request head) are dropped.
fn set(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.extend(src.iter().copied().filter(|&b| b >= 0x20 && b != 0x7f));
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The path of a request target: before `?` or `#`.
fn path_of(target: &[u8]) -> &[u8] {
    let end = target
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(target.len());
    &target[..end]
}

/// RFC 6265 §5.1.4: the directory of the request path, "/" for a path with one slash.
fn default_path(target: &[u8]) -> &[u8] {
    let path = path_of(target);
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/",
        Some(i) => &path[..i],
    }
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request: &[u8], cookie: &[u8]) -> bool {
    let request = if request.is_empty() { b"/" } else { request };
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with(b"/") || request.get(cookie.len()) == Some(&b'/')))
}

/// `Max-Age`: an optional `-` and digits (§5.2.2); anything else is ignored.
fn parse_max_age(v: &[u8]) -> Option<i64> {
    let (neg, digits) = match v {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().try_fold(0i64, |n, &d| {
        n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
    });
    let n = n.unwrap_or(i64::MAX);
    Some(if neg { -n } else { n })
}

/// A cookie date (RFC 6265 §5.1.1: day, month name, year, hh:mm:ss in any order of
/// tokens) as unix seconds; None when a part is missing or out of range.
pub fn parse_date(v: &[u8]) -> Option<i64> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    let delimiter = |b: &u8| !(b.is_ascii_alphanumeric() || *b == b':');
    for token in v.split(delimiter).filter(|t| !t.is_empty()) {
        if time.is_none() && token.contains(&b':') {
            time = hms(token);
        } else if day.is_none() && token.len() <= 2 && token.iter().all(u8::is_ascii_digit) {
            day = number(token);
        } else if month.is_none() && token.len() >= 3 {
            let head = [
                token[0].to_ascii_lowercase(),
                token[1].to_ascii_lowercase(),
                token[2].to_ascii_lowercase(),
            ];
            month = MONTHS
                .iter()
                .position(|m| **m == head)
                .map(|i| i as i64 + 1);
            if month.is_none() && year.is_none() {
                year = number(token).filter(|_| token.len() == 4);
            }
        } else if year.is_none() && token.iter().all(u8::is_ascii_digit) {
            year = number(token);
        }
    }
    let (h, m, s) = time?;
    let (day, month, mut year) = (day?, month?, year?);
    year += match year {
        0..=69 => 2000,
        70..=99 => 1900,
        _ => 0,
    };
    if !(1..=31).contains(&day) || year < 1601 || h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

fn number(t: &[u8]) -> Option<i64> {
    if t.is_empty() || t.len() > 4 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(t.iter().fold(0, |n, &d| n * 10 + i64::from(d - b'0')))
}

fn hms(t: &[u8]) -> Option<(i64, i64, i64)> {
    let mut parts = t.split(|&b| b == b':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || [h, m, s].iter().any(|p| p.len() > 2) {
        return None;
    }
    Some((number(h)?, number(m)?, number(s)?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn header(jar: &Jar, target: &str) -> String {
        let mut out = Vec::new();
        jar.write_header(target.as_bytes(), NOW, false, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn jar(fields: &[(&str, &str)]) -> Jar {
        let mut jar = Jar::default();
        for (field, target) in fields {
            jar.store(field.as_bytes(), target.as_bytes(), NOW);
        }
        jar
    }

    #[test]
    fn cookies_go_back_to_matching_paths() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                &[("sid=abc; Path=/; HttpOnly", "/login")],
                "/predict",
                "Cookie: sid=abc\r\n",
            ),
            (
                &[("sid=abc", "/login")],
                "/predict?x=1",
                "Cookie: sid=abc\r\n",
            ),
            (&[("a=1; Path=/api", "/")], "/api/x", "Cookie: a=1\r\n"),
            (&[("a=1; Path=/api", "/")], "/api", "Cookie: a=1\r\n"),
            (&[("a=1; Path=/api", "/")], "/apix", ""),
            (&[("a=1; Path=/api/", "/")], "/api/x", "Cookie: a=1\r\n"),
            (&[("a=1", "/api/login")], "/api/x", "Cookie: a=1\r\n"),
            (&[("a=1", "/api/login")], "/other", ""),
            (&[("a=1", "/"), ("b=2", "/")], "/", "Cookie: a=1; b=2\r\n"),
            (&[("a=1", "/"), ("a=2", "/")], "/", "Cookie: a=2\r\n"),
            (&[("a=1", "/"), ("a=; Max-Age=0", "/")], "/", ""),
            (&[("a=1; Max-Age=60", "/")], "/", "Cookie: a=1\r\n"),
            (
                &[("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "/")],
                "/",
                "",
            ),
            (
                &[("a=1; Expires=Wed, 21 Oct 2099 07:28:00 GMT", "/")],
                "/",
                "Cookie: a=1\r\n",
            ),
            (
                &[(
                    "a=1; Max-Age=60; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
                    "/",
                )],
                "/",
                "Cookie: a=1\r\n",
            ),
            (&[("a=1; Secure", "/")], "/", ""),
            (&[("novalue", "/")], "/", ""),
            (&[("=x", "/")], "/", ""),
            (&[(" a = 1 ; path = /", "/")], "/", "Cookie: a=1\r\n"),
        ];
        for (fields, target, want) in cases {
            assert_eq!(
                header(&jar(fields), target),
                *want,
                "{fields:?} -> {target}"
            );
        }
    }

    #[test]
    fn a_cookie_expires_while_kept() {
        let j = jar(&[("a=1; Max-Age=10", "/")]);
        let mut out = Vec::new();
        j.write_header(b"/", NOW + 11, false, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn the_jar_is_bounded() {
        let mut j = Jar::default();
        for i in 0..MAX_COOKIES + 10 {
            j.store(format!("c{i}=v").as_bytes(), b"/", NOW);
        }
        assert_eq!(j.len(), MAX_COOKIES);
        let long = format!("a={}", "x".repeat(MAX_COOKIE_BYTES));
        let mut j = Jar::default();
        j.store(long.as_bytes(), b"/", NOW);
        assert!(j.is_empty());
    }

    #[test]
    fn cookie_dates_parse_in_their_common_forms() {
        let cases: &[(&str, Option<i64>)] = &[
            ("Wed, 21 Oct 2015 07:28:00 GMT", Some(1_445_412_480)),
            ("Wednesday, 21-Oct-15 07:28:00 GMT", Some(1_445_412_480)),
            ("Wed Oct 21 07:28:00 2015", Some(1_445_412_480)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Wed, 21 Foo 2015 07:28:00 GMT", None),
            ("Wed, 21 Oct 2015", None),
            ("Wed, 32 Oct 2015 07:28:00 GMT", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_date(text.as_bytes()), *want, "{text}");
        }
    }
}
