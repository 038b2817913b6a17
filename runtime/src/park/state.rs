//! The park state word's transitions: every change of a coroutine's `RUNNING` / `NOTIFIED` /
//! `PARKED` word is one of the functions here (the table and the race are in `park.rs`).
//!
//! They are generic over [`StateWord`], so that the loom model at the bottom checks these very
//! functions, on loom's atomics, while the runtime runs them on std's `AtomicU8` in
//! `Task::state`. (A coroutine switch itself cannot be modelled by loom; the model stands a
//! thread in for the worker that commits the park, which is exactly the part that races.)
use std::sync::atomic::{AtomicU8, Ordering};

/// Park state: running or queued, no token.
pub(crate) const RUNNING: u8 = 0;
/// Park state: running, with one unpark token.
pub(crate) const NOTIFIED: u8 = 1;
/// Park state: suspended and waiting; the next unpark enqueues it.
pub(crate) const PARKED: u8 = 2;

/// The atomic operations the transitions need: std's `AtomicU8`, or loom's under the model.
pub(crate) trait StateWord {
    fn load(&self, order: Ordering) -> u8;
    fn store(&self, value: u8, order: Ordering);
    fn compare_exchange(&self, current: u8, new: u8, ok: Ordering, err: Ordering)
        -> Result<u8, u8>;
}

impl StateWord for AtomicU8 {
    #[inline]
    fn load(&self, order: Ordering) -> u8 {
        AtomicU8::load(self, order)
    }
    #[inline]
    fn store(&self, value: u8, order: Ordering) {
        AtomicU8::store(self, value, order)
    }
    #[inline]
    fn compare_exchange(
        &self,
        current: u8,
        new: u8,
        ok: Ordering,
        err: Ordering,
    ) -> Result<u8, u8> {
        AtomicU8::compare_exchange(self, current, new, ok, err)
    }
}

/// Step 1, on the coroutine: consumes an unpark token if there is one (`NOTIFIED ->
/// RUNNING`). Acquire pairs with the unparker's Release, so whatever it published before
/// unparking is visible.
#[inline]
pub(crate) fn take_token(w: &impl StateWord) -> bool {
    // A plain load first: no token is the common case, and a failed CAS costs as much as a
    // successful one (a locked instruction on x86).
    w.load(Ordering::Relaxed) == NOTIFIED
        && w.compare_exchange(NOTIFIED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
}

/// Step 3, on the worker's stack after the switch: commits the park (`RUNNING -> PARKED`).
/// False if an unpark landed first (`NOTIFIED`): the state is put back to `RUNNING` (the
/// token is consumed) and the worker must resume the coroutine at once.
#[inline]
pub(crate) fn commit_park(w: &impl StateWord) -> bool {
    // Release: the switch off the stack (and everything the coroutine wrote) happens-before
    // the unparker's Acquire CAS out of PARKED. Acquire (on failure): the token's publisher.
    match w.compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => true,
        Err(s) => {
            debug_assert_eq!(s, NOTIFIED, "goro: corrupt park state {s}");
            // Relaxed: only the owner (us) can change NOTIFIED; the Acquire above already
            // made the unparker's writes visible.
            w.store(RUNNING, Ordering::Relaxed);
            false
        }
    }
}

/// Step 4, on any thread: the waker's half. `RUNNING -> NOTIFIED` leaves a token;
/// `NOTIFIED` stays; `PARKED -> RUNNING` returns true: the caller now owns the task's parked
/// reference and must hand the task to a run queue.
#[inline]
pub(crate) fn wake(w: &impl StateWord) -> bool {
    let mut s = w.load(Ordering::Relaxed);
    loop {
        let next = match s {
            RUNNING => NOTIFIED,
            NOTIFIED => return false,
            PARKED => RUNNING,
            _ => unreachable!("goro: corrupt park state {s}"),
        };
        // Release: the token/ownership carries what the waker wrote before unparking.
        // Acquire (on PARKED -> RUNNING): pairs with the worker's Release commit, so the
        // switch off the stack happened before we hand the task to a queue.
        match w.compare_exchange(s, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return s == PARKED,
            Err(actual) => s = actual,
        }
    }
}

/// A task made to start life parked (`PollFd::spawn_when_readable`): before it is shared,
/// so no other party can see the word yet.
#[inline]
pub(crate) fn start_parked(w: &impl StateWord) {
    // Relaxed: the unparker finds the task through a lock (the poll descriptor's slot),
    // which orders this store before its CAS.
    w.store(PARKED, Ordering::Relaxed);
}

/// loom models of the protocol: `RUSTFLAGS="--cfg loom" cargo test -p goro --lib --release
/// park::state` (see `.ci/run`). Each model explores every interleaving of the real
/// transitions above.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::{AtomicBool, AtomicU8 as LoomU8, AtomicUsize};
    use loom::sync::Arc;
    use loom::thread;

    impl StateWord for LoomU8 {
        fn load(&self, order: Ordering) -> u8 {
            LoomU8::load(self, order)
        }
        fn store(&self, value: u8, order: Ordering) {
            LoomU8::store(self, value, order)
        }
        fn compare_exchange(
            &self,
            current: u8,
            new: u8,
            ok: Ordering,
            err: Ordering,
        ) -> Result<u8, u8> {
            LoomU8::compare_exchange(self, current, new, ok, err)
        }
    }

    /// How one `park()` call on the coroutine side ended.
    #[derive(Debug, PartialEq)]
    enum Parked {
        /// A token was already there (step 1).
        TookToken,
        /// The commit found a token (step 3 failed): resumed at once.
        CommitFailed,
        /// Committed: it now waits for a waker to enqueue it.
        Committed,
    }

    /// The coroutine's `park()` and its worker's commit, as one thread runs them.
    fn park_once(w: &LoomU8) -> Parked {
        if take_token(w) {
            return Parked::TookToken;
        }
        if commit_park(w) {
            Parked::Committed
        } else {
            Parked::CommitFailed
        }
    }

    /// Shared state of one model run.
    struct World {
        state: LoomU8,
        /// The condition the waiter waits for.
        ready: AtomicBool,
        /// How many wakers won `PARKED -> RUNNING` (and so enqueued the task).
        enqueued: AtomicUsize,
    }

    fn world() -> Arc<World> {
        Arc::new(World {
            state: LoomU8::new(RUNNING),
            ready: AtomicBool::new(false),
            enqueued: AtomicUsize::new(0),
        })
    }

    fn waker(w: Arc<World>) -> thread::JoinHandle<()> {
        thread::spawn(move || {
            w.ready.store(true, Ordering::Release);
            if wake(&w.state) {
                w.enqueued.fetch_add(1, Ordering::Relaxed);
            }
        })
    }

    /// A waiter checks its condition, then parks; `wakers` threads make it true and unpark
    /// (one waker: an unpark; two: an unpark racing the park's timeout timer). In every
    /// interleaving: a committed park is enqueued by exactly one waker (no lost wake-up, no
    /// double enqueue), a park that did not commit is enqueued by none, and a waiter that
    /// comes back without being enqueued sees its condition or a token.
    fn check(wakers: usize) {
        loom::model(move || {
            let w = world();
            let hs: Vec<_> = (0..wakers).map(|_| waker(w.clone())).collect();
            let outcome = if w.ready.load(Ordering::Acquire) {
                None // condition already true: no park at all
            } else {
                Some(park_once(&w.state))
            };
            for h in hs {
                h.join().unwrap();
            }
            let enqueued = w.enqueued.load(Ordering::Relaxed);
            match outcome {
                Some(Parked::Committed) => assert_eq!(enqueued, 1, "lost or doubled wake-up"),
                _ => assert_eq!(enqueued, 0, "a running coroutine was enqueued"),
            }
            if outcome == Some(Parked::CommitFailed) || outcome == Some(Parked::TookToken) {
                // Whoever left the token made the condition true first (Release/Acquire).
                assert!(w.ready.load(Ordering::Relaxed));
            }
        });
    }

    #[test]
    fn park_against_one_unpark() {
        check(1);
    }

    #[test]
    fn park_against_an_unpark_and_a_timeout() {
        check(2);
    }

    /// A parked-from-birth task (`spawn_when_readable`): of two racing wakers (the poller and
    /// a close), exactly one enqueues it.
    #[test]
    fn a_task_born_parked_is_enqueued_once() {
        loom::model(|| {
            let w = world();
            start_parked(&w.state);
            let hs: Vec<_> = (0..2).map(|_| waker(w.clone())).collect();
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(w.enqueued.load(Ordering::Relaxed), 1);
        });
    }

    /// Two park/wake rounds in a row: the token of round one never makes round two's commit
    /// lose its waker (the state is back to RUNNING after every round).
    #[test]
    fn two_rounds_leave_no_stray_state() {
        loom::model(|| {
            let w = world();
            for _ in 0..2 {
                w.ready.store(false, Ordering::Relaxed);
                w.enqueued.store(0, Ordering::Relaxed);
                let h = waker(w.clone());
                let outcome = park_once(&w.state);
                h.join().unwrap();
                let enqueued = w.enqueued.load(Ordering::Relaxed);
                match outcome {
                    Parked::Committed => assert_eq!(enqueued, 1),
                    _ => assert_eq!(enqueued, 0),
                }
                // Settle the round as the runtime would: a token left over is consumed by
                // the next park; a committed task resumed by its waker is RUNNING.
                let _ = take_token(&w.state);
                assert_eq!(w.state.load(Ordering::Relaxed), RUNNING);
            }
        });
    }
}
