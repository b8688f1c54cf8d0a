//! Benchmarks for the HTTP codec hot path: what every request and response of a run costs.
//!
//! Run with `cargo bench --bench http`.

use std::hint::black_box;

use blast::http::{encode_request, RequestSpec, ResponseDecoder, Status};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const SMALL_OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: bench\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\
    Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

const CHUNKED_OK: &[u8] = b"HTTP/1.1 200 OK\r\nServer: bench\r\nTransfer-Encoding: chunked\r\n\
    Content-Type: text/plain\r\n\r\n7\r\nHello, \r\n6;ext=1\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n";

fn bench_encode_request(c: &mut Criterion) {
    let headers = vec![
        ("User-Agent".to_string(), "blast".to_string()),
        ("Accept".to_string(), "*/*".to_string()),
    ];
    let spec = RequestSpec {
        method: "POST",
        target: "/api/items?id=42",
        host: "127.0.0.1:8080",
        headers: &headers,
        body: b"{\"name\":\"widget\"}",
    };
    let mut out = Vec::with_capacity(512);
    c.bench_function("encode_request", |b| {
        b.iter(|| {
            out.clear();
            encode_request(black_box(&spec), &mut out);
            black_box(out.len())
        })
    });
}

/// Decodes every response in `buf` (which must end on a response boundary).
fn decode_all(dec: &mut ResponseDecoder, mut buf: &[u8]) -> usize {
    let mut responses = 0;
    while !buf.is_empty() {
        dec.reset(false);
        match dec.decode(buf, None) {
            Ok(Status::Complete(n)) => {
                buf = &buf[n..];
                responses += 1;
            }
            other => panic!("benchmark input did not decode: {other:?}"),
        }
    }
    responses
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    let pipelined = SMALL_OK.repeat(16);
    let cases: [(&str, &[u8]); 3] = [
        ("small_200", SMALL_OK),
        ("chunked_200", CHUNKED_OK),
        ("pipelined_16x_small_200", &pipelined),
    ];
    for (name, input) in cases {
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut dec = ResponseDecoder::new();
        group.bench_function(name, |b| b.iter(|| decode_all(&mut dec, black_box(input))));
    }
    // Baseline: the head parser alone, to see what the decoder adds around it.
    group.throughput(Throughput::Bytes(SMALL_OK.len() as u64));
    group.bench_function("httparse_only_small_200", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut response = httparse::Response::new(&mut headers);
            black_box(response.parse(black_box(SMALL_OK)).is_ok())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_encode_request, bench_decode);
criterion_main!(benches);
