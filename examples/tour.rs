//! A tour of goro's core: 100,000 coroutines that sleep, a mutex they share, a blocking call
//! handed off to the blocking pool, and what the scheduler saw.
//!
//! Run it with `cargo run --release --example tour`.
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::go;
use goro::sync::{Mutex, WaitGroup};

fn main() {
    let n = 100_000;
    let start = Instant::now();
    let total = Arc::new(Mutex::new(0u64));
    let wg = Arc::new(WaitGroup::new());
    wg.add(n);
    for i in 0..n as u64 {
        let (total, wg) = (total.clone(), wg.clone());
        go!(move || {
            // Parks the coroutine for 100 ms; its worker thread runs the others meanwhile.
            goro::time::sleep(Duration::from_millis(100));
            *total.lock() += i;
            wg.done();
        });
    }
    let s = goro::stats();
    println!(
        "spawned {n} coroutines in {:?} on {} worker threads ({} asleep right now)",
        start.elapsed(),
        s.workers,
        s.timers
    );
    wg.wait();
    println!(
        "all woke and summed {} in {:?} (100 ms of sleep each, all at once)",
        *total.lock(),
        start.elapsed()
    );

    // A blocking std call goes through goro::blocking so it never holds a worker.
    let h = go!(|| goro::blocking(|| std::fs::read_to_string("/proc/loadavg").unwrap_or_default()));
    println!(
        "load average (read on the blocking pool): {}",
        h.join().unwrap().trim()
    );

    let s = goro::stats();
    println!(
        "scheduler: {} spawns, {} parks, {} steals, {} switches",
        s.spawns, s.parks, s.steals, s.switches
    );
}
