//! Timers (placeholder).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sleeps for `dur`.
pub fn sleep(dur: Duration) {
    std::thread::sleep(dur)
}

/// Sleeps until `deadline`.
pub fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now)
    }
}

/// A one-shot timer that runs a callback at its deadline unless cancelled.
#[derive(Debug)]
pub struct Timer {
    cancelled: Arc<AtomicBool>,
    deadline: Instant,
}

impl Timer {
    /// Runs `f` at `deadline`.
    pub fn at<F: FnOnce() + Send + 'static>(deadline: Instant, f: F) -> Timer {
        let cancelled = Arc::new(AtomicBool::new(false));
        let c = cancelled.clone();
        std::thread::spawn(move || {
            sleep_until(deadline);
            if !c.swap(true, Ordering::AcqRel) {
                f()
            }
        });
        Timer {
            cancelled,
            deadline,
        }
    }
    /// Runs `f` after `dur`.
    pub fn after<F: FnOnce() + Send + 'static>(dur: Duration, f: F) -> Timer {
        Self::at(Instant::now() + dur, f)
    }
    /// Stops the timer; true if it had not fired yet.
    pub fn cancel(&self) -> bool {
        !self.cancelled.swap(true, Ordering::AcqRel)
    }
    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}
