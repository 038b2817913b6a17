//! goro::sync::Condvar: producer/consumer, notify_one wakes exactly one, notify_all wakes all,
//! timeouts (and no notification lost to one), ping-pong without lost wakeups, on coroutines,
//! threads, and both at once.
mod common;
use common::{runtime, within};
use goro::sync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// (items, closed) and the condition "non-empty or closed".
type Queue = (Mutex<(VecDeque<u64>, bool)>, Condvar);

#[test]
fn producer_consumer_across_coroutines_and_threads_delivers_every_item_once() {
    runtime();
    within(Duration::from_secs(60), || {
        let q = Arc::new((Mutex::new((VecDeque::new(), false)), Condvar::new()));
        let consume = |q: Arc<Queue>| {
            move || {
                let (m, cv) = &*q;
                let mut sum = 0u64;
                loop {
                    let mut g =
                        cv.wait_while(m.lock(), |(items, closed)| items.is_empty() && !*closed);
                    match g.0.pop_front() {
                        Some(v) => sum += v,
                        None => return sum, // closed and drained
                    }
                }
            }
        };
        let cs: Vec<_> = (0..6)
            .map(|_| goro::spawn(consume(Arc::clone(&q))))
            .collect();
        let ts: Vec<_> = (0..2)
            .map(|_| thread::spawn(consume(Arc::clone(&q))))
            .collect();
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let q = Arc::clone(&q);
                goro::spawn(move || {
                    for i in 0..5_000u64 {
                        q.0.lock().0.push_back(p * 5_000 + i + 1);
                        q.1.notify_one();
                        if i.is_multiple_of(100) {
                            goro::yield_now();
                        }
                    }
                })
            })
            .collect();
        producers.into_iter().for_each(|h| h.join().unwrap());
        q.0.lock().1 = true;
        q.1.notify_all();
        let total: u64 = cs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            + ts.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
        let n = 20_000u64;
        assert_eq!(total, n * (n + 1) / 2);
    });
}

/// `waiters` coroutines and threads each wait once (no loop: goro's Condvar has no spurious
/// wakeups) and count themselves woken. Returns once all are queued.
fn one_shot_waiters(
    state: &Arc<(Mutex<usize>, Condvar)>,
    woken: &Arc<AtomicUsize>,
    n: usize,
) -> Vec<Box<dyn FnOnce() + Send>> {
    let hs: Vec<Box<dyn FnOnce() + Send>> = (0..n)
        .map(|i| {
            let (state, woken) = (Arc::clone(state), Arc::clone(woken));
            let f = move || {
                let (m, cv) = &*state;
                let mut g = m.lock();
                *g += 1; // "I am about to wait": wait queues us before it unlocks
                let _g = cv.wait(g);
                woken.fetch_add(1, Ordering::SeqCst);
            };
            if i.is_multiple_of(2) {
                let h = goro::spawn(f);
                Box::new(move || h.join().unwrap()) as Box<dyn FnOnce() + Send>
            } else {
                let h = thread::spawn(f);
                Box::new(move || h.join().unwrap())
            }
        })
        .collect();
    // A waiter increments under the mutex and queues before unlocking it: once we can lock
    // it and see `n`, all `n` are queued.
    let start = Instant::now();
    while *state.0.lock() < n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waiters never queued"
        );
        thread::sleep(Duration::from_millis(1));
    }
    hs
}

#[test]
fn notify_one_wakes_exactly_one_and_notify_all_the_rest() {
    runtime();
    within(Duration::from_secs(30), || {
        let state = Arc::new((Mutex::new(0usize), Condvar::new()));
        let woken = Arc::new(AtomicUsize::new(0));
        let joins = one_shot_waiters(&state, &woken, 6);
        state.1.notify_one();
        let start = Instant::now();
        while woken.load(Ordering::SeqCst) < 1 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "notify_one woke nobody"
            );
            thread::sleep(Duration::from_millis(1));
        }
        thread::sleep(Duration::from_millis(50));
        assert_eq!(
            woken.load(Ordering::SeqCst),
            1,
            "notify_one woke more than one"
        );
        state.1.notify_all();
        joins.into_iter().for_each(|j| j());
        assert_eq!(woken.load(Ordering::SeqCst), 6);
    });
}

#[test]
fn a_notify_with_nobody_waiting_is_not_remembered() {
    runtime();
    within(Duration::from_secs(30), || {
        let (m, cv) = (Mutex::new(()), Condvar::new());
        cv.notify_one();
        cv.notify_all();
        let start = Instant::now();
        let (_g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(30));
        assert!(r.timed_out());
        assert!(start.elapsed() >= Duration::from_millis(30));
    });
}

#[test]
fn wait_timeout_relocks_and_reports_timeout_on_a_coroutine() {
    runtime();
    within(Duration::from_secs(30), || {
        let m = Arc::new((Mutex::new(5), Condvar::new()));
        let m2 = Arc::clone(&m);
        goro::spawn(move || {
            let (lock, cv) = &*m2;
            let start = Instant::now();
            let (g, r) = cv.wait_timeout(lock.lock(), Duration::from_millis(40));
            assert!(r.timed_out());
            assert!(start.elapsed() >= Duration::from_millis(40));
            // The mutex is held again: another thread cannot take it.
            thread::scope(|s| {
                s.spawn(|| assert!(lock.try_lock().is_none()));
            });
            assert_eq!(*g, 5);
        })
        .join()
        .unwrap();
        assert!(m.0.try_lock().is_some());
    });
}

#[test]
fn wait_timeout_while_sees_a_notify_before_the_deadline() {
    runtime();
    within(Duration::from_secs(30), || {
        let state = Arc::new((Mutex::new(false), Condvar::new()));
        let s2 = Arc::clone(&state);
        let waiter = goro::spawn(move || {
            let (m, cv) = &*s2;
            let (g, r) = cv.wait_timeout_while(m.lock(), Duration::from_secs(20), |done| !*done);
            (*g, r.timed_out())
        });
        thread::sleep(Duration::from_millis(20));
        *state.0.lock() = true;
        state.1.notify_all();
        assert_eq!(waiter.join().unwrap(), (true, false));
    });
}

/// Waiters that time out constantly while notifications fly: a notification handed to a
/// waiter is never lost (each notify_one that finds a waiter releases exactly one item's
/// consumer), and every item is consumed in bounded time.
#[test]
fn timeouts_racing_notifies_lose_nothing() {
    runtime();
    within(Duration::from_secs(60), || {
        let q = Arc::new((Mutex::new((0u32, false)), Condvar::new()));
        let consumers: Vec<_> = (0..8u32)
            .map(|i| {
                let q = Arc::clone(&q);
                let f = move || {
                    let (m, cv) = &*q;
                    let mut got = 0u32;
                    let mut g = m.lock();
                    loop {
                        if g.0 > 0 {
                            g.0 -= 1;
                            got += 1;
                        } else if g.1 {
                            return got;
                        } else {
                            // Short timeouts: many end right as a notify picks them.
                            g = cv.wait_timeout(g, Duration::from_micros(200)).0;
                        }
                    }
                };
                if i.is_multiple_of(2) {
                    goro::spawn(f)
                } else {
                    goro::spawn(move || goro::blocking(f))
                }
            })
            .collect();
        for i in 0..20_000u32 {
            q.0.lock().0 += 1;
            q.1.notify_one();
            if i.is_multiple_of(64) {
                thread::yield_now();
            }
        }
        q.0.lock().1 = true;
        q.1.notify_all();
        let got: u32 = consumers.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(got, 20_000);
    });
}

/// Strict alternation between a coroutine and a thread: each side waits for its turn; a
/// single lost wakeup hangs the test.
#[test]
fn ping_pong_between_a_coroutine_and_a_thread() {
    runtime();
    within(Duration::from_secs(60), || {
        const ROUNDS: u32 = 5_000;
        let turn = Arc::new((Mutex::new(0u32), Condvar::new()));
        let t2 = Arc::clone(&turn);
        let co = goro::spawn(move || {
            let (m, cv) = &*t2;
            for r in 0..ROUNDS {
                let mut g = cv.wait_while(m.lock(), |t| *t != 2 * r + 1);
                *g += 1;
                cv.notify_all();
            }
        });
        let (m, cv) = &*turn;
        for r in 0..ROUNDS {
            let mut g = cv.wait_while(m.lock(), |t| *t != 2 * r);
            *g += 1;
            drop(g);
            cv.notify_all(); // outside the mutex this time
        }
        co.join().unwrap();
        assert_eq!(*m.lock(), 2 * ROUNDS);
    });
}
