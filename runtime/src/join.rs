//! `JoinHandle`: waiting for a coroutine's result.
use std::fmt;
use std::sync::{Arc, Mutex};
use std::thread;

use crate::coroutine::{Coroutine, CoroutineId, Task};
use crate::park::{self, Unparker};

/// Where a coroutine leaves its result for its `JoinHandle`.
pub(crate) struct Packet<T> {
    inner: Mutex<Slot<T>>,
}

struct Slot<T> {
    done: bool,
    result: Option<thread::Result<T>>,
    waiter: Option<Unparker>,
}

impl<T> Packet<T> {
    pub(crate) fn new() -> Packet<T> {
        Packet {
            inner: Mutex::new(Slot {
                done: false,
                result: None,
                waiter: None,
            }),
        }
    }

    /// Stores the result and wakes the joiner (outside the lock).
    pub(crate) fn complete(&self, result: thread::Result<T>) {
        let waiter = {
            let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            s.result = Some(result);
            s.done = true;
            s.waiter.take()
        };
        if let Some(w) = waiter {
            w.unpark();
        }
    }

    fn is_done(&self) -> bool {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).done
    }

    fn wait(&self) -> thread::Result<T> {
        loop {
            {
                let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                if s.done {
                    return s.result.take().expect("goro: coroutine result taken twice");
                }
                if s.waiter.is_none() {
                    s.waiter = Some(park::unparker());
                }
            }
            park::park();
        }
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
    pub(crate) packet: Arc<Packet<T>>,
}

impl<T> JoinHandle<T> {
    /// Waits for the coroutine to finish and returns its result, or the payload of its
    /// panic. From a coroutine this parks only the caller; from a plain thread it blocks it.
    pub fn join(self) -> thread::Result<T> {
        self.packet.wait()
    }

    /// True once the coroutine has returned or panicked (`join` will not wait).
    pub fn is_finished(&self) -> bool {
        self.packet.is_done()
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
