//! Criterion micro-benchmarks of the goro runtime core: spawn+join, yield, park/unpark
//! ping-pong, timers, Mutex contention. Every measured loop runs inside a coroutine (the way
//! goro code runs), and the result of each iteration is waited for, so nothing is left
//! running between samples.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use goro::park::{self, Unparker};

/// Runs `f(iters)` inside a coroutine and returns the time it reports.
fn in_coroutine(iters: u64, f: fn(u64) -> Duration) -> Duration {
    goro::spawn(move || f(iters)).join().unwrap()
}

fn spawn_join(c: &mut Criterion) {
    c.bench_function("spawn_join", |b| {
        b.iter_custom(|iters| {
            in_coroutine(iters, |iters| {
                let t = Instant::now();
                for i in 0..iters {
                    let h = goro::spawn(move || i);
                    assert_eq!(h.join().unwrap(), i);
                }
                t.elapsed()
            })
        })
    });
}

fn yield_round_trip(c: &mut Criterion) {
    // One coroutine yielding with nothing else runnable on its worker: the cost of a
    // suspend, a trip through the schedule loop and a resume.
    c.bench_function("yield_now", |b| {
        b.iter_custom(|iters| {
            in_coroutine(iters, |iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    goro::yield_now();
                }
                t.elapsed()
            })
        })
    });
}

/// A one-value mailbox built on park/unpark only.
struct Slot {
    value: AtomicU64,
    waiter: StdMutex<Option<Unparker>>,
}

impl Slot {
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            value: AtomicU64::new(0),
            waiter: StdMutex::new(None),
        })
    }
    fn put(&self, v: u64) {
        self.value.store(v, Ordering::Release);
        if let Some(u) = self.waiter.lock().unwrap().take() {
            u.unpark();
        }
    }
    fn take(&self) -> u64 {
        loop {
            let v = self.value.swap(0, Ordering::Acquire);
            if v != 0 {
                return v;
            }
            *self.waiter.lock().unwrap() = Some(park::unparker());
            if self.value.load(Ordering::Acquire) == 0 {
                park::park();
            }
        }
    }
}

fn park_unpark_ping_pong(c: &mut Criterion) {
    // Two coroutines hand a counter back and forth through park/unpark: one round trip is
    // two parks and two unparks.
    c.bench_function("park_unpark_round_trip", |b| {
        b.iter_custom(|iters| {
            in_coroutine(iters, |iters| {
                let (a, b) = (Slot::new(), Slot::new());
                let (a2, b2) = (a.clone(), b.clone());
                let partner = goro::spawn(move || {
                    for _ in 0..iters {
                        let v = a2.take();
                        b2.put(v + 1);
                    }
                });
                let t = Instant::now();
                let mut v = 1;
                for _ in 0..iters {
                    a.put(v);
                    v = b.take();
                }
                let el = t.elapsed();
                partner.join().unwrap();
                el
            })
        })
    });
}

fn timers(c: &mut Criterion) {
    let mut g = c.benchmark_group("timers");
    g.sample_size(10);
    {
        let n = 100_000u64;
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::new("sleepers_1ms", n), &n, |b, &n| {
            b.iter(|| {
                let wg = Arc::new(goro::sync::WaitGroup::new());
                wg.add(n as usize);
                for _ in 0..n {
                    let wg = wg.clone();
                    goro::spawn(move || {
                        goro::time::sleep(Duration::from_millis(1));
                        wg.done();
                    });
                }
                wg.wait();
            })
        });
        g.bench_with_input(BenchmarkId::new("arm_cancel", n), &n, |b, &n| {
            b.iter(|| {
                goro::spawn(move || {
                    for _ in 0..n {
                        let t = goro::time::Timer::after(Duration::from_secs(60), || ());
                        assert!(t.cancel());
                    }
                })
                .join()
                .unwrap()
            })
        });
    }
    g.finish();
}

fn mutex_contention(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex");
    for coroutines in [1usize, 64] {
        g.throughput(Throughput::Elements(10_000));
        g.bench_with_input(
            BenchmarkId::new("lock_unlock_10k_total", coroutines),
            &coroutines,
            |b, &k| {
                b.iter(|| {
                    let m = Arc::new(goro::sync::Mutex::new(0u64));
                    let go = Arc::new(AtomicBool::new(false));
                    let hs: Vec<_> = (0..k)
                        .map(|_| {
                            let (m, go) = (m.clone(), go.clone());
                            goro::spawn(move || {
                                while !go.load(Ordering::Acquire) {
                                    goro::yield_now();
                                }
                                for _ in 0..10_000 / k {
                                    *m.lock() += 1;
                                }
                            })
                        })
                        .collect();
                    go.store(true, Ordering::Release);
                    hs.into_iter().for_each(|h| h.join().unwrap());
                    assert_eq!(*m.lock(), (10_000 / k * k) as u64);
                })
            },
        );
    }
    g.finish();
}

criterion_group!(
    benches,
    spawn_join,
    yield_round_trip,
    park_unpark_ping_pong,
    timers,
    mutex_contention
);
criterion_main!(benches);
