//! The scheduler: Go's G/M/P, with one rule added for soundness.
//!
//! # Concepts
//!
//! - **G** is a coroutine ([`Task`]): a corosensei coroutine on its own stack, a park state
//!   word and a *home* worker.
//! - **M + P** are fused into a *worker*: one OS thread per processor, for the life of the
//!   process (`GORO_MAXPROCS`, default: the available cores). Its private half
//!   ([`WorkerLocal`]) lives on its own thread; its shared half ([`Processor`]) is what other
//!   threads may touch: the stealer end of its deque, its inbox, its poller, its timer heap,
//!   its sleep flag and its counters.
//!
//! There is no global run queue: a coroutine spawned from a plain thread is dealt to the
//! workers in turn, an idle one first (its inbox, moved to its stealable deque): see
//! `foreign_target`.
//!
//! # The rule that makes `spawn` safe
//!
//! A coroutine may hold thread-affine values across a park point (`thread_local!`
//! references, `RefCell` borrows, `MutexGuard`s, `Rc`s shared with thread-local state). If it
//! then resumed on another thread, safe code would have undefined behaviour. So: **a
//! coroutine may be stolen only before its first resume; once started it resumes only on its
//! home worker.** Started coroutines on one worker interleave like tasks on a
//! single-threaded executor. `Builder::spawn_unpinned` is the `unsafe` opt-in to free
//! migration.
//!
//! # Work conservation under the rule (issue #15)
//!
//! Go keeps every core busy by migrating goroutines at any time; goro may move a coroutine
//! only before its first run, so that first run is where work conservation is decided. The
//! old answer, "idle workers steal unstarted coroutines", lost a race on every burst: the
//! spawner's worker starts a new coroutine within microseconds (it runs to its first park,
//! a channel receive, a sleep), while waking an idle worker costs tens of microseconds here.
//! Eight pool coroutines spawned from `main` all started on worker 0, parked on the job
//! channel, and did all 400 jobs there for life while worker 1 slept.
//!
//! The answer now is placement by the spawner, at the spawn, not by thieves:
//!
//! - a spawn on a worker that already has unstarted work queued, while another worker idles,
//!   claims that idle worker and hands the new coroutine straight to its inbox (worker.rs,
//!   `push_stealable`: Go's `wakep`, with a direct hand-off instead of a steal race); the
//!   burst's later spawns take turns over the spawner's worker and the workers it claimed,
//!   so N spawned while W workers idle land about N/W on each before any of them runs;
//! - a plain thread deals its spawns to the workers in turn, idle ones first
//!   (`foreign_target`);
//! - thieves take one unstarted coroutine at a time, and only from a deque holding more
//!   than 4 (or behind a run that sysmon saw computing for a whole tick), so a spawner's
//!   partner stays with it and a worker whose thread got more CPU cannot carry off half of
//!   another's share.
//!
//! Why this conserves work: no unstarted coroutine waits behind another on a worker while
//! a worker idles, except a spawner's first child, which starts as soon as its spawner
//! parks; a backlog that builds anyway (spawned while every worker was busy) is stolen one
//! by one once a worker runs dry. Why it keeps locality where that is free: while no worker
//! idles nothing moves, and the first child of a spawner stays beside it (a ping-pong pair,
//! a spawn-then-join, a pipeline's next stage). What it gives up: a group of three or more
//! spawned together while a core idles is split (a 3-stage pipeline spawned from a
//! coroutine runs 2 + 1); `Builder::same_worker` keeps such a group together on request.
//! What it cannot do: move a coroutine that turns CPU-bound after its first park; sysmon
//! counts that (`waited_idle`) and warns (sysmon.rs). In goro-net, where new connections
//! start is decided by `io::spawn_balanced` (packed onto workers with room, spread when all
//! are busy).
//!
//! # Queues of a worker
//!
//! | queue      | holds                                  | pushed by                    | popped by                 |
//! |------------|----------------------------------------|------------------------------|---------------------------|
//! | `runnext`  | one task woken by this worker          | `ready` on this thread       | this worker, budgeted     |
//! | `home`     | started tasks woken or yielded here    | this worker                  | this worker               |
//! | `inbox`    | started tasks woken by other threads; spawns from plain threads | any thread (`ready`, `submit`) | this worker: started ones into `home`, the rest into `deque` |
//! | `deque`    | unstarted (and unpinned) tasks         | `spawn` on this worker (the rest of a burst goes to idle workers' inboxes) | this worker; other workers steal one at a time from more than 4 |
//!
//! # The schedule loop (worker.rs)
//!
//! ```text
//! loop {
//!   drain inbox -> home (started) / deque (unstarted); every 16th tick: run due timers
//!   runnext (at most RUNNEXT_BUDGET times in a row) || home/deque (alternating)
//!   nothing: mark this worker idle (a hand-off target); run due timers; poll the network
//!   without blocking; become a spinner (if fewer than half the busy workers spin) and
//!   steal one unstarted coroutine from a random victim holding more than 4 (or stuck
//!   behind a long run);
//!   still nothing: announce sleep, re-check everything, block in epoll_wait(next timer)
//! }
//! resume the task (first asking the CPU to load the next queued ones' task and stack, when
//! 8 or more wait: prefetch.rs); on return: Yield -> back of home; Park -> commit (park.rs);
//! Done -> recycle
//! ```
//!
//! # Waking idle workers without a syscall per operation
//!
//! On this kind of machine a cross-CPU wake-up costs tens of microseconds, so nothing on the
//! fast path makes one (idle.rs has the protocol and its proof):
//!
//! - New stealable work (a spawn) wakes a sleeping worker only if no worker is spinning; the
//!   woken worker starts as a spinner, and a spinner that finds work wakes the next one only
//!   if it was the last spinner (Go's `wakep`/`resetspinning`).
//! - A wake-up for a started coroutine goes to its home worker's inbox; the eventfd is written
//!   only if that worker announced it is going to sleep.
//! - A worker that ran out of work but has been fed by other threads (inbox, steals)
//!   watches for more for 50 µs before it announces sleep, so a channel peer
//!   on another worker that sends again soon costs no eventfd write; a worker fed only by its
//!   own sockets blocks at once.
//! - An idle runtime blocks every worker in `epoll_wait` and the sysmon thread on a condvar:
//!   no CPU is used.
//!
//! # Allocation per spawn
//!
//! One `Arc<Task>` (192 bytes), recycled per worker when the finished task's last reference
//! is the worker's own (recycle.rs, Go's G free lists); a closure of up to 32 bytes lives
//! inside it (start.rs). The stack is taken when the coroutine first runs, from the running
//! worker's cache, so queued coroutines hold none.
mod idle;
mod processor;
mod recycle;
mod sysmon;
mod worker;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crossbeam_deque::Worker;

use crate::config::Settings;
use crate::coroutine::{Task, NO_HOME};
use crate::running;

pub(crate) use idle::Idle;
pub(crate) use processor::Processor;
pub(crate) use worker::WorkerLocal;

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
/// Settings given by `Config::init` before the runtime starts.
pub(crate) static PENDING: Mutex<Option<Settings>> = Mutex::new(None);

/// The runtime, started on first use.
pub(crate) fn runtime() -> &'static Runtime {
    match RUNTIME.get() {
        Some(rt) => rt,
        None => start(),
    }
}

/// The runtime if it has started.
pub(crate) fn try_runtime() -> Option<&'static Runtime> {
    RUNTIME.get()
}

#[cold]
fn start() -> &'static Runtime {
    let mut locals = None;
    let rt = RUNTIME.get_or_init(|| {
        let settings = PENDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(Settings::from_env);
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
            foreign: processor::Counters::default(),
        }
    });
    if let Some(deques) = locals {
        // We won the race to start: launch the threads (after the OnceLock is set, so they
        // can read it).
        crate::stack::overflow::install();
        crate::panic::install_hook();
        tracing::debug!(
            workers = deques.len(),
            stack_size = rt.settings.stack_size,
            "goro: runtime starting"
        );
        for (i, deque) in deques.into_iter().enumerate() {
            std::thread::Builder::new()
                .name(format!("goro-worker-{i}"))
                .spawn(move || {
                    // User code never unwinds into the schedule loop (coroutine bodies and
                    // timer callbacks catch their panics), so a panic here is a broken
                    // invariant: the coroutines homed on this worker could never run again.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        worker::run(i, deque)
                    }));
                    if r.is_err() {
                        tracing::error!(worker = i, "goro: a worker thread panicked; aborting");
                        let _ = std::io::Write::write_all(
                            &mut std::io::stderr(),
                            format!("goro: worker {i} panicked (a runtime bug); aborting\n")
                                .as_bytes(),
                        );
                        std::process::abort();
                    }
                })
                .unwrap_or_else(|e| panic!("goro: cannot start worker thread {i}: {e}"));
        }
        sysmon::start(rt);
    }
    rt
}

/// Allocates a new task (a recycled allocation on a worker, see recycle.rs).
pub(crate) fn new_task(value: Task) -> Arc<Task> {
    match running::worker() {
        Some(w) => w.free_tasks.make(value),
        None => Arc::new(value),
    }
}

/// Queues a runnable task that any worker may take: a new coroutine, or an unpinned one.
pub(crate) fn submit(task: Arc<Task>) {
    let rt = runtime();
    match running::worker() {
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
    match running::worker() {
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
