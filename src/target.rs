//! The target URL: parsed once, resolved once, turned into what the wire needs
//! (a socket address, a `Host` header value and an origin-form request target).
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// Port used when an `http://` URL names none (RFC 9110 §4.2.1).
pub const HTTP_DEFAULT_PORT: u16 = 80;
/// Port used when an `https://` URL names none (RFC 9110 §4.2.2).
pub const HTTPS_DEFAULT_PORT: u16 = 443;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL as the user gave it.
    pub url: String,
    /// The address every connection goes to: DNS is resolved once, before the run.
    pub addr: SocketAddr,
    /// `Host` header value: the authority as written (RFC 9112 §3.2).
    pub host: String,
    /// Origin-form request target: path and query (RFC 9112 §3.2.1).
    pub path: String,
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
    BadPort(String),
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
            TargetError::BadPort(p) => write!(f, "invalid port {p:?}"),
            TargetError::Resolve(h, e) => write!(f, "cannot resolve {h}: {e}"),
            TargetError::BadConnectTo(c) => write!(
                f,
                "invalid --connect-to {c:?}: expected HOST:PORT:ADDR:PORT (HOST and PORT may be empty)"
            ),
        }
    }
}

impl std::error::Error for TargetError {}

/// The pieces of an `http(s)://host[:port][/path][?query]` URL, before resolution.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub tls: bool,
    pub host: &'a str,
    pub port: u16,
    pub authority: &'a str,
    pub path: String,
}

/// Splits an http URL; no I/O.
pub fn split_url(url: &str) -> Result<UrlParts<'_>, TargetError> {
    let (tls, rest) = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
        Some((scheme, _)) => return Err(TargetError::UnsupportedScheme(scheme.to_owned())),
        None => (false, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default_port = if tls {
        HTTPS_DEFAULT_PORT
    } else {
        HTTP_DEFAULT_PORT
    };
    let (host, port) = split_host_port(authority, default_port)?;
    if host.is_empty() {
        return Err(TargetError::MissingHost);
    }
    let tail = tail.split('#').next().unwrap_or("");
    let path = if tail.starts_with('/') {
        tail.to_owned()
    } else {
        format!("/{tail}")
    };
    Ok(UrlParts {
        tls,
        host,
        port,
        authority,
        path,
    })
}

fn split_host_port(authority: &str, default_port: u16) -> Result<(&str, u16), TargetError> {
    // An IPv6 literal is bracketed (RFC 3986 §3.2.2); its colons are not the port's.
    let colon = if authority.starts_with('[') {
        authority
            .find(']')
            .and_then(|i| authority[i..].find(':').map(|j| i + j))
    } else {
        authority.rfind(':')
    };
    match colon {
        Some(i) => {
            let port = &authority[i + 1..];
            let port = port
                .parse::<u16>()
                .map_err(|_| TargetError::BadPort(port.to_owned()))?;
            Ok((&authority[..i], port))
        }
        None => Ok((authority, default_port)),
    }
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
            url: url.to_owned(),
            addr,
            host: parts.authority.to_owned(),
            path: parts.path,
            tls: parts.tls,
            server_name: host.to_owned(),
        })
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
            ("localhost:9000/a?b=1", "localhost", 9000, "/a?b=1"),
            ("http://h:1?x=y#frag", "h", 1, "/?x=y"),
            ("http://[::1]:8080/p", "[::1]", 8080, "/p"),
            ("HTTP://u:pw@h:2/p", "h", 2, "/p"),
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
            Err(TargetError::BadPort(_))
        ));
    }

    #[test]
    fn resolves_loopback_once() {
        let t = Target::resolve("http://127.0.0.1:8080/health").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.host, "127.0.0.1:8080");
    }
}
