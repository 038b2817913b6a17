//! Linux backend: epoll, edge-triggered, with an eventfd for wake-ups.
//!
//! Each fd is added once with `EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET` and never modified:
//! edge-triggered events need no re-arming, so a read or write that parks costs no
//! `epoll_ctl`. The event mask is folded into the token handed to `dispatch`.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{timeout_ms, Events, WAKE_TOKEN};
use super::{with_readiness, EV_READ, EV_RHUP, EV_WHUP, EV_WRITE};

/// One epoll instance and its wake-up eventfd.
pub(crate) struct Poller {
    epfd: OwnedFd,
    wakefd: OwnedFd,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        // SAFETY: plain syscalls with constant flags; the fds are owned right away.
        let epfd = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        // SAFETY: as above.
        let wakefd = unsafe {
            OwnedFd::from_raw_fd(cvt(libc::eventfd(
                0,
                libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
            ))?)
        };
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: both fds are open and owned by us; `ev` is a valid epoll_event.
        cvt(unsafe {
            libc::epoll_ctl(
                epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                wakefd.as_raw_fd(),
                &mut ev,
            )
        })?;
        Ok(Poller { epfd, wakefd })
    }

    pub(crate) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
        let r = unsafe { libc::write(self.wakefd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if r < 0 {
            let e = io::Error::last_os_error();
            // EAGAIN: the counter is saturated, so a wake-up is pending anyway.
            assert_eq!(
                e.raw_os_error(),
                Some(libc::EAGAIN),
                "goro: eventfd write failed: {e}"
            );
        }
    }

    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        const CAP: usize = 256;
        // Uninitialised: the kernel fills the first `n`, and only those are read. (Zeroing
        // 3 KiB per wait showed up as cache misses with many connections.)
        let mut buf = [const { std::mem::MaybeUninit::<libc::epoll_event>::uninit() }; CAP];
        let ms = timeout_ms(timeout);
        events.tokens.clear();
        let n = loop {
            // SAFETY: `buf` has room for CAP events and outlives the call.
            let r = unsafe {
                libc::epoll_wait(
                    self.epfd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    CAP as i32,
                    ms,
                )
            };
            if r >= 0 {
                break r as usize;
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
            if ms != 0 {
                // A signal cut the sleep short; report no events and let the caller recompute
                // its timeout.
                return Ok(());
            }
        };
        for ev in &buf[..n] {
            // SAFETY: epoll_wait wrote the first `n` entries.
            let ev = unsafe { ev.assume_init_ref() };
            let token = ev.u64;
            if token == WAKE_TOKEN {
                self.drain_wake();
                events.tokens.push(token);
                continue;
            }
            let bits = ev.events as libc::c_int;
            let mut ready = 0;
            if bits & (libc::EPOLLIN | libc::EPOLLPRI) != 0 {
                ready |= EV_READ;
            }
            if bits & libc::EPOLLOUT != 0 {
                ready |= EV_WRITE;
            }
            if bits & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                ready |= EV_RHUP;
            }
            if bits & (libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                ready |= EV_WHUP;
            }
            events.tokens.push(with_readiness(token, ready));
        }
        Ok(())
    }

    /// Adds `fd` to this instance, edge-triggered for both directions, reporting `token`.
    pub(crate) fn register(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: `epfd` is our open epoll fd; `ev` is a valid epoll_event for the call. An
        // invalid `fd` is reported as an error, not undefined behaviour.
        cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    /// Removes `fd` from this instance (before it is closed).
    pub(crate) fn deregister(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as in `register`; the event argument is ignored by EPOLL_CTL_DEL but must be
        // non-null on old kernels.
        cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) })?;
        Ok(())
    }

    fn drain_wake(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking eventfd.
        let r = unsafe { libc::read(self.wakefd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        if r < 0 {
            let e = io::Error::last_os_error();
            assert_eq!(
                e.raw_os_error(),
                Some(libc::EAGAIN),
                "goro: eventfd read failed: {e}"
            );
        }
    }

    /// The epoll fd (for diagnostics).
    #[allow(dead_code)]
    pub(crate) fn raw_fd(&self) -> i32 {
        self.epfd.as_raw_fd()
    }
}
