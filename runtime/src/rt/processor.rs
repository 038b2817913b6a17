//! The shared half of a worker (Go's P as other threads see it).
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;

use crate::coroutine::Task;
use crate::poller::Poller;

/// Event counters of one worker. Each is written by one thread only (the worker, or for
/// [`Runtime::foreign`](super::Runtime) under its own atomics), so a bump is a load and a
/// store, not a locked read-modify-write; readers (`stats()`, sysmon) see a recent value.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) spawns: AtomicU64,
    pub(crate) completed: AtomicU64,
    /// First resumes on this worker (it became their home).
    pub(crate) starts: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) wakes: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) switches: AtomicU64,
    /// Unstarted coroutines this worker handed to idle workers instead of starting them
    /// (worker.rs, `give`).
    pub(crate) handoffs: AtomicU64,
    /// sysmon intervals in which this worker had runnable coroutines waiting for more than
    /// 10 ms while another worker idled (written by sysmon, the only writer).
    pub(crate) waited_idle: AtomicU64,
    /// Started coroutines waiting in this worker's home queue and `runnext`, published by the
    /// worker before each resume (only it can see those queues).
    pub(crate) local_queued: AtomicU64,
    /// When this worker's run queues (home, `runnext`, deque) last went from empty to
    /// non-empty (ns since the time epoch), or 0 while they are empty: how long runnable
    /// coroutines have waited here without a break (sysmon's backlog check).
    pub(crate) backlog_since: AtomicU64,
}

impl Counters {
    /// Adds one to a counter this thread alone writes.
    #[inline]
    pub(crate) fn bump(c: &AtomicU64) {
        c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }
}

/// What other threads may touch of a worker.
pub(crate) struct Processor {
    pub(crate) index: usize,
    /// Steal end of the worker's deque of unstarted (and unpinned) tasks.
    pub(crate) stealer: Stealer<Arc<Task>>,
    /// Started tasks of this worker woken by other threads, and coroutines spawned from plain
    /// threads (the worker moves those to its deque).
    pub(crate) inbox: Injector<Arc<Task>>,
    /// The worker's epoll instance: where it sleeps, and where its sockets are registered.
    pub(crate) poller: Poller,
    /// The worker announced it is about to block in `poller.wait` (see idle.rs).
    pub(crate) sleeping: CachePadded<AtomicBool>,
    /// Set by `wake_one_if_needed` before waking this worker: it starts as a spinner.
    pub(crate) spin_token: AtomicBool,
    /// Id of the coroutine running now, or 0 (for sysmon).
    pub(crate) running: AtomicU64,
    /// Set by sysmon when the current run is too long; the worker reports it on return.
    pub(crate) long_run: AtomicBool,
    /// The CPU-time clock of this worker's thread (Linux; `-1` until the worker starts or
    /// where there is none), so sysmon can tell a coroutine that computes from a thread the
    /// OS did not run (sysmon.rs, `thread_cpu_ns` and `ON_CPU_NS`).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only Linux has the clock
    pub(crate) cpu_clock: std::sync::atomic::AtomicI32,
    /// Nanoseconds this worker has spent blocked in `poller.wait` (written by the worker).
    pub(crate) slept_ns: AtomicU64,
    /// When the current blocking wait began (ns since the time epoch), or 0 while awake.
    pub(crate) asleep_since: AtomicU64,
    /// Share of sysmon's last interval this worker spent awake, per mille (written by
    /// sysmon): the "is it busy?" figure connection placement packs by (see `io.rs`).
    pub(crate) load: AtomicU32,
    /// The worker has nothing to run (it is looking for work to steal, watching for more, or
    /// asleep): a target for unstarted coroutines that a busy worker hands off. Set by the
    /// worker, cleared by the worker or by the thread that claims it (`Idle::claim`); a hint,
    /// see idle.rs.
    pub(crate) idle: AtomicBool,
    pub(crate) counters: CachePadded<Counters>,
}

impl Processor {
    pub(crate) fn new(index: usize, stealer: Stealer<Arc<Task>>) -> io::Result<Processor> {
        Ok(Processor {
            index,
            stealer,
            inbox: Injector::new(),
            poller: Poller::new()?,
            sleeping: CachePadded::new(AtomicBool::new(false)),
            spin_token: AtomicBool::new(false),
            running: AtomicU64::new(0),
            long_run: AtomicBool::new(false),
            cpu_clock: std::sync::atomic::AtomicI32::new(-1),
            slept_ns: AtomicU64::new(0),
            asleep_since: AtomicU64::new(0),
            load: AtomicU32::new(0),
            // A worker is idle until it first runs something (`Idle::new` counts it so).
            idle: AtomicBool::new(true),
            counters: CachePadded::new(Counters::default()),
        })
    }
}
