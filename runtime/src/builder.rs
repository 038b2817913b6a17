//! Spawning coroutines: [`spawn`], [`Builder`], and `yield_now`.
use std::any::Any;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use corosensei::Yielder;

use crate::coroutine::{Body, Start, Suspend, Task};
use crate::join::JoinHandle;
use crate::rt;
use crate::running;
use crate::stack::Stack;

/// Spawns a coroutine and returns a handle to join it (Go's `go f()`).
///
/// The coroutine starts on any worker (an idle worker may steal it before its first run) and,
/// once started, always runs on that worker (its *home*).
///
/// # Panics
///
/// If the OS refuses a stack (see [`Builder::spawn`] for the error, which names the limit to
/// raise). Use `Builder::spawn` to handle that error.
///
/// # Send
///
/// `f` and its result must be `Send`: the closure may move to another worker before it starts,
/// and the result travels to the joiner. Nothing else needs to be `Send`: values created
/// *inside* the coroutine (an `Rc`, a `RefCell` borrow of a `thread_local!`, a `MutexGuard`)
/// may be held across park points, because a started coroutine never leaves its home worker
/// thread. That is the difference from `may`, whose `go!` hides an `unsafe` spawn.
///
/// # Hazards outside this contract
///
/// Two library patterns assume that one OS thread runs one stack, and break when coroutines
/// of one worker interleave at park points; goro cannot detect or prevent them:
///
/// - a `thread_local!` whose initializer parks (connects a goro socket, sleeps, calls
///   [`blocking`](crate::blocking())): another coroutine on the same worker runs the
///   initializer too, and std then drops one value while a coroutine still holds a reference
///   to it. Use [`coroutine_local!`](crate::coroutine_local) or
///   [`sync::OnceLock`](crate::sync::OnceLock), whose initializers may park;
/// - scoped thread-locals (`scoped-tls`'s `set`) whose closure parks: another coroutine's
///   `set` interleaves, and the restore leaves a pointer into a dead frame.
///
/// `docs/CAVEATS.md` ("Two hazards goro cannot remove") has the details.
///
/// ```
/// use std::rc::Rc;
///
/// let h = goro::spawn(|| {
///     let shared = Rc::new(5); // not Send, but it never leaves this coroutine's thread
///     goro::yield_now();       // a park point
///     *shared + 1
/// });
/// assert_eq!(h.join().unwrap(), 6);
/// ```
///
/// A closure that is not `Send` does not compile:
///
/// ```compile_fail
/// use std::rc::Rc;
/// let rc = Rc::new(1);
/// goro::spawn(move || *rc + 1); // error: `Rc<i32>` cannot be sent between threads safely
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(f)
        .unwrap_or_else(|e| panic!("goro: failed to spawn a coroutine: {e}"))
}

/// Coroutine factory: name and stack size (like `std::thread::Builder`).
///
/// ```
/// let h = goro::Builder::new()
///     .name("fetcher")
///     .stack_size(64 * 1024)
///     .spawn(|| goro::current().unwrap().name().unwrap().len())
///     .unwrap();
/// assert_eq!(h.join().unwrap(), 7);
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    worker: Option<usize>,
}

impl Builder {
    /// A builder with the runtime's defaults.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the coroutine (shown in panic and stack-overflow messages and in traces).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// The coroutine's stack size in bytes (rounded up to whole pages; default 256 KiB or
    /// `GORO_STACK_SIZE`). Only touched pages cost memory.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Placement hint: start the coroutine on worker `index` (modulo the worker count)
    /// instead of letting any worker take it. It is queued on that worker only and never
    /// stolen. Used by [`io::spawn_balanced`](crate::io::spawn_balanced) to place new
    /// connections; ignored by `spawn_unpinned`.
    #[doc(hidden)]
    pub fn worker_hint(mut self, index: usize) -> Builder {
        self.worker = Some(index);
        self
    }

    /// Locality hint: start the coroutine on the worker the caller runs on, next to it, even
    /// while other workers idle (on a plain thread this does nothing).
    ///
    /// By default a worker that has started two new coroutines in a row while another worker
    /// idles hands the rest of its new coroutines to the idle workers, so a burst spreads
    /// over every core (docs/ARCHITECTURE.md, "Affinity and stealing"). A group of coroutines
    /// that mostly talk to each other (the stages of a pipeline, a fan-in over channels) runs
    /// faster on one worker, where an exchange crosses no threads: this keeps them there. Do
    /// not use it for CPU work you want spread: such coroutines share one core for life.
    ///
    /// ```
    /// let h = goro::spawn(|| {
    ///     let here = goro::worker_index();
    ///     let stage = goro::Builder::new()
    ///         .same_worker()
    ///         .spawn(goro::worker_index)
    ///         .unwrap();
    ///     (here, stage.join().unwrap())
    /// });
    /// let (a, b) = h.join().unwrap();
    /// assert_eq!(a, b);
    /// ```
    pub fn same_worker(self) -> Builder {
        match running::worker_index() {
            Some(w) => self.worker_hint(w),
            None => self,
        }
    }

    /// Spawns the coroutine; see [`spawn`] for the `Send` argument.
    ///
    /// # Errors
    ///
    /// When the OS refuses the stack's memory or mapping (`vm.max_map_count`, overcommit, or
    /// address-space limits), the error says which limit to raise. It never crashes or hangs.
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_inner(f, true)
    }

    /// Spawns a coroutine that may migrate to another worker at any park point.
    ///
    /// Unpinned coroutines are balanced like Go's goroutines: a woken one runs on whichever
    /// worker gets to it first. Prefer [`spawn`](Builder::spawn) unless a measurement says
    /// the balance matters.
    ///
    /// # Safety
    ///
    /// The caller promises that the coroutine never holds a thread-affine value across a park
    /// point (any call that may park: channel operations, socket I/O, `sleep`, `yield_now`,
    /// `Mutex::lock`, `join`, ...). Thread-affine values include references into a
    /// `thread_local!`, `RefCell` borrows of thread-locals, `std::sync::MutexGuard` (must be
    /// unlocked on the locking thread), `Rc`s shared with thread-local state, and any `!Send`
    /// value whose soundness relies on staying on one OS thread. `coroutine_local!` values
    /// travel with the coroutine and must be `Send` in spirit too. Values that are `Send` may
    /// be held freely.
    pub unsafe fn spawn_unpinned<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_inner(f, false)
    }

    fn spawn_inner<F, T>(self, f: F, pinned: bool) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let rt = rt::runtime();
        let task = build_task(self.name, pinned, self.stack_size, f)?;
        tracing::trace!(coroutine = %task.id, name = task.name.as_deref(), "spawn");
        match self.worker {
            Some(i) if pinned => {
                // Placed: it becomes the task's home before its first run, and it goes where
                // woken pinned tasks go (that worker's run queue or inbox), which no one
                // steals from.
                task.set_home(i % rt.workers.len());
                rt::ready(task.clone());
            }
            _ => rt::submit(task.clone()),
        }
        Ok(JoinHandle {
            task,
            marker: PhantomData,
        })
    }
}

/// Builds the task that runs `f` (counted as a spawn, not yet queued anywhere).
///
/// The stack itself is taken when the coroutine first runs, on the worker that runs it; this
/// only reports a refusal by the kernel (or an absurd size) right here.
pub(crate) fn build_task<F, T>(
    name: Option<String>,
    pinned: bool,
    stack_size: Option<usize>,
    f: F,
) -> io::Result<Arc<Task>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let rt = rt::runtime();
    let stack_size = Stack::check(stack_size.unwrap_or(rt.settings.stack_size))?;
    let stack_size = u32::try_from(stack_size).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "goro: a coroutine stack must be smaller than 4 GiB",
        )
    })?;
    let start = Start::new(move |stack: Stack| {
        Body::with_stack(stack, move |yielder: &Yielder<(), Suspend>, ()| {
            let t = running::task();
            // SAFETY: the worker set the running task before resuming us and holds an
            // `Arc` to it for as long as this body runs.
            let task = unsafe { &*t };
            task.set_yielder(yielder);
            let result = panic::catch_unwind(AssertUnwindSafe(f))
                .map(|value| Box::new(value) as Box<dyn Any + Send>);
            // Coroutine-locals are dropped here, on the coroutine's own thread and stack.
            task.drop_locals();
            task.join.complete(result);
        })
    });
    let task = rt::new_task(Task::new(
        name.map(String::into_boxed_str),
        pinned,
        stack_size,
        start,
    ));
    match crate::rt::local() {
        Some(w) => w.count_spawn(),
        None => {
            rt.foreign
                .spawns
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    Ok(task)
}

/// Lets the other runnable coroutines of this worker run, then continues (Go's
/// `runtime.Gosched`). On a plain thread it is `std::thread::yield_now`.
///
/// goro does not preempt: a coroutine in a long CPU loop should call this now and then.
///
/// ```
/// let h = goro::spawn(|| {
///     for _ in 0..3 {
///         goro::yield_now();
///     }
///     "done"
/// });
/// assert_eq!(h.join().unwrap(), "done");
/// ```
pub fn yield_now() {
    let t = running::task();
    if t.is_null() {
        std::thread::yield_now();
        return;
    }
    // SAFETY: the running task is alive while its body runs, and we are that body.
    unsafe { (*t).suspend(Suspend::Yield) };
}
