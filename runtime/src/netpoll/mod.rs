//! Network poller: readiness of fds, one OS poller per worker (Go's `netpoll.go`).
//!
//! # What it is for
//!
//! A coroutine calls a blocking-looking `read`. The fd is non-blocking, so `read(2)` runs
//! directly; on `EAGAIN` the coroutine records itself as the fd's read waiter in the fd's
//! [`PollDesc`] and parks. Its worker runs other coroutines; when it
//! polls its OS poller (without blocking when it is idle or every 61 ticks when busy, blocking
//! when it has nothing else to do) the kernel reports the fd, [`dispatch`] takes the waiter
//! out of the descriptor and unparks it, and the coroutine resumes inside `read` and retries
//! the syscall. All waiters found by one `epoll_wait` are dispatched before the worker resumes
//! any of them, so they enter its run queue as one batch.
//!
//! # Per-worker pollers and where an fd lives
//!
//! Every worker owns one OS poller, which is also where it sleeps (its eventfd/EVFILT_USER
//! wake-up source shares the instance). An fd is registered *once*, in the poller of the
//! worker on which it first has to wait (lazily: an fd that never sees `EAGAIN` costs no
//! `epoll_ctl` at all). Since a started coroutine never leaves its home worker, the common
//! case — one coroutine per connection — finds readiness on the same thread that runs the
//! coroutine, without cross-thread traffic. Nothing depends on it, though: readiness wakes a
//! waiter through its [`Unparker`](crate::park::Unparker), which routes to the waiter's home
//! worker (or thread). So a reader on worker 0 and a writer on worker 1 of one fd registered
//! on worker 0 are both served, the writer through its home's inbox.
//!
//! A plain OS thread (not a worker) that waits registers the fd with a worker chosen
//! round-robin and blocks in `std::thread::park`; that worker's poller sees the event (it is
//! in the same epoll set the worker sleeps on, so it is woken by it) and unparks the thread.
//! The thread never polls anything itself, so one code path serves both worlds.
//!
//! # Edge-triggered, registered once, never re-armed
//!
//! The fd is added with read, write and hang-up interest in edge-triggered mode and stays
//! that way until it is closed. Edges are not lost when nobody waits: the descriptor
//! remembers them as ready bits (state table in `poll_desc.rs`). A reader clears its ready
//! bit *before* the syscall; if the syscall then drains the fd (`EAGAIN`, or a short read on
//! a stream socket) any later edge sets the bit again, so the next read may park without a
//! syscall that would only say `EAGAIN`: one `read` per message in steady state.
//!
//! # Stale events and fd reuse
//!
//! Descriptors live in a never-freed arena and are recycled. Each life has a sequence number;
//! the token registered with the OS carries the arena index and (24 bits of) the sequence
//! number, and the poller's readiness update is a compare-exchange that fails when they
//! differ. An event fetched just before its fd was closed, and delivered after the number was
//! reused, changes nothing. Deadline timers are armed per wait on the *waiter* (its
//! Unparker), never on the fd, so they cannot reach the fd's next owner either.
//!
//! Designs not taken: registering at socket creation (Go does) would put an accepted
//! connection in the listener's worker before it is placed elsewhere; level-triggered or
//! one-shot registration costs an `epoll_ctl` per wait; storing the waiter as a tagged pointer
//! in the state word (Go's `rg`/`wg`) needs a raw `Arc` round trip per park for a lock we take
//! only when someone actually waits.
//!
//! The OS side (one epoll or kqueue instance per worker, the backend files and their
//! contract) is `poller/`, below this module.
pub(crate) mod poll_desc;

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

use poll_desc::PollDesc;

/// Handles one readiness event reported by a worker's poller (any token but [`WAKE_TOKEN`](crate::poller::WAKE_TOKEN)).
///
/// Called on the worker's scheduler stack; it only unparks, never blocks.
pub(crate) fn dispatch(token: u64) {
    let (index, seq, ev) = poll_desc::split_token(token);
    tracing::trace!(index, seq, ev, "netpoll: event");
    poll_desc::lookup(index).ready(seq, ev);
}

/// Starts loading the descriptor a [`dispatch`] of `token` will touch (prefetch.rs).
#[inline]
pub(crate) fn prefetch(token: u64) {
    let (index, _, _) = poll_desc::split_token(token);
    crate::prefetch::read_lines(std::ptr::from_ref(poll_desc::lookup(index)).cast(), 2);
}

/// True if any fd is registered, so an idle worker should poll the network before it steals
/// or sleeps (Go's `netpollAnyWaiters`). One load of a counter that changes once per
/// connection, not once per wait, so it is not a contended line on the hot path. It is a
/// superset of "someone waits"; the cost of the difference is one non-blocking poll by a
/// worker that is about to block in the same poller anyway.
#[inline]
pub(crate) fn has_waiters() -> bool {
    poll_desc::LIVE.load(Ordering::Relaxed) != 0
}

/// Registers `fd` for `pd`'s current life in the poller of the calling worker (or of a worker
/// chosen round-robin when called from a plain thread). Returns that worker's index.
pub(crate) fn register(pd: &PollDesc, fd: RawFd) -> io::Result<usize> {
    let rt = crate::rt::runtime();
    let worker = match crate::running::worker_index() {
        Some(w) => w,
        None => {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            NEXT.fetch_add(1, Ordering::Relaxed) % rt.workers.len()
        }
    };
    let token = pd.token();
    rt.workers[worker].poller.register(fd, token)?;
    pd.poller.store(worker, Ordering::Relaxed);
    tracing::debug!(fd, worker, token, "netpoll: register");
    Ok(worker)
}

/// Moves `fd`'s registration from the poller it is in to worker `to`'s (poller balancing,
/// io.rs `Placement::rebalance`). It joins the new poller before it leaves the old one, so
/// no readiness falls between them: at worst both report one edge, and a second report is a
/// spurious wake-up, which every waiter absorbs. Waiters already parked on `pd` keep their
/// home workers; the poller that reports only queues them there.
pub(crate) fn move_to(pd: &PollDesc, fd: RawFd, to: usize) -> io::Result<()> {
    let from = pd.poller.load(Ordering::Relaxed);
    if from == to || from == usize::MAX {
        return Ok(());
    }
    let rt = crate::rt::runtime();
    rt.workers[to].poller.register(fd, pd.token())?;
    pd.poller.store(to, Ordering::Relaxed);
    if let Err(e) = rt.workers[from].poller.deregister(fd) {
        // The old registration may still report, with this descriptor's token, which only
        // costs spurious wake-ups; nothing is lost.
        tracing::debug!(fd, from, to, error = %e, "netpoll: leaving the old poller failed");
    }
    tracing::debug!(fd, from, to, "netpoll: moved to another worker's poller");
    Ok(())
}

/// Removes `fd` from the poller `pd` was registered in (if any) and recycles `pd`.
///
/// `closing`: the caller closes `fd` right after. Then the poller is not asked: closing an fd
/// removes it from a kqueue, and from an epoll set once no other fd (a `dup`) refers to the
/// same socket. Until then such a leftover registration may still report, with `pd`'s old
/// token, which the recycled descriptor's new sequence number turns away. That saves a
/// syscall per connection.
pub(crate) fn release(pd: &'static PollDesc, fd: RawFd, closing: bool) {
    let worker = pd.poller.load(Ordering::Relaxed);
    if worker != usize::MAX && !closing {
        if let Err(e) = crate::rt::runtime().workers[worker].poller.deregister(fd) {
            // ENOENT/EBADF: the fd was already closed behind our back (e.g. `into_raw_fd` of a
            // dup); the sequence number still makes its stale events harmless.
            tracing::debug!(fd, worker, error = %e, "netpoll: deregister failed");
        } else {
            tracing::debug!(fd, worker, "netpoll: deregister");
        }
    }
    poll_desc::free(pd);
}

/// Live connections per worker (coroutines started with `goro::io::spawn_balanced` that have
/// not finished), the figure new connections are balanced on.
pub(crate) fn connections() -> &'static [CachePadded<AtomicUsize>] {
    static CONNS: OnceLock<Box<[CachePadded<AtomicUsize>]>> = OnceLock::new();
    CONNS.get_or_init(|| {
        (0..crate::rt::runtime().workers.len())
            .map(|_| CachePadded::new(AtomicUsize::new(0)))
            .collect()
    })
}
