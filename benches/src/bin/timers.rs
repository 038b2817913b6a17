//! timers: N coroutines each sleep 100 ms; wall time, spawn time and RSS (peer contract).
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_benches::{flag, result, status_kib};

fn main() {
    let n: usize = flag("n", 100_000);
    let sleep_ms: u64 = flag("d-ms", 100);
    let before = status_kib("VmRSS");
    let wg = Arc::new(goro::sync::WaitGroup::new());
    wg.add(n);
    let start = Instant::now();
    for _ in 0..n {
        let wg = wg.clone();
        goro::spawn(move || {
            goro::time::sleep(Duration::from_millis(sleep_ms));
            wg.done();
        });
    }
    let spawned = start.elapsed();
    let during = status_kib("VmRSS");
    wg.wait();
    let wall = start.elapsed();
    result(
        "timers",
        &[
            ("n", n.to_string()),
            ("sleep_ms", sleep_ms.to_string()),
            ("wall_ms", format!("{:.1}", wall.as_secs_f64() * 1e3)),
            ("spawn_ms", format!("{:.1}", spawned.as_secs_f64() * 1e3)),
            ("rss_before_kib", before.to_string()),
            ("rss_during_kib", during.to_string()),
            ("rss_peak_kib", status_kib("VmHWM").to_string()),
        ],
    );
}
