//! Blocking selects, sends and receives allocate nothing in the steady state (issue #18;
//! Go's `test/chan/select2.go` asks the same of Go's select), on threads and coroutines.
//!
//! A counting global allocator counts every allocation in the process while a measured
//! loop runs. Each loop is a ping-pong, so nearly every select or receive really blocks
//! (registers in the wait queues and parks, or spins on a thread), which is where a
//! per-wait context, a per-arm entry or a growing wait list would allocate. Loops run
//! once to warm up (first waits make each thread's and coroutine's context; the unbounded
//! channel makes its spare block), then again measured.
//!
//! Zero-capacity channels are left out on purpose: a select arm on one allocates its
//! exchange packet (as crossbeam-channel's does); see `flavors/zero.rs`.
//!
//! `GORO_CHAN_ALLOC_TRACE=1` prints a backtrace of the first allocations seen in a
//! measured loop, to find where they come from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use goro_chan::{bounded, select, unbounded, Receiver, Sender};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set while this thread prints a trace (which allocates).
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call to `System` unchanged; the counting touches only atomics and
// a const-initialised thread-local (no allocation, no re-entry except the guarded trace).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(SeqCst) && !IN_TRACE.with(Cell::get) {
            let n = ALLOCS.fetch_add(1, SeqCst);
            // A sample of them: the first few, then one in a thousand.
            if TRACE.load(SeqCst) && (n < 4 || n.is_multiple_of(1000)) {
                IN_TRACE.with(|t| t.set(true));
                let bt = std::backtrace::Backtrace::force_capture();
                eprintln!("allocation of {} bytes:\n{bt}", layout.size());
                IN_TRACE.with(|t| t.set(false));
            }
        }
        // SAFETY: the caller's contract for `alloc`, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The tests count process-wide: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const ROUNDS: usize = 20_000;

/// Runs `body` once to warm up and once counting; returns the allocations of the second.
fn count(body: impl Fn()) -> usize {
    body();
    TRACE.store(std::env::var_os("GORO_CHAN_ALLOC_TRACE").is_some(), SeqCst);
    ALLOCS.store(0, SeqCst);
    COUNTING.store(true, SeqCst);
    body();
    COUNTING.store(false, SeqCst);
    ALLOCS.load(SeqCst)
}

/// The receiving side: `ROUNDS` blocking selects over `data` and a never-ready `dummy`,
/// each answered on `ack`.
fn select_side(data: &Receiver<u32>, dummy: &Receiver<u32>, ack: &Sender<u32>) {
    for i in 0..ROUNDS as u32 {
        select! {
            recv(data) -> v => assert_eq!(v, Ok(i)),
            recv(dummy) -> _ => panic!("dummy"),
        }
        ack.send(i).unwrap();
    }
}

/// The sending side: sends one value, then blocks on its acknowledgement.
fn send_side(data: &Sender<u32>, ack: &Receiver<u32>) {
    for i in 0..ROUNDS as u32 {
        data.send(i).unwrap();
        assert_eq!(ack.recv(), Ok(i));
    }
}

/// One measured ping-pong: the select side on the calling thread or in a coroutine, the
/// send side on a thread or in a coroutine.
fn pingpong(unbounded_data: bool, select_in_coroutine: bool, send_in_coroutine: bool) -> usize {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (data_tx, data_rx) = if unbounded_data {
        unbounded()
    } else {
        bounded(1)
    };
    let (ack_tx, ack_rx) = unbounded();
    let (_dummy_tx, dummy_rx) = unbounded::<u32>();
    // Threads and coroutines are started outside the counted region: each round's two
    // sides meet through a pair of start/done channels made once.
    let (go_tx, go_rx) = bounded::<()>(0);
    let (done_tx, done_rx) = bounded::<()>(0);
    let sender = {
        let (data_tx, ack_rx) = (data_tx.clone(), ack_rx.clone());
        let body = move || {
            while go_rx.recv().is_ok() {
                send_side(&data_tx, &ack_rx);
                done_tx.send(()).unwrap();
            }
        };
        if send_in_coroutine {
            let h = goro::spawn(body);
            Box::new(move || h.join().unwrap()) as Box<dyn FnOnce()>
        } else {
            let h = std::thread::spawn(body);
            Box::new(move || h.join().unwrap())
        }
    };
    let round = || {
        go_tx.send(()).unwrap();
        if select_in_coroutine {
            // A fresh coroutine each round would allocate its spawn: keep one.
            SELECTOR.with(|s| s.run(&data_rx, &dummy_rx, &ack_tx));
        } else {
            select_side(&data_rx, &dummy_rx, &ack_tx);
        }
        done_rx.recv().unwrap();
    };
    let n = count(round);
    drop(go_tx);
    sender();
    n
}

/// A long-lived coroutine that runs `select_side` on request.
struct Selector {
    work: Sender<(Receiver<u32>, Receiver<u32>, Sender<u32>)>,
    finished: Receiver<()>,
}

impl Selector {
    fn new() -> Selector {
        let (work, work_rx) = bounded::<(Receiver<u32>, Receiver<u32>, Sender<u32>)>(0);
        let (finished_tx, finished) = bounded(0);
        goro::spawn(move || {
            for (data, dummy, ack) in &work_rx {
                select_side(&data, &dummy, &ack);
                drop((data, dummy, ack));
                finished_tx.send(()).unwrap();
            }
        });
        Selector { work, finished }
    }

    fn run(&self, data: &Receiver<u32>, dummy: &Receiver<u32>, ack: &Sender<u32>) {
        // Cloning a handle bumps a count; it does not allocate.
        self.work
            .send((data.clone(), dummy.clone(), ack.clone()))
            .unwrap();
        self.finished.recv().unwrap();
    }
}

thread_local! {
    static SELECTOR: Selector = Selector::new();
}

/// What a loop may allocate that is not goro-chan's: on threads, a lazily made std
/// thread-local that the warm-up did not touch; with coroutines also goro's own, whose
/// inbox (a segment queue) allocates a block per 31 wakes of a coroutine from another
/// thread, and whose monitor thread allocates now and then. A per-wait allocation in
/// goro-chan would be at least `ROUNDS`.
const ON_THREADS: usize = 8;
const WITH_COROUTINES: usize = ROUNDS / 8;

fn check(what: &str, allocs: usize, allowed: usize) {
    eprintln!("{what}: {allocs} allocations");
    assert!(
        allocs <= allowed,
        "{what}: {allocs} allocations over {ROUNDS} blocking selects, {allowed} allowed \
         (rerun with GORO_CHAN_ALLOC_TRACE=1 for where)"
    );
}

#[test]
fn select_unbounded_threads() {
    check(
        "unbounded, threads",
        pingpong(true, false, false),
        ON_THREADS,
    );
}

#[test]
fn select_unbounded_sender_in_coroutine() {
    check(
        "unbounded, sender in a coroutine",
        pingpong(true, false, true),
        WITH_COROUTINES,
    );
}

#[test]
fn select_unbounded_both_in_coroutines() {
    check(
        "unbounded, coroutines",
        pingpong(true, true, true),
        WITH_COROUTINES,
    );
}

#[test]
fn select_bounded_threads() {
    check(
        "bounded(1), threads",
        pingpong(false, false, false),
        ON_THREADS,
    );
}

#[test]
fn select_bounded_both_in_coroutines() {
    check(
        "bounded(1), coroutines",
        pingpong(false, true, true),
        WITH_COROUTINES,
    );
}

/// Eight stages of coroutines, each a blocking select on its input: many coroutines of
/// one worker wait at the same time, so a per-thread context cache would serve one of
/// them and the others would allocate per wait.
fn pipeline(unbounded_links: bool) -> usize {
    const STAGES: usize = 8;
    const PIPELINE_ROUNDS: usize = ROUNDS / 10;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let link = || {
        if unbounded_links {
            unbounded::<u32>()
        } else {
            bounded::<u32>(1)
        }
    };
    let (first_tx, mut rx) = link();
    let (_dummy_tx, dummy_rx) = unbounded::<u32>();
    let mut stages = Vec::new();
    for _ in 0..STAGES {
        let (tx, next_rx) = link();
        let dummy = dummy_rx.clone();
        stages.push(goro::spawn(move || loop {
            select! {
                recv(rx) -> v => match v {
                    Ok(v) => tx.send(v + 1).unwrap(),
                    Err(_) => break,
                },
                recv(dummy) -> _ => panic!("dummy"),
            }
        }));
        rx = next_rx;
    }
    let last = rx;
    let (feed_tx, feed_rx) = bounded::<()>(0);
    let (fed_tx, fed_rx) = bounded::<()>(0);
    let feeder = goro::spawn(move || {
        while feed_rx.recv().is_ok() {
            for i in 0..PIPELINE_ROUNDS as u32 {
                first_tx.send(i).unwrap();
                // One value in flight at a time: every stage waits for every value.
                assert_eq!(last.recv(), Ok(i + STAGES as u32));
            }
            fed_tx.send(()).unwrap();
        }
    });
    let n = count(|| {
        feed_tx.send(()).unwrap();
        fed_rx.recv().unwrap();
    });
    drop(feed_tx);
    feeder.join().unwrap();
    for s in stages {
        s.join().unwrap();
    }
    n
}

#[test]
fn select_pipeline_unbounded_coroutines() {
    // 9 waits per value and a tenth of the values: the allowance per wait is as above.
    check(
        "unbounded pipeline",
        pipeline(true),
        WITH_COROUTINES * 9 / 10,
    );
}

#[test]
fn select_pipeline_bounded_coroutines() {
    check(
        "bounded(1) pipeline",
        pipeline(false),
        WITH_COROUTINES * 9 / 10,
    );
}
