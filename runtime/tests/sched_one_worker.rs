//! Scheduling on a single worker: fairness of runnext, yield order, no starvation.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use goro::park::{self, Unparker};

fn one_worker() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        goro::Config::new()
            .workers(1)
            .init()
            .expect("runtime not started yet")
    });
}

#[test]
fn config_sets_the_worker_count_and_rejects_late_init() {
    one_worker();
    assert_eq!(goro::stats().workers, 1);
    let e = goro::Config::new().workers(3).init().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
}

#[test]
fn two_coroutines_waking_each_other_do_not_starve_a_third() {
    one_worker();
    // A and B hand a token back and forth with unpark: each wake puts the other in runnext.
    // Without the runnext budget C (in the home queue) would never run on this one worker.
    let stop = Arc::new(AtomicBool::new(false));
    let slots: Arc<Mutex<[Option<Unparker>; 2]>> = Arc::new(Mutex::new([None, None]));
    let turn = Arc::new(AtomicU64::new(0));
    let mk = |me: u64| {
        let (stop, slots, turn) = (stop.clone(), slots.clone(), turn.clone());
        goro::spawn(move || {
            slots.lock().unwrap()[me as usize] = Some(park::unparker());
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if turn.load(Ordering::Acquire) % 2 == me {
                    turn.fetch_add(1, Ordering::AcqRel);
                    rounds += 1;
                    if let Some(u) = &slots.lock().unwrap()[(1 - me) as usize] {
                        u.unpark();
                    }
                }
                park::park();
            }
            if let Some(u) = &slots.lock().unwrap()[(1 - me) as usize] {
                u.unpark();
            }
            rounds
        })
    };
    let a = mk(0);
    let b = mk(1);
    let s = stop.clone();
    let c = goro::spawn(move || {
        // Runs only if the scheduler gives the home queue a turn.
        for _ in 0..100 {
            goro::yield_now();
        }
        s.store(true, Ordering::Relaxed);
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.is_finished() {
        assert!(Instant::now() < deadline, "the third coroutine starved");
        std::thread::sleep(Duration::from_millis(5));
    }
    c.join().unwrap();
    let (ra, rb) = (a.join().unwrap(), b.join().unwrap());
    assert!(ra + rb > 0);
}

#[test]
fn yield_now_round_robins() {
    one_worker();
    let log = Arc::new(Mutex::new(Vec::new()));
    let go = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..3)
        .map(|i| {
            let (log, go) = (log.clone(), go.clone());
            goro::spawn(move || {
                while !go.load(Ordering::Acquire) {
                    goro::yield_now();
                }
                for _ in 0..3 {
                    log.lock().unwrap().push(i);
                    goro::yield_now();
                }
            })
        })
        .collect();
    // Let all three start and spin in their wait loop, then release them together.
    std::thread::sleep(Duration::from_millis(20));
    go.store(true, Ordering::Release);
    hs.into_iter().for_each(|h| h.join().unwrap());
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 9);
    // Each coroutine appears once in every window of three: nobody runs twice in a row while
    // the others are runnable.
    for w in log.chunks(3) {
        let mut w = w.to_vec();
        w.sort();
        assert_eq!(w, [0, 1, 2], "not round robin: {log:?}");
    }
}
