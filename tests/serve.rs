//! The built-in target server over real loopback sockets: persistence, pipelining, closing rules
//! and rejection of bad input. Every client socket has a read timeout, so no test can hang.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use blast::serve::{spawn, ServeConfig, MAX_HEAD_BYTES};

/// Longest any single read may wait.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response the test client accepts.
const MAX_RESPONSE: usize = 64 * 1024;

const PREDICT_BODY: &str = r#"{"age":35,"sex":0,"cp":2,"trestbps":110,"chol":190,"fbs":0,"restecg":0,"thalach":185,"exang":0,"oldpeak":0.0,"slope":2,"ca":0,"thal":2}"#;

fn server() -> SocketAddr {
    let cfg = ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        threads: 2,
    };
    spawn(&cfg).expect("server starts")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream
}

/// A response as the client saw it.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads exactly one response (framed by Content-Length), leaving later bytes in `pending`.
fn read_reply(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Reply {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = resp.parse(pending).expect("valid response") {
            let headers: Vec<(String, String)> = resp
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8(h.value.to_vec()).unwrap();
                    (h.name.to_string(), value)
                })
                .collect();
            let status = resp.code.unwrap();
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .expect("content-length")
                .1
                .parse()
                .unwrap();
            if pending.len() >= head + length {
                let body = pending[head..head + length].to_vec();
                pending.drain(..head + length);
                return Reply {
                    status,
                    headers,
                    body,
                };
            }
        }
        assert!(pending.len() < MAX_RESPONSE, "response too long");
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).expect("read within timeout");
        assert!(n > 0, "closed before a full response: {pending:?}");
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// Asserts the server closes: the next read sees end of stream (or a reset), not a timeout.
fn assert_closed(stream: &mut TcpStream, pending: &[u8]) {
    assert!(pending.is_empty(), "unexpected extra bytes: {pending:?}");
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => {}
        Ok(_) => panic!("server sent more bytes instead of closing"),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("server did not close: {e}"),
    }
}

fn exchange(stream: &mut TcpStream, request: &[u8]) -> Reply {
    stream.write_all(request).unwrap();
    let mut pending = Vec::new();
    let reply = read_reply(stream, &mut pending);
    assert!(pending.is_empty());
    reply
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let mut stream = connect(server());
    let health = exchange(&mut stream, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((health.status, &health.body[..]), (200, &b"OK"[..]));
    assert_eq!(health.header("content-type"), Some("text/plain"));
    assert_eq!(health.header("connection"), None);

    let request = format!(
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{PREDICT_BODY}",
        PREDICT_BODY.len()
    );
    let predict = exchange(&mut stream, request.as_bytes());
    assert_eq!(predict.status, 200);
    assert_eq!(predict.body, br#"{"diagnosis":"no-disease"}"#);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut stream = connect(server());
    let missing_chol = PREDICT_BODY.replace(r#""chol":190,"#, "");
    let predict_bad = format!(
        "POST /predict HTTP/1.1\r\nContent-Length: {}\r\n\r\n{missing_chol}",
        missing_chol.len()
    );
    let requests: [&[u8]; 5] = [
        b"GET /health HTTP/1.1\r\n\r\n",
        b"GET /nowhere HTTP/1.1\r\n\r\n",
        predict_bad.as_bytes(),
        b"DELETE /health HTTP/1.1\r\n\r\n",
        b"GET /health?n=5 HTTP/1.1\r\n\r\n",
    ];
    stream.write_all(&requests.concat()).unwrap();
    let mut pending = Vec::new();
    let replies: Vec<Reply> = (0..5)
        .map(|_| read_reply(&mut stream, &mut pending))
        .collect();
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 404, 400, 405, 200]);
    assert_eq!(replies[2].body, br#"{"error":"missing field: chol"}"#);
    assert_eq!(replies[3].header("allow"), Some("GET"));
    // Still open afterwards.
    assert_eq!(
        exchange(&mut stream, b"GET /health HTTP/1.1\r\n\r\n").status,
        200
    );
}

#[test]
fn closing_requests_get_answered_then_closed() {
    let addr = server();
    let cases: [(&[u8], Option<&str>); 3] = [
        (b"GET /health HTTP/1.0\r\n\r\n", None),
        (
            b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
            Some("close"),
        ),
        (
            b"GET /health HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            Some("close"),
        ),
    ];
    for (request, connection) in cases {
        let mut stream = connect(addr);
        stream.write_all(request).unwrap();
        let mut pending = Vec::new();
        let reply = read_reply(&mut stream, &mut pending);
        assert_eq!(reply.status, 200);
        if let Some(value) = connection {
            assert_eq!(reply.header("connection"), Some(value));
        }
        assert_closed(&mut stream, &pending);
    }
}

#[test]
fn http10_keep_alive_stays_open() {
    let mut stream = connect(server());
    for _ in 0..2 {
        let reply = exchange(
            &mut stream,
            b"GET /health HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        );
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn garbage_gets_400_and_close() {
    let addr = server();
    let cases: [&[u8]; 3] = [
        b"\x00\x01\x02\xff garbage\r\n\r\n",
        b"GET /health SPDY/9\r\n\r\n",
        b"GET /health HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
    ];
    for request in cases {
        let mut stream = connect(addr);
        stream.write_all(request).unwrap();
        let mut pending = Vec::new();
        let reply = read_reply(&mut stream, &mut pending);
        assert_eq!(reply.status, 400, "{request:?}");
        assert_eq!(reply.header("connection"), Some("close"));
        assert_closed(&mut stream, &pending);
    }
}

#[test]
fn oversized_head_is_rejected_and_closed() {
    let mut stream = connect(server());
    let request = format!(
        "GET /health HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(MAX_HEAD_BYTES + 100)
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut pending = Vec::new();
    let reply = read_reply(&mut stream, &mut pending);
    assert_eq!(reply.status, 431);
    assert_closed(&mut stream, &pending);
}

#[test]
fn chunked_body_is_refused_and_closed() {
    let mut stream = connect(server());
    stream
        .write_all(
            b"POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        )
        .unwrap();
    let mut pending = Vec::new();
    let reply = read_reply(&mut stream, &mut pending);
    assert_eq!(reply.status, 411);
    assert_closed(&mut stream, &pending);
}

#[test]
fn body_split_across_writes_is_reassembled() {
    let mut stream = connect(server());
    let request = format!(
        "POST /predict HTTP/1.1\r\nContent-Length: {}\r\n\r\n{PREDICT_BODY}",
        PREDICT_BODY.len()
    );
    let (first, second) = request.as_bytes().split_at(request.len() - 10);
    stream.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let reply = exchange(&mut stream, second);
    assert_eq!(reply.status, 200);
}

#[test]
fn many_connections_in_parallel() {
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 50;
    let addr = server();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = connect(addr);
                (0..REQUESTS)
                    .filter(|_| {
                        exchange(&mut stream, b"GET /health HTTP/1.1\r\n\r\n").status == 200
                    })
                    .count()
            })
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), REQUESTS);
    }
}

#[test]
fn second_server_on_a_taken_port_fails_instead_of_sharing_it() {
    let addr = server();
    let again = ServeConfig { addr, threads: 1 };
    let err = spawn(&again).expect_err("port is taken");
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
}
