//! Spawning and joining: from threads and coroutines, deep chains, wide fan-outs, panics.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn join_from_thread_and_from_coroutine() {
    let h = goro::spawn(|| 40 + 2);
    assert_eq!(h.join().unwrap(), 42);

    let outer = goro::spawn(|| {
        let inner = goro::spawn(|| "inner");
        assert!(goro::in_coroutine());
        inner.join().unwrap()
    });
    assert_eq!(outer.join().unwrap(), "inner");
    assert!(!goro::in_coroutine());
}

#[test]
fn ten_thousand_deep_spawn_chain() {
    fn chain(depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        // Each link spawns the next and waits for it: 10k coroutines parked at once.
        goro::spawn(move || chain(depth - 1)).join().unwrap() + 1
    }
    let h = goro::Builder::new()
        .name("chain-root")
        .spawn(|| chain(10_000))
        .unwrap();
    assert_eq!(h.join().unwrap(), 10_000);
}

#[test]
fn hundred_thousand_wide_fan_out() {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let root = goro::spawn(move || {
        let handles: Vec<_> = (0..100_000u64)
            .map(|i| {
                let d = d.clone();
                goro::spawn(move || {
                    d.fetch_add(1, Ordering::Relaxed);
                    i
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(root.join().unwrap(), 99_999 * 100_000 / 2);
    assert_eq!(done.load(Ordering::Relaxed), 100_000);
}

#[test]
fn panic_goes_to_join_handle_and_runtime_goes_on() {
    let n = std::hint::black_box(7);
    let h = goro::Builder::new()
        .name("doomed")
        .spawn(move || -> u8 { panic!("boom {n}") })
        .unwrap();
    let err = h.join().unwrap_err();
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("boom 7")
    );
    // Other coroutines are unaffected.
    let ok: Vec<_> = (0..100).map(|i| goro::spawn(move || i)).collect();
    assert_eq!(ok.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 4950);
}

#[test]
fn handle_reports_identity_and_finish() {
    let gate = Arc::new(AtomicUsize::new(0));
    let g = gate.clone();
    let h = goro::Builder::new()
        .name("ident")
        .spawn(move || {
            while g.load(Ordering::Acquire) == 0 {
                goro::yield_now();
            }
            goro::current().map(|c| (c.id(), c.name().map(str::to_owned)))
        })
        .unwrap();
    assert!(!h.is_finished());
    let id = h.id();
    assert_eq!(h.coroutine().name(), Some("ident"));
    gate.store(1, Ordering::Release);
    while !h.is_finished() {
        std::thread::yield_now();
    }
    let (seen_id, name) = h.join().unwrap().unwrap();
    assert_eq!(seen_id, id);
    assert_eq!(name.as_deref(), Some("ident"));
}

#[test]
fn spawn_from_many_threads_at_once() {
    let total = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let total = total.clone();
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..2_000)
                    .map(|_| {
                        let total = total.clone();
                        goro::spawn(move || total.fetch_add(1, Ordering::Relaxed))
                    })
                    .collect();
                hs.into_iter().for_each(|h| {
                    h.join().unwrap();
                });
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(total.load(Ordering::Relaxed), 8_000);
}

#[test]
fn stats_count_spawns_and_coroutines() {
    let before = goro::stats();
    let gate = Arc::new(AtomicUsize::new(0));
    let slept = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..50)
        .map(|_| {
            let (gate, slept) = (gate.clone(), slept.clone());
            goro::spawn(move || {
                while gate.load(Ordering::Acquire) == 0 {
                    goro::time::sleep(std::time::Duration::from_millis(1));
                    slept.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let during = goro::stats();
    assert!(during.spawns >= before.spawns + 50);
    assert!(during.coroutines >= 50, "{during:?}");
    while slept.load(Ordering::Relaxed) < 50 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(goro::stats().parks >= before.parks + 50);
    gate.store(1, Ordering::Release);
    hs.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn a_detached_coroutines_result_is_dropped_when_it_finishes() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Loud;
    impl Drop for Loud {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    for _ in 0..100 {
        drop(goro::spawn(|| Loud)); // detached: nobody will take the result
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while DROPPED.load(Ordering::SeqCst) < 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "results were kept alive"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // Joined results are handed over, not dropped by the runtime.
    let before = DROPPED.load(Ordering::SeqCst);
    let kept = goro::spawn(|| Loud).join().unwrap();
    assert_eq!(DROPPED.load(Ordering::SeqCst), before);
    drop(kept);
}

/// A burst's finished coroutines are recycled, not kept: after 200,000 coroutines dealt
/// over the workers finish, the shared free list is trimmed back to its bound by sysmon
/// (rt/recycle.rs: workers never free a task there, they hand the surplus to that list).
#[test]
fn a_burst_of_finished_coroutines_is_given_back() {
    let n = 200_000;
    goro::spawn(move || {
        let wg = std::sync::Arc::new(goro::sync::WaitGroup::new());
        for _ in 0..n {
            wg.add(1);
            let wg = wg.clone();
            goro::spawn(move || wg.done());
        }
        wg.wait();
    })
    .join()
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let kept = goro::stats().free_tasks;
        if kept <= 4096 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{kept} free tasks still kept 5 s after the burst (bound: 4,096)"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
