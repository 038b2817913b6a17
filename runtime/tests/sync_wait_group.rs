//! goro::sync::WaitGroup: one and many waiters, zero count, reuse, negative counter.
mod common;
use common::{runtime, within};
use goro::sync::WaitGroup;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[test]
fn one_waiter_sees_all_64_threads_done() {
    within(Duration::from_secs(30), || {
        let wg = Arc::new(WaitGroup::new());
        let work = Arc::new(AtomicUsize::new(0));
        for _ in 0..64 {
            wg.add(1);
            let (wg, work) = (Arc::clone(&wg), Arc::clone(&work));
            thread::spawn(move || {
                work.fetch_add(1, Ordering::Relaxed);
                wg.done();
            });
        }
        wg.wait();
        // Every worker's write happened before its done(), and wait() acquires them all.
        assert_eq!(work.load(Ordering::Relaxed), 64);
        assert_eq!(wg.count(), 0);
    });
}

#[test]
fn several_waiters_are_all_released_by_the_last_done() {
    within(Duration::from_secs(30), || {
        let wg = Arc::new(WaitGroup::new());
        wg.add(1);
        let released = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let (wg, released) = (Arc::clone(&wg), Arc::clone(&released));
                thread::spawn(move || {
                    wg.wait();
                    released.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(30));
        assert_eq!(released.load(Ordering::SeqCst), 0, "released before done()");
        wg.done();
        waiters.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(released.load(Ordering::SeqCst), 8);
    });
}

#[test]
fn wait_with_count_zero_returns_at_once() {
    within(Duration::from_secs(5), || {
        let wg = WaitGroup::new();
        wg.wait();
        wg.add(3);
        wg.done();
        wg.done();
        wg.done();
        wg.wait();
        wg.add(0);
        wg.wait();
    });
}

#[test]
fn a_new_round_is_not_released_by_the_previous_zero() {
    within(Duration::from_secs(30), || {
        let wg = Arc::new(WaitGroup::new());
        wg.add(1);
        wg.done(); // round 1 over
        wg.add(1); // round 2
        let finished = Arc::new(AtomicBool::new(false));
        let h = {
            let (wg, finished) = (Arc::clone(&wg), Arc::clone(&finished));
            thread::spawn(move || {
                wg.wait();
                finished.store(true, Ordering::SeqCst);
            })
        };
        thread::sleep(Duration::from_millis(30));
        assert!(!finished.load(Ordering::SeqCst));
        wg.done();
        h.join().unwrap();
        assert!(finished.load(Ordering::SeqCst));
    });
}

#[test]
fn rounds_raced_by_many_threads_never_lose_a_waiter() {
    within(Duration::from_secs(60), || {
        for _ in 0..200 {
            let wg = Arc::new(WaitGroup::new());
            wg.add(4);
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let wg = Arc::clone(&wg);
                    thread::spawn(move || wg.done())
                })
                .collect();
            let w = {
                let wg = Arc::clone(&wg);
                thread::spawn(move || wg.wait())
            };
            wg.wait();
            w.join().unwrap();
            hs.into_iter().for_each(|h| h.join().unwrap());
        }
    });
}

#[test]
#[should_panic(expected = "negative counter")]
fn done_below_zero_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

#[test]
#[should_panic(expected = "counter overflow")]
fn add_overflow_panics() {
    let wg = WaitGroup::new();
    wg.add(usize::MAX);
    wg.add(1);
}

#[test]
fn coroutines_100k_done_and_one_thread_waiter() {
    runtime();
    within(Duration::from_secs(120), || {
        let wg = Arc::new(WaitGroup::new());
        let work = Arc::new(AtomicUsize::new(0));
        wg.add(100_000);
        for _ in 0..100_000 {
            let (wg, work) = (Arc::clone(&wg), Arc::clone(&work));
            goro::go!(move || {
                work.fetch_add(1, Ordering::Relaxed);
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(work.load(Ordering::Relaxed), 100_000);
    });
}

#[test]
fn a_coroutine_waiter_for_coroutines_that_sleep() {
    runtime();
    within(Duration::from_secs(60), || {
        let waiter = goro::spawn(|| {
            let wg = Arc::new(WaitGroup::new());
            let work = Arc::new(AtomicUsize::new(0));
            for i in 0..1_000u64 {
                wg.add(1);
                let (wg, work) = (Arc::clone(&wg), Arc::clone(&work));
                goro::go!(move || {
                    goro::time::sleep(Duration::from_millis(i % 20));
                    work.fetch_add(1, Ordering::Relaxed);
                    wg.done();
                });
            }
            wg.wait();
            work.load(Ordering::Relaxed)
        });
        assert_eq!(waiter.join().unwrap(), 1_000);
    });
}

#[test]
fn many_coroutine_waiters_and_thread_waiters_at_once() {
    runtime();
    within(Duration::from_secs(60), || {
        let wg = Arc::new(WaitGroup::new());
        wg.add(1);
        let released = Arc::new(AtomicUsize::new(0));
        let coroutines: Vec<_> = (0..1_000)
            .map(|_| {
                let (wg, released) = (Arc::clone(&wg), Arc::clone(&released));
                goro::spawn(move || {
                    wg.wait();
                    released.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (wg, released) = (Arc::clone(&wg), Arc::clone(&released));
                thread::spawn(move || {
                    wg.wait();
                    released.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(30));
        assert_eq!(released.load(Ordering::SeqCst), 0, "released before done()");
        // The last done() comes from a coroutine.
        let wg2 = Arc::clone(&wg);
        goro::spawn(move || wg2.done()).join().unwrap();
        coroutines.into_iter().for_each(|h| h.join().unwrap());
        threads.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(released.load(Ordering::SeqCst), 1_004);
    });
}

#[test]
fn negative_counter_panic_in_a_coroutine_reaches_its_join_handle() {
    runtime();
    let r = goro::spawn(|| WaitGroup::new().done()).join();
    let payload = r.expect_err("done() on a zero counter must panic");
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(msg.contains("negative counter"), "{msg}");
}
