//! goro::sync::Pool: reuse on the same worker and thread, no value held twice under
//! concurrency (coroutines on every worker and threads), stealing before making, into_inner,
//! lazy trimming through the victim list.
mod common;
use common::{runtime, within};
use goro::sync::{Pool, PoolGuard};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A pooled value that knows whether someone holds it, and counts how many were made and
/// dropped.
struct Item {
    id: usize,
    held: AtomicBool,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Item {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// A pool of `Item`s numbered in creation order; returns (pool, made, dropped).
fn item_pool(period: Duration) -> (Arc<Pool<Item>>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let made = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (m, d) = (Arc::clone(&made), Arc::clone(&dropped));
    let pool = Pool::with_trim_period(period, move || Item {
        id: m.fetch_add(1, Ordering::SeqCst),
        held: AtomicBool::new(false),
        dropped: Arc::clone(&d),
    });
    (Arc::new(pool), made, dropped)
}

#[test]
fn a_value_put_back_is_handed_out_again_on_the_same_worker_and_thread() {
    runtime();
    within(Duration::from_secs(30), || {
        let (pool, made, _) = item_pool(Duration::from_secs(600));
        // Plain thread: the shared list.
        let id = pool.get().id;
        assert_eq!(pool.get().id, id);
        // A coroutine: its worker's list, warm across a park point.
        let p = Arc::clone(&pool);
        goro::spawn(move || {
            let id = p.get().id;
            for _ in 0..10 {
                goro::yield_now();
                assert_eq!(p.get().id, id, "LIFO on the coroutine's worker");
            }
        })
        .join()
        .unwrap();
        assert!(made.load(Ordering::SeqCst) <= 2);
    });
}

#[test]
fn no_value_is_held_twice_under_coroutines_on_every_worker_and_threads() {
    runtime();
    within(Duration::from_secs(60), || {
        let (pool, made, dropped) = item_pool(Duration::from_secs(600));
        let work = |pool: Arc<Pool<Item>>, coroutine: bool| {
            move || {
                for i in 0..5_000u32 {
                    let a = pool.get();
                    assert!(
                        !a.held.swap(true, Ordering::SeqCst),
                        "value {} held twice",
                        a.id
                    );
                    let b = pool.get();
                    assert!(
                        !b.held.swap(true, Ordering::SeqCst),
                        "value {} held twice",
                        b.id
                    );
                    if coroutine && i.is_multiple_of(100) {
                        goro::yield_now();
                    }
                    b.held.store(false, Ordering::SeqCst);
                    a.held.store(false, Ordering::SeqCst);
                }
            }
        };
        let workers = goro::stats().workers;
        let cs: Vec<_> = (0..4 * workers)
            .map(|w| {
                goro::Builder::new()
                    .worker_hint(w % workers)
                    .spawn(work(Arc::clone(&pool), true))
                    .unwrap()
            })
            .collect();
        let ts: Vec<_> = (0..3)
            .map(|_| thread::spawn(work(Arc::clone(&pool), false)))
            .collect();
        cs.into_iter().for_each(|h| h.join().unwrap());
        ts.into_iter().for_each(|h| h.join().unwrap());
        // Reuse, not one value per get: at most two held per concurrent user at once.
        let made = made.load(Ordering::SeqCst);
        assert!(made <= 2 * (4 * workers + 3), "{made} values made");
        drop(pool);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            made,
            "dropping the pool drops its values"
        );
    });
}

#[test]
fn a_worker_with_an_empty_list_steals_before_making_a_value() {
    runtime();
    within(Duration::from_secs(30), || {
        let (pool, made, _) = item_pool(Duration::from_secs(600));
        // Fill the plain threads' list, then get from a coroutine (whose worker list is empty).
        let held: Vec<_> = (0..4).map(|_| pool.get()).collect();
        drop(held);
        assert_eq!(made.load(Ordering::SeqCst), 4);
        let p = Arc::clone(&pool);
        goro::spawn(move || {
            let got: Vec<_> = (0..4).map(|_| p.get()).collect();
            drop(got);
        })
        .join()
        .unwrap();
        assert_eq!(made.load(Ordering::SeqCst), 4, "stole nothing");
    });
}

#[test]
fn into_inner_takes_the_value_out_of_the_pool() {
    let (pool, made, dropped) = item_pool(Duration::from_secs(600));
    let v = PoolGuard::into_inner(pool.get());
    assert_eq!(v.id, 0);
    // Not put back: the next get makes a new one.
    assert_eq!(pool.get().id, 1);
    drop(v);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    pool.put(Item {
        id: 99,
        held: AtomicBool::new(false),
        dropped: Arc::clone(&dropped),
    });
    assert_eq!(pool.get().id, 99, "put gives the value to the pool");
    assert_eq!(made.load(Ordering::SeqCst), 2);
}

/// Enough operations that the shard reads the clock at least once.
fn touch(pool: &Pool<Item>) {
    for _ in 0..32 {
        drop(pool.get());
    }
}

#[test]
fn idle_values_are_trimmed_through_the_victim_list() {
    runtime();
    within(Duration::from_secs(30), || {
        let period = Duration::from_millis(100);
        let (pool, made, dropped) = item_pool(period);
        // Ten values in the plain threads' list.
        let held: Vec<_> = (0..10).map(|_| pool.get()).collect();
        drop(held);
        assert_eq!(
            (made.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst)),
            (10, 0)
        );
        // Two periods or more idle: the list's next catch-up frees them all (primary and
        // victim).
        thread::sleep(3 * period);
        touch(&pool);
        // (The value in hand when the shard caught up survives.)
        assert!(
            dropped.load(Ordering::SeqCst) >= 9,
            "idle values not trimmed"
        );
        assert!(made.load(Ordering::SeqCst) - dropped.load(Ordering::SeqCst) <= 2);

        // One period on, values move to the victim list and are still handed out.
        let (pool, made, dropped) = item_pool(Duration::from_secs(1));
        let held: Vec<_> = (0..10).map(|_| pool.get()).collect();
        drop(held); // 20 operations on the shard so far
                    // Into epoch 1 (epochs count from the pool's creation); stay well inside it.
        thread::sleep(Duration::from_millis(1200));
        // Operations 21..=32: the shard reads the clock at the 32nd (a put) and moves its
        // primary list (9 values, one is in hand) to the victim list.
        for _ in 0..6 {
            drop(pool.get());
        }
        let got: Vec<_> = (0..10).map(|_| pool.get()).collect();
        assert_eq!(
            made.load(Ordering::SeqCst),
            10,
            "the victim list is used before making"
        );
        assert_eq!(dropped.load(Ordering::SeqCst), 0);
        drop(got);
    });
}

#[test]
fn a_pool_works_as_a_static() {
    static BUFS: std::sync::LazyLock<Pool<Vec<u8>>> =
        std::sync::LazyLock::new(|| Pool::new(|| Vec::with_capacity(64)));
    runtime();
    within(Duration::from_secs(30), || {
        let hs: Vec<_> = (0..50)
            .map(|i| {
                goro::spawn(move || {
                    let mut b = BUFS.get();
                    b.clear();
                    b.extend_from_slice(format!("{i}").as_bytes());
                    goro::yield_now();
                    String::from_utf8(b.clone()).unwrap() == i.to_string()
                })
            })
            .collect();
        assert!(hs.into_iter().all(|h| h.join().unwrap()));
    });
}
