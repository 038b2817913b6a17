//! Placement of new coroutines on two workers: a few spawned together start together (a
//! thief gives their owner a grace before stealing), while a burst is still shared.
//! A process of its own, so no other test keeps a worker busy.
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
    a_threads_few_spawns_start_on_one_worker();
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

fn a_threads_few_spawns_start_on_one_worker() {
    let n = together(40, || {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                goro::spawn(|| {
                    let home = std::thread::current().id();
                    // Park (as a pipeline stage waiting on its channel would) rather than
                    // finish: finishing wakes the joining thread, a syscall that holds the
                    // owner back.
                    goro::time::sleep(std::time::Duration::from_millis(1));
                    home
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(n >= 32, "trios: only {n} of 40 trios started together");
}
