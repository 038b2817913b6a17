//! `OnceLock`: a value made once, by an initializer that may park (Go's `sync.OnceValue`).
//!
//! std's `OnceLock` and `thread_local!` block the OS thread while another party initialises
//! the value. Under goro that thread is a worker shared by many coroutines, so an initializer
//! that parks (connects a socket, sleeps, calls `goro::blocking`) breaks them:
//!
//! - std `OnceLock`: a second coroutine on the same worker blocks the worker thread in a
//!   futex wait, and the first coroutine, which holds the initialisation, can never resume
//!   on that thread: deadlock.
//! - `thread_local!`: std runs a second initializer for the second coroutine and then drops
//!   one of the two values while the other coroutine still holds a reference to it
//!   (docs/CAVEATS.md).
//!
//! This `OnceLock` parks instead: whoever finds the value being made queues as a waiter
//! (`sync/mod.rs`'s protocol) and parks until it is ready. Its `state` word:
//!
//! | value     | meaning                          | who may change it                                  |
//! |-----------|----------------------------------|----------------------------------------------------|
//! | `EMPTY`   | no value, nobody making one      | a caller of `get_or_init`, under the queue lock: → `RUNNING` (it becomes the initializer) |
//! | `RUNNING` | the initializer is running `f`   | the initializer, under the queue lock: → `READY` when `f` returned, → `EMPTY` when `f` panicked; both release every queued waiter |
//! | `READY`   | the value is written; final      | nobody (only `&mut self` methods take the value out) |
//!
//! The value is written only by the initializer while `RUNNING`, and read only after a
//! `READY` load (Acquire, pairing with the Release store that follows the write).
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use super::waiter::{self, Waiter, GRANTED};
use crate::park::{self, Unparker};

const EMPTY: u8 = 0;
const RUNNING: u8 = 1;
const READY: u8 = 2;

/// A cell written once, whose initializer may park (a socket connect, `sleep`,
/// `goro::blocking`); other callers park until the value is ready. Use it where std's
/// `OnceLock` or a `thread_local!` initializer would wait on a coroutine (module docs, and
/// docs/CAVEATS.md).
///
/// Works from coroutines and plain threads alike. If the initializer panics, the panic
/// propagates to its caller, the cell stays empty, and one of the waiting callers runs its
/// own initializer (as std's `OnceLock` does).
///
/// # Panics
///
/// [`get_or_init`](OnceLock::get_or_init) panics if its initializer calls `get_or_init` on
/// the same cell (it would wait for itself).
///
/// # Example
///
/// A process-wide value whose first use parks:
///
/// ```
/// use goro::sync::OnceLock;
/// use std::time::Duration;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
///
/// fn config() -> &'static str {
///     CONFIG.get_or_init(|| {
///         goro::time::sleep(Duration::from_millis(5)); // e.g. fetch it over the network
///         "mode=fast".to_string()
///     })
/// }
///
/// let hs: Vec<_> = (0..100).map(|_| goro::spawn(config)).collect();
/// for h in hs {
///     assert_eq!(h.join().unwrap(), "mode=fast"); // made once, seen by all
/// }
/// ```
///
/// A per-thread value with a parking initializer: put the `OnceLock` in the `thread_local!`
/// (its own initializer does not park), and make the value through it:
///
/// ```
/// use goro::sync::OnceLock;
/// use std::rc::Rc;
///
/// thread_local! {
///     static CACHE: Rc<OnceLock<Vec<u8>>> = Rc::new(OnceLock::new());
/// }
///
/// let n = goro::spawn(|| {
///     let cache = CACHE.with(Rc::clone);
///     cache.get_or_init(|| goro::blocking(|| vec![7; 4])).len()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(n, 4);
/// ```
pub struct OnceLock<T> {
    /// See the table in the module docs.
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
    /// Waiters parked while `RUNNING`, and who the initializer is. Never held across a park
    /// or across the initializer.
    queue: StdMutex<Queue>,
}

struct Queue {
    waiters: VecDeque<Arc<Waiter>>,
    /// Wakes the running initializer: recognises a re-entrant call.
    initializer: Option<Unparker>,
}

// SAFETY: a `&OnceLock<T>` hands out `&T` to every thread (hence `T: Sync`) and lets any
// thread write the value (hence `T: Send`); the state protocol in the module docs makes the
// single write happen before every read.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
// SAFETY: moving the cell moves the value it may hold.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// An empty cell. `const`, so it can initialise a `static`.
    ///
    /// ```
    /// let cell = goro::sync::OnceLock::<u32>::new();
    /// assert_eq!(cell.get(), None);
    /// ```
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            state: AtomicU8::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            queue: StdMutex::new(Queue {
                waiters: VecDeque::new(),
                initializer: None,
            }),
        }
    }

    /// The value, if it is ready; never waits.
    ///
    /// ```
    /// let cell = goro::sync::OnceLock::new();
    /// cell.get_or_init(|| 5);
    /// assert_eq!(cell.get(), Some(&5));
    /// ```
    pub fn get(&self) -> Option<&T> {
        // Acquire: pairs with the Release store of READY in `finish`.
        if self.state.load(Ordering::Acquire) == READY {
            // SAFETY: READY means the value was written and will not change while `&self`
            // lives (module docs).
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, made by `f` if the cell is empty. If another caller is making it, parks
    /// until it is ready (or until that initializer panics; then this caller runs `f`).
    ///
    /// # Panics
    ///
    /// If `f` panics (the cell stays empty), or if `f` calls `get_or_init` on this cell.
    ///
    /// ```
    /// let cell = goro::sync::OnceLock::new();
    /// assert_eq!(*cell.get_or_init(|| 1), 1);
    /// assert_eq!(*cell.get_or_init(|| 2), 1); // made once
    /// ```
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let mut f = Some(f);
        loop {
            let mut q = waiter::lock(&self.queue);
            match self.state.load(Ordering::Acquire) {
                READY => {
                    drop(q);
                    return self.get().expect("goro: OnceLock READY without a value");
                }
                EMPTY => {
                    // Relaxed: the queue lock orders this against every other transition.
                    self.state.store(RUNNING, Ordering::Relaxed);
                    q.initializer = Some(park::unparker());
                    drop(q);
                    return self
                        .initialize(f.take().expect("goro: OnceLock initializer ran twice"));
                }
                _ => {
                    if q.initializer.as_ref().is_some_and(Unparker::wakes_current) {
                        drop(q);
                        panic!("goro::sync::OnceLock: get_or_init called from its own initializer");
                    }
                    // Protocol step 2: queued under the lock that `finish` takes to release.
                    let me = Waiter::new();
                    q.waiters.push_back(Arc::clone(&me));
                    drop(q);
                    let d = me.wait();
                    debug_assert_eq!(d, GRANTED);
                    // READY, or EMPTY after a panicking initializer: look again.
                }
            }
        }
    }

    /// Runs `f` as the initializer (state `RUNNING`, set by the caller).
    fn initialize(&self, f: impl FnOnce() -> T) -> &T {
        /// Puts the cell back to `EMPTY` and releases the waiters if `f` unwinds.
        struct Abandon<'a, T>(&'a OnceLock<T>);
        impl<T> Drop for Abandon<'_, T> {
            fn drop(&mut self) {
                self.0.finish(EMPTY);
            }
        }
        let abandon = Abandon(self);
        let value = f();
        std::mem::forget(abandon);
        // SAFETY: only the initializer writes the value, and only while RUNNING, which we
        // are; nobody reads it before the READY store in `finish`.
        unsafe { (*self.value.get()).write(value) };
        self.finish(READY);
        self.get().expect("goro: OnceLock READY without a value")
    }

    /// The initializer's last step: `RUNNING -> to`, then wake every queued waiter (after
    /// the queue lock is dropped).
    fn finish(&self, to: u8) {
        let mut q = waiter::lock(&self.queue);
        // Release: publishes the value write (for READY) to `get`'s Acquire load.
        self.state.store(to, Ordering::Release);
        q.initializer = None;
        let batch = std::mem::take(&mut q.waiters);
        for w in &batch {
            w.decide(GRANTED);
        }
        drop(q);
        for w in &batch {
            w.unpark();
        }
    }

    /// Stores `value` if the cell is empty; otherwise hands it back. Waits, as
    /// [`get_or_init`](OnceLock::get_or_init) does, while another caller is making a value.
    ///
    /// ```
    /// let cell = goro::sync::OnceLock::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| {
            value
                .take()
                .expect("goro: OnceLock::set's value taken twice")
        });
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, mutably, if it is ready.
    ///
    /// ```
    /// let mut cell = goro::sync::OnceLock::new();
    /// cell.set(String::from("a")).unwrap();
    /// cell.get_mut().unwrap().push('b');
    /// assert_eq!(cell.get().map(String::as_str), Some("ab"));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if *self.state.get_mut() == READY {
            // SAFETY: READY means written; `&mut self` excludes every other access.
            Some(unsafe { self.value.get_mut().assume_init_mut() })
        } else {
            None
        }
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// ```
    /// let mut cell = goro::sync::OnceLock::new();
    /// cell.set(3).unwrap();
    /// assert_eq!(cell.take(), Some(3));
    /// assert_eq!(cell.get(), None);
    /// ```
    pub fn take(&mut self) -> Option<T> {
        if *self.state.get_mut() == READY {
            *self.state.get_mut() = EMPTY;
            // SAFETY: READY means written; the state is EMPTY now, so it is read out once.
            Some(unsafe { self.value.get_mut().assume_init_read() })
        } else {
            None
        }
    }

    /// The value, if any, consuming the cell.
    ///
    /// ```
    /// let cell = goro::sync::OnceLock::new();
    /// cell.set(vec![1]).unwrap();
    /// assert_eq!(cell.into_inner(), Some(vec![1]));
    /// ```
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> OnceLock<T> {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(v) => f.debug_tuple("OnceLock").field(v).finish(),
            None => f.write_str("OnceLock(<uninit>)"),
        }
    }
}
