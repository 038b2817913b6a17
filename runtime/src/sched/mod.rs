//! The scheduler: Go's G/M/P, with one rule added for soundness.
//!
//! # Concepts
//!
//! - **G** is a coroutine ([`Task`]): a corosensei coroutine on its own stack, a park state
//!   word and a *home* worker.
//! - **M + P** are fused into a *worker*: one OS thread per processor, for the life of the
//!   process (`GORO_MAXPROCS`, default: the available cores). Its private half lives on its
//!   own thread: the run queues (`rt::RunQueues`, which code below the scheduler pushes to)
//!   and the loop's own state (worker.rs). Its shared half (`rt::Processor`) is what other
//!   threads may touch: the stealer end of its deque, its inbox, its poller, its sleep and
//!   idle flags and its counters. Its timer heap is kept by `time`, indexed by worker.
//!
//! # Layers
//!
//! This module is the schedule loop (worker.rs) and sysmon; it sits above everything that
//! makes a task runnable. Where a runnable task *goes* (`ready`, `submit`, `notify`, the
//! placement of new coroutines, the idle/spinning protocol) is the runtime handle, `rt/`,
//! below it: park, timers, netpoll and sync call that, and nothing below this module names
//! it. The crate root wires the two together once (`LAUNCH`: `rt` boots, then calls
//! [`launch`]).
//!
//! There is no global run queue: a coroutine spawned from a plain thread is dealt to the
//! workers in turn, an idle one first (its inbox, moved to its stealable deque): see
//! `rt::foreign_target`.
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
//!   claims that idle worker and hands the new coroutine straight to its inbox (rt/queues.rs,
//!   `push_stealable`: Go's `wakep`, with a direct hand-off instead of a steal race); the
//!   burst's later spawns take turns over the spawner's worker and the workers it claimed,
//!   so N spawned while W workers idle land about N/W on each before any of them runs
//!   (up to 64 per claimed worker; the tail of a longer burst is left to thieves);
//! - a plain thread deals its spawns to the workers in turn, idle ones first
//!   (`rt::foreign_target`);
//! - thieves take one unstarted coroutine at a time (a small batch from a deep backlog,
//!   `worker::steal_limit`), and only from a deque holding more than 4 (or behind a run
//!   that sysmon saw computing for a whole tick), so a spawner's partner stays with it and
//!   a worker whose thread got more CPU cannot carry off half of another's share.
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
//! | `deque`    | unstarted (and unpinned) tasks         | `spawn` on this worker (the rest of a burst goes to idle workers' inboxes) | this worker; other workers steal from more than 4 (one at a time, a small batch from a deep backlog) |
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
//! fast path makes one (rt/idle.rs has the protocol and its proof):
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
//! is the worker's own (rt/recycle.rs, Go's G free lists); a closure of up to 32 bytes lives
//! inside it (start.rs). The stack is taken when the coroutine first runs, from the running
//! worker's cache, so queued coroutines hold none.
mod sysmon;
mod worker;

use std::sync::Arc;

use crossbeam_deque::Worker;

use crate::coroutine::Task;
use crate::rt::Runtime;

/// Starts the worker threads and sysmon of the runtime `rt` just built (`rt::Launch`).
pub(crate) fn launch(rt: &'static Runtime, deques: Vec<Worker<Arc<Task>>>) {
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
                        format!("goro: worker {i} panicked (a runtime bug); aborting\n").as_bytes(),
                    );
                    std::process::abort();
                }
            })
            .unwrap_or_else(|e| panic!("goro: cannot start worker thread {i}: {e}"));
    }
    sysmon::start(rt);
}
