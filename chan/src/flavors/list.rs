//! Unbounded channel: a lock-free linked list of blocks of slots.
//!
//! The idea is crossbeam-channel's list flavor (itself a segmented form of a Michael–Scott
//! queue): values live in fixed-size blocks of [`SLOTS`] slots, linked in send order, and
//! two indices, `head` and `tail`, count positions. A sender claims a position by CAS on
//! `tail`, writes the value into the slot and marks it full; a receiver claims by CAS on
//! `head`, waits for the slot to be full (the sender is a few instructions from it), takes
//! the value. Nothing is locked; a value is written once and read once; allocation is
//! one block per `SLOTS` values, and even that is usually a recycled block.
//!
//! Why not the `VecDeque` under a spin lock this flavor used to be: senders and receivers
//! serialised on one lock, and the buffer's capacity never shrank, so a burst left its
//! peak allocated for the channel's life (Go's select2 test, which measures live memory
//! over two rounds of 100,000 values, failed whenever the second round's backlog
//! outgrew the first's).
//!
//! # Positions
//!
//! Each block covers `LAP = SLOTS + 1` positions: `SLOTS` slots, then one *crossing*
//! position that is never a slot. The sender that claims a block's last slot moves `tail`
//! onto the crossing; until it has linked the next block and moved `tail` past the
//! crossing, other senders wait (a few instructions: the next block was made before the
//! claim). Receivers cross the same way on `head`. So `tail.block` and `head.block` change
//! only while their index stands on a crossing, and whoever reads an index and then its
//! block pointer, and then claims by CAS on that index, knows the pointer was the right
//! block for the claimed slot. A block is touched only by parties that own one of its
//! slots (claimed, not yet finished), which is what makes freeing it safe (below).
//!
//! | word | bits | meaning |
//! |------|------|---------|
//! | `tail.index` | `pos << 1 \| CLOSED` | next position to send into; `CLOSED`: disconnected, no more sends |
//! | `head.index` | `pos << 1 \| MORE`   | next position to receive from; `MORE`: head's block is not the last, so every slot up to its end was claimed by a sender, and a receiver need not compare with `tail` |
//!
//! Positions wrap (on 32-bit targets after 2^31 values); `LAP` divides the wrap, so blocks
//! and offsets stay aligned, and only equality and lap identity are ever compared.
//!
//! | slot `state` | meaning | set by |
//! |--------------|---------|--------|
//! | `EMPTY` (0)  | claimed or not, no value yet | block creation (zeroed) |
//! | `FULL` (1)   | the value is written; only the receiver that claimed the position reads it | the sender, Release, as its last touch of the block |
//!
//! # Freeing blocks
//!
//! Each block counts its finished slots in `done`. A receiver that has taken its value
//! adds one, as its last touch of the block; the one that brings it to `SLOTS` frees the
//! block: every slot was claimed and finished, no sender still writes (each sender's last
//! touch is its `FULL` store, which the receiver waited for), and the receiver that moved
//! `head` off the block did so before finishing its own slot. Freed blocks go to a
//! one-block `spare` that the next block-making sender takes, so a steady stream
//! allocates nothing. `Channel::drop` frees what is left, dropping exactly the slots
//! marked `FULL` between `head` and `tail`.
//!
//! The *sender* that takes the spare zeroes it, not the receiver that frees it. Zeroing
//! writes every cache line of the block and leaves them in the zeroing core's cache,
//! owned for writing, which is where the slot writes want them; a fresh allocation is
//! zeroed by the allocating sender too. Zeroed by the freeing receiver, a reused block
//! reached the senders with its lines in a receiver's cache, and the senders' window
//! between claim and `FULL` store grew: on two cores shared by 4 senders and 4
//! receivers, receivers spent most of their `sched_yield` calls in `read` waiting for a
//! preempted sender's `FULL`, and a run took about twice crossbeam's time. Freeing the
//! block instead of reusing it, or zeroing it in the sender, each removed the gap
//! (measured in session 12 for issue #18, on the `chan_unbounded` bench).
//!
//! # Blocking and select
//!
//! Sends never block. A receiver that finds the channel empty registers in `receivers`
//! (a [`SyncWaker`]), re-checks, and parks; every send calls `receivers.notify()`, one
//! SeqCst load while nobody waits (the Dekker pair is written in `waker.rs`: the sender's
//! SeqCst `tail` CAS then its load of the waker's flag, against the receiver's SeqCst
//! registration then its SeqCst look at `tail`).
//!
//! For `select`, a receive is two-phase: `start_recv` claims a position (the token holds
//! block and offset), `read` takes the value. A send reserves nothing (there is always
//! room), so `select`'s send arm is always ready and completing it is a plain send.
//!
//! Abandoned reservations (a `SelectedOperation` dropped uncompleted): an abandoned
//! receive takes the claimed value and drops it, finishing the slot as a read would. A
//! *forgotten* one (`mem::forget`) never finishes its slot, so its block is never freed: a
//! leak of one block, not undefined behaviour (`Channel::drop` starts at `head`, past it).
//!
//! Disconnection marks `tail` `CLOSED` (sends fail from then on) and wakes every waiting
//! receiver; receivers drain what was sent before, then see "empty and closed". Values
//! left when the last handle goes are dropped with the channel.

use std::alloc::{self, Layout};
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::sync::atomic::{self, AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::context::{Context, Operation, Selected};
use crate::err::{RecvTimeoutError, TryRecvError};
use crate::select::{SelectHandle, Token};
use crate::utils::{contention_spin, spin};
use crate::waker::SyncWaker;

/// Values per block. With a 16-byte slot a block is about half a kilobyte.
const SLOTS: usize = 31;
/// Positions per block: the slots and one crossing. A power of two, so it divides the wrap
/// of the position counter.
const LAP: usize = SLOTS + 1;
/// One position, in an index word (the low bit is a flag).
const ONE: usize = 2;
/// `tail.index` flag: disconnected.
const CLOSED: usize = 1;
/// `head.index` flag: head's block is not the last one.
const MORE: usize = 1;
/// Position numbers are kept to the bits an index word has above its flag.
const POS_MASK: usize = usize::MAX >> 1;

/// Slot state (module table): the value is written. The other state, `EMPTY`, is 0: a
/// zeroed block's.
const FULL: u8 = 1;

/// The position an index word stands on.
#[inline]
fn pos(index: usize) -> usize {
    index >> 1
}

/// The offset of a position within its block; `SLOTS` is the crossing.
#[inline]
fn offset(index: usize) -> usize {
    pos(index) % LAP
}

/// The lap (block number, modulo the wrap) of a position.
#[inline]
fn lap(index: usize) -> usize {
    pos(index) / LAP
}

struct Slot<T> {
    msg: UnsafeCell<MaybeUninit<T>>,
    state: AtomicU8,
}

struct Block<T> {
    /// The next block; linked by the sender that claims this block's last slot.
    next: AtomicPtr<Block<T>>,
    /// Slots whose receiver has finished with them; the one that makes it `SLOTS` frees.
    done: AtomicUsize,
    slots: [Slot<T>; SLOTS],
}

impl<T> Block<T> {
    const LAYOUT: Layout = Layout::new::<Block<T>>();

    /// A new block: every slot `EMPTY`, no next, nothing done.
    fn alloc() -> NonNull<Block<T>> {
        // SAFETY: the layout is not zero-sized (a block holds a pointer and a counter).
        let p = unsafe { alloc::alloc_zeroed(Self::LAYOUT) } as *mut Block<T>;
        // All-zero bytes are a valid fresh block: a null `AtomicPtr`, a zero `AtomicUsize`,
        // `EMPTY` states, and `MaybeUninit` values that nobody reads before a write.
        NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(Self::LAYOUT))
    }

    /// Returns a block's memory to the allocator (values in it are not dropped).
    ///
    /// # Safety
    /// `b` came from [`alloc`](Self::alloc) and nobody else references it.
    unsafe fn dealloc(b: NonNull<Block<T>>) {
        // SAFETY: forwarded contract; same layout as the allocation.
        unsafe { alloc::dealloc(b.as_ptr() as *mut u8, Self::LAYOUT) }
    }

    /// Waits for the next block to be linked (its linker is a few instructions away).
    fn wait_next(&self) -> NonNull<Block<T>> {
        let mut step = 0;
        loop {
            // Acquire pairs with the Release store in `start_send`: the block it links is
            // initialised.
            if let Some(next) = NonNull::new(self.next.load(Ordering::Acquire)) {
                return next;
            }
            spin(&mut step);
        }
    }
}

/// One end of the list: an index word and the block it is in.
struct End<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// A receive claimed by `start_recv`: the block and slot, or a null block for
/// "disconnected".
pub(crate) struct ListToken {
    block: *const u8,
    offset: usize,
}

impl Default for ListToken {
    fn default() -> Self {
        ListToken {
            block: ptr::null(),
            offset: 0,
        }
    }
}

/// What `start_recv` claimed.
enum RecvClaim<T> {
    /// A position: its block and offset.
    Slot(NonNull<Block<T>>, usize),
    /// Nothing: the channel is empty and disconnected.
    Closed,
}

/// An unbounded channel.
pub(crate) struct Channel<T> {
    head: CachePadded<End<T>>,
    tail: CachePadded<End<T>>,
    /// A freed block kept for the next sender that needs one (or null).
    spare: AtomicPtr<Block<T>>,
    receivers: SyncWaker,
    _marker: PhantomData<T>,
}

// SAFETY: values of `T` move between threads through the slots (hence `T: Send`); every
// slot and block access follows the claim protocol in the module docs.
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: as above; `&Channel` reaches slots only through that protocol.
unsafe impl<T: Send> Sync for Channel<T> {}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        let first = Block::<T>::alloc().as_ptr();
        Channel {
            head: CachePadded::new(End {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(first),
            }),
            tail: CachePadded::new(End {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(first),
            }),
            spare: AtomicPtr::new(ptr::null_mut()),
            receivers: SyncWaker::new(),
            _marker: PhantomData,
        }
    }

    /// A fresh block: the spare, zeroed here, if there is one, else a new allocation.
    ///
    /// The zeroing is the caller's (a sender's) on purpose: it leaves the block's cache
    /// lines in this core's cache, ready for the slot writes (module docs, "Freeing
    /// blocks").
    fn new_block(&self) -> NonNull<Block<T>> {
        // Acquire pairs with the Release half of the swap in `recycle`: every access of
        // the block's last users happened before ours.
        match NonNull::new(self.spare.swap(ptr::null_mut(), Ordering::Acquire)) {
            Some(b) => {
                // SAFETY: the swap made the spare ours alone (nobody else references a
                // spare); all-zero bytes are a fresh block (`Block::alloc`).
                unsafe { ptr::write_bytes(b.as_ptr(), 0, 1) };
                b
            }
            None => Block::alloc(),
        }
    }

    /// Takes back a block nobody references any more and keeps it as the spare (freeing
    /// the spare it replaces). The block is left as it is; `new_block` zeroes it.
    ///
    /// # Safety
    /// `b` came from [`Block::alloc`] and nobody else references it.
    unsafe fn recycle(&self, b: NonNull<Block<T>>) {
        // AcqRel: Release hands our (and, through `done`, every finisher's) accesses of the
        // block to the sender that takes it in `new_block`; Acquire does the same for the
        // block the previous recycler left, before we free it.
        let old = self.spare.swap(b.as_ptr(), Ordering::AcqRel);
        if let Some(old) = NonNull::new(old) {
            // SAFETY: a spare is referenced only by the `spare` slot we just emptied.
            unsafe { Block::dealloc(old) };
        }
    }

    /// Claims a position to send into: the block and offset, or `None` if disconnected.
    fn start_send(&self) -> Option<(NonNull<Block<T>>, usize)> {
        let mut step = 0;
        // Made before claiming a block's last slot, so that the wait of the senders behind
        // us (while `tail` stands on the crossing) is a few instructions long.
        let mut next_block: Option<NonNull<Block<T>>> = None;
        // Acquire pairs with the Release `fetch_add` that moves `tail` past a crossing:
        // the `tail.block` we read after it is the block of this index.
        let mut tail = self.tail.index.load(Ordering::Acquire);
        let claimed = loop {
            if tail & CLOSED != 0 {
                break None;
            }
            let off = offset(tail);
            if off == SLOTS {
                // Another sender is linking the next block.
                spin(&mut step);
                tail = self.tail.index.load(Ordering::Acquire);
                continue;
            }
            if off + 1 == SLOTS && next_block.is_none() {
                next_block = Some(self.new_block());
            }
            // Acquire: the block's initialisation (pairs with the Release store below).
            let block = self.tail.block.load(Ordering::Acquire);
            // SeqCst: the Dekker pair with a registering receiver (module docs). Acquire
            // on failure, as for the first load.
            match self.tail.index.compare_exchange_weak(
                tail,
                tail.wrapping_add(ONE),
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: `tail.block` is never null, and the claim is ours: the block
                    // cannot be freed before our slot is finished.
                    let block = unsafe { NonNull::new_unchecked(block) };
                    if off + 1 == SLOTS {
                        // We took the last slot and `tail` is on the crossing: link the
                        // next block, point `tail` at it, and open it.
                        let next = next_block.take().expect("goro-chan: next block made");
                        // SAFETY: we own a slot of `block`, so it is alive.
                        let b = unsafe { block.as_ref() };
                        // Release: the next block's initialisation, for `wait_next`.
                        b.next.store(next.as_ptr(), Ordering::Release);
                        // Release: as above, for senders that read `tail.block`.
                        self.tail.block.store(next.as_ptr(), Ordering::Release);
                        // Release: pairs with the Acquire index loads of other senders, so
                        // they see the new `tail.block`. `CLOSED` (bit 0) is untouched.
                        self.tail.index.fetch_add(ONE, Ordering::Release);
                    }
                    break Some((block, off));
                }
                Err(t) => {
                    tail = t;
                    contention_spin(&mut step);
                }
            }
        };
        if let Some(b) = next_block {
            // Made but not needed (another sender crossed, or disconnected).
            // SAFETY: never published; only we have it.
            unsafe { self.recycle(b) };
        }
        claimed
    }

    /// Writes `msg` into a claimed slot and wakes a waiting receiver.
    ///
    /// # Safety
    /// `(block, off)` must come from `start_send` on this channel, and be written once.
    unsafe fn write(&self, block: NonNull<Block<T>>, off: usize, msg: T) {
        // SAFETY: our claim keeps the block alive until the slot is read; no one else
        // writes this slot, and no one reads it before `FULL`.
        unsafe {
            let slot = block.as_ref().slots.get_unchecked(off);
            slot.msg.get().write(MaybeUninit::new(msg));
            // Release pairs with the Acquire load in `read`: the value is visible. Our
            // last touch of the block.
            slot.state.store(FULL, Ordering::Release);
        }
        self.receivers.notify();
    }

    /// Sends without blocking (the list is unbounded). Errors only when disconnected.
    pub(crate) fn send(&self, msg: T) -> Result<(), T> {
        match self.start_send() {
            // SAFETY: claimed just above, written once.
            Some((block, off)) => unsafe {
                self.write(block, off, msg);
                Ok(())
            },
            None => Err(msg),
        }
    }

    /// Claims a position to receive from; `None` if the channel is empty (and open).
    fn start_recv(&self) -> Option<RecvClaim<T>> {
        let mut step = 0;
        // Acquire pairs with the Release store that moves `head` past a crossing: the
        // `head.block` read after it is this index's block.
        let mut head = self.head.index.load(Ordering::Acquire);
        loop {
            let off = offset(head);
            if off == SLOTS {
                // Another receiver is moving `head` to the next block.
                spin(&mut step);
                head = self.head.index.load(Ordering::Acquire);
                continue;
            }
            let mut new_head = head.wrapping_add(ONE);
            if head & MORE == 0 {
                // Head may be in the last block: is anything there? SeqCst fence: the
                // Dekker pair with senders (module docs), and a snapshot after our load of
                // `head`.
                atomic::fence(Ordering::SeqCst);
                let tail = self.tail.index.load(Ordering::Relaxed);
                if pos(head) == pos(tail) {
                    return (tail & CLOSED != 0).then_some(RecvClaim::Closed);
                }
                if lap(head) != lap(tail) {
                    // Tail is in a later block: all of ours is claimed by senders.
                    new_head |= MORE;
                }
            }
            // Acquire: as for the index load.
            let block = self.head.block.load(Ordering::Acquire);
            // SeqCst: receivers' claims and senders' claims in one order (a snapshot for
            // `len`, the emptiness checks of `select`). Acquire on failure as above.
            match self.head.index.compare_exchange_weak(
                head,
                new_head,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: never null; our claim keeps it alive until we finish the slot.
                    let block = unsafe { NonNull::new_unchecked(block) };
                    if off + 1 == SLOTS {
                        // We took the last slot and `head` is on the crossing: move it to
                        // the next block (every slot of ours was claimed by a sender, the
                        // last of whom links the next block).
                        // SAFETY: we own a slot of `block`.
                        let next = unsafe { block.as_ref() }.wait_next();
                        let mut next_head = (new_head & !MORE).wrapping_add(ONE);
                        // SAFETY: `next` cannot be freed while `head` has not reached it
                        // (none of its slots can be finished before they are claimed).
                        // Relaxed: a hint; a set `next` proves all of `next`'s slots
                        // were claimed, and values are read through their own states.
                        if !unsafe { next.as_ref() }
                            .next
                            .load(Ordering::Relaxed)
                            .is_null()
                        {
                            next_head |= MORE;
                        }
                        // Release (both): pairs with the Acquire loads above; the block
                        // pointer first, so a receiver that sees the new index sees it.
                        self.head.block.store(next.as_ptr(), Ordering::Release);
                        self.head.index.store(next_head, Ordering::Release);
                    }
                    return Some(RecvClaim::Slot(block, off));
                }
                Err(h) => {
                    head = h;
                    contention_spin(&mut step);
                }
            }
        }
    }

    /// Takes the value out of a claimed slot and finishes the slot.
    ///
    /// # Safety
    /// `(block, off)` must come from `start_recv` on this channel, and be read once.
    unsafe fn read(&self, block: NonNull<Block<T>>, off: usize) -> T {
        // SAFETY: our claim keeps the block alive until `finish` below.
        let b = unsafe { block.as_ref() };
        // SAFETY: `off < SLOTS` for a claimed slot.
        let slot = unsafe { b.slots.get_unchecked(off) };
        let mut step = 0;
        // Acquire pairs with the sender's Release store of `FULL`. The sender claimed the
        // position before us and is a few instructions from that store.
        while slot.state.load(Ordering::Acquire) != FULL {
            spin(&mut step);
        }
        // SAFETY: `FULL`: written once, and ours alone to take.
        let msg = unsafe { slot.msg.get().read().assume_init() };
        // AcqRel: Release hands our accesses to whoever frees the block; Acquire (for the
        // one that brings it to `SLOTS`) sees every other finisher's accesses done.
        // Our last touch of the block unless we free it.
        if b.done.fetch_add(1, Ordering::AcqRel) + 1 == SLOTS {
            // SAFETY: every slot is finished: nobody references the block any more (module
            // docs, "Freeing blocks").
            unsafe { self.recycle(block) };
        }
        msg
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.start_recv() {
            // SAFETY: claimed just above, read once.
            Some(RecvClaim::Slot(block, off)) => Ok(unsafe { self.read(block, off) }),
            Some(RecvClaim::Closed) => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        // A thread looks again a few times before it registers (spinning, then yielding):
        // a sender on another core often delivers within a microsecond, far cheaper than
        // a park and an unpark. A coroutine does not (a sender on its own worker cannot
        // run meanwhile).
        let (mut step, mut yields) = if goro::in_coroutine() {
            (SPIN_STEPS, SPIN_YIELDS)
        } else {
            (0, 0)
        };
        loop {
            match self.start_recv() {
                // SAFETY: claimed just above, read once.
                Some(RecvClaim::Slot(block, off)) => return Ok(unsafe { self.read(block, off) }),
                Some(RecvClaim::Closed) => return Err(RecvTimeoutError::Disconnected),
                None => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(RecvTimeoutError::Timeout);
            }
            if step < SPIN_STEPS {
                spin(&mut step);
                continue;
            }
            if yields < SPIN_YIELDS {
                yields += 1;
                std::thread::yield_now();
                continue;
            }
            Context::with(|cx| {
                let oper = Operation(0);
                self.receivers.register(oper, cx);
                // Re-check after registering (the Dekker pair in the module docs).
                if self.is_ready() {
                    let _ = cx.try_select(Selected::Aborted);
                }
                match cx.wait_until(deadline) {
                    Selected::Waiting => unreachable!("goro-chan: woke while waiting"),
                    Selected::Aborted | Selected::Disconnected => {
                        self.receivers.unregister(oper, cx);
                    }
                    Selected::Operation(_) => {}
                }
            });
        }
    }

    /// Whether a receive would not block: a value is there, or the channel is closed.
    fn is_ready(&self) -> bool {
        // SeqCst: the re-check half of the Dekker pair (module docs).
        let tail = self.tail.index.load(Ordering::SeqCst);
        let head = self.head.index.load(Ordering::SeqCst);
        pos(head) != pos(tail) || tail & CLOSED != 0
    }

    /// `select`'s receive: claims a value into the token, or sees disconnection.
    fn start_recv_token(&self, token: &mut Token) -> bool {
        match self.start_recv() {
            Some(RecvClaim::Slot(block, off)) => {
                token.list.block = block.as_ptr() as *const u8;
                token.list.offset = off;
                true
            }
            Some(RecvClaim::Closed) => {
                token.list.block = ptr::null();
                true
            }
            None => false,
        }
    }

    /// # Safety
    /// `token` must come from this channel's receiving `try_select`/`accept`, once.
    pub(crate) unsafe fn read_token(&self, token: &mut Token) -> Result<T, ()> {
        let Some(block) = NonNull::new(token.list.block as *mut Block<T>) else {
            return Err(());
        };
        token.list.block = ptr::null();
        // SAFETY: forwarded contract: a position claimed by `start_recv`, read once.
        Ok(unsafe { self.read(block, token.list.offset) })
    }

    /// # Safety
    /// As for [`read_token`](Self::read_token), for the sending side.
    pub(crate) unsafe fn write_token(&self, _token: &mut Token, msg: T) -> Result<(), T> {
        self.send(msg)
    }

    /// Number of values sent and not yet claimed by a receiver (a snapshot).
    pub(crate) fn len(&self) -> usize {
        loop {
            // SeqCst: both indices from one moment (retry if `tail` moved meanwhile).
            let tail = self.tail.index.load(Ordering::SeqCst);
            let head = self.head.index.load(Ordering::SeqCst);
            if self.tail.index.load(Ordering::SeqCst) != tail {
                continue;
            }
            // Slots before a position within its lap (the crossing counts as the end).
            let within = |i: usize| offset(i).min(SLOTS);
            let start = |i: usize| pos(i) - offset(i);
            let laps = (start(tail).wrapping_sub(start(head)) & POS_MASK) / LAP;
            return (laps * SLOTS + within(tail)).saturating_sub(within(head));
        }
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        // SeqCst: as every read of `tail` that decides readiness.
        self.tail.index.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Marks the channel disconnected and wakes every waiting receiver. True if this call
    /// did it.
    pub(crate) fn disconnect(&self) -> bool {
        // SeqCst: in the order of the senders' claims (a claim either lands before and is
        // received, or sees `CLOSED` and fails) and before the receivers' emptiness checks.
        let tail = self.tail.index.fetch_or(CLOSED, Ordering::SeqCst);
        if tail & CLOSED == 0 {
            self.receivers.disconnect();
            true
        } else {
            false
        }
    }

    pub(crate) fn sender(&self) -> Sender<'_, T> {
        Sender(PhantomData)
    }

    pub(crate) fn receiver(&self) -> Receiver<'_, T> {
        Receiver(self)
    }
}

/// Steps of `utils::spin` a thread's blocking receive makes before it registers: doubling
/// spins, about a microsecond in all, never yielding the thread.
const SPIN_STEPS: u32 = 6;
/// Then this many yields of the thread, as crossbeam-channel's receive does before it
/// blocks: a sender descheduled on a loaded machine gets the core, and a receive that
/// keeps pace with its sender rarely pays a futex sleep and wake.
const SPIN_YIELDS: u32 = 4;

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        // Exclusive: every handle is gone, so no sender or receiver is half-way through.
        let mut head = *self.head.index.get_mut() & !MORE;
        let tail = *self.tail.index.get_mut() & !CLOSED;
        let mut block = *self.head.block.get_mut();
        while pos(head) != pos(tail) {
            let off = offset(head);
            // SAFETY: `block` is the live block of position `head`: the one `head` points
            // into, then each `next` link (a crossing before `tail` was linked).
            unsafe {
                if off < SLOTS {
                    let slot = (*block).slots.get_unchecked_mut(off);
                    // Only slots marked full hold a value (module docs).
                    if *slot.state.get_mut() == FULL {
                        slot.msg.get_mut().assume_init_drop();
                    }
                } else {
                    let next = *(*block).next.get_mut();
                    Block::dealloc(NonNull::new_unchecked(block));
                    block = next;
                }
            }
            head = head.wrapping_add(ONE);
        }
        // SAFETY: the block of `tail` (never null), and the spare: referenced by nobody. A
        // spare's bytes are stale, not zeroed, but it holds no value (every one was read).
        unsafe {
            Block::dealloc(NonNull::new_unchecked(block));
            if let Some(spare) = NonNull::new(*self.spare.get_mut()) {
                Block::dealloc(spare);
            }
        }
    }
}

/// The receiving side, as a select operation.
pub(crate) struct Receiver<'a, T>(&'a Channel<T>);
/// The sending side, as a select operation (always ready: the list is unbounded).
pub(crate) struct Sender<'a, T>(PhantomData<&'a Channel<T>>);

impl<T> SelectHandle for Receiver<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_recv_token(token)
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.0.receivers.register(oper, cx);
        self.0.is_ready()
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        self.0.receivers.unregister(oper, cx);
    }
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.0.start_recv_token(token)
    }
    unsafe fn abandon(&self, token: &mut Token) {
        // SAFETY: forwarded contract (a receiving reservation on this channel, unused).
        // Reading finishes the slot, so its block can be freed; the value is discarded,
        // after the channel is consistent again.
        drop(unsafe { self.0.read_token(token) });
    }
    fn is_ready(&self) -> bool {
        self.0.is_ready()
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        self.0.receivers.watch(oper, cx);
        self.0.is_ready()
    }
    fn unwatch(&self, oper: Operation, cx: &Context) {
        self.0.receivers.unwatch(oper, cx);
    }
}

impl<T> SelectHandle for Sender<'_, T> {
    fn try_select(&self, _token: &mut Token) -> bool {
        true
    }
    fn register(&self, _oper: Operation, _cx: &Context) -> bool {
        true
    }
    fn unregister(&self, _oper: Operation, _cx: &Context) {}
    fn accept(&self, _token: &mut Token, _cx: &Context) -> bool {
        true
    }
    unsafe fn abandon(&self, _token: &mut Token) {
        // A send reserves nothing: the list is unbounded.
    }
    fn is_ready(&self) -> bool {
        true
    }
    fn watch(&self, _oper: Operation, _cx: &Context) -> bool {
        true
    }
    fn unwatch(&self, _oper: Operation, _cx: &Context) {}
}
