//! Scoped coroutines: [`scope`], the shape of `std::thread::scope`.
//!
//! A scoped coroutine may borrow from the stack of the code that opened the scope, because
//! [`scope`] does not return (nor unwind) before every coroutine spawned in it has finished
//! and dropped everything it captured.
//!
//! # The argument
//!
//! A spawned closure is boxed and its lifetime erased to `'static` so the scheduler can hold
//! it like any other coroutine's. That is sound because of one invariant: **the scope's
//! counter is decremented only after the closure, its result slot reference and everything
//! they own are gone.** Each scoped coroutine runs a [`Job`] whose fields drop in declaration
//! order: the closure (already consumed if it ran), then the job's reference to the result
//! [`Packet`], then [`Leave`], whose `drop` is the decrement. The same order holds when a job
//! is dropped without running (its stack could not be mapped). [`scope`] waits for the
//! counter to reach zero after its closure returns *or panics*, and waiting never unwinds, so
//! no path leaves the scope while a coroutine can still touch a borrow.
//!
//! A result the scope's closure did not join lives in its `Packet` until the last reference
//! goes: the coroutine's (dropped before the decrement) or the handle's (bounded by `'scope`,
//! which the closure's signature keeps from escaping). A leaked handle leaks its result,
//! which is safe.
//!
//! As in std, a coroutine that panicked and was not joined makes `scope` panic after the
//! wait; a joined one hands its panic to the joiner.
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::builder::Builder;
use crate::coroutine::{Coroutine, CoroutineId};
use crate::join::JoinHandle;
use crate::sync::WaitGroup;

/// Opens a scope for coroutines that borrow from the caller's stack (Go's `sync.WaitGroup`
/// around `go` statements, with the borrow checker's help; `std::thread::scope`'s shape).
///
/// Every coroutine spawned with [`Scope::spawn`] has finished when `scope` returns. Called
/// from a coroutine it parks while it waits; from a plain thread it blocks.
///
/// # Panics
///
/// If `f` panics, `scope` first waits for every coroutine, then resumes the panic. If a
/// coroutine panicked and its handle was not joined, `scope` panics after the wait, as
/// `std::thread::scope` does.
///
/// ```
/// let mut counts = vec![0u64; 4];
/// let words = ["go", "goro", "coroutine", "scope"];
/// goro::scope(|s| {
///     for (slot, word) in counts.iter_mut().zip(&words) {
///         s.spawn(move || *slot = word.len() as u64); // borrows `counts` and `words`
///     }
/// });
/// assert_eq!(counts, [2, 4, 9, 5]);
/// ```
///
/// A handle cannot leave its scope, and a scoped coroutine cannot outlive what it borrows:
///
/// ```compile_fail
/// let h = goro::scope(|s| s.spawn(|| 1)); // error: the handle borrows the scope
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: WaitGroup::new(),
            panicked: AtomicBool::new(false),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    // The soundness of every borrow rests on this wait (module docs); it does not unwind.
    scope.data.running.wait();
    match result {
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) if scope.data.panicked.load(Ordering::Relaxed) => {
            panic!("goro: a scoped coroutine panicked")
        }
        Ok(value) => value,
    }
}

/// A scope to spawn coroutines in; see [`scope`].
///
/// `'scope` is the scope's own lifetime, `'env` that of what its coroutines may borrow.
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    /// Invariant in `'scope`, as std's, so the scope cannot be shrunk or stretched.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// What a scope's coroutines share with it: the counter `scope` waits on and the "an unjoined
/// coroutine panicked" flag.
struct ScopeData {
    running: WaitGroup,
    panicked: AtomicBool,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a coroutine that may borrow anything that outlives the scope, and returns a
    /// handle to join it. It starts on any worker and stays on it, as [`spawn`](crate::spawn)'s
    /// do.
    ///
    /// # Panics
    ///
    /// If the OS refuses a stack; use [`Builder::spawn_scoped`] to handle that error.
    ///
    /// ```
    /// let total = std::sync::atomic::AtomicU64::new(0);
    /// goro::scope(|s| {
    ///     let h = s.spawn(|| (1..=10u64).sum::<u64>());
    ///     s.spawn(|| total.fetch_add(5, std::sync::atomic::Ordering::Relaxed));
    ///     assert_eq!(h.join().unwrap(), 55);
    /// });
    /// assert_eq!(total.into_inner(), 5);
    /// ```
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .unwrap_or_else(|e| panic!("goro: failed to spawn a scoped coroutine: {e}"))
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.count())
            .field(
                "a_coroutine_panicked",
                &self.data.panicked.load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl Builder {
    /// Spawns a scoped coroutine with this builder's name and stack size; see
    /// [`Scope::spawn`].
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`]: the OS refused the stack. Nothing was spawned then.
    ///
    /// ```
    /// let name = String::from("reader");
    /// let got = goro::scope(|s| {
    ///     goro::Builder::new()
    ///         .name(name.as_str())
    ///         .spawn_scoped(s, || goro::current().unwrap().name().unwrap().to_owned())
    ///         .unwrap()
    ///         .join()
    ///         .unwrap()
    /// });
    /// assert_eq!(got, name);
    /// ```
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Arc::new(Packet {
            result: Mutex::new(None),
            scope: Arc::clone(&scope.data),
        });
        // Counted before the job exists: its `Leave` is what gives the count back.
        scope.data.running.add(1);
        let job = Job {
            f: Some(f),
            packet: Arc::clone(&packet),
            _leave: Leave(Arc::clone(&scope.data)),
        };
        let body: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || job.run());
        // SAFETY: only the lifetime changes. `scope` does not return before this box and
        // everything it owns are dropped: the job's `Leave` decrements the counter `scope`
        // waits on, and it drops last (module docs, "The argument"). If the spawn fails below,
        // the box is dropped here, before we return, the same way.
        let body: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(body) };
        let handle = match self.spawn(body) {
            Ok(handle) => handle,
            Err(e) => {
                // Nothing was spawned: the job was dropped unrun, gave its count back and
                // noted "never ran" in the packet. The caller gets the error instead; the
                // note must not also make `scope` panic at its end.
                lock(&packet.result).take();
                return Err(e);
            }
        };
        Ok(ScopedJoinHandle {
            handle,
            packet,
            scope: PhantomData,
        })
    }
}

/// A scoped coroutine's work: its closure and where its result goes. Fields drop in
/// declaration order, after `drop` has disposed of a closure that never ran: closure, packet
/// reference, decrement. That order is the soundness argument.
struct Job<F, T> {
    f: Option<F>,
    packet: Arc<Packet<T>>,
    _leave: Leave,
}

impl<F, T> Job<F, T>
where
    F: FnOnce() -> T,
{
    fn run(mut self) {
        if let Some(f) = self.f.take() {
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            *lock(&self.packet.result) = Some(result);
        }
        // `self` drops here: packet reference, then `Leave`.
    }
}

impl<F, T> Drop for Job<F, T> {
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            // Dropped without running: the worker could not map its stack, and told the
            // task's join slot so. The scope hears it through the packet, as a panic.
            drop(f);
            *lock(&self.packet.result) = Some(Err(Box::new(
                "goro: a scoped coroutine could not get a stack and never ran",
            )));
        }
    }
}

/// Gives a scoped coroutine's count back when dropped.
struct Leave(Arc<ScopeData>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.running.done();
    }
}

/// A scoped coroutine's result, shared by the coroutine and its handle.
struct Packet<T> {
    result: Mutex<Option<thread::Result<T>>>,
    scope: Arc<ScopeData>,
}

impl<T> Drop for Packet<T> {
    fn drop(&mut self) {
        // A panic nobody joined is reported by `scope` itself (std's rule).
        let result = self.result.get_mut().unwrap_or_else(|e| e.into_inner());
        if matches!(result, Some(Err(_))) {
            self.scope.panicked.store(true, Ordering::Relaxed);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An owned permission to join a scoped coroutine (`std::thread::ScopedJoinHandle`'s shape).
///
/// Dropping it detaches the coroutine; the scope still waits for it.
pub struct ScopedJoinHandle<'scope, T> {
    handle: JoinHandle<()>,
    packet: Arc<Packet<T>>,
    scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the coroutine to finish and returns its result, or its panic's payload.
    /// Parks a coroutine; blocks a thread.
    pub fn join(self) -> thread::Result<T> {
        // The job catches the closure's panic and reports a run that never happened, so the
        // handle only says the coroutine has ended; the packet holds the outcome.
        let _ = self.handle.join();
        lock(&self.packet.result)
            .take()
            .expect("goro: a scoped coroutine ended without a result")
    }

    /// True once the coroutine has finished (then [`join`](Self::join) does not wait).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// The coroutine's id.
    pub fn id(&self) -> CoroutineId {
        self.handle.id()
    }

    /// A handle to the coroutine itself (name, id, unpark).
    pub fn coroutine(&self) -> Coroutine {
        self.handle.coroutine()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
