//! The transport under the connection loop: plain TCP, or TLS over it (`https://`). Both
//! are one `Stream` with monoio's owned-buffer read and write, so framing, pipelining and
//! accounting are the same code for both. `connect` opens one, bounded by
//! `--connect-timeout` (TCP connect and handshake together), and records how long each
//! part took; a failure comes back as the error kind it is counted under.
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::BufResult;
use rustls::pki_types::ServerName;
use rustls::ClientConnection;

use super::hop::Away;
use super::shared::Shared;
use crate::http::redirect::RedirectError;
use crate::results::kind;
use crate::tls::{self, TlsClient};
use crate::tlsio::{tls_error, TlsStream};

/// One connection to the target.
pub enum Stream {
    Plain(TcpStream),
    /// Boxed: a TLS session is a few kilobytes, a plain stream a file descriptor.
    Tls(Box<TlsStream<TcpStream, ClientConnection>>),
}

impl Stream {
    /// A TLS connection (bytes waiting on its socket may be the server's session tickets).
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

/// The socket under the stream, for `stale::peek`: a close shows on the TCP socket, TLS or
/// not.
impl std::os::fd::AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            Stream::Plain(s) => s.as_raw_fd(),
            Stream::Tls(t) => t.io().as_raw_fd(),
        }
    }
}

/// Opens a connection for `w`'s plan: TCP, then the TLS handshake for an https target.
pub async fn connect(w: &Shared) -> Result<Stream, &'static str> {
    let tls = w.plan.tls.as_deref().map(|c| (c, &c.server_name));
    connect_to(w, w.plan.target.addr, tls).await
}

/// Opens a connection for a redirect's hop to another origin, resolved once per worker
/// (`hop`); a failure is the error kind the hop's task is counted under.
pub async fn connect_away(w: &Shared, to: &Away) -> Result<Stream, &'static str> {
    let dial = w.origins.borrow_mut().dial(to)?;
    let tls = match to.tls {
        false => None,
        true => Some(
            w.plan
                .redirect_tls
                .as_deref()
                .ok_or(RedirectError::UnsupportedScheme.name())?,
        ),
    };
    let stream = connect_to(w, dial.addr, tls.map(|c| (c, &dial.server_name))).await?;
    w.rec.borrow_mut().connected();
    Ok(stream)
}

/// Opens a connection to `addr`: TCP, then with `tls` the handshake with that client for
/// that server name (SNI and the certificate check).
pub async fn connect_to(
    w: &Shared,
    addr: SocketAddr,
    tls: Option<(&TlsClient, &ServerName<'static>)>,
) -> Result<Stream, &'static str> {
    let start = Instant::now();
    let deadline = monoio::time::Instant::from_std(start + w.plan.connect_timeout);
    let attempt = TcpStream::connect_addr(addr);
    let tcp = match monoio::time::timeout_at(deadline, attempt).await {
        Err(_) => return Err(kind::CONNECT_TIMEOUT),
        Ok(Err(e)) => return Err(connect_failed(w, addr, &e)),
        Ok(Ok(s)) => s,
    };
    // Small requests must leave at once, not wait for Nagle's algorithm.
    let _ = tcp.set_nodelay(true);
    let connected = Instant::now();
    w.rec.borrow_mut().conns().connected(connected - start);
    let Some((client, server_name)) = tls else {
        return Ok(Stream::Plain(tcp));
    };
    let session = ClientConnection::new(client.config.clone(), server_name.clone())
        .map_err(|e| failed(w, &e))?;
    // Boxed before the handshake, not after: the session (2 KB) then never sits in the
    // connect future, which is part of every user's task, TLS or not.
    let mut stream = Box::new(TlsStream::new(tcp, session));
    match monoio::time::timeout_at(deadline, stream.handshake()).await {
        Err(_) => {
            note_first(w, kind::TLS_HANDSHAKE, || {
                format!(
                    "the TLS handshake did not finish within --connect-timeout {:?}",
                    w.plan.connect_timeout
                )
            });
            Err(kind::TLS_HANDSHAKE)
        }
        Ok(Err(e)) => Err(match tls_error(&e) {
            Some(t) => failed(w, t),
            None => {
                note_first(w, kind::TLS_HANDSHAKE, || e.to_string());
                kind::TLS_HANDSHAKE
            }
        }),
        Ok(Ok(())) => {
            handshaken(w, stream.session(), connected)?;
            Ok(Stream::Tls(stream))
        }
    }
}

/// Records a completed handshake; refuses a server that chose something but http/1.1.
fn handshaken(w: &Shared, session: &ClientConnection, since: Instant) -> Result<(), &'static str> {
    if session
        .alpn_protocol()
        .is_some_and(|p| p != tls::ALPN_HTTP11)
    {
        note_first(w, kind::TLS_PROTOCOL, || {
            "the server chose an application protocol other than http/1.1 by ALPN".to_owned()
        });
        return Err(kind::TLS_PROTOCOL);
    }
    let resumed = matches!(
        session.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    let version = session
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("TLS");
    let suite = session
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown suite");
    let what = [version, suite].join(" ");
    w.rec
        .borrow_mut()
        .conns()
        .handshake(since.elapsed(), resumed, &what);
    Ok(())
}

/// Names a TLS failure and keeps the first reason of its kind.
fn failed(w: &Shared, e: &rustls::Error) -> &'static str {
    let kind = tls::error_kind(e);
    note_first(w, kind, || tls::describe(e));
    kind
}

/// Keeps (and prints, once per worker) the first reason of `kind`.
/// The kind of a failed TCP connect, its words kept for the reports.
fn connect_failed(w: &Shared, addr: SocketAddr, e: &io::Error) -> &'static str {
    let kind = match e.kind() {
        io::ErrorKind::ConnectionRefused => kind::CONNECT_REFUSED,
        _ => kind::CONNECT_ERROR,
    };
    w.rec
        .borrow_mut()
        .note_error(kind, || format!("{addr}: {e}"));
    kind
}

fn note_first(w: &Shared, kind: &'static str, reason: impl FnOnce() -> String) {
    let mut rec = w.rec.borrow_mut();
    let mut shown = None;
    if rec.conns().first_error(kind, || {
        let r = reason();
        shown = Some(r.clone());
        r
    }) && w.index == 0
    {
        if let Some(r) = shown {
            eprintln!("blast: {kind}: {r} (further ones are counted, not printed)");
        }
    }
}

/// The error kind of an I/O error on an open connection, when TLS names it.
pub fn io_error_kind(e: &io::Error) -> Option<&'static str> {
    tls_error(e).map(tls::error_kind)
}

impl AsyncReadRent for Stream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.readv(buf).await,
            Stream::Tls(s) => s.readv(buf).await,
        }
    }
}

impl AsyncWriteRent for Stream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.write(buf).await,
            Stream::Tls(s) => s.write(buf).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.writev(buf).await,
            Stream::Tls(s) => s.writev(buf).await,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush().await,
            Stream::Tls(s) => s.flush().await,
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
        }
    }
}
