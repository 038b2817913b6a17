//! goro::blocking: blocking work leaves the workers free, runs in parallel, may borrow the
//! coroutine's stack, and propagates panics; on a plain thread it runs inline.
mod common;
use common::{runtime, within};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn blocking_calls_do_not_stop_the_workers_and_run_in_parallel() {
    runtime();
    within(Duration::from_secs(30), || {
        let stop = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let ticks_while_blocked = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let (stop, in_flight, ticks) = (
                Arc::clone(&stop),
                Arc::clone(&in_flight),
                Arc::clone(&ticks_while_blocked),
            );
            goro::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    goro::time::sleep(Duration::from_millis(10));
                    // More calls in flight than there are workers: they cannot be
                    // blocking the workers, and this tick proves a worker was free.
                    if in_flight.load(Ordering::SeqCst) > 2 {
                        ticks.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        };
        let t0 = Instant::now();
        // Four blocking sleeps on a 2-worker runtime: without the handoff they would occupy
        // both workers (the ticker would stop) and run two at a time (≥ 400 ms).
        let sleepers: Vec<_> = (0..4)
            .map(|_| {
                let (in_flight, max_in_flight) =
                    (Arc::clone(&in_flight), Arc::clone(&max_in_flight));
                goro::spawn(move || {
                    goro::blocking(|| {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        max_in_flight.fetch_max(now, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(200));
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        thread::current().name().map(str::to_owned)
                    })
                })
            })
            .collect();
        let names: Vec<_> = sleepers.into_iter().map(|h| h.join().unwrap()).collect();
        let elapsed = t0.elapsed();
        stop.store(true, Ordering::SeqCst);
        ticker.join().unwrap();
        let ticks = ticks_while_blocked.load(Ordering::SeqCst);
        // ~19 ticks fit in the window where all 4 run; 10 leaves room for a noisy VM. With
        // blocked workers the count is 0 (at most 2 calls could be in flight).
        assert!(
            ticks >= 10,
            "ticker ticked only {ticks} times while blocking calls ran"
        );
        assert!(
            elapsed < Duration::from_millis(700),
            "4 x 200 ms took {elapsed:?}: not parallel"
        );
        for name in names {
            let name = name.expect("pool threads are named");
            assert!(name.starts_with("goro-blocking-"), "{name}");
        }
    });
}

#[test]
fn f_borrows_a_local_mut_vec_from_the_coroutine_stack() {
    runtime();
    let v = goro::spawn(|| {
        let mut v = vec![1, 2];
        let len = goro::blocking(|| {
            thread::sleep(Duration::from_millis(5));
            v.push(3);
            v.len()
        });
        assert_eq!(len, 3);
        v.push(4);
        v
    })
    .join()
    .unwrap();
    assert_eq!(v, [1, 2, 3, 4]);
}

#[test]
fn a_panic_in_f_propagates_to_the_coroutine() {
    runtime();
    // Caught inside the coroutine: the caller sees the original payload.
    let caught = goro::spawn(|| {
        let r = std::panic::catch_unwind(|| goro::blocking(|| -> u32 { panic!("boom in f") }));
        *r.expect_err("the panic must reach the caller")
            .downcast_ref::<&str>()
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(caught, "boom in f");
    // Uncaught: it unwinds the coroutine and reaches its JoinHandle.
    let r = goro::spawn(|| goro::blocking(|| -> u32 { panic!("uncaught in f") })).join();
    assert_eq!(
        *r.unwrap_err().downcast_ref::<&str>().unwrap(),
        "uncaught in f"
    );
    // The pool survived both.
    assert_eq!(goro::spawn(|| goro::blocking(|| 5)).join().unwrap(), 5);
}

#[test]
fn the_coroutine_resumes_on_its_home_worker() {
    runtime();
    let (before, after, pool) = goro::spawn(|| {
        let before = thread::current().id();
        let pool = goro::blocking(|| thread::current().id());
        (before, thread::current().id(), pool)
    })
    .join()
    .unwrap();
    assert_eq!(before, after, "a started coroutine must not migrate");
    assert_ne!(pool, before, "f ran on the worker, not the pool");
}

#[test]
fn on_a_plain_thread_f_runs_inline() {
    let here = thread::current().id();
    assert_eq!(goro::blocking(|| thread::current().id()), here);
    let r = std::panic::catch_unwind(|| goro::blocking(|| -> () { panic!("inline") }));
    assert!(r.is_err());
}

#[test]
fn nested_blocking_runs_inline_on_the_pool_thread() {
    runtime();
    let (outer, inner) = goro::spawn(|| {
        goro::blocking(|| {
            (
                thread::current().id(),
                goro::blocking(|| thread::current().id()),
            )
        })
    })
    .join()
    .unwrap();
    assert_eq!(outer, inner);
}
