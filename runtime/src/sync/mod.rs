//! Synchronization primitives that park coroutines instead of blocking worker threads.
//!
//! Go's `sync` package, for goro: [`Mutex`], [`RwLock`] (Go's `RWMutex`), [`Condvar`] (Go's
//! `Cond`), [`WaitGroup`], [`Semaphore`], [`Pool`] (Go's `sync.Pool`, typed), and [`OnceLock`]
//! (Go's `sync.OnceValue`: a value made once by an initializer that may park). Each works from a
//! coroutine (a waiter *parks*: its worker runs other coroutines meanwhile) and from a plain
//! OS thread (the same calls block the thread), so a lock can be shared between `main`, a
//! thread pool and coroutines. A `std::sync::Mutex` held by a coroutine that then waits would
//! stall the whole worker; these primitives do not.
//!
//! # The waiter queue protocol
//!
//! Every primitive is "an atomic or locked count, plus a FIFO queue of waiters behind a
//! short std lock". A `Waiter` is an `Arc` holding a decision word and the waiter's
//! [`Unparker`](crate::park::Unparker). The protocol, for a waiter and a waker racing on any
//! thread:
//!
//! 1. **Check.** The waiter tries the fast path (a CAS on the state word, or the count under
//!    the lock). Success: done, nothing queued.
//! 2. **Register.** The waiter takes the queue lock, *re-checks* the condition under it, and
//!    only if it still has to wait pushes its `Waiter` (state `WAITING`). For [`Mutex`] the
//!    re-check is the CAS that sets `QUEUED`, which forces the owner's unlock onto the slow
//!    path that takes this lock.
//! 3. **Release the lock, then park in a loop** until its own decision word is no longer
//!    `WAITING`. The queue lock is never held across a park. `park` may return spuriously;
//!    the loop absorbs that. An unpark that lands between step 2 and the park is kept as a
//!    token by the park layer (`park` then returns at once), so it is never lost.
//! 4. **Decide.** The waker changes the count, takes the queue lock, *removes* the waiter from
//!    the queue and writes its decision (`GRANTED`, or `WOKEN` for the Mutex's race-again)
//!    with Release, all under the lock. Because the waiter is removed and decided in one
//!    critical section, "in the queue" and "`WAITING`" mean the same thing to anyone holding
//!    the lock.
//! 5. **Wake outside locks.** The waker collects the decided waiters, drops the queue lock,
//!    then calls `unpark` on each (the `Arc` keeps the unparker alive even if the waiter has
//!    already seen its decision and returned). Unparking under the lock would make the woken
//!    coroutine's first act (often re-taking that lock) contend with us.
//! 6. **Time out** (Semaphore's `acquire_timeout`). The waiter gives up parking at its
//!    deadline, takes the queue lock and reads its decision again. Still `WAITING`: it removes
//!    itself and reports the timeout. Decided: the waker beat the deadline and already handed
//!    the resource over, so the waiter keeps it. No grant is ever lost to a timeout, and no
//!    timeout reports success.
//!
//! The waiter trusts only its decision word (Acquire), never the mere fact that it was
//! unparked, so there is no spurious success; and since the decision is written before the
//! unpark, with the park layer's token semantics, there is no lost wakeup.
//!
//! # State words
//!
//! `Waiter::state` (`sync/waiter.rs`), one per parked call:
//!
//! | value | meaning | who may change it |
//! |---|---|---|
//! | `WAITING` (0) | queued, undecided | the waker (→ `GRANTED`/`WOKEN`), under the queue lock, after removing it from the queue |
//! | `GRANTED` (1) | the resource/event is this waiter's (Mutex: LOCKED was left set for it; RwLock: WRITER or one reader count was set for it; Semaphore: a permit; WaitGroup: counter reached zero; Condvar: a notification) | nobody; final |
//! | `WOKEN` (2) | Mutex only: dequeued and asked to race for the lock again; owns nothing | the waiter (→ `WAITING`), under the queue lock, when it queues again at the front |
//!
//! `Mutex::state` (`sync/mutex.rs`), an `AtomicU8`:
//!
//! | value | meaning | who may change it |
//! |---|---|---|
//! | `0` | unlocked, no waiters | any locker: CAS → `LOCKED` (the one-CAS fast path) |
//! | `LOCKED` | held, no waiters | owner: CAS → `0` (fast unlock); a locker under the queue lock: CAS → `LOCKED\|QUEUED` |
//! | `QUEUED` | free, waiters queued (the head was just `WOKEN` to race) | any locker: CAS → `LOCKED\|QUEUED` (barging) |
//! | `LOCKED\|QUEUED` | held, waiters queued | owner's slow unlock, under the queue lock: → `QUEUED`/`0` (wake) or stays `LOCKED(\|QUEUED)` (hand off) |
//!
//! `RwLock::state` (`sync/rwlock.rs`), an `AtomicUsize`: the number of active readers times
//! `ONE_READER` (bits 3..) plus three flags. Readers and writers only ever queue with direct
//! handoff (`GRANTED`), never `WOKEN`:
//!
//! | bits | meaning | who may change it |
//! |---|---|---|
//! | readers = n, no flags | n readers hold it (n = 0: free) | any reader: CAS +1 (fast path); a reader leaving: `fetch_sub` 1; a writer: CAS `0` → `WRITER` |
//! | `WRITER` | a writer holds it; n = 0 | the owner: CAS `WRITER` → `0` (fast unlock) |
//! | `READER_QUEUED` | the reader queue is non-empty; only ever with `WRITER` or `WRITER_QUEUED` | set by a reader under the queue lock (CAS); cleared by the writer's slow unlock, which counts every queued reader in (n = queue length) and grants them |
//! | `WRITER_QUEUED` | the writer queue is non-empty: new readers queue (writer preference) | set by a writer under the queue lock (CAS, covering n so a leaving reader is not missed); cleared under the queue lock when the last queued writer is handed `WRITER` |
//! | n > 0 and `WRITER_QUEUED` | readers draining before a writer | the reader whose `fetch_sub` takes n from 1 to 0 takes the queue lock and hands `WRITER` to the oldest writer (a plain store: nobody else may change the word then) |
//!
//! Reads from coroutines may bypass this word: while `RwLock::biased` is set, a coroutine's
//! read counts itself in its worker's reader slot for the lock (`sync/reader_slots.rs`: the
//! lock's key and a count of holds in one word), and a writer, once it holds `WRITER`,
//! clears `biased` and waits for those slots to drain. The protocol (steps B1–B3, R1–R3,
//! D1–D3) and why it excludes writers are in `sync/rwlock.rs`, "Reader bias".
//!
//! `WaitGroup::count` (`sync/wait_group.rs`), an `AtomicUsize`: the number of `add`s not yet
//! matched by a `done`. Any `add` increments it (panics on overflow); a `done` decrements it
//! with a CAS while it is ≥ 2 and panics at 0; the step 1 → 0 is done only under the queue
//! lock together with releasing the queued waiters (so a waiter of the next round, queued
//! after a fresh `add`, is never released by this round's zero).
//!
//! `Condvar` (`sync/condvar.rs`) has no state word: only its queue, under its queue lock. A
//! waiter queues *before* it unlocks the caller's `Mutex` (so a notifier that takes the mutex
//! afterwards finds it queued); `notify_one`/`notify_all` remove and decide `GRANTED` under the
//! queue lock; a timed-out waiter that finds itself still `WAITING` removes itself and reports
//! the timeout, one that finds itself decided counts as notified (no notification is lost).
//! Either way it locks the mutex again before returning.
//!
//! `Pool`'s shards (`sync/pool.rs`) never park anyone (a miss makes a new value), so they are not
//! waiter queues: each is `primary`/`victim` stacks plus the trim epoch they belong to, under a
//! std lock held only to push or pop:
//!
//! | field | meaning | who may change it |
//! |---|---|---|
//! | `primary` | values put back in epoch `epoch` | `put` (push), `get` (pop), on the caller's worker's shard; a stealing `get` (pop) with `try_lock` |
//! | `victim` | `primary` as of epoch `epoch - 1` | `get` pops when `primary` is empty; catching up one epoch replaces it with `primary` |
//! | `epoch` | the trim epoch (time since the pool was made / period) the stacks belong to | catching up, on every 16th operation and every steal: one epoch behind → `victim = primary`; two or more → both freed, after the lock is released |
//!
//! `Semaphore` (`sync/semaphore.rs`) keeps `permits: usize` under its queue lock, with the
//! invariant `permits == 0 || queue is empty`: a release hands its permit to the oldest waiter
//! (`GRANTED`) and only increments `permits` when nobody waits.
//!
//! # Designs rejected
//!
//! - *A per-object std `Mutex` + `Condvar`*: a condvar blocks the OS thread, i.e. the whole
//!   worker and every coroutine on it.
//! - *Intrusive waiter nodes on the waiter's stack* (no allocation per contended wait): sound
//!   only with careful `unsafe` about when the waker may last touch the node; an `Arc` per
//!   *contended* wait costs one allocation next to a park that costs far more, and keeps this
//!   module free of `unsafe` except the Mutex's data access.
//! - *Spinning before parking* in the Mutex (Go spins a few rounds on multicore): a spinning
//!   coroutine holds its worker; with one worker per core and critical sections that may
//!   themselves park, the spin mostly burns the CPU the owner needs. Barging gives most of
//!   the benefit. (`RwLock` does spin, bounded and only while every holder took the lock
//!   itself and so is presumably running: parking there is contagious, see `sync/rwlock.rs`.)
//!
//! # Poisoning
//!
//! None of these types poisons: a panic while holding a [`MutexGuard`] unlocks it (like
//! `parking_lot`). Internally, queue locks are std mutexes whose poison is ignored; no code
//! path panics while holding one.
mod condvar;
mod errgroup;
mod mutex;
mod once_lock;
mod pool;
mod reader_slots;
mod rwlock;
mod semaphore;
mod wait_group;
mod waiter;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use errgroup::ErrGroup;
pub use mutex::{Mutex, MutexGuard};
pub use once_lock::OnceLock;
pub use pool::{Pool, PoolGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use wait_group::WaitGroup;
