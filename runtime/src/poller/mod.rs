//! The OS poller of one worker: an epoll or kqueue instance, with its wake-up source, that the
//! worker sleeps in and that its sockets are registered with. Syscalls only: what a reported
//! token means (which descriptor, which waiter to wake) is netpoll's business, above this
//! module and the runtime handle that holds one poller per worker (`rt`).
//!
//! # Backend contract
//!
//! One file per OS backend, selected below; backend files hold syscalls only. A `Poller`:
//!
//! - `new() -> io::Result<Poller>`: a new instance with its wake-up source registered under
//!   [`WAKE_TOKEN`].
//! - `wake(&self)`: any thread, any number of times; makes a current or the next `wait` return.
//!   Must not block.
//! - `wait(&self, events, timeout) -> io::Result<()>`: blocks until an event, a wake-up or the
//!   timeout (`None` = forever, `Some(ZERO)` = poll); fills `events` with tokens; retries
//!   `EINTR`; a wake-up appears as [`WAKE_TOKEN`] and is already drained. Every other token is
//!   a registered token with readiness bits added ([`with_readiness`]): `EV_READ`
//!   readable, `EV_WRITE` writable, `EV_RHUP` read side finished (peer's FIN, hang-up,
//!   error; sticky), `EV_WHUP` write side finished (hang-up, error; sticky). Reporting too
//!   much is allowed (a waiter retries its syscall); missing an edge, or a hang-up, is not.
//! - `register(&self, fd, token)`: edge-triggered interest in both directions, from now until
//!   `deregister` or the fd's close; if the fd is ready at registration an event is
//!   reported.
//! - `deregister(&self, fd)`: called with the fd still open, when it leaves goro but stays
//!   open (`PollFd::into_fd`). An fd that is closed is not deregistered first (see
//!   `netpoll::release`): closing must remove it, or leave a registration whose stale token is
//!   ignored.
//!
//! Backends: `epoll.rs` (Linux, Android) and `kqueue.rs` (macOS, iOS, the BSDs). On Linux the
//! test-only feature `kqueue-emulation` builds `kqueue.rs` over `kevent_emul.rs`, an
//! emulation of the kevent calls on top of epoll, so the kqueue backend's logic runs the same
//! socket tests here. No code in this repository has been run on a real kqueue.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(feature = "kqueue-emulation")
))]
mod epoll;
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(feature = "kqueue-emulation")
))]
pub(crate) use epoll::Poller;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    all(target_os = "linux", feature = "kqueue-emulation")
))]
mod kqueue;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    all(target_os = "linux", feature = "kqueue-emulation")
))]
pub(crate) use kqueue::Poller;

#[cfg(all(target_os = "linux", feature = "kqueue-emulation"))]
mod kevent_emul;

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
)))]
compile_error!(
    "goro: no netpoll backend for this target (epoll on Linux/Android, kqueue on macOS/iOS/BSD)"
);

#[cfg(all(feature = "kqueue-emulation", not(target_os = "linux")))]
compile_error!("goro: the `kqueue-emulation` feature is a Linux test aid; use the real kqueue");

/// The name of the OS poller backend this build uses.
pub(crate) const BACKEND: &str = if cfg!(feature = "kqueue-emulation") {
    "kqueue (emulated on epoll, test-only)"
} else if cfg!(any(target_os = "linux", target_os = "android")) {
    "epoll"
} else {
    "kqueue"
};

/// Readiness bit of a token: the fd is (or may be) readable.
pub(crate) const EV_READ: u8 = 1;
/// Readiness bit of a token: the fd is (or may be) writable.
pub(crate) const EV_WRITE: u8 = 2;
/// Readiness bit of a token: the read side is finished for good (peer's FIN, hang-up, error).
pub(crate) const EV_RHUP: u8 = 4;
/// Readiness bit of a token: the write side is finished for good (hang-up, error).
pub(crate) const EV_WHUP: u8 = 8;

/// Adds readiness bits to a registered token (backends do this when they report an event).
/// A registered token uses the low 56 bits; the top 8 carry the `EV_*` bits.
pub(crate) fn with_readiness(token: u64, ev: u8) -> u64 {
    token | (u64::from(ev) << 56)
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
/// early (a 0.3 ms wait must not become a 0 ms busy poll). (`epoll_wait`'s unit; kqueue takes
/// a `timespec`.)
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn timeout_ms(timeout: Option<std::time::Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as i32
        }
    }
}
