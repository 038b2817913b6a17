//! `JoinHandle`: waiting for a coroutine's result.
//!
//! The result lives in the coroutine's own task allocation ([`JoinSlot`]), type-erased, so a
//! spawn costs no allocation for it (a `()` result boxes to nothing). The slot's state word:
//!
//! | state     | meaning                                   | who may change it                       |
//! |-----------|-------------------------------------------|-----------------------------------------|
//! | `RUNNING` | no result, nobody waiting                 | joiner: -> `WAITING`; body: -> `DONE`   |
//! | `WAITING` | no result, the joiner's unparker is stored | body: -> `DONE` (then wakes the joiner) |
//! | `DONE`    | the result is written                     | nobody                                  |
//!
//! The body writes the result, then swaps the state to `DONE` (Release); a joiner that reads
//! `DONE` (Acquire) owns the result. If the swap returns `WAITING`, the body wakes the stored
//! unparker outside the lock.
use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;

use crate::coroutine::{Coroutine, CoroutineId, Task};
use crate::park::{self, Unparker};

const RUNNING: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;

/// A coroutine's type-erased result and its joiner.
pub(crate) struct JoinSlot {
    state: AtomicU8,
    result: UnsafeCell<Option<thread::Result<Box<dyn Any + Send>>>>,
    /// The joiner's unparker: written by the joiner before it publishes `WAITING`, read by
    /// the body only after its swap returned `WAITING`.
    waiter: UnsafeCell<Option<Unparker>>,
}

// SAFETY: `result` is written once by the body before the Release swap to DONE and read only
// by the single joiner after an Acquire load of DONE (the JoinHandle is not Clone). `waiter`
// is written by the single joiner before its Release CAS to WAITING and read by the body only
// after its AcqRel swap saw WAITING; the joiner never touches it again after that CAS.
unsafe impl Sync for JoinSlot {}

impl JoinSlot {
    pub(crate) fn new() -> JoinSlot {
        JoinSlot {
            state: AtomicU8::new(RUNNING),
            result: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
        }
    }

    /// Stores the result and wakes the joiner. Called once, by the coroutine's body.
    pub(crate) fn complete(&self, result: thread::Result<Box<dyn Any + Send>>) {
        // SAFETY: only the body writes, once, and no joiner reads before DONE is published.
        unsafe { *self.result.get() = Some(result) };
        // Release: publishes the result; pairs with the joiner's Acquire load of DONE.
        if self.state.swap(DONE, Ordering::AcqRel) == WAITING {
            // SAFETY: WAITING means the joiner wrote `waiter` before publishing it and will not
            // touch it again (the `Sync` argument above).
            if let Some(w) = unsafe { (*self.waiter.get()).take() } {
                w.unpark();
            }
        }
    }

    /// Drops an unclaimed result (the task's allocation is about to be recycled).
    pub(crate) fn clear(&mut self) {
        *self.result.get_mut() = None;
    }

    fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    fn take(&self) -> thread::Result<Box<dyn Any + Send>> {
        // SAFETY: the caller saw DONE (Acquire), so the body's write is visible and finished;
        // the single joiner takes it once.
        unsafe { (*self.result.get()).take() }.expect("goro: coroutine result taken twice")
    }

    fn wait(&self) -> thread::Result<Box<dyn Any + Send>> {
        if self.is_done() {
            return self.take();
        }
        // SAFETY: the body reads `waiter` only after it sees WAITING, which we have not
        // published yet; we are the only joiner.
        unsafe { *self.waiter.get() = Some(park::unparker()) };
        // Release: publishes `waiter` to the body's swap. Acquire on failure: if it is DONE
        // already, the result is ours to read.
        if self
            .state
            .compare_exchange(RUNNING, WAITING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return self.take();
        }
        while !self.is_done() {
            park::park();
        }
        self.take()
    }
}

/// An owned permission to wait for a coroutine's result (like `std::thread::JoinHandle`).
///
/// Dropping the handle detaches the coroutine: it keeps running and its result is dropped.
///
/// ```
/// let h = goro::spawn(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
///
/// // A panic is isolated in its coroutine and handed to the joiner.
/// let h = goro::spawn(|| -> u32 { panic!("boom") });
/// let err = h.join().unwrap_err();
/// assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
/// ```
pub struct JoinHandle<T> {
    pub(crate) task: Arc<Task>,
    pub(crate) marker: PhantomData<fn() -> T>,
}

impl<T: 'static> JoinHandle<T> {
    /// Waits for the coroutine to finish and returns its result, or the payload of its
    /// panic. From a coroutine this parks only the caller; from a plain thread it blocks it.
    pub fn join(self) -> thread::Result<T> {
        self.task.join.wait().map(|value| {
            *value
                .downcast::<T>()
                .unwrap_or_else(|_| unreachable!("goro: join result of the wrong type"))
        })
    }
}

impl<T> JoinHandle<T> {
    /// True once the coroutine has returned or panicked (`join` will not wait).
    pub fn is_finished(&self) -> bool {
        self.task.join.is_done()
    }

    /// The coroutine's id.
    pub fn id(&self) -> CoroutineId {
        self.task.id
    }

    /// A handle to the coroutine (its id, name, and an unparker).
    pub fn coroutine(&self) -> Coroutine {
        Coroutine {
            task: self.task.clone(),
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.task.id)
            .field("name", &self.task.name)
            .finish()
    }
}
