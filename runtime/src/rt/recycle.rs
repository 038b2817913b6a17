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
//! bounded global list, where a spawning worker whose own list is empty takes a batch, the
//! same two-level shape as the stack pool. Spawns from plain threads just allocate.
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use crate::coroutine::Task;

/// Free tasks a worker keeps.
const LOCAL_MAX: usize = 256;
/// Moved between a worker and the global list at once.
const BATCH: usize = LOCAL_MAX / 2;
/// Free tasks the global list keeps (about 1 MiB); more are freed.
const GLOBAL_MAX: usize = 4096;

static GLOBAL: Mutex<Vec<Arc<Task>>> = Mutex::new(Vec::new());

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
            let spill: Vec<_> = list.drain(..BATCH).collect();
            let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
            let room = GLOBAL_MAX.saturating_sub(g.len());
            g.extend(spill.into_iter().take(room));
        }
        list.push(task);
    }

    /// A task allocation holding `value`: a recycled one if there is one, else a new one.
    pub(crate) fn make(&self, value: Task) -> Arc<Task> {
        let recycled = {
            let mut list = self.list.borrow_mut();
            if list.is_empty() {
                let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
                let n = g.len().min(BATCH);
                let at = g.len() - n;
                list.extend(g.drain(at..));
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
