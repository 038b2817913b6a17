//! The coroutine (Go's G): its park state, its home worker and its suspended stack.
//!
//! A [`Task`] is shared through `Arc`: the run queues, the [`JoinHandle`](crate::JoinHandle),
//! every [`Unparker`](crate::park::Unparker) and timers hold one. Only the *owner* may touch
//! the suspended corosensei coroutine inside it; ownership passes through the run queues:
//!
//! | holder of the task                        | may resume it? | how it got it                            |
//! |-------------------------------------------|----------------|------------------------------------------|
//! | a run queue (runnext, home, local, inbox) | no             | spawn, yield, or the unparker that won `PARKED -> RUNNING` |
//! | the worker that popped it                 | yes            | popped it from a queue                   |
//! | nobody (state `PARKED`; the state keeps the worker's reference) | no | the worker committed the park |
//!
//! The park word (`state`) is described in [`crate::park`]. The `home` word is written once,
//! by the worker that first resumes the task, before the first resume; afterwards only that
//! worker resumes it (unless the task is unpinned, see `Builder::spawn_unpinned`, in which case
//! the worker that resumes it writes itself in before each resume).
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use corosensei::{Coroutine as Coro, Yielder};

use crate::join::JoinSlot;
use crate::local::LocalMap;
use crate::stack::Stack;

/// Why a coroutine handed control back to its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// Runnable again at once: requeue at the back of the home queue.
    Yield,
    /// Waiting: commit the park (see [`crate::park`]).
    Park,
}

/// The corosensei coroutine type every task runs in.
pub(crate) type Body = Coro<(), Suspend, (), Stack>;

/// Builds a task's body on its first run, once a stack is at hand (queued coroutines hold no
/// stack).
pub(crate) use crate::start::StartFn as Start;

/// What a task holds to run, by phase (one field, so the phases share their bytes).
pub(crate) enum Run {
    /// Spawned, never run: the closure, and no stack yet.
    Start(Start),
    /// Started: the suspended coroutine on its own stack.
    Body(Body),
    /// Returned, or could not get a stack.
    Done,
}

/// `home` before the first resume: any worker may take the task.
pub(crate) const NO_HOME: usize = u32::MAX as usize;

/// A coroutine: identity, park state, home worker and suspended stack.
pub(crate) struct Task {
    pub(crate) id: CoroutineId,
    pub(crate) name: Option<Box<str>>,
    /// Park state word; see the table in [`crate::park`].
    pub(crate) state: AtomicU8,
    /// Index of the home worker, or [`NO_HOME`] before the first resume (see `home()`).
    home: AtomicU32,
    /// False for `spawn_unpinned` tasks, which may resume on any worker.
    pub(crate) pinned: bool,
    /// Usable stack bytes (for the overflow message and stats; under 4 GiB by `Builder`).
    pub(crate) stack_size: u32,
    /// Low address of the stack's guard page, for the overflow handler (set on first run).
    pub(crate) guard_lo: Cell<usize>,
    /// The closure, then the suspended coroutine. Owner-only (module table).
    run: UnsafeCell<Run>,
    /// The corosensei yielder of the running body, written by the body itself on its first
    /// resume and read by `park`/`yield_now` while the body runs.
    yielder: Cell<*const Yielder<(), Suspend>>,
    /// Set when the worker commits a park, cleared when it next resumes (for `stats()`).
    pub(crate) was_parked: Cell<bool>,
    /// About where the stack pointer was at the last suspend, as an offset above `guard_lo`
    /// (0 before the first), so the worker can prefetch the frames a resume will touch
    /// (prefetch.rs). Owner-only.
    parked_at: Cell<u32>,
    /// `coroutine_local!` values, made on first use and torn down (never re-made) when the
    /// body ends; touched only by the running body.
    locals: UnsafeCell<Locals>,
    /// The result for the `JoinHandle`.
    pub(crate) join: JoinSlot,
}

// SAFETY: the fields that are not `Sync` (`run`, `guard_lo`, `yielder`, `was_parked`,
// `parked_at`, `locals`) are touched only by
// the task's current owner, and ownership moves between threads only through the run queues
// (crossbeam's queues and the state CAS give the happens-before edge). The corosensei
// coroutine is `!Send` because its stack may hold thread-affine values; a *started* pinned
// task is only ever resumed on its home worker thread, and before the first resume the stack
// holds nothing but the spawned closure, which is `Send` by `spawn`'s bound (before the first
// run there is not even a stack: `start` is a `Send` box).
unsafe impl Send for Task {}
// SAFETY: see the `Send` impl: shared access from other threads is limited to the atomics
// (`state`, `home`) and the immutable fields (`id`, `name`, `pinned`, `stack_size`).
unsafe impl Sync for Task {}

/// A task's `coroutine_local!` map, by stage of the task's life.
pub(crate) enum Locals {
    /// No coroutine-local used yet (most coroutines).
    Unused,
    /// Made on first use.
    Live(Box<LocalMap>),
    /// The body ended: no map can be made again.
    TornDown,
}

impl Task {
    pub(crate) fn new(name: Option<Box<str>>, pinned: bool, stack_size: u32, start: Start) -> Task {
        Task {
            id: CoroutineId::next(),
            name,
            state: AtomicU8::new(crate::park::RUNNING),
            home: AtomicU32::new(NO_HOME as u32),
            pinned,
            stack_size,
            guard_lo: Cell::new(0),
            run: UnsafeCell::new(Run::Start(start)),
            yielder: Cell::new(std::ptr::null()),
            parked_at: Cell::new(0),
            was_parked: Cell::new(false),
            locals: UnsafeCell::new(Locals::Unused),
            join: JoinSlot::new(),
        }
    }

    /// What the task holds to run, for its owner.
    ///
    /// # Safety
    ///
    /// The caller must own the task (module table) and must not hold the reference past the
    /// point where it gives ownership away (requeue, or park commit).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn run_mut(&self) -> &mut Run {
        // SAFETY: ownership is exclusive by the caller's contract.
        unsafe { &mut *self.run.get() }
    }

    /// Records the running body's yielder (called on the coroutine's own stack).
    pub(crate) fn set_yielder(&self, y: &Yielder<(), Suspend>) {
        self.yielder.set(y);
    }

    /// Switches from the running body back to its worker.
    ///
    /// # Safety
    ///
    /// Must be called by the body of this task, on its own stack, while it runs.
    pub(crate) unsafe fn suspend(&self, why: Suspend) {
        let y = self.yielder.get();
        debug_assert!(!y.is_null(), "goro: suspend before the body started");
        let here = 0u8;
        let offset = (std::ptr::addr_of!(here) as usize).wrapping_sub(self.guard_lo.get());
        self.parked_at.set(u32::try_from(offset).unwrap_or(0));
        // SAFETY: the yielder lives in the body's root frame, which outlives every call made
        // by the body, and the caller is that body (contract above).
        unsafe { (*y).suspend(why) };
    }

    /// About where the suspended body's stack pointer is (see `parked_at`), if known.
    pub(crate) fn parked_sp(&self) -> Option<usize> {
        match self.parked_at.get() {
            0 => None,
            off => Some(self.guard_lo.get() + off as usize),
        }
    }

    /// The home worker's index, or [`NO_HOME`].
    pub(crate) fn home(&self) -> usize {
        self.home.load(Ordering::Relaxed) as usize
    }

    /// Makes worker `i` the task's home (before a resume; see the module doc).
    pub(crate) fn set_home(&self, i: usize) {
        self.home.store(i as u32, Ordering::Relaxed);
    }

    /// The coroutine-local map, made on first use; `None` once the body has ended and its
    /// values are being dropped, or are gone (local.rs, "Teardown").
    ///
    /// # Safety
    ///
    /// Only the task's running body may call this (it owns the map while it runs).
    pub(crate) unsafe fn locals(&self) -> Option<&LocalMap> {
        let cell = self.locals.get();
        // SAFETY: only the running body touches `locals` (caller's contract). It only ever
        // takes shared references to the field, except for the one write `Unused -> Live`
        // below, made while no reference to it is alive (an `Unused` field has no map to
        // borrow from). During teardown the field stays `Live` and is only read.
        unsafe {
            if let Locals::Unused = &*cell {
                *cell = Locals::Live(Box::default());
            }
            match &*cell {
                Locals::Live(map) => Some(&**map),
                Locals::Unused | Locals::TornDown => None,
            }
        }
    }

    /// Drops the coroutine-locals, on the coroutine's own thread and stack; called by the
    /// body after the user function returned. From here on no map can be made for this
    /// task, so none is left for whichever thread drops the last `Arc<Task>`.
    pub(crate) fn drop_locals(&self) {
        // SAFETY: called by the running body, which owns `locals`, after user code returned
        // (no reference from `locals()` is alive; the map stays in place, marked torn down,
        // while destructors that call `locals()` run, and they get a shared reference only).
        let locals = unsafe { &*self.locals.get() };
        if let Locals::Live(map) = locals {
            // Destructors run here; each panic is caught so it cannot unwind out of the
            // coroutine's root frame.
            map.tear_down(
                || tracing::warn!(coroutine = %self.id, "goro: a coroutine_local destructor panicked"),
            );
        }
        // SAFETY: as above; every destructor has returned, so no reference into the map is
        // alive, and the now empty map is freed here, on the coroutine's thread.
        unsafe { *self.locals.get() = Locals::TornDown };
    }

    pub(crate) fn name_or_unnamed(&self) -> &str {
        self.name.as_deref().unwrap_or("<unnamed>")
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // An unstarted task holds only the spawned `Send` closure; dropping it here drops the
        // closure on this thread, which `Send` allows.
        if let Run::Body(body) = std::mem::replace(self.run.get_mut(), Run::Done) {
            if body.started() && !body.done() {
                // Not reached while the park protocol holds: a parked task keeps a reference
                // to itself (park.rs), so one nobody can wake is never dropped at all. Should
                // it happen, unwinding here could run its destructors on a thread that is
                // not its home, so the stack is leaked instead (docs/CAVEATS.md).
                tracing::debug!(coroutine = %self.id, "leaking a started coroutine's stack");
                std::mem::forget(body);
            }
        }
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

/// A unique, never reused identifier of a coroutine (like `std::thread::ThreadId`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CoroutineId(NonZeroU64);

impl CoroutineId {
    fn next() -> CoroutineId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        CoroutineId(NonZeroU64::new(id).expect("goro: coroutine id counter overflowed"))
    }

    /// The id as a number (ids start at 1 and are never reused).
    pub fn as_u64(self) -> NonZeroU64 {
        self.0
    }
}

impl fmt::Debug for CoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CoroutineId({})", self.0)
    }
}

impl fmt::Display for CoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A handle to a coroutine: its id and name (like `std::thread::Thread`).
///
/// Obtained from [`current`] or [`JoinHandle::coroutine`](crate::JoinHandle::coroutine).
///
/// ```
/// let h = goro::Builder::new().name("worker-1").spawn(|| {
///     let me = goro::current().expect("inside a coroutine");
///     me.name().map(str::to_owned)
/// }).unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker-1"));
/// ```
#[derive(Clone)]
pub struct Coroutine {
    pub(crate) task: Arc<Task>,
}

impl Coroutine {
    /// The coroutine's unique id.
    pub fn id(&self) -> CoroutineId {
        self.task.id
    }

    /// The name given with [`Builder::name`](crate::Builder::name), if any.
    pub fn name(&self) -> Option<&str> {
        self.task.name.as_deref()
    }

    /// An [`Unparker`](crate::park::Unparker) that wakes this coroutine.
    pub fn unparker(&self) -> crate::park::Unparker {
        crate::park::Unparker::for_task(self.task.clone())
    }
}

impl fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("id", &self.id())
            .field("name", &self.name())
            .finish()
    }
}

/// The coroutine this code runs in, or `None` on a plain OS thread.
///
/// ```
/// assert!(goro::current().is_none()); // doctests run on a plain thread
/// let id = goro::spawn(|| goro::current().unwrap().id()).join().unwrap();
/// assert!(id.as_u64().get() >= 1);
/// ```
pub fn current() -> Option<Coroutine> {
    let t = crate::running::task();
    if t.is_null() {
        return None;
    }
    // SAFETY: the worker keeps the running task alive (it holds an `Arc`) while the task's
    // body runs, and `t` is that task; incrementing the count hands us our own reference.
    let task = unsafe {
        Arc::increment_strong_count(t);
        Arc::from_raw(t)
    };
    Some(Coroutine { task })
}

/// True when called from inside a goro coroutine.
pub fn in_coroutine() -> bool {
    !crate::running::task().is_null()
}

/// The index of the worker thread running the calling coroutine (`0..` the number of
/// workers), or `None` on a plain OS thread.
///
/// A started coroutine never moves to another worker, so the value stays the same for its
/// whole life (except in a coroutine made with the `unsafe`
/// [`Builder::spawn_unpinned`](crate::Builder::spawn_unpinned), which may resume anywhere). Use it to keep state per worker, as Go keeps caches per P (`goro-net`'s HTTP
/// client keeps its pipelined connections this way, so that a connection's readers and
/// writers all run on the worker that polls it).
///
/// ```
/// assert_eq!(goro::worker_index(), None); // doctests run on a plain thread
/// let (first, later) = goro::spawn(|| {
///     let first = goro::worker_index().unwrap();
///     goro::time::sleep(std::time::Duration::from_millis(1));
///     (first, goro::worker_index().unwrap())
/// })
/// .join()
/// .unwrap();
/// assert_eq!(first, later);
/// ```
pub fn worker_index() -> Option<usize> {
    if !in_coroutine() {
        return None;
    }
    crate::running::worker_index()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_stays_small() {
        // Every parked coroutine costs one of these plus about one stack page; the parked
        // benchmark's budget (4,400 bytes all-in) keeps this at 192 bytes or less.
        let size = std::mem::size_of::<Task>();
        assert!(size <= 192, "Task grew to {size} bytes");
    }
}
