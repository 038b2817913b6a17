//! goro_net::pool vs plain `Vec` allocation: one thread, and every worker at once.
//!
//! `cargo bench -p goro-benches --bench pool`
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

const SIZE: usize = 4096;

fn single(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool_single");
    g.bench_function("pooled_get_put_4k", |b| {
        b.iter(|| {
            let mut buf = goro_net::pool::get(SIZE);
            buf[0] = 1;
            black_box(&buf);
        })
    });
    g.bench_function("vec_alloc_4k", |b| {
        b.iter(|| {
            let mut buf = vec![0u8; SIZE];
            buf[0] = 1;
            black_box(&buf);
        })
    });
    g.finish();
}

/// `iters` get/put pairs on every worker at once, each from a coroutine placed there.
fn on_all_workers(iters: u64, pooled: bool) -> Duration {
    let workers = goro::stats().workers;
    let start = Instant::now();
    let hs: Vec<_> = (0..workers)
        .map(|w| {
            goro::Builder::new()
                .worker_hint(w)
                .spawn(move || {
                    for _ in 0..iters {
                        if pooled {
                            let mut buf = goro_net::pool::get(SIZE);
                            buf[0] = 1;
                            black_box(&buf);
                        } else {
                            let mut buf = vec![0u8; SIZE];
                            buf[0] = 1;
                            black_box(&buf);
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    start.elapsed()
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool_all_workers");
    g.bench_function("pooled_get_put_4k", |b| {
        b.iter_custom(|n| on_all_workers(n, true))
    });
    g.bench_function("vec_alloc_4k", |b| {
        b.iter_custom(|n| on_all_workers(n, false))
    });
    g.finish();
}

criterion_group!(benches, single, contended);
criterion_main!(benches);
