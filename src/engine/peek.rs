//! Bytes nobody asked for. A connection with no request in flight must have nothing to
//! read; if it has (a server that answers on connect, or answers one request twice), those
//! bytes would be taken for the next request's response and its latency would be a lie.
//! A non-blocking `MSG_PEEK` of one byte says so without consuming anything; it costs one
//! system call, made only when a connection is about to be used after being idle.
use std::os::fd::RawFd;

/// Whether the socket `fd` has bytes waiting to be read (or has been closed by the peer,
/// which the next read reports as it should). Never blocks.
pub fn bytes_waiting(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: reads at most one byte into `byte`; MSG_DONTWAIT keeps it from blocking.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn sees_unread_bytes_without_taking_them() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        assert!(!bytes_waiting(c.as_raw_fd()), "nothing sent yet");
        s.write_all(b"HTTP/1.1 200 OK\r\n").unwrap();
        let t0 = std::time::Instant::now();
        while !bytes_waiting(c.as_raw_fd()) {
            assert!(t0.elapsed().as_secs() < 5, "bytes never seen");
            std::thread::yield_now();
        }
        assert!(bytes_waiting(c.as_raw_fd()), "peeking leaves them there");
    }
}
