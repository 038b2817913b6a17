//! goro::sync::RwLock read-mostly throughput as readers grow, vs `std::sync::RwLock` on threads.
//!
//! Each of `n` readers does `iters` operations on one shared lock: a read of a small map
//! (one in 64 operations is a write instead). goro's readers are coroutines spread over the
//! workers (`worker_hint`), std's are OS threads; `goro_threads` is goro's lock on threads.
//! Criterion reports time per operation *per reader*, so flat lines across `n` mean
//! throughput grows linearly with readers.
//!
//! What bounds the figure once readers overlap: the lock word's cache line moving between
//! cores (each read is a CAS and a `fetch_sub` on it). An operation alone takes about 27 ns;
//! two readers that run side by side the whole time pay 130–150 ns each per operation on the
//! 2-core test machine, and readers that block part of the time pay less, as the others then
//! run alone (`perf stat` of the 2-reader cases: goro_coroutines used 1.8 CPUs, std_threads
//! 1.6, goro_threads 1.0). So at 2 readers the lines compare how much each setup runs its
//! readers concurrently as much as the locks' code paths.
//!
//! `cargo bench -p goro-benches --bench rwlock`
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// One write per this many operations.
const WRITE_EVERY: u64 = 64;

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
    if i % WRITE_EVERY == WRITE_EVERY - 1 {
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
