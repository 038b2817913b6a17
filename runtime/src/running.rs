//! What this OS thread is running: which worker this OS thread is and which coroutine it is running.
//!
//! Two `thread_local!` cells, both const-initialised and destructor-free, are the only
//! thread-local state the scheduler reads on a coroutine's behalf:
//!
//! | cell     | set by                                   | meaning                                   |
//! |----------|------------------------------------------|-------------------------------------------|
//! | `WORKER` | a worker thread once, at its start       | the worker's index (`usize::MAX`: none)   |
//! | `TASK`   | the worker, around every `resume`        | the coroutine now running on this thread  |
//!
//! Both accessors are `#[inline(never)]`. A coroutine's function body may be suspended on one
//! thread and (only if it was spawned with `Builder::spawn_unpinned`) resumed on another, and
//! the compiler may keep a thread-local's *address* in a register across an ordinary call. An
//! out-of-line accessor computes the address afresh on every call, so the runtime never reads
//! another thread's cell after a switch. The runtime itself never holds a reference obtained
//! here across a park point.
use std::cell::Cell;
use std::ptr;

use crate::coroutine::Task;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(usize::MAX) };
    static TASK: Cell<*const Task> = const { Cell::new(ptr::null()) };
}

/// The index of the worker this thread is, if it is a worker thread.
#[inline(never)]
pub(crate) fn worker_index() -> Option<usize> {
    let i = WORKER.with(Cell::get);
    (i != usize::MAX).then_some(i)
}

/// Marks this thread as worker `index` for the rest of its life.
pub(crate) fn set_worker(index: usize) {
    WORKER.with(|c| c.set(index));
}

/// The coroutine running on this thread, or null on the scheduler's own stack and on plain
/// threads.
#[inline(never)]
pub(crate) fn task() -> *const Task {
    TASK.with(Cell::get)
}

/// Sets the running coroutine (the worker calls this right before and after `resume`).
#[inline(never)]
pub(crate) fn set_task(t: *const Task) {
    TASK.with(|c| c.set(t));
}
