//! Timers: `sleep`, `sleep_until`, cancellable [`Timer`]s and the deadlines of timed parks.
//!
//! # Design
//!
//! As in Go, every worker (P) owns a timer heap (`heap::TimerHeap`, kept here in one slot per
//! worker, beside the atomic copy of its earliest deadline); a coroutine's timers go
//! into its home worker's heap, so arming and firing them needs no cross-thread traffic. The
//! worker checks its heap between coroutine switches (every few switches, and always before it
//! sleeps), and bounds its blocking `epoll_wait` by the nearest deadline. A sleeping coroutine
//! holds no thread: it is a parked coroutine plus one heap entry (a slot of about 40 bytes).
//!
//! Timers armed from a plain thread go to a worker chosen round-robin; if the new timer is
//! that worker's earliest, the worker is woken so it shortens its sleep.
//!
//! Each heap sits behind a `Mutex` that is almost always taken by its own worker (uncontended:
//! one CAS each way). Other threads take it only to arm or cancel a timer there. The heap's
//! earliest deadline is mirrored in an atomic so the worker's per-switch check is a single load.
//!
//! Deadlines are nanoseconds since a process-wide epoch (`Instant` at first use); they are
//! rounded up to whole milliseconds only where the OS wait takes milliseconds, so a timer may
//! fire up to a millisecond late and never early.
//!
//! Timer callbacks ([`Timer::at`]) run on a worker's scheduler stack, between coroutines, like
//! Go's `time.AfterFunc` would if it did not spawn: they must be short and must not park or
//! block. Spawn a coroutine from the callback for anything longer.
pub(crate) mod heap;

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crossbeam_utils::CachePadded;
use std::time::{Duration, Instant};

use crate::park::Unparker;
use crate::rt;
use heap::{Action, TimerHeap};

/// The process-wide time origin of timer deadlines.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `t` as nanoseconds since [`epoch`] (instants before it count as 0).
pub(crate) fn nanos(t: Instant) -> u64 {
    let d = t.saturating_duration_since(epoch());
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds since the epoch, now.
pub(crate) fn now_nanos() -> u64 {
    nanos(Instant::now())
}

/// One worker's timers: its heap and, mirrored in an atomic, the heap's earliest deadline
/// (ns since the epoch, `u64::MAX` if none), so the worker checks for due timers with one
/// load.
struct WorkerTimers {
    heap: Mutex<TimerHeap>,
    next: AtomicU64,
}

/// Worker `worker`'s timers.
fn timers(worker: usize) -> &'static WorkerTimers {
    static ALL: OnceLock<Box<[CachePadded<WorkerTimers>]>> = OnceLock::new();
    &ALL.get_or_init(|| {
        (0..rt::runtime().workers.len())
            .map(|_| {
                CachePadded::new(WorkerTimers {
                    heap: Mutex::new(TimerHeap::new()),
                    next: AtomicU64::new(u64::MAX),
                })
            })
            .collect()
    })[worker]
}

impl WorkerTimers {
    fn lock(&self) -> std::sync::MutexGuard<'_, TimerHeap> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The earliest deadline on worker `worker`'s heap (ns since the epoch), or `u64::MAX`.
#[inline]
pub(crate) fn next_deadline(worker: usize) -> u64 {
    timers(worker).next.load(Ordering::Relaxed)
}

/// Time until the earliest timer of worker `worker`, if it has one (its sleep's timeout).
pub(crate) fn until_next(worker: usize) -> Option<Duration> {
    let next = next_deadline(worker);
    (next != u64::MAX).then(|| Duration::from_nanos(next.saturating_sub(now_nanos())))
}

/// Timers armed on worker `worker` (for `stats()`).
pub(crate) fn armed(worker: usize) -> usize {
    timers(worker).lock().len()
}

/// Fires worker `worker`'s due timers (called by that worker, between coroutines); returns
/// how many fired. `batch` is the caller's reusable buffer; it is left empty.
pub(crate) fn run_due(worker: usize, batch: &mut Vec<Action>) -> usize {
    let t = timers(worker);
    let next = t.next.load(Ordering::Relaxed);
    if next == u64::MAX {
        return 0;
    }
    let now = now_nanos();
    if next > now {
        return 0;
    }
    {
        let mut heap = t.lock();
        heap.pop_expired(now, batch);
        t.next
            .store(heap.next().unwrap_or(u64::MAX), Ordering::Relaxed);
    }
    let n = batch.len();
    // Run the actions outside the heap lock (they may arm new timers).
    for a in batch.drain(..) {
        a.run();
    }
    n
}

/// Identifies one armed timer: the worker whose heap holds it and its slot there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerKey {
    worker: u32,
    slot: u32,
    gen: u32,
}

/// Arms `action` at `deadline` on the current worker's heap (or a round-robin one off-worker).
fn insert(deadline: Instant, action: Action) -> TimerKey {
    let rt = rt::runtime();
    let worker = match crate::running::worker_index() {
        Some(w) => w,
        None => {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            NEXT.fetch_add(1, Ordering::Relaxed) % rt.workers.len()
        }
    };
    let t = timers(worker);
    let when = nanos(deadline);
    let (slot, gen, earliest) = {
        let mut heap = t.lock();
        let (slot, gen) = heap.insert(when, action);
        let earliest = heap.next() == Some(when);
        if earliest {
            // Relaxed: the worker re-reads the heap under its lock before acting on it.
            t.next.store(when, Ordering::Relaxed);
        }
        (slot, gen, earliest)
    };
    if earliest && crate::running::worker_index() != Some(worker) {
        // Another worker may be asleep with a later timeout: make it recompute.
        rt::notify(worker);
    }
    TimerKey {
        worker: worker as u32,
        slot,
        gen,
    }
}

/// Arms an unpark at `deadline` (timed parks).
pub(crate) fn insert_unpark(deadline: Instant, u: Unparker) -> TimerKey {
    insert(deadline, Action::Unpark(u))
}

/// Disarms a timer; true if it had not fired. Its action is dropped outside the heap lock.
pub(crate) fn cancel(key: TimerKey) -> bool {
    let action = {
        let mut heap = timers(key.worker as usize).lock();
        heap.cancel(key.slot, key.gen)
    };
    action.is_some()
}

/// Puts the current coroutine to sleep for `dur` (blocks the thread outside a coroutine).
///
/// The coroutine holds no thread while it sleeps; 1,000,000 sleepers cost about one stack
/// page and one timer slot each.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// goro::spawn(|| goro::time::sleep(Duration::from_millis(20))).join().unwrap();
/// assert!(t.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        None => loop {
            crate::park::park();
        },
    }
}

/// Puts the current coroutine to sleep until `deadline` (blocks the thread outside one).
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(10);
/// goro::spawn(move || goro::time::sleep_until(deadline)).join().unwrap();
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    if !crate::in_coroutine() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    if deadline <= Instant::now() {
        return;
    }
    let key = insert_unpark(deadline, crate::park::unparker());
    // A spurious wake (a stale token) before the deadline parks again; the timer is still
    // armed and will wake us.
    loop {
        crate::park::park();
        if Instant::now() >= deadline {
            break;
        }
    }
    // Normally a no-op: the timer fired. It can still be armed if a stale token woke us right
    // after the deadline, before the worker ran its timers.
    cancel(key);
}

/// A one-shot timer that runs a callback at its deadline unless cancelled first
/// (Go's `time.AfterFunc`).
///
/// The callback runs on a goro worker thread, between coroutines. It must be short and must
/// not park or block (spawn a coroutine from it for longer work). Dropping a `Timer` does
/// not cancel it; call [`cancel`](Timer::cancel).
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let (tx, rx) = mpsc::channel();
/// let _t = goro::time::Timer::after(Duration::from_millis(5), move || tx.send("fired").unwrap());
/// assert_eq!(rx.recv().unwrap(), "fired");
///
/// let stopped = goro::time::Timer::after(Duration::from_secs(60), || unreachable!());
/// assert!(stopped.cancel()); // true: it had not fired
/// assert!(!stopped.cancel()); // already stopped
/// ```
pub struct Timer {
    key: TimerKey,
    deadline: Instant,
}

impl Timer {
    /// Arms a timer that calls `f` at `deadline`.
    pub fn at<F: FnOnce() + Send + 'static>(deadline: Instant, f: F) -> Timer {
        let key = insert(deadline, Action::Call(Box::new(f)));
        Timer { key, deadline }
    }

    /// Arms a timer that calls `f` after `dur`.
    pub fn after<F: FnOnce() + Send + 'static>(dur: Duration, f: F) -> Timer {
        let deadline = Instant::now()
            .checked_add(dur)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400));
        Timer::at(deadline, f)
    }

    /// Stops the timer. Returns true if it had not fired (the callback will never run), false
    /// if it already fired or was already cancelled (Go's `Timer.Stop`).
    pub fn cancel(&self) -> bool {
        cancel(self.key)
    }

    /// When the timer fires (or would have).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("deadline", &self.deadline)
            .finish()
    }
}
