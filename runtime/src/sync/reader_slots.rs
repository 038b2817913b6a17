//! Per-worker reader slots: where a coroutine's read hold of a biased [`RwLock`](super::RwLock)
//! is counted without touching the lock's shared state word (the "visible readers" of BRAVO,
//! Dice and Kogan, 2019).
//!
//! Each worker thread owns a table of `SLOTS` words. A slot holds a lock's key in its high
//! bits and a count of read holds (at most `MAX_COUNT`) in the low bits the key leaves free;
//! a count of 0 means the slot is free, whatever key it still shows. A coroutine reading lock
//! `L` on worker `w` counts itself into `table[w][hash(key(L))]` if that slot is free or
//! already `L`'s, and out again when its guard drops. The table is written almost only by
//! its own worker's thread, so the read path's atomics stay in that core's cache: no cache
//! line moves between cores while readers on several workers read the same lock, which is
//! what makes the central word slow (about three line transfers per read with two readers on
//! two cores).
//!
//! A writer finds `L`'s read holds by looking at `table[w][hash(key(L))]` on every worker
//! that ever took a slot (`used()`): one word per worker, not a scan of the tables.
//!
//! A key is a number no other lock was given ([`new_key`]), not the lock's address: a read
//! guard that was leaked (`mem::forget`) leaves its count in a slot for good, and keyed by
//! address it would hold off the writers of whatever lock is later made at that address,
//! which may be unrelated to the leak. Keyed so, it holds off only its own lock's writers,
//! as a leaked guard of `std::sync::RwLock` does.
//!
//! Who may change a slot: any thread, always with one atomic read-modify-write (a count-in is
//! a CAS from the value it read, a count-out a `fetch_sub`). Normally only the owning worker
//! does; a guard of a coroutine spawned with `spawn_unpinned` may be dropped on another worker
//! and then counts out of the slot it counted into, which the RMWs keep exact. The protocol
//! that makes a slot a read hold (the lock's bias flag, the `SeqCst` order, the drain) is in
//! `sync/rwlock.rs`; this file only keeps the tables.
//!
//! Plain threads, workers beyond `MAX_WORKERS`, and a read that finds its slot taken by
//! another lock (or full) use the lock's central word instead: slots are an optimisation a
//! read may always decline.
use std::sync::atomic::Ordering;

use crossbeam_utils::CachePadded;

use prim::{AtomicUsize, MAX_WORKERS, SLOTS, TABLES};

/// The low bits of a slot that count holds: keys are multiples of 8, so they leave these three
/// free.
const COUNT: usize = 0b111;
/// Read holds one slot can count; further readers of the lock on that worker use the central
/// word.
const MAX_COUNT: usize = COUNT;

/// One worker's table, on cache lines of its own.
type Table = CachePadded<[AtomicUsize; SLOTS]>;

#[cfg(not(all(test, loom)))]
mod prim {
    pub(super) use std::sync::atomic::AtomicUsize;

    use super::Table;
    use crossbeam_utils::CachePadded;

    /// Slots per worker (a power of two): 128 words, 1 KiB per worker. Two hot locks share a
    /// slot only if their keys hash alike; the loser of that race reads through the
    /// central word.
    pub(super) const SLOTS: usize = 128;
    /// Workers that get a table (64 KiB of zeroed static memory, touched only by the workers
    /// that exist); coroutines on workers past it read through the central word.
    pub(super) const MAX_WORKERS: usize = 64;

    /// Every worker's table, zeroed (all slots free) until used.
    pub(super) static TABLES: [Table; MAX_WORKERS] =
        [const { CachePadded::new([const { AtomicUsize::new(0) }; SLOTS]) }; MAX_WORKERS];

    /// This thread's worker index, if it is a worker thread (a coroutine's, or a test thread
    /// marked as one).
    pub(super) fn worker() -> Option<usize> {
        crate::running::worker_index()
    }

    /// Reads through a central word, with the bias off, between two re-biasings on one
    /// thread (the module doc of `sync/rwlock.rs`, "When the bias is on").
    const REBIAS_EVERY: u32 = 16;

    std::thread_local! {
        static COUNTDOWN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    /// One more central read on this thread: true at every `REBIAS_EVERY`th (the first one
    /// included).
    pub(super) fn countdown() -> bool {
        COUNTDOWN.with(|c| match c.get() {
            0 => {
                c.set(REBIAS_EVERY - 1);
                true
            }
            n => {
                c.set(n - 1);
                false
            }
        })
    }
}

#[cfg(all(test, loom))]
pub(crate) use loom_prim as prim;

/// The model's tables and worker identities: loom objects must be made inside each execution,
/// so the tables are a `loom::lazy_static`, small enough to model (two workers of two slots),
/// and a model thread becomes "worker `i`" with [`loom_prim::be_worker`].
#[cfg(all(test, loom))]
pub(crate) mod loom_prim {
    pub(crate) use loom::sync::atomic::AtomicUsize;

    use super::Table;
    use crossbeam_utils::CachePadded;
    use std::cell::Cell;

    pub(crate) const SLOTS: usize = 2;
    pub(crate) const MAX_WORKERS: usize = 2;

    loom::lazy_static! {
        pub(crate) static ref TABLES: Vec<Table> = (0..MAX_WORKERS)
            .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicUsize::new(0))))
            .collect::<Vec<_>>();
    }
    loom::thread_local! {
        static WORKER: Cell<Option<usize>> = Cell::new(None);
    }

    pub(crate) fn worker() -> Option<usize> {
        WORKER.with(Cell::get)
    }

    /// Every read may re-bias in the model, so that revocations happen in it.
    pub(crate) fn countdown() -> bool {
        true
    }

    /// Makes the calling model thread worker `i` for the rest of its life.
    pub(crate) fn be_worker(i: usize) {
        WORKER.with(|c| c.set(Some(i)));
    }
}

/// How many workers (from index 0) have ever taken a slot: the writer's scan bound. Raised
/// (`fetch_max`) by a worker's first count-in, before that count-in. A plain std atomic even
/// in the model (it only grows, and the model's threads are its workers from the start).
///
/// Why a writer that must see a count-in sees its worker here: the raise is `SeqCst`, and a
/// count-in that did not raise it itself first read it with Acquire, so the raise comes
/// before the count-in (B2) in the `SeqCst` total order; the writer's load of it (`used`) is
/// `SeqCst` and after its R1, so if R2 must see the count-in, this load sees the raise.
static USED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The last key given out ([`new_key`]).
static LAST_KEY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A key for a lock that turns biased for the first time: a non-zero multiple of 8 that no
/// lock had before. (They run out only after 2^61 locks on a 64-bit target, 2^29 on a 32-bit
/// one; two locks that then shared a key would only see each other's reads as holds, and
/// wait for them: slower, never unsafe.)
pub(super) fn new_key() -> usize {
    let k = LAST_KEY
        .fetch_add(COUNT + 1, Ordering::Relaxed)
        .wrapping_add(COUNT + 1);
    if k == 0 {
        new_key()
    } else {
        k
    }
}

/// A read hold counted in a slot: which word to count out of.
#[derive(Clone, Copy)]
pub(super) struct Slot(&'static AtomicUsize);

/// The slot of the lock keyed `key` (see [`new_key`]) in worker `w`'s table.
fn slot_of(w: usize, key: usize) -> &'static AtomicUsize {
    // Fibonacci hashing of the key without its always-zero low bits.
    let h = (key >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
    &table(w)[h >> (usize::BITS - SLOTS.trailing_zeros())]
}

fn table(w: usize) -> &'static Table {
    &TABLES[w]
}

/// Counts one read hold of the lock keyed `key` into this worker's slot for it. `None` on a
/// plain thread, on a worker without a table, or when the slot belongs to another lock or is
/// full: read through the central word then.
///
/// The count-in is `SeqCst`: it is one of the four accesses whose single total order excludes
/// a writer (`RwLock::read_biased`, B3).
pub(super) fn count_in(key: usize) -> Option<Slot> {
    debug_assert!(key != 0 && key & COUNT == 0, "goro: not an RwLock key");
    let w = worker().filter(|&w| w < MAX_WORKERS)?;
    if USED.load(Ordering::Acquire) <= w {
        USED.fetch_max(w + 1, Ordering::SeqCst);
    }
    let slot = slot_of(w, key);
    let s = slot.load(Ordering::Relaxed);
    let next = if s & COUNT == 0 {
        key | 1
    } else if s & !COUNT == key && s & COUNT < MAX_COUNT {
        s + 1
    } else {
        return None;
    };
    slot.compare_exchange(s, next, Ordering::SeqCst, Ordering::Relaxed)
        .ok()
        .map(|_| Slot(slot))
}

/// Counts a read hold out of its slot. `SeqCst` (so also Release): the reads made under the
/// hold happen before the writer's load that sees the slot drained (`held_on`), and see
/// `RwLock::read_unlock_biased` for the total order.
pub(super) fn count_out(slot: Slot) {
    let prev = slot.0.fetch_sub(1, Ordering::SeqCst);
    debug_assert_ne!(
        prev & COUNT,
        0,
        "goro: RwLock reader slot counted out twice"
    );
}

/// The workers whose tables a writer must look at: `0..used()`. `SeqCst`: see `USED`.
pub(super) fn used() -> usize {
    USED.load(Ordering::SeqCst)
}

/// True if worker `w`'s slot counts read holds of the lock keyed `key`. `SeqCst` (so also
/// Acquire, pairing with `count_out`): the writer's R2 of `RwLock::read_biased`'s total
/// order.
pub(super) fn held_on(w: usize, key: usize) -> bool {
    let s = slot_of(w, key).load(Ordering::SeqCst);
    s & COUNT != 0 && s & !COUNT == key
}

/// After a read through a lock's central word with the bias off: true if the reader should
/// turn the bias on. Only on a worker with a table (only there can a read count in), and only
/// at every `REBIAS_EVERY`th such read on this thread (in production; at every one in the
/// model), so that a lock written about as often as it is read is not revoked on every write
/// (each revocation costs its writer a look at every worker's slot and its readers the bias
/// flag's cache line).
pub(super) fn rebias_due() -> bool {
    worker().is_some_and(|w| w < MAX_WORKERS) && prim::countdown()
}

/// This thread's worker index, if it is a worker thread.
pub(super) fn worker() -> Option<usize> {
    prim::worker()
}
