//! goro_net::connpool: reuse, limits, expiry, checkout tests, waiting and failing fast.
use std::io::ErrorKind;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_net::connpool::Pool;

fn counter_pool(b: goro_net::connpool::Builder<u32>) -> (Pool<u32>, Arc<AtomicU32>) {
    let n = Arc::new(AtomicU32::new(0));
    let n2 = n.clone();
    (b.build(move || Ok(n2.fetch_add(1, Ordering::Relaxed))), n)
}

#[test]
fn returned_connections_are_reused_newest_first_and_trimmed_to_max_idle() {
    let (pool, _) = counter_pool(Pool::builder().max_idle(2));
    let held: Vec<_> = (0..5).map(|_| pool.get().unwrap()).collect();
    assert_eq!(pool.stats().active, 5);
    assert_eq!(pool.stats().dials, 5);
    drop(held); // returned 0,1,2,3,4 in order: the two newest stay
    let s = pool.stats();
    assert_eq!((s.idle, s.active), (2, 0));
    assert_eq!(*pool.get().unwrap(), 4);
    assert_eq!(pool.stats().dials, 5);
}

#[test]
fn a_preferred_idle_connection_is_taken_before_the_newest() {
    // Prefer even numbers: among the newest idle ones the newest even one comes first; with
    // none among them, plain newest-first.
    let (pool, _) = counter_pool(
        Pool::builder()
            .max_idle(16)
            .prefer(|c: &u32| c.is_multiple_of(2)),
    );
    drop((0..5).map(|_| pool.get().unwrap()).collect::<Vec<_>>()); // idle: 0 1 2 3 4
    let held: Vec<_> = (0..4).map(|_| pool.get().unwrap()).collect();
    let got: Vec<u32> = held.iter().map(|c| **c).collect();
    assert_eq!(
        got,
        [4, 2, 0, 3],
        "even ones newest first, then plain newest first"
    );
    assert_eq!(pool.stats().dials, 5);
}

#[test]
fn expired_and_rejected_connections_are_discarded_at_checkout() {
    let (pool, _) = counter_pool(Pool::builder().idle_timeout(Duration::from_millis(50)));
    drop(pool.get().unwrap());
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(
        *pool.get().unwrap(),
        1,
        "an expired connection was handed out"
    );
    assert_eq!(pool.stats().discarded, 1);

    let (pool, _) = counter_pool(Pool::builder().test_on_checkout(|c: &mut u32, _| *c % 2 == 1));
    drop(pool.get().unwrap()); // 0: fails the test next time
    assert_eq!(*pool.get().unwrap(), 1);
    assert_eq!(pool.stats().discarded, 1);

    let (pool, _) = counter_pool(Pool::builder());
    let mut c = pool.get().unwrap();
    c.discard();
    drop(c);
    assert_eq!(pool.stats().idle, 0);
    assert!(!pool.get().unwrap().reused());
}

#[test]
fn exhausted_pool_waits_with_a_timeout_or_fails_fast() {
    let (pool, _) = counter_pool(
        Pool::builder()
            .max_active(1)
            .wait_timeout(Duration::from_millis(100)),
    );
    let held = pool.get().unwrap();
    let t = Instant::now();
    let e = pool.get().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(t.elapsed() >= Duration::from_millis(90));
    assert_eq!(pool.stats().waits, 1);

    // A waiter gets the connection as soon as it comes back.
    let p2 = pool.clone();
    let waiter = goro::spawn(move || *p2.get().unwrap());
    std::thread::sleep(Duration::from_millis(20));
    drop(held);
    assert_eq!(waiter.join().unwrap(), 0);
    assert_eq!(pool.stats().dials, 1);

    let (pool, _) = counter_pool(Pool::builder().max_active(1).fail_fast());
    let _held = pool.get().unwrap();
    assert_eq!(pool.get().unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn a_checkout_deadline_bounds_the_wait_and_reaches_the_dialler() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let pool = Pool::builder()
        .max_active(1)
        .wait_timeout(Duration::from_secs(30))
        .build_with_deadline(move |by: Option<Instant>| {
            s2.lock().unwrap().push(by);
            Ok(1u32)
        });
    let by = Instant::now() + Duration::from_secs(60);
    let held = pool.get_deadline(by).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [Some(by)],
        "the dialler got the deadline"
    );

    // At max_active: the deadline, not the 30 s wait_timeout, ends the wait.
    let t = Instant::now();
    let e = pool
        .get_deadline(t + Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(90),
        "gave up early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(20),
        "waited for wait_timeout: {waited:?}"
    );

    // A deadline already past fails without touching the pool.
    drop(held);
    let e = pool.get_deadline(Instant::now()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert_eq!(pool.stats().idle, 1);
    // A plain get dials with no deadline.
    pool.get().unwrap().discard();
    assert_eq!(*pool.get().unwrap(), 1);
    assert_eq!(*seen.lock().unwrap(), [Some(by), None]);
}

#[test]
fn dial_errors_give_the_slot_back() {
    let fails = Arc::new(AtomicU32::new(1));
    let f2 = fails.clone();
    let pool = Pool::builder().max_active(1).fail_fast().build(move || {
        if f2.fetch_sub(1, Ordering::Relaxed) == 1 {
            Err(std::io::Error::new(ErrorKind::ConnectionRefused, "down"))
        } else {
            Ok(7u32)
        }
    });
    assert_eq!(pool.get().unwrap_err().kind(), ErrorKind::ConnectionRefused);
    assert_eq!(
        *pool.get().unwrap(),
        7,
        "the failed dial kept its max_active slot"
    );
}

#[test]
fn many_coroutines_share_a_bounded_pool() {
    let (pool, _) = counter_pool(Pool::builder().max_active(4).max_idle(4));
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let p = pool.clone();
            goro::spawn(move || {
                let _c = p.get().unwrap();
                goro::time::sleep(Duration::from_millis(1));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = pool.stats();
    assert!(s.dials <= 4, "{s:?}");
    assert_eq!(s.active, 0);
}
