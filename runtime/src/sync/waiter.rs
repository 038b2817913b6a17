//! One parked waiter: a decision word plus the unparker that wakes it (shared by every primitive).
//!
//! The queue that holds a [`Waiter`] is always protected by a short std lock that is never held
//! across a park. The *decision* (granted, woken, still waiting) is written into
//! [`Waiter::state`] by the waker while it holds that queue lock, so a waiter that takes the same
//! lock after a timeout sees a final answer and cannot both time out and be granted. See the
//! protocol in `sync/mod.rs`.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};
use std::time::Instant;

use crate::park::{self, Unparker};

/// `Waiter::state`: queued, nobody has decided about it yet.
pub(crate) const WAITING: u8 = 0;
/// `Waiter::state`: the waker handed the resource (lock, permit) or the event (counter at zero)
/// to this waiter; it owns it when it observes this value.
pub(crate) const GRANTED: u8 = 1;
/// `Waiter::state`: the waker removed this waiter from the queue and asks it to retry (only the
/// Mutex's barging mode uses it; the waiter owns nothing yet).
pub(crate) const WOKEN: u8 = 2;

/// A parked coroutine or thread as a queue entry.
///
/// Shared as `Arc<Waiter>` between the waiter (on its stack) and the queue, so the waker can
/// still call [`unpark`](Unparker::unpark) after the waiter observed its decision and returned.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// `WAITING` → `GRANTED`/`WOKEN`: written only by a waker that holds the queue lock and has
    /// just removed this entry from the queue. `WOKEN` → `WAITING`: the waiter itself, under the
    /// queue lock, before it enqueues itself again.
    state: AtomicU8,
    unparker: Unparker,
}

impl Waiter {
    /// A fresh `WAITING` entry for the calling coroutine or thread.
    pub(crate) fn new() -> Arc<Waiter> {
        Arc::new(Waiter {
            state: AtomicU8::new(WAITING),
            unparker: park::unparker(),
        })
    }

    /// Records the waker's decision. Call with the queue lock held and the entry already removed
    /// from the queue; call [`Waiter::unpark`] after the queue lock is released.
    pub(crate) fn decide(&self, decision: u8) {
        debug_assert_ne!(decision, WAITING);
        // Release: pairs with the Acquire loads in `wait`/`wait_deadline`/`decision`, so the
        // waiter sees everything the waker did before handing over (e.g. the data written
        // under a Mutex by the previous owner, or the work before a WaitGroup's last `done`).
        self.state.store(decision, Ordering::Release);
    }

    /// Wakes the waiter. Call after [`Waiter::decide`], outside every queue lock.
    pub(crate) fn unpark(&self) {
        self.unparker.unpark();
    }

    /// Puts a `WOKEN` entry back to `WAITING` before it is queued again (queue lock held).
    pub(crate) fn rearm(&self) {
        // Relaxed: only the waiter itself writes here, under the queue lock whose release
        // publishes it to the next waker.
        self.state.store(WAITING, Ordering::Relaxed);
    }

    /// The current decision.
    pub(crate) fn decision(&self) -> u8 {
        // Acquire: pairs with the Release store in `decide`.
        self.state.load(Ordering::Acquire)
    }

    /// Parks until a waker has decided; returns the decision. Spurious returns of `park` are
    /// absorbed by the loop; an unpark that lands before `park` is kept as a token by the park
    /// layer, so the wakeup is never lost.
    pub(crate) fn wait(&self) -> u8 {
        loop {
            let d = self.decision();
            if d != WAITING {
                return d;
            }
            park::park();
        }
    }

    /// Like [`Waiter::wait`] but gives up at `deadline` and then returns `WAITING`. The caller
    /// must take the queue lock and look again: the decision may have landed in between, and
    /// only under the lock is "still waiting" final (then the caller removes itself).
    pub(crate) fn wait_deadline(&self, deadline: Instant) -> u8 {
        loop {
            let d = self.decision();
            if d != WAITING || Instant::now() >= deadline {
                return d;
            }
            park::park_deadline(deadline);
        }
    }
}

/// Removes `w` from `queue` if it is still there (a waiter that timed out). Queue lock held.
pub(crate) fn remove(queue: &mut VecDeque<Arc<Waiter>>, w: &Arc<Waiter>) -> bool {
    match queue.iter().position(|q| Arc::ptr_eq(q, w)) {
        Some(i) => {
            queue.remove(i);
            true
        }
        None => false,
    }
}

/// Takes a queue lock, ignoring poison: no code path panics while holding one of our queue
/// locks (they only push, pop and store atomics), so poison can only come from an allocation
/// failure, which aborts anyway.
pub(crate) fn lock<T>(m: &StdMutex<T>) -> StdMutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
