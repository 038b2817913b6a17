//! `goro::blocking(f)`: run blocking work on a bounded thread pool while the coroutine parks.
//!
//! Go keeps "a blocked syscall never stops other goroutines" by handing the blocked M's P to
//! another M (`entersyscall`/`handoffp`). goro's started coroutines never migrate (DESIGN:
//! "sound by construction"), so the work migrates instead: the coroutine parks on its home
//! worker, the closure runs on a pool thread, and the pool thread unparks the coroutine, which
//! resumes at home with the result. Pool threads never run coroutines.
//!
//! The pool starts threads on demand (a job finds no idle thread) up to a bound, and a thread
//! that has been idle for the idle timeout exits. Knobs, read once when the pool is first used:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `GORO_MAX_BLOCKING_THREADS` | 512 | most pool threads alive at once; further jobs queue (FIFO) |
//! | `GORO_BLOCKING_IDLE_TIMEOUT_MS` | 10000 | an idle pool thread exits after this long (tests set it low) |
//!
//! Handoff states (`Handoff::done`, one per call):
//!
//! | value | meaning | who may change it |
//! |---|---|---|
//! | `false` | the job is queued or running; the caller's frame (which `f` may borrow) must stay | the pool thread, once: → `true` after the job closure has returned and been dropped |
//! | `true` | `f` has finished and its result or panic is in the caller's slot; nothing on the pool side touches the caller's frame again | nobody |
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{
    Arc, Condvar, Mutex as StdMutex, MutexGuard as StdMutexGuard, OnceLock, PoisonError,
};
use std::time::{Duration, Instant};

use crate::park::{self, Unparker};

const DEFAULT_MAX_THREADS: usize = 512;
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `f` without blocking the coroutine's worker thread, and returns its result.
///
/// Called from a coroutine, this parks the coroutine, runs `f` on goro's blocking-thread pool
/// (threads named `goro-blocking-N`, started on demand, at most `GORO_MAX_BLOCKING_THREADS`,
/// idle ones exit), and resumes the coroutine on its home worker when `f` returns. Meanwhile
/// the worker runs other coroutines. Use it for anything that blocks an OS thread: file I/O,
/// DNS lookups, a synchronous database driver, a long CPU-bound computation.
///
/// `f` need not be `'static`: it may borrow from the caller's stack (like a closure passed to
/// `std::thread::scope`), because the caller is frozen until `f` has returned. If `f` panics,
/// the panic is resumed in the caller as if `f` had run there.
///
/// Called from a plain OS thread (not a coroutine), `f` simply runs inline: blocking that
/// thread blocks nothing else.
///
/// # Example
///
/// ```
/// use std::io::Read;
///
/// let text = goro::spawn(|| {
///     // A buffer on the coroutine's stack, filled by a blocking read on a pool thread.
///     let mut buf = String::new();
///     let n = goro::blocking(|| std::fs::File::open("Cargo.toml")?.read_to_string(&mut buf))
///         .expect("read Cargo.toml");
///     assert_eq!(n, buf.len());
///     buf
/// })
/// .join()
/// .unwrap();
/// assert!(text.contains("[package]"));
/// ```
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    if !crate::in_coroutine() {
        // A plain thread (including a pool thread running a nested `blocking`): blocking it
        // stalls no coroutine.
        return f();
    }
    run_on(global(), f)
}

/// The handoff: queue `f` on `pool`, park until it has run, return its result.
fn run_on<F, R>(pool: &Arc<Shared>, f: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let mut slot: Option<std::thread::Result<R>> = None;
    let handoff = Arc::new(Handoff {
        done: AtomicBool::new(false),
        unparker: park::unparker(),
    });
    {
        let out = &mut slot;
        // Catching here, on the pool thread, keeps a panic in `f` from killing the pool
        // thread or skipping `complete`; it is resumed in the caller below. AssertUnwindSafe:
        // the caller observes the panic exactly as if `f` had run inline, so whatever state
        // `f` may leave broken is visible to the same code that would see it then.
        let job = move || *out = Some(panic::catch_unwind(AssertUnwindSafe(f)));
        let job: Box<dyn FnOnce() + Send + '_> = Box::new(job);
        // SAFETY: the job borrows this frame (`slot`, and whatever `f` borrows from the
        // caller). Erasing that lifetime is sound because this frame cannot be left, by return
        // or by unwinding, until the pool is done with the borrow:
        // - `wait` below is created before the job is queued, and its `Drop` parks in a loop
        //   until `handoff.done` is true; it runs on the normal path and on any unwind out of
        //   this block. `park` itself never unwinds (park.rs: a panic on the park path, from
        //   a tracing subscriber, aborts), so that loop cannot be left early.
        // - the pool thread sets `done` (Release) only after the job closure has returned and
        //   its box has been dropped (`Job::run`), i.e. after the last use of the borrow; the
        //   Acquire load in `Handoff::is_done` makes the write to `slot` visible here.
        // - the job itself cannot unwind: `f` runs under `catch_unwind`.
        // - a job is never dropped unrun: the queue only loses jobs by running them.
        let job: Box<dyn FnOnce() + Send + 'static> = unsafe { erase_lifetime(job) };
        // Traced before the guard exists: a subscriber that panics here leaves nothing lent.
        tracing::debug!("goro::blocking: handing off to the blocking pool");
        let wait = WaitForJob(&handoff);
        pool.submit(Job {
            run: job,
            handoff: Arc::clone(&handoff),
        });
        drop(wait);
    }
    match slot {
        Some(Ok(r)) => r,
        Some(Err(payload)) => panic::resume_unwind(payload),
        None => unreachable!("goro: blocking job completed without storing a result"),
    }
}

/// Widens a boxed job's lifetime to `'static` (same fat-pointer layout, only the lifetime
/// changes).
///
/// # Safety
///
/// The caller must keep everything the job borrows alive, and not touch it, until the job has
/// run to completion and been dropped (see the `SAFETY` argument in `run_on`).
unsafe fn erase_lifetime<'a>(
    job: Box<dyn FnOnce() + Send + 'a>,
) -> Box<dyn FnOnce() + Send + 'static> {
    // SAFETY: the two types differ only in the trait object's lifetime bound, so they have
    // the same layout; the caller upholds the lifetime obligation (this fn's `# Safety`).
    unsafe { std::mem::transmute(job) }
}

/// The completion signal of one `blocking` call, shared by the caller and the pool thread.
#[derive(Debug)]
struct Handoff {
    /// See the table in the module docs.
    done: AtomicBool,
    /// Wakes the caller (its coroutine resumes on its home worker).
    unparker: Unparker,
}

impl Handoff {
    fn complete(&self) {
        // Release: pairs with the Acquire in `is_done`, publishing the result written into the
        // caller's slot.
        self.done.store(true, Ordering::Release);
        // The caller may already have seen `done` and returned; our `Arc` keeps the unparker
        // alive, and a stray unpark is only a spurious wakeup for its next park.
        self.unparker.unpark();
    }

    fn is_done(&self) -> bool {
        // Acquire: pairs with the Release in `complete`.
        self.done.load(Ordering::Acquire)
    }
}

/// Parks the caller until its job is done, on drop: the guard that keeps the borrowed frame
/// alive on every path out of `run_on`.
struct WaitForJob<'a>(&'a Handoff);

impl Drop for WaitForJob<'_> {
    fn drop(&mut self) {
        while !self.0.is_done() {
            park::park();
        }
    }
}

/// One queued call.
struct Job {
    /// The lifetime-erased closure (see `run_on`).
    run: Box<dyn FnOnce() + Send + 'static>,
    handoff: Arc<Handoff>,
}

impl Job {
    /// Runs the job, drops it, then signals the caller. The order is the soundness argument:
    /// nothing borrowed from the caller is touched after `complete`.
    fn run(self, jobs_run: &AtomicU64) {
        let Job { run, handoff } = self;
        run(); // consumes and frees the box before we signal
        jobs_run.fetch_add(1, Ordering::Relaxed);
        handoff.complete();
    }
}

/// The pool shared by its threads and every submitter.
pub(crate) struct Shared {
    state: StdMutex<PoolState>,
    /// Signalled when a job is queued and some thread is idle.
    work: Condvar,
    max_threads: usize,
    idle_timeout: Duration,
    jobs_run: AtomicU64,
}

/// What `Shared::state` protects.
struct PoolState {
    queue: VecDeque<Job>,
    /// Threads started and not yet exited.
    alive: usize,
    /// Threads waiting for work (a subset of `alive`).
    idle: usize,
    /// Threads ever started: the `N` in `goro-blocking-N`.
    started: usize,
}

/// A snapshot of the pool's counters (for `goro::stats()` and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))] // read by `goro::stats()` once it lands in main
pub(crate) struct PoolStats {
    /// Pool threads alive.
    pub(crate) threads_alive: usize,
    /// Pool threads waiting for work.
    pub(crate) threads_idle: usize,
    /// Jobs queued and not yet picked up.
    pub(crate) queued: usize,
    /// Jobs run to completion since start.
    pub(crate) jobs_run: u64,
}

/// The process-wide pool, configured from the environment on first use.
fn global() -> &'static Arc<Shared> {
    static POOL: OnceLock<Arc<Shared>> = OnceLock::new();
    POOL.get_or_init(|| {
        let max = env_usize("GORO_MAX_BLOCKING_THREADS").unwrap_or(DEFAULT_MAX_THREADS);
        let idle = env_usize("GORO_BLOCKING_IDLE_TIMEOUT_MS")
            .map_or(DEFAULT_IDLE_TIMEOUT, |ms| Duration::from_millis(ms as u64));
        Shared::new(max, idle)
    })
}

/// The global pool's counters.
#[allow(dead_code)] // read by `goro::stats()` once it lands in main
pub(crate) fn stats() -> PoolStats {
    global().stats()
}

fn env_usize(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse::<usize>() {
        Ok(n) => Some(n),
        Err(_) => {
            tracing::warn!(%name, value = %v, "goro: ignoring unparsable environment variable");
            None
        }
    }
}

impl Shared {
    /// A pool of at most `max_threads` (at least 1) threads that exit after `idle_timeout`.
    pub(crate) fn new(max_threads: usize, idle_timeout: Duration) -> Arc<Shared> {
        Arc::new(Shared {
            state: StdMutex::new(PoolState {
                queue: VecDeque::new(),
                alive: 0,
                idle: 0,
                started: 0,
            }),
            work: Condvar::new(),
            max_threads: max_threads.max(1),
            // Clamped so `now + idle_timeout` cannot overflow `Instant` (a year is "never").
            idle_timeout: idle_timeout.min(Duration::from_secs(365 * 24 * 3600)),
            jobs_run: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> StdMutexGuard<'_, PoolState> {
        // Poison ignored: jobs run outside this lock and never unwind (caught in `run_on`).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn stats(&self) -> PoolStats {
        let st = self.lock();
        PoolStats {
            threads_alive: st.alive,
            threads_idle: st.idle,
            queued: st.queue.len(),
            jobs_run: self.jobs_run.load(Ordering::Relaxed),
        }
    }

    /// Queues a job; wakes an idle thread, or starts one if every idle thread is already
    /// spoken for and the bound allows.
    fn submit(self: &Arc<Self>, job: Job) {
        let mut st = self.lock();
        st.queue.push_back(job);
        // An idle thread that was notified still counts as idle until it wakes and takes a
        // job, so "idle >= queued" means every queued job has a thread coming for it.
        if st.idle >= st.queue.len() {
            drop(st);
            self.work.notify_one();
            return;
        }
        if st.alive >= self.max_threads {
            // At the bound: a running thread picks the job up when it finishes its current one.
            return;
        }
        st.alive += 1;
        st.started += 1;
        let id = st.started;
        drop(st);
        let pool = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("goro-blocking-{id}"))
            .spawn(move || pool.thread_main(id));
        if let Err(err) = spawned {
            tracing::warn!(%err, "goro::blocking: cannot start a pool thread");
            self.spawn_failed();
        }
    }

    /// A thread could not be started. If no thread is alive to take the queued jobs, run them
    /// here rather than leave their callers parked forever.
    #[cold]
    fn spawn_failed(&self) {
        let mut st = self.lock();
        st.alive -= 1;
        while st.alive == 0 {
            let Some(job) = st.queue.pop_front() else {
                break;
            };
            drop(st);
            job.run(&self.jobs_run);
            st = self.lock();
        }
    }

    /// A pool thread: run queued jobs; after `idle_timeout` without one, exit.
    fn thread_main(&self, id: usize) {
        tracing::debug!(thread = id, "goro::blocking: pool thread started");
        let mut st = self.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                job.run(&self.jobs_run);
                st = self.lock();
                continue;
            }
            st.idle += 1;
            let deadline = Instant::now() + self.idle_timeout;
            loop {
                let now = Instant::now();
                if !st.queue.is_empty() || now >= deadline {
                    break;
                }
                st = self
                    .work
                    .wait_timeout(st, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            st.idle -= 1;
            // Decided under the lock: a submitter either queued before this check (we stay
            // and run it) or sees `idle` already decremented (and starts a thread).
            if st.queue.is_empty() {
                st.alive -= 1;
                drop(st);
                tracing::debug!(thread = id, "goro::blocking: idle pool thread exiting");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn wait_until(mut cond: impl FnMut() -> bool, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        cond()
    }

    #[test]
    fn idle_threads_exit_after_the_idle_timeout() {
        let pool = Shared::new(8, Duration::from_millis(50));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| run_on(&pool, || std::thread::sleep(Duration::from_millis(20))));
            }
        });
        let st = pool.stats();
        assert_eq!(st.jobs_run, 4);
        assert!(st.threads_alive >= 1 && st.threads_alive <= 4, "{st:?}");
        assert!(
            wait_until(|| pool.stats().threads_alive == 0, Duration::from_secs(10)),
            "idle pool threads did not exit: {:?}",
            pool.stats()
        );
    }

    #[test]
    fn thread_count_is_bounded_and_excess_jobs_queue() {
        let pool = Shared::new(2, Duration::from_secs(5));
        let running = AtomicUsize::new(0);
        let max_seen = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    run_on(&pool, || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        max_seen.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                });
            }
        });
        assert_eq!(pool.stats().jobs_run, 6);
        assert!(max_seen.load(Ordering::SeqCst) <= 2);
        assert!(pool.stats().threads_alive <= 2);
    }

    #[test]
    fn an_idle_thread_is_reused() {
        let pool = Shared::new(8, Duration::from_secs(5));
        for _ in 0..10 {
            run_on(&pool, || ());
            // The thread marks itself idle just after it signals completion.
            assert!(wait_until(
                || pool.stats().threads_idle == 1,
                Duration::from_secs(5)
            ));
        }
        assert_eq!(pool.stats().threads_alive, 1);
        assert_eq!(pool.lock().started, 1);
    }
}
