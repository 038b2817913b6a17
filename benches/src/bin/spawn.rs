//! spawn: (1) from inside a coroutine, spawn N coroutines that each signal a WaitGroup and time
//! spawn + completion; (2) park M coroutines on a gate and measure RSS growth per parked
//! coroutine. `--n 0` skips (1), `--parked 0` skips (2) (peer contract).
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::WaitGroup;
use goro_benches::{flag, result, status_kib};

fn spawn_bench(n: usize) {
    let elapsed = goro::spawn(move || {
        let wg = Arc::new(WaitGroup::new());
        let start = Instant::now();
        for _ in 0..n {
            wg.add(1);
            let wg = wg.clone();
            goro::spawn(move || wg.done());
        }
        wg.wait();
        start.elapsed()
    })
    .join()
    .unwrap();
    result(
        "spawn",
        &[
            ("n", n.to_string()),
            (
                "ns_per_spawn",
                format!("{:.1}", elapsed.as_nanos() as f64 / n as f64),
            ),
        ],
    );
}

fn parked_bench(m: usize) {
    std::thread::sleep(Duration::from_millis(50));
    let before = status_kib("VmRSS");
    // The gate: every coroutine waits on it (parks) until main releases it, like Go's
    // `<-gate` on a channel nobody sends to until close.
    let gate = Arc::new(WaitGroup::new());
    gate.add(1);
    let started = Arc::new(WaitGroup::new());
    let done = Arc::new(WaitGroup::new());
    started.add(m);
    done.add(m);
    for _ in 0..m {
        let (gate, started, done) = (gate.clone(), started.clone(), done.clone());
        goro::spawn(move || {
            started.done();
            gate.wait();
            done.done();
        });
    }
    started.wait();
    std::thread::sleep(Duration::from_millis(50));
    let after = status_kib("VmRSS");
    gate.done();
    done.wait();
    result(
        "parked",
        &[
            ("n", m.to_string()),
            ("rss_before_kib", before.to_string()),
            ("rss_after_kib", after.to_string()),
            (
                "bytes_per_parked",
                format!(
                    "{:.0}",
                    (after.saturating_sub(before)) as f64 * 1024.0 / m as f64
                ),
            ),
        ],
    );
}

fn main() {
    let n: usize = flag("n", 1_000_000);
    let parked: usize = flag("parked", 100_000);
    if n > 0 {
        spawn_bench(n);
    }
    if parked > 0 {
        parked_bench(parked);
    }
}
