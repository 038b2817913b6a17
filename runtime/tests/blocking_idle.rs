//! goro::blocking: idle pool threads exit (`GORO_BLOCKING_IDLE_TIMEOUT_MS` set low).
//!
//! A file of its own: the knob is read once, when the process first uses the pool. Linux
//! only: it counts the pool's threads by name in /proc.
#![cfg(target_os = "linux")]
use std::time::{Duration, Instant};

/// Threads of this process whose name starts with `goro-blocking-` (from /proc).
fn pool_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("goro-blocking-"))
        .count()
}

#[test]
fn idle_pool_threads_exit() {
    // Before any runtime or pool thread exists, so nothing reads the environment concurrently.
    std::env::set_var("GORO_BLOCKING_IDLE_TIMEOUT_MS", "100");
    goro::Config::new().workers(2).init().unwrap();
    let hs: Vec<_> = (0..3)
        .map(|_| goro::spawn(|| goro::blocking(|| std::thread::sleep(Duration::from_millis(50)))))
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    let started = pool_threads();
    assert!(started >= 1, "no goro-blocking-N thread seen");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool_threads() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} idle pool threads still alive",
            pool_threads()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The pool starts threads again on demand.
    goro::spawn(|| goro::blocking(|| ())).join().unwrap();
}
