//! `RwLock<T>`: a reader-writer lock that parks coroutines (Go's `sync.RWMutex`, writer-preferring).
//!
//! Algorithm: one state word (a reader count and three flag bits) plus two FIFO queues behind
//! one short std lock, following the waiter-queue protocol of `sync/mod.rs` with direct
//! handoff (`GRANTED`) only: a waiter that is woken always owns what it waited for. The phases
//! are Go's (`src/sync/rwmutex.go`): a waiting writer closes the door to new readers, the
//! last active reader hands the lock to it, and its unlock admits every reader that queued
//! meanwhile (as one batch) before the next writer, so neither side starves.
//!
//! # Waiting: spin while the holders run, park otherwise; release to granted waiters
//!
//! Coroutines are not preempted, and that shapes how a contended acquire should wait. A
//! reader's or writer's critical section is usually short, and if whoever holds the lock is
//! running (on another worker or thread) it will be done within a microsecond or two: then a
//! short spin (`SPINS`) costs less than parking, and far less than what parking starts.
//! Parking in a writer-preferring lock is contagious: a parked writer keeps the door closed,
//! so every coroutine on every worker that reads next queues and parks too; the writer's
//! unlock then counts the whole batch in as readers, and those that live on the unlocking
//! coroutine's own worker cannot run, let alone release, until that coroutine parks. Its next
//! write must wait for them, so it parks, and so on: measured with 8 readers on 2 workers
//! (one write in 64 operations) every write parked 7 coroutines (0.11 parks per operation)
//! and both workers idled half the time, waiting for each other's handoffs.
//!
//! So the lock keeps `granted`: how many waiters it has handed ownership (a read slot or
//! `WRITER`) that have not resumed yet. It is a hint for scheduling only; no correctness
//! argument uses it.
//!
//! - A contended acquire spins (bounded) only while `granted` is 0, i.e. while every holder
//!   is one that took the lock itself and is presumably running; both then park as before. A
//!   holder that parked while holding a guard costs a spinner `SPINS` rounds once.
//! - A reader spins before it queues, waiting for the door to open.
//! - A writer spins twice. First before it queues, with the door still open, taking the lock
//!   the moment the word is 0 (as std's futex `RwLock` does): the readers' holds leave gaps,
//!   and a write that slips into one costs nothing more. Queueing at once instead closed the
//!   door, and readers that then found the lock handed to the writer blocked; on OS threads a
//!   block and wake costs microseconds. Measured with goro's lock on 4 and 8 plain threads
//!   (benches/rwlock.rs, one write in 64 operations) the spin halves the time per operation.
//!   Coroutine readers on 2 workers rarely wait with it (one write in 150 queues). This
//!   spin cannot overtake a queued writer (the word is never 0 while one is queued: every
//!   release hands over to it directly) and stops as soon as one queues. Then, once it
//!   queued and closed the door, it spins for its grant, so writer preference is exact from
//!   there: a stream of readers delays a writer by at most one bounded spin.
//! - A coroutine whose unlock granted the lock to waiters, or whose read hold was itself
//!   granted by a batch admission, yields after releasing while `granted` is non-zero: the
//!   granted waiters hold the lock without running, and on this worker only a yield lets them
//!   run, release, and dissolve the convoy above instead of feeding it. (The writer that
//!   admitted a batch yields to it; each admitted reader yields to the rest of its batch; the
//!   last one goes on.) The uncontended release does not look at `granted`.
//!
//! # Reader bias: reads from coroutines that write no shared cache line
//!
//! With the protocol above alone, every read writes the state word twice (a CAS in, a
//! `fetch_sub` out), so readers on different cores pass its cache line back and forth: two
//! coroutine readers on two workers paid about 150 ns per read where one alone pays 27. So a
//! lock that is read from coroutines turns *biased* (BRAVO, Dice and Kogan, 2019): a reader
//! on a worker counts its hold in that worker's reader slot for the lock
//! (`sync/reader_slots.rs`), a word only that worker's readers write, and leaves `state`
//! alone. A writer, once it holds `WRITER`, revokes the bias and waits for the slots to
//! drain. The biased read and release, and revocation:
//!
//! - **B1** `biased` is set and `state` shows no writer holding or queued (the second test
//!   only keeps writer preference as readers of `state` see it; B3 is what excludes writers).
//! - **B2** Count in: a CAS on this worker's slot for the lock (`SeqCst`). No slot (a plain
//!   thread, the slot taken by another lock, or full): read through `state`.
//! - **B3** Load `biased` again (`SeqCst`). Set: the hold is ours. Clear: count out as in D3
//!   and read through `state`.
//! - **R1** The writer, holding `WRITER`, clears `biased` (`SeqCst`).
//! - **R2** It loads, on every worker that ever counted in, the lock's slot (`SeqCst`).
//! - **R3** While a slot still counts this lock: spin (only if that slot is another worker's;
//!   a reader on our own worker cannot run meanwhile), then park as the `drainer` (D1–D2).
//! - **D1** Register as `drainer` under the queue lock, set `draining` (`SeqCst`), then load
//!   the slot again (`SeqCst`); **D2** if it drained meanwhile, clear `draining`, unregister
//!   and go on; else park until a count-out wakes it, and look again.
//! - **D3** A biased release counts out (`fetch_sub`, `SeqCst`), then loads `draining`
//!   (`SeqCst`); set: take the queue lock and wake the `drainer`, if still registered.
//!
//! Why no biased reader overlaps a writer: B2, B3, R1 and R2 are `SeqCst`, so they fall in
//! one total order. If B3 comes before R1 (the reader saw `biased` set), then B2 comes before
//! R2, which sees the count and waits for it; otherwise B3 sees `biased` clear and the reader
//! backs out. Nothing sets `biased` while a writer holds `WRITER` (only a reader holding a
//! read lock through `state` does), so a reader that loads it after R1 sees it clear until
//! that writer unlocks. Why no wake-up is lost: D1's store and look and D3's count-out and
//! load are `SeqCst` too: if D3's load misses D1's store, the count-out comes before D1's
//! look, which sees it; otherwise the releasing reader takes the queue lock after D1
//! registered the drainer, and wakes it. A release that finds `draining` clear takes no lock,
//! so releases after a revocation stay off the queue lock unless a writer is parked.
//! Visibility: the count-out is a Release that the writer's R2/D1 load (an Acquire) reads, so
//! the reader's reads happen before the writer's writes; and B3's load is an Acquire of the
//! Release store that set `biased`, made by a reader that had acquired the last write unlock.
//!
//! When the bias is on: a coroutine's read through `state` turns it on again after a
//! revocation, but only at every `REBIAS_EVERY`th such read on its thread (the first
//! included), so a lock written about as often as it is read does not pay a revocation (R2's
//! look at every worker's slot) on most writes. Plain threads never count in and never turn
//! it on: a lock used only by threads behaves as without the bias. Measured with
//! `benches/rwlock.rs` (one write in 64 operations, 2 workers, ns per operation per reader,
//! before → after): 2 coroutine readers 124–131 → 71–75, 4 readers 254–271 → 139–148, 8
//! readers 515–650 → 279–289, 1 reader unchanged (27); std's lock on 2, 4 and 8 threads
//! took about 92, 377 and 775 in the same rounds. The price is on write-heavy use: with one
//! write in 4 operations, 2 and 4 coroutine readers pay up to 12% more per operation.
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::reader_slots::{self, Slot};
use prim::{
    lock, sc_fence, spin_loop, AtomicBool, AtomicUsize, StdMutex, Waiter, GRANTED, SPINS, WAITING,
};

/// What the protocol runs on: std's atomics and lock and the runtime's [`Waiter`] here; loom's
/// atomics and lock and a loom-parking waiter in the model (`mod loom_models`), which checks
/// the very code below.
#[cfg(not(all(test, loom)))]
mod prim {
    pub(super) use super::super::waiter::{lock, Waiter, GRANTED, WAITING};
    pub(super) use std::hint::spin_loop;
    pub(super) use std::sync::atomic::{AtomicBool, AtomicUsize};
    pub(super) use std::sync::Mutex as StdMutex;

    /// Nothing here: the bias protocol's `SeqCst` accesses order themselves (see the loom
    /// model's `sc_fence`).
    #[inline(always)]
    pub(super) fn sc_fence() {}

    /// Rounds a contended acquire spins (`spin_loop`, about 30 ns each on the test machines)
    /// while the holders run, before it parks.
    pub(super) const SPINS: u32 = 64;
}
#[cfg(all(test, loom))]
use loom_models::prim;

/// `state` bit: a writer holds the lock (or it was handed to a woken writer).
const WRITER: usize = 0b001;
/// `state` bit: the writer queue is non-empty: new readers queue instead of entering (writer
/// preference). Changed only with the queue lock held.
const WRITER_QUEUED: usize = 0b010;
/// `state` bit: the reader queue is non-empty. Changed only with the queue lock held.
const READER_QUEUED: usize = 0b100;
/// `state` unit: one active reader (the count lives in the bits above the flags).
const ONE_READER: usize = 0b1000;
/// Bits of the reader count.
const READERS: usize = !(ONE_READER - 1);
/// More readers than this at once is a bug (or a leak of `forget`ed guards): panic, don't wrap.
const MAX_READERS: usize = READERS - ONE_READER;

/// A reader-writer lock protecting a `T`: many readers or one writer at a time, for coroutines
/// and threads alike.
///
/// A contended [`read`](RwLock::read) or [`write`](RwLock::write) spins for a microsecond or
/// two while the holders are running, then parks the calling coroutine (its worker runs other
/// coroutines meanwhile); on a plain OS thread it blocks the thread. Uncontended, taking and
/// releasing either side is one atomic operation each. A coroutine whose release hands the
/// lock to parked waiters yields, so the readers it admitted on its own worker run (and
/// release) at once instead of holding their read slots unrun (see the module source).
///
/// # Reads from coroutines scale across workers
///
/// A lock read from coroutines turns *biased*: a coroutine's read then counts itself in a
/// word of its own worker's (one per worker and lock) instead of the lock's shared word, so
/// readers on different workers write no common cache line and reads scale with workers
/// (two readers on two workers in `benches/rwlock.rs`: twice the throughput of the same
/// lock without the bias, 1.2× that of `std::sync::RwLock` on two threads). The price is
/// paid by writers: the first write after biased reads revokes the bias and waits for those
/// reads to finish, which costs a look at one word per worker. After a write the bias comes
/// back only after several more reads, so a lock written about as often as it is read stays
/// unbiased. Reads from plain threads never use it.
///
/// # Fairness: writer-preferring, as Go's `sync.RWMutex`
///
/// Once a writer waits (after a spin of a microsecond or two in which readers may still
/// enter), new readers queue behind it (even [`try_read`](RwLock::try_read) fails), so a
/// steady stream of readers cannot starve a writer. The last active reader hands
/// the lock directly to the oldest waiting writer; that writer's unlock admits *all* readers
/// queued meanwhile at once, and the next writer waits for them, so writers cannot starve
/// readers either. Writers among themselves are FIFO.
///
/// As in Go, this means a reader must not take the read lock again while it already holds it
/// (recursive read locking): if a writer queued in between, the second `read` waits for the
/// writer, which waits for the first read guard: deadlock.
///
/// The handoff has a cost on plain threads when there are more of them than cores: a thread
/// handed the lock may not be running, and the running threads wait for it. With one write
/// in 64 operations, 4 threads on 2 cores switched context about 60 times as often as on
/// `std::sync::RwLock` (whose woken waiters compete instead) and took 2–5× as long per
/// operation (`benches/rwlock.rs`, `goro_threads`). For a lock that only plain threads use,
/// prefer std's.
///
/// # No poisoning
///
/// A panic while a guard is held simply releases it (like `parking_lot` and goro's
/// [`Mutex`](super::Mutex)); `read` and `write` return guards directly.
///
/// # Example
///
/// ```
/// use goro::sync::RwLock;
/// use std::sync::Arc;
///
/// let config = Arc::new(RwLock::new(String::from("v1")));
/// let readers: Vec<_> = (0..8)
///     .map(|_| {
///         let config = Arc::clone(&config);
///         goro::spawn(move || {
///             let c = config.read(); // many readers at once
///             goro::yield_now(); // holding a guard across a park point is fine
///             c.starts_with('v')
///         })
///     })
///     .collect();
/// config.write().replace_range(.., "v2"); // one writer, from a plain thread
/// assert!(readers.into_iter().all(|h| h.join().unwrap()));
/// assert_eq!(*config.read(), "v2");
/// ```
// `granted` next to `state`: spinners and the granting paths read both. `biased` and
// `draining` after the queue, at least 64 bytes from `state`, so on another cache line: with
// the bias off, every read loads `biased` before its CAS on `state`, and on `state`'s line
// that load fetched the line a CAS then had to take again (two coroutine readers on two
// workers, one write in 4 operations: 12–18% slower per read than with the flags apart).
#[repr(C)]
pub struct RwLock<T: ?Sized> {
    /// Reader count × `ONE_READER` | `WRITER` | `WRITER_QUEUED` | `READER_QUEUED`; see the
    /// table in `sync/mod.rs`.
    state: AtomicUsize,
    /// Waiters granted the lock (by a handoff or a batch admission) that have not resumed
    /// yet. A scheduling hint (module doc), Relaxed throughout: incremented under the queue
    /// lock before the `decide` that grants, decremented by the waiter once it saw the grant.
    granted: AtomicUsize,
    /// Parked readers and writers. Never held across a park.
    queue: StdMutex<Queues>,
    /// This lock's key in the reader slots (`reader_slots::new_key`), given when the bias
    /// first turns on (before `biased` is set); 0 until then. Never changes once given, so a
    /// reader that loads a non-zero key has the right one whatever the ordering.
    key: AtomicUsize,
    /// Reads from coroutines may count themselves in per-worker reader slots instead of in
    /// `state` (module doc, "Reader bias"). Set only by a reader holding a read lock through
    /// `state`; cleared only by a writer holding `WRITER`.
    biased: AtomicBool,
    /// A writer is (or is about to be) parked as `Queues::drainer`: biased releases must wake
    /// it (D1–D3). Set and cleared only by the writer holding `WRITER`.
    draining: AtomicBool,
    data: UnsafeCell<T>,
}

// The flags' placement above, checked where it was measured.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::offset_of!(RwLock<()>, biased) >= 64);

/// What the queue lock protects. Invariant (lock released): `READER_QUEUED` is set iff
/// `readers` is non-empty, `WRITER_QUEUED` iff `writers` is.
struct Queues {
    readers: VecDeque<Arc<Waiter>>,
    writers: VecDeque<Arc<Waiter>>,
    /// The writer (holding `WRITER`) parked until a biased reader counts out, if any.
    drainer: Option<Arc<Waiter>>,
}

// SAFETY: `RwLock<T>` hands out `&mut T` to one write guard at a time (WRITER excludes readers
// and other writers) and `&T` to any number of read guards on any threads at once, so sharing
// it needs `T: Send` (a writer on another thread) and `T: Sync` (readers on several threads);
// the same bounds as `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to an [`RwLock`]'s value: dereferences to `&T`, releases on drop.
///
/// `!Send` for the same reason as [`MutexGuard`](super::MutexGuard): the coroutine or thread
/// that took the lock releases it (holding it across a park point is fine).
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let l = goro::sync::RwLock::new(1);
/// assert_send(l.read());
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// How this hold is counted: in `state`, or in a reader slot.
    hold: ReadHold,
    /// Makes the guard `!Send` without affecting `Sync`.
    _not_send: PhantomData<*const ()>,
}

/// Where a read guard is counted.
enum ReadHold {
    /// In `state`. `admitted`: by a writer's unlock after parking (not taken by this reader
    /// itself): its release yields while others admitted with it have not resumed (module doc).
    Central { admitted: bool },
    /// In this worker's reader slot for the lock (the bias was on).
    Biased(Slot),
}

/// Exclusive access to an [`RwLock`]'s value: dereferences to `&mut T`, releases on drop.
///
/// `!Send`, like [`RwLockReadGuard`].
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let l = goro::sync::RwLock::new(1);
/// assert_send(l.write());
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// Makes the guard `!Send` without affecting `Sync`.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: `&RwLockReadGuard<T>` only gives out `&T`, so sharing it between threads is sharing
// `&T`, which `T: Sync` allows (as `std::sync::RwLockReadGuard`).
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: `&RwLockWriteGuard<T>` only gives out `&T` (Deref; DerefMut needs `&mut`), as above.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// Creates an unlocked lock holding `value`. `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static ROUTES: goro::sync::RwLock<Vec<&str>> = goro::sync::RwLock::new(Vec::new());
    /// ROUTES.write().push("/");
    /// assert_eq!(ROUTES.read().len(), 1);
    /// ```
    #[cfg(not(all(test, loom)))]
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            state: AtomicUsize::new(0),
            biased: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            granted: AtomicUsize::new(0),
            key: AtomicUsize::new(0),
            queue: StdMutex::new(Queues {
                readers: VecDeque::new(),
                writers: VecDeque::new(),
                drainer: None,
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// `new` in the loom model, whose atomics and lock have no `const` constructors.
    #[cfg(all(test, loom))]
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            state: AtomicUsize::new(0),
            biased: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            granted: AtomicUsize::new(0),
            key: AtomicUsize::new(0),
            queue: StdMutex::new(Queues {
                readers: VecDeque::new(),
                writers: VecDeque::new(),
                drainer: None,
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value (nobody else can hold it).
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(vec![1]);
    /// l.write().push(2);
    /// assert_eq!(l.into_inner(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Takes the lock for reading, parking the calling coroutine (or blocking the thread)
    /// while a writer holds it or waits for it. Any number of readers may hold it at once.
    ///
    /// # Panics
    ///
    /// If more than `usize::MAX / 8` read guards are alive at once.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(5);
    /// let (a, b) = (l.read(), l.read()); // two readers at once
    /// assert_eq!(*a + *b, 10);
    /// ```
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        let hold = match self.read_biased() {
            Some(slot) => ReadHold::Biased(slot),
            None => {
                let admitted = !self.try_add_reader() && !self.spin_read() && self.read_slow();
                self.bias();
                ReadHold::Central { admitted }
            }
        };
        RwLockReadGuard {
            lock: self,
            hold,
            _not_send: PhantomData,
        }
    }

    /// Takes the lock for reading if no writer holds it or waits for it; never parks.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(1);
    /// let w = l.write();
    /// assert!(l.try_read().is_none());
    /// drop(w);
    /// assert_eq!(*l.try_read().unwrap(), 1);
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let hold = match self.read_biased() {
            Some(slot) => ReadHold::Biased(slot),
            None if self.try_add_reader() => {
                self.bias();
                ReadHold::Central { admitted: false }
            }
            None => return None,
        };
        Some(RwLockReadGuard {
            lock: self,
            hold,
            _not_send: PhantomData,
        })
    }

    /// Takes the lock for writing, parking the calling coroutine (or blocking the thread)
    /// until no reader or other writer holds it. Once it waits (after a short spin), new readers
    /// wait behind it.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(1);
    /// *l.write() += 1;
    /// assert_eq!(*l.read(), 2);
    /// ```
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        // Acquire: pairs with the Release of the previous holder's unlock (`read_unlock`'s
        // `fetch_sub`, `write_unlock`'s CAS or the slow paths' stores), so this writer sees
        // every write made under the previous write guard and no reader still reads.
        if self
            .state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
            && !self.spin_write()
        {
            self.write_slow();
        }
        // Relaxed: the bias was set before the Release that our acquisition of WRITER
        // synchronized with (a reader sets it while holding its read lock).
        if self.biased.load(Ordering::Relaxed) {
            self.revoke_bias();
        }
        RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Takes the lock for writing if nobody holds it and nobody waits; never parks.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(1);
    /// let r = l.read();
    /// assert!(l.try_write().is_none());
    /// drop(r);
    /// *l.try_write().unwrap() = 2;
    /// assert_eq!(*l.read(), 2);
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        // Acquire: as in `write`.
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        let guard = RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        };
        // Relaxed: as in `write`. Biased readers still in: give up (the guard's drop unlocks;
        // the bias stays off until a reader turns it on again).
        if self.biased.load(Ordering::Relaxed) && !self.revoke_bias_now() {
            return None;
        }
        Some(guard)
    }

    /// A mutable reference to the value: `&mut self` proves nobody holds the lock.
    ///
    /// ```
    /// let mut l = goro::sync::RwLock::new(1);
    /// *l.get_mut() = 3;
    /// assert_eq!(*l.read(), 3);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Adds one reader if no writer holds or awaits the lock. True if it did.
    fn try_add_reader(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        // READER_QUEUED implies WRITER or WRITER_QUEUED (readers only queue behind a writer,
        // and the writer that admits them clears it), so these two bits are the whole test.
        while s & (WRITER | WRITER_QUEUED) == 0 && s < MAX_READERS {
            // Acquire: pairs with the Release of the last writer's unlock, so this reader
            // sees what it wrote.
            match self.state.compare_exchange_weak(
                s,
                s + ONE_READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    /// True while no granted waiter is still to resume: then every holder took the lock
    /// itself and is presumably running, so spinning for it pays (module doc).
    fn holders_running(&self) -> bool {
        self.granted.load(Ordering::Relaxed) == 0
    }

    /// Contended read, before queueing: spin (bounded) while the holders run, waiting for the
    /// door to open. Never enters while a writer holds or waits. True if it got a read slot.
    #[cold]
    fn spin_read(&self) -> bool {
        self.spin(|| {
            (self.state.load(Ordering::Relaxed) & (WRITER | WRITER_QUEUED) == 0
                && self.try_add_reader())
            .then_some(true)
        })
    }

    /// Contended write, before queueing: spin (bounded) while the holders run and no writer
    /// is queued, taking the lock the moment the word is 0. Leaves the door open meanwhile,
    /// so readers may still enter; after `SPINS` rounds the caller queues and closes it
    /// (module doc). True if it took the lock.
    #[cold]
    fn spin_write(&self) -> bool {
        self.spin(|| {
            let s = self.state.load(Ordering::Relaxed);
            // A queued writer goes first: queue behind it rather than spin.
            if s & WRITER_QUEUED != 0 {
                return Some(false);
            }
            // `s == 0` means nobody holds the lock and nobody is queued: a release hands over
            // to a queued writer directly (the word goes to WRITER, never through 0), and
            // READER_QUEUED implies WRITER or WRITER_QUEUED. So this CAS never overtakes a
            // waiter. Acquire: as in `write`.
            (s == 0
                && self
                    .state
                    .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok())
            .then_some(true)
        })
    }

    /// The pre-queue spin of `spin_read` and `spin_write`: up to `SPINS` rounds while the
    /// holders run, each a `spin_loop` and then `attempt`, whose `Some(r)` ends the spin
    /// with `r`. False if the rounds ran out or a granted waiter appeared.
    fn spin(&self, mut attempt: impl FnMut() -> Option<bool>) -> bool {
        for _ in 0..SPINS {
            if !self.holders_running() {
                return false;
            }
            spin_loop();
            if let Some(r) = attempt() {
                return r;
            }
        }
        false
    }

    /// Waits for a queued entry's grant: spins (bounded) while the holders run, then parks.
    /// Counts the grant out of `granted` once seen.
    fn wait_granted(&self, me: &Waiter) {
        let mut spins = SPINS;
        while spins > 0 && me.decision() == WAITING && self.holders_running() {
            spin_loop();
            spins -= 1;
        }
        let d = me.wait();
        debug_assert_eq!(d, GRANTED);
        // The unlock that granted us incremented before its Release `decide`, which our
        // Acquire in `wait` saw, so this cannot underflow.
        self.granted.fetch_sub(1, Ordering::Relaxed);
    }

    /// After an unlock that granted, or of a hold that was granted: a coroutine yields while
    /// granted waiters have not resumed (module doc), so those on this worker run and release
    /// now rather than after our next write.
    ///
    /// Never while unwinding: a guard dropped by a panic must not switch, since the thread's
    /// panic count would then be seen by whatever coroutine runs next on this thread.
    fn yield_to_granted(&self) {
        if !self.holders_running() && crate::in_coroutine() && !std::thread::panicking() {
            crate::yield_now();
        }
    }

    /// Contended read: queue up behind the writer and park until a writer's unlock admits us
    /// (protocol steps 1–3 of `sync/mod.rs`; R1–R4 below). True if admitted after queueing,
    /// false if it got in at R1.
    #[cold]
    fn read_slow(&self) -> bool {
        let me = {
            // R1: under the queue lock, the door is still open? (No writer can queue or
            // hand over meanwhile: both take this lock.)
            let mut q = lock(&self.queue);
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                if s & (WRITER | WRITER_QUEUED) == 0 {
                    assert!(s < MAX_READERS, "goro::sync::RwLock: too many readers");
                    // Acquire: as in `try_add_reader`.
                    match self.state.compare_exchange_weak(
                        s,
                        s + ONE_READER,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return false,
                        Err(now) => s = now,
                    }
                    continue;
                }
                // R2: commit to waiting: set READER_QUEUED. The CAS fails if the holder
                // unlocked meanwhile (a fast write unlock needs the word to be exactly
                // WRITER), then look again; once set, that unlock takes the slow path,
                // which takes this lock and sees our entry.
                match self.state.compare_exchange_weak(
                    s,
                    s | READER_QUEUED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(now) => s = now,
                }
            }
            let me = Waiter::new();
            q.readers.push_back(Arc::clone(&me));
            me
            // R3: queue lock released here, before parking.
        };
        // R4: park until a writer's unlock counts us in as a reader and decides GRANTED.
        self.wait_granted(&me);
        true
    }

    /// Contended write: queue up and park until the lock is handed to us (W1–W4).
    #[cold]
    fn write_slow(&self) {
        let me = {
            let mut q = lock(&self.queue);
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                // W1: free and nobody queued ahead (a queued writer waits for readers to
                // drain; we do not overtake it): take it.
                if s & (WRITER | WRITER_QUEUED | READERS) == 0 {
                    // Acquire: as in `write`.
                    match self.state.compare_exchange_weak(
                        s,
                        s | WRITER,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return,
                        Err(now) => s = now,
                    }
                    continue;
                }
                // W2: commit to waiting: set WRITER_QUEUED, which closes the door to new
                // readers and forces the last reader's (or the writer's) unlock onto the slow
                // path. The CAS covers the reader count, so a reader that leaves meanwhile
                // makes us look again instead of being missed.
                match self.state.compare_exchange_weak(
                    s,
                    s | WRITER_QUEUED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(now) => s = now,
                }
            }
            let me = Waiter::new();
            q.writers.push_back(Arc::clone(&me));
            me
            // W3: queue lock released here, before parking.
        };
        // W4: park until the last reader or the previous writer hands WRITER to us.
        self.wait_granted(&me);
    }

    /// Releases one read hold (the read guard's `Drop`). True if it handed the lock to a
    /// waiting writer.
    fn read_unlock(&self) -> bool {
        // Release: pairs with the Acquire of the next writer (`write`'s CAS, or the Acquire
        // in `Waiter::wait` after `read_unlock_slow` decides), so our reads happen before its
        // writes.
        let prev = self.state.fetch_sub(ONE_READER, Ordering::Release);
        debug_assert!(
            prev & READERS != 0,
            "goro: RwLock read_unlock without a reader"
        );
        // The last reader out while a writer waits hands the lock over. While WRITER_QUEUED
        // is set no reader can enter, so exactly one unlock sees this.
        if prev & (READERS | WRITER_QUEUED) == ONE_READER | WRITER_QUEUED {
            self.read_unlock_slow();
            return true;
        }
        false
    }

    /// The last reader left while writers wait: hand WRITER to the oldest one (protocol
    /// steps 4–5; RU1–RU3).
    #[cold]
    fn read_unlock_slow(&self) {
        let mut q = lock(&self.queue);
        // RU1: while WRITER_QUEUED is set and we hold the queue lock, nobody else may change
        // `state` (readers cannot enter, writers cannot take it: W1 needs WRITER_QUEUED
        // clear, and all other changes need this lock), so a plain store is exact.
        // Acquire: pairs with the other readers' Release `fetch_sub`s, so the writer we hand
        // over to (which synchronizes with us through `decide`) sees their reads done.
        let s = self.state.load(Ordering::Acquire);
        if s & (READERS | WRITER) != 0 {
            // Cannot happen by the argument above; stay safe: the state's owner will wake.
            debug_assert!(false, "goro: RwLock reader handoff with state {s:#x}");
            return;
        }
        let Some(w) = q.writers.pop_front() else {
            debug_assert!(false, "goro: RwLock WRITER_QUEUED with no queued writer");
            return;
        };
        // RU2: WRITER now belongs to `w`; it sees what the readers saw through the Release
        // in `decide` (Relaxed is enough here).
        let queued = if q.writers.is_empty() {
            0
        } else {
            WRITER_QUEUED
        };
        self.state
            .store(WRITER | queued | (s & READER_QUEUED), Ordering::Relaxed);
        self.granted.fetch_add(1, Ordering::Relaxed);
        w.decide(GRANTED);
        // RU3: wake outside the lock.
        drop(q);
        w.unpark();
    }

    /// Releases the write hold (the write guard's `Drop`). True if it admitted or handed over
    /// to waiters.
    fn write_unlock(&self) -> bool {
        // Release: pairs with the Acquire of the next reader or writer. Fails iff someone is
        // queued (a flag bit is set): then they must be admitted.
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.write_unlock_slow();
            return true;
        }
        false
    }

    /// Contended write unlock: admit every queued reader as one batch, else hand over to the
    /// next writer (protocol steps 4–5; WU1–WU3).
    #[cold]
    fn write_unlock_slow(&self) {
        let mut q = lock(&self.queue);
        // WU1: while we hold WRITER and the queue lock nobody else may change `state`
        // (readers and writers only change it without WRITER set or under this lock), so
        // plain stores are exact.
        let writers_left = if q.writers.is_empty() {
            0
        } else {
            WRITER_QUEUED
        };
        let batch: Vec<Arc<Waiter>> = if !q.readers.is_empty() {
            // WU2a: the readers that queued during our hold go first (Go's RWMutex.Unlock),
            // each counted in now; a queued writer waits for them to leave.
            let n = q.readers.len();
            assert!(
                n <= MAX_READERS / ONE_READER,
                "goro::sync::RwLock: too many readers"
            );
            // Release: pairs with the readers' Acquire (through `decide` too, but also with a
            // later barging reader's CAS), publishing our writes.
            self.state
                .store((n * ONE_READER) | writers_left, Ordering::Release);
            q.readers.drain(..).collect()
        } else if let Some(w) = q.writers.pop_front() {
            // WU2b: no readers waiting: hand WRITER straight to the next writer (it sees our
            // writes through `decide`).
            let left = if q.writers.is_empty() {
                0
            } else {
                WRITER_QUEUED
            };
            self.state.store(WRITER | left, Ordering::Relaxed);
            vec![w]
        } else {
            debug_assert!(false, "goro: RwLock queue flag set with empty queues");
            // Release: as in `write_unlock`.
            self.state.store(0, Ordering::Release);
            Vec::new()
        };
        self.granted.fetch_add(batch.len(), Ordering::Relaxed);
        for w in &batch {
            w.decide(GRANTED);
        }
        // WU3: wake outside the lock.
        drop(q);
        for w in &batch {
            w.unpark();
        }
    }

    /// The biased read (B1–B3 of the module doc): counts a read hold into this worker's reader
    /// slot if the bias is on and no writer holds or awaits the lock. `None`: read through
    /// `state`.
    #[inline]
    fn read_biased(&self) -> Option<Slot> {
        // B1: the bias is on, and no writer holds or waits (this check only keeps writer
        // preference as readers through `state` see it; B3 is what excludes writers). A key
        // of 0 was never biased.
        let key = self.key.load(Ordering::Relaxed);
        if key == 0
            || !self.biased.load(Ordering::Relaxed)
            || self.state.load(Ordering::Relaxed) & (WRITER | WRITER_QUEUED) != 0
        {
            return None;
        }
        // B2: count in (None off a worker, or if the slot is taken).
        let slot = reader_slots::count_in(key)?;
        // B3: with the count-in done, is the bias still on? SeqCst, as the count-in and the
        // writer's two steps (R1: bias off, R2: look at the slots): in their single total
        // order, if this load comes before R1 then our count-in comes before R2, which sees
        // it and waits for it; otherwise we see the bias off and back out. It is also an
        // Acquire: it pairs with the Release that turned the bias on (`bias`), which came
        // after that reader's Acquire of the last write unlock, so we see the last writer's
        // writes.
        sc_fence();
        if self.biased.load(Ordering::SeqCst) {
            return Some(slot);
        }
        self.read_unlock_biased(slot);
        None
    }

    /// Releases a biased read hold (D3): counts it out, and wakes the writer if one is
    /// parked draining.
    fn read_unlock_biased(&self, slot: Slot) {
        reader_slots::count_out(slot);
        // SeqCst, as the count-out and D1's two steps: if this load misses D1's store, our
        // count-out comes before D1's second look at the slot, which sees it.
        sc_fence();
        if self.draining.load(Ordering::SeqCst) {
            self.wake_drainer();
        }
    }

    /// After a read through `state` by a coroutine: turns the bias on if it is off. We hold a
    /// read lock, so no writer holds `WRITER` now; the next one sees the bias (through the
    /// Release of our unlock) and revokes it.
    fn bias(&self) {
        if !self.biased.load(Ordering::Relaxed) && reader_slots::rebias_due() {
            if self.key.load(Ordering::Relaxed) == 0 {
                // Readers racing here give one key between them: the first CAS wins.
                let _ = self.key.compare_exchange(
                    0,
                    reader_slots::new_key(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            // Release: pairs with B3's Acquire.
            self.biased.store(true, Ordering::Release);
        }
    }

    /// Holding `WRITER` with the bias on: turns it off and waits until every biased read hold
    /// has counted out (R1–R3 of the module doc).
    #[cold]
    fn revoke_bias(&self) {
        let me = self.key.load(Ordering::Relaxed);
        if self.revoke_bias_now() {
            return;
        }
        for w in 0..reader_slots::used() {
            if reader_slots::held_on(w, me) {
                self.drain(w, me);
            }
        }
    }

    /// R1–R2: turns the bias off and looks at the slots once. False if biased read holds
    /// remain (`try_write` then gives the lock back; `revoke_bias` waits for them).
    #[cold]
    fn revoke_bias_now(&self) -> bool {
        // R1, SeqCst: see B3.
        self.biased.store(false, Ordering::SeqCst);
        sc_fence();
        // Relaxed: given before the bias was first set, which our WRITER's Acquire sees.
        let me = self.key.load(Ordering::Relaxed);
        (0..reader_slots::used()).all(|w| !reader_slots::held_on(w, me))
    }

    /// R3: waits (holding `WRITER`, the bias off) until worker `w`'s slot holds no read of
    /// this lock: spins while that worker's reader may be running, then parks as the
    /// `drainer`, which the reader's count-out wakes (D1–D3).
    #[cold]
    fn drain(&self, w: usize, me: usize) {
        // A reader on our own worker cannot run while we spin: park at once.
        if reader_slots::worker() != Some(w) {
            for _ in 0..SPINS {
                if !reader_slots::held_on(w, me) {
                    return;
                }
                spin_loop();
            }
        }
        loop {
            // D1: register, raise `draining` (SeqCst), then look again: a count-out either
            // comes before our look or sees `draining` and finds us registered.
            let waiter = Waiter::new();
            lock(&self.queue).drainer = Some(Arc::clone(&waiter));
            self.draining.store(true, Ordering::SeqCst);
            sc_fence();
            if !reader_slots::held_on(w, me) {
                // D2: drained meanwhile. Unregister; if a count-out took us already, its
                // unpark may still come: a stale unpark only makes a later park return early,
                // which every wait loop absorbs.
                self.draining.store(false, Ordering::Relaxed);
                lock(&self.queue).drainer = None;
                return;
            }
            tracing::trace!(worker = w, "goro: RwLock writer waits for biased readers");
            waiter.wait();
        }
    }

    /// D3: a biased reader counted out while a writer drains: wake it, if it is still
    /// registered, so it looks at the slots again.
    #[cold]
    fn wake_drainer(&self) {
        let taken = {
            let mut q = lock(&self.queue);
            let w = q.drainer.take();
            if let Some(w) = &w {
                w.decide(GRANTED);
            }
            w
        };
        if let Some(w) = taken {
            w.unpark();
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while this guard lives the state counts it as a reader, and WRITER is never
        // set while the reader count is non-zero, so no `&mut T` exists; only `&T`s, which
        // may coexist. The borrow cannot outlive the guard.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        match self.hold {
            ReadHold::Biased(slot) => self.lock.read_unlock_biased(slot),
            // Only a release that granted, or of a hold that was granted, looks at `granted`:
            // the fast path stays one `fetch_sub` (a second access to the contended word
            // measurably slowed two readers on two workers).
            ReadHold::Central { admitted } => {
                if self.lock.read_unlock() || admitted {
                    self.lock.yield_to_granted();
                }
            }
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the unique holder of WRITER (set in `write`/`try_write` or
        // handed over by an unlock, cleared only in our `Drop`), which excludes readers and
        // other writers; the borrow cannot outlive the guard.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        if self.lock.write_unlock() {
            self.lock.yield_to_granted();
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

/// loom models of the protocol: `RUSTFLAGS="--cfg loom" cargo test -p goro --lib --release
/// loom_models` (see `.ci/run`).
///
/// The code above runs unchanged on loom's atomics and lock (`prim` swaps the types), with
/// `SPINS` = 1 so every spin loop is both tried and given up on. The runtime's park layer is
/// replaced by a [`Waiter`](prim::Waiter) with the same decide/unpark/wait protocol over a loom
/// `Notify` (whose token semantics are the park layer's: an unpark before the park is kept),
/// so a lost wake-up leaves a thread parked for good and loom reports the
/// deadlock. The protected value is a loom `UnsafeCell`: a writer that overlaps a reader or
/// another writer, or that does not happen-after the previous holder, fails the model. Not
/// modelled: coroutine yields (`yield_to_granted` never yields on a loom thread; `granted`
/// is still counted and read), the park layer itself (its own model is in `park/state.rs`),
/// `try_read`/`try_write`, and more than three threads or one operation each.
#[cfg(all(test, loom))]
mod loom_models {
    use super::RwLock;
    use loom::cell::UnsafeCell;
    use loom::thread;
    use std::sync::Arc;

    /// The model's half of `super::prim`.
    pub(super) mod prim {
        use loom::sync::atomic::AtomicU8;
        use loom::sync::Notify;
        use std::sync::atomic::Ordering;
        use std::sync::Arc;

        pub(crate) use crate::sync::waiter::{GRANTED, WAITING};
        pub(crate) use loom::hint::spin_loop;
        pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize};
        pub(crate) use loom::sync::Mutex as StdMutex;

        /// loom models a `SeqCst` access as `AcqRel` (tokio-rs/loom#180), which would let the
        /// bias protocol's store-then-load pairs pass each other as `SeqCst` forbids; a
        /// `SeqCst` fence after each first access restores the order the code relies on.
        pub(crate) fn sc_fence() {
            loom::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        }

        /// One round: the spin is entered and given up on, without multiplying the schedules.
        pub(crate) const SPINS: u32 = 1;

        pub(crate) fn lock<T>(m: &StdMutex<T>) -> loom::sync::MutexGuard<'_, T> {
            m.lock().unwrap()
        }

        /// `sync::waiter::Waiter`'s protocol on loom: the decision word, and a `Notify` as the
        /// park layer (a notify before the wait is kept, as an unpark before a park is). Not
        /// loom's `thread::park`: its `unpark` also wakes a thread blocked in a lock or a join
        /// (a stale unpark after the waiter went on), which loom then rejects.
        pub(crate) struct Waiter {
            state: AtomicU8,
            parked: Notify,
        }

        impl Waiter {
            pub(crate) fn new() -> Arc<Waiter> {
                Arc::new(Waiter {
                    state: AtomicU8::new(WAITING),
                    parked: Notify::new(),
                })
            }
            pub(crate) fn decide(&self, decision: u8) {
                self.state.store(decision, Ordering::Release);
            }
            pub(crate) fn unpark(&self) {
                self.parked.notify();
            }
            pub(crate) fn decision(&self) -> u8 {
                self.state.load(Ordering::Acquire)
            }
            pub(crate) fn wait(&self) -> u8 {
                loop {
                    let d = self.decision();
                    if d != WAITING {
                        return d;
                    }
                    self.parked.wait();
                }
            }
        }
    }

    /// The protected value: loom checks every access against the others for a race.
    struct Checked(UnsafeCell<usize>);

    // SAFETY: test-only. Sharing it is exactly what the lock under test must make safe; loom's
    // cell fails the model on any access that races another.
    unsafe impl Sync for Checked {}

    fn reader(l: &RwLock<Checked>, writes: usize) {
        let g = l.read();
        // SAFETY: a read guard is held; loom checks no write overlaps it.
        let v = g.0.with(|p| unsafe { *p });
        assert!(v <= writes);
    }

    fn writer(l: &RwLock<Checked>) {
        let g = l.write();
        // SAFETY: the write guard is held; loom checks nothing overlaps it.
        g.0.with_mut(|p| unsafe { *p += 1 });
    }

    /// Starts `readers` reader threads (seeing at most `writes` writes; thread `i` marked
    /// worker `i + first_worker` if `first_worker` is set) and `writers` writer threads.
    fn start(
        l: &Arc<RwLock<Checked>>,
        readers: usize,
        writers: usize,
        writes: usize,
        first_worker: Option<usize>,
    ) -> Vec<thread::JoinHandle<()>> {
        let mut hs = Vec::new();
        for i in 0..readers {
            let l = Arc::clone(l);
            hs.push(thread::spawn(move || {
                if let Some(w) = first_worker {
                    super::reader_slots::loom_prim::be_worker(w + i);
                }
                reader(&l, writes);
            }));
        }
        for _ in 0..writers {
            let l = Arc::clone(l);
            hs.push(thread::spawn(move || writer(&l)));
        }
        hs
    }

    /// Joins `hs`, then reads the value under the write lock: how many writes happened.
    fn finish(l: &RwLock<Checked>, hs: Vec<thread::JoinHandle<()>>) -> usize {
        for h in hs {
            h.join().unwrap();
        }
        let g = l.write();
        // SAFETY: the write guard is held.
        g.0.with(|p| unsafe { *p })
    }

    fn run(readers: usize, writers: usize) {
        let mut model = loom::model::Builder::new();
        // 3 preemptions: 4 s for both models; 4 take a minute (and pass).
        model.preemption_bound.get_or_insert(3);
        model.check(move || {
            let l = Arc::new(RwLock::new(Checked(UnsafeCell::new(0))));
            let hs = start(&l, readers - 1, writers, writers, None);
            reader(&l, writers);
            // Everything released: the word is clear, and every write happened once.
            assert_eq!(finish(&l, hs), writers);
            assert_eq!(l.state.load(std::sync::atomic::Ordering::Relaxed), 0);
            assert_eq!(l.granted.load(std::sync::atomic::Ordering::Relaxed), 0);
        });
    }

    /// The main thread holds the write lock while `readers` readers and `writers` writers
    /// start, then releases it: readers that find WRITER set queue (or spin) and race the
    /// write unlock's batch admission, a writer queues behind the held lock or the admitted
    /// readers, and each other's handoff.
    fn run_held(readers: usize, writers: usize) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound.get_or_insert(3);
        model.check(move || {
            let l = Arc::new(RwLock::new(Checked(UnsafeCell::new(0))));
            let g = l.write();
            let hs = start(&l, readers, writers, writers + 1, None);
            // SAFETY: the write guard is held.
            g.0.with_mut(|p| unsafe { *p += 1 });
            drop(g);
            assert_eq!(finish(&l, hs), writers + 1);
            assert_eq!(l.state.load(std::sync::atomic::Ordering::Relaxed), 0);
            assert_eq!(l.granted.load(std::sync::atomic::Ordering::Relaxed), 0);
        });
    }

    /// `readers` readers on workers 0, 1, … with the bias on (`countdown` is always due in
    /// the model, so the first read through `state` turns it on), racing `writers` writers on
    /// plain threads: count-in against revocation (B1–B3, R1–R2), the drain and its wake-up
    /// (D1–D3), a reader backing out, and re-biasing by a reader that came after a write.
    fn run_biased(readers: usize, writers: usize) {
        use super::reader_slots::loom_prim::{be_worker, TABLES};
        let mut model = loom::model::Builder::new();
        model.preemption_bound.get_or_insert(3);
        model.check(move || {
            let l = Arc::new(RwLock::new(Checked(UnsafeCell::new(0))));
            // Turn the bias on, from worker 0 (the main thread).
            be_worker(0);
            drop(l.read());
            assert!(l.biased.load(std::sync::atomic::Ordering::Relaxed));
            let hs = start(&l, readers - 1, writers, writers, Some(1));
            reader(&l, writers);
            assert_eq!(finish(&l, hs), writers);
            // Every hold counted out: all slots free, the word clear, the bias off (the last
            // write revoked it).
            for t in TABLES.iter() {
                for s in t.iter() {
                    assert_eq!(s.load(std::sync::atomic::Ordering::Relaxed) & 0b111, 0);
                }
            }
            assert_eq!(l.state.load(std::sync::atomic::Ordering::Relaxed), 0);
            assert!(!l.biased.load(std::sync::atomic::Ordering::Relaxed));
            assert!(l.queue.lock().unwrap().drainer.is_none());
        });
    }

    /// A biased reader on a worker and a writer: the reader's count-in races the writer's
    /// revocation, and the writer drains (spins, then parks as `drainer`) a hold that got in.
    #[test]
    fn loom_rwlock_biased_reader_and_writer() {
        run_biased(1, 1);
    }

    /// Biased readers on two workers and a writer: the writer revokes with holds on both
    /// workers' slots and waits for each.
    #[test]
    fn loom_rwlock_biased_readers_on_two_workers_and_writer() {
        run_biased(2, 1);
    }

    /// `try_write` against a biased reader on another worker: it either sees the hold and
    /// gives the lock back (the reader never overlaps a write), or the reader backs out.
    #[test]
    fn loom_rwlock_try_write_meets_biased_reader() {
        use super::reader_slots::loom_prim::be_worker;
        let mut model = loom::model::Builder::new();
        model.preemption_bound.get_or_insert(3);
        model.check(|| {
            let l = Arc::new(RwLock::new(Checked(UnsafeCell::new(0))));
            be_worker(0);
            drop(l.read());
            let hs = start(&l, 1, 0, 1, Some(1));
            if let Some(g) = l.try_write() {
                // SAFETY: the write guard is held.
                g.0.with_mut(|p| unsafe { *p += 1 });
            }
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(l.state.load(std::sync::atomic::Ordering::Relaxed), 0);
        });
    }

    /// Two readers (one on the main thread) and a writer: door closing, the last reader's
    /// handoff, the writer's batch admission.
    #[test]
    fn loom_rwlock_two_readers_one_writer() {
        run(2, 1);
    }

    /// One reader and two writers: writer-to-writer handoff, admission of a reader queued
    /// behind a writer while another writer waits.
    #[test]
    fn loom_rwlock_one_reader_two_writers() {
        run(1, 2);
    }

    /// A reader arrives while a writer holds: its queueing races the write unlock.
    #[test]
    fn loom_rwlock_reader_meets_held_writer() {
        run_held(1, 0);
    }

    /// Two readers arrive while a writer holds: one fast read after the unlock racing the
    /// other's queueing and batch admission.
    #[test]
    fn loom_rwlock_two_readers_meet_held_writer() {
        run_held(2, 0);
    }

    /// A reader and a writer arrive while a writer holds: a writer queued behind a queued
    /// reader, the batch admission, and the admitted reader's handoff to the writer.
    #[test]
    fn loom_rwlock_reader_and_writer_meet_held_writer() {
        run_held(1, 1);
    }
}

/// The reader bias with real threads and real parking: plain threads marked as workers (so
/// they count in as a worker's coroutines do) without starting the runtime, whose stacks
/// and threads other unit tests in this process count. The coroutine cases, including a
/// writer on the holder's own worker, are in `tests/sync_rwlock.rs`.
#[cfg(all(test, not(loom)))]
mod bias_tests {
    use super::{ReadHold, RwLock};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    use std::thread::{self, JoinHandle};
    use std::time::Duration;

    /// Runs `f` on a thread and fails if it does not finish within 30 s (a lost wake-up).
    fn within(f: impl FnOnce() + Send + 'static) {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            f();
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("did not finish: lost wake-up or deadlock");
    }

    /// Reads `l` through `state` until a read turns the bias on (at most `REBIAS_EVERY`), on
    /// a thread marked as a worker.
    fn turn_bias_on(l: &RwLock<u32>) {
        for _ in 0..64 {
            drop(l.read());
        }
        assert!(l.biased.load(Ordering::Relaxed), "the bias never turned on");
    }

    /// A lock, and a thread that is worker 0 for the slots holding a read of it counted in its
    /// slot: returned once the hold is counted. The thread holds it 200 ms, sets the flag
    /// and releases it.
    fn hold_biased() -> (Arc<RwLock<u32>>, Arc<AtomicBool>, JoinHandle<()>) {
        let l = Arc::new(RwLock::new(0));
        let released = Arc::new(AtomicBool::new(false));
        let (holding, held) = mpsc::channel();
        let h = thread::spawn({
            let (l, released) = (Arc::clone(&l), Arc::clone(&released));
            move || {
                crate::running::set_worker(0);
                turn_bias_on(&l);
                let g = l.read();
                assert!(
                    matches!(g.hold, ReadHold::Biased(_)),
                    "not counted in a slot"
                );
                assert_eq!(l.state.load(Ordering::Relaxed), 0, "counted in `state` too");
                holding.send(()).unwrap();
                thread::sleep(Duration::from_millis(200));
                released.store(true, Ordering::SeqCst);
                drop(g);
            }
        });
        held.recv().expect("the holder failed");
        (l, released, h)
    }

    /// Fails without the revocation's drain: the write would go in during the read.
    #[test]
    fn a_writer_waits_for_a_read_hold_counted_in_a_slot() {
        within(|| {
            let (l, released, h) = hold_biased();
            let mut w = l.write(); // spins, then parks as the drainer: the release wakes it
            assert!(
                released.load(Ordering::SeqCst),
                "wrote during a biased read"
            );
            assert!(
                !l.biased.load(Ordering::Relaxed),
                "the write left the bias on"
            );
            *w += 1;
            drop(w);
            h.join().unwrap();
            assert!(l.queue.lock().unwrap().drainer.is_none());
            assert!(!l.draining.load(Ordering::Relaxed));
        });
    }

    /// Fails with slots keyed by the lock's address: the leaked hold of the first lock would
    /// count as a hold of the second, made at the same address, and keep its writers out.
    #[test]
    fn a_leaked_biased_read_binds_no_later_lock_at_the_same_address() {
        within(|| {
            crate::running::set_worker(0);
            let mut place = Box::new(RwLock::new(0));
            turn_bias_on(&place);
            let g = place.read();
            assert!(
                matches!(g.hold, ReadHold::Biased(_)),
                "not counted in a slot"
            );
            std::mem::forget(g);
            let first = &*place as *const RwLock<u32>;
            // The first lock drops here and the second takes its place.
            *place = RwLock::new(1);
            assert_eq!(&*place as *const RwLock<u32>, first);
            turn_bias_on(&place);
            *place
                .try_write()
                .expect("an earlier lock's leaked read kept this one's writer out") += 1;
            assert_eq!(*place.read(), 2);
        });
    }

    #[test]
    fn try_write_fails_while_a_read_hold_is_counted_in_a_slot() {
        within(|| {
            let (l, _released, h) = hold_biased();
            assert!(
                l.try_write().is_none(),
                "try_write got in during a biased read"
            );
            // It gave the lock back: once the hold is released a write goes in.
            h.join().unwrap();
            *l.try_write().expect("free once the hold is released") += 1;
            assert_eq!(*l.read(), 1);
        });
    }
}
