//! 1,000,000 coroutines sleeping at once (a test file of its own: it runs in its own process,
//! so parallel tests don't stack their memory on top of it).
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn a_million_concurrent_sleepers() {
    const N: usize = 1_000_000;
    let release = Arc::new(AtomicBool::new(false));
    let woke = Arc::new(AtomicUsize::new(0));
    let wg = Arc::new(goro::sync::WaitGroup::new());
    wg.add(N);
    let (r2, w2, wg2) = (release.clone(), woke.clone(), wg.clone());
    goro::spawn(move || {
        for _ in 0..N {
            let (release, woke, wg) = (r2.clone(), w2.clone(), wg2.clone());
            goro::Builder::new()
                .stack_size(16 * 1024)
                .spawn(move || {
                    // Sleep in 5 s naps until released: at steady state every sleeper has
                    // an armed timer and no thread.
                    while !release.load(Ordering::Acquire) {
                        goro::time::sleep(Duration::from_secs(5));
                    }
                    woke.fetch_add(1, Ordering::Relaxed);
                    wg.done();
                })
                .expect("spawn a sleeper");
        }
    })
    .join()
    .unwrap();
    // All of them asleep at once: a timer armed for (almost) every one.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut most = 0;
    while most < N * 99 / 100 {
        assert!(
            Instant::now() < deadline,
            "never saw the sleepers asleep together: {:?}",
            goro::stats()
        );
        most = most.max(goro::stats().timers);
        std::thread::sleep(Duration::from_millis(20));
    }
    release.store(true, Ordering::Release);
    wg.wait();
    assert_eq!(woke.load(Ordering::Relaxed), N);
}
