//! goro::sync::Mutex: mutual exclusion, try_lock, waiting across a park, fairness, no poisoning,
//! on coroutines, on OS threads, and on both at once.
mod common;
use common::{runtime, within};
use goro::sync::{Mutex, WaitGroup};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Two fields updated in two steps: a second holder inside the critical section would see
/// them differ.
#[derive(Default)]
struct Pair {
    a: u64,
    b: u64,
}

fn bump(m: &Mutex<Pair>) {
    let mut g = m.lock();
    assert_eq!(g.a, g.b, "two holders inside the critical section");
    g.a += 1;
    std::hint::spin_loop();
    g.b += 1;
}

#[test]
fn threads_8x10k_increments_are_all_counted() {
    within(Duration::from_secs(60), || {
        let m = Arc::new(Mutex::new(Pair::default()));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let m = Arc::clone(&m);
                thread::spawn(move || (0..10_000).for_each(|_| bump(&m)))
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let p = Arc::try_unwrap(m).ok().unwrap().into_inner();
        assert_eq!((p.a, p.b), (80_000, 80_000));
    });
}

#[test]
fn try_lock_fails_while_held_from_any_thread_and_succeeds_after() {
    let m = Mutex::new(1);
    let g = m.lock();
    assert!(m.try_lock().is_none());
    thread::scope(|s| {
        s.spawn(|| assert!(m.try_lock().is_none()));
    });
    drop(g);
    let g = m.try_lock().expect("free after unlock");
    assert_eq!(*g, 1);
    drop(g);
    thread::scope(|s| {
        s.spawn(|| *m.try_lock().expect("free") += 1);
    });
    assert_eq!(m.into_inner(), 2);
}

#[test]
fn guard_held_across_a_sleep_keeps_waiters_out() {
    within(Duration::from_secs(30), || {
        let m = Arc::new(Mutex::new(Vec::new()));
        let g = m.lock();
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let m = Arc::clone(&m);
                thread::spawn(move || m.lock().push(i))
            })
            .collect();
        // The holder waits (a park point) while four others queue up.
        goro::time::sleep(Duration::from_millis(50));
        assert!(m.try_lock().is_none());
        drop(g);
        hs.into_iter().for_each(|h| h.join().unwrap());
        let mut v = m.lock().clone();
        v.sort();
        assert_eq!(v, [0, 1, 2, 3]);
    });
}

#[test]
fn many_parked_waiters_are_all_released() {
    within(Duration::from_secs(30), || {
        let m = Arc::new(Mutex::new(0u32));
        let queued = Arc::new(AtomicUsize::new(0));
        let g = m.lock();
        let hs: Vec<_> = (0..32)
            .map(|_| {
                let (m, queued) = (Arc::clone(&m), Arc::clone(&queued));
                thread::spawn(move || {
                    queued.fetch_add(1, Ordering::SeqCst);
                    *m.lock() += 1;
                })
            })
            .collect();
        while queued.load(Ordering::SeqCst) < 32 {
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(20));
        drop(g);
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*m.lock(), 32);
    });
}

#[test]
fn a_waiter_is_not_starved_by_barging_lockers() {
    // Two threads re-lock in a tight loop; barging alone could keep the third out forever.
    // The 1 ms starvation handoff must let it through every time.
    within(Duration::from_secs(60), || {
        let m = Arc::new(Mutex::new(0u64));
        let stop = Arc::new(AtomicBool::new(false));
        let hammers: Vec<_> = (0..2)
            .map(|_| {
                let (m, stop) = (Arc::clone(&m), Arc::clone(&stop));
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let mut g = m.lock();
                        *g += 1;
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        for _ in 0..200 {
            *m.lock() += 1;
        }
        stop.store(true, Ordering::Relaxed);
        hammers.into_iter().for_each(|h| h.join().unwrap());
    });
}

#[test]
fn a_panic_while_holding_does_not_poison() {
    let m = Arc::new(Mutex::new(5));
    let m2 = Arc::clone(&m);
    let r = thread::spawn(move || {
        let _g = m2.lock();
        panic!("inside the lock");
    })
    .join();
    assert!(r.is_err());
    *m.lock() += 1;
    assert_eq!(*m.try_lock().expect("unlocked by the unwind"), 6);
}

#[test]
fn get_mut_and_into_inner_need_no_lock() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().push(2);
    assert_eq!(m.into_inner(), [1, 2]);
}

#[test]
fn unsized_and_debug() {
    let m: Box<Mutex<[u8]>> = Box::new(Mutex::new([1u8, 2, 3]));
    m.lock()[0] = 9;
    assert_eq!(&*m.lock(), &[9, 2, 3]);
    assert_eq!(format!("{:?}", Mutex::new(1)), "Mutex { data: 1, .. }");
    let held = Mutex::new(1);
    let _g = held.lock();
    assert_eq!(format!("{held:?}"), "Mutex { data: <locked>, .. }");
}

#[test]
fn coroutines_100k_increments_across_all_workers() {
    runtime();
    within(Duration::from_secs(120), || {
        let m = Arc::new(Mutex::new(Pair::default()));
        let wg = Arc::new(WaitGroup::new());
        for _ in 0..100_000 {
            wg.add(1);
            let (m, wg) = (Arc::clone(&m), Arc::clone(&wg));
            goro::go!(move || {
                bump(&m);
                wg.done();
            });
        }
        wg.wait();
        let g = m.lock();
        assert_eq!((g.a, g.b), (100_000, 100_000));
    });
}

#[test]
fn coroutines_contend_while_the_holder_yields() {
    // Every holder yields inside the critical section, so the lock is always contended and
    // waiters really park; the invariant check in `bump` catches a second holder.
    runtime();
    within(Duration::from_secs(60), || {
        let m = Arc::new(Mutex::new(Pair::default()));
        let hs: Vec<_> = (0..200)
            .map(|_| {
                let m = Arc::clone(&m);
                goro::spawn(move || {
                    for _ in 0..20 {
                        let mut g = m.lock();
                        assert_eq!(g.a, g.b);
                        g.a += 1;
                        goro::yield_now();
                        g.b += 1;
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(m.lock().a, 4000);
    });
}

#[test]
fn a_parked_locker_does_not_block_its_worker() {
    // More lockers than workers wait on a held lock; if `lock` blocked the worker thread, the
    // holder (and the probe coroutine) could never run and this would hang.
    runtime();
    within(Duration::from_secs(30), || {
        let m = Arc::new(Mutex::new(0u32));
        let holding = Arc::new(AtomicBool::new(false));
        let holder = {
            let (m, holding) = (Arc::clone(&m), Arc::clone(&holding));
            goro::spawn(move || {
                let mut g = m.lock();
                holding.store(true, Ordering::SeqCst);
                // Held across a park point (a timer sleep) while the others queue.
                goro::time::sleep(Duration::from_millis(50));
                *g += 1;
            })
        };
        while !holding.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        let lockers: Vec<_> = (0..16)
            .map(|_| {
                let m = Arc::clone(&m);
                goro::spawn(move || *m.lock() += 1)
            })
            .collect();
        let probe = goro::spawn(|| 7).join().unwrap();
        assert_eq!(probe, 7);
        holder.join().unwrap();
        lockers.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*m.lock(), 17);
    });
}

#[test]
fn guard_held_across_sleep_in_a_coroutine_keeps_others_out() {
    runtime();
    within(Duration::from_secs(30), || {
        let m = Arc::new(Mutex::new(Vec::new()));
        let m2 = Arc::clone(&m);
        let holder = goro::spawn(move || {
            let mut g = m2.lock();
            g.push("holder-start");
            goro::time::sleep(Duration::from_millis(30));
            goro::yield_now();
            g.push("holder-end");
        });
        // Wait until the holder has the lock (rust-version 1.80: no `Option::is_none_or`).
        while !matches!(m.try_lock(), Some(g) if !g.is_empty()) {
            thread::yield_now();
        }
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let m = Arc::clone(&m);
                goro::spawn(move || m.lock().push("waiter"))
            })
            .collect();
        holder.join().unwrap();
        waiters.into_iter().for_each(|h| h.join().unwrap());
        let log = m.lock().clone();
        assert_eq!(&log[..2], ["holder-start", "holder-end"]);
        assert_eq!(log.len(), 6);
    });
}

#[test]
fn threads_and_coroutines_contend_on_one_mutex() {
    runtime();
    within(Duration::from_secs(120), || {
        let m = Arc::new(Mutex::new(Pair::default()));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = Arc::clone(&m);
                thread::spawn(move || (0..5_000).for_each(|_| bump(&m)))
            })
            .collect();
        let coroutines: Vec<_> = (0..1_000)
            .map(|_| {
                let m = Arc::clone(&m);
                goro::spawn(move || {
                    for _ in 0..20 {
                        bump(&m);
                        goro::yield_now();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|h| h.join().unwrap());
        coroutines.into_iter().for_each(|h| h.join().unwrap());
        let g = m.lock();
        assert_eq!((g.a, g.b), (40_000, 40_000));
    });
}
