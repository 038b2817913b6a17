//! `PollDesc`: the per-fd readiness record (Go's `pollDesc`), and the arena that keeps every
//! descriptor alive for the life of the process.
//!
//! # The state word
//!
//! Everything a poller and a waiter race on lives in one `AtomicU64`: the descriptor's
//! sequence number in the high 32 bits and seven flags in the low bits. Because the sequence
//! number and the flags change in the same atomic operation, a poller holding a token from a
//! previous life of the descriptor (a stale event for a closed-and-reused fd) can never set a
//! flag in the new life: its compare-exchange sees a different sequence number and gives up.
//!
//! | flag      | meaning                                                  | set by                          | cleared by |
//! |-----------|----------------------------------------------------------|---------------------------------|------------|
//! | `R_READY` | an edge for reading arrived since the reader last looked | the poller (`ready`); a reader that did not drain the fd | a reader, right before it tries the syscall (`take_ready`) |
//! | `W_READY` | the same for writing                                     | the poller                      | a writer that saw `EAGAIN`, before its last try |
//! | `R_WAIT`  | a reader is (or is about to be) in the read slot         | the reader, holding the slot lock | whoever empties the slot, holding the lock |
//! | `W_WAIT`  | the same for the write slot                              | the writer, holding the lock    | as for `R_WAIT` |
//! | `CLOSING` | the fd is being closed: every wait fails at once          | `close` (any thread)            | `release` (the new life starts clean) |
//! | `R_HUP`   | the read side is finished (FIN, hang-up, error): reads never block again | the poller | `release` only (sticky) |
//! | `W_HUP`   | the write side is finished (hang-up, error)              | the poller                      | `release` only (sticky) |
//!
//! The `*_HUP` bits are why the one-read-per-message rule (a short read on a stream means the
//! socket was drained) is sound: data and the peer's FIN can arrive before one edge is
//! reported, and then the short read leaves the FIN behind with no edge to come. A sticky
//! `R_HUP` makes every later read try the syscall, which returns the EOF.
//!
//! Who owns what: the waiter slots (an [`Unparker`] per direction, plus a rarely used list
//! for a second concurrent waiter) are behind a small mutex; a waker empties a slot under the
//! lock and calls `unpark` after releasing it. The `*_WAIT` flags are only ever changed with
//! that lock held, so "flag set" and "slot filled" agree whenever the lock is free.
//!
//! # The lost-wakeup argument
//!
//! A waiter takes the lock, fills its slot, then sets its `*_WAIT` flag with a `fetch_or`
//! whose result it inspects. The poller sets `*_READY` with a compare-exchange and inspects
//! the previous value. Both are read-modify-writes of the same word, so one of them comes
//! second and sees the other's bit: either the poller sees `*_WAIT` (and empties the slot,
//! waking the waiter), or the waiter sees `*_READY` (and takes itself out of the slot and does
//! not park). The same holds for `CLOSING`.
//!
//! # Model-checked
//!
//! `PollDesc` is generic over [`Parts`]: the runtime's descriptors are `PollDesc<Std>` (std's
//! `AtomicU64` and `Mutex`, [`Unparker`] waiters), and every method is monomorphised for it,
//! so the runtime's path has no indirection. The loom models at the bottom of this file build
//! the same type from loom's atomic and mutex and a waiter they can count, and run these very
//! methods in every interleaving of a waiter's arm and park, the poller's `ready`, `close`,
//! and a reuse of the descriptor (`release`) while an event of its old life is in flight.
use std::ops::DerefMut;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::park::Unparker;
use crate::poller::{EV_READ, EV_RHUP, EV_WHUP, EV_WRITE};

pub(crate) const R_READY: u64 = 1 << 0;
pub(crate) const W_READY: u64 = 1 << 1;
const R_WAIT: u64 = 1 << 2;
const W_WAIT: u64 = 1 << 3;
pub(crate) const CLOSING: u64 = 1 << 4;
const R_HUP: u64 = 1 << 5;
const W_HUP: u64 = 1 << 6;

/// Bits of the sequence number carried in a token (the rest of a token is the arena index and
/// the readiness bits).
const TOKEN_SEQ_MASK: u64 = 0xff_ffff;

/// What a descriptor is built from (module doc, "Model-checked").
pub(crate) trait Parts {
    /// The state word.
    type Word: Word;
    /// What a slot holds and a waker unparks.
    type Waiter: Waiter;
    /// The lock over the waiter slots.
    type Lock: Lock<Slots<Self::Waiter>>;
}

/// The runtime's descriptor parts: std's atomic and mutex, and [`Unparker`].
pub(crate) struct Std;

impl Parts for Std {
    type Word = AtomicU64;
    type Waiter = Unparker;
    type Lock = Mutex<Slots<Unparker>>;
}

/// The operations on the state word: std's `AtomicU64`, or loom's in the models.
pub(crate) trait Word {
    fn new(value: u64) -> Self;
    fn load(&self, order: Ordering) -> u64;
    fn store(&self, value: u64, order: Ordering);
    fn fetch_or(&self, bits: u64, order: Ordering) -> u64;
    fn fetch_and(&self, bits: u64, order: Ordering) -> u64;
    fn compare_exchange_weak(
        &self,
        current: u64,
        new: u64,
        ok: Ordering,
        err: Ordering,
    ) -> Result<u64, u64>;
}

impl Word for AtomicU64 {
    #[inline]
    fn new(value: u64) -> Self {
        AtomicU64::new(value)
    }
    #[inline]
    fn load(&self, order: Ordering) -> u64 {
        AtomicU64::load(self, order)
    }
    #[inline]
    fn store(&self, value: u64, order: Ordering) {
        AtomicU64::store(self, value, order)
    }
    #[inline]
    fn fetch_or(&self, bits: u64, order: Ordering) -> u64 {
        AtomicU64::fetch_or(self, bits, order)
    }
    #[inline]
    fn fetch_and(&self, bits: u64, order: Ordering) -> u64 {
        AtomicU64::fetch_and(self, bits, order)
    }
    #[inline]
    fn compare_exchange_weak(
        &self,
        current: u64,
        new: u64,
        ok: Ordering,
        err: Ordering,
    ) -> Result<u64, u64> {
        AtomicU64::compare_exchange_weak(self, current, new, ok, err)
    }
}

/// A parked waiter as a slot holds it: [`Unparker`], or the models' counting waiter.
pub(crate) trait Waiter: Clone {
    /// Whether `self` and `other` wake the same coroutine or thread.
    fn will_wake(&self, other: &Self) -> bool;
    fn unpark(&self);
}

impl Waiter for Unparker {
    #[inline]
    fn will_wake(&self, other: &Self) -> bool {
        Unparker::will_wake(self, other)
    }
    #[inline]
    fn unpark(&self) {
        Unparker::unpark(self)
    }
}

/// The slot lock: std's `Mutex`, or loom's in the models.
pub(crate) trait Lock<T> {
    type Guard<'a>: DerefMut<Target = T>
    where
        Self: 'a;
    fn new(value: T) -> Self;
    fn lock(&self) -> Self::Guard<'_>;
}

impl<T> Lock<T> for Mutex<T> {
    type Guard<'a>
        = MutexGuard<'a, T>
    where
        T: 'a;
    #[inline]
    fn new(value: T) -> Self {
        Mutex::new(value)
    }
    #[inline]
    fn lock(&self) -> MutexGuard<'_, T> {
        // A panic while the lock is held leaves the slots consistent (they are plain lists).
        Mutex::lock(self).unwrap_or_else(|e| e.into_inner())
    }
}

/// One direction of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

impl Dir {
    pub(crate) fn ready_bit(self) -> u64 {
        match self {
            Dir::Read => R_READY,
            Dir::Write => W_READY,
        }
    }
    /// The ready bit and the sticky hang-up bit: either means "try the syscall".
    pub(crate) fn ready_mask(self) -> u64 {
        match self {
            Dir::Read => R_READY | R_HUP,
            Dir::Write => W_READY | W_HUP,
        }
    }
    fn wait_bit(self) -> u64 {
        match self {
            Dir::Read => R_WAIT,
            Dir::Write => W_WAIT,
        }
    }
}

struct Slot<W> {
    /// The waiter (almost always the only one).
    first: Option<W>,
    /// Further concurrent waiters in the same direction (two coroutines reading one socket
    /// at once); empty, and never allocated, in the common case.
    more: Vec<W>,
}

impl<W> Default for Slot<W> {
    fn default() -> Self {
        Slot {
            first: None,
            more: Vec::new(),
        }
    }
}

impl<W: Waiter> Slot<W> {
    fn insert(&mut self, u: W) {
        match &self.first {
            None => self.first = Some(u),
            Some(f) if f.will_wake(&u) => {}
            Some(_) => {
                if !self.more.iter().any(|m| m.will_wake(&u)) {
                    self.more.push(u);
                }
            }
        }
    }
    fn remove(&mut self, u: &W) {
        if self.first.as_ref().is_some_and(|f| f.will_wake(u)) {
            self.first = self.more.pop();
        } else {
            self.more.retain(|m| !m.will_wake(u));
        }
    }
    fn is_empty(&self) -> bool {
        self.first.is_none()
    }
}

/// The waiters of both directions, behind the descriptor's lock.
pub(crate) struct Slots<W> {
    read: Slot<W>,
    write: Slot<W>,
}

impl<W> Default for Slots<W> {
    fn default() -> Self {
        Slots {
            read: Slot::default(),
            write: Slot::default(),
        }
    }
}

impl<W> Slots<W> {
    fn get(&mut self, dir: Dir) -> &mut Slot<W> {
        match dir {
            Dir::Read => &mut self.read,
            Dir::Write => &mut self.write,
        }
    }
}

/// Waiters taken out of a descriptor, to be woken after the lock is released.
pub(crate) struct Woken<W> {
    list: [Option<W>; 2],
    more: Vec<W>,
}

impl<W> Default for Woken<W> {
    fn default() -> Self {
        Woken {
            list: [None, None],
            more: Vec::new(),
        }
    }
}

impl<W: Waiter> Woken<W> {
    fn take_slot(&mut self, slot: &mut Slot<W>) {
        let i = usize::from(self.list[0].is_some());
        self.list[i] = slot.first.take();
        if !slot.more.is_empty() {
            self.more.append(&mut slot.more);
        }
    }

    /// Unparks everyone taken; call with no lock held.
    pub(crate) fn wake(self) {
        for u in self.list.into_iter().flatten().chain(self.more) {
            u.unpark();
        }
    }
}

/// The readiness record of one registered fd. Lives in the arena forever; recycled.
pub(crate) struct PollDesc<K: Parts = Std> {
    /// `seq << 32 | flags` (module doc).
    state: K::Word,
    slots: K::Lock,
    /// Arena index: the low half of every token.
    index: u32,
    /// Worker whose poller holds the fd (meaningful while registered).
    pub(crate) poller: AtomicUsize,
}

impl<K: Parts> PollDesc<K> {
    fn new(index: u32) -> Self {
        PollDesc {
            state: K::Word::new(0),
            slots: K::Lock::new(Slots::default()),
            index,
            poller: AtomicUsize::new(usize::MAX),
        }
    }

    #[inline]
    fn lock(&self) -> impl DerefMut<Target = Slots<K::Waiter>> + '_ {
        self.slots.lock()
    }

    /// The token to register with the OS poller for this life of the descriptor.
    pub(crate) fn token(&self) -> u64 {
        let seq = self.state.load(Ordering::Relaxed) >> 32;
        u64::from(self.index) | ((seq & TOKEN_SEQ_MASK) << 32)
    }

    /// The current flags (Acquire: pairs with the Release half of `ready`/`close`, so a
    /// waiter that sees a flag also sees what the setter did before).
    pub(crate) fn flags(&self) -> u64 {
        self.state.load(Ordering::Acquire) & 0xffff_ffff
    }

    /// Clears `dir`'s ready bit and returns whether it (or the sticky hang-up bit) was set.
    ///
    /// A reader calls this right before its syscall: an edge that arrives from now on is
    /// remembered, so if the syscall then drains the fd, a later read may park at once.
    #[inline]
    pub(crate) fn take_ready(&self, dir: Dir) -> bool {
        // AcqRel: Acquire pairs with the poller's Release CAS (as in `flags`); Release is for
        // symmetry with the waiter's fetch_or, both being RMWs on the one word.
        self.state.fetch_and(!dir.ready_bit(), Ordering::AcqRel) & dir.ready_mask() != 0
    }

    /// Sets `dir`'s ready bit (the fd may still have data: a full read, an error, EOF).
    #[inline]
    pub(crate) fn set_ready(&self, dir: Dir) {
        // Release: pairs with `flags`/`take_ready`'s Acquire.
        self.state.fetch_or(dir.ready_bit(), Ordering::Release);
    }

    /// The poller's half: records readiness `ev` for the life `seq`, waking any waiter.
    ///
    /// Returns false (and changes nothing) if the token is stale.
    pub(crate) fn ready(&self, seq: u64, ev: u8) -> bool {
        let mut bits = 0;
        if ev & EV_READ != 0 {
            bits |= R_READY;
        }
        if ev & EV_WRITE != 0 {
            bits |= W_READY;
        }
        if ev & EV_RHUP != 0 {
            bits |= R_READY | R_HUP;
        }
        if ev & EV_WHUP != 0 {
            bits |= W_READY | W_HUP;
        }
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if (cur >> 32) & TOKEN_SEQ_MASK != seq {
                tracing::trace!(index = self.index, seq, "netpoll: stale event ignored");
                return false;
            }
            // Release: whatever the poller knows is published with the bit; Acquire: pairs
            // with the waiter's `fetch_or` of a WAIT bit, so the slot it filled is visible.
            match self.state.compare_exchange_weak(
                cur,
                cur | bits,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        let mut wake = 0;
        if bits & R_READY != 0 && cur & R_WAIT != 0 {
            wake |= R_WAIT;
        }
        if bits & W_READY != 0 && cur & W_WAIT != 0 {
            wake |= W_WAIT;
        }
        if wake != 0 {
            self.wake(wake, Some(seq));
        }
        true
    }

    /// Empties the slots named by `wait_bits` and unparks their waiters, outside the lock.
    /// With `seq`, does nothing unless the descriptor is still in that life.
    fn wake(&self, wait_bits: u64, seq: Option<u64>) {
        let mut woken = Woken::default();
        {
            let mut slots = self.lock();
            let cur = self.state.load(Ordering::Relaxed);
            if let Some(seq) = seq {
                if (cur >> 32) & TOKEN_SEQ_MASK != seq {
                    return;
                }
            }
            for dir in [Dir::Read, Dir::Write] {
                if wait_bits & dir.wait_bit() != 0 {
                    woken.take_slot(slots.get(dir));
                }
            }
            // Relaxed is enough: the WAIT bits are only read or written with the lock held
            // (and by the poller's CAS, which only needs to see them, not order on them).
            self.state.fetch_and(!wait_bits, Ordering::Relaxed);
        }
        tracing::trace!(index = self.index, "netpoll: wake");
        woken.wake();
    }

    /// Puts `me` in `dir`'s slot. Returns false, with `me` taken back out, if the direction
    /// became ready or the descriptor is closing meanwhile (the caller must not park then).
    pub(crate) fn arm(&self, dir: Dir, me: &K::Waiter) -> bool {
        let mut slots = self.lock();
        slots.get(dir).insert(me.clone());
        // AcqRel: the slot write above is released to the poller whose CAS reads this bit;
        // Acquire sees a READY/CLOSING set by a poller just before (module doc).
        let prev = self.state.fetch_or(dir.wait_bit(), Ordering::AcqRel);
        if prev & (dir.ready_mask() | CLOSING) != 0 {
            self.disarm_locked(&mut slots, dir, me);
            return false;
        }
        true
    }

    /// Takes `me` out of `dir`'s slot if it is still there (after a timeout or a spurious
    /// wake-up). Cheap when a waker already emptied the slot.
    pub(crate) fn disarm(&self, dir: Dir, me: &K::Waiter) {
        if self.state.load(Ordering::Relaxed) & dir.wait_bit() == 0 {
            return;
        }
        let mut slots = self.lock();
        self.disarm_locked(&mut slots, dir, me);
    }

    fn disarm_locked(&self, slots: &mut Slots<K::Waiter>, dir: Dir, me: &K::Waiter) {
        let slot = slots.get(dir);
        slot.remove(me);
        if slot.is_empty() {
            self.state.fetch_and(!dir.wait_bit(), Ordering::Relaxed);
        }
    }

    /// True if a waiter is in either slot (or about to be).
    pub(crate) fn has_waiters(&self) -> bool {
        self.state.load(Ordering::Relaxed) & (R_WAIT | W_WAIT) != 0
    }

    /// Wakes `dir`'s waiters without making anything ready (a deadline moved: they re-check).
    pub(crate) fn kick(&self, dir: Dir) {
        if self.state.load(Ordering::Relaxed) & dir.wait_bit() != 0 {
            self.wake(dir.wait_bit(), None);
        }
    }

    /// Marks the descriptor closing and wakes both waiters; every later wait fails.
    pub(crate) fn close(&self) {
        // Release: pairs with the Acquire of `flags`/`arm` in a waiter.
        self.state.fetch_or(CLOSING, Ordering::AcqRel);
        self.wake(R_WAIT | W_WAIT, None);
    }

    /// Ends this life: a new sequence number and clean flags, so nothing addressed to the
    /// old life can touch the next one. The caller has deregistered the fd, or is about to
    /// close it (events of a leftover registration then carry the old sequence number).
    fn release(&self) {
        let slots = self.lock();
        assert!(
            slots.read.is_empty() && slots.write.is_empty(),
            "goro: a poll descriptor was released with coroutines still waiting on it"
        );
        let seq = (self.state.load(Ordering::Relaxed) >> 32).wrapping_add(1) & 0xffff_ffff;
        // Relaxed: the next owner receives the descriptor through the arena's mutex.
        self.state.store(seq << 32, Ordering::Relaxed);
        self.poller.store(usize::MAX, Ordering::Relaxed);
        drop(slots);
    }
}

/// Splits a token into arena index, sequence number and readiness bits.
pub(crate) fn split_token(token: u64) -> (u32, u64, u8) {
    (
        token as u32,
        (token >> 32) & TOKEN_SEQ_MASK,
        (token >> 56) as u8,
    )
}

// ---- the arena ----------------------------------------------------------------------------
//
// Descriptors are allocated in chunks that are never freed, so a token (an index) always names
// live memory, even after the fd it was issued for is closed. Lookup is lock-free (two loads);
// allocation and release take one global mutex, once per connection.

const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;
const MAX_CHUNKS: usize = 1 << 14; // 16M descriptors

static CHUNKS: [AtomicPtr<PollDesc>; MAX_CHUNKS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS];

struct FreeList {
    free: Vec<u32>,
    next: u32,
}

static FREE: Mutex<FreeList> = Mutex::new(FreeList {
    free: Vec::new(),
    // Index 0 is never handed out, so no token collides with the wake-up token 0.
    next: 1,
});

/// Descriptors in use (registered or about to be): `has_waiters` reads this.
pub(crate) static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The descriptor at `index`. Panics on an index never handed out (a corrupt token).
pub(crate) fn lookup(index: u32) -> &'static PollDesc {
    let i = index as usize;
    // Acquire: pairs with the Release store that published the chunk.
    let chunk = CHUNKS[i >> CHUNK_BITS].load(Ordering::Acquire);
    assert!(
        !chunk.is_null(),
        "goro: netpoll token names no descriptor ({index})"
    );
    // SAFETY: a published chunk is a leaked, never-freed array of CHUNK descriptors, and the
    // offset is below CHUNK.
    unsafe { &*chunk.add(i & (CHUNK - 1)) }
}

/// Takes a descriptor from the arena for a new life.
pub(crate) fn alloc() -> &'static PollDesc {
    let index = {
        let mut fl = FREE.lock().unwrap_or_else(|e| e.into_inner());
        match fl.free.pop() {
            Some(i) => i,
            None => {
                let i = fl.next;
                let c = i as usize >> CHUNK_BITS;
                assert!(c < MAX_CHUNKS, "goro: more than 16M poll descriptors");
                if CHUNKS[c].load(Ordering::Relaxed).is_null() {
                    let base = (c << CHUNK_BITS) as u32;
                    let chunk: Box<[PollDesc]> =
                        (0..CHUNK as u32).map(|k| PollDesc::new(base + k)).collect();
                    let ptr = Box::leak(chunk).as_mut_ptr();
                    // Release: publishes the initialised chunk to `lookup`.
                    CHUNKS[c].store(ptr, Ordering::Release);
                }
                fl.next = i + 1;
                i
            }
        }
    };
    LIVE.fetch_add(1, Ordering::Relaxed);
    lookup(index)
}

/// Returns a descriptor to the arena; the fd must already be out of every poller.
pub(crate) fn free(pd: &'static PollDesc) {
    pd.release();
    LIVE.fetch_sub(1, Ordering::Relaxed);
    FREE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .free
        .push(pd.index);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arena is global: these tests take turns so the LIFO reuse below is deterministic.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn stale_token_never_touches_the_next_life() {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let pd = alloc();
        let old = pd.token();
        let (_, old_seq, _) = split_token(old);
        assert!(pd.ready(old_seq, EV_READ));
        assert_ne!(pd.flags() & R_READY, 0);
        free(pd);
        // The same slot is handed out again (LIFO free list), in a new life.
        let again = alloc();
        assert!(std::ptr::eq(pd, again));
        assert_eq!(again.flags(), 0, "a new life starts with clean flags");
        assert!(
            !again.ready(old_seq, EV_READ | EV_WRITE),
            "stale event accepted"
        );
        assert_eq!(again.flags(), 0);
        let (_, seq, _) = split_token(again.token());
        assert!(again.ready(seq, EV_WRITE));
        assert_eq!(again.flags(), W_READY);
        free(again);
    }

    #[test]
    fn waiter_and_poller_race_never_loses_the_edge() {
        // arm() after ready(): the waiter sees READY and must not stay armed.
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let pd = alloc();
        let (_, seq, _) = split_token(pd.token());
        pd.ready(seq, EV_READ);
        let me = crate::park::unparker();
        assert!(!pd.arm(Dir::Read, &me), "armed although ready");
        // ready() after arm(): the poller takes the waiter out (and unparks this thread).
        assert!(pd.take_ready(Dir::Read));
        assert!(pd.arm(Dir::Read, &me));
        pd.ready(seq, EV_READ);
        assert_eq!(pd.flags(), R_READY, "wait bit left behind");
        free(pd);
    }
}

/// loom models of the descriptor's protocol (module doc, "Model-checked"):
/// `RUSTFLAGS="--cfg loom" cargo test -p goro --lib --release loom_` (see `.ci/run`). A waiter
/// parks on a loom `Notify` standing in for the park protocol, so a lost wake-up leaves it
/// blocked for good and loom reports the deadlock; every unpark is counted, so a double or a
/// stale one fails an assertion.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::{AtomicU64 as LoomU64, AtomicUsize as LoomUsize};
    use loom::sync::{Arc, Mutex as LoomMutex, MutexGuard as LoomGuard, Notify};
    use loom::thread;

    /// A descriptor made of loom's atomic and mutex, with counting waiters.
    struct Model;

    impl Parts for Model {
        type Word = LoomU64;
        type Waiter = TestWaiter;
        type Lock = LoomMutex<Slots<TestWaiter>>;
    }

    impl Word for LoomU64 {
        fn new(value: u64) -> Self {
            LoomU64::new(value)
        }
        fn load(&self, order: Ordering) -> u64 {
            LoomU64::load(self, order)
        }
        /// A swap, not a store: loom 0.7 lets a plain store land between the read and the
        /// write of another thread's read-modify-write (tokio-rs/loom#254), an execution no
        /// machine has (here: `release`'s new life overwritten by an old-life `ready` CAS
        /// that read the value before it). A swap differs from a store only in that it
        /// continues release sequences; nothing relies on one through `release`'s store,
        /// whose next reader gets the descriptor through the arena's mutex.
        fn store(&self, value: u64, order: Ordering) {
            LoomU64::swap(self, value, order);
        }
        fn fetch_or(&self, bits: u64, order: Ordering) -> u64 {
            LoomU64::fetch_or(self, bits, order)
        }
        fn fetch_and(&self, bits: u64, order: Ordering) -> u64 {
            LoomU64::fetch_and(self, bits, order)
        }
        fn compare_exchange_weak(
            &self,
            current: u64,
            new: u64,
            ok: Ordering,
            err: Ordering,
        ) -> Result<u64, u64> {
            LoomU64::compare_exchange_weak(self, current, new, ok, err)
        }
    }

    impl<T> Lock<T> for LoomMutex<T> {
        type Guard<'a>
            = LoomGuard<'a, T>
        where
            T: 'a;
        fn new(value: T) -> Self {
            LoomMutex::new(value)
        }
        fn lock(&self) -> LoomGuard<'_, T> {
            LoomMutex::lock(self).unwrap()
        }
    }

    /// A waiter that parks on a `Notify` and counts the unparks it receives.
    #[derive(Clone)]
    struct TestWaiter(Arc<Waiting>);

    struct Waiting {
        notify: Notify,
        unparks: LoomUsize,
    }

    impl Waiter for TestWaiter {
        fn will_wake(&self, other: &Self) -> bool {
            Arc::ptr_eq(&self.0, &other.0)
        }
        fn unpark(&self) {
            self.0.unparks.fetch_add(1, Ordering::Relaxed);
            self.0.notify.notify();
        }
    }

    impl TestWaiter {
        fn new() -> TestWaiter {
            TestWaiter(Arc::new(Waiting {
                notify: Notify::new(),
                unparks: LoomUsize::new(0),
            }))
        }
        fn park(&self) {
            self.0.notify.wait();
        }
        fn unparks(&self) -> usize {
            self.0.unparks.load(Ordering::Relaxed)
        }
    }

    #[derive(Debug, PartialEq)]
    enum Waited {
        Ready,
        Closed,
    }

    /// The reader's side as `io.rs` runs it: clear the ready bit before the syscall; the
    /// syscall says `EAGAIN`; then its wait loop (`PollFd::wait`, without deadlines).
    fn read(pd: &PollDesc<Model>, me: &TestWaiter) -> Waited {
        if pd.take_ready(Dir::Read) {
            return Waited::Ready;
        }
        loop {
            let flags = pd.flags();
            if flags & CLOSING != 0 {
                return Waited::Closed;
            }
            if flags & Dir::Read.ready_mask() != 0 {
                return Waited::Ready;
            }
            if !pd.arm(Dir::Read, me) {
                continue;
            }
            me.park();
            pd.disarm(Dir::Read, me);
        }
    }

    fn desc() -> (Arc<PollDesc<Model>>, u64) {
        let pd = Arc::new(PollDesc::<Model>::new(1));
        let (_, seq, _) = split_token(pd.token());
        (pd, seq)
    }

    /// A reader that finds nothing and parks, against the poller reporting the fd readable:
    /// the reader always comes back with the edge (no lost wake-up), unparked at most once,
    /// and no wait bit is left behind.
    #[test]
    fn loom_poll_desc_ready_races_a_reader() {
        loom::model(|| {
            let (pd, seq) = desc();
            let poller = {
                let pd = pd.clone();
                thread::spawn(move || assert!(pd.ready(seq, EV_READ)))
            };
            let me = TestWaiter::new();
            assert_eq!(read(&pd, &me), Waited::Ready);
            poller.join().unwrap();
            assert!(me.unparks() <= 1, "woken twice");
            assert!(!pd.has_waiters(), "a wait bit outlived its waiter");
        });
    }

    /// A reader against both the poller's edge and a close of the fd: it comes back (ready or
    /// closed), and of the two wakers that may both see its wait bit, only one unparks it.
    ///
    /// Three threads: bounded to 3 preemptions (about 10 s; unbounded it runs for many
    /// minutes), which covers every interleaving of the two wakers' wake-ups.
    #[test]
    fn loom_poll_desc_ready_and_close_wake_a_reader_once() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound.get_or_insert(3);
        model.check(|| {
            let (pd, seq) = desc();
            let poller = {
                let pd = pd.clone();
                thread::spawn(move || assert!(pd.ready(seq, EV_READ)))
            };
            let closer = {
                let pd = pd.clone();
                thread::spawn(move || pd.close())
            };
            let me = TestWaiter::new();
            let _ = read(&pd, &me);
            poller.join().unwrap();
            closer.join().unwrap();
            assert!(me.unparks() <= 1, "woken twice");
            assert!(!pd.has_waiters(), "a wait bit outlived its waiter");
        });
    }

    /// fd reuse: the poller delivers an event fetched in the descriptor's old life while the
    /// owner closes the fd (waking the old life's parked reader), releases the descriptor and
    /// a new owner's reader parks on it. The old reader is woken exactly once; the stale
    /// event neither makes the new life ready nor unparks the new reader.
    #[test]
    fn loom_poll_desc_stale_event_after_reuse() {
        loom::model(|| {
            let (pd, old_seq) = desc();
            let old = TestWaiter::new();
            assert!(pd.arm(Dir::Read, &old), "the old life's reader is parked");
            let poller = {
                let pd = pd.clone();
                thread::spawn(move || {
                    let _ = pd.ready(old_seq, EV_READ);
                })
            };
            // The owner: close (the old reader wakes and leaves), release, a new life.
            pd.close();
            pd.disarm(Dir::Read, &old);
            pd.release();
            let (_, new_seq, _) = split_token(pd.token());
            assert_ne!(new_seq, old_seq);
            let new = TestWaiter::new();
            assert!(
                pd.arm(Dir::Read, &new),
                "the new life saw the old life's readiness"
            );
            poller.join().unwrap();
            assert_eq!(
                old.unparks(),
                1,
                "the old reader was not woken exactly once"
            );
            assert_eq!(new.unparks(), 0, "a stale event woke the new reader");
            assert_eq!(
                pd.flags() & !(R_WAIT | W_WAIT),
                0,
                "stale flags in the new life"
            );
            pd.disarm(Dir::Read, &new);
            assert!(!pd.has_waiters());
        });
    }
}
