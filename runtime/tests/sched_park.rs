//! The park protocol: no lost wake-ups, tokens, timed parks, from coroutines and threads.
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro::park::{self, Unparker};

#[test]
fn unpark_before_park_is_not_lost() {
    let h = goro::spawn(|| {
        park::unparker().unpark(); // leaves a token
        park::park(); // must return at once
        "ok"
    });
    assert_eq!(h.join().unwrap(), "ok");
}

/// A one-slot mailbox built only on park/unpark: the waiter loops on its own condition.
struct Mailbox {
    value: AtomicU64,
    waiter: Mutex<Option<Unparker>>,
}

impl Mailbox {
    fn new() -> Arc<Mailbox> {
        Arc::new(Mailbox {
            value: AtomicU64::new(0),
            waiter: Mutex::new(None),
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
            if self.value.load(Ordering::Acquire) != 0 {
                continue;
            }
            park::park();
        }
    }
}

#[test]
fn ping_pong_across_coroutines_loses_no_wakeup() {
    const ROUNDS: u64 = 50_000;
    let (a, b) = (Mailbox::new(), Mailbox::new());
    let (a2, b2) = (a.clone(), b.clone());
    let ponger = goro::spawn(move || {
        for _ in 0..ROUNDS {
            let v = a2.take();
            b2.put(v + 1);
        }
    });
    let pinger = goro::spawn(move || {
        let mut v = 1;
        for _ in 0..ROUNDS {
            a.put(v);
            v = b.take() + 1;
        }
        v
    });
    assert_eq!(pinger.join().unwrap(), 2 * ROUNDS + 1);
    ponger.join().unwrap();
}

#[test]
fn ping_pong_between_thread_and_coroutine() {
    const ROUNDS: u64 = 5_000;
    let (a, b) = (Mailbox::new(), Mailbox::new());
    let (a2, b2) = (a.clone(), b.clone());
    let co = goro::spawn(move || {
        for _ in 0..ROUNDS {
            let v = a2.take();
            b2.put(v + 1);
        }
    });
    let mut v = 1;
    for _ in 0..ROUNDS {
        a.put(v);
        v = b.take() + 1;
    }
    co.join().unwrap();
    assert_eq!(v, 2 * ROUNDS + 1);
}

#[test]
fn many_unparkers_racing_one_parker() {
    // 8 threads hammer unpark while the coroutine parks 20k times: it must never be resumed
    // twice (that would crash or corrupt its stack) and must finish.
    let stop = Arc::new(AtomicBool::new(false));
    let parks = Arc::new(AtomicUsize::new(0));
    let p2 = parks.clone();
    let h = goro::spawn(move || {
        for _ in 0..20_000 {
            park::park();
            p2.fetch_add(1, Ordering::Relaxed);
        }
    });
    let u = h.coroutine().unparker();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (u, stop) = (u.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    u.unpark();
                }
            })
        })
        .collect();
    h.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(parks.load(Ordering::Relaxed), 20_000);
}

#[test]
fn park_timeout_returns_after_the_deadline() {
    let h = goro::spawn(|| {
        let t = Instant::now();
        let deadline = t + Duration::from_millis(30);
        while Instant::now() < deadline {
            park::park_deadline(deadline);
        }
        t.elapsed()
    });
    assert!(h.join().unwrap() >= Duration::from_millis(30));
    // And on a plain thread.
    let t = Instant::now();
    park::park_timeout(Duration::from_millis(10));
    let _ = t.elapsed(); // may return early (spurious), only must not hang
}

#[test]
fn unpark_wakes_a_timed_park_early() {
    let h = goro::spawn(|| {
        let t = Instant::now();
        park::park_timeout(Duration::from_secs(30));
        t.elapsed()
    });
    let u = h.coroutine().unparker();
    std::thread::sleep(Duration::from_millis(20));
    u.unpark();
    assert!(h.join().unwrap() < Duration::from_secs(30));
}

#[test]
fn unparker_identity() {
    let a = park::unparker();
    let b = park::unparker();
    assert!(a.will_wake(&b));
    let h = goro::spawn(park::unparker);
    let c = h.join().unwrap();
    assert!(!a.will_wake(&c));
}
