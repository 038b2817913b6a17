//! `Semaphore`: a counting semaphore with FIFO handoff (Go's `x/sync/semaphore`, one permit a call).
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use super::waiter::{self, Waiter, GRANTED, WAITING};

/// A counting semaphore: at most `permits` holders at any instant.
///
/// [`acquire`](Semaphore::acquire) takes one permit, parking the coroutine (or blocking the
/// thread) while none is available; the returned [`SemaphorePermit`] gives it back on drop.
///
/// # Fairness
///
/// Strictly FIFO: a released permit is handed directly to the oldest waiter, and while anyone
/// is queued a newcomer queues behind them (even [`try_acquire`](Semaphore::try_acquire)
/// fails), so no waiter starves. Unlike [`Mutex`](super::Mutex), a semaphore usually guards a
/// scarce resource (connections, memory, blocking threads) where bounded waiting matters more
/// than the last bit of throughput.
///
/// The count and the queue live under one short std lock (never held across a park); an
/// uncontended acquire or release is one lock/unlock pair.
///
/// # Example
///
/// ```
/// use goro::sync::Semaphore;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// // At most 2 of the 100 coroutines are inside at any instant.
/// let sem = Arc::new(Semaphore::new(2));
/// let inside = Arc::new(AtomicUsize::new(0));
/// let handles: Vec<_> = (0..100)
///     .map(|_| {
///         let (sem, inside) = (Arc::clone(&sem), Arc::clone(&inside));
///         goro::spawn(move || {
///             let _permit = sem.acquire(); // released when dropped
///             assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
///             goro::yield_now();
///             inside.fetch_sub(1, Ordering::SeqCst);
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(sem.available_permits(), 2);
/// ```
pub struct Semaphore {
    state: StdMutex<State>,
}

/// What the queue lock protects. See the table in `sync/mod.rs`.
struct State {
    /// Free permits. Invariant (lock released): `permits == 0 || waiters.is_empty()`.
    permits: usize,
    /// Parked acquirers, oldest first.
    waiters: VecDeque<Arc<Waiter>>,
}

/// One permit of a [`Semaphore`]; returned to it when dropped.
///
/// A permit is `Send`: it is a count, not tied to the coroutine that acquired it.
///
/// ```
/// let sem = goro::sync::Semaphore::new(1);
/// let permit = sem.acquire();
/// assert_eq!(sem.available_permits(), 0);
/// drop(permit);
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permit is released as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `permits` free permits. `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static LIMIT: goro::sync::Semaphore = goro::sync::Semaphore::new(64);
    /// assert_eq!(LIMIT.available_permits(), 64);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: StdMutex::new(State {
                permits,
                waiters: VecDeque::new(),
            }),
        }
    }

    /// Takes one permit, parking until one is handed to this caller (FIFO).
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// let p = sem.acquire();
    /// drop(p);
    /// ```
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        let Some(me) = self.acquire_or_enqueue() else {
            return SemaphorePermit { sem: self };
        };
        // Protocol step 3: park until `release` hands us a permit.
        let d = me.wait();
        debug_assert_eq!(d, GRANTED);
        SemaphorePermit { sem: self }
    }

    /// Takes one permit if one is free and nobody is queued ahead; never parks.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().expect("one free");
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut st = waiter::lock(&self.state);
        if st.permits > 0 {
            // Non-zero permits imply an empty queue (State invariant): nobody is skipped.
            st.permits -= 1;
            Some(SemaphorePermit { sem: self })
        } else {
            None
        }
    }

    /// Like [`acquire`](Semaphore::acquire) but gives up after `timeout`; `None` if no permit
    /// was handed over by then (and then this caller holds none).
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = goro::sync::Semaphore::new(0);
    /// assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
    /// sem.add_permits(1);
    /// assert!(sem.acquire_timeout(Duration::from_millis(10)).is_some());
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        let deadline = Instant::now().checked_add(timeout);
        let Some(me) = self.acquire_or_enqueue() else {
            return Some(SemaphorePermit { sem: self });
        };
        let Some(deadline) = deadline else {
            // A timeout beyond `Instant`'s range is "forever".
            me.wait();
            return Some(SemaphorePermit { sem: self });
        };
        if me.wait_deadline(deadline) == GRANTED {
            return Some(SemaphorePermit { sem: self });
        }
        // Protocol step 6: timed out; only under the lock is the answer final. A `release` that decided
        // for us before we got here already handed us its permit: keep it.
        let mut st = waiter::lock(&self.state);
        if me.decision() == WAITING {
            let was_queued = waiter::remove(&mut st.waiters, &me);
            debug_assert!(
                was_queued,
                "goro: undecided Semaphore waiter not in the queue"
            );
            None
        } else {
            Some(SemaphorePermit { sem: self })
        }
    }

    /// Adds `n` permits, handing them to queued waiters first (oldest first).
    ///
    /// # Panics
    ///
    /// If the count of free permits would overflow `usize`.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(0);
    /// sem.add_permits(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut st = waiter::lock(&self.state);
        let k = n.min(st.waiters.len());
        let batch: Vec<Arc<Waiter>> = st.waiters.drain(..k).collect();
        for w in &batch {
            w.decide(GRANTED);
        }
        let Some(permits) = st.permits.checked_add(n - k) else {
            drop(st);
            wake(&batch);
            panic!("goro::sync::Semaphore: permit count overflow in add_permits({n})");
        };
        st.permits = permits;
        drop(st);
        wake(&batch);
    }

    /// The number of free permits right now (a snapshot; zero while anyone is queued).
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(2);
    /// let _p = sem.acquire();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        waiter::lock(&self.state).permits
    }

    /// Protocol steps 1–2: take a free permit (`None`) or queue a waiter (returned, to park on).
    fn acquire_or_enqueue(&self) -> Option<Arc<Waiter>> {
        let mut st = waiter::lock(&self.state);
        if st.permits > 0 {
            st.permits -= 1;
            return None;
        }
        let me = Waiter::new();
        st.waiters.push_back(Arc::clone(&me));
        Some(me)
    }

    /// Protocol steps 4–5: give one permit back: to the oldest waiter if any, else to the count.
    fn release(&self) {
        let mut st = waiter::lock(&self.state);
        match st.waiters.pop_front() {
            Some(w) => {
                w.decide(GRANTED);
                drop(st);
                w.unpark();
            }
            None => st.permits += 1,
        }
    }
}

/// Unparks a batch of already-decided waiters (outside the lock).
fn wake(batch: &[Arc<Waiter>]) {
    for w in batch {
        w.unpark();
    }
}

impl SemaphorePermit<'_> {
    /// Drops the permit without returning it: the semaphore has one permit fewer for good.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// sem.acquire().forget();
    /// assert!(sem.try_acquire().is_none());
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = waiter::lock(&self.state);
        f.debug_struct("Semaphore")
            .field("permits", &st.permits)
            .field("waiters", &st.waiters.len())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}
