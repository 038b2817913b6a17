//! Park and unpark: the one waiting protocol (placeholder: thread path only).
use std::time::{Duration, Instant};

/// Wakes a parked coroutine or thread.
#[derive(Clone, Debug)]
pub struct Unparker(std::thread::Thread);

impl Unparker {
    /// Wakes the coroutine or thread, or makes its next park return at once.
    pub fn unpark(&self) {
        self.0.unpark()
    }
}

/// The current coroutine's (or thread's) unparker.
pub fn unparker() -> Unparker {
    Unparker(std::thread::current())
}

/// Parks until unparked. May return spuriously.
pub fn park() {
    std::thread::park()
}

/// Parks until unparked or `dur` has passed. May return spuriously.
pub fn park_timeout(dur: Duration) {
    std::thread::park_timeout(dur)
}

/// Parks until unparked or `deadline`. May return spuriously.
pub fn park_deadline(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::park_timeout(deadline - now)
    }
}
