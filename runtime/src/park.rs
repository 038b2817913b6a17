//! Park and unpark: the one waiting protocol every goro primitive is built on.
//!
//! A waiting primitive (channel, mutex, join, timer, netpoll) does three things:
//!
//! 1. registers an [`Unparker`] for the current coroutine or thread where its waker will
//!    find it (a waiter queue, a poll descriptor, a timer),
//! 2. calls [`park`] in a loop until its own condition holds (`park` may return spuriously),
//! 3. and the waker, on any thread, makes the condition true and calls [`Unparker::unpark`].
//!
//! The waker may run at any moment, in particular between step 1 and the moment the parking
//! coroutine has actually switched off its stack. That window is closed with a state word per
//! coroutine and by committing the park on the *scheduler's* stack, after the switch, as Go
//! runs `park_m`'s unlock function after `mcall`:
//!
//! | state      | meaning                                         | who may change it                       | who owns the stack |
//! |------------|-------------------------------------------------|-----------------------------------------|--------------------|
//! | `RUNNING`  | running, or queued to run                       | unpark: -> `NOTIFIED`; worker: -> `PARKED` after the switch | the worker running or popping it |
//! | `NOTIFIED` | running, and an unpark arrived (a token)        | park: -> `RUNNING` (consumes the token); worker: -> `RUNNING` when the commit fails | the worker |
//! | `PARKED`   | switched off its stack and waiting              | the first unpark: -> `RUNNING`, and it must enqueue the task | nobody |
//!
//! The racy transition, step by step:
//!
//! 1. `park()` on the coroutine: if the state is `NOTIFIED`, swap it to `RUNNING` and return
//!    at once (an unpark already came).
//! 2. Otherwise suspend to the worker with `Suspend::Park`. The coroutine's stack is now
//!    frozen; the state is still `RUNNING`.
//! 3. The worker, on its own stack, CASes `RUNNING -> PARKED`. If that fails the state is
//!    `NOTIFIED`: an unpark landed during steps 1-3. The worker stores `RUNNING` and resumes
//!    the coroutine at once; `park()` returns.
//! 4. `unpark()` on any thread: `RUNNING -> NOTIFIED` leaves a token (step 1 or 3 will see it);
//!    `NOTIFIED` stays; `PARKED -> RUNNING` makes the caller the owner, which hands the task
//!    to its home worker (a local push on that worker's thread; otherwise its inbox, waking
//!    the worker only if it sleeps).
//!
//! A `PARKED` task owns one strong reference to itself: the worker's, left behind when it
//! commits the park, and taken over by the unparker that wins `PARKED -> RUNNING` to put in a
//! run queue. So parking and waking move a reference instead of counting one, and a parked
//! task lives as long as it is parked, whoever else holds it.
//!
//! So an unpark is never lost, and a coroutine is enqueued only by the single CAS that takes
//! it out of `PARKED`, which happens strictly after its stack was switched off: it cannot be
//! resumed twice, and a finished coroutine is never `PARKED`, so it is never resumed after
//! death. A spare token (an unpark that arrives after the waiter already saw its condition)
//! only makes a later `park` return early, which is why `park` is documented as spurious.
//!
//! Every transition of the state word is a function in `park/state.rs`, which a loom model
//! checks in every interleaving of park, unpark and a timeout's second unpark.
//!
//! Outside a coroutine (a plain OS thread such as `main`) the same calls use
//! `std::thread::park`, which has the same token semantics, so every primitive works from
//! both worlds.
//!
//! # `park` never unwinds
//!
//! A waiter often lends memory of its own frame to another thread while it parks: a
//! `goro::blocking` job borrows the caller's locals and writes its result into the caller's
//! frame; a zero-capacity channel send leaves a packet on the sender's stack in the
//! channel's queue. If `park` unwound, that frame would be freed while the other thread
//! still used it. Nothing of goro's own on the park path panics, but user code runs there:
//! the `tracing` subscriber that receives the park event (a test subscriber may panic by
//! design). So `park`, `park_timeout` and `park_deadline` are guarded: a panic that would
//! unwind out of them aborts the process with a `goro:` message instead, and every waiting
//! primitive built on them inherits the guarantee.
use std::fmt;
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::coroutine::{Suspend, Task};
use crate::running;

mod state;

pub(crate) use state::{commit_park, start_parked, RUNNING};

/// Wakes one parked coroutine or thread.
///
/// Cheap to clone (an `Arc` or a `Thread`), `Send` and `Sync`. Calling
/// [`unpark`](Unparker::unpark) on a coroutine or thread that is not parked makes its next
/// [`park`] return at once (one token, like [`std::thread::Thread::unpark`]).
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let flag = Arc::new(AtomicBool::new(false));
/// let waiter = {
///     let flag = flag.clone();
///     goro::spawn(move || {
///         while !flag.load(Ordering::Acquire) {
///             goro::park::park(); // may wake spuriously: re-check the condition
///         }
///     })
/// };
/// let u = waiter.coroutine().unparker();
/// flag.store(true, Ordering::Release);
/// u.unpark();
/// waiter.join().unwrap();
/// ```
#[derive(Clone)]
pub struct Unparker(Inner);

#[derive(Clone)]
enum Inner {
    Coroutine(Arc<Task>),
    Thread(Thread),
}

impl Unparker {
    pub(crate) fn for_task(task: Arc<Task>) -> Unparker {
        Unparker(Inner::Coroutine(task))
    }

    /// Wakes the coroutine or thread, or leaves it a token if it is not parked.
    pub fn unpark(&self) {
        match &self.0 {
            Inner::Coroutine(task) => unpark_task(task),
            Inner::Thread(t) => t.unpark(),
        }
    }

    /// True if this unparker wakes the caller: the running coroutine, or on a plain thread
    /// the calling thread.
    ///
    /// Cheaper than comparing with a fresh [`unparker()`] (no reference count is touched),
    /// which lets a primitive that caches an unparker per thread re-point it only when a
    /// different coroutine uses the cache.
    ///
    /// ```
    /// let u = goro::park::unparker();
    /// assert!(u.wakes_current());
    /// let other = goro::spawn(goro::park::unparker).join().unwrap();
    /// assert!(!other.wakes_current());
    /// ```
    #[inline]
    pub fn wakes_current(&self) -> bool {
        let t = running::task();
        match &self.0 {
            Inner::Coroutine(task) => std::ptr::eq(Arc::as_ptr(task), t),
            Inner::Thread(th) => t.is_null() && th.id() == std::thread::current().id(),
        }
    }

    /// True if this unparker wakes a plain thread, false if a coroutine.
    ///
    /// A primitive may spin briefly before it parks a thread (a peer on another core often
    /// answers sooner than a futex wake-up), but should not spin for a coroutine (a peer on
    /// the same worker cannot run meanwhile).
    ///
    /// ```
    /// assert!(goro::park::unparker().wakes_thread());
    /// let u = goro::spawn(goro::park::unparker).join().unwrap();
    /// assert!(!u.wakes_thread());
    /// ```
    #[inline]
    pub fn wakes_thread(&self) -> bool {
        matches!(self.0, Inner::Thread(_))
    }

    /// True if both unparkers wake the same coroutine or thread.
    pub fn will_wake(&self, other: &Unparker) -> bool {
        match (&self.0, &other.0) {
            (Inner::Coroutine(a), Inner::Coroutine(b)) => Arc::ptr_eq(a, b),
            (Inner::Thread(a), Inner::Thread(b)) => a.id() == b.id(),
            _ => false,
        }
    }
}

impl fmt::Debug for Unparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Coroutine(t) => f.debug_tuple("Unparker").field(&t.id).finish(),
            Inner::Thread(t) => f.debug_tuple("Unparker").field(&t.id()).finish(),
        }
    }
}

/// The unparker of the current coroutine, or of the current thread outside a coroutine.
pub fn unparker() -> Unparker {
    match crate::current() {
        Some(c) => Unparker(Inner::Coroutine(c.task)),
        None => Unparker(Inner::Thread(std::thread::current())),
    }
}

/// Parks the current coroutine (or blocks the current thread) until it is unparked.
///
/// May return spuriously: callers wait for their own condition in a loop.
///
/// Never unwinds: a panic raised on the park path (by a `tracing` subscriber) aborts the
/// process, because the caller may have lent its frame to another thread (module docs).
pub fn park() {
    let t = running::task();
    if t.is_null() {
        std::thread::park();
        return;
    }
    // SAFETY: `t` is the running task, kept alive by its worker while its body runs, and we
    // are that body.
    let task = unsafe { &*t };
    // Step 1: consume a token that is already there.
    if take_token(task) {
        return;
    }
    let guard = AbortOnUnwind;
    tracing::trace!(coroutine = %task.id, "park");
    // Step 2: switch to the worker, which commits the park (step 3).
    // SAFETY: we are the running body of `task`.
    unsafe { task.suspend(Suspend::Park) };
    // Resumed: an unpark took us out of PARKED (or the commit failed); the state is RUNNING.
    // Acquire-pairs with the unparker through the run queue that delivered us.
    std::mem::forget(guard);
}

/// Parks until unparked or until `dur` has passed. May return early or spuriously.
pub fn park_timeout(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => park_deadline(deadline),
        None => park(),
    }
}

/// Parks until unparked or until `deadline`. May return early or spuriously.
pub fn park_deadline(deadline: Instant) {
    let t = running::task();
    if t.is_null() {
        let now = Instant::now();
        if deadline > now {
            std::thread::park_timeout(deadline - now);
        }
        return;
    }
    if deadline <= Instant::now() {
        return;
    }
    // SAFETY: as in `park`: the running task is alive while its body runs.
    let task = unsafe { &*t };
    // Fast path for a token that is already there: no timer needed.
    if take_token(task) {
        return;
    }
    let guard = AbortOnUnwind;
    let key = crate::time::insert_unpark(deadline, unparker());
    park();
    crate::time::cancel(key);
    std::mem::forget(guard);
}

/// Aborts the process when dropped. Armed across a park and forgotten on the way out, so
/// only an unwind out of the park path drops it (module docs, "`park` never unwinds").
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        use std::io::Write;
        // The panic message was already printed by the panic hook; say why it is fatal.
        let _ = std::io::stderr().write_all(
            b"goro: a panic unwound into park() (from a tracing subscriber?); the waiting \
              coroutine may have lent its stack to another thread, so unwinding it would free \
              memory still in use: aborting\n",
        );
        std::process::abort();
    }
}

/// Consumes an unpark token if there is one (step 1).
fn take_token(task: &Task) -> bool {
    state::take_token(&task.state)
}

/// The waker's half of the protocol (step 4 of the module doc).
fn unpark_task(task: &Arc<Task>) {
    if !state::wake(&task.state) {
        return; // a token left, or one was already there
    }
    tracing::trace!(coroutine = %task.id, "unpark");
    // SAFETY: the worker that committed the park left its strong reference to the PARKED
    // state (worker.rs, `execute`); winning the CAS out of PARKED makes that reference ours,
    // to hand to a run queue.
    let owned = unsafe { Arc::from_raw(Arc::as_ptr(task)) };
    #[cfg(goro_fault_lost_wakeup)]
    if fault::lose_this_wakeup() {
        std::mem::forget(owned); // the coroutine stays parked forever
        return;
    }
    crate::rt::ready(owned);
}

/// The test-only fault switch that proves a lost wake-up fails CI by name:
/// `RUSTFLAGS="--cfg goro_fault_lost_wakeup"` builds a runtime that drops one wake-up of a
/// parked coroutine in every [`fault::EVERY`] (docs/ARCHITECTURE.md, "Testing").
#[cfg(goro_fault_lost_wakeup)]
mod fault {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub(super) const EVERY: u64 = 2000;

    pub(super) fn lose_this_wakeup() -> bool {
        static WAKEUPS: AtomicU64 = AtomicU64::new(0);
        let n = WAKEUPS.fetch_add(1, Ordering::Relaxed) + 1;
        if n % EVERY == 0 {
            tracing::warn!(n, "goro fault switch: losing this wake-up");
            return true;
        }
        false
    }
}
