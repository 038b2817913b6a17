//! 1,000,000 coroutines sleeping at once (a test file of its own: it runs in its own process,
//! so parallel tests don't stack their memory on top of it).
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_million_concurrent_sleepers() {
    const N: usize = 1_000_000;
    let woke = Arc::new(AtomicUsize::new(0));
    let wg = Arc::new(goro::sync::WaitGroup::new());
    wg.add(N);
    let (w2, wg2) = (woke.clone(), wg.clone());
    goro::spawn(move || {
        for _ in 0..N {
            let (woke, wg) = (w2.clone(), wg2.clone());
            goro::Builder::new()
                .stack_size(16 * 1024)
                .spawn(move || {
                    goro::time::sleep(Duration::from_millis(300));
                    woke.fetch_add(1, Ordering::Relaxed);
                    wg.done();
                })
                .expect("spawn a sleeper");
        }
    })
    .join()
    .unwrap();
    // Most of them are asleep at once right now.
    let s = goro::stats();
    assert!(s.timers + woke.load(Ordering::Relaxed) >= N / 2, "{s:?}");
    wg.wait();
    assert_eq!(woke.load(Ordering::Relaxed), N);
}
