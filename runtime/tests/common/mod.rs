//! Helpers shared by the runtime's integration tests (each test file is its own process).
#![allow(dead_code)] // not every test file uses every helper

use std::sync::{mpsc, Once};
use std::thread;
use std::time::Duration;

/// Starts this process's runtime with 2 workers (once), so every test in a file runs on the
/// same, known worker count.
pub fn runtime() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        goro::Config::new()
            .workers(2)
            .init()
            .expect("runtime starts once")
    });
}

/// Fails the test if `f` does not finish within `limit` (a hang is a lost wakeup).
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(limit)
        .expect("did not finish: lost wakeup or deadlock")
}
