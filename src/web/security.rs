//! Who may use the dashboard. The page can start load against any host, so:
//! - bound to loopback, only requests naming a loopback `Host` are served (a DNS-rebinding
//!   page names its own host);
//! - bound elsewhere, every request carries the access token: an `Authorization: Bearer`
//!   header, a `?token=` once (answered with a cookie), or that cookie;
//! - a state-changing request is a POST with this server's CSRF token in `X-CSRF-Token`
//!   and no foreign `Origin` (nor a cross-site `Sec-Fetch-Site`).
use std::net::SocketAddr;

use rand::RngCore as _;

use super::server::Request;

/// The cookie that carries the access token after a `?token=` visit.
pub const TOKEN_COOKIE: &str = "blast_token";
/// The header a state-changing request carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Random bytes in a generated token (hex-encoded, twice as many characters).
pub const TOKEN_BYTES: usize = 16;

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 403: a loopback server asked for by another host name.
    ForeignHost,
    /// 403: no access token, or a wrong one.
    Token,
    /// 405: a state-changing path asked with another method than POST.
    NotPost,
    /// 403: an `Origin` (or `Sec-Fetch-Site`) of another site.
    ForeignOrigin,
    /// 403: no CSRF token, or a wrong one.
    Csrf,
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NotPost => 405,
            _ => 403,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Refusal::ForeignHost => "this dashboard answers only to a loopback Host",
            Refusal::Token => {
                "access token missing or wrong (use ?token=, a cookie or Authorization: Bearer)"
            }
            Refusal::NotPost => "this path changes state: POST only",
            Refusal::ForeignOrigin => "refused: request from another origin",
            Refusal::Csrf => "CSRF token missing or wrong: reload the page",
        }
    }
}

/// The server's secrets and where it listens.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Required on every request when set (any bind but loopback).
    token: Option<String>,
    csrf: String,
    loopback: bool,
}

/// `n` random bytes from the OS, hex-encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal strings, compared in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Guard {
    /// A guard for a server bound to `addr`; `token` is required unless it is loopback.
    pub fn new(addr: SocketAddr, token: Option<String>) -> Self {
        Guard {
            token,
            csrf: random_token(),
            loopback: addr.ip().is_loopback(),
        }
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Checks that apply to every request. `Ok(true)` when the token came in the query, so
    /// the answer should set the cookie.
    pub fn admit(&self, req: &Request) -> Result<bool, Refusal> {
        if self.loopback && !req.header("host").is_some_and(is_loopback_host) {
            return Err(Refusal::ForeignHost);
        }
        let Some(token) = &self.token else {
            return Ok(false);
        };
        let bearer = req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        let cookie = req.cookie(TOKEN_COOKIE);
        if bearer.or(cookie).is_some_and(|t| same_secret(t, token)) {
            return Ok(false);
        }
        match req.query_param("token") {
            Some(t) if same_secret(&t, token) => Ok(true),
            _ => Err(Refusal::Token),
        }
    }

    /// Checks for a request that changes state (start, stop, edit, reset).
    pub fn allow_change(&self, req: &Request) -> Result<(), Refusal> {
        if req.method != "POST" {
            return Err(Refusal::NotPost);
        }
        if !same_origin(req) {
            return Err(Refusal::ForeignOrigin);
        }
        match req.header(CSRF_HEADER) {
            Some(t) if same_secret(t, &self.csrf) => Ok(()),
            _ => Err(Refusal::Csrf),
        }
    }

    /// The `Set-Cookie` value that keeps the access token for the rest of the session.
    pub fn cookie(&self) -> Option<String> {
        self.token
            .as_ref()
            .map(|t| format!("{TOKEN_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict"))
    }
}

/// `127.0.0.1:P`, `localhost:P`, `[::1]:P` (or without a port).
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// No `Origin`, or one naming this server's `Host`; and no cross-site fetch metadata.
fn same_origin(req: &Request) -> bool {
    if let Some(site) = req.header("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    match (req.header("origin"), req.header("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin.eq_ignore_ascii_case(&format!("http://{host}")),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: &str = "127.0.0.1:8089";

    fn req(method: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: method.into(),
            path: "/api/start".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        }
    }

    #[test]
    fn loopback_answers_only_loopback_host_names() {
        let g = Guard::new(LOOPBACK.parse().unwrap(), None);
        for ok in [
            "127.0.0.1:8089",
            "localhost:8089",
            "[::1]:8089",
            "localhost",
        ] {
            assert_eq!(g.admit(&req("GET", &[("Host", ok)])), Ok(false), "{ok}");
        }
        for bad in ["evil.example:8089", "127.0.0.1.evil.example", ""] {
            assert_eq!(
                g.admit(&req("GET", &[("Host", bad)])),
                Err(Refusal::ForeignHost),
                "{bad}"
            );
        }
        assert_eq!(g.admit(&req("GET", &[])), Err(Refusal::ForeignHost));
    }

    #[test]
    fn a_token_is_needed_everywhere_once_set() {
        let g = Guard::new("0.0.0.0:8089".parse().unwrap(), Some("s3cret".into()));
        let host = ("Host", "10.0.0.1:8089");
        assert_eq!(g.admit(&req("GET", &[host])), Err(Refusal::Token));
        assert_eq!(
            g.admit(&req("GET", &[host, ("Authorization", "Bearer wrong")])),
            Err(Refusal::Token)
        );
        assert_eq!(
            g.admit(&req("GET", &[host, ("Authorization", "Bearer s3cret")])),
            Ok(false)
        );
        assert_eq!(
            g.admit(&req("GET", &[host, ("Cookie", "blast_token=s3cret")])),
            Ok(false)
        );
        let mut q = req("GET", &[host]);
        q.query = "token=s3cret".into();
        assert_eq!(g.admit(&q), Ok(true), "query token sets the cookie");
        q.query = "token=s3cre".into();
        assert_eq!(g.admit(&q), Err(Refusal::Token));
    }

    #[test]
    fn changes_need_post_same_origin_and_the_csrf_token() {
        let g = Guard::new(LOOPBACK.parse().unwrap(), None);
        let csrf = g.csrf().to_owned();
        let host = ("Host", LOOPBACK);
        let token = ("X-CSRF-Token", csrf.as_str());
        let origin = ("Origin", "http://127.0.0.1:8089");
        assert_eq!(g.allow_change(&req("POST", &[host, origin, token])), Ok(()));
        assert_eq!(g.allow_change(&req("POST", &[host, token])), Ok(()));
        assert_eq!(
            g.allow_change(&req("GET", &[host, origin, token])),
            Err(Refusal::NotPost)
        );
        assert_eq!(
            g.allow_change(&req(
                "POST",
                &[host, ("Origin", "http://evil.example"), token]
            )),
            Err(Refusal::ForeignOrigin)
        );
        assert_eq!(
            g.allow_change(&req(
                "POST",
                &[host, ("Sec-Fetch-Site", "cross-site"), token]
            )),
            Err(Refusal::ForeignOrigin)
        );
        assert_eq!(
            g.allow_change(&req("POST", &[host, origin])),
            Err(Refusal::Csrf)
        );
        assert_eq!(
            g.allow_change(&req("POST", &[host, origin, ("X-CSRF-Token", "x")])),
            Err(Refusal::Csrf)
        );
    }

    #[test]
    fn generated_tokens_differ_and_compare_exactly() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 2 * TOKEN_BYTES);
        assert_ne!(a, b);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
        assert!(!same_secret("ab", "abc"));
    }
}
