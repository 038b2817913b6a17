//! The schedule loop of a worker (Go's M running its P): it pops the worker's run queues
//! (`rt::RunQueues`), steals, runs timers, polls the network, sleeps, and resumes
//! coroutines. Where new and woken tasks are pushed, and the placement policy for new
//! coroutines, is `rt/queues.rs`.
use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use corosensei::CoroutineResult;
use crossbeam_deque::{Steal, Worker};

use crate::coroutine::{Run, Suspend, Task, NO_HOME};
use crate::netpoll;
use crate::poller::{Events, WAKE_TOKEN};
use crate::prefetch;
use crate::rt::{self, Counters, Processor, RunQueues};
use crate::running;
use crate::stack::Stack;
use crate::time::heap::Action;

/// How many times in a row `runnext` may be taken before the home queue gets a turn: two
/// coroutines that wake each other cannot starve the rest.
const RUNNEXT_BUDGET: u32 = 32;
/// Due timers are checked every this many ticks on a busy worker (always when idle).
const TIMERS_EVERY: u32 = 16;
/// Up to this many queued tasks are their owner's to start (see `worth_stealing`).
const FEW_TASKS: usize = 4;
/// Rounds over all victims a spinner makes before it gives up.
const STEAL_ROUNDS: usize = 4;
/// How long a worker that ran out of work keeps watching for more before it blocks in
/// `epoll_wait`, when it has been getting work from other threads (its inbox, steals).
/// Waking a blocked worker from another CPU costs tens of microseconds on the VMs this runs
/// on (an eventfd write, an IPI, a reschedule); a coroutine on another worker that feeds this
/// one (a pipeline stage, a channel peer) usually sends again sooner than that, so watching a
/// little longer than one wake-up costs saves a wake-up per batch. A worker fed only by its own
/// sockets does not watch: the kernel wakes it from `epoll_wait` when data arrives, and
/// spinning would only burn CPU and delay noticing that data.
const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(50);

/// How many unstarted coroutines a thief takes at once from a victim with `queued` of them,
/// among `workers` workers: one (it takes no more than it is about to run) unless the victim's
/// backlog is deep, and then at most a `1/(4·workers)` share of it, capped at [`STEAL_BATCH`].
///
/// One at a time keeps a burst's placement fair when there are more workers than cores (the
/// OS decides which worker threads run, and a thief whose thread runs must not carry off
/// half of a descheduled owner's share). But a backlog far deeper than the workers can share
/// out in the near term (a coroutine spawning a long stream of short coroutines, faster than
/// the others take them one by one) makes single steals the bottleneck: each one a CAS and a
/// cache-line round trip against the spawner's pushes. A batch of `queued / (4·workers)` is
/// under a quarter of any worker's fair share of that backlog, so the counted bound (no
/// worker starts more than twice its share of a burst) keeps its margin.
fn steal_limit(queued: usize, workers: usize) -> usize {
    (queued / (4 * workers)).clamp(1, STEAL_BATCH)
}

/// The most unstarted coroutines one steal takes ([`steal_limit`]).
const STEAL_BATCH: usize = 32;

/// The schedule loop's own state, over the worker's run queues (`rt::RunQueues`, which
/// code below the loop pushes to); only the worker's thread touches it.
pub(crate) struct WorkerLocal {
    q: &'static RunQueues,
    runnext_streak: Cell<u32>,
    tick: Cell<u32>,
    /// Tasks this worker got from other threads (its inbox, steals) since it last went idle:
    /// the sign that watching for more before sleeping pays off.
    inbox_hits: Cell<u32>,
    /// Due timer actions, a buffer kept between runs (time.rs, `run_due`).
    expired: RefCell<Vec<Action>>,
}

impl std::ops::Deref for WorkerLocal {
    type Target = RunQueues;

    fn deref(&self) -> &RunQueues {
        self.q
    }
}

impl WorkerLocal {
    fn shared(&self) -> &'static Processor {
        self.q.shared
    }

    fn drain_inbox(&self) {
        let p = self.shared();
        if p.inbox.is_empty() {
            return;
        }
        let mut home = self.home.borrow_mut();
        loop {
            match p.inbox.steal() {
                Steal::Success(t) => {
                    // Spawns from outside the runtime (unstarted) and woken unpinned tasks
                    // (homeless) may run anywhere: queue them where thieves can see them.
                    if t.pinned && t.home() != NO_HOME {
                        home.push_back(t);
                    } else {
                        self.deque.push(t);
                    }
                    self.inbox_hits.set(self.inbox_hits.get().saturating_add(1));
                }
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
    }

    /// The next task this worker can run without looking at other workers.
    fn find_local(&self, tick: u32) -> Option<Arc<Task>> {
        self.drain_inbox();
        if tick.is_multiple_of(TIMERS_EVERY) {
            self.run_timers();
        }
        if let Some(t) = self.runnext.take() {
            let streak = self.runnext_streak.get();
            if streak < RUNNEXT_BUDGET {
                self.runnext_streak.set(streak + 1);
                return Some(t);
            }
            self.home.borrow_mut().push_back(t);
        }
        self.runnext_streak.set(0);
        // Started (home) and unstarted (deque) tasks take turns going first, so coroutines
        // that keep yielding cannot starve ones that have not started, nor the reverse.
        let from_home = || self.home.borrow_mut().pop_front();
        let from_deque = || self.deque.pop();
        if tick & 1 == 0 {
            from_home().or_else(from_deque)
        } else {
            from_deque().or_else(from_home)
        }
    }

    /// Steals from a random victim's unstarted coroutines (a few rounds over all victims): one,
    /// or a batch from a deep backlog ([`steal_limit`]), of which it returns one to run.
    fn steal(&self) -> Option<Arc<Task>> {
        let n = self.rt.workers.len();
        if n < 2 {
            return None;
        }
        for _ in 0..STEAL_ROUNDS {
            let start = (self.next_random() % n as u64) as usize;
            for k in 0..n {
                let v = (start + k) % n;
                if v == self.index {
                    continue;
                }
                let Some(queued) = self.worth_stealing(&self.rt.workers[v]) else {
                    continue;
                };
                let victim = &self.rt.workers[v].stealer;
                let limit = steal_limit(queued, n);
                loop {
                    let got = if limit > 1 {
                        victim.steal_batch_with_limit_and_pop(&self.deque, limit)
                    } else {
                        victim.steal()
                    };
                    match got {
                        Steal::Success(t) => {
                            Counters::bump(&self.shared().counters.steals);
                            self.inbox_hits.set(self.inbox_hits.get().saturating_add(1));
                            tracing::trace!(worker = self.index, victim = v, "steal");
                            return Some(t);
                        }
                        Steal::Retry => continue,
                        Steal::Empty => break,
                    }
                }
            }
            std::hint::spin_loop();
        }
        None
    }

    /// Whether to steal from `victim`, as the number of tasks its deque held when looked at
    /// (the one read that [`steal_limit`] sizes the batch by): always from a burst (more than
    /// [`FEW_TASKS`] queued); a few only once sysmon has flagged the victim's current run as a
    /// long one (a whole sysmon tick on a CPU without a switch; sysmon then wakes a thief).
    /// `None` when the deque is empty.
    ///
    /// A few unstarted tasks on a busy worker are its own: partners the running coroutine
    /// (or a thread) has just made and is about to talk to (a channel peer, a pipeline
    /// stage), or the share of a burst it was dealt or handed. The owner starts them
    /// within a few switches, and wherever they start they stay. Stealing one
    /// splits a group over two workers for good, and every exchange between them then
    /// crosses threads (channel ping-pong: ~140 ns per round trip together, 0.6-2.5 µs
    /// split; a 3-stage pipeline: ~47M msgs/s together, 15-20M split); and with more workers
    /// than cores, an owner whose thread waits for a CPU would lose its share to a thief
    /// that already started its own, piling a burst onto it. Work conservation does not need
    /// these steals: a burst is spread at the spawn (`push_stealable`), and a steal moves
    /// one coroutine at a time, or a small share of a deep backlog.
    fn worth_stealing(&self, victim: &Processor) -> Option<usize> {
        let queued = victim.stealer.len();
        let worth = queued > FEW_TASKS
            || (queued != 0
                && victim.long_run.load(Ordering::Relaxed)
                && victim.running.load(Ordering::Relaxed) != 0);
        worth.then_some(queued)
    }

    /// Nothing to run here: counts this worker among the idle ones (a hand-off target) and
    /// ends its burst (its spread set).
    fn go_idle(&self) {
        self.idle_mark.set(true);
        self.rt.idle.mark_idle(self.shared());
        self.end_burst();
        self.publish_queue();
    }

    /// Found something to run.
    #[inline]
    fn go_busy(&self) {
        if self.idle_mark.replace(false) {
            self.rt.idle.mark_busy(self.shared());
        }
    }

    /// Publishes how many coroutines wait in the queues only this thread sees (home,
    /// `runnext`) for `stats()`, and when the run queues last became non-empty for sysmon's
    /// backlog check. One store per switch in the steady state; the clock is read only when
    /// the queues go from empty to non-empty.
    #[inline]
    fn publish_queue(&self) {
        let c = &self.shared().counters;
        let rn = self.runnext.take();
        let local = self.home.borrow().len() + usize::from(rn.is_some());
        self.runnext.set(rn);
        c.local_queued.store(local as u64, Ordering::Relaxed);
        let waiting = local != 0 || !self.deque.is_empty();
        let since = c.backlog_since.load(Ordering::Relaxed);
        if !waiting {
            if since != 0 {
                c.backlog_since.store(0, Ordering::Relaxed);
            }
        } else if since == 0 {
            c.backlog_since
                .store(crate::time::now_nanos().max(1), Ordering::Relaxed);
        }
    }

    /// Fires due timers; returns how many fired.
    fn run_timers(&self) -> usize {
        let mut batch = std::mem::take(&mut *self.expired.borrow_mut());
        let n = crate::time::run_due(self.index, &mut batch);
        *self.expired.borrow_mut() = batch;
        n
    }

    /// True if there is anything this worker could run or steal right now.
    fn work_visible(&self) -> bool {
        let p = self.shared();
        if !p.inbox.is_empty() || !self.deque.is_empty() {
            return true;
        }
        if crate::time::next_deadline(self.index) <= crate::time::now_nanos() {
            return true;
        }
        self.rt
            .workers
            .iter()
            .any(|w| w.index != self.index && !w.stealer.is_empty())
    }

    /// Polls this worker's network sources without blocking; returns true if any event came.
    fn poll_network(&self, events: &mut Events) -> bool {
        if !netpoll::has_waiters() {
            return false;
        }
        if let Err(e) = self.shared().poller.wait(events, Some(Duration::ZERO)) {
            panic!("goro: epoll_wait failed on worker {}: {e}", self.index);
        }
        let any = !events.tokens.is_empty();
        dispatch_events(events);
        any
    }

    /// Watches for work for up to [`SPIN_BEFORE_SLEEP`] without announcing sleep (so wakers
    /// write no eventfd meanwhile). True if work showed up.
    fn spin_for_work(&self) -> bool {
        let start = std::time::Instant::now();
        loop {
            for _ in 0..16 {
                if self.cheap_work_visible() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if self.work_visible() || start.elapsed() >= SPIN_BEFORE_SLEEP {
                return self.work_visible();
            }
        }
    }

    /// The queues other threads push to, without reading the clock.
    fn cheap_work_visible(&self) -> bool {
        !self.shared().inbox.is_empty()
    }

    /// Blocks in the poller until woken, a timer is due, or the network has events.
    /// Returns true if woken to spin.
    fn sleep(&self, events: &mut Events) -> bool {
        let p = self.shared();
        // The sleep section (announce, fence, re-check, block) is rt/idle.rs's, where its
        // Dekker pairs are argued and model-checked; this worker supplies the re-check and
        // the block.
        let block = || {
            tracing::trace!(worker = self.index, "sleep");
            let since = crate::time::now_nanos().max(1);
            p.asleep_since.store(since, Ordering::Relaxed);
            if let Err(e) = p.poller.wait(events, crate::time::until_next(self.index)) {
                panic!("goro: epoll_wait failed on worker {}: {e}", self.index);
            }
            let slept = crate::time::now_nanos().saturating_sub(since);
            p.slept_ns.store(
                p.slept_ns.load(Ordering::Relaxed) + slept,
                Ordering::Relaxed,
            );
            p.asleep_since.store(0, Ordering::Relaxed);
        };
        let spin = self.rt.idle.sleep(p, || self.work_visible(), block);
        super::sysmon::worker_wakes();
        dispatch_events(events);
        spin
    }

    /// First run: takes a stack from this thread's cache and builds the body on it. False if
    /// no stack could be had; the failure then goes to the `JoinHandle` as a panic payload.
    fn start(&self, task: &Task) -> bool {
        // SAFETY: the caller owns the task.
        let run = unsafe { task.run_mut() };
        let Run::Start(start) = std::mem::replace(run, Run::Done) else {
            unreachable!("goro: started a task twice");
        };
        match Stack::new(task.stack_size as usize) {
            Ok(stack) => {
                Counters::bump(&self.shared().counters.starts);
                task.guard_lo.set(stack.guard().0);
                *run = Run::Body(start.call(stack));
                true
            }
            Err(e) => {
                let msg = format!(
                    "goro: coroutine {} could not get a stack when it was first scheduled: {e}",
                    task.id
                );
                tracing::error!("{msg}");
                drop(start);
                task.join.complete(Err(Box::new(msg)));
                false
            }
        }
    }

    /// Starts loading what the next coroutines in `home` will touch, while the current one
    /// runs (prefetch.rs): the `Task` of the one after next, and the next one's stack around
    /// where it parked (reading where that is touches its `Task`, prefetched by the previous
    /// call). Only behind a long queue: what a few coroutines passing work around touch is
    /// still cached, and there the prefetching alone cost a channel pipeline ~5%.
    #[inline]
    fn prefetch_next(&self) {
        let home = self.home.borrow();
        if home.len() < PREFETCH_QUEUE {
            return;
        }
        if let Some(after) = home.get(1) {
            prefetch::read_lines(Arc::as_ptr(after).cast(), TASK_LINES);
        }
        if let Some(sp) = home.front().and_then(|next| next.parked_sp()) {
            prefetch::read_lines(
                sp.wrapping_sub(STACK_LINES_BELOW * 64) as *const u8,
                STACK_LINES,
            );
        }
    }

    /// Runs `task` until it yields, parks or finishes.
    fn execute(&self, mut task: Arc<Task>) {
        let p = self.shared();
        if !task.pinned || task.home() != self.index {
            // First resume (or an unpinned task moving): this worker becomes its home.
            task.set_home(self.index);
        }
        if task.was_parked.replace(false) {
            Counters::bump(&p.counters.wakes);
        }
        // SAFETY: we popped the task from a run queue, so we own it (coroutine.rs table).
        if matches!(unsafe { task.run_mut() }, Run::Start(_)) && !self.start(&task) {
            Counters::bump(&p.counters.completed);
            return;
        }
        loop {
            Counters::bump(&p.counters.switches);
            p.running.store(task.id.as_u64().get(), Ordering::Relaxed);
            // Also what the stack-overflow handler reads (stack/overflow.rs).
            running::set_task(Arc::as_ptr(&task));
            // SAFETY: we popped the task from a run queue, so we own it (coroutine.rs table),
            // and the reference is not used after ownership is given away below.
            let Run::Body(body) = (unsafe { task.run_mut() }) else {
                unreachable!("goro: resumed a coroutine that is not running");
            };
            self.prefetch_next();
            let result = body.resume(());
            running::set_task(std::ptr::null());
            p.running.store(0, Ordering::Relaxed);
            if p.long_run.load(Ordering::Relaxed) && p.long_run.swap(false, Ordering::Relaxed) {
                tracing::warn!(
                    coroutine = %task.id,
                    name = task.name_or_unnamed(),
                    worker = self.index,
                    "goro: coroutine ran >10ms without a switch; it held worker {} (CPU loop without yield_now, or a blocking std call?)",
                    self.index
                );
            }
            match result {
                CoroutineResult::Yield(Suspend::Yield) => {
                    self.home.borrow_mut().push_back(task);
                    return;
                }
                CoroutineResult::Yield(Suspend::Park) => {
                    // Step 3 of the park protocol (park.rs).
                    task.was_parked.set(true);
                    // Our reference passes to the PARKED state, and the unparker that takes
                    // the task out of it gets it back (`unpark_task`): a park and wake-up
                    // touch no reference count.
                    let raw = Arc::into_raw(task);
                    // SAFETY: `raw` holds the reference we gave up just above; nothing can
                    // free the task before our CAS publishes it as PARKED.
                    let parked = unsafe { &*raw };
                    if crate::park::commit_park(&parked.state) {
                        // `parked` may be gone already: woken and finished elsewhere.
                        Counters::bump(&p.counters.parks);
                        return;
                    }
                    // An unpark landed first: its token is consumed, resume at once.
                    // SAFETY: the commit failed, so the reference is still ours.
                    task = unsafe { Arc::from_raw(raw) };
                    task.was_parked.set(false);
                    continue;
                }
                CoroutineResult::Return(()) => {
                    // SAFETY: still the owner; nothing else can reach a finished body.
                    let Run::Body(body) = std::mem::replace(unsafe { task.run_mut() }, Run::Done)
                    else {
                        unreachable!("goro: body vanished");
                    };
                    drop(body.into_stack()); // back to this thread's stack cache
                    Counters::bump(&p.counters.completed);
                    tracing::trace!(coroutine = %task.id, "done");
                    self.free_tasks.put(task);
                    return;
                }
            }
        }
    }
}

/// Hands every readiness event to netpoll (which wakes the waiting coroutines).
fn dispatch_events(events: &Events) {
    // Every descriptor of the batch starts loading before the first is handled.
    for &token in &events.tokens {
        if token != WAKE_TOKEN {
            netpoll::prefetch(token);
        }
    }
    for &token in &events.tokens {
        if token != WAKE_TOKEN {
            netpoll::dispatch(token);
        }
    }
}

/// Queued coroutines from which the next ones are prefetched (see `prefetch_next`).
const PREFETCH_QUEUE: usize = 8;
/// Cache lines of an `Arc<Task>` allocation (counts and task: 208 bytes, any alignment).
const TASK_LINES: usize = 4;
/// Stack lines prefetched for a resume, and how many of them lie below the parked stack
/// pointer (the switch's saved registers and return address).
const STACK_LINES: usize = 8;
const STACK_LINES_BELOW: usize = 2;

/// Network sources are polled this often on a busy worker (always when idle).
const NETPOLL_EVERY: u32 = 61;

/// A worker thread's life: set up, then the schedule loop forever.
pub(super) fn run(index: usize, deque: Worker<Arc<Task>>) -> ! {
    let rt = rt::runtime();
    crate::stack::overflow::init_thread();
    super::sysmon::publish_cpu_clock(&rt.workers[index]);
    let local = WorkerLocal {
        q: RunQueues::enter(rt, index, deque),
        runnext_streak: Cell::new(0),
        tick: Cell::new(0),
        inbox_hits: Cell::new(0),
        expired: RefCell::new(Vec::new()),
    };
    tracing::debug!(worker = index, "worker started");
    let mut events = Events::with_capacity(256);
    let mut spinning = false;
    loop {
        let tick = local.tick.get().wrapping_add(1);
        local.tick.set(tick);
        if tick.is_multiple_of(NETPOLL_EVERY) {
            local.poll_network(&mut events);
        }
        let mut task = local.find_local(tick);
        if task.is_none() && (local.run_timers() > 0 || local.poll_network(&mut events)) {
            continue;
        }
        if task.is_none() {
            local.go_idle();
            if !spinning {
                spinning = rt.idle.try_start_spinning();
            }
            if spinning {
                task = local.steal();
                if task.is_none() {
                    spinning = false;
                    rt.idle.stop_spinning();
                }
            }
        }
        match task {
            Some(t) => {
                local.go_busy();
                if spinning {
                    spinning = false;
                    rt.idle.spinner_found_work(&rt.workers);
                }
                local.publish_queue();
                local.execute(t);
            }
            None => {
                if local.inbox_hits.replace(0) > 0 && local.spin_for_work() {
                    continue;
                }
                spinning = local.sleep(&mut events);
            }
        }
    }
}
