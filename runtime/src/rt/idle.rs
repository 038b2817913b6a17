//! Spinning and sleeping workers: who wakes whom, and why no wake-up is lost.
//!
//! Two counters and one flag per worker (after Go's `nmspinning`/`npidle`):
//!
//! | word                    | meaning                                     | changed by                                   |
//! |-------------------------|---------------------------------------------|----------------------------------------------|
//! | `spinning`              | workers looking for work to steal           | a worker starting/stopping to spin; `wake_one_if_needed` (+1 on behalf of the worker it wakes) |
//! | `sleeping_count`        | workers inside their sleep section          | the worker itself, on entry and exit         |
//! | `Processor::sleeping`   | this worker is blocked (or about to block) in `epoll_wait` | the worker sets it; a waker that swaps it to false owns the wake-up (eventfd write) |
//!
//! **Stealable work** (a spawn, an unpinned wake): the submitter pushes, issues a SeqCst
//! fence, and if no worker spins, reserves a spinner slot (`spinning` 0 -> 1) and wakes one
//! sleeping worker with `spin_token` set. A spinner that stops spinning decrements `spinning`,
//! fences, then re-checks every queue before it sleeps. Dekker's argument: either the
//! submitter saw `spinning > 0` and the spinner's post-decrement re-check sees the push, or
//! the submitter saw 0 and wakes someone.
//!
//! **Targeted work** (a wake-up for a started coroutine, a timer armed from another thread):
//! the waker pushes to the worker's inbox (or heap), fences, and writes the eventfd only if it
//! swaps that worker's `sleeping` flag from true to false. The sleeper stores `sleeping =
//! true`, fences, and re-checks its inbox, timers and the other workers' stealable deques
//! before it blocks: either it sees the work, or the waker sees the flag.
//!
//! Spinning is bounded: a worker becomes a spinner only while spinners are fewer than half of
//! the busy workers, and spins for a fixed number of steal rounds.
//!
//! **Idle workers as hand-off targets.** A worker with nothing to run sets its
//! `Processor::idle` flag (and counts itself in `idle_count`) before it steals, watches or
//! sleeps, and clears it when it runs something. A worker whose spawn finds unstarted work
//! already queued (worker.rs, `push_stealable`) *claims* an idle worker by swapping
//! its flag to false, pushes the coroutines into that worker's inbox and `notify`s it. The flag
//! and the count are hints, Relaxed throughout: no wake-up depends on them. The coroutines
//! travel through the inbox and `notify`'s Dekker pair above, so a claimed worker that was
//! already waking, or one that a stale flag named, still finds them; a wrong guess costs
//! balance, never a lost coroutine. The flag goes true only by its worker's store (after it
//! counted itself) and false only by a swap that saw true, so each transition moves
//! `idle_count` exactly once, the increment before the decrement.
use std::sync::atomic::{fence, AtomicUsize, Ordering};

use super::{Processor, Runtime};

pub(crate) struct Idle {
    spinning: AtomicUsize,
    sleeping_count: AtomicUsize,
    /// Workers whose `idle` flag is set.
    idle_count: AtomicUsize,
    workers: usize,
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Idle {
        Idle {
            spinning: AtomicUsize::new(0),
            sleeping_count: AtomicUsize::new(0),
            // Every worker starts idle (`Processor::new`): a burst that starts the runtime is
            // handed to workers whose threads have not reached their schedule loop yet.
            idle_count: AtomicUsize::new(workers),
            workers,
        }
    }

    pub(crate) fn spinning(&self) -> usize {
        self.spinning.load(Ordering::Relaxed)
    }

    pub(crate) fn sleeping(&self) -> usize {
        self.sleeping_count.load(Ordering::Relaxed)
    }

    /// Workers with nothing to run now (approximate; module doc).
    #[inline]
    pub(crate) fn idle_count(&self) -> usize {
        self.idle_count.load(Ordering::Relaxed)
    }

    /// Worker `p` (on its own thread) has nothing to run.
    pub(crate) fn mark_idle(&self, p: &Processor) {
        // Only this worker sets the flag, so while it is false no one else touches it: count
        // first, then publish. Release: pairs with the Acquire swap in `claim`/`mark_busy`, so
        // the increment is ordered before the decrement that follows a claim.
        if !p.idle.load(Ordering::Relaxed) {
            self.idle_count.fetch_add(1, Ordering::Relaxed);
            p.idle.store(true, Ordering::Release);
        }
    }

    /// Worker `p` (on its own thread) runs something again.
    pub(crate) fn mark_busy(&self, p: &Processor) {
        // The same transition as a claim, made by the worker itself.
        let _ = self.claim(p);
    }

    /// Claims the first idle worker of `workers`, looking from index `start` on and skipping
    /// index `skip` (the caller's own worker, or none: `usize::MAX`).
    pub(crate) fn claim_from(
        &self,
        workers: &[Processor],
        start: usize,
        skip: usize,
    ) -> Option<usize> {
        if self.idle_count() == 0 {
            return None;
        }
        let n = workers.len();
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| i != skip && self.claim(&workers[i]))
    }

    /// Claims idle worker `p` as the target of a hand-off: true if it was idle and no one
    /// else claimed it first.
    pub(crate) fn claim(&self, p: &Processor) -> bool {
        // Acquire: pairs with the Release store in `mark_idle` (see there).
        if p.idle.load(Ordering::Relaxed) && p.idle.swap(false, Ordering::Acquire) {
            self.idle_count.fetch_sub(1, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// After pushing stealable work: make sure some idle worker will look for it.
    #[inline]
    pub(crate) fn wake_one_if_needed(&self, rt: &Runtime) {
        // SeqCst fence: pairs with the fence in `stop_spinning`/the sleep section (module doc).
        fence(Ordering::SeqCst);
        if self.spinning.load(Ordering::Relaxed) != 0
            || self.sleeping_count.load(Ordering::Relaxed) == 0
        {
            return;
        }
        self.wake_one(rt);
    }

    #[cold]
    fn wake_one(&self, rt: &Runtime) {
        // Reserve the spinner slot for the worker we are about to wake.
        if self
            .spinning
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        for p in rt.workers.iter() {
            if p.sleeping.load(Ordering::Relaxed) && p.sleeping.swap(false, Ordering::AcqRel) {
                // Release: the woken worker's swap of `spin_token` (Acquire) sees it.
                p.spin_token.store(true, Ordering::Release);
                tracing::trace!(worker = p.index, "wake worker to spin");
                p.poller.wake();
                return;
            }
        }
        // Everyone is awake after all; they will find the work.
        self.spinning.fetch_sub(1, Ordering::AcqRel);
    }

    /// A worker with nothing to run asks to spin; false if enough workers spin already.
    pub(crate) fn try_start_spinning(&self) -> bool {
        let busy = self.workers - self.sleeping_count.load(Ordering::Relaxed);
        let spinning = self.spinning.load(Ordering::Relaxed);
        if 2 * spinning >= busy.max(1) {
            return false;
        }
        self.spinning.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// A spinner found work. If it was the last spinner, another worker is woken to keep
    /// looking (there may be more work), as Go's `resetspinning` does.
    pub(crate) fn spinner_found_work(&self, rt: &Runtime) {
        if self.spinning.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.wake_one_if_needed(rt);
        }
    }

    /// A spinner gives up; the caller must re-check all queues afterwards (sleep section).
    pub(crate) fn stop_spinning(&self) {
        self.spinning.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn enter_sleep(&self) {
        self.sleeping_count.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn leave_sleep(&self) {
        self.sleeping_count.fetch_sub(1, Ordering::AcqRel);
    }
}
