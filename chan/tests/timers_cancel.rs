//! Dropping the receiver of `after`/`tick` cancels its goro timer (own binary: it counts
//! the runtime's armed timers, which other tests would disturb).

use std::time::{Duration, Instant};

fn armed() -> usize {
    goro::stats().timers
}

fn wait_for(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    cond()
}

#[test]
fn dropping_receivers_cancels_timers() {
    let base = armed();
    let afters: Vec<_> = (0..100)
        .map(|_| goro_chan::after(Duration::from_secs(3600)))
        .collect();
    let ticks: Vec<_> = (0..100)
        .map(|_| goro_chan::tick(Duration::from_secs(3600)))
        .collect();
    assert!(
        armed() >= base + 200,
        "timers armed: {} (base {base})",
        armed()
    );
    drop(afters);
    drop(ticks);
    assert!(
        wait_for(|| armed() <= base),
        "timers left armed: {} (base {base})",
        armed()
    );
    // A clone keeps the timer until the last receiver goes.
    let rx = goro_chan::after(Duration::from_secs(3600));
    let rx2 = rx.clone();
    drop(rx);
    assert!(armed() > base);
    drop(rx2);
    assert!(wait_for(|| armed() <= base));
}
