//! Timers: sleep, sleep_until, Timer callbacks and cancellation, from coroutines and threads.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use goro::time::{sleep, sleep_until, Timer};

#[test]
fn sleep_in_coroutine_and_thread_waits_at_least_the_duration() {
    let h = goro::spawn(|| {
        let t = Instant::now();
        sleep(Duration::from_millis(25));
        t.elapsed()
    });
    assert!(h.join().unwrap() >= Duration::from_millis(25));
    let t = Instant::now();
    sleep(Duration::from_millis(5));
    assert!(t.elapsed() >= Duration::from_millis(5));
    // Past deadlines return at once.
    goro::spawn(|| sleep_until(Instant::now() - Duration::from_millis(1)))
        .join()
        .unwrap();
    goro::spawn(|| sleep(Duration::ZERO)).join().unwrap();
}

#[test]
fn timers_of_one_worker_fire_in_deadline_order() {
    // Timers armed by one coroutine live in its worker's heap and fire in deadline order,
    // even when armed in reverse and even if the machine stalls (they then fire in one batch).
    let (tx, rx) = mpsc::channel();
    goro::spawn(move || {
        let start = Instant::now() + Duration::from_millis(10);
        let timers: Vec<Timer> = (0..50u64)
            .rev()
            .map(|i| {
                let tx = tx.clone();
                Timer::at(start + Duration::from_micros(300 * i), move || {
                    tx.send(i).unwrap()
                })
            })
            .collect();
        sleep(Duration::from_millis(40));
        drop(timers);
    })
    .join()
    .unwrap();
    let order: Vec<u64> = rx.iter().collect();
    assert_eq!(order, (0..50).collect::<Vec<_>>());
}

#[test]
fn timer_fires_once_and_cancel_stops_it() {
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    let t = Timer::after(Duration::from_millis(10), move || {
        f.fetch_add(1, Ordering::SeqCst);
    });
    let stopped = {
        let f = fired.clone();
        Timer::after(Duration::from_millis(10), move || {
            f.fetch_add(100, Ordering::SeqCst);
        })
    };
    assert!(stopped.cancel());
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    assert!(!t.cancel(), "already fired");
    assert!(!stopped.cancel(), "already cancelled");
}

#[test]
fn timer_from_coroutine_and_many_cancelled() {
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    goro::spawn(move || {
        let timers: Vec<Timer> = (0..10_000)
            .map(|_| {
                let f = f.clone();
                Timer::after(Duration::from_millis(30), move || {
                    f.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in timers.iter().step_by(2) {
            assert!(t.cancel());
        }
        sleep(Duration::from_millis(80));
    })
    .join()
    .unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 5_000);
}

#[test]
fn a_sleeping_coroutine_holds_no_thread() {
    // 2,000 coroutines sleeping 100 ms at once on a few workers all finish in about 100 ms,
    // not 2,000 x 100 ms: sleeping parks the coroutine.
    let t = Instant::now();
    let hs: Vec<_> = (0..2_000)
        .map(|_| goro::spawn(|| sleep(Duration::from_millis(100))))
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "sleepers were serialised: {:?}",
        t.elapsed()
    );
}
