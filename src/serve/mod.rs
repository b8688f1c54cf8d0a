//! A built-in target server for demos and tests: `blast serve` imitates the article's model API
//! (`GET /health`, `POST /predict`) so a load test needs no outside server.
//!
//! Engine: one std thread per core, each with its own monoio runtime and its own listener on the
//! same address (SO_REUSEPORT), so the kernel spreads connections over the threads.

mod conn;
mod frame;
mod limits;
mod model;
mod registry;
pub mod tls;
mod wire;

use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use monoio::net::{ListenerOpts, TcpListener};
use rustls::ServerConfig;

use crate::tlsio::TlsStream;

use registry::Registry;

pub use frame::{MAX_BODY_BYTES, MAX_HEADERS, MAX_HEAD_BYTES};
pub use limits::{
    Limits, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, SPARE_FDS,
};
pub use model::{respond, Response, FEATURES};

/// Pending connections per listener.
const BACKLOG: i32 = 1024;
/// A client that has not finished its TLS handshake by then is dropped.
/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// Server threads; 0 means one per available core.
    pub threads: usize,
}

impl ServeConfig {
    /// One thread per available core.
    pub fn new(addr: SocketAddr) -> Self {
        ServeConfig { addr, threads: 0 }
    }

    fn thread_count(&self) -> usize {
        match self.threads {
            0 => thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// Binds, then runs until the process is killed (or a server thread fails).
/// Prints `listening on http://ADDR` to stderr once bound.
pub fn serve(cfg: &ServeConfig, limits: &Limits) -> io::Result<()> {
    serve_with(cfg, limits, None)
}

/// As [`serve`], over TLS when `tls` is given (`listening on https://ADDR`).
pub fn serve_with(
    cfg: &ServeConfig,
    limits: &Limits,
    tls: Option<Arc<ServerConfig>>,
) -> io::Result<()> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (addr, workers) = start(cfg, limits, tls)?;
    eprintln!("listening on {scheme}://{addr}");
    for worker in workers {
        match worker.join() {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::other("a server thread panicked")),
        }
    }
    Ok(())
}

/// Binds (port 0 allowed), starts the server threads in the background and returns the bound
/// address. The threads run for the rest of the process.
pub fn spawn(cfg: &ServeConfig) -> io::Result<SocketAddr> {
    spawn_with(cfg, &Limits::default())
}

/// [`spawn`] with other limits than the defaults.
pub fn spawn_with(cfg: &ServeConfig, limits: &Limits) -> io::Result<SocketAddr> {
    start(cfg, limits, None).map(|(addr, _)| addr)
}

/// As [`spawn`], over TLS.
pub fn spawn_tls(cfg: &ServeConfig, tls: Arc<ServerConfig>) -> io::Result<SocketAddr> {
    start(cfg, &Limits::default(), Some(tls)).map(|(addr, _)| addr)
}

type Worker = thread::JoinHandle<io::Result<()>>;

/// Starts the first thread on `cfg.addr` to learn the real port, then the rest on that port.
/// Returns once every thread is listening.
fn start(
    cfg: &ServeConfig,
    limits: &Limits,
    tls: Option<Arc<ServerConfig>>,
) -> io::Result<(SocketAddr, Vec<Worker>)> {
    refuse_port_in_use(cfg.addr)?;
    let count = cfg.thread_count();
    let each = Each {
        limits: *limits,
        cap: limits.per_thread_cap(count, limits::raise_fd_limit()),
        tls,
    };
    let mut workers = Vec::with_capacity(count);
    let (first, addr) = start_worker(0, cfg.addr, each.clone())?;
    workers.push(first);
    for index in 1..count {
        let (worker, _) = start_worker(index, addr, each.clone())?;
        workers.push(worker);
    }
    Ok((addr, workers))
}

/// SO_REUSEPORT would let a second server silently share a port with the first; a plain bind
/// (no reuseport) fails while any listener holds the port, so probe with one and let it go.
fn refuse_port_in_use(addr: SocketAddr) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    std::net::TcpListener::bind(addr)
        .map(drop)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// What every server thread is given: the limits, its share of the connection cap, and the
/// TLS configuration when serving HTTPS.
#[derive(Debug, Clone)]
struct Each {
    limits: Limits,
    cap: usize,
    tls: Option<Arc<ServerConfig>>,
}

/// Starts one server thread and waits until it is listening (or failed to).
fn start_worker(index: usize, addr: SocketAddr, each: Each) -> io::Result<(Worker, SocketAddr)> {
    let (bound_tx, bound_rx) = mpsc::sync_channel(1);
    let worker = thread::Builder::new()
        .name(format!("blast-serve-{index}"))
        .spawn(move || run_worker(addr, each, bound_tx))?;
    match bound_rx.recv() {
        Ok(Ok(bound)) => Ok((worker, bound)),
        Ok(Err(e)) => Err(e),
        // The thread ended without reporting: its own result says why.
        Err(_) => match worker.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(io::Error::other("server thread stopped while starting")),
        },
    }
}

/// Body of one server thread: a runtime, a listener, and an accept loop that never ends.
fn run_worker(
    addr: SocketAddr,
    each: Each,
    bound: mpsc::SyncSender<io::Result<SocketAddr>>,
) -> io::Result<()> {
    let mut runtime = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()?;
    runtime.block_on(async move {
        let opts = ListenerOpts::new().reuse_port(true).backlog(BACKLOG);
        let listener = match TcpListener::bind_with_config(addr, &opts).and_then(|l| {
            let local = l.local_addr()?;
            Ok((l, local))
        }) {
            Ok((listener, local)) => {
                // The receiver only goes away if the starter did; serving on is harmless.
                let _ = bound.send(Ok(local));
                listener
            }
            Err(e) => {
                let _ = bound.send(Err(e));
                return Ok(());
            }
        };
        accept_forever(listener, each).await
    })
}

/// Accepts for ever; at the connection cap a newcomer evicts the connection that has waited
/// longest for a request, or is turned away with 503 when every connection is busy.
async fn accept_forever(listener: TcpListener, each: Each) -> io::Result<()> {
    let registry = Registry::new(each.cap);
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let _ = stream.set_nodelay(true);
                match (Registry::admit(&registry), &each.tls) {
                    (Some(ticket), None) => {
                        monoio::spawn(conn::serve_connection(stream, each.limits, ticket));
                    }
                    (Some(ticket), Some(config)) => {
                        monoio::spawn(serve_tls(stream, config.clone(), each.limits, ticket));
                    }
                    (None, _) => {
                        monoio::spawn(conn::turn_away(stream));
                    }
                }
            }
            Err(_) => monoio::time::sleep(ACCEPT_BACKOFF).await,
        }
    }
}

/// One TLS connection: the handshake (bounded by the header timeout, so a stalled handshake
/// cannot pin a connection), then the same connection loop as plain HTTP.
async fn serve_tls(
    stream: monoio::net::TcpStream,
    config: Arc<ServerConfig>,
    limits: Limits,
    ticket: registry::Ticket,
) {
    let Ok(session) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = TlsStream::new(stream, session);
    let handshake = monoio::time::timeout(limits.header_timeout, tls.handshake()).await;
    if let Ok(Ok(())) = handshake {
        conn::serve_connection(tls, limits, ticket).await;
    }
}
