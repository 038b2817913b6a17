//! The runtime handle: where a runnable task goes (the layer under the scheduler).
//!
//! Everything that makes a coroutine runnable calls down to here: the park protocol's
//! unpark (`ready`), spawns (`submit`), timers and netpoll (`notify`, a worker's poller).
//! This module owns the process-wide [`Runtime`]: every worker's shared half
//! ([`Processor`]: inbox, steal end, poller, sleep and idle flags, counters), the idle and
//! spinning bookkeeping that decides whom to wake ([`Idle`], idle.rs, with its proof), each
//! worker's run queues as pushers see them ([`RunQueues`], queues.rs, with the placement
//! policy for new coroutines) and the free lists of task allocations (recycle.rs).
//!
//! The schedule loop that pops these queues and runs coroutines is `sched`, above this
//! module; nothing here names it. The crate root hands the loop in when the runtime boots
//! ([`Launch`], `crate::LAUNCH`), the one place the layers are wired together.
//!
//! # Invariants
//!
//! - A started, pinned task is only ever queued on its home worker (`ready`): its `RunQueues`
//!   if the caller is that worker, its inbox otherwise. Unstarted and unpinned tasks go
//!   where `submit` puts them (any worker may start them).
//! - Every push to another worker's inbox is followed by `notify`, whose SeqCst fence pairs
//!   with the sleeper's (idle.rs): no wake-up is lost.
mod idle;
mod processor;
mod queues;
mod recycle;

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crossbeam_deque::Worker;

use crate::config::Settings;
use crate::coroutine::{Task, NO_HOME};

pub(crate) use idle::Idle;
pub(crate) use processor::{Counters, Processor};
pub(crate) use queues::{local, RunQueues};
pub(crate) use recycle::{global_len as free_tasks, trim as trim_free_tasks};

/// Starts the worker threads (and whatever watches them) of a runtime just built; the
/// deques are the workers' own ends of their queues of unstarted tasks, one per worker in
/// order. The scheduler provides it (`sched::launch`); the crate root wires it in.
pub(crate) type Launch = fn(&'static Runtime, Vec<Worker<Arc<Task>>>);

/// The process-wide runtime: every worker's shared half.
pub(crate) struct Runtime {
    pub(crate) workers: Box<[Processor]>,
    pub(crate) idle: Idle,
    pub(crate) settings: Settings,
    pub(crate) started: Instant,
    /// Counters for work that happens off the workers (spawns from plain threads).
    pub(crate) foreign: processor::Counters,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime, started on first use.
pub(crate) fn runtime() -> &'static Runtime {
    match RUNTIME.get() {
        Some(rt) => rt,
        None => boot(),
    }
}

impl crate::Config {
    /// Starts the runtime with these settings.
    ///
    /// # Errors
    ///
    /// `ErrorKind::AlreadyExists` if the runtime has already started (a coroutine was spawned
    /// before, or `init` was called twice).
    pub fn init(self) -> std::io::Result<()> {
        crate::config::give(self.settings())?;
        runtime();
        Ok(())
    }
}

/// Builds the runtime on first use and launches its workers.
#[cold]
fn boot() -> &'static Runtime {
    let mut locals = None;
    let rt = RUNTIME.get_or_init(|| {
        let settings = crate::config::take_settings();
        let n = settings.workers;
        let mut deques = Vec::with_capacity(n);
        let workers = (0..n)
            .map(|i| {
                let deque = Worker::new_fifo();
                let p = Processor::new(i, deque.stealer()).unwrap_or_else(|e| {
                    panic!("goro: cannot create the poller of worker {i}: {e}")
                });
                deques.push(deque);
                p
            })
            .collect();
        locals = Some(deques);
        Runtime {
            workers,
            idle: Idle::new(n),
            settings,
            started: Instant::now(),
            foreign: Counters::default(),
        }
    });
    if let Some(deques) = locals {
        // We won the race to build it: launch the threads (after the OnceLock is set, so
        // they can read it).
        crate::LAUNCH(rt, deques);
    }
    rt
}

/// Allocates a new task (a recycled allocation on a worker, see recycle.rs).
pub(crate) fn new_task(value: Task) -> Arc<Task> {
    match queues::local() {
        Some(w) => w.free_tasks.make(value),
        None => Arc::new(value),
    }
}

/// Queues a runnable task that any worker may take: a new coroutine, or an unpinned one.
pub(crate) fn submit(task: Arc<Task>) {
    let rt = runtime();
    match queues::local() {
        Some(w) => w.push_stealable(task),
        None => {
            let i = foreign_target(rt);
            rt.workers[i].inbox.push(task);
            notify(i);
        }
    }
    rt.idle.wake_one_if_needed(&rt.workers);
}

thread_local! {
    /// The worker this plain thread's last spawn went to (`usize::MAX`: none yet).
    static FOREIGN_LAST: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// The worker a spawn from outside the runtime is queued on.
///
/// A plain thread deals its spawns out to the workers in turn, each spawn to the next
/// worker after its previous one, except that an idle worker (claimed, idle.rs) is taken
/// before a busy one: the search for it starts at the next worker in turn, so a burst goes
/// first to workers it has not used yet. A thread's burst of N spawns so lands ⌈N/W⌉ or
/// ⌊N/W⌋ on each worker at once, without waiting for any worker to wake up and steal, and
/// whatever the workers' queues look like meanwhile (coroutines that park at once leave no
/// trace in them); a pause of the spawning thread (it was descheduled) does not restart
/// the deal. Unlike a coroutine, a thread does not park beside its spawns, so there is no
/// partner to keep them with: Go's worker pool, spawned from `main`, needs every coroutine
/// on a core of its own.
fn foreign_target(rt: &Runtime) -> usize {
    static FIRST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = rt.workers.len();
    let last = FOREIGN_LAST.with(|f| f.get());
    let next = if last < n {
        (last + 1) % n
    } else {
        FIRST.fetch_add(1, Ordering::Relaxed) % n
    };
    let target = rt
        .idle
        .claim_from(&rt.workers, next, usize::MAX)
        .unwrap_or(next);
    FOREIGN_LAST.with(|f| f.set(target));
    target
}

/// Hands a task that an unparker took out of `PARKED` to the worker that will run it
/// (step 4 of the park protocol).
pub(crate) fn ready(task: Arc<Task>) {
    let home = task.home();
    // A task with no home yet never ran (`PollFd::spawn_when_readable` on an fd whose
    // poller was not known): any worker may start it.
    if !task.pinned || home == NO_HOME {
        return submit(task);
    }
    match queues::local() {
        Some(w) if w.index == home => w.ready_local(task),
        _ => {
            let rt = runtime();
            rt.workers[home].inbox.push(task);
            notify(home);
        }
    }
}

/// Makes worker `i` look at its inbox and timers: wakes it only if it announced sleep.
pub(crate) fn notify(i: usize) {
    let rt = runtime();
    // The Dekker pair with the sleeper is idle.rs's.
    rt.idle.wake_if_sleeping(&rt.workers[i]);
}
