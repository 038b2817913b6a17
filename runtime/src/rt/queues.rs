//! A worker's run queues, as the code that makes tasks runnable sees them (Go's P, private
//! half): where a task woken or spawned on this worker goes. The schedule loop (`sched`)
//! pops them; this module only pushes, so it sits below the loop with the rest of the
//! runtime handle.
//!
//! Only the worker's own thread touches a `RunQueues`; it finds its own through [`local`].
//!
//! # Where a new coroutine starts: spreading at spawn
//!
//! A coroutine's first run decides its thread for life (sched/mod.rs), so its placement is
//! fixed when it is queued. A spawn on this worker (`push_stealable`) decides it at once:
//!
//! - **Nothing unstarted waits here** (the deque is empty): it stays. A spawner's first
//!   child (a ping-pong partner, a spawn-then-join, a pipeline's next stage) starts beside
//!   it, as before.
//! - **Unstarted work already waits here and another worker is idle**: it goes to that
//!   worker. The spawner *claims* the idle worker (idle.rs), pushes the coroutine into its
//!   inbox and notifies it (Go's `wakep`, with a direct hand-off instead of a steal race:
//!   a first run takes microseconds here, a wake-up on this VM tens of them). The claimed
//!   worker joins this worker's *spread set*.
//! - **Unstarted work waits, no worker is idle, and the spread set is not empty**: spawns
//!   take turns over this worker and its spread set, so a burst of N spawned while W
//!   workers idled lands about N/W on each, before any of it has run.
//! - Otherwise it stays (every core is busy: locality costs nothing).
//!
//! The spread set is emptied when this worker goes idle: a burst ends when its worker ran
//! out of work. Nothing here waits or spins, and a spawn while no worker is idle costs one
//! relaxed load more than before.
//!
//! **Dealing is bounded: [`DEAL_PER_WORKER`] per worker of the spread set, per burst.** A
//! burst longer than that (a coroutine spawning a stream of short coroutines) goes on
//! queueing here, and the spread workers, busy with their share, take the rest by stealing
//! once they run dry. Dealing every spawn of a long stream made half of them cross threads
//! one by one (an inbox push, a wake-up check, the task's cache lines moving), which
//! tripled the cost of a spawn; a steal from a deep backlog takes a batch instead
//! (`sched::worker::steal_limit`). The counted placement bound does not move: a burst of up
//! to `DEAL_PER_WORKER` per worker is dealt exactly as before, and a longer one is already
//! spread `DEAL_PER_WORKER` deep on every worker of the set before anything is left to
//! thieves, which take at most a `1/(4·workers)` share of a backlog at a time.
//!
//! Thieves take unstarted coroutines only from a deque holding more than `FEW_TASKS` (or
//! from a worker sysmon flagged as stuck in a long run), one at a time unless the backlog
//! is deep: a thief takes no more than it is about to run, so a worker whose thread got more
//! CPU (more workers than cores) cannot carry off half of another's share of a burst.
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ptr;
use std::sync::Arc;

use crossbeam_deque::Worker;

use super::processor::Counters;
use super::recycle::FreeTasks;
use super::{Processor, Runtime};
use crate::coroutine::Task;

/// Spawns dealt to each worker of the spread set in one burst, at most (module doc).
const DEAL_PER_WORKER: usize = 64;

thread_local! {
    /// This worker thread's queues (null on plain threads).
    static QUEUES: Cell<*const RunQueues> = const { Cell::new(ptr::null()) };
}

/// The queues of the worker this thread is, if it is a worker thread.
///
/// `#[inline(never)]` for the reason `running.rs` gives: the address of a thread-local must
/// be computed afresh after a coroutine switch. The reference must not be kept across a park
/// point.
#[inline(never)]
pub(crate) fn local() -> Option<&'static RunQueues> {
    let p = QUEUES.with(Cell::get);
    // SAFETY: `RunQueues::enter` stores a pointer to a leaked (never freed) `RunQueues` owned
    // by this very thread; it is only ever read back on the same thread.
    unsafe { p.as_ref() }
}

/// The run queues of one worker; only its thread touches them.
pub(crate) struct RunQueues {
    pub(crate) index: usize,
    pub(crate) rt: &'static Runtime,
    /// `rt.workers[index]`, kept at hand: the schedule loop reads it on every switch.
    pub(crate) shared: &'static Processor,
    /// Unstarted (and unpinned) tasks; other workers steal from its other end.
    pub(crate) deque: Worker<Arc<Task>>,
    /// Started tasks woken or yielded here.
    pub(crate) home: RefCell<VecDeque<Arc<Task>>>,
    /// One task woken by this worker, run next (Go's `runnext`).
    pub(crate) runnext: Cell<Option<Arc<Task>>>,
    /// The idle workers this worker claimed for its current burst (module doc).
    spread: RefCell<Vec<usize>>,
    /// Where the next spawn of the burst goes among this worker (0) and `spread` (1..).
    spread_turn: Cell<usize>,
    /// Spawns of the current burst handed to other workers (bounded by `DEAL_PER_WORKER`).
    dealt: Cell<usize>,
    /// Mirror of `Processor::idle` as this worker last set it (saves an atomic per loop).
    pub(crate) idle_mark: Cell<bool>,
    rng: Cell<u64>,
    pub(crate) free_tasks: FreeTasks,
}

impl RunQueues {
    /// Makes this thread worker `index` for the rest of its life, with `deque` as its
    /// queue of unstarted tasks.
    pub(crate) fn enter(
        rt: &'static Runtime,
        index: usize,
        deque: Worker<Arc<Task>>,
    ) -> &'static RunQueues {
        let q: &'static RunQueues = Box::leak(Box::new(RunQueues {
            index,
            rt,
            shared: &rt.workers[index],
            deque,
            home: RefCell::new(VecDeque::new()),
            runnext: Cell::new(None),
            spread: RefCell::new(Vec::new()),
            spread_turn: Cell::new(0),
            dealt: Cell::new(0),
            idle_mark: Cell::new(true),
            rng: Cell::new(0x9e37_79b9_7f4a_7c15 ^ ((index as u64 + 1) << 17)),
            free_tasks: FreeTasks::default(),
        }));
        QUEUES.with(|c| c.set(q));
        crate::running::set_worker(index);
        q
    }

    /// Queues a new (or unpinned) task spawned on this worker: here, or on an idle worker
    /// (module doc, "Where a new coroutine starts").
    ///
    /// Not `runnext` (Go puts a new G there): tried, it kept a spawned partner with its
    /// spawner but split pipeline stages over workers and slowed spawn bursts.
    pub(crate) fn push_stealable(&self, task: Arc<Task>) {
        if self.deque.is_empty() {
            self.deque.push(task);
            return;
        }
        if self.others_idle() > 0 {
            if let Some(j) = self.claim_idle() {
                // A worker claimed earlier in this burst that ran dry and idled again is
                // claimed again: it must not join the spread set twice (it would get two
                // turns in every round).
                let mut spread = self.spread.borrow_mut();
                if !spread.contains(&j) {
                    spread.push(j);
                }
                drop(spread);
                self.spread_turn.set(0);
                return self.give(j, task);
            }
        }
        let to = {
            let spread = self.spread.borrow();
            if spread.is_empty() || self.dealt.get() >= DEAL_PER_WORKER * spread.len() {
                None
            } else {
                let turn = self.spread_turn.get();
                self.spread_turn.set((turn + 1) % (spread.len() + 1));
                turn.checked_sub(1).map(|k| spread[k])
            }
        };
        match to {
            Some(j) => self.give(j, task),
            None => self.deque.push(task),
        }
    }

    /// Claims an idle worker other than this one (idle.rs), from a random start.
    pub(crate) fn claim_idle(&self) -> Option<usize> {
        let start = (self.next_random() % self.rt.workers.len() as u64) as usize;
        self.rt.idle.claim_from(&self.rt.workers, start, self.index)
    }

    /// Ends this worker's burst (it ran out of work): no spread set, nothing dealt.
    pub(crate) fn end_burst(&self) {
        if !self.spread.borrow().is_empty() {
            self.spread.borrow_mut().clear();
        }
        self.dealt.set(0);
    }

    /// Hands the unstarted `task` to worker `j`: its inbox, and a wake-up if it sleeps.
    fn give(&self, j: usize, task: Arc<Task>) {
        self.dealt.set(self.dealt.get() + 1);
        tracing::trace!(worker = self.index, to = j, coroutine = %task.id, "hand-off");
        self.rt.workers[j].inbox.push(task);
        Counters::bump(&self.shared.counters.handoffs);
        super::notify(j);
    }

    /// Queues a task woken on its own home worker: it runs next (Go's `runnext`), the one it
    /// displaces goes to the back of the home queue.
    pub(crate) fn ready_local(&self, task: Arc<Task>) {
        if let Some(old) = self.runnext.replace(Some(task)) {
            self.home.borrow_mut().push_back(old);
        }
    }

    /// Counts a spawn made on this worker.
    pub(crate) fn count_spawn(&self) {
        Counters::bump(&self.shared.counters.spawns);
    }

    pub(crate) fn next_random(&self) -> u64 {
        // xorshift64*: victim selection only.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Other workers idle now (approximate, idle.rs).
    #[inline]
    pub(crate) fn others_idle(&self) -> usize {
        self.rt
            .idle
            .idle_count()
            .saturating_sub(usize::from(self.idle_mark.get()))
    }
}
