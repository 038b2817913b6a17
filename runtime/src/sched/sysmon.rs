//! sysmon: the runtime's watchdog thread (Go's `sysmon`).
//!
//! It runs beside the workers, never runs coroutines, and wakes every 10 ms while any worker
//! is busy:
//!
//! - **long runs**: a worker whose switch counter has not moved for a whole interval while a
//!   coroutine is running has been held by one coroutine for more than 10 ms (a CPU loop
//!   without `yield_now`, or a blocking std call). sysmon emits a tracing warning naming the
//!   worker and coroutine id right away and flags the worker, which repeats the warning with
//!   the coroutine's name once it gets control back.
//! - **backlogs beside idle workers**: a worker whose run queues have not been empty for more
//!   than 10 ms (`backlog_since`, published by the worker) while another worker was awake
//!   less than a tenth of the last interval is a core left idle with work waiting: the
//!   waiting coroutines are started ones, which cannot move (sched/mod.rs). sysmon counts
//!   one `waited_idle` event per such worker per tick (`goro::stats()`, schedtrace) and
//!   emits one tracing warning per episode.
//! - **pool trimming**: it gives the memory of stacks beyond the warm pool's bound back to the
//!   OS within a tick of a burst ending (and frees finished tasks' allocations beyond the
//!   free list's bound, rt/recycle.rs), and of all but a few idle stacks every few seconds
//!   (the free path itself makes no syscall).
//! - **load**: each tick it sets every worker's `load`, the share of the interval the worker
//!   was awake (not blocked in its poller), per mille. Connection placement
//!   (`io::spawn_balanced`) packs new connections onto workers that are not busy by it. A
//!   parked sysmon leaves the loads as they were; its first tick after waking measures the
//!   whole parked span, which was idle, and so reads them as low.
//! - **schedtrace**: with `GORO_SCHEDTRACE=<ms>` it prints one line of scheduler state per
//!   interval to stderr, like Go's `GODEBUG=schedtrace`.
//!
//! When every worker sleeps (and no schedtrace is asked for) sysmon blocks on a condvar, so an
//! idle runtime uses no CPU. A worker leaving its sleep wakes it (`worker_wakes`), with the
//! same Dekker pattern as rt/idle.rs: sysmon stores `parked`, fences and re-counts sleepers; the
//! worker decrements the sleeper count, fences and reads `parked`.
use std::io::Write;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::rt::Runtime;

const TICK: Duration = Duration::from_millis(10);
/// A worker awake at most this share (per mille) of the last interval idled through it.
const IDLE_LOAD: u32 = 100;
const TRIM_EVERY: Duration = Duration::from_secs(5);

struct Park {
    parked: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

static PARK: Park = Park {
    parked: AtomicBool::new(false),
    lock: Mutex::new(()),
    cv: Condvar::new(),
};

/// Called by a worker right after it left its sleep section.
#[inline]
pub(super) fn worker_wakes() {
    // SeqCst fence: pairs with sysmon's fence between storing `parked` and counting sleepers.
    fence(Ordering::SeqCst);
    if PARK.parked.load(Ordering::Relaxed) {
        let _g = PARK.lock.lock().unwrap_or_else(|e| e.into_inner());
        PARK.parked.store(false, Ordering::Relaxed);
        PARK.cv.notify_one();
    }
}

pub(super) fn start(rt: &'static Runtime) {
    std::thread::Builder::new()
        .name("goro-sysmon".into())
        .spawn(move || run(rt))
        .unwrap_or_else(|e| panic!("goro: cannot start the sysmon thread: {e}"));
}

fn run(rt: &'static Runtime) -> ! {
    let n = rt.workers.len();
    let mut last_switches = vec![0u64; n];
    let mut warned = vec![false; n];
    let mut warned_backlog = vec![false; n];
    let mut last_trim = Instant::now();
    let schedtrace = rt.settings.schedtrace;
    // An interval too long for `Instant` (a huge GORO_SCHEDTRACE) never prints.
    let mut next_trace = schedtrace.and_then(|d| Instant::now().checked_add(d));
    let mut last_slept = vec![0u64; n];
    let mut last_now = crate::time::now_nanos();
    let mut last_cpu = vec![0u64; n];
    loop {
        if schedtrace.is_none() && rt.idle.sleeping() == n {
            park_while_idle(rt);
        }
        std::thread::sleep(TICK);
        last_now = measure_load(rt, &mut last_slept, last_now);
        for (i, p) in rt.workers.iter().enumerate() {
            let s = p.counters.switches.load(Ordering::Relaxed);
            let running = p.running.load(Ordering::Relaxed);
            let cpu = thread_cpu_ns(p);
            let on_cpu = cpu.is_none_or(|c| c.saturating_sub(last_cpu[i]) >= ON_CPU_NS);
            last_cpu[i] = cpu.unwrap_or(0);
            if running != 0 && s == last_switches[i] && on_cpu {
                if !warned[i] {
                    warned[i] = true;
                    p.long_run.store(true, Ordering::Relaxed);
                    // Its few queued coroutines may now be stolen (worker.rs,
                    // `worth_stealing`): make sure an idle worker looks.
                    if !p.stealer.is_empty() {
                        rt.idle.wake_one_if_needed(&rt.workers);
                    }
                    tracing::warn!(
                        worker = i,
                        coroutine = running,
                        "goro: coroutine {running} has run for more than 10ms on worker {i} without a switch; other coroutines of that worker are waiting (CPU loop without goro::yield_now, or a blocking std call that should go through goro::blocking?)"
                    );
                }
            } else {
                warned[i] = false;
            }
            last_switches[i] = s;
        }
        check_backlogs(rt, last_now, &mut warned_backlog);
        // A burst of finished coroutines left more warm stacks than the pool keeps.
        crate::stack::trim_excess();
        // ... and more free task allocations than the global list keeps (rt/recycle.rs).
        crate::rt::trim_free_tasks();
        if last_trim.elapsed() >= TRIM_EVERY {
            last_trim = Instant::now();
            crate::stack::trim();
        }
        if let (Some(d), Some(at)) = (schedtrace, next_trace) {
            if Instant::now() >= at {
                next_trace = at.checked_add(d);
                print_schedtrace(rt);
            }
        }
    }
}

/// Sets each worker's `load` from the time it slept since the last tick; returns now.
fn measure_load(rt: &Runtime, last_slept: &mut [u64], last_now: u64) -> u64 {
    let now = crate::time::now_nanos();
    let wall = now.saturating_sub(last_now).max(1);
    for (p, last) in rt.workers.iter().zip(last_slept.iter_mut()) {
        let since = p.asleep_since.load(Ordering::Relaxed);
        let ongoing = if since == 0 {
            0
        } else {
            now.saturating_sub(since)
        };
        // The worker adds a finished sleep to `slept_ns` just before clearing `asleep_since`,
        // so a tick between the two counts that sleep twice; keeping `last` monotonic and
        // clamping to the interval make that a one-tick underestimate of the load.
        let slept = (p.slept_ns.load(Ordering::Relaxed) + ongoing).max(*last);
        let asleep = (slept - *last).min(wall);
        *last = slept;
        let load = 1000 - asleep * 1000 / wall;
        p.load.store(load as u32, Ordering::Relaxed);
    }
    now
}

/// Counts (and warns once per episode about) workers whose coroutines have waited for more
/// than a tick while another worker idled through it.
fn check_backlogs(rt: &Runtime, now: u64, warned: &mut [bool]) {
    let tick = TICK.as_nanos() as u64;
    let idle: Vec<usize> = rt
        .workers
        .iter()
        .filter(|p| p.load.load(Ordering::Relaxed) <= IDLE_LOAD)
        .map(|p| p.index)
        .collect();
    for (i, p) in rt.workers.iter().enumerate() {
        let since = p.counters.backlog_since.load(Ordering::Relaxed);
        let waiting = since != 0 && now.saturating_sub(since) > tick;
        let other = idle.iter().copied().find(|&j| j != i);
        match (waiting, other) {
            (true, Some(j)) => {
                let c = &p.counters.waited_idle;
                c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                if !warned[i] {
                    warned[i] = true;
                    let ms = now.saturating_sub(since) / 1_000_000;
                    tracing::warn!(
                        worker = i,
                        idle_worker = j,
                        waited_ms = ms,
                        "goro: runnable coroutines have waited {ms}ms on worker {i} while worker {j} idled; started coroutines never change worker, so these were started there before they turned CPU-bound (see docs/CAVEATS.md: spawn CPU work as new coroutines, or yield_now in long loops)"
                    );
                }
            }
            _ => warned[i] = false,
        }
    }
}

fn park_while_idle(rt: &Runtime) {
    let n = rt.workers.len();
    let mut g = PARK.lock.lock().unwrap_or_else(|e| e.into_inner());
    PARK.parked.store(true, Ordering::Relaxed);
    // SeqCst fence: pairs with `worker_wakes`.
    fence(Ordering::SeqCst);
    if rt.idle.sleeping() != n {
        PARK.parked.store(false, Ordering::Relaxed);
        return;
    }
    crate::stack::trim();
    crate::rt::trim_free_tasks();
    tracing::trace!("sysmon: all workers idle, parking");
    while PARK.parked.load(Ordering::Relaxed) {
        g = PARK.cv.wait(g).unwrap_or_else(|e| e.into_inner());
    }
}

fn print_schedtrace(rt: &Runtime) {
    let s = crate::stats();
    let mut line = format!(
        "goro: schedtrace {}ms: workers={} spinning={} idle={} coroutines={} runnable~{} parked={} spawns={} parks={} steals={} handoffs={} waited_idle={} switches={} timers={} stacks={}",
        rt.started.elapsed().as_millis(),
        s.workers,
        s.spinning,
        s.sleeping,
        s.coroutines,
        s.runnable,
        s.parked,
        s.spawns,
        s.parks,
        s.steals,
        s.handoffs,
        s.waited_idle,
        s.switches,
        s.timers,
        s.stacks,
    );
    line.push_str(" [");
    for (i, w) in s.per_worker.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(&format!(
            "w{i}: homed={} starts={} queued={} timers={} conns={} load={} waited_idle={}",
            w.homed, w.starts, w.queued, w.timers, w.connections, w.load, w.waited_idle
        ));
    }
    line.push_str("]\n");
    // schedtrace is an explicit request for stderr output, as GODEBUG=schedtrace is in Go.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A run counts as long (warned about, its worker's queue opened to thieves) only if the
/// worker's thread was on a CPU for at least this much of the last tick. With more workers
/// than cores, a coroutine whose thread the OS did not run for a tick is not hogging its
/// worker; flagging it would hand its queued coroutines to whichever worker threads the OS
/// happens to run, which balances nothing.
const ON_CPU_NS: u64 = TICK.as_nanos() as u64 / 2;

/// Records the calling worker thread's CPU-time clock in `p` (Linux; elsewhere sysmon
/// judges long runs by wall time alone).
pub(super) fn publish_cpu_clock(p: &crate::rt::Processor) {
    #[cfg(target_os = "linux")]
    {
        let mut clock: libc::clockid_t = 0;
        // SAFETY: `pthread_self()` is the calling thread, alive for the call; `clock` is a
        // live, writable local.
        if unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) } == 0 {
            p.cpu_clock.store(clock, Ordering::Relaxed);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = p;
}

/// CPU time of `p`'s thread so far, if its clock is known (Linux only).
#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns(_p: &crate::rt::Processor) -> Option<u64> {
    None
}

/// CPU time of `p`'s thread so far, if its clock is known.
#[cfg(target_os = "linux")]
fn thread_cpu_ns(p: &crate::rt::Processor) -> Option<u64> {
    let clock = p.cpu_clock.load(Ordering::Relaxed);
    if clock == -1 {
        return None;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec; `clock` names a worker thread's CPU clock,
    // and worker threads live as long as the process.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}
