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
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

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

#[derive(Default)]
struct Slot {
    /// The waiter (almost always the only one).
    first: Option<Unparker>,
    /// Further concurrent waiters in the same direction (two coroutines reading one socket
    /// at once); empty, and never allocated, in the common case.
    more: Vec<Unparker>,
}

impl Slot {
    fn insert(&mut self, u: Unparker) {
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
    fn remove(&mut self, u: &Unparker) {
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

#[derive(Default)]
struct Slots {
    read: Slot,
    write: Slot,
}

impl Slots {
    fn get(&mut self, dir: Dir) -> &mut Slot {
        match dir {
            Dir::Read => &mut self.read,
            Dir::Write => &mut self.write,
        }
    }
}

/// Waiters taken out of a descriptor, to be woken after the lock is released.
#[derive(Default)]
pub(crate) struct Woken {
    list: [Option<Unparker>; 2],
    more: Vec<Unparker>,
}

impl Woken {
    fn take_slot(&mut self, slot: &mut Slot) {
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
pub(crate) struct PollDesc {
    /// `seq << 32 | flags` (module doc).
    state: AtomicU64,
    slots: Mutex<Slots>,
    /// Arena index: the low half of every token.
    index: u32,
    /// Worker whose poller holds the fd (meaningful while registered).
    pub(crate) poller: AtomicUsize,
}

impl PollDesc {
    fn new(index: u32) -> PollDesc {
        PollDesc {
            state: AtomicU64::new(0),
            slots: Mutex::new(Slots::default()),
            index,
            poller: AtomicUsize::new(usize::MAX),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
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
    pub(crate) fn arm(&self, dir: Dir, me: &Unparker) -> bool {
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
    pub(crate) fn disarm(&self, dir: Dir, me: &Unparker) {
        if self.state.load(Ordering::Relaxed) & dir.wait_bit() == 0 {
            return;
        }
        let mut slots = self.lock();
        self.disarm_locked(&mut slots, dir, me);
    }

    fn disarm_locked(&self, slots: &mut Slots, dir: Dir, me: &Unparker) {
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
