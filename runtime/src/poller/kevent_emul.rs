//! Test-only emulation of `kqueue()`/`kevent()` on top of epoll (feature `kqueue-emulation`),
//! so `kqueue.rs` runs the socket test suite on Linux.
//!
//! What is emulated, and how faithfully:
//!
//! - `EVFILT_READ`/`EVFILT_WRITE` with `EV_ADD | EV_CLEAR`: one epoll registration per fd,
//!   edge-triggered with read, write and hang-up interest; the filters registered for the fd
//!   decide which kevents an epoll event becomes. `EV_EOF` is set for a hang-up in that
//!   direction (read: `EPOLLRDHUP`/`EPOLLHUP`; write: `EPOLLHUP`/`EPOLLERR`), `EV_ERROR` for
//!   `EPOLLERR`, as a kqueue reports them.
//! - `EV_DELETE` of both filters removes the epoll registration.
//! - `EVFILT_USER` with `EV_CLEAR` and `NOTE_TRIGGER`: an eventfd in the epoll set, drained
//!   when reported.
//! - `kevent` applies the change list, then waits only if the event list is non-empty.
//!
//! Not emulated: other filters, `EV_ONESHOT`, `EV_RECEIPT`, per-change errors in the event
//! list (a failing change fails the call instead), `data` (bytes available). An fd closed
//! without `EV_DELETE` keeps its bookkeeping entry until the number is registered again, and
//! an event fetched for it in the same batch is attributed to the new registration: a
//! spurious report, which the backend contract allows. The constants have kqueue's values so
//! a mix-up between the two sets shows.
use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::kqueue::Kevent;

pub(crate) const EVFILT_READ: i16 = -1;
pub(crate) const EVFILT_WRITE: i16 = -2;
pub(crate) const EVFILT_USER: i16 = -10;
pub(crate) const EV_ADD: u16 = 0x0001;
pub(crate) const EV_DELETE: u16 = 0x0002;
pub(crate) const EV_CLEAR: u16 = 0x0020;
pub(crate) const EV_EOF: u16 = 0x8000;
pub(crate) const EV_ERROR: u16 = 0x4000;
pub(crate) const NOTE_TRIGGER: u32 = 0x0100_0000;

/// epoll data of the user event's eventfd (fd numbers are never this large).
const USER_MARK: u64 = u64::MAX;

#[derive(Default)]
struct Filters {
    read: Option<u64>,
    write: Option<u64>,
}

struct Kq {
    epfd: OwnedFd,
    /// The `EVFILT_USER` event: its eventfd and udata.
    user: Option<(OwnedFd, u64)>,
    fds: HashMap<RawFd, Filters>,
}

type Table = Mutex<HashMap<RawFd, Arc<Mutex<Kq>>>>;

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(Table::default)
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `kqueue()`: a new epoll instance standing in for a kqueue.
pub(crate) fn kqueue() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; both fds are owned at once.
    let epfd = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
    // The handle given out is a dup, so the emulation owns the epoll fd itself.
    // SAFETY: as above.
    let handle = unsafe {
        OwnedFd::from_raw_fd(cvt(libc::fcntl(
            epfd.as_raw_fd(),
            libc::F_DUPFD_CLOEXEC,
            0,
        ))?)
    };
    let kq = Kq {
        epfd,
        user: None,
        fds: HashMap::new(),
    };
    lock(table()).insert(handle.as_raw_fd(), Arc::new(Mutex::new(kq)));
    Ok(handle)
}

fn epoll_add(epfd: RawFd, fd: RawFd, events: libc::c_int, data: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: events as u32,
        u64: data,
    };
    // SAFETY: `ev` is a live epoll_event; bad fds are reported as errors.
    match cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) }) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        r => r.map(drop),
    }
}

fn apply(kq: &mut Kq, ch: &Kevent) -> io::Result<()> {
    let epfd = kq.epfd.as_raw_fd();
    if ch.filter == EVFILT_USER {
        if ch.flags & EV_ADD != 0 && kq.user.is_none() {
            // SAFETY: plain syscall; the fd is owned at once.
            let efd = unsafe {
                OwnedFd::from_raw_fd(cvt(libc::eventfd(
                    0,
                    libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
                ))?)
            };
            epoll_add(
                epfd,
                efd.as_raw_fd(),
                libc::EPOLLIN | libc::EPOLLET,
                USER_MARK,
            )?;
            kq.user = Some((efd, ch.udata));
        }
        if ch.fflags & NOTE_TRIGGER != 0 {
            let (efd, _) = kq.user.as_ref().ok_or(io::ErrorKind::NotFound)?;
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd.
            unsafe { libc::write(efd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
        return Ok(());
    }
    let fd = ch.ident as RawFd;
    if ch.flags & EV_ADD != 0 {
        let mask = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        // Always ADD (EEXIST is fine): the fd may be a reused number whose old entry was
        // closed without EV_DELETE, which removed it from the epoll set.
        epoll_add(epfd, fd, mask, fd as u64)?;
        let f = kq.fds.entry(fd).or_default();
        match ch.filter {
            EVFILT_READ => f.read = Some(ch.udata),
            EVFILT_WRITE => f.write = Some(ch.udata),
            _ => return Err(io::ErrorKind::Unsupported.into()),
        }
    } else if ch.flags & EV_DELETE != 0 {
        let f = kq.fds.get_mut(&fd).ok_or(io::ErrorKind::NotFound)?;
        match ch.filter {
            EVFILT_READ => f.read = None,
            EVFILT_WRITE => f.write = None,
            _ => return Err(io::ErrorKind::Unsupported.into()),
        }
        if f.read.is_none() && f.write.is_none() {
            kq.fds.remove(&fd);
            let mut ev = libc::epoll_event { events: 0, u64: 0 };
            // SAFETY: as in `epoll_add`.
            cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) })?;
        }
    }
    Ok(())
}

/// `kevent()`: applies `changes`, then (if `events` is not empty) waits up to `timeout`.
pub(crate) fn kevent(
    kq: RawFd,
    changes: &[Kevent],
    events: &mut [MaybeUninit<Kevent>],
    timeout: Option<Duration>,
) -> io::Result<usize> {
    let state = lock(table())
        .get(&kq)
        .cloned()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
    let epfd = {
        let mut k = lock(&state);
        for ch in changes {
            apply(&mut k, ch)?;
        }
        k.epfd.as_raw_fd()
    };
    if events.is_empty() {
        return Ok(0);
    }
    // Each epoll event can become two kevents.
    let cap = (events.len() / 2).max(1);
    let mut buf = vec![libc::epoll_event { events: 0, u64: 0 }; cap];
    // SAFETY: `buf` has room for `cap` events; the epoll fd lives as long as the table entry.
    let n = cvt(unsafe {
        libc::epoll_wait(
            epfd,
            buf.as_mut_ptr(),
            cap as i32,
            super::timeout_ms(timeout),
        )
    })? as usize;
    let k = lock(&state);
    let mut out = 0;
    let mut push = |e: Kevent| {
        events[out].write(e);
        out += 1;
    };
    for ev in &buf[..n] {
        let bits = ev.events as libc::c_int;
        if ev.u64 == USER_MARK {
            if let Some((efd, udata)) = &k.user {
                let mut v: u64 = 0;
                // SAFETY: reads 8 bytes into a live u64 from our non-blocking eventfd.
                unsafe { libc::read(efd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
                push(Kevent {
                    filter: EVFILT_USER,
                    udata: *udata,
                    ..Kevent::default()
                });
            }
            continue;
        }
        let fd = ev.u64 as RawFd;
        let Some(f) = k.fds.get(&fd) else { continue };
        let err = if bits & libc::EPOLLERR != 0 {
            EV_ERROR
        } else {
            0
        };
        if let Some(udata) = f.read {
            if bits & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                let eof = bits & (libc::EPOLLRDHUP | libc::EPOLLHUP) != 0;
                push(Kevent {
                    ident: fd as usize,
                    filter: EVFILT_READ,
                    flags: EV_CLEAR | err | if eof { EV_EOF } else { 0 },
                    udata,
                    ..Kevent::default()
                });
            }
        }
        if let Some(udata) = f.write {
            if bits & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                let eof = bits & (libc::EPOLLHUP | libc::EPOLLERR) != 0;
                push(Kevent {
                    ident: fd as usize,
                    filter: EVFILT_WRITE,
                    flags: EV_CLEAR | err | if eof { EV_EOF } else { 0 },
                    udata,
                    ..Kevent::default()
                });
            }
        }
    }
    Ok(out)
}
