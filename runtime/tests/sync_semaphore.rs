//! goro::sync::Semaphore: bounded holders, try_acquire, timeouts, FIFO handoff.
mod common;
use common::{runtime, within};
use goro::sync::Semaphore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::{Duration, Instant};

/// Number of parked acquirers, read from the Debug output (no public accessor exists).
fn queued(sem: &Semaphore) -> usize {
    let s = format!("{sem:?}");
    let tail = &s[s.find("waiters: ").expect("Debug shows waiters") + 9..];
    tail.trim_end_matches(" }").parse().unwrap()
}

#[test]
fn never_more_than_n_holders() {
    within(Duration::from_secs(60), || {
        let sem = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..16)
            .map(|_| {
                let (sem, inside, max) = (Arc::clone(&sem), Arc::clone(&inside), Arc::clone(&max));
                thread::spawn(move || {
                    for _ in 0..200 {
                        let _p = sem.acquire();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(now, Ordering::SeqCst);
                        std::hint::spin_loop();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert!(
            max.load(Ordering::SeqCst) <= 3,
            "max holders {}",
            max.load(Ordering::SeqCst)
        );
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn try_acquire_and_forget() {
    let sem = Semaphore::new(2);
    let a = sem.try_acquire().unwrap();
    let _b = sem.try_acquire().unwrap();
    assert!(sem.try_acquire().is_none());
    drop(a);
    assert_eq!(sem.available_permits(), 1);
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.available_permits(), 0);
}

#[test]
fn acquire_timeout_gives_up_and_leaves_no_ghost_waiter() {
    let sem = Semaphore::new(0);
    let t0 = Instant::now();
    assert!(sem.acquire_timeout(Duration::from_millis(50)).is_none());
    assert!(
        t0.elapsed() >= Duration::from_millis(50),
        "returned before its deadline"
    );
    assert_eq!(queued(&sem), 0);
    // The permit goes to the count, not to the waiter that timed out.
    sem.add_permits(1);
    assert_eq!(sem.available_permits(), 1);
    assert!(sem.acquire_timeout(Duration::ZERO).is_some());
    assert!(sem.acquire_timeout(Duration::MAX).is_some());
}

#[test]
fn acquire_timeout_succeeds_when_a_permit_arrives_in_time() {
    within(Duration::from_secs(30), || {
        let sem = Arc::new(Semaphore::new(0));
        let s2 = Arc::clone(&sem);
        let h = thread::spawn(move || {
            while queued(&s2) == 0 {
                thread::yield_now();
            }
            s2.add_permits(1);
        });
        let p = sem.acquire_timeout(Duration::from_secs(20));
        assert!(p.is_some());
        h.join().unwrap();
        drop(p);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn timeouts_racing_releases_never_lose_a_permit() {
    within(Duration::from_secs(60), || {
        let sem = Arc::new(Semaphore::new(2));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let sem = Arc::clone(&sem);
                thread::spawn(move || {
                    for i in 0..300u64 {
                        if let Some(p) = sem.acquire_timeout(Duration::from_micros(i % 50)) {
                            std::hint::spin_loop();
                            drop(p);
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(queued(&sem), 0);
    });
}

#[test]
fn waiters_are_served_in_fifo_order() {
    within(Duration::from_secs(30), || {
        let sem = Arc::new(Semaphore::new(0));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let mut hs = Vec::new();
        for i in 0..8 {
            let (sem2, order2) = (Arc::clone(&sem), Arc::clone(&order));
            hs.push(thread::spawn(move || {
                sem2.acquire().forget();
                order2.lock().unwrap().push(i);
            }));
            while queued(&sem) < i + 1 {
                thread::yield_now();
            }
        }
        for k in 1..=8 {
            sem.add_permits(1);
            while order.lock().unwrap().len() < k {
                thread::yield_now();
            }
        }
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
    });
}

#[test]
fn add_permits_releases_several_waiters_at_once() {
    within(Duration::from_secs(30), || {
        let sem = Arc::new(Semaphore::new(0));
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let sem = Arc::clone(&sem);
                thread::spawn(move || sem.acquire().forget())
            })
            .collect();
        while queued(&sem) < 5 {
            thread::yield_now();
        }
        sem.add_permits(7);
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn coroutines_never_exceed_n_holders_while_parking_inside() {
    runtime();
    within(Duration::from_secs(60), || {
        let sem = Arc::new(Semaphore::new(4));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..2_000u64)
            .map(|i| {
                let (sem, inside, max) = (Arc::clone(&sem), Arc::clone(&inside), Arc::clone(&max));
                goro::spawn(move || {
                    let _p = sem.acquire();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    // Park while holding the permit: others must queue, not overtake.
                    if i % 2 == 0 {
                        goro::yield_now();
                    } else {
                        goro::time::sleep(Duration::from_micros(200));
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let max = max.load(Ordering::SeqCst);
        assert!(max <= 4, "max holders {max}");
        assert_eq!(sem.available_permits(), 4);
    });
}

#[test]
fn coroutine_acquire_timeout_expires_and_succeeds() {
    runtime();
    within(Duration::from_secs(30), || {
        let sem = Arc::new(Semaphore::new(0));
        let s2 = Arc::clone(&sem);
        let timed_out = goro::spawn(move || {
            let t0 = Instant::now();
            let got = s2.acquire_timeout(Duration::from_millis(40)).is_some();
            (got, t0.elapsed())
        })
        .join()
        .unwrap();
        assert!(!timed_out.0);
        assert!(
            timed_out.1 >= Duration::from_millis(40),
            "returned before its deadline"
        );
        assert_eq!(queued(&sem), 0);
        let s2 = Arc::clone(&sem);
        let h = goro::spawn(move || {
            s2.acquire_timeout(Duration::from_secs(20))
                .map(|p| p.forget())
        });
        while queued(&sem) == 0 {
            thread::yield_now();
        }
        sem.add_permits(1);
        assert!(h.join().unwrap().is_some());
        assert_eq!(sem.available_permits(), 0);
    });
}

#[test]
fn coroutine_waiters_are_served_in_fifo_order() {
    runtime();
    within(Duration::from_secs(30), || {
        let sem = Arc::new(Semaphore::new(0));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let mut hs = Vec::new();
        for i in 0..50 {
            let (sem2, order2) = (Arc::clone(&sem), Arc::clone(&order));
            hs.push(goro::spawn(move || {
                let p = sem2.acquire();
                order2.lock().unwrap().push(i);
                drop(p); // hands the permit straight to the next in line
            }));
            while queued(&sem) < i + 1 {
                thread::yield_now();
            }
        }
        // One permit travels down the queue by handoff: the recorded order is the queue order.
        sem.add_permits(1);
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
        assert_eq!(sem.available_permits(), 1);
    });
}
