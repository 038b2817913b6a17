//! Work conservation, counted (issue #15): with 8, 16 and 64 workers on any machine, bursts of
//! CPU-bound coroutines and Go's worker pool spread over the workers. Counts, never speeds:
//! every figure is read from `goro::stats()` (per-worker `starts`) or counted by the
//! coroutines themselves (jobs per worker), after at most a few seconds of load.
//!
//! The worker count is fixed when a runtime starts, so each case runs in a child process of
//! this test binary with `GORO_MAXPROCS` set, which runs the `child` test below with the case
//! named in `GORO_CONSERVE_CASE`.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one case may load the runtime before its counts are read.
const LOAD_CAP: Duration = Duration::from_secs(4);
/// The CPU work of one coroutine: a busy loop that checks this thread's CPU clock, so a
/// coroutine does its 1 ms of CPU even when its thread waits for a core (more workers than
/// cores here).
const BURN: Duration = Duration::from_millis(1);

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn burn(d: Duration) {
    let t = thread_cpu();
    while thread_cpu() - t < d {
        std::hint::spin_loop();
    }
}

/// Runs `case` with `workers` workers in a child process; fails with its output if it fails
/// twice in a row.
///
/// Why a second try: with 8 or 16 workers on a 2-core machine, the OS decides which worker
/// threads run, and a thief that steals one coroutine at a time from a backlog (work
/// conservation) does so in proportion to the CPU its thread got. Another process's load
/// on the machine can skew that far enough to break a bound now and then. A placement bug
/// breaks the bound every time, so it still fails here; a skew the OS caused once does not.
fn run_case(workers: usize, case: &str) {
    // One child at a time: two runtimes of 8 and 16 workers on a 2-core machine at once
    // would measure the OS's sharing of cores between them, not the placement.
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let mut first_failure = None;
    for attempt in 1..=2 {
        let t = Instant::now();
        let (ok, text) = run_child(workers, case);
        if ok {
            eprintln!(
                "{case} W={workers}: ok in {:?} (attempt {attempt})",
                t.elapsed()
            );
            return;
        }
        eprintln!("{case} W={workers}: attempt {attempt} failed:\n{text}");
        first_failure.get_or_insert(text);
    }
    panic!(
        "case {case} with {workers} workers failed twice; first failure:\n{}",
        first_failure.unwrap_or_default()
    );
}

/// One child process running `case`: whether it passed, and its output.
fn run_child(workers: usize, case: &str) -> (bool, String) {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("GORO_MAXPROCS", workers.to_string())
        .env("GORO_CONSERVE_CASE", case)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("CONSERVE-OK"), text)
}

/// The most of `n` coroutines one of `w` workers may start: max(2, 2·⌈n/w⌉).
fn bound(n: usize, w: usize) -> u64 {
    (2 * n.div_ceil(w)).max(2) as u64
}

fn starts() -> Vec<u64> {
    goro::stats().per_worker.iter().map(|w| w.starts).collect()
}

/// Per-worker starts since `before`, checked against the bound for `n` coroutines.
fn check_starts(what: &str, n: usize, before: &[u64]) {
    let after = starts();
    let delta: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let w = delta.len();
    let started: u64 = delta.iter().sum();
    let max = *delta.iter().max().unwrap();
    println!("{what}: n={n} workers={w} started={started} per worker {delta:?}");
    assert!(
        max <= bound(n, w),
        "{what}: a worker started {max} of {n} coroutines (bound {}): {delta:?}\n{:?}",
        bound(n, w),
        goro::stats()
    );
}

/// Waits for `done` coroutines to reach `n`, or the load cap.
fn wait_done(done: &AtomicU64, n: usize, since: Instant) {
    while done.load(Ordering::Relaxed) < n as u64 && since.elapsed() < LOAD_CAP {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A burner: 1 ms of CPU, unless the case is over.
fn burner(stop: &Arc<AtomicBool>, done: &Arc<AtomicU64>) -> impl FnOnce() + Send + 'static + use<> {
    let (stop, done) = (stop.clone(), done.clone());
    move || {
        if !stop.load(Ordering::Relaxed) {
            burn(BURN);
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// N burners spawned from a plain thread.
fn from_thread(n: usize) {
    let (stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let before = starts();
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|_| goro::spawn(burner(&stop, &done))).collect();
    wait_done(&done, n, t);
    check_starts("thread burst", n, &before);
    stop.store(true, Ordering::Relaxed);
    hs.into_iter().for_each(|h| h.join().unwrap());
}

/// N burners spawned from one coroutine, which then joins them.
fn from_coroutine(n: usize) {
    let (stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let spawner = {
        let (stop, done) = (stop.clone(), done.clone());
        goro::spawn(move || {
            // The spawner has started: what follows counts only the burners.
            tx.send(starts()).unwrap();
            let hs: Vec<_> = (0..n).map(|_| goro::spawn(burner(&stop, &done))).collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
        })
    };
    let before = rx.recv().unwrap();
    wait_done(&done, n, Instant::now());
    check_starts("coroutine burst", n, &before);
    stop.store(true, Ordering::Relaxed);
    spawner.join().unwrap();
}

/// 8 coroutines, each 1 ms of CPU and then spawning n/8 burners: n + 8 coroutines.
fn nested(n: usize) {
    let (stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let per = n / 8;
    let root = {
        let (stop, done) = (stop.clone(), done.clone());
        goro::spawn(move || {
            tx.send(starts()).unwrap();
            let mids: Vec<_> = (0..8)
                .map(|_| {
                    let (stop, done) = (stop.clone(), done.clone());
                    goro::spawn(move || {
                        burn(BURN);
                        done.fetch_add(1, Ordering::Relaxed);
                        let hs: Vec<_> = (0..per)
                            .map(|_| goro::spawn(burner(&stop, &done)))
                            .collect();
                        hs.into_iter().for_each(|h| h.join().unwrap());
                    })
                })
                .collect();
            mids.into_iter().for_each(|h| h.join().unwrap());
        })
    };
    let before = rx.recv().unwrap();
    let total = 8 + 8 * per;
    wait_done(&done, total, Instant::now());
    check_starts("nested burst", total, &before);
    stop.store(true, Ordering::Relaxed);
    root.join().unwrap();
}

/// Go's worker pool with main on this (plain) thread: `pool` coroutines take `jobs` jobs of
/// 1 ms from one channel and send results back on another. No worker may do more than twice
/// its fair share of the jobs.
fn pool(pool: usize, jobs: usize) {
    let w = goro::stats().workers;
    let per_worker: Arc<Vec<AtomicU64>> = Arc::new((0..w).map(|_| AtomicU64::new(0)).collect());
    let jobs_ch = Arc::new(Chan::new(100));
    let results = Arc::new(Chan::new(100));
    let hs: Vec<_> = (0..pool)
        .map(|_| {
            let (jobs_ch, results, per_worker) =
                (jobs_ch.clone(), results.clone(), per_worker.clone());
            goro::spawn(move || {
                while let Some(j) = jobs_ch.recv() {
                    burn(BURN);
                    per_worker[goro::worker_index().unwrap()].fetch_add(1, Ordering::Relaxed);
                    results.send(Some(j));
                }
            })
        })
        .collect();
    let feeder = {
        let jobs_ch = jobs_ch.clone();
        goro::spawn(move || {
            for j in 0..jobs {
                jobs_ch.send(Some(j));
            }
            for _ in 0..pool {
                jobs_ch.send(None); // close
            }
        })
    };
    let t = Instant::now();
    let mut got = 0;
    while got < jobs && t.elapsed() < LOAD_CAP {
        results.recv();
        got += 1;
    }
    let counts: Vec<u64> = per_worker
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    let total: u64 = counts.iter().sum();
    let fair = total as f64 / pool.min(w) as f64;
    let max = *counts.iter().max().unwrap();
    println!(
        "pool: {pool} coroutines, {total} jobs on {w} workers: {counts:?}; starts {:?}",
        starts()
    );
    assert!(
        max as f64 <= 2.0 * fair,
        "pool: a worker did {max} of {total} jobs (fair share {fair:.0}): {counts:?}\n{:?}",
        goro::stats()
    );
    // Let the rest finish (results keep flowing so no sender stays blocked).
    let drain = {
        let results = results.clone();
        goro::spawn(move || while results.recv().is_some() {})
    };
    feeder.join().unwrap();
    hs.into_iter().for_each(|h| h.join().unwrap());
    results.send(None);
    drain.join().unwrap();
}

/// A bounded MPMC channel of `Option<usize>` built on goro's semaphores (this crate's tests
/// cannot use goro-chan, which depends on goro).
struct Chan {
    slots: goro::sync::Semaphore,
    items: goro::sync::Semaphore,
    queue: std::sync::Mutex<std::collections::VecDeque<Option<usize>>>,
}

impl Chan {
    fn new(cap: usize) -> Chan {
        Chan {
            slots: goro::sync::Semaphore::new(cap),
            items: goro::sync::Semaphore::new(0),
            queue: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    fn send(&self, v: Option<usize>) {
        self.slots.acquire().forget();
        self.queue.lock().unwrap().push_back(v);
        self.items.add_permits(1);
    }

    fn recv(&self) -> Option<usize> {
        self.items.acquire().forget();
        let v = self.queue.lock().unwrap().pop_front().unwrap();
        self.slots.add_permits(1);
        v
    }
}

/// The child process's entry: runs the case named in `GORO_CONSERVE_CASE` (if any).
#[test]
fn child() {
    let Ok(case) = std::env::var("GORO_CONSERVE_CASE") else {
        return;
    };
    let (shape, n) = case.split_once(':').unwrap();
    let n: usize = n.parse().unwrap();
    match shape {
        "thread" => from_thread(n),
        "coroutine" => from_coroutine(n),
        "nested" => nested(n),
        "pool" => pool(n, 400),
        _ => panic!("unknown case {case}"),
    }
    println!("CONSERVE-OK");
}

fn all_cases(workers: usize) {
    for n in [8, 64, 1000, 10_000] {
        run_case(workers, &format!("thread:{n}"));
    }
    // 10,000 from a coroutine is past what a burst deals out (64 per worker, rt/queues.rs):
    // the rest queue on the spawner's worker and go to thieves, a batch at a time.
    for n in [8, 64, 1000, 10_000] {
        run_case(workers, &format!("coroutine:{n}"));
    }
    for n in [8, 64, 1000] {
        run_case(workers, &format!("nested:{n}"));
    }
    for p in [8, 64] {
        run_case(workers, &format!("pool:{p}"));
    }
}

#[test]
fn bursts_and_pools_spread_over_8_workers() {
    all_cases(8);
}

#[test]
fn bursts_and_pools_spread_over_16_workers() {
    all_cases(16);
}

/// Past the 2-core machine's counts by far: 64 workers, as on a 64-core server. The OS shares
/// two cores among 64 worker threads, so this is the placement policy under the worst skew
/// the OS can add, not a speed; the bursts are the ones whose shape the policy decides
/// (the worker pool's spread is the same mechanism as the thread burst's, so it is left out
/// to keep the case short).
#[test]
fn bursts_spread_over_64_workers() {
    for case in [
        "thread:1000",
        "coroutine:64",
        "coroutine:1000",
        "coroutine:10000",
        "nested:1000",
    ] {
        run_case(64, case);
    }
}
