//! Channel micro-benchmarks: goro-chan between goro coroutines, with crossbeam-channel
//! between OS threads as the baseline. Each iteration moves `MSGS` values; criterion
//! reports throughput in values per second.
//!
//! Run: `cargo bench -p goro-benches --bench chan`
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const MSGS: usize = 20_000;
const CAP: usize = 128;

/// Runs `f` inside a coroutine and returns what it measured.
fn in_coroutine(f: impl FnOnce() -> Duration + Send + 'static) -> Duration {
    goro::spawn(f).join().unwrap()
}

/// `producers` senders and `consumers` receivers over one channel of capacity `cap`
/// (`None`: unbounded), in coroutines.
fn goro_mpmc(producers: usize, consumers: usize, cap: Option<usize>) -> Duration {
    in_coroutine(move || {
        let (tx, rx) = match cap {
            Some(c) => goro_chan::bounded::<usize>(c),
            None => goro_chan::unbounded::<usize>(),
        };
        let start = Instant::now();
        let cs: Vec<_> = (0..consumers)
            .map(|_| {
                let rx = rx.clone();
                goro::spawn(move || rx.iter().count())
            })
            .collect();
        let ps: Vec<_> = (0..producers)
            .map(|_| {
                let tx = tx.clone();
                goro::spawn(move || {
                    for i in 0..MSGS / producers {
                        tx.send(i).unwrap();
                    }
                })
            })
            .collect();
        drop((tx, rx));
        for p in ps {
            p.join().unwrap();
        }
        let n: usize = cs.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(n, MSGS / producers * producers);
        start.elapsed()
    })
}

/// The same shape with crossbeam-channel on OS threads.
fn crossbeam_mpmc(producers: usize, consumers: usize, cap: Option<usize>) -> Duration {
    let (tx, rx) = match cap {
        Some(c) => crossbeam_channel::bounded::<usize>(c),
        None => crossbeam_channel::unbounded::<usize>(),
    };
    let start = Instant::now();
    let cs: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || rx.iter().count())
        })
        .collect();
    let ps: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..MSGS / producers {
                    tx.send(i).unwrap();
                }
            })
        })
        .collect();
    drop((tx, rx));
    for p in ps {
        p.join().unwrap();
    }
    let _: usize = cs.into_iter().map(|c| c.join().unwrap()).sum();
    start.elapsed()
}

fn bench_seq(c: &mut Criterion) {
    let mut g = c.benchmark_group("seq");
    g.throughput(Throughput::Elements(MSGS as u64));
    g.bench_function("goro_chan/bounded", |b| {
        b.iter_custom(|iters| {
            in_coroutine(move || {
                let (tx, rx) = goro_chan::bounded::<usize>(MSGS);
                let start = Instant::now();
                for _ in 0..iters {
                    for i in 0..MSGS {
                        tx.send(i).unwrap();
                    }
                    for _ in 0..MSGS {
                        rx.recv().unwrap();
                    }
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("crossbeam/bounded", |b| {
        b.iter_custom(|iters| {
            let (tx, rx) = crossbeam_channel::bounded::<usize>(MSGS);
            let start = Instant::now();
            for _ in 0..iters {
                for i in 0..MSGS {
                    tx.send(i).unwrap();
                }
                for _ in 0..MSGS {
                    rx.recv().unwrap();
                }
            }
            start.elapsed()
        })
    });
    g.finish();
}

fn bench_shapes(c: &mut Criterion) {
    for (name, p, q) in [("spsc", 1, 1), ("mpsc", 4, 1), ("mpmc", 4, 4)] {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(MSGS as u64));
        for (cap_name, cap) in [
            ("bounded0", Some(0)),
            ("bounded128", Some(CAP)),
            ("unbounded", None),
        ] {
            g.bench_function(format!("goro_chan/{cap_name}"), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| goro_mpmc(p, q, cap)).sum())
            });
            g.bench_function(format!("crossbeam/{cap_name}"), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| crossbeam_mpmc(p, q, cap)).sum())
            });
        }
        g.finish();
    }
}

/// The timed body of `select_ready` for one channel crate (`goro_chan` or
/// `crossbeam_channel`, which share `bounded` and `select!`'s shape): `iters` rounds of
/// filling `k` channels, then timing the selects that drain them.
macro_rules! select_ready_rounds {
    ($krate:ident, $k:expr, $iters:expr) => {{
        let (k, iters) = ($k, $iters);
        let chans: Vec<_> = (0..k).map(|_| $krate::bounded::<usize>(MSGS)).collect();
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            for (tx, _) in &chans {
                for i in 0..MSGS / k {
                    tx.send(i).unwrap();
                }
            }
            let start = Instant::now();
            for _ in 0..MSGS / k * k {
                let v = if k == 2 {
                    $krate::select! {
                        recv(chans[0].1) -> v => v,
                        recv(chans[1].1) -> v => v,
                    }
                } else {
                    $krate::select! {
                        recv(chans[0].1) -> v => v,
                        recv(chans[1].1) -> v => v,
                        recv(chans[2].1) -> v => v,
                        recv(chans[3].1) -> v => v,
                    }
                };
                std::hint::black_box(v.unwrap());
            }
            total += start.elapsed();
        }
        total
    }};
}

/// One receiver selecting over `k` always-ready channels (each pre-filled), per op.
fn bench_select(c: &mut Criterion) {
    let mut g = c.benchmark_group("select_ready");
    g.throughput(Throughput::Elements(MSGS as u64));
    for k in [2usize, 4] {
        g.bench_function(format!("goro_chan/{k}"), |b| {
            b.iter_custom(|iters| in_coroutine(move || select_ready_rounds!(goro_chan, k, iters)))
        });
        g.bench_function(format!("crossbeam/{k}"), |b| {
            b.iter_custom(|iters| select_ready_rounds!(crossbeam_channel, k, iters))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench_seq, bench_shapes, bench_select
}
criterion_main!(benches);
