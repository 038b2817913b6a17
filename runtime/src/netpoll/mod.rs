//! Network poller: one readiness-notification instance per worker.
//!
//! Every worker owns one OS poller (epoll on Linux). It is where the worker sleeps when it has
//! nothing to run: `wait` blocks with the worker's nearest timer as timeout, and any other
//! thread can end the sleep with `wake` (an eventfd registered in the same instance). Sockets
//! are registered in the same instance, so one `epoll_wait` reports both "you have mail" and
//! "this fd became ready".
//!
//! Backend contract (each backend is one file, chosen below; backend files hold syscalls only):
//!
//! - `Poller::new() -> io::Result<Poller>`: a new instance with its wake-up source registered
//!   under token [`WAKE_TOKEN`].
//! - `Poller::wake(&self)`: callable from any thread, any number of times; makes a current or
//!   the next `wait` return. Async-signal-unsafe is fine; it must not block.
//! - `Poller::wait(&self, events, timeout) -> io::Result<()>`: blocks until an event, a wake or
//!   the timeout (`None` = forever, `Some(ZERO)` = poll); fills `events` with tokens; retries
//!   `EINTR` itself; a wake shows up as [`WAKE_TOKEN`] and is already drained.
use std::time::Duration;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use epoll::Poller;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
compile_error!("goro: no netpoll backend for this target yet (epoll on Linux is implemented)");

/// Handles one readiness event reported by a worker's poller (any token but [`WAKE_TOKEN`]).
///
/// Called on the worker's scheduler stack; it must only wake waiters (unpark), never block.
pub(crate) fn dispatch(token: u64) {
    unreachable!("goro: no netpoll sources are registered yet (token {token})");
}

/// True if any fd is registered with a waiter, so an idle worker should poll the network
/// before it steals or sleeps (Go's `netpollAnyWaiters`). Must be one cheap load.
#[inline]
pub(crate) fn has_waiters() -> bool {
    false
}

/// Token of the poller's own wake-up source.
pub(crate) const WAKE_TOKEN: u64 = 0;

/// A buffer of ready tokens filled by `Poller::wait`.
pub(crate) struct Events {
    pub(crate) tokens: Vec<u64>,
}

impl Events {
    pub(crate) fn with_capacity(n: usize) -> Events {
        Events {
            tokens: Vec::with_capacity(n),
        }
    }
}

/// Converts a timeout to whole milliseconds for the OS, rounding up so a timer never fires
/// early (a 0.3 ms wait must not become a 0 ms busy poll).
pub(crate) fn timeout_ms(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as i32
        }
    }
}
