//! The target URL: parsed once, strictly, resolved once, turned into what the wire needs
//! (a socket address, a `Host` header value and an origin-form request target).
//!
//! The parser refuses what would be guessed at (an unclosed `[`, a port that is not digits,
//! port 0, a control byte anywhere) and percent-encodes the printable bytes that may not
//! appear on a request line (a space, `"`, `<`, non-ASCII …), so nothing the user typed can
//! split the request line. Credentials in the URL (`http://user:pw@host/`) become an
//! `Authorization: Basic` value and are never part of the URL that reports show.
use std::fmt;
use std::net::{Ipv6Addr, SocketAddr, ToSocketAddrs};

use base64::Engine as _;

/// Port used when an `http://` URL names none (RFC 9110 §4.2.1).
pub const HTTP_DEFAULT_PORT: u16 = 80;
/// Port used when an `https://` URL names none (RFC 9110 §4.2.2).
pub const HTTPS_DEFAULT_PORT: u16 = 443;

/// Hex digits for `%XX` escapes.
const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL as reports show it: as the user gave it, less any `user:pw@`.
    pub url: String,
    /// The address every connection goes to: DNS is resolved once, before the run.
    pub addr: SocketAddr,
    /// `Host` header value: the authority as written, less any userinfo (RFC 9112 §3.2).
    pub host: String,
    /// Origin-form request target: path and query (RFC 9112 §3.2.1), percent-encoded
    /// where the URL held bytes a request line may not carry.
    pub path: String,
    /// `Authorization` header value from the URL's userinfo (`Basic …`, RFC 7617).
    pub authorization: Option<String>,
    /// An `https://` URL: connections speak TLS.
    pub tls: bool,
    /// The host name (or IP literal, unbracketed) certificates are checked against and
    /// SNI names.
    pub server_name: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TargetError {
    UnsupportedScheme(String),
    MissingHost,
    BadHost(String, &'static str),
    BadPort(String, &'static str),
    /// A control byte (CR, LF, NUL, tab …) at this byte offset of the URL.
    ControlByte(u8, usize),
    Resolve(String, String),
    BadConnectTo(String),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::UnsupportedScheme(s) => {
                write!(
                    f,
                    "unsupported URL scheme {s:?}: blast speaks http:// and https://"
                )
            }
            TargetError::MissingHost => write!(f, "the URL names no host"),
            TargetError::BadHost(h, why) => write!(f, "invalid host {h:?} in the URL: {why}"),
            TargetError::BadPort(p, why) => write!(f, "invalid port {p:?}: {why}"),
            TargetError::ControlByte(b, at) => write!(
                f,
                "the URL holds control byte 0x{b:02x} at offset {at}: it could split the request"
            ),
            TargetError::Resolve(h, e) => write!(f, "cannot resolve {h}: {e}"),
            TargetError::BadConnectTo(c) => write!(
                f,
                "invalid --connect-to {c:?}: expected HOST:PORT:ADDR:PORT (HOST and PORT may be empty)"
            ),
        }
    }
}

impl std::error::Error for TargetError {}

/// The pieces of an `http(s)://[user:pw@]host[:port][/path][?query]` URL, before resolution.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// An `https://` URL.
    pub tls: bool,
    /// As written; an IPv6 literal keeps its brackets.
    pub host: &'a str,
    pub port: u16,
    /// `host[:port]` as written, without userinfo: the `Host` header value.
    pub authority: &'a str,
    /// `user[:password]` as written (still percent-encoded), if the URL has one.
    pub userinfo: Option<&'a str>,
    /// The origin-form request target, percent-encoded where needed.
    pub path: String,
    /// The URL without its userinfo, for showing.
    pub shown: String,
}

/// Splits an http URL; no I/O.
pub fn split_url(url: &str) -> Result<UrlParts<'_>, TargetError> {
    if let Some(at) = url.bytes().position(|b| b.is_ascii_control()) {
        return Err(TargetError::ControlByte(url.as_bytes()[at], at));
    }
    let (tls, prefix, rest) = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => {
            (false, &url[..scheme.len() + 3], rest)
        }
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => {
            (true, &url[..scheme.len() + 3], rest)
        }
        Some((scheme, _)) => return Err(TargetError::UnsupportedScheme(scheme.to_owned())),
        None => (false, "", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (full_authority, tail) = rest.split_at(end);
    let (userinfo, authority) = match full_authority.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, full_authority),
    };
    let default_port = if tls {
        HTTPS_DEFAULT_PORT
    } else {
        HTTP_DEFAULT_PORT
    };
    let (host, port) = split_host_port(authority, default_port)?;
    let tail = tail.split('#').next().unwrap_or("");
    let mut path = String::with_capacity(tail.len() + 1);
    if !tail.starts_with('/') {
        path.push('/');
    }
    encode_target(tail, &mut path);
    Ok(UrlParts {
        tls,
        host,
        port,
        authority,
        userinfo,
        path,
        shown: format!("{prefix}{authority}{}", &rest[end..]),
    })
}

/// `host[:port]` with the host checked: a bracketed IPv6 literal or a registered name.
fn split_host_port(authority: &str, default_port: u16) -> Result<(&str, u16), TargetError> {
    // An IPv6 literal is bracketed (RFC 3986 §3.2.2); its colons are not the port's.
    let (host, port) = if authority.starts_with('[') {
        let close = authority
            .find(']')
            .ok_or_else(|| TargetError::BadHost(authority.to_owned(), "`[` without `]`"))?;
        let (host, after) = authority.split_at(close + 1);
        if host[1..close].parse::<Ipv6Addr>().is_err() {
            return Err(TargetError::BadHost(host.to_owned(), "not an IPv6 address"));
        }
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(TargetError::BadHost(authority.to_owned(), "text after `]`")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(TargetError::MissingHost);
    }
    if !host.starts_with('[') && !host.bytes().all(is_reg_name_byte) {
        return Err(TargetError::BadHost(
            host.to_owned(),
            "a host name holds letters, digits and - . _ ~ only (write IPv6 in brackets)",
        ));
    }
    Ok((host, parse_port(port, default_port)?))
}

/// RFC 3986 §3.2.2 `reg-name`: unreserved, sub-delims and percent-escapes.
fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b)
}

/// Digits only (no sign, no spaces), 1 to 65535; an empty port means the default.
fn parse_port(port: Option<&str>, default_port: u16) -> Result<u16, TargetError> {
    let Some(p) = port.filter(|p| !p.is_empty()) else {
        return Ok(default_port);
    };
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TargetError::BadPort(p.to_owned(), "a port is digits only"));
    }
    match p.parse::<u16>() {
        Ok(0) => Err(TargetError::BadPort(
            p.to_owned(),
            "port 0 cannot be connected to",
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(TargetError::BadPort(p.to_owned(), "above 65535")),
    }
}

/// Appends `tail` (path and query), percent-encoding the bytes a request target may not
/// hold raw (RFC 9112 §3.2, RFC 3986 §2): a space, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`,
/// `|`, `}` and every non-ASCII byte. Control bytes never get here (`split_url`).
fn encode_target(tail: &str, out: &mut String) {
    for &b in tail.as_bytes() {
        if b >= 0x80 || b" \"<>\\^`{|}".contains(&b) {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push(char::from(b));
        }
    }
}

/// `Basic base64(user:password)` for a URL's userinfo, percent-decoded first (RFC 3986 §3.2.1).
fn basic_authorization(userinfo: &str) -> String {
    let decoded = percent_decode(userinfo.as_bytes());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(decoded)
    )
}

/// `%XX` → the byte; a `%` not followed by two hex digits stays as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let pair = s
            .get(i + 1..i + 3)
            .and_then(|p| Some((hex(p[0])?, hex(p[1])?)));
        match (s[i], pair) {
            (b'%', Some((hi, lo))) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// `--connect-to HOST:PORT:ADDR:PORT` (curl's meaning): connections for HOST:PORT go to
/// ADDR:PORT instead, while `Host`, SNI and certificate checks keep the URL's name. An empty
/// HOST or PORT matches any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTo {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub to_host: String,
    pub to_port: u16,
}

impl ConnectTo {
    pub fn parse(s: &str) -> Result<ConnectTo, TargetError> {
        let bad = || TargetError::BadConnectTo(s.to_owned());
        let (host, rest) = split_pair(s).ok_or_else(bad)?;
        let (port, rest) = split_pair(rest).ok_or_else(bad)?;
        let (to_host, to_port) = split_pair(rest).ok_or_else(bad)?;
        let unbracket = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = match port {
            "" => None,
            p => Some(p.parse().map_err(|_| bad())?),
        };
        if to_host.is_empty() {
            return Err(bad());
        }
        Ok(ConnectTo {
            host: (!host.is_empty()).then(|| unbracket(host)),
            port,
            to_host: unbracket(to_host),
            to_port: to_port.parse().map_err(|_| bad())?,
        })
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        self.host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(host))
            && self.port.is_none_or(|p| p == port)
    }
}

/// `a:b` split at its first colon outside brackets, for `HOST:PORT:ADDR:PORT` taken two
/// fields at a time from the left (`[::1]:443:…` keeps the literal whole).
fn split_pair(s: &str) -> Option<(&str, &str)> {
    let from = if s.starts_with('[') { s.find(']')? } else { 0 };
    let i = from + s[from..].find(':')?;
    Some((&s[..i], &s[i + 1..]))
}

impl Target {
    /// Parses and resolves `url` (DNS once, first address wins).
    pub fn resolve(url: &str) -> Result<Target, TargetError> {
        Target::resolve_via(url, &[])
    }

    /// As [`Target::resolve`], but the first `--connect-to` rule that matches the URL's host
    /// and port decides the address connected to.
    pub fn resolve_via(url: &str, connect_to: &[ConnectTo]) -> Result<Target, TargetError> {
        let parts = split_url(url)?;
        let host = parts.host.trim_start_matches('[').trim_end_matches(']');
        let (dial, port) = match connect_to.iter().find(|c| c.matches(host, parts.port)) {
            Some(c) => (c.to_host.as_str(), c.to_port),
            None => (host, parts.port),
        };
        let addr = (dial, port)
            .to_socket_addrs()
            .map_err(|e| TargetError::Resolve(dial.to_owned(), e.to_string()))?
            .next()
            .ok_or_else(|| TargetError::Resolve(dial.to_owned(), "no address".to_owned()))?;
        Ok(Target {
            url: parts.shown,
            addr,
            host: parts.authority.to_owned(),
            path: parts.path,
            authorization: parts.userinfo.map(basic_authorization),
            tls: parts.tls,
            server_name: host.to_owned(),
        })
    }
}

/// `url` as reports may show it: any `user:pw@` removed. A URL that does not parse is
/// shown up to its authority's `@` removed all the same, so no output leaks a password.
pub fn shown_url(url: &str) -> String {
    match split_url(url) {
        Ok(parts) => parts.shown,
        Err(_) => match url.split_once('@') {
            Some((before, after)) => match before.split_once("://") {
                Some((scheme, _)) => format!("{scheme}://{after}"),
                None => after.to_owned(),
            },
            None => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_urls_users_type() {
        let cases = [
            ("http://127.0.0.1:8080/health", "127.0.0.1", 8080, "/health"),
            ("http://localhost/", "localhost", 80, "/"),
            ("http://localhost", "localhost", 80, "/"),
            ("http://localhost:/x", "localhost", 80, "/x"),
            ("localhost:9000/a?b=1", "localhost", 9000, "/a?b=1"),
            ("http://h:1?x=y#frag", "h", 1, "/?x=y"),
            ("http://[::1]:8080/p", "[::1]", 8080, "/p"),
            ("http://[::1]/p", "[::1]", 80, "/p"),
            ("HTTP://u:pw@h:2/p", "h", 2, "/p"),
            (
                "http://h/items?filter[a]=1&b=%20",
                "h",
                80,
                "/items?filter[a]=1&b=%20",
            ),
        ];
        for (url, host, port, path) in cases {
            let p = split_url(url).unwrap();
            assert_eq!(
                (p.host, p.port, p.path.as_str()),
                (host, port, path),
                "{url}"
            );
        }
    }

    #[test]
    fn https_urls_speak_tls_on_port_443_by_default() {
        let p = split_url("https://example.com/v1").unwrap();
        assert!(p.tls);
        assert_eq!((p.host, p.port), ("example.com", 443));
        assert!(!split_url("http://example.com/").unwrap().tls);
        assert_eq!(split_url("https:///x"), Err(TargetError::MissingHost));
    }

    #[test]
    fn connect_to_sends_elsewhere_but_keeps_the_name() {
        let rules = [ConnectTo::parse("api.example:443:127.0.0.1:8443").unwrap()];
        let t = Target::resolve_via("https://api.example/health", &rules).unwrap();
        assert_eq!(t.addr, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(
            (t.host.as_str(), t.server_name.as_str()),
            ("api.example", "api.example")
        );
        let any = ConnectTo::parse("::[::1]:9").unwrap();
        assert_eq!((any.host, any.port), (None, None));
        assert_eq!((any.to_host.as_str(), any.to_port), ("::1", 9));
        for bad in ["a:1:b", "a:x:b:1", "a:1::1", "a:1:b:99999", ""] {
            assert!(ConnectTo::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_what_it_cannot_speak() {
        assert!(matches!(
            split_url("ftp://x/"),
            Err(TargetError::UnsupportedScheme(_))
        ));
        assert_eq!(split_url("http://:80/"), Err(TargetError::MissingHost));
        assert!(matches!(
            split_url("http://h:99999/"),
            Err(TargetError::BadPort(..))
        ));
    }

    /// Issue 13 item 9: `http://[::1:9600/` was taken as `[::1:9600]:80`.
    #[test]
    fn unclosed_ipv6_bracket_is_refused_not_sent_to_port_80() {
        for url in [
            "http://[::1:9600/",
            "http://[::1:9600",
            "http://[nonsense]:80/",
            "http://[::1]x:80/",
        ] {
            assert!(
                matches!(split_url(url), Err(TargetError::BadHost(..))),
                "{url}: {:?}",
                split_url(url)
            );
        }
    }

    /// Issue 13 item 9: a port that is not plain digits, or is 0, is not guessed at.
    #[test]
    fn port_zero_and_signed_ports_are_refused() {
        for url in [
            "http://h:0/",
            "http://h:+80/",
            "http://h: 80/",
            "http://h:8o/",
        ] {
            assert!(
                matches!(split_url(url), Err(TargetError::BadPort(..))),
                "{url}: {:?}",
                split_url(url)
            );
        }
        let e = split_url("http://127.0.0.1:0/").unwrap_err().to_string();
        assert!(e.contains("port 0"), "{e}");
    }

    /// Issue 13 item 9: CR/LF (or any control byte) in a URL was sent raw on the request line.
    #[test]
    fn control_bytes_in_a_url_are_refused() {
        for url in [
            "http://h/a\r\nX-Injected: 1",
            "http://h/a\nb",
            "http://h/\0",
            "http://h/a\tb",
            "http://h\r\n/",
            "http://h/\x7f",
        ] {
            assert!(
                matches!(split_url(url), Err(TargetError::ControlByte(..))),
                "{url:?}"
            );
        }
    }

    /// Issue 13 item 9: a space in the path was sent raw, splitting the request line.
    #[test]
    fn bytes_a_request_line_cannot_carry_are_percent_encoded() {
        let cases = [
            ("http://h/a b", "/a%20b"),
            ("http://h/q?x=a b&y=\"<>\"", "/q?x=a%20b&y=%22%3C%3E%22"),
            ("http://h/ü", "/%C3%BC"),
            ("http://h/{a}|\\^`", "/%7Ba%7D%7C%5C%5E%60"),
        ];
        for (url, want) in cases {
            let path = split_url(url).unwrap().path;
            assert_eq!(path, want, "{url}");
            assert_eq!(crate::http::validate_target(&path), Ok(()), "{path}");
        }
    }

    #[test]
    fn host_names_hold_no_stray_bytes() {
        for url in ["http://a b/", "http://h<x>/", "http://hé/"] {
            assert!(
                matches!(split_url(url), Err(TargetError::BadHost(..))),
                "{url}"
            );
        }
    }

    /// Issue 14 item 8: `user:pw@` was silently dropped; it is Basic auth, never shown.
    #[test]
    fn url_credentials_become_basic_auth_and_are_never_shown() {
        let t = Target::resolve("http://al%40ice:s3cr%3At@127.0.0.1:8080/p?q=1").unwrap();
        // base64("al@ice:s3cr:t")
        assert_eq!(
            t.authorization.as_deref(),
            Some("Basic YWxAaWNlOnMzY3I6dA==")
        );
        assert_eq!(t.url, "http://127.0.0.1:8080/p?q=1");
        assert_eq!(t.host, "127.0.0.1:8080");
        let plain = Target::resolve("http://127.0.0.1:8080/").unwrap();
        assert_eq!(plain.authorization, None);
        assert_eq!(plain.url, "http://127.0.0.1:8080/");
        assert_eq!(shown_url("http://u:pw@h:1/x"), "http://h:1/x");
        assert_eq!(shown_url("http://u:pw@[bad/x"), "http://[bad/x");
    }

    #[test]
    fn percent_decoding_leaves_broken_escapes_alone() {
        assert_eq!(percent_decode(b"a%41%4"), b"aA%4");
        assert_eq!(percent_decode(b"%zz%2f"), b"%zz/");
    }

    #[test]
    fn resolves_loopback_once() {
        let t = Target::resolve("http://127.0.0.1:8080/health").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.host, "127.0.0.1:8080");
    }
}
