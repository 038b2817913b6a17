//! Placement of new coroutines on two workers: a coroutine's spawned partner starts with it
//! (a worker starts two in a row before it hands any to an idle worker, and thieves leave a
//! few queued tasks to their owner), while a plain thread's spawns spread over the idle
//! workers (issue #15: a thread's burst is Go's worker pool as often as a pipeline, and only
//! spreading keeps every core busy when it turns out to be the pool). A process of its own,
//! so no other test keeps a worker busy.
use std::thread::ThreadId;

fn runtime() {
    goro::Config::new().workers(2).init().unwrap();
}

/// Trials whose members all ran on one thread.
fn together(trials: usize, trial: impl Fn() -> Vec<ThreadId>) -> usize {
    (0..trials)
        .filter(|_| {
            let ids = trial();
            ids.iter().all(|id| *id == ids[0])
        })
        .count()
}

/// One test, so the two halves do not run at once and disturb each other's placement.
#[test]
fn coroutines_spawned_together_start_together() {
    runtime();
    a_spawned_partner_starts_on_its_spawners_worker();
    a_threads_spawns_spread_over_idle_workers();
}

fn a_spawned_partner_starts_on_its_spawners_worker() {
    // Before the grace, an idle worker woken by the spawn often stole the partner before
    // its spawner parked on it. The bound leaves room for a noisy machine descheduling the
    // owner past the grace now and then.
    let n = together(40, || {
        goro::spawn(|| {
            let partner = goro::spawn(|| std::thread::current().id());
            let there = partner.join().unwrap();
            vec![std::thread::current().id(), there]
        })
        .join()
        .unwrap()
    });
    assert!(n >= 32, "pairs: only {n} of 40 pairs started together");
}

/// Until issue #15 a thread's few spawns started together (a pipeline's stages spawned
/// from `main`); that also packed Go's worker pool, spawned the same way, onto one worker
/// for good. Now each goes to an idle worker while there is one.
fn a_threads_spawns_spread_over_idle_workers() {
    let n = together(40, || {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                goro::spawn(|| {
                    let home = std::thread::current().id();
                    goro::time::sleep(std::time::Duration::from_millis(1));
                    home
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        n <= 8,
        "trios: {n} of 40 trios from a thread started on one worker"
    );
}
