//! The unbounded flavor against crossbeam-channel's (issue #18: "at least as fast as
//! crossbeam's list"). Each iteration moves `MSGS` values through one `unbounded()`
//! channel from `p` senders to `q` receivers (every receiver drains until the channel
//! closes); criterion reports values per second.
//!
//! - `threads/{spsc,mpsc,mpmc}`: both crates on OS threads, the same code.
//! - `coroutines/{spsc,mpsc}`: goro-chan with every sender and receiver a goro coroutine;
//!   crossbeam-channel's row there is its OS-thread run again, as the reference (its
//!   blocking receive would block a whole worker inside a coroutine).
//!
//! Run: `cargo bench -p goro-benches --bench chan_unbounded`
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const MSGS: usize = 100_000;

/// One run of `p` senders and `q` receivers over a `$krate::unbounded()` channel, each a
/// `$spawn`ed thread or coroutine (`$spawn(f)` returns a handle with `join() -> Result`).
macro_rules! unbounded_run {
    ($krate:ident, $spawn:path, $p:expr, $q:expr) => {{
        let (p, q) = ($p, $q);
        let (tx, rx) = $krate::unbounded::<usize>();
        let start = Instant::now();
        let receivers: Vec<_> = (0..q)
            .map(|_| {
                let rx = rx.clone();
                $spawn(move || rx.iter().count())
            })
            .collect();
        let senders: Vec<_> = (0..p)
            .map(|_| {
                let tx = tx.clone();
                $spawn(move || {
                    for i in 0..MSGS / p {
                        tx.send(i).unwrap();
                    }
                })
            })
            .collect();
        drop((tx, rx));
        for s in senders {
            s.join().unwrap();
        }
        let n: usize = receivers.into_iter().map(|r| r.join().unwrap()).sum();
        assert_eq!(n, MSGS / p * p);
        start.elapsed()
    }};
}

fn goro_threads(p: usize, q: usize) -> Duration {
    unbounded_run!(goro_chan, thread::spawn, p, q)
}

fn crossbeam_threads(p: usize, q: usize) -> Duration {
    unbounded_run!(crossbeam_channel, thread::spawn, p, q)
}

/// Every party a coroutine; timed from inside one, so the runtime is warm.
fn goro_coroutines(p: usize, q: usize) -> Duration {
    goro::spawn(move || unbounded_run!(goro_chan, goro::spawn, p, q))
        .join()
        .unwrap()
}

fn bench_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("unbounded/threads");
    g.throughput(Throughput::Elements(MSGS as u64));
    for (name, p, q) in [("spsc", 1, 1), ("mpsc", 4, 1), ("mpmc", 4, 4)] {
        g.bench_function(format!("goro_chan/{name}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| goro_threads(p, q)).sum())
        });
        g.bench_function(format!("crossbeam/{name}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| crossbeam_threads(p, q)).sum())
        });
    }
    g.finish();
}

fn bench_coroutines(c: &mut Criterion) {
    let mut g = c.benchmark_group("unbounded/coroutines");
    g.throughput(Throughput::Elements(MSGS as u64));
    for (name, p, q) in [("spsc", 1, 1), ("mpsc", 4, 1)] {
        g.bench_function(format!("goro_chan/{name}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| goro_coroutines(p, q)).sum())
        });
        g.bench_function(format!("crossbeam_threads/{name}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| crossbeam_threads(p, q)).sum())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = bench_threads, bench_coroutines
}
criterion_main!(benches);
