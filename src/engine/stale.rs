//! Stale keep-alive connections. Servers close idle keep-alive connections (uvicorn after
//! 5 s, nginx's `keepalive_timeout`, load balancers after a minute); a user that thought
//! longer sends its next request into a closed socket. Browsers, curl and Locust never show
//! that as an error, and neither does blast: before reusing a connection that sat idle it
//! peeks (one non-blocking `recv`, only after an idle spell) and reconnects quietly when the
//! server has closed it; and a request that still finds the connection closed before any
//! byte of its response is sent once more on a fresh connection when its method is
//! idempotent (RFC 9112 §9.3.1, RFC 9110 §9.2.2), counted as `retried_stale`, not a failure.
//! Both apply only after an idle spell: a connection closed under back-to-back requests was
//! closed by a server that read a request and refused it, which stays an error.
use std::os::fd::AsRawFd;
use std::time::Duration;

/// A connection idle at least this long is peeked at before it is reused, and may have its
/// first request re-sent if it turns out closed: shorter gaps are the back-to-back requests
/// of a busy user, where a syscall each would cost CPU and a close is the server's refusal.
pub const CHECK_AFTER_IDLE: Duration = Duration::from_millis(50);

/// What a non-blocking peek at an idle connection saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peek {
    /// Nothing to read: the connection looks usable.
    Open,
    /// The server closed it (EOF or reset): reconnect before sending.
    Closed,
    /// Bytes are waiting though no request is in flight.
    Data,
}

/// Peeks at `socket` without blocking and without consuming anything.
pub fn peek(socket: &impl AsRawFd) -> Peek {
    let mut byte = [0u8; 1];
    // SAFETY: recv writes at most 1 byte into a live 1-byte buffer; the fd is borrowed
    // from an open socket for the duration of the call.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            byte.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => Peek::Closed,
        n if n > 0 => Peek::Data,
        _ => match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => Peek::Open,
            _ => Peek::Closed,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_peek_tells_open_data_and_closed_apart_without_consuming() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut server, _) = l.accept().unwrap();
        assert_eq!(peek(&client), Peek::Open);
        server.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(peek(&client), Peek::Data);
        assert_eq!(peek(&client), Peek::Data, "peeking consumes nothing");
        drop(server);
        let (mut c2, l2) = (client, l);
        let mut b = [0u8; 1];
        std::io::Read::read(&mut c2, &mut b).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(peek(&c2), Peek::Closed);
        drop(l2);
    }
}
