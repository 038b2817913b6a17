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
//! **Handing over the spinner slot.** The slot `wake_one` reserves (`spinning` 0 -> 1) belongs
//! to the worker it wakes, which counts as a spinner when its sleep section returns the
//! `spin_token`. The token must not arrive late: a worker whose re-check found work leaves its
//! sleep section without blocking, and if it read the token before the waker wrote it, the
//! slot would stay reserved for a spinner that never spins; until that worker's next sleep,
//! every push would see `spinning > 0` and wake no one (the loom model found this). So the
//! waker writes the token *before* it swaps `sleeping` to false, and the worker ends its sleep
//! section with an Acquire swap of `sleeping` before it reads the token: a worker whose flag
//! was taken sees the token. A waker that loses the flag takes its token back with a swap,
//! unless the worker already consumed it (then that worker spins on the slot). Only the one
//! `wake_one` that reserved the slot writes a token, so two cannot mix.
//!
//! Spinning is bounded: a worker becomes a spinner only while spinners are fewer than half of
//! the busy workers, and spins for a fixed number of steal rounds.
//!
//! **Idle workers as hand-off targets.** A worker with nothing to run sets its
//! `Processor::idle` flag (and counts itself in `idle_count`) before it steals, watches or
//! sleeps, and clears it when it runs something. A worker whose spawn finds unstarted work
//! already queued (rt/queues.rs, `push_stealable`) *claims* an idle worker by swapping
//! its flag to false, pushes the coroutines into that worker's inbox and `notify`s it. The flag
//! and the count are hints, Relaxed throughout: no wake-up depends on them. The coroutines
//! travel through the inbox and `notify`'s Dekker pair above, so a claimed worker that was
//! already waking, or one that a stale flag named, still finds them; a wrong guess costs
//! balance, never a lost coroutine. The flag goes true only by its worker's store (after it
//! counted itself) and false only by a swap that saw true, so each transition moves
//! `idle_count` exactly once, the increment before the decrement.
//!
//! # Model-checked
//!
//! Every step of both Dekker pairs is here: the pusher's halves (`wake_one_if_needed`,
//! `wake_if_sleeping`), the spinner's (`try_start_spinning`, `stop_spinning`,
//! `spinner_found_work`) and the whole sleep section (`sleep`, to which the worker passes its
//! re-check and its block). They are generic over [`Atomics`] and [`Sleeper`]: the runtime
//! runs them monomorphised for std's atomics and [`Processor`] (no indirection), and the loom
//! models at the bottom run the same functions on loom's atomics, with a loom `Notify` as each
//! worker's poller, so that a lost wake-up leaves a worker blocked for good and loom reports
//! the deadlock.
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};

use super::Processor;

/// The atomics the protocol runs on: std's in the runtime, loom's in the models.
pub(crate) trait Atomics {
    type Count: Count;
    type Flag: Flag;
    fn fence(order: Ordering);
}

/// The runtime's atomics.
pub(crate) struct Std;

impl Atomics for Std {
    type Count = AtomicUsize;
    type Flag = AtomicBool;
    #[inline]
    fn fence(order: Ordering) {
        fence(order)
    }
}

/// The counter operations the protocol uses (`spinning`, `sleeping_count`).
pub(crate) trait Count {
    fn new(value: usize) -> Self;
    fn load(&self, order: Ordering) -> usize;
    fn fetch_add(&self, n: usize, order: Ordering) -> usize;
    fn fetch_sub(&self, n: usize, order: Ordering) -> usize;
    fn compare_exchange(
        &self,
        current: usize,
        new: usize,
        ok: Ordering,
        err: Ordering,
    ) -> Result<usize, usize>;
}

impl Count for AtomicUsize {
    #[inline]
    fn new(value: usize) -> Self {
        AtomicUsize::new(value)
    }
    #[inline]
    fn load(&self, order: Ordering) -> usize {
        AtomicUsize::load(self, order)
    }
    #[inline]
    fn fetch_add(&self, n: usize, order: Ordering) -> usize {
        AtomicUsize::fetch_add(self, n, order)
    }
    #[inline]
    fn fetch_sub(&self, n: usize, order: Ordering) -> usize {
        AtomicUsize::fetch_sub(self, n, order)
    }
    #[inline]
    fn compare_exchange(
        &self,
        current: usize,
        new: usize,
        ok: Ordering,
        err: Ordering,
    ) -> Result<usize, usize> {
        AtomicUsize::compare_exchange(self, current, new, ok, err)
    }
}

/// The flag operations the protocol uses (`Processor::sleeping`, `Processor::spin_token`).
pub(crate) trait Flag {
    fn load(&self, order: Ordering) -> bool;
    fn store(&self, value: bool, order: Ordering);
    fn swap(&self, value: bool, order: Ordering) -> bool;
}

impl Flag for AtomicBool {
    #[inline]
    fn load(&self, order: Ordering) -> bool {
        AtomicBool::load(self, order)
    }
    #[inline]
    fn store(&self, value: bool, order: Ordering) {
        AtomicBool::store(self, value, order)
    }
    #[inline]
    fn swap(&self, value: bool, order: Ordering) -> bool {
        AtomicBool::swap(self, value, order)
    }
}

/// What the protocol sees of a worker: [`Processor`] in the runtime.
pub(crate) trait Sleeper<A: Atomics> {
    fn index(&self) -> usize;
    /// The worker announced it is about to block (`Processor::sleeping`).
    fn sleeping(&self) -> &A::Flag;
    /// It is woken to spin (`Processor::spin_token`).
    fn spin_token(&self) -> &A::Flag;
    /// Makes the worker's current or next block return (its poller's wake-up source).
    fn wake(&self);
}

impl Sleeper<Std> for Processor {
    #[inline]
    fn index(&self) -> usize {
        self.index
    }
    #[inline]
    fn sleeping(&self) -> &AtomicBool {
        &self.sleeping
    }
    #[inline]
    fn spin_token(&self) -> &AtomicBool {
        &self.spin_token
    }
    #[inline]
    fn wake(&self) {
        self.poller.wake();
    }
}

pub(crate) struct Idle<A: Atomics = Std> {
    spinning: A::Count,
    sleeping_count: A::Count,
    /// Workers whose `idle` flag is set.
    idle_count: AtomicUsize,
    workers: usize,
}

impl<A: Atomics> Idle<A> {
    pub(crate) fn new(workers: usize) -> Self {
        Idle {
            spinning: A::Count::new(0),
            sleeping_count: A::Count::new(0),
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

    /// After pushing stealable work: make sure some idle worker of `workers` will look for it.
    #[inline]
    pub(crate) fn wake_one_if_needed<P: Sleeper<A>>(&self, workers: &[P]) {
        // SeqCst fence: pairs with the fence in the sleep section, which a spinner that gives
        // up passes through after `stop_spinning` (module doc).
        A::fence(Ordering::SeqCst);
        if self.spinning.load(Ordering::Relaxed) != 0
            || self.sleeping_count.load(Ordering::Relaxed) == 0
        {
            return;
        }
        self.wake_one(workers);
    }

    #[cold]
    fn wake_one<P: Sleeper<A>>(&self, workers: &[P]) {
        // Reserve the spinner slot for the worker we are about to wake.
        if self
            .spinning
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        for p in workers {
            let sleeping = p.sleeping();
            if !sleeping.load(Ordering::Relaxed) {
                continue;
            }
            // The token goes in before we take the flag (module doc, "Handing over the
            // spinner slot"). Relaxed: the swap below is the Release that publishes it.
            p.spin_token().store(true, Ordering::Relaxed);
            // AcqRel: Release pairs with the worker's Acquire swap of `sleeping` at the end of
            // its sleep section, so it then sees the token.
            if sleeping.swap(false, Ordering::AcqRel) {
                tracing::trace!(worker = p.index(), "wake worker to spin");
                p.wake();
                return;
            }
            // It left its sleep section first (or another waker took the flag). Take the token
            // back, unless it consumed it already: then it spins on the slot we reserved.
            if !p.spin_token().swap(false, Ordering::Relaxed) {
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
    pub(crate) fn spinner_found_work<P: Sleeper<A>>(&self, workers: &[P]) {
        if self.spinning.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.wake_one_if_needed(workers);
        }
    }

    /// A spinner gives up; the caller must re-check all queues afterwards (sleep section).
    pub(crate) fn stop_spinning(&self) {
        self.spinning.fetch_sub(1, Ordering::AcqRel);
    }

    /// After pushing targeted work for worker `p` (its inbox, its timers): wakes it if it
    /// announced sleep.
    #[inline]
    pub(crate) fn wake_if_sleeping<P: Sleeper<A>>(&self, p: &P) {
        // SeqCst fence: Dekker with the sleeper, which stores `sleeping = true`, fences, then
        // re-checks its inbox and timers (`sleep`). Either it sees what we pushed, or we see
        // its flag and wake it.
        A::fence(Ordering::SeqCst);
        let sleeping = p.sleeping();
        if sleeping.load(Ordering::Relaxed) && sleeping.swap(false, Ordering::AcqRel) {
            tracing::trace!(worker = p.index(), "wake worker (inbox)");
            p.wake();
        }
    }

    /// Worker `p` (on its own thread) has nothing to do: the sleep section. Announces sleep,
    /// runs `work_visible` (the re-check of everything a waker may have pushed: its inbox,
    /// timers, the other workers' deques) and, only if that finds nothing, `block` (the wait
    /// in its poller, which `Sleeper::wake` ends). Returns whether it was woken to spin
    /// (`wake_one` reserved a spinner slot for it).
    #[inline]
    pub(crate) fn sleep<P: Sleeper<A>>(
        &self,
        p: &P,
        work_visible: impl FnOnce() -> bool,
        block: impl FnOnce(),
    ) -> bool {
        self.sleeping_count.fetch_add(1, Ordering::AcqRel);
        p.sleeping().store(true, Ordering::Relaxed);
        // SeqCst fence: the sleeper's half of both Dekker pairs (module doc): with the fence
        // in `wake_one_if_needed` (a pusher reads `spinning`/`sleeping_count` after it, we
        // changed them before it) and with the one in `wake_if_sleeping` (`sleeping`).
        A::fence(Ordering::SeqCst);
        if !work_visible() {
            block();
        }
        // A swap, not a store, and Acquire: pairs with the Release swap in `wake_one`, so a
        // waker that took the flag has its spin token visible to the swap below (module doc,
        // "Handing over the spinner slot").
        p.sleeping().swap(false, Ordering::Acquire);
        self.sleeping_count.fetch_sub(1, Ordering::AcqRel);
        // Relaxed: ordered by the swap of `sleeping` above.
        p.spin_token().swap(false, Ordering::Relaxed)
    }
}

/// loom models of the wake-up protocol (module doc, "Model-checked"):
/// `RUSTFLAGS="--cfg loom" cargo test -p goro --lib --release loom_` (see `.ci/run`). Each
/// worker runs the schedule loop's idle path (sched/worker.rs, `run`) with the functions above and
/// blocks on a loom `Notify` for its poller, so a lost wake-up is a deadlock loom reports. A
/// queue is a counter of tasks: a push is a Relaxed increment, so only the protocol's fences
/// can make it visible to a worker's re-check, as only they do in the runtime.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::{AtomicBool as LoomBool, AtomicUsize as LoomUsize};
    use loom::sync::{Arc, Notify};
    use loom::thread;

    struct Model;

    impl Atomics for Model {
        type Count = LoomUsize;
        type Flag = LoomBool;
        fn fence(order: Ordering) {
            loom::sync::atomic::fence(order)
        }
    }

    impl Count for LoomUsize {
        fn new(value: usize) -> Self {
            LoomUsize::new(value)
        }
        fn load(&self, order: Ordering) -> usize {
            LoomUsize::load(self, order)
        }
        fn fetch_add(&self, n: usize, order: Ordering) -> usize {
            LoomUsize::fetch_add(self, n, order)
        }
        fn fetch_sub(&self, n: usize, order: Ordering) -> usize {
            LoomUsize::fetch_sub(self, n, order)
        }
        fn compare_exchange(
            &self,
            current: usize,
            new: usize,
            ok: Ordering,
            err: Ordering,
        ) -> Result<usize, usize> {
            LoomUsize::compare_exchange(self, current, new, ok, err)
        }
    }

    impl Flag for LoomBool {
        fn load(&self, order: Ordering) -> bool {
            LoomBool::load(self, order)
        }
        /// A swap, not a store: loom 0.7 lets a plain store land between the read and the
        /// write of another thread's read-modify-write (tokio-rs/loom#254), an execution no
        /// machine has (here: a sleeper's `sleeping = true` slipping inside a waker's swap).
        /// A swap differs from a store only in continuing release sequences; the protocol's
        /// stores are Relaxed and no Acquire reader relies on one.
        fn store(&self, value: bool, order: Ordering) {
            LoomBool::swap(self, value, order);
        }
        fn swap(&self, value: bool, order: Ordering) -> bool {
            LoomBool::swap(self, value, order)
        }
    }

    /// A worker's shared half as the protocol sees it; its poller is a `Notify`.
    struct Worker {
        index: usize,
        sleeping: LoomBool,
        spin_token: LoomBool,
        poller: Notify,
        /// Tasks pushed to this worker alone (its inbox).
        inbox: LoomUsize,
    }

    impl Sleeper<Model> for Worker {
        fn index(&self) -> usize {
            self.index
        }
        fn sleeping(&self) -> &LoomBool {
            &self.sleeping
        }
        fn spin_token(&self) -> &LoomBool {
            &self.spin_token
        }
        fn wake(&self) {
            self.poller.notify();
        }
    }

    struct World {
        idle: Idle<Model>,
        workers: Vec<Worker>,
        /// Stealable tasks (any worker's deque: every worker's re-check looks at them all).
        stealable: LoomUsize,
        /// Set by the worker that ran the last task: the model is over (test-only shutdown).
        done: LoomBool,
    }

    fn world(n: usize) -> Arc<World> {
        Arc::new(World {
            idle: Idle::new(n),
            workers: (0..n)
                .map(|index| Worker {
                    index,
                    sleeping: LoomBool::new(false),
                    spin_token: LoomBool::new(false),
                    poller: Notify::new(),
                    inbox: LoomUsize::new(0),
                })
                .collect(),
            stealable: LoomUsize::new(0),
            done: LoomBool::new(false),
        })
    }

    /// Takes one task from `q` if it has one.
    fn take(q: &LoomUsize) -> bool {
        let mut n = q.load(Ordering::Relaxed);
        while n != 0 {
            match q.compare_exchange(n, n - 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
        false
    }

    /// Worker `i`'s schedule loop with nothing local to run (sched/worker.rs, `run`), until some
    /// worker has run the model's one task. `spinning`: it starts as a spinner.
    fn run_worker(w: &World, i: usize, mut spinning: bool) {
        let me = &w.workers[i];
        loop {
            if w.done.load(Ordering::Acquire) {
                if spinning {
                    w.idle.stop_spinning();
                }
                return;
            }
            if take(&me.inbox) || take(&w.stealable) {
                if spinning {
                    w.idle.spinner_found_work(&w.workers);
                }
                // Run it; then, test-only, stop the other workers.
                w.done.store(true, Ordering::Release);
                for other in &w.workers {
                    other.poller.notify();
                }
                return;
            }
            if spinning {
                w.idle.stop_spinning(); // (found nothing to steal)
            }
            let visible = || {
                me.inbox.load(Ordering::Relaxed) != 0
                    || w.stealable.load(Ordering::Relaxed) != 0
                    || w.done.load(Ordering::Acquire)
            };
            spinning = w.idle.sleep(me, visible, || me.poller.wait());
        }
    }

    /// When every thread is done, nobody spins or sleeps: a spinner slot reserved for a
    /// worker that never spun would make later pushes wake no one.
    fn quiescent(w: &World) {
        assert_eq!(w.idle.spinning(), 0, "a spinner slot leaked");
        assert_eq!(w.idle.sleeping(), 0);
    }

    /// Stealable work (a spawn) arrives while the last spinner gives up and goes to sleep:
    /// either the pusher sees the spinner (and relies on its re-check), or the spinner's
    /// re-check misses the push and the pusher sees the sleeper and wakes it.
    #[test]
    fn loom_idle_spawn_races_the_last_spinner() {
        loom::model(|| {
            let w = world(1);
            assert!(w.idle.try_start_spinning());
            let pusher = {
                let w = w.clone();
                thread::spawn(move || {
                    w.stealable.fetch_add(1, Ordering::Relaxed);
                    w.idle.wake_one_if_needed(&w.workers);
                })
            };
            run_worker(&w, 0, true);
            pusher.join().unwrap();
            quiescent(&w);
        });
    }

    /// Targeted work (a wake-up for a started coroutine: its home's inbox) arrives while
    /// that worker announces sleep: it sees the push in its re-check, or the pusher sees
    /// its `sleeping` flag and wakes it.
    #[test]
    fn loom_idle_inbox_push_races_sleep() {
        loom::model(|| {
            let w = world(1);
            let pusher = {
                let w = w.clone();
                thread::spawn(move || {
                    w.workers[0].inbox.fetch_add(1, Ordering::Relaxed);
                    w.idle.wake_if_sleeping(&w.workers[0]);
                })
            };
            run_worker(&w, 0, false);
            pusher.join().unwrap();
            quiescent(&w);
        });
    }

    /// Two workers fall idle, one the last spinner, the other straight to sleep (it may not
    /// spin: half the busy workers spin already), while a spawn arrives: some worker runs it,
    /// and the spinner slot the pusher may reserve for the worker it wakes is given back.
    ///
    /// Three threads: bounded to 2 preemptions (20 s; 3 take five minutes).
    #[test]
    fn loom_idle_spawn_races_two_workers_going_idle() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound.get_or_insert(2);
        model.check(|| {
            let w = world(2);
            assert!(w.idle.try_start_spinning());
            let pusher = {
                let w = w.clone();
                thread::spawn(move || {
                    w.stealable.fetch_add(1, Ordering::Relaxed);
                    w.idle.wake_one_if_needed(&w.workers);
                })
            };
            let sleeper = {
                let w = w.clone();
                thread::spawn(move || {
                    let spinning = w.idle.try_start_spinning();
                    run_worker(&w, 1, spinning);
                })
            };
            run_worker(&w, 0, true);
            pusher.join().unwrap();
            sleeper.join().unwrap();
            quiescent(&w);
        });
    }
}
