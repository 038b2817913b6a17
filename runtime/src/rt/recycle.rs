//! Recycling finished tasks' allocations (Go's `gfput`/`gfget` free lists of G structs).
//!
//! A spawn allocates one `Arc<Task>`; it is freed when the last handle goes, usually on the
//! worker that ran the coroutine, while the spawning worker allocates the next one. With
//! glibc that cross-thread malloc/free pair was about half of a spawn's instructions. So a
//! worker that finishes a task holding its *only* reference (the `JoinHandle` was dropped and
//! no unparker, timer or waiter queue still points at it) keeps the allocation: `Arc::get_mut`
//! proves nobody else can see it, and the next spawn overwrites it in place. No `unsafe`.
//!
//! Free tasks go to the finishing worker's list (bounded); half of a full list moves to a
//! global list, where a spawning worker whose own list is empty takes a batch, the same
//! two-level shape as the stack pool. Spawns from plain threads just allocate.
//!
//! A worker never frees a task here: when a burst is dealt over two workers, the spawner
//! allocates every task (its own children wait behind it in its queue) and the other worker
//! finishes half of them. Freeing those there, on glibc, contends with the spawner's
//! allocations for its arena's lock (a quarter of the spawn bench's time once). They go to
//! the global list instead, which the spawner drains; sysmon frees what is left over
//! [`GLOBAL_MAX`] each tick ([`trim`]), so a burst's free tasks are given back within about
//! 10 ms of it.
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::coroutine::Task;

/// Free tasks a worker keeps.
const LOCAL_MAX: usize = 256;
/// Moved between a worker and the global list at once.
const BATCH: usize = LOCAL_MAX / 2;
/// Free tasks the global list keeps (about 1 MiB) past a sysmon tick; more are freed then.
const GLOBAL_MAX: usize = 4096;

static GLOBAL: Mutex<Vec<Arc<Task>>> = Mutex::new(Vec::new());
/// `GLOBAL`'s length as of its last change: a spawning worker whose own list ran dry looks
/// here before it takes the lock, so a burst that outruns recycling (every spawn finds both
/// lists empty) costs no lock per spawn.
static GLOBAL_LEN: AtomicUsize = AtomicUsize::new(0);

/// A worker's free tasks.
#[derive(Default)]
pub(crate) struct FreeTasks {
    list: RefCell<Vec<Arc<Task>>>,
}

impl FreeTasks {
    /// Keeps a finished task's allocation if this is its last reference.
    pub(crate) fn put(&self, mut task: Arc<Task>) {
        let Some(t) = Arc::get_mut(&mut task) else {
            return; // someone still holds it; it is freed when they let go
        };
        // Drop the unclaimed result now (user code may run in its destructor, so no borrow of
        // the list is held), rather than keeping it alive until the allocation is reused.
        t.join.clear();
        let mut list = self.list.borrow_mut();
        if list.len() >= LOCAL_MAX {
            let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
            g.extend(list.drain(..BATCH));
            GLOBAL_LEN.store(g.len(), Ordering::Relaxed);
        }
        list.push(task);
    }

    /// A task allocation holding `value`: a recycled one if there is one, else a new one.
    pub(crate) fn make(&self, value: Task) -> Arc<Task> {
        let recycled = {
            let mut list = self.list.borrow_mut();
            if list.is_empty() && GLOBAL_LEN.load(Ordering::Relaxed) != 0 {
                let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
                let n = g.len().min(BATCH);
                let at = g.len() - n;
                list.extend(g.drain(at..));
                GLOBAL_LEN.store(g.len(), Ordering::Relaxed);
            }
            list.pop()
        };
        match recycled {
            Some(mut task) => {
                // Only free lists hold these, and `put` checked the count. Overwriting drops the
                // old, finished task (its result was already dropped in `put`).
                let slot = Arc::get_mut(&mut task).expect("goro: a recycled task is shared");
                *slot = value;
                task
            }
            None => Arc::new(value),
        }
    }
}

/// Tasks in the global free list now (for `stats()`).
pub(crate) fn global_len() -> usize {
    GLOBAL_LEN.load(Ordering::Relaxed)
}

/// Frees the global list's tasks beyond [`GLOBAL_MAX`] (sysmon, every tick).
pub(crate) fn trim() {
    if GLOBAL_LEN.load(Ordering::Relaxed) <= GLOBAL_MAX {
        return;
    }
    let excess: Vec<Arc<Task>> = {
        let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let keep = g.len().min(GLOBAL_MAX);
        let excess = g.split_off(keep);
        GLOBAL_LEN.store(g.len(), Ordering::Relaxed);
        excess
    };
    tracing::trace!(freed = excess.len(), "goro: free tasks trimmed");
    drop(excess); // outside the lock
}
