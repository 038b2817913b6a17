//! `WaitGroup`: wait for a collection of coroutines to finish (Go's `sync.WaitGroup`).
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use super::waiter::{self, Waiter, GRANTED};

/// Waits for a collection of coroutines (or threads) to finish, shaped like Go's
/// `sync.WaitGroup`: the launcher calls [`add`](WaitGroup::add) with the number of workers,
/// each worker calls [`done`](WaitGroup::done) when it finishes, and [`wait`](WaitGroup::wait)
/// parks until the counter is zero.
///
/// `WaitGroup` is not `Clone`: share it by reference (scoped threads) or by `Arc`. Any number
/// of coroutines may `wait` at once; all are woken when the counter reaches zero. A group may be
/// reused for another round (`add` again) once the counter has reached zero; a waiter of the
/// earlier round is released by that round's last `done` even if the next round has begun.
///
/// # Panics
///
/// [`done`](WaitGroup::done) panics if the counter would go below zero (more `done`s than
/// `add`ed), as Go's panics on a negative counter; [`add`](WaitGroup::add) panics on overflow.
///
/// # Example
///
/// ```
/// use goro::sync::WaitGroup;
/// use std::sync::Arc;
///
/// let wg = Arc::new(WaitGroup::new());
/// for i in 0..1000 {
///     wg.add(1);
///     let wg = Arc::clone(&wg);
///     goro::go!(move || {
///         goro::time::sleep(std::time::Duration::from_millis(i % 10));
///         wg.done();
///     });
/// }
/// wg.wait(); // from main (a thread) or from a coroutine alike
/// assert_eq!(wg.count(), 0);
/// ```
pub struct WaitGroup {
    /// Outstanding `add`s minus `done`s. See the table in `sync/mod.rs`.
    count: AtomicUsize,
    /// Parked `wait`ers. Never held across a park.
    waiters: StdMutex<VecDeque<Arc<Waiter>>>,
}

impl WaitGroup {
    /// A group with counter zero. `const`, so it can initialise a `static`.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.wait(); // counter is zero: returns at once
    /// ```
    pub const fn new() -> WaitGroup {
        WaitGroup {
            count: AtomicUsize::new(0),
            waiters: StdMutex::new(VecDeque::new()),
        }
    }

    /// Adds `n` to the counter. Call it before starting the work it accounts for (not inside
    /// the spawned coroutine), so a `wait` cannot run before the `add`.
    ///
    /// # Panics
    ///
    /// If the counter would overflow `usize`.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.done();
    /// wg.done();
    /// wg.wait();
    /// ```
    pub fn add(&self, n: usize) {
        // Relaxed: an increment publishes nothing; `wait` only cares about the decrement that
        // reaches zero.
        if self
            .count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(n))
            .is_err()
        {
            panic!("goro::sync::WaitGroup: counter overflow in add({n})");
        }
    }

    /// Decrements the counter by one; the call that brings it to zero wakes every waiter.
    ///
    /// # Panics
    ///
    /// If the counter is already zero ("negative WaitGroup counter": more `done`s than `add`s).
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(1);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| wg.done());
    ///     wg.wait();
    /// });
    /// ```
    pub fn done(&self) {
        let mut c = self.count.load(Ordering::Relaxed);
        loop {
            match c {
                0 => panic!(
                    "goro::sync::WaitGroup: negative counter (done() called more times than add())"
                ),
                1 => return self.done_last(),
                _ => {}
            }
            // Release: publishes this worker's writes; the zero-reaching `done` acquires them
            // (its AcqRel CAS reads the end of this release sequence) and passes them on to
            // the waiters through `Waiter::decide`.
            match self
                .count
                .compare_exchange_weak(c, c - 1, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => c = now,
            }
        }
    }

    /// The `done` that may bring the counter to zero (protocol steps 4–5 of `sync/mod.rs`). The 1 → 0 step
    /// happens under the queue lock, so it and the release of exactly the waiters queued before
    /// it are one atomic event: a `wait` of a next round (after a new `add`) can never be
    /// released by this round's zero.
    #[cold]
    fn done_last(&self) {
        let mut waiters = waiter::lock(&self.waiters);
        // AcqRel: Acquire sees every earlier `done`'s writes (release sequence on `count`),
        // Release publishes them with ours to a `wait` that finds zero by its Acquire load.
        match self
            .count
            .compare_exchange(1, 0, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => {}
            Err(_) => {
                // An `add` (or another `done`) got in first: redo as a normal decrement.
                drop(waiters);
                return self.done();
            }
        }
        let batch = std::mem::take(&mut *waiters);
        for w in &batch {
            w.decide(GRANTED);
        }
        drop(waiters);
        for w in &batch {
            w.unpark();
        }
    }

    /// Parks until the counter is zero; returns at once if it already is.
    ///
    /// ```
    /// use goro::sync::WaitGroup;
    /// let wg = WaitGroup::new();
    /// wg.add(3);
    /// std::thread::scope(|s| {
    ///     for _ in 0..3 {
    ///         s.spawn(|| wg.done());
    ///     }
    ///     wg.wait();
    /// });
    /// assert_eq!(wg.count(), 0);
    /// ```
    pub fn wait(&self) {
        // Acquire: pairs with the Release part of the `done` that reached zero.
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        // Protocol step 2: under the queue lock, look again: the 1 -> 0 step happens under this lock too, so
        // either we see zero here or the zero-reaching `done` finds us in the queue.
        let mut waiters = waiter::lock(&self.waiters);
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let me = Waiter::new();
        waiters.push_back(Arc::clone(&me));
        drop(waiters);
        // Protocol step 3: park until `done_last` decides (GRANTED is the only decision a WaitGroup makes).
        let d = me.wait();
        debug_assert_eq!(d, GRANTED);
    }

    /// The current counter value (a snapshot; for diagnostics and tests).
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(5);
    /// assert_eq!(wg.count(), 5);
    /// ```
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

impl Default for WaitGroup {
    fn default() -> WaitGroup {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}
