//! `Condvar`: a condition variable for goro's [`Mutex`] (Go's `sync.Cond`, std's `Condvar` shape).
//!
//! A FIFO queue of `Waiter`s behind a short std lock (protocol of `sync/mod.rs`): `wait`
//! queues itself *before* it releases the mutex, so a notifier that takes the mutex after it
//! (and so sees the state the waiter saw) also sees it in the queue; a notify removes the
//! waiters it wakes and decides `GRANTED` under the queue lock, so a waiter that times out and
//! finds itself still queued has not consumed a notification, and one that finds itself
//! decided keeps it. No spurious wakeups: a waiter returns only when notified or timed out.
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use super::mutex::{Mutex, MutexGuard};
use super::waiter::{self, Waiter, WAITING};

/// A condition variable: coroutines (or threads) wait on it, holding a [`Mutex`], until another
/// notifies them. Go's `sync.Cond` (`Wait`, `Signal`, `Broadcast`) with std's `Condvar` API.
///
/// [`wait`](Condvar::wait) releases the mutex and parks the calling coroutine (or blocks the
/// thread) in one step, so no notification between the unlock and the park is lost, and locks
/// the mutex again before it returns. Unlike std's, goro's `Condvar` has no spurious wakeups,
/// but the usual loop (or [`wait_while`](Condvar::wait_while)) is still right: another waiter
/// may have taken the state first.
///
/// Use one `Condvar` with one `Mutex` (all waits at one time with the same mutex); it does
/// not check this.
///
/// # Example
///
/// ```
/// use goro::sync::{Condvar, Mutex};
/// use std::collections::VecDeque;
/// use std::sync::Arc;
///
/// let queue = Arc::new((Mutex::new(VecDeque::new()), Condvar::new()));
/// let consumers: Vec<_> = (0..4)
///     .map(|_| {
///         let queue = Arc::clone(&queue);
///         goro::spawn(move || {
///             let (items, ready) = &*queue;
///             let mut items = ready.wait_while(items.lock(), |q| q.is_empty());
///             items.pop_front().unwrap()
///         })
///     })
///     .collect();
/// for i in 0..4 {
///     queue.0.lock().push_back(i);
///     queue.1.notify_one(); // from a plain thread
/// }
/// let mut got: Vec<i32> = consumers.into_iter().map(|h| h.join().unwrap()).collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2, 3]);
/// ```
pub struct Condvar {
    /// Waiting callers, oldest first. Never held across a park.
    waiters: StdMutex<VecDeque<Arc<Waiter>>>,
}

/// Whether a timed wait on a [`Condvar`] returned because its time ran out (std's
/// `WaitTimeoutResult`).
///
/// ```
/// use std::time::Duration;
/// let (m, cv) = (goro::sync::Mutex::new(()), goro::sync::Condvar::new());
/// let (_g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(1));
/// assert!(r.timed_out());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended because the timeout elapsed (and, for
    /// [`wait_timeout_while`](Condvar::wait_timeout_while), the condition still held).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (m, cv) = (goro::sync::Mutex::new(true), goro::sync::Condvar::new());
    /// let (_g, r) = cv.wait_timeout_while(m.lock(), Duration::from_secs(5), |&mut go| !go);
    /// assert!(!r.timed_out()); // the condition was already met
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A condition variable with no waiters. `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static READY: goro::sync::Condvar = goro::sync::Condvar::new();
    /// READY.notify_all(); // nobody waits: a no-op
    /// ```
    pub const fn new() -> Condvar {
        Condvar {
            waiters: StdMutex::new(VecDeque::new()),
        }
    }

    /// Releases `guard`'s mutex, parks until notified, then locks the mutex again and returns
    /// its guard (Go's `Cond.Wait`). A notification sent before this call is not remembered.
    ///
    /// ```
    /// use goro::sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let p = Arc::clone(&pair);
    /// goro::spawn(move || {
    ///     *p.0.lock() = true;
    ///     p.1.notify_one();
    /// });
    /// let (started, cv) = &*pair;
    /// let mut g = started.lock();
    /// while !*g {
    ///     g = cv.wait(g);
    /// }
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_until(guard, None).0
    }

    /// Waits until `condition` returns false, checking it first and after each wakeup, with
    /// the mutex held each time (std's `wait_while`).
    ///
    /// ```
    /// use goro::sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// for _ in 0..3 {
    ///     let p = Arc::clone(&pair);
    ///     goro::spawn(move || {
    ///         *p.0.lock() += 1;
    ///         p.1.notify_all();
    ///     });
    /// }
    /// let g = pair.1.wait_while(pair.0.lock(), |n| *n < 3);
    /// assert_eq!(*g, 3);
    /// ```
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> MutexGuard<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`wait`](Condvar::wait), but gives up after `dur`; the result says which happened.
    /// The mutex is locked again either way.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (m, cv) = (goro::sync::Mutex::new(0), goro::sync::Condvar::new());
    /// let (g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(5));
    /// assert!(r.timed_out());
    /// assert_eq!(*g, 0); // locked again
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        // A deadline beyond `Instant`'s range is "forever".
        let (g, timed_out) = self.wait_until(guard, Instant::now().checked_add(dur));
        (g, WaitTimeoutResult(timed_out))
    }

    /// Like [`wait_while`](Condvar::wait_while), but gives up after `dur` in all; timed out
    /// means the time ran out with the condition still true.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (m, cv) = (goro::sync::Mutex::new(false), goro::sync::Condvar::new());
    /// let (g, r) = cv.wait_timeout_while(m.lock(), Duration::from_millis(5), |done| !*done);
    /// assert!(r.timed_out() && !*g);
    /// ```
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult)
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(dur);
        loop {
            if !condition(&mut *guard) {
                return (guard, WaitTimeoutResult(false));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return (guard, WaitTimeoutResult(true));
            }
            guard = self.wait_until(guard, deadline).0;
        }
    }

    /// Wakes the longest-waiting caller, if any (Go's `Cond.Signal`). Holding the mutex while
    /// notifying is allowed but not required.
    ///
    /// ```
    /// let cv = goro::sync::Condvar::new();
    /// cv.notify_one(); // nobody waits: nothing happens, nothing is remembered
    /// ```
    pub fn notify_one(&self) {
        // Protocol steps 4–5: remove and decide under the queue lock, wake outside it.
        let mut q = waiter::lock(&self.waiters);
        let w = q.pop_front();
        if let Some(w) = &w {
            w.decide(waiter::GRANTED);
        }
        drop(q);
        if let Some(w) = w {
            w.unpark();
        }
    }

    /// Wakes every caller waiting now (Go's `Cond.Broadcast`).
    ///
    /// ```
    /// let cv = goro::sync::Condvar::new();
    /// cv.notify_all();
    /// ```
    pub fn notify_all(&self) {
        // Protocol steps 4–5: empty the queue and decide every entry under the queue lock (so
        // "queued" and "WAITING" stay the same thing), wake outside it.
        let mut q = waiter::lock(&self.waiters);
        let batch = std::mem::take(&mut *q);
        for w in &batch {
            w.decide(waiter::GRANTED);
        }
        drop(q);
        for w in &batch {
            w.unpark();
        }
    }

    /// The one wait: queue, unlock, park (until `deadline`), relock. True if it timed out.
    fn wait_until<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, bool) {
        let mutex: &'a Mutex<T> = MutexGuard::mutex(&guard);
        // Step 2: register while still holding the mutex, so that any notifier that changes
        // the state under the mutex after we release it finds us queued.
        let me = Waiter::new();
        waiter::lock(&self.waiters).push_back(Arc::clone(&me));
        drop(guard);
        // Step 3: park until decided (or the deadline).
        let timed_out = match deadline {
            None => {
                me.wait();
                false
            }
            Some(d) => me.wait_deadline(d) == WAITING && self.give_up(&me),
        };
        (mutex.lock(), timed_out)
    }

    /// Step 6: the deadline passed undecided. Under the queue lock the answer is final: still
    /// `WAITING` (so still queued): leave the queue, timed out; decided: a notify picked us
    /// before we got the lock, so we count as notified (its notification is not lost).
    fn give_up(&self, me: &Arc<Waiter>) -> bool {
        let mut q = waiter::lock(&self.waiters);
        if me.decision() != WAITING {
            return false;
        }
        let was_queued = waiter::remove(&mut q, me);
        debug_assert!(
            was_queued,
            "goro: undecided Condvar waiter not in the queue"
        );
        true
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &waiter::lock(&self.waiters).len())
            .finish()
    }
}
