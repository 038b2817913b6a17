//! Coroutine-aware file descriptors: the low-level API `goro-net` is built on.
//!
//! [`PollFd`] wraps a non-blocking fd. Its operations run the syscall directly and, on
//! `EAGAIN`, park the calling coroutine until the runtime's network poller reports the fd
//! ready (or block the calling thread, outside a coroutine). Any crate can make its own fds
//! coroutine-aware with it: pipes, eventfds, sockets of families `goro-net` does not cover,
//! terminals.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::unix::net::UnixStream;
//! use goro::io::PollFd;
//!
//! let (a, b) = UnixStream::pair().unwrap();
//! let a = PollFd::new(a.into()).unwrap();
//! let b = PollFd::new(b.into()).unwrap();
//! let reader = goro::spawn(move || {
//!     let mut buf = [0u8; 5];
//!     let n = a.read(&mut buf).unwrap(); // parks until the writer below runs
//!     buf[..n].to_vec()
//! });
//! b.write(b"hello").unwrap();
//! assert_eq!(reader.join().unwrap(), b"hello");
//! ```
//!
//! Every wait honours the fd's read or write deadline (absolute, Go's `SetReadDeadline`) and
//! timeout (per operation, std's `set_read_timeout`), whichever comes first, and fails with
//! [`ErrorKind::TimedOut`](std::io::ErrorKind::TimedOut); the fd stays usable. [`PollFd::close`]
//! wakes every waiter with an error, from any thread. See `netpoll/mod.rs` for the design.
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::netpoll::poll_desc::{self, Dir, PollDesc, CLOSING};
use crate::park::Unparker;
use crate::JoinHandle;

/// A non-blocking fd whose waits park the calling coroutine (module doc).
///
/// `PollFd` is `Sync`: one coroutine may read while another writes, on different workers.
/// It owns the fd and closes it on drop.
pub struct PollFd {
    fd: OwnedFd,
    /// The fd's descriptor once it first had to wait (null before: it is registered lazily,
    /// in the poller of the worker where that happens).
    pd: AtomicPtr<PollDesc>,
    closed: AtomicBool,
    /// Set when `recv`/`send` said `ENOTSOCK`: [`read`](PollFd::read) and
    /// [`write`](PollFd::write) use `read(2)`/`write(2)` from then on.
    not_socket: AtomicBool,
    /// Absolute deadlines and per-operation timeouts in ns; 0 = none (deadline: time-epoch
    /// nanos + 1).
    read_deadline: AtomicU64,
    write_deadline: AtomicU64,
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
}

fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "goro: use of a closed file descriptor",
    )
}

/// `PollFd::pd` while the first caller registers the fd with the poller (see `desc`): a
/// marker, never a descriptor.
const REGISTERING: *mut PollDesc = std::ptr::dangling_mut();

/// The descriptor `p` points to: `None` for null and for [`REGISTERING`].
fn as_desc(p: *mut PollDesc) -> Option<&'static PollDesc> {
    if p == REGISTERING {
        return None;
    }
    // SAFETY: any other non-null value was stored by `desc` from an arena descriptor, and
    // arena descriptors are never freed (they are recycled, which the sequence number in
    // their token makes harmless).
    unsafe { p.as_ref() }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "goro: i/o deadline exceeded")
}

fn encode_deadline(d: Option<Instant>) -> u64 {
    d.map_or(0, |d| crate::time::nanos(d).saturating_add(1))
}

fn encode_timeout(d: Option<Duration>) -> io::Result<u64> {
    match d {
        None => Ok(0),
        Some(d) if d.is_zero() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "goro: a zero timeout is not allowed (as in std)",
        )),
        Some(d) => Ok(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)),
    }
}

impl PollFd {
    /// Wraps `fd`, switching it to non-blocking mode.
    pub fn new(fd: OwnedFd) -> io::Result<PollFd> {
        let mut on: libc::c_int = 1;
        // SAFETY: FIONBIO reads one c_int from a live local; `fd` is open (we own it).
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONBIO, &mut on) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PollFd::from_nonblocking(fd))
    }

    /// Wraps an fd that is already non-blocking (e.g. from `accept4(SOCK_NONBLOCK)`), saving
    /// a syscall. A blocking fd here is not unsafe, but its operations would block the whole
    /// worker thread.
    pub fn from_nonblocking(fd: OwnedFd) -> PollFd {
        PollFd {
            fd,
            pd: AtomicPtr::new(std::ptr::null_mut()),
            closed: AtomicBool::new(false),
            not_socket: AtomicBool::new(false),
            read_deadline: AtomicU64::new(0),
            write_deadline: AtomicU64::new(0),
            read_timeout: AtomicU64::new(0),
            write_timeout: AtomicU64::new(0),
        }
    }

    /// Reads with `recv(2)` (`read(2)` if the fd is not a socket), parking on `EAGAIN`. For
    /// stream fds (stream sockets, pipes): a short read is taken to mean the fd was drained,
    /// so the next read parks without a syscall until the poller reports new data (see
    /// `netpoll/mod.rs`). Use [`read_with`](PollFd::read_with) for datagram fds.
    ///
    /// `recv` rather than `read` because the socket path skips the VFS layer (file-position
    /// lock, access hooks): about a tenth less server CPU per request on loopback HTTP.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let fd = self.fd.as_raw_fd();
        self.read_loop(
            || {
                let p = buf.as_mut_ptr().cast();
                if !self.not_socket.load(Ordering::Relaxed) {
                    // SAFETY: `buf` is a live, writable slice of `len` bytes for the call.
                    let r = unsafe { libc::recv(fd, p, len, 0) };
                    if !self.said_not_socket(r) {
                        return cvt_size(r);
                    }
                }
                // SAFETY: as above.
                cvt_size(unsafe { libc::read(fd, p, len) })
            },
            |&n| n == len || n == 0,
        )
    }

    /// Writes with `send(2)` and `MSG_NOSIGNAL` if the fd is a socket (a closed peer is an
    /// `EPIPE` error, never a `SIGPIPE`), else `write(2)`; parks on `EAGAIN`.
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let fd = self.fd.as_raw_fd();
        self.write_with(|_| {
            let p = buf.as_ptr().cast();
            if !self.not_socket.load(Ordering::Relaxed) {
                // SAFETY: `buf` is a live slice of `buf.len()` bytes for the whole call.
                let r = unsafe { libc::send(fd, p, buf.len(), libc::MSG_NOSIGNAL) };
                if !self.said_not_socket(r) {
                    return cvt_size(r);
                }
            }
            // SAFETY: as above.
            cvt_size(unsafe { libc::write(fd, p, buf.len()) })
        })
    }

    /// After a `recv`/`send`: true (and remembered) if it failed because the fd is not a
    /// socket.
    fn said_not_socket(&self, r: isize) -> bool {
        if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOTSOCK) {
            self.not_socket.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Runs a read-side operation (`recv`, `recvfrom`, `accept`, ...) until it does not
    /// fail with `WouldBlock`, parking in between. `Interrupted` is retried.
    pub fn read_with<T>(
        &self,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<T>,
    ) -> io::Result<T> {
        let fd = self.fd.as_fd();
        self.read_loop(|| op(fd), |_| true)
    }

    /// One attempt at a read-side operation of a stream fd, never parking: the readiness
    /// bookkeeping of [`read`](Self::read) without its wait. For a caller that must not
    /// park inside the operation (one holding a lock, such as a TLS session fed from the
    /// socket) and waits afterwards, unlocked, with [`readable`](Self::readable) or
    /// [`readable_deadline`](Self::readable_deadline), which consume no readiness.
    ///
    /// Returns `WouldBlock` without a syscall when the poller vouches the fd drained (the
    /// last attempt drained it and nothing was reported since). `maybe_more(&result)` says
    /// whether a successful result may have left data behind (for a `recv`: it filled the
    /// buffer); if so, the fd stays marked readable, so that `readable`,
    /// [`read_would_park`](Self::read_would_park) and
    /// [`spawn_when_readable`](Self::spawn_when_readable) still see the data the kernel
    /// holds (the poller's reports are edges and will not repeat it). `Interrupted` is
    /// returned, not retried.
    pub fn try_read_with<T>(
        &self,
        op: impl FnOnce(BorrowedFd<'_>) -> io::Result<T>,
        maybe_more: impl FnOnce(&T) -> bool,
    ) -> io::Result<T> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(closed_error());
        }
        let pd = self.desc_if_any();
        // As `read_loop`: clear the bit before the syscall; a clear bit means drained.
        if let Some(pd) = pd {
            if !pd.take_ready(Dir::Read) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        match op(self.fd.as_fd()) {
            Ok(v) => {
                if let Some(pd) = pd {
                    if maybe_more(&v) {
                        pd.set_ready(Dir::Read);
                    }
                }
                Ok(v)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if pd.is_none() {
                    // First miss: register, so the caller's wait has a descriptor (the
                    // registration reports the fd if it became ready meanwhile).
                    self.desc()?;
                }
                Err(e)
            }
            Err(e) => {
                if let Some(pd) = pd {
                    pd.set_ready(Dir::Read);
                }
                Err(e)
            }
        }
    }

    /// Runs a write-side operation (`send`, `sendto`, `connect` completion, ...) until it does
    /// not fail with `WouldBlock`, parking in between. `Interrupted` is retried.
    pub fn write_with<T>(
        &self,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<T>,
    ) -> io::Result<T> {
        let fd = self.fd.as_fd();
        let mut started = None;
        let mut cleared = false;
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(closed_error());
            }
            match op(fd) {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let pd = self.desc()?;
                    // Clear the ready bit, then try once more: an edge after the clear is
                    // remembered, so the wait below cannot miss it. Writes rarely block, so
                    // the fast path above touches no atomics at all.
                    if cleared {
                        self.wait(pd, Dir::Write, &mut started, None)?;
                    }
                    pd.take_ready(Dir::Write);
                    cleared = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Parks until the poller reports the fd readable (or it is closed, or a deadline
    /// passes). Reports are edges: call it after an operation said `WouldBlock`.
    pub fn wait_readable(&self, deadline: Option<Instant>) -> io::Result<()> {
        let pd = self.desc()?;
        self.wait(pd, Dir::Read, &mut None, deadline)?;
        pd.take_ready(Dir::Read);
        Ok(())
    }

    /// Parks until a [`read`](Self::read) would not park: data, end of file or an error is
    /// waiting. Reads nothing and consumes no readiness, so the read that follows makes its
    /// syscall. (The first call registers the fd with the poller, which reports input that
    /// is already there.)
    ///
    /// For a server that keeps many idle connections: it can give its read buffer back while
    /// it waits here and take one again when input arrives. Honours the fd's read deadline
    /// and read timeout; may return when a read then says `WouldBlock` (the usual edge
    /// caveat), which `read` handles by parking again.
    pub fn readable(&self) -> io::Result<()> {
        self.readable_until(None)
    }

    /// [`readable`](Self::readable) that also gives up at `deadline`, with
    /// [`io::ErrorKind::TimedOut`].
    ///
    /// A server can use it to do something only once a connection has stayed idle for a
    /// while (give back memory, say a keep-alive goodbye).
    pub fn readable_deadline(&self, deadline: Instant) -> io::Result<()> {
        self.readable_until(Some(deadline))
    }

    /// Starts `f` in a new coroutine once the fd is readable, instead of parking a coroutine
    /// until then: while the fd waits, nothing holds a stack for it.
    ///
    /// For a server that keeps many idle connections, this is the cheaper way to wait
    /// between requests. A coroutine parked through a long idle spell resumes on a stack
    /// that has left the caches (and, with thousands of them, the TLB). A coroutine started
    /// here takes a stack that the worker's last coroutine just gave back, and is still warm.
    ///
    /// `f` runs once the poller reports the fd readable (data, end of file, an error), or
    /// when the fd is [closed](Self::close). It may also start early, as [`park`] may return
    /// spuriously, so `f` should read and handle would-block by waiting, as
    /// [`read`](Self::read) does. The coroutine runs on the worker whose poller watches the
    /// fd, where a coroutine that waited there would have resumed, and stays there. The
    /// fd's read deadline and timeout do not apply to this wait. To give up on it, close
    /// the fd: `f` then starts and its reads fail. While it waits, [`stats`](crate::stats())
    /// counts the coroutine among `coroutines` (spawned, not finished), not `parked`.
    ///
    /// # Errors
    ///
    /// If the fd is already closed or cannot be registered with the poller, or if the OS
    /// refuses the coroutine's stack (as [`Builder::spawn`](crate::Builder::spawn)). `f` is
    /// dropped without running then.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// use goro::io::PollFd;
    ///
    /// let (a, mut b) = UnixStream::pair().unwrap();
    /// let a = std::sync::Arc::new(PollFd::new(a.into()).unwrap());
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let reader = a.clone();
    /// a.spawn_when_readable(move || {
    ///     let mut buf = [0u8; 5];
    ///     let n = reader.read(&mut buf).unwrap();
    ///     tx.send(buf[..n].to_vec()).unwrap();
    /// })
    /// .unwrap();
    /// b.write_all(b"hello").unwrap(); // now the coroutine starts
    /// assert_eq!(rx.recv().unwrap(), b"hello");
    /// ```
    ///
    /// [`park`]: crate::park::park
    pub fn spawn_when_readable<F>(&self, f: F) -> io::Result<()>
    where
        F: FnOnce() + Send + 'static,
    {
        if self.closed.load(Ordering::Relaxed) {
            return Err(closed_error());
        }
        let pd = self.desc()?;
        let task = crate::builder::build_task(None, true, None, f)?;
        // Its home is the fd's worker: the poller's wake-up then queues it there, with no
        // hand-off. (The poller is unknown only while another thread is still registering
        // the fd; then any worker may start it.)
        let poller = pd.poller.load(Ordering::Relaxed);
        if poller != usize::MAX {
            task.set_home(poller);
        }
        tracing::trace!(coroutine = %task.id, "spawn when readable");
        // The task starts out as a parked coroutine (park.rs): the PARKED state owns one
        // reference, which the unparker that takes it out of PARKED hands to a run queue.
        crate::park::start_parked(&task.state);
        std::mem::forget(task.clone());
        let u = Unparker::for_task(task);
        if !pd.arm(Dir::Read, &u) {
            u.unpark(); // readable (or closing) already: start it now
        }
        Ok(())
    }

    fn readable_until(&self, deadline: Option<Instant>) -> io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(closed_error());
        }
        let pd = self.desc()?;
        self.wait(pd, Dir::Read, &mut None, deadline)
    }

    /// True if the fd's readiness is reported to the worker the caller runs on, so a
    /// coroutine here waits on it without a hand-off between threads. False on a plain
    /// thread and for an fd not yet registered (it registers with the worker of its first
    /// wait).
    ///
    /// A pool of sockets shared by coroutines on all workers uses it to hand each caller one
    /// of its own worker's (`goro-net`'s `connpool::Builder::prefer`).
    pub fn polled_here(&self) -> bool {
        let Some(pd) = self.desc_if_any() else {
            return false;
        };
        crate::running::worker_index() == Some(pd.poller.load(Ordering::Relaxed))
    }

    /// Moves the fd to worker `worker`'s poller (modulo the worker count): from now on its
    /// readiness is reported there, and a coroutine that
    /// [`spawn_when_readable`](Self::spawn_when_readable) starts runs there.
    ///
    /// Coroutines already parked on the fd are not moved (a started coroutine never leaves
    /// its worker); the new poller wakes them on their own workers. A server moves an idle
    /// connection with it, between two requests, when its [`Placement`] says so
    /// ([`Placement::rebalance`]).
    ///
    /// # Errors
    ///
    /// If the fd cannot be registered with the poller (it is closed, or not pollable).
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use goro::io::PollFd;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = PollFd::new(a.into()).unwrap();
    /// goro::spawn(move || {
    ///     a.move_to_worker(0).unwrap();
    ///     a.move_to_worker(1).unwrap(); // taken modulo the worker count
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    pub fn move_to_worker(&self, worker: usize) -> io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(closed_error());
        }
        let pd = self.desc()?;
        let n = crate::rt::runtime().workers.len();
        crate::netpoll::move_to(pd, self.fd.as_raw_fd(), worker % n)
    }

    /// True if the poller vouches that a [`read`](Self::read) would park: the fd has waited
    /// before, its last read drained it, and no data, end of file or error has been reported
    /// since. False means "not known", not "readable": ask the kernel. A connection pool uses
    /// it to skip a liveness syscall when it hands out an idle connection.
    pub fn read_would_park(&self) -> bool {
        match self.desc_if_any() {
            Some(pd) => {
                pd.flags() & (Dir::Read.ready_mask() | CLOSING) == 0
                    && !self.closed.load(Ordering::Relaxed)
            }
            None => false,
        }
    }

    /// Parks until the poller reports the fd writable; see [`wait_readable`](Self::wait_readable).
    /// A non-blocking `connect` completes with this.
    pub fn wait_writable(&self, deadline: Option<Instant>) -> io::Result<()> {
        let pd = self.desc()?;
        self.wait(pd, Dir::Write, &mut None, deadline)?;
        pd.take_ready(Dir::Write);
        Ok(())
    }

    /// Sets the absolute deadline of reads (`None` clears it), waking a parked reader so it
    /// re-checks (Go's `SetReadDeadline`). A past deadline fails every wait at once.
    pub fn set_read_deadline(&self, d: Option<Instant>) {
        self.read_deadline
            .store(encode_deadline(d), Ordering::Relaxed);
        self.kick(Dir::Read);
    }

    /// Sets the absolute deadline of writes; see [`set_read_deadline`](Self::set_read_deadline).
    pub fn set_write_deadline(&self, d: Option<Instant>) {
        self.write_deadline
            .store(encode_deadline(d), Ordering::Relaxed);
        self.kick(Dir::Write);
    }

    /// Sets how long any one read may wait (`None`: forever). A zero duration is an error, as
    /// in std.
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.read_timeout
            .store(encode_timeout(d)?, Ordering::Relaxed);
        self.kick(Dir::Read);
        Ok(())
    }

    /// Sets how long any one write may wait; see [`set_read_timeout`](Self::set_read_timeout).
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.write_timeout
            .store(encode_timeout(d)?, Ordering::Relaxed);
        self.kick(Dir::Write);
        Ok(())
    }

    /// The read timeout set by [`set_read_timeout`](Self::set_read_timeout).
    pub fn read_timeout(&self) -> Option<Duration> {
        match self.read_timeout.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// The write timeout set by [`set_write_timeout`](Self::set_write_timeout).
    pub fn write_timeout(&self) -> Option<Duration> {
        match self.write_timeout.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// Closes the fd for I/O from any thread (Go's `Conn.Close` from another goroutine):
    /// coroutines parked on it wake with an error, and every later operation fails. The fd
    /// number itself is released when the `PollFd` is dropped, so it cannot be reused while
    /// another coroutine still holds this one.
    pub fn close(&self) {
        // SeqCst: the Dekker pair with `desc` (publish `pd`, then load `closed`).
        self.closed.store(true, Ordering::SeqCst);
        if let Some(pd) = as_desc(self.pd.load(Ordering::SeqCst)) {
            pd.close();
        }
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Gives the fd back, deregistered from the poller.
    pub fn into_fd(self) -> OwnedFd {
        let me = std::mem::ManuallyDrop::new(self);
        me.release(false);
        // SAFETY: `me` is never dropped, so the fd is moved out exactly once; the other fields
        // have no destructors that matter (atomics).
        unsafe { std::ptr::read(&me.fd) }
    }

    // ---- internals ------------------------------------------------------------------------

    /// The read loop shared by [`read`](Self::read) and [`read_with`](Self::read_with).
    /// `maybe_more` says whether a successful result may leave data behind.
    fn read_loop<T>(
        &self,
        mut op: impl FnMut() -> io::Result<T>,
        maybe_more: impl Fn(&T) -> bool,
    ) -> io::Result<T> {
        let mut started = None;
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(closed_error());
            }
            let pd = self.desc_if_any();
            if let Some(pd) = pd {
                // Clear the bit before the syscall (netpoll/mod.rs): if it was already clear,
                // the last read drained the fd and nothing arrived since, so wait first.
                if !pd.take_ready(Dir::Read) {
                    self.wait(pd, Dir::Read, &mut started, None)?;
                    continue;
                }
            }
            match op() {
                Ok(v) => {
                    if let Some(pd) = pd {
                        if maybe_more(&v) {
                            pd.set_ready(Dir::Read);
                        }
                    }
                    return Ok(v);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if pd.is_none() {
                        // First wait: register (a fresh descriptor's bits are clear, and the
                        // registration reports the fd if it became ready meanwhile).
                        self.desc()?;
                    }
                }
                Err(e) => {
                    if let Some(pd) = pd {
                        pd.set_ready(Dir::Read);
                    }
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Parks until `dir` is ready, the fd is closing, or a deadline passes.
    fn wait(
        &self,
        pd: &PollDesc,
        dir: Dir,
        started: &mut Option<Instant>,
        extra: Option<Instant>,
    ) -> io::Result<()> {
        let mut me: Option<Unparker> = None;
        loop {
            let flags = pd.flags();
            if flags & CLOSING != 0 || self.closed.load(Ordering::Relaxed) {
                return Err(closed_error());
            }
            if flags & dir.ready_mask() != 0 {
                return Ok(());
            }
            let deadline = self.deadline(dir, started, extra);
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Err(timed_out());
                }
            }
            let u = me.get_or_insert_with(crate::park::unparker);
            if !pd.arm(dir, u) {
                continue;
            }
            match deadline {
                Some(d) => crate::park::park_deadline(d),
                None => crate::park::park(),
            }
            pd.disarm(dir, u);
        }
    }

    /// The earliest of the fd's deadline, this operation's timeout and `extra`.
    fn deadline(
        &self,
        dir: Dir,
        started: &mut Option<Instant>,
        extra: Option<Instant>,
    ) -> Option<Instant> {
        let (dl, to) = match dir {
            Dir::Read => (&self.read_deadline, &self.read_timeout),
            Dir::Write => (&self.write_deadline, &self.write_timeout),
        };
        let (dl, to) = (dl.load(Ordering::Relaxed), to.load(Ordering::Relaxed));
        let mut out = extra;
        if dl != 0 {
            // Back from time-epoch nanos to an Instant: `now` plus the distance.
            let now_ns = crate::time::now_nanos();
            let now = Instant::now();
            let d = now + Duration::from_nanos((dl - 1).saturating_sub(now_ns));
            let d = if dl - 1 <= now_ns { now } else { d };
            out = Some(out.map_or(d, |o| o.min(d)));
        }
        if to != 0 {
            let start = *started.get_or_insert_with(Instant::now);
            if let Some(d) = start.checked_add(Duration::from_nanos(to)) {
                out = Some(out.map_or(d, |o| o.min(d)));
            }
        }
        out
    }

    fn kick(&self, dir: Dir) {
        if let Some(pd) = self.desc_if_any() {
            pd.kick(dir);
        }
    }

    fn desc_if_any(&self) -> Option<&'static PollDesc> {
        // Acquire: pairs with the publishing store in `desc`.
        as_desc(self.pd.load(Ordering::Acquire))
    }

    /// The fd's descriptor, allocating and registering it on first use.
    ///
    /// The descriptor is published only once the poller has accepted the fd. A descriptor
    /// published before that would stay published after a refused registration (epoll
    /// refuses regular files, `/dev/null`): the first call would report the error, and every
    /// later one would park on a descriptor no poller ever reports. So the first caller marks
    /// `pd` [`REGISTERING`], registers, then publishes the descriptor or, on error, puts back
    /// null, so every call tries again and reports the error. A concurrent caller waits out
    /// the one syscall in between.
    fn desc(&self) -> io::Result<&'static PollDesc> {
        loop {
            // Acquire: pairs with the publishing store below (another caller's).
            let p = self.pd.load(Ordering::Acquire);
            if let Some(pd) = as_desc(p) {
                return Ok(pd);
            }
            if p == REGISTERING {
                crate::yield_now(); // another coroutine or thread is in `register`
                continue;
            }
            if self
                .pd
                .compare_exchange(
                    std::ptr::null_mut(),
                    REGISTERING,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                break;
            }
        }
        let pd = poll_desc::alloc();
        if let Err(e) = crate::netpoll::register(pd, self.fd.as_raw_fd()) {
            poll_desc::free(pd);
            // Release: nothing was published; the next caller starts afresh.
            self.pd.store(std::ptr::null_mut(), Ordering::Release);
            return Err(e);
        }
        // SeqCst, with the SeqCst `closed` load after it: the two halves of a Dekker pair
        // with `close` (store `closed`, then load `pd`), so a concurrent close either finds
        // this descriptor or is seen here.
        self.pd
            .store(pd as *const PollDesc as *mut PollDesc, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            pd.close();
        }
        Ok(pd)
    }

    /// Gives the poll descriptor back; `closing`: the fd is closed right after.
    fn release(&self, closing: bool) {
        // The caller owns the `PollFd` (drop, `into_fd`), so no `desc` is in flight.
        let p = self.pd.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if let Some(pd) = as_desc(p) {
            if pd.has_waiters() {
                // Only a `spawn_when_readable` coroutine can be waiting while the `PollFd`
                // goes away (a parked reader borrows it): start it, to find the fd gone.
                pd.close();
            }
            crate::netpoll::release(pd, self.fd.as_raw_fd(), closing);
        }
    }
}

impl Drop for PollFd {
    fn drop(&mut self) {
        self.release(true);
    }
}

impl AsRawFd for PollFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for PollFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl IntoRawFd for PollFd {
    fn into_raw_fd(self) -> RawFd {
        self.into_fd().into_raw_fd()
    }
}

impl std::fmt::Debug for PollFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollFd")
            .field("fd", &self.fd.as_raw_fd())
            .field("registered", &self.desc_if_any().is_some())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The OS readiness backend this build uses: `"epoll"`, `"kqueue"`, or, with the test-only
/// `kqueue-emulation` feature, the kqueue backend over an epoll emulation.
pub fn backend() -> &'static str {
    crate::poller::BACKEND
}

fn cvt_size(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Spawns `f`, a coroutine that serves one connection, on a worker chosen for it (Go has no
/// equivalent; this is goro's poller balancing).
///
/// A started coroutine never leaves its worker, and the fds it registers live in that
/// worker's poller, so where a connection starts is where it is served for good. The choice:
///
/// 1. **Pack while there is room.** If the calling worker is not busy (awake less than
///    half of sysmon's last 10 ms interval), the connection starts right
///    here, with no cross-thread hand-off; failing that, on the worker that is not busy and
///    has the most live connections. A lightly loaded server so runs on as few workers as
///    it needs: the others sleep instead of each waking for a share of small batches, which
///    on loopback HTTP costs about a fifth more CPU per request (docs/benchmarks-history.md).
/// 2. **Spread when all are busy**: the worker with the fewest live connections, ties to
///    the workers in turn.
///
/// A "live connection" is a coroutine started by this function that has not finished, or a
/// [`Placement`] not yet dropped: the count of the chosen worker goes up before the coroutine
/// is queued and down when it returns. Counts are in
/// [`WorkerStats::connections`](crate::WorkerStats::connections), loads in
/// [`WorkerStats::load`](crate::WorkerStats::load). The load lags by up to one sysmon
/// interval, so a burst of connections arriving within 10 ms of a quiet spell lands on one
/// worker; once they make it busy, later ones go elsewhere.
///
/// ```
/// let h = goro::io::spawn_balanced(|| 21 * 2);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub fn spawn_balanced<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let placed = Placement::choose();
    crate::Builder::new()
        .worker_hint(placed.worker())
        .spawn(move || {
            let _placed = placed;
            f()
        })
        .unwrap_or_else(|e| panic!("goro: failed to spawn a coroutine: {e}"))
}

/// A connection counted on the worker [`spawn_balanced`] would start it on, for as long as
/// this value lives.
///
/// `spawn_balanced` holds one for the life of the coroutine it starts. A connection served
/// by a chain of coroutines (each started by [`PollFd::spawn_when_readable`] when the client
/// sends more) is placed with this instead, and hands it from each coroutine to the next,
/// so the connection counts from its accept to its close.
///
/// ```
/// use goro::io::Placement;
///
/// let placed = Placement::choose();
/// let h = goro::Builder::new()
///     .worker_hint(placed.worker())
///     .spawn(move || {
///         let _placed = placed; // counted while the connection is served
///         goro::worker_index()
///     })
///     .unwrap();
/// assert!(h.join().unwrap().is_some());
/// ```
#[derive(Debug)]
pub struct Placement {
    worker: usize,
}

impl Placement {
    /// Chooses a worker as [`spawn_balanced`] does and counts a connection on it.
    pub fn choose() -> Placement {
        let conns = crate::netpoll::connections();
        let worker = place_connection(conns);
        conns[worker].fetch_add(1, Ordering::Relaxed);
        Placement { worker }
    }

    /// The chosen worker, for [`Builder::worker_hint`](crate::Builder::worker_hint).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Poller balancing for a connection that is between requests (its coroutine ended,
    /// nothing of it is started): if its worker is saturated while another worker has
    /// fewer connections, moves the connection's count there and returns that worker; the
    /// caller then moves the socket ([`PollFd::move_to_worker`]) before it waits for the
    /// next request. `None`: stay.
    ///
    /// *Saturated*: awake for at least 95% of sysmon's last interval, with coroutines
    /// waiting in its run queues for at least 2 ms without a break.
    /// The target is the worker with the fewest connections, each count weighted by its
    /// worker's busy share (sysmon's load: of two equal counts, the idler worker wins), and
    /// only if that evens the counts out (it has at least two fewer), so connections stop
    /// moving once the counts are level and never swing back and forth. The counts lead and
    /// the load only weighs them: with more workers than cores every worker with work looks
    /// awake all the time, and a load lags by a sysmon interval, in which hundreds of
    /// connections could pile onto one idle worker.
    /// A worker that is merely busy (a hello-world server keeping one core awake with short
    /// requests) drains its queue between poller rounds and keeps its connections packed.
    ///
    /// ```
    /// let mut placed = goro::io::Placement::choose();
    /// // An idle runtime has no saturated worker: nothing moves.
    /// assert_eq!(placed.rebalance(), None);
    /// ```
    pub fn rebalance(&mut self) -> Option<usize> {
        let workers = &crate::rt::runtime().workers;
        let here = self.worker;
        let p = &workers[here];
        if p.load.load(Ordering::Relaxed) < SATURATED_LOAD {
            return None;
        }
        let since = p.counters.backlog_since.load(Ordering::Relaxed);
        if since == 0 || crate::time::now_nanos().saturating_sub(since) < SATURATED_BACKLOG_NS {
            return None;
        }
        let conns = crate::netpoll::connections();
        let mine = conns[here].load(Ordering::Relaxed);
        // Least connections, weighted by each worker's measured busy share: of two workers
        // with equal counts, the one that idles more takes the connection.
        let weighted =
            |i: usize, c: usize| c * (1000 + workers[i].load.load(Ordering::Relaxed) as usize);
        let (to, theirs) = (0..workers.len())
            .filter(|&i| i != here)
            .map(|i| (i, conns[i].load(Ordering::Relaxed)))
            .min_by_key(|&(i, c)| (weighted(i, c), c))?;
        if theirs + 2 > mine {
            return None;
        }
        conns[here].fetch_sub(1, Ordering::Relaxed);
        conns[to].fetch_add(1, Ordering::Relaxed);
        self.worker = to;
        tracing::debug!(
            from = here,
            to,
            "goro: moving a connection off a saturated worker"
        );
        Some(to)
    }
}

/// A worker awake at least this share (per mille) of sysmon's last interval may be
/// saturated (`Placement::rebalance`).
const SATURATED_LOAD: u32 = 950;
/// ... if coroutines have also waited in its run queues this long without a break.
const SATURATED_BACKLOG_NS: u64 = 2_000_000;

impl Drop for Placement {
    fn drop(&mut self) {
        crate::netpoll::connections()[self.worker].fetch_sub(1, Ordering::Relaxed);
    }
}

/// A worker awake at least this share (per mille) of sysmon's last interval is busy: new
/// connections go to it only when every worker is.
const PACK_BELOW: u32 = 500;

/// The worker a new connection starts on (see [`spawn_balanced`]).
fn place_connection(conns: &[crossbeam_utils::CachePadded<AtomicUsize>]) -> usize {
    let workers = &crate::rt::runtime().workers;
    let busy = |i: usize| workers[i].load.load(Ordering::Relaxed) >= PACK_BELOW;
    let count = |i: usize| conns[i].load(Ordering::Relaxed);
    if let Some(here) = crate::running::worker_index() {
        if !busy(here) {
            tracing::trace!(worker = here, "goro: placing a connection here");
            return here;
        }
    }
    // The roomy worker with the most connections (ties to the lower index) ...
    let packed = (0..workers.len())
        .filter(|&i| !busy(i))
        .min_by_key(|&i| std::cmp::Reverse(count(i)));
    if let Some(i) = packed {
        tracing::trace!(worker = i, "goro: packing a connection");
        return i;
    }
    // ... else the one with the fewest, ties to the workers in turn.
    static TURN: AtomicUsize = AtomicUsize::new(0);
    let n = workers.len();
    let start = TURN.fetch_add(1, Ordering::Relaxed) % n;
    let best = (0..n)
        .map(|k| (start + k) % n)
        .min_by_key(|&i| count(i))
        .unwrap_or(0);
    tracing::trace!(worker = best, "goro: spreading a connection");
    best
}
