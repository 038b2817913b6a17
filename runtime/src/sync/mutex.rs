//! `Mutex<T>`: a mutual-exclusion lock that parks coroutines (Go's `sync.Mutex` fairness).
//!
//! Algorithm: Go's `sync.Mutex` (`src/sync/mutex.go`) normal/starvation modes, decided per
//! waiter instead of by a global mode bit, on a parking_lot-style two-bit state word.
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use super::waiter::{self, Waiter, GRANTED, WOKEN};

/// `state` bit: the lock is held (by a running owner, or handed to a woken waiter).
const LOCKED: u8 = 0b01;
/// `state` bit: the waiter queue is non-empty. Changed only with the queue lock held.
const QUEUED: u8 = 0b10;

/// A waiter that has waited this long is handed the lock directly instead of racing for it
/// (Go's `starvationThresholdNs`).
const STARVATION: Duration = Duration::from_millis(1);

/// A mutual-exclusion lock protecting a `T`, for coroutines and threads alike.
///
/// A contended [`lock`](Mutex::lock) parks the calling coroutine (its worker runs other
/// coroutines meanwhile); on a plain OS thread it blocks the thread. Uncontended, `lock` is a
/// single compare-and-swap and unlocking is another.
///
/// # Fairness
///
/// Waiters queue in FIFO order. Like Go's `sync.Mutex`, an unlock normally *wakes* the
/// oldest waiter, which then competes with newly arriving lockers (a running locker usually
/// wins: it is already on a CPU, and letting it in avoids a context switch per critical
/// section, the "lock convoy"). A woken waiter that loses goes back to the *front* of the queue.
/// Once the oldest waiter has waited 1 ms, the next unlock *hands the lock directly* to it
/// (Go's starvation mode), so no waiter starves: the tail latency is bounded by the queue
/// ahead of it, and throughput stays high while nobody is starving.
///
/// # No poisoning
///
/// A panic while the guard is held simply unlocks the mutex (like `parking_lot`); there is
/// no `PoisonError`, so [`lock`](Mutex::lock) returns the guard directly. If a panic can leave
/// `T` half-updated, the code that catches the panic must repair or discard it.
///
/// # Deadlock
///
/// The lock is not re-entrant: locking it again from the coroutine that holds it parks
/// that coroutine forever.
///
/// # Example
///
/// ```
/// use goro::sync::Mutex;
/// use std::sync::Arc;
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..100)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         goro::spawn(move || {
///             for _ in 0..100 {
///                 let mut n = counter.lock();
///                 *n += 1;
///                 goro::yield_now(); // holding the guard across a park point is fine
///             }
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// // Plain threads (here: main) can share the same lock.
/// assert_eq!(*counter.lock(), 10_000);
/// ```
pub struct Mutex<T: ?Sized> {
    /// `LOCKED | QUEUED`; see the table in `sync/mod.rs`.
    state: AtomicU8,
    /// Parked lockers, oldest first, each with the instant it first queued. Never held across
    /// a park.
    queue: StdMutex<VecDeque<Queued>>,
    data: UnsafeCell<T>,
}

/// One parked locker.
struct Queued {
    waiter: Arc<Waiter>,
    since: Instant,
}

// SAFETY: the Mutex gives `&mut T` to one guard at a time (the LOCKED bit), so sharing
// `&Mutex<T>` between threads only ever moves access to `T` from one thread to another, which
// is what `T: Send` allows; the same bound as `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Proof of holding a [`Mutex`]: dereferences to the protected value, unlocks on drop.
///
/// # Why `!Send`
///
/// As with `std::sync::MutexGuard`, the coroutine (or thread) that locked is the one that
/// unlocks. Holding a guard *across a park point* (a `yield_now`, `sleep`, channel receive, or
/// a contended lock) is fine and sound: a started coroutine never leaves its home worker
/// thread (DESIGN: "sound by construction"), and because a stackful coroutine's locals are
/// not part of any type, a guard on its stack does not make the `spawn` closure `!Send` the
/// way it makes an async future `!Send`. What `!Send` forbids is moving the guard *into
/// another coroutine or thread*, which keeps "who owns the lock" a fact about one coroutine
/// and keeps code ported from `std::sync::Mutex` meaning the same thing.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let m = goro::sync::Mutex::new(1);
/// assert_send(m.lock());
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Makes the guard `!Send` (see above) without affecting `Sync`.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: `&MutexGuard<T>` only gives out `&T` (Deref), so sharing the guard between threads
// is sharing `&T`, which `T: Sync` allows; the same bound as `std::sync::MutexGuard`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex holding `value`. `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static NAMES: goro::sync::Mutex<Vec<&str>> = goro::sync::Mutex::new(Vec::new());
    /// NAMES.lock().push("gopher");
    /// assert_eq!(NAMES.lock().len(), 1);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicU8::new(0),
            queue: StdMutex::new(VecDeque::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value (no lock needed: nobody else can hold it).
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(String::from("go"));
    /// m.lock().push_str("ro");
    /// assert_eq!(m.into_inner(), "goro");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the calling coroutine (or blocking the thread) until it is
    /// available. The returned guard unlocks when dropped.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(1);
    /// *m.lock() += 1;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    pub fn lock(&self) -> MutexGuard<'_, T> {
        // Acquire: pairs with the Release that cleared LOCKED in `unlock`/`unlock_slow`, so
        // this owner sees the previous owner's writes to `data`.
        if self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Locks the mutex if it is free right now, without parking. It may succeed even while
    /// others are queued (a "barging" locker; see Fairness on [`Mutex`]).
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(());
    /// let g = m.try_lock().expect("free");
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.try_set_locked() {
            Some(MutexGuard {
                mutex: self,
                _not_send: PhantomData,
            })
        } else {
            None
        }
    }

    /// A mutable reference to the value: `&mut self` proves nobody holds the lock.
    ///
    /// ```
    /// let mut m = goro::sync::Mutex::new(5);
    /// *m.get_mut() = 6;
    /// assert_eq!(*m.lock(), 6);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Sets LOCKED if it is clear, keeping QUEUED as it is. True if this call took the lock.
    fn try_set_locked(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & LOCKED == 0 {
            // Acquire: as in `lock`.
            match self.state.compare_exchange_weak(
                s,
                s | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    /// Contended lock: queue up and park (protocol steps 1–3 of `sync/mod.rs`; L1–L5 below).
    #[cold]
    fn lock_slow(&self) {
        // Created on the first enqueue and reused if we are woken and lose the race, so a
        // re-queued waiter keeps its place (front) and its age (for the starvation handoff).
        let mut me: Option<(Arc<Waiter>, Instant)> = None;
        loop {
            // L1: barge: the lock may be free (or freed by a wake-and-race unlock).
            if self.try_set_locked() {
                return;
            }
            // L2: under the queue lock, commit to waiting only if LOCKED is still set; the
            // CAS that sets QUEUED is what forces the owner's unlock onto the slow path,
            // which takes this same queue lock and therefore sees our entry.
            let mut queue = waiter::lock(&self.queue);
            let s = self.state.load(Ordering::Relaxed);
            if s & LOCKED == 0
                || self
                    .state
                    .compare_exchange(s, s | QUEUED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue; // the owner unlocked meanwhile: retry from L1
            }
            // L3: enqueue: a newcomer at the back, a woken-but-beaten waiter at the front.
            let (w, since) = match &me {
                Some((w, since)) => {
                    w.rearm();
                    queue.push_front(Queued {
                        waiter: Arc::clone(w),
                        since: *since,
                    });
                    (Arc::clone(w), *since)
                }
                None => {
                    let w = Waiter::new();
                    let since = Instant::now();
                    queue.push_back(Queued {
                        waiter: Arc::clone(&w),
                        since,
                    });
                    (w, since)
                }
            };
            drop(queue);
            // L4: park until an unlock decides about us (never with the queue lock held).
            match w.wait() {
                // L5a: handed over directly: LOCKED was left set for us.
                GRANTED => return,
                // L5b: woken to race for it: go round again.
                d => debug_assert_eq!(d, WOKEN),
            }
            me = Some((w, since));
        }
    }

    /// Releases the lock (called by the guard's `Drop`).
    fn unlock(&self) {
        // Release: pairs with the Acquire of the next `lock`/`try_lock`, publishing our
        // writes to `data`. Fails iff QUEUED is set: then someone must be woken.
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    /// Contended unlock: wake or hand off to the oldest waiter (protocol steps 4–5; U1–U4 below).
    #[cold]
    fn unlock_slow(&self) {
        let mut queue = waiter::lock(&self.queue);
        // U1: pick the oldest waiter. QUEUED was set, and QUEUED is only cleared together with
        // emptying the queue (under this lock), so the queue is non-empty.
        let Some(head) = queue.pop_front() else {
            debug_assert!(false, "goro: Mutex QUEUED bit set with an empty queue");
            // Release: as in `unlock`.
            self.state.store(0, Ordering::Release);
            return;
        };
        let queued = if queue.is_empty() { 0 } else { QUEUED };
        // While we hold LOCKED nobody else may write `state` (lockers only CAS a clear LOCKED
        // bit; QUEUED changes only under the queue lock, which we hold), so plain stores are
        // exact here.
        let decision = if head.since.elapsed() >= STARVATION {
            // U2a: starving: hand off. LOCKED stays set and now belongs to `head`; it sees our
            // writes through the Release in `decide` (Relaxed is enough for this store).
            self.state.store(LOCKED | queued, Ordering::Relaxed);
            GRANTED
        } else {
            // U2b: wake and race. Release: as in `unlock`.
            self.state.store(queued, Ordering::Release);
            WOKEN
        };
        head.waiter.decide(decision);
        // U3: unlock the queue, U4: then unpark (wake outside locks).
        drop(queue);
        head.waiter.unpark();
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds, for as long as the guard could have lived ([`Condvar`]
    /// drops the guard and locks the mutex again).
    ///
    /// [`Condvar`]: super::Condvar
    pub(super) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard exists only while its coroutine holds LOCKED (set in `lock` /
        // `try_lock` / granted in `unlock_slow`, cleared only in our `Drop`), so no `&mut T`
        // exists elsewhere; the returned borrow cannot outlive the guard.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, the guard is the unique holder of LOCKED, and `&mut self`
        // makes this the only borrow through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}
