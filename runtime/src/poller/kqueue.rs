//! macOS/iOS/BSD backend: kqueue with `EV_CLEAR` (edge-triggered) read and write filters and
//! an `EVFILT_USER` event for wake-ups.
//!
//! The backend's logic (what it registers, how it turns kevents into tokens) talks to the OS
//! only through the two calls of the `sys` seam below: `kqueue()` and `kevent()`, over a
//! portable [`Kevent`] record. On the BSDs the seam is the real syscalls. On Linux, with the
//! test-only `kqueue-emulation` feature, it is `kevent_emul.rs`, an emulation on top of
//! epoll, so this file runs the whole socket test suite on Linux CI.
//!
//! What has and has not been run: on this project's machines (Linux) the logic here has run
//! over the emulation only. The real-syscall half of the seam (`sys` for the BSDs) is
//! type-checked and linted for FreeBSD and macOS (`.ci/run`), but has never run on a real
//! kqueue; treat it as unverified until it has.
//!
//! A wait allocates nothing and initialises nothing it does not read: the event arrays are
//! uninitialised stack arrays of which the kernel fills the first `n`.
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{with_readiness, EV_READ, EV_RHUP, EV_WHUP, EV_WRITE};
use super::{Events, WAKE_TOKEN};

#[cfg(target_os = "linux")]
use super::kevent_emul as sys;

/// A kevent, independent of each BSD's field widths.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Kevent {
    pub(crate) ident: usize,
    pub(crate) filter: i16,
    pub(crate) flags: u16,
    pub(crate) fflags: u32,
    /// Filter data (bytes available, error number); carried for fidelity, unused here.
    #[allow(dead_code)]
    pub(crate) data: i64,
    pub(crate) udata: u64,
}

/// The real syscalls (macOS, iOS, the BSDs). The casts convert between [`Kevent`]'s fixed
/// widths and each system's (NetBSD's `filter` and `flags` are `u32`; elsewhere some casts
/// are to the same type).
#[cfg(not(target_os = "linux"))]
#[allow(clippy::unnecessary_cast)]
mod sys {
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    use std::time::Duration;

    use super::{Kevent, CAP};

    /// Most changes one call applies (`register` and `deregister` pass two).
    const MAX_CHANGES: usize = 2;

    pub(crate) const EVFILT_READ: i16 = libc::EVFILT_READ as i16;
    pub(crate) const EVFILT_WRITE: i16 = libc::EVFILT_WRITE as i16;
    pub(crate) const EVFILT_USER: i16 = libc::EVFILT_USER as i16;
    pub(crate) const EV_ADD: u16 = libc::EV_ADD as u16;
    pub(crate) const EV_DELETE: u16 = libc::EV_DELETE as u16;
    pub(crate) const EV_CLEAR: u16 = libc::EV_CLEAR as u16;
    pub(crate) const EV_EOF: u16 = libc::EV_EOF as u16;
    pub(crate) const EV_ERROR: u16 = libc::EV_ERROR as u16;
    pub(crate) const NOTE_TRIGGER: u32 = libc::NOTE_TRIGGER as u32;

    pub(crate) fn kqueue() -> io::Result<OwnedFd> {
        // SAFETY: plain syscall; the fd is owned at once.
        let fd = unsafe { libc::kqueue() };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        // SAFETY: `fd` is a new kqueue fd owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn to_os(k: &Kevent) -> libc::kevent {
        // SAFETY: an all-zero kevent is a valid value on every BSD.
        let mut e: libc::kevent = unsafe { std::mem::zeroed() };
        e.ident = k.ident as _;
        e.filter = k.filter as _;
        e.flags = k.flags as _;
        e.fflags = k.fflags as _;
        e.data = k.data as _;
        e.udata = k.udata as _;
        e
    }

    /// Applies `changes`, then waits up to `timeout` for at most `events.len()` (≤ [`CAP`])
    /// events; returns `n`, the first `n` of `events` being written.
    pub(crate) fn kevent(
        kq: RawFd,
        changes: &[Kevent],
        events: &mut [MaybeUninit<Kevent>],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        assert!(changes.len() <= MAX_CHANGES && events.len() <= CAP);
        let mut ch = [const { MaybeUninit::<libc::kevent>::uninit() }; MAX_CHANGES];
        for (dst, src) in ch.iter_mut().zip(changes) {
            dst.write(to_os(src));
        }
        let mut out = [const { MaybeUninit::<libc::kevent>::uninit() }; CAP];
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as _,
            tv_nsec: d.subsec_nanos() as _,
        });
        let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        // SAFETY: the first `changes.len()` entries of `ch` are written; `out` has room for
        // `events.len()` entries; both live for the call.
        let n = unsafe {
            libc::kevent(
                kq,
                ch.as_ptr().cast(),
                changes.len() as _,
                out.as_mut_ptr().cast(),
                events.len() as _,
                tsp,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        for (dst, src) in events.iter_mut().zip(&out[..n as usize]) {
            // SAFETY: kevent wrote the first `n` entries of `out`.
            let src = unsafe { src.assume_init_ref() };
            dst.write(Kevent {
                ident: src.ident as usize,
                filter: src.filter as i16,
                flags: src.flags as u16,
                fflags: src.fflags as u32,
                data: src.data as i64,
                udata: src.udata as u64,
            });
        }
        Ok(n as usize)
    }
}

/// The identifier of the wake-up `EVFILT_USER` event.
const WAKE_IDENT: usize = 0;
/// Most events one wait takes.
const CAP: usize = 256;

/// One kqueue instance.
pub(crate) struct Poller {
    kq: OwnedFd,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        let p = Poller { kq: sys::kqueue()? };
        p.change(&[Kevent {
            ident: WAKE_IDENT,
            filter: sys::EVFILT_USER,
            flags: sys::EV_ADD | sys::EV_CLEAR,
            udata: WAKE_TOKEN,
            ..Kevent::default()
        }])?;
        Ok(p)
    }

    fn change(&self, changes: &[Kevent]) -> io::Result<()> {
        sys::kevent(self.kq.as_raw_fd(), changes, &mut [], Some(Duration::ZERO)).map(drop)
    }

    pub(crate) fn wake(&self) {
        let r = self.change(&[Kevent {
            ident: WAKE_IDENT,
            filter: sys::EVFILT_USER,
            fflags: sys::NOTE_TRIGGER,
            ..Kevent::default()
        }]);
        if let Err(e) = r {
            panic!("goro: kqueue wake-up failed: {e}");
        }
    }

    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let mut buf = [const { MaybeUninit::<Kevent>::uninit() }; CAP];
        events.tokens.clear();
        let n = match sys::kevent(self.kq.as_raw_fd(), &[], &mut buf, timeout) {
            Ok(n) => n,
            // A signal cut the wait short: no events; the caller recomputes its timeout.
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => return Ok(()),
            Err(e) => return Err(e),
        };
        for ev in &buf[..n] {
            // SAFETY: kevent wrote the first `n` entries.
            let ev = unsafe { ev.assume_init_ref() };
            if ev.filter == sys::EVFILT_USER {
                // EV_CLEAR reset the trigger when it was reported: nothing to drain.
                events.tokens.push(WAKE_TOKEN);
                continue;
            }
            let eof = ev.flags & sys::EV_EOF != 0;
            let err = ev.flags & sys::EV_ERROR != 0;
            let mut ready = 0;
            if ev.filter == sys::EVFILT_READ {
                ready |= EV_READ;
                if eof {
                    ready |= EV_RHUP;
                }
            } else if ev.filter == sys::EVFILT_WRITE {
                ready |= EV_WRITE;
                if eof {
                    ready |= EV_WHUP;
                }
            }
            if err {
                ready |= EV_RHUP | EV_WHUP;
            }
            events.tokens.push(with_readiness(ev.udata, ready));
        }
        Ok(())
    }

    /// Adds read and write filters for `fd`, both `EV_CLEAR`, reporting `token`.
    pub(crate) fn register(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let k = |filter| Kevent {
            ident: fd as usize,
            filter,
            flags: sys::EV_ADD | sys::EV_CLEAR,
            udata: token,
            ..Kevent::default()
        };
        self.change(&[k(sys::EVFILT_READ), k(sys::EVFILT_WRITE)])
    }

    /// Removes both filters of `fd` (before it is closed).
    pub(crate) fn deregister(&self, fd: RawFd) -> io::Result<()> {
        let k = |filter| Kevent {
            ident: fd as usize,
            filter,
            flags: sys::EV_DELETE,
            ..Kevent::default()
        };
        self.change(&[k(sys::EVFILT_READ), k(sys::EVFILT_WRITE)])
    }

    /// The kqueue fd (for diagnostics).
    #[allow(dead_code)]
    pub(crate) fn raw_fd(&self) -> i32 {
        self.kq.as_raw_fd()
    }
}
