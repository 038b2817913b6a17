//! `goro::stats()`: a snapshot of the scheduler (Go's `runtime.NumGoroutine` and schedtrace).
use std::sync::atomic::Ordering;

/// Scheduler counters at one moment.
///
/// Counters are read without stopping the workers, so a snapshot taken while coroutines run
/// is approximate (each number is recent, they are not taken at one instant).
///
/// ```
/// let s0 = goro::stats();
/// goro::spawn(|| ()).join().unwrap();
/// let s1 = goro::stats();
/// assert!(s1.spawns > s0.spawns);
/// assert!(s1.workers >= 1);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Worker threads (Go's GOMAXPROCS).
    pub workers: usize,
    /// Coroutines spawned and not yet finished.
    pub coroutines: u64,
    /// Coroutines queued to run (approximate: queues that other threads can see).
    pub runnable: u64,
    /// Coroutines parked (waiting on a channel, timer, socket, lock, join...).
    pub parked: u64,
    /// Coroutines spawned since start.
    pub spawns: u64,
    /// Parks committed since start.
    pub parks: u64,
    /// Successful steals of unstarted coroutines by idle workers.
    pub steals: u64,
    /// Unstarted coroutines a worker handed to an idle one at the spawn instead of queuing
    /// them behind other unstarted ones (the spread of a burst, docs/ARCHITECTURE.md).
    pub handoffs: u64,
    /// Times a worker had runnable coroutines waiting for more than 10 ms while another
    /// worker idled, counted once per sysmon interval (10 ms) per worker. It stays at 0 while
    /// every core that has work to share gets it; it grows when started coroutines, which
    /// never change worker, pile up on one worker (docs/CAVEATS.md).
    pub waited_idle: u64,
    /// Coroutine resumes since start.
    pub switches: u64,
    /// Workers spinning for work now.
    pub spinning: usize,
    /// Workers sleeping in the poller now.
    pub sleeping: usize,
    /// Armed timers (sleeps, deadlines, `Timer`s).
    pub timers: usize,
    /// Coroutine stacks allocated (in use or pooled).
    pub stacks: usize,
    /// Finished coroutines' allocations kept in the shared free list for reuse by the next
    /// spawns (besides up to 256 per worker). A burst can leave more; sysmon frees what is
    /// over 4,096 within about 10 ms.
    pub free_tasks: usize,
    /// Per-worker detail, indexed by worker.
    pub per_worker: Vec<WorkerStats>,
}

/// One worker's share of [`Stats`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Coroutines waiting to run on this worker: its home queue and `runnext` (started
    /// coroutines woken or yielded here, as of its last switch), its stealable deque and its
    /// inbox.
    pub queued: u64,
    /// Coroutines that first ran on this worker since start (it became their home).
    pub starts: u64,
    /// Unstarted coroutines this worker handed to idle workers (see [`Stats::handoffs`]).
    pub handoffs: u64,
    /// This worker's share of [`Stats::waited_idle`].
    pub waited_idle: u64,
    /// Armed timers in this worker's heap.
    pub timers: usize,
    /// Coroutines started on this worker and not finished (it is their home).
    pub homed: u64,
    /// Live connections placed on this worker by
    /// [`io::spawn_balanced`](crate::io::spawn_balanced) (the figure it balances on).
    pub connections: usize,
    /// Share of sysmon's last 10 ms interval this worker was awake (running coroutines or
    /// looking for work rather than blocked in its poller), per mille: 0 idle, 1000 busy
    /// throughout. Connection placement packs by it.
    pub load: u32,
}

/// Takes a snapshot of the runtime's counters (starting the runtime if needed).
pub fn stats() -> Stats {
    let rt = crate::rt::runtime();
    let mut s = Stats {
        workers: rt.workers.len(),
        spinning: rt.idle.spinning(),
        sleeping: rt.idle.sleeping(),
        ..Stats::default()
    };
    // Completions and wake-ups are read before spawns and parks: a coroutine is always
    // counted as spawned before it is counted as completed (parked before woken), so the
    // differences below never undercount while other threads keep counting.
    let completed: u64 = rt
        .workers
        .iter()
        .map(|p| p.counters.completed.load(Ordering::Relaxed))
        .sum();
    let wakes: u64 = rt
        .workers
        .iter()
        .map(|p| p.counters.wakes.load(Ordering::Relaxed))
        .sum();
    s.spawns = rt.foreign.spawns.load(Ordering::Relaxed);
    let conns = crate::netpoll::connections();
    for p in rt.workers.iter() {
        let c = &p.counters;
        // Completions first, as above: `homed` may overcount a moment, never undercount.
        let done_here = c.completed.load(Ordering::Relaxed);
        let homed = c.starts.load(Ordering::Relaxed).saturating_sub(done_here);
        s.spawns += c.spawns.load(Ordering::Relaxed);
        s.parks += c.parks.load(Ordering::Relaxed);
        s.steals += c.steals.load(Ordering::Relaxed);
        s.switches += c.switches.load(Ordering::Relaxed);
        let handoffs = c.handoffs.load(Ordering::Relaxed);
        let waited_idle = c.waited_idle.load(Ordering::Relaxed);
        s.handoffs += handoffs;
        s.waited_idle += waited_idle;
        let queued =
            (p.stealer.len() + p.inbox.len()) as u64 + c.local_queued.load(Ordering::Relaxed);
        s.runnable += queued;
        let timers = crate::time::armed(p.index);
        s.timers += timers;
        s.per_worker.push(WorkerStats {
            queued,
            starts: c.starts.load(Ordering::Relaxed),
            handoffs,
            waited_idle,
            timers,
            homed,
            connections: conns[p.index].load(Ordering::Relaxed),
            load: p.load.load(Ordering::Relaxed),
        });
    }
    s.coroutines = s.spawns.saturating_sub(completed);
    s.parked = s.parks.saturating_sub(wakes);
    let stacks = crate::stack::stats();
    s.stacks = stacks.live + stacks.pooled;
    s.free_tasks = crate::rt::free_tasks();
    s
}
