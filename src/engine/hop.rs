//! Redirect hops to another origin (another host, port, or scheme): where such a hop goes.
//! It goes out on a connection opened to that origin for it (`transport::connect_away`),
//! plain or TLS with that origin's name for SNI and the certificate check, while the
//! user's own connection to the target stays open for its next task (`conn`). Resolving a
//! name blocks the worker's thread, so each worker resolves an origin once and keeps the
//! answer, a failure included (a name that does not resolve is the error
//! `redirect_unresolved` of each task sent there, never a retry loop). Imports nothing of
//! the engine: the flow, the worker's shared state and the transport all use it.
//!
//! Costs: nothing for a task that never leaves the target's origin; a hop elsewhere pays
//! a connection (and a handshake) like a browser's first request to a new host.
use std::net::{SocketAddr, ToSocketAddrs};

use rustls::pki_types::ServerName;

use crate::http::redirect::{Origin, RedirectError};
use crate::results::kind;
use crate::target;

/// Other origins one worker keeps resolved; past this the oldest is forgotten (a server
/// redirecting to ever new names costs a lookup each, and no more memory).
pub const MAX_ORIGINS: usize = 64;

/// The origin a redirect chain has gone to, other than the target's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Away {
    pub tls: bool,
    /// `host[:port]` as the location wrote it: the hop's `Host` header.
    pub authority: Vec<u8>,
}

impl Away {
    pub fn new(origin: Origin<'_>) -> Away {
        Away {
            tls: origin.tls,
            authority: origin.authority.to_vec(),
        }
    }

    pub fn origin(&self) -> Origin<'_> {
        Origin {
            tls: self.tls,
            authority: &self.authority,
        }
    }
}

/// Where connections to an origin go.
#[derive(Debug, Clone)]
pub struct Dial {
    pub addr: SocketAddr,
    /// SNI and the name its certificate is checked against.
    pub server_name: ServerName<'static>,
}

/// One worker's resolved origins (or why one cannot be reached).
#[derive(Debug, Default)]
pub struct Origins {
    known: Vec<(Away, Result<Dial, &'static str>)>,
}

impl Origins {
    /// Where `to` is, resolved on first use.
    pub fn dial(&mut self, to: &Away) -> Result<Dial, &'static str> {
        let same = |k: &Away| k.tls == to.tls && k.authority.eq_ignore_ascii_case(&to.authority);
        if let Some((_, dial)) = self.known.iter().find(|(k, _)| same(k)) {
            return dial.clone();
        }
        let dial = resolve(to);
        if self.known.len() == MAX_ORIGINS {
            drop(self.known.remove(0));
        }
        self.known.push((to.clone(), dial.clone()));
        dial
    }
}

/// Parses `to`'s authority as a URL's and resolves its host (first address, as the
/// target's own is).
fn resolve(to: &Away) -> Result<Dial, &'static str> {
    let bad = RedirectError::BadLocation.name();
    let authority = std::str::from_utf8(&to.authority).map_err(|_| bad)?;
    let scheme = if to.tls { "https" } else { "http" };
    let url = format!("{scheme}://{authority}/");
    let parts = target::split_url(&url).map_err(|_| bad)?;
    let host = parts.host.trim_start_matches('[').trim_end_matches(']');
    let server_name = ServerName::try_from(host.to_owned()).map_err(|_| bad)?;
    let addr = (host, parts.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or(kind::REDIRECT_UNRESOLVED)?;
    Ok(Dial { addr, server_name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn away(tls: bool, authority: &str) -> Away {
        Away {
            tls,
            authority: authority.as_bytes().to_vec(),
        }
    }

    #[test]
    fn an_origin_is_resolved_once_and_a_bad_one_is_named() {
        let mut origins = Origins::default();
        let ok = origins.dial(&away(true, "127.0.0.1:8443")).unwrap();
        assert_eq!(ok.addr, "127.0.0.1:8443".parse().unwrap());
        assert!(matches!(ok.server_name, ServerName::IpAddress(_)));
        let bad = origins.dial(&away(false, "localhost:99999"));
        assert_eq!(bad.unwrap_err(), "bad_redirect_location");
        // Known ones are answered from memory, failures too, case aside.
        origins.dial(&away(true, "127.0.0.1:8443")).unwrap();
        origins.dial(&away(false, "LOCALHOST:99999")).unwrap_err();
        origins.dial(&away(false, "localhost:99999")).unwrap_err();
        assert_eq!(origins.known.len(), 2);
        for port in 0..MAX_ORIGINS {
            origins
                .dial(&away(false, &format!("127.0.0.1:{}", port + 1)))
                .unwrap();
        }
        assert_eq!(origins.known.len(), MAX_ORIGINS);
    }
}
