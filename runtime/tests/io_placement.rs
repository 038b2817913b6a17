//! Connection placement (`goro::io::spawn_balanced`) on two workers: connections pack onto a
//! worker while it has room and go elsewhere once it is busy; with every worker busy they
//! spread by live count. A process of its own, so no other test's load skews the figures.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits (bounded) until sysmon reports `pred` of the per-worker stats.
fn wait_for(what: &str, pred: impl Fn(&goro::Stats) -> bool) {
    let t = Instant::now();
    loop {
        let s = goro::stats();
        if pred(&s) {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "never {what}: {s:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A coroutine on `worker` that keeps it awake (yielding, so it is not a long run) until
/// `stop`.
fn hog(worker: usize, stop: &Arc<AtomicBool>) -> goro::JoinHandle<()> {
    let stop = stop.clone();
    goro::Builder::new()
        .worker_hint(worker)
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                goro::yield_now();
            }
        })
        .unwrap()
}

fn conns(s: &goro::Stats) -> Vec<usize> {
    s.per_worker.iter().map(|w| w.connections).collect()
}

#[test]
fn connections_pack_while_there_is_room_and_spread_when_busy() {
    goro::Config::new().workers(2).init().unwrap();
    let gate = Arc::new(AtomicBool::new(false));
    let held = |n: usize| -> Vec<goro::JoinHandle<()>> {
        (0..n)
            .map(|_| {
                let gate = gate.clone();
                goro::io::spawn_balanced(move || {
                    while !gate.load(Ordering::Acquire) {
                        goro::time::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect()
    };
    wait_for("an idle runtime", |s| {
        s.per_worker.iter().all(|w| w.load < 500)
    });

    // Idle: a burst from a coroutine lands on that coroutine's worker.
    let (home, first) = goro::spawn({
        let gate = gate.clone();
        move || {
            let here = std::thread::current().id();
            let hs: Vec<_> = (0..16)
                .map(|_| {
                    let gate = gate.clone();
                    goro::io::spawn_balanced(move || {
                        while !gate.load(Ordering::Acquire) {
                            goro::time::sleep(Duration::from_millis(1));
                        }
                        std::thread::current().id()
                    })
                })
                .collect();
            (here, hs)
        }
    })
    .join()
    .unwrap();
    let c = conns(&goro::stats());
    assert!(
        c.contains(&16),
        "idle burst not packed on one worker: {c:?}"
    );

    // Worker 0 busy: new connections from a plain thread pack onto worker 1 ...
    let stop = Arc::new(AtomicBool::new(false));
    let hog0 = hog(0, &stop);
    wait_for("worker 0 busy", |s| s.per_worker[0].load >= 500);
    let before = conns(&goro::stats());
    let second = held(8);
    let after = conns(&goro::stats());
    assert_eq!(
        after[1],
        before[1] + 8,
        "before {before:?}, after {after:?}"
    );

    // ... and with both busy they spread to the worker with fewer connections.
    let hog1 = hog(1, &stop);
    wait_for("both workers busy", |s| {
        s.per_worker.iter().all(|w| w.load >= 500)
    });
    let before = conns(&goro::stats());
    let third = held(4);
    let after = conns(&goro::stats());
    let fewer = if before[0] <= before[1] { 0 } else { 1 };
    assert!(
        after[fewer] >= before[fewer] + 3,
        "not spread to the emptier worker: before {before:?}, after {after:?}"
    );

    stop.store(true, Ordering::Relaxed);
    gate.store(true, Ordering::Release);
    hog0.join().unwrap();
    hog1.join().unwrap();
    let threads: Vec<_> = first.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        threads.iter().all(|t| *t == home),
        "a packed connection ran elsewhere"
    );
    for h in second.into_iter().chain(third) {
        h.join().unwrap();
    }
    wait_for("connections counted down", |s| {
        conns(s).iter().all(|&c| c == 0)
    });
}
