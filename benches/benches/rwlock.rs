//! goro::sync::RwLock read-mostly throughput as readers grow, vs `std::sync::RwLock` on threads.
//!
//! Each of `n` readers does `iters` operations on one shared lock: a read of a small map
//! (one in 64 operations is a write instead). goro's readers are coroutines spread over the
//! workers (`worker_hint`), std's are OS threads; `goro_threads` is goro's lock on threads.
//! Criterion reports time per operation *per reader*, so flat lines across `n` mean
//! throughput grows linearly with readers.
//!
//! What bounded the figure once readers overlap, before the reader bias: the lock word's
//! cache line moving between cores (each read a CAS and a `fetch_sub` on it): two coroutine
//! readers on 2 workers paid 120–150 ns each per operation where one alone pays 27. With the
//! bias (`runtime/src/sync/rwlock.rs`, "Reader bias") a coroutine's read counts itself in a
//! word of its own worker's, and two readers pay about 60–75 ns, the rest being the writes
//! (each revokes the bias and readers go through the word until it is back). goro's lock on
//! plain threads never biases, so `goro_threads` still shows the shared word; std's readers
//! block part of the time and then run alone, which flatters it at 2 readers (`perf stat`:
//! 1.6 CPUs busy against goro_threads' 1.0).
//!
//! `cargo bench -p goro-benches --bench rwlock`
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, LazyLock};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// One write per this many operations: 64, or `RW_WRITE_EVERY` (e.g. 4 for the write-heavy
/// case the reader bias costs something in: see `runtime/src/sync/rwlock.rs`).
static WRITE_EVERY: LazyLock<u64> = LazyLock::new(|| {
    std::env::var("RW_WRITE_EVERY").map_or(64, |v| v.parse().expect("RW_WRITE_EVERY: a number"))
});

fn table() -> HashMap<u64, u64> {
    (0..64).map(|k| (k, k * 2)).collect()
}

/// The operation every reader repeats; `read`/`write` abstract over the two lock types.
fn op<R: std::ops::Deref<Target = HashMap<u64, u64>>, W>(
    i: u64,
    read: impl Fn() -> R,
    write: impl Fn() -> W,
) where
    W: std::ops::DerefMut<Target = HashMap<u64, u64>>,
{
    if i % *WRITE_EVERY == *WRITE_EVERY - 1 {
        let mut m = write();
        *m.entry(i % 64).or_default() += 1;
    } else {
        let m = read();
        black_box(m.get(&(i % 64)));
    }
}

fn goro_coroutines(n: usize, iters: u64) -> Duration {
    let l = Arc::new(goro::sync::RwLock::new(table()));
    let workers = goro::stats().workers;
    let start = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|r| {
            let l = Arc::clone(&l);
            goro::Builder::new()
                .worker_hint(r % workers)
                .spawn(move || {
                    for i in 0..iters {
                        op(i + r as u64, || l.read(), || l.write());
                    }
                })
                .unwrap()
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn goro_threads(n: usize, iters: u64) -> Duration {
    let l = Arc::new(goro::sync::RwLock::new(table()));
    let start = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|r| {
            let l = Arc::clone(&l);
            thread::spawn(move || {
                for i in 0..iters {
                    op(i + r as u64, || l.read(), || l.write());
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn std_threads(n: usize, iters: u64) -> Duration {
    let l = Arc::new(std::sync::RwLock::new(table()));
    let start = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|r| {
            let l = Arc::clone(&l);
            thread::spawn(move || {
                for i in 0..iters {
                    op(i + r as u64, || l.read().unwrap(), || l.write().unwrap());
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn read_mostly(c: &mut Criterion) {
    let mut g = c.benchmark_group("rwlock_read_mostly");
    let workers = goro::stats().workers;
    let mut ns = vec![1, 2, 4, 8];
    if !ns.contains(&workers) {
        ns.push(workers);
        ns.sort();
    }
    for n in ns {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("goro_coroutines", n), &n, |b, &n| {
            b.iter_custom(|iters| goro_coroutines(n, iters))
        });
        g.bench_with_input(BenchmarkId::new("goro_threads", n), &n, |b, &n| {
            b.iter_custom(|iters| goro_threads(n, iters))
        });
        g.bench_with_input(BenchmarkId::new("std_threads", n), &n, |b, &n| {
            b.iter_custom(|iters| std_threads(n, iters))
        });
    }
    g.finish();
}

criterion_group!(benches, read_mostly);
criterion_main!(benches);
