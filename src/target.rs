//! The target URL: parsed once, resolved once, turned into what the wire needs
//! (a socket address, a `Host` header value and an origin-form request target).
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// Port used when an `http://` URL names none (RFC 9110 §4.2.1).
pub const HTTP_DEFAULT_PORT: u16 = 80;

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
}

#[derive(Debug, PartialEq, Eq)]
pub enum TargetError {
    UnsupportedScheme(String),
    MissingHost,
    BadPort(String),
    Resolve(String, String),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::UnsupportedScheme(s) => {
                write!(
                    f,
                    "unsupported URL scheme {s:?}: blast speaks plain http://"
                )
            }
            TargetError::MissingHost => write!(f, "the URL names no host"),
            TargetError::BadPort(p) => write!(f, "invalid port {p:?}"),
            TargetError::Resolve(h, e) => write!(f, "cannot resolve {h}: {e}"),
        }
    }
}

impl std::error::Error for TargetError {}

/// The pieces of an `http://host[:port][/path][?query]` URL, before resolution.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub host: &'a str,
    pub port: u16,
    pub authority: &'a str,
    pub path: String,
}

/// Splits an http URL; no I/O.
pub fn split_url(url: &str) -> Result<UrlParts<'_>, TargetError> {
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) => return Err(TargetError::UnsupportedScheme(scheme.to_owned())),
        None => url,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(authority)?;
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
        host,
        port,
        authority,
        path,
    })
}

fn split_host_port(authority: &str) -> Result<(&str, u16), TargetError> {
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
        None => Ok((authority, HTTP_DEFAULT_PORT)),
    }
}

impl Target {
    /// Parses and resolves `url` (DNS once, first address wins).
    pub fn resolve(url: &str) -> Result<Target, TargetError> {
        let parts = split_url(url)?;
        let host = parts.host.trim_start_matches('[').trim_end_matches(']');
        let addr = (host, parts.port)
            .to_socket_addrs()
            .map_err(|e| TargetError::Resolve(host.to_owned(), e.to_string()))?
            .next()
            .ok_or_else(|| TargetError::Resolve(host.to_owned(), "no address".to_owned()))?;
        Ok(Target {
            url: url.to_owned(),
            addr,
            host: parts.authority.to_owned(),
            path: parts.path,
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
    fn rejects_what_it_cannot_speak() {
        assert!(matches!(
            split_url("https://x/"),
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
