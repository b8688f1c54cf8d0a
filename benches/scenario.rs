//! What a scenario request costs to produce next to a fixed one: rendering the shipped
//! heart-disease payload (13 generated fields, weighted task choice) versus copying a
//! pre-encoded request of the same method and size, as a plain run does.
//!
//! Run with `cargo bench --bench scenario`.
use std::hint::black_box;
use std::path::Path;

use blast::http::{encode_request, RequestSpec};
use blast::scenario::{self, Renderer, TaskPicker};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let sc = scenario::load(Path::new("scenarios/predict-max.toml")).expect("shipped scenario");
    let mut renderer = Renderer::new(&sc, 0);
    let picker = TaskPicker::new(&sc.tasks);
    let mut out = Vec::with_capacity(1024);

    // A fixed request as large as a rendered one.
    renderer.render(0, "127.0.0.1:8080", &mut out);
    let body_at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = out[body_at..].to_vec();
    let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    let mut fixed = Vec::new();
    encode_request(
        &RequestSpec {
            method: "POST",
            target: "/predict",
            host: "127.0.0.1:8080",
            headers: &headers,
            body: &body,
        },
        &mut fixed,
    );

    c.bench_function("fixed_request_copy", |b| {
        b.iter(|| {
            out.clear();
            out.extend_from_slice(black_box(&fixed));
            black_box(out.len())
        })
    });
    c.bench_function("scenario_render_predict", |b| {
        b.iter(|| {
            out.clear();
            let task = picker.pick(renderer.rng());
            black_box(renderer.render(task, "127.0.0.1:8080", &mut out));
            black_box(out.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
