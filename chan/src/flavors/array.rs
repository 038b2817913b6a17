//! Bounded buffered channel: a lock-free ring of stamped slots.
//!
//! Algorithm: Dmitry Vyukov's bounded MPMC queue, as crossbeam-channel's array flavor
//! uses it. `head` and `tail` are "stamps": `lap | index`, with a mark bit between the two
//! that the closing side sets on `tail`. Each slot carries a stamp too:
//!
//! | slot stamp           | meaning                                                  |
//! |----------------------|----------------------------------------------------------|
//! | `== tail` of a sender | empty in this lap: the sender that moves `tail` past it may write |
//! | `== head + 1`        | full in this lap: the receiver that moves `head` past it may read |
//! | `== (head + 1) \| mark_bit` | *skipped*: claimed by a send that was abandoned, holds no value; the party that moves `head` past it stamps it empty for the next lap |
//! | anything else        | another party is between claiming the slot and stamping it |
//!
//! A send claims a slot by CAS on `tail`, writes the value, then stamps the slot
//! `tail + 1` (Release). A receive claims by CAS on `head`, reads, then stamps the slot
//! `head + one_lap` (empty for the next lap). The two phases are the two halves of
//! `select`'s protocol: `start_*` reserves, `write`/`read` completes.
//!
//! # Abandoned reservations
//!
//! A select may reserve a slot and never complete (its `SelectedOperation` dropped: a `?`
//! or a panic in a send arm's value). The slot's place in the ring is fixed by `head` and
//! `tail`, so it cannot be handed back; it is closed out instead:
//!
//! - An abandoned send stamps its slot *skipped*: `(tail + 1) | mark_bit`. Slot stamps
//!   never otherwise carry `mark_bit` (an index is below `cap < mark_bit`), so the stamp
//!   is unambiguous and still names its lap. A receiver that finds it at `head` moves
//!   `head` past it by CAS, stamps it empty for the next lap, wakes a sender and keeps
//!   looking; a sender a lap later counts it as occupied until then (it is not "empty"
//!   yet). `abandoned` counts skipped slots that `head` has not passed; while it is
//!   non-zero, completed receives and senders that find the ring full also step over a
//!   skipped slot at `head`, so it does not hold capacity while no receiver is looking.
//!   The abandoning side does the same right after stamping. (Dekker pair: the abandoner
//!   increments `abandoned`, stamps, then reads `head`; a receiver moves `head`, then
//!   reads `abandoned`, then the stamp, all SeqCst: one of the two sees the other.)
//! - An abandoned receive completes the read and drops the value (a select chose to
//!   receive it; the caller discarded it), so the slot is stamped empty and senders do not
//!   spin on it forever.
//! - `Channel::drop` drops only the slots stamped full, not everything between `head`
//!   and `tail`: a send reservation that was forgotten (`mem::forget`, no destructor) or
//!   skipped holds no value. (crossbeam-channel had the same double free,
//!   RUSTSEC-2025-0024.)
//!
//! Blocking is layered on top with two wait queues: a sender that finds the ring full
//! registers in `senders` and parks; every completed receive calls `senders.notify()`,
//! which costs one SeqCst load while nobody waits. Values move into the slot and out once;
//! a parked receiver is woken to take the value from the ring rather than handed it
//! directly (see the crate docs for why).

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{self, AtomicUsize, Ordering};
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::context::{Context, Operation, Selected};
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::select::{SelectHandle, Token};
use crate::utils::spin;
use crate::waker::SyncWaker;

/// The reservation made by `start_send`/`start_recv`: the claimed slot and the stamp to
/// leave on it. A null slot means "disconnected".
pub(crate) struct ArrayToken {
    slot: *const u8,
    stamp: usize,
}

impl Default for ArrayToken {
    fn default() -> Self {
        ArrayToken {
            slot: ptr::null(),
            stamp: 0,
        }
    }
}

struct Slot<T> {
    stamp: AtomicUsize,
    msg: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded channel of capacity `cap > 0`.
pub(crate) struct Channel<T> {
    /// Next slot to receive from (`lap | index`).
    head: CachePadded<AtomicUsize>,
    /// Next slot to send into (`lap | mark | index`).
    tail: CachePadded<AtomicUsize>,
    buffer: Box<[Slot<T>]>,
    cap: usize,
    /// Added to a stamp to move to the same index one lap later.
    one_lap: usize,
    /// Set in `tail` once the channel is disconnected.
    mark_bit: usize,
    /// Slots stamped skipped (abandoned sends) that `head` has not yet passed. Read on every
    /// completed receive; written only when a send is abandoned and when a skipped slot is
    /// passed.
    abandoned: AtomicUsize,
    senders: SyncWaker,
    receivers: SyncWaker,
    _marker: PhantomData<T>,
}

// SAFETY: values of `T` move between threads through the slots (hence `T: Send`); every
// slot access is serialised by the stamp protocol described in the module docs.
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: as above; `&Channel` only gives access to slots through the stamp protocol.
unsafe impl<T: Send> Sync for Channel<T> {}

impl<T> Channel<T> {
    pub(crate) fn with_capacity(cap: usize) -> Self {
        assert!(cap > 0, "goro-chan: array flavor needs capacity > 0");
        // Go's `make(chan T, n)` panics with "size out of range" where the buffer cannot
        // exist; so does this, rather than overflow the lap arithmetic or abort the process
        // in the allocator.
        let out_of_range = || -> ! {
            panic!(
                "goro-chan: bounded({cap}): capacity out of range (the buffer cannot be allocated)"
            )
        };
        let Some(mark_bit) = cap
            .checked_add(1)
            .and_then(usize::checked_next_power_of_two)
            .filter(|m| m.checked_mul(2).is_some())
        else {
            out_of_range()
        };
        let one_lap = mark_bit * 2;
        let mut buffer: Vec<Slot<T>> = Vec::new();
        if buffer.try_reserve_exact(cap).is_err() {
            out_of_range();
        }
        buffer.extend((0..cap).map(|i| Slot {
            stamp: AtomicUsize::new(i),
            msg: UnsafeCell::new(MaybeUninit::uninit()),
        }));
        let buffer = buffer.into_boxed_slice();
        Channel {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            buffer,
            cap,
            one_lap,
            mark_bit,
            abandoned: AtomicUsize::new(0),
            senders: SyncWaker::new(),
            receivers: SyncWaker::new(),
            _marker: PhantomData,
        }
    }

    /// The stamp after `s` (next index, or index 0 of the next lap).
    #[inline]
    fn advance(&self, s: usize) -> usize {
        let index = s & (self.mark_bit - 1);
        if index + 1 < self.cap {
            s + 1
        } else {
            (s & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Reserves a slot to send into. True if reserved or disconnected (null slot).
    fn start_send(&self, token: &mut Token) -> bool {
        let mut step = 0;
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                token.array.slot = ptr::null();
                token.array.stamp = 0;
                return true;
            }
            let index = tail & (self.mark_bit - 1);
            let slot = &self.buffer[index];
            // Acquire pairs with the Release stamp store in `read`: the previous lap's
            // value has been moved out before we overwrite the slot.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if tail == stamp {
                let new_tail = self.advance(tail);
                // SeqCst: part of the Dekker pair with `SyncWaker::register` + `is_empty`
                // on the receiving side (see waker.rs).
                match self.tail.compare_exchange_weak(
                    tail,
                    new_tail,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        token.array.slot = slot as *const Slot<T> as *const u8;
                        token.array.stamp = tail + 1;
                        return true;
                    }
                    Err(t) => {
                        tail = t;
                        spin(&mut step);
                    }
                }
            } else if (stamp & !self.mark_bit).wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds last lap's value, or was skipped last lap: full,
                // unless `head` moved on.
                // SeqCst fence orders our `tail` read before the `head` read below against
                // receivers' SeqCst `head` CAS.
                atomic::fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    // Full, unless a skipped slot at `head` holds the room. SeqCst: see
                    // `skip_abandoned`.
                    if self.abandoned.load(Ordering::SeqCst) != 0 && self.skip_abandoned() {
                        tail = self.tail.load(Ordering::Relaxed);
                        continue;
                    }
                    return false;
                }
                spin(&mut step);
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // A receiver is between claiming this slot and stamping it.
                spin(&mut step);
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Completes a send reserved by `start_send`.
    ///
    /// # Safety
    /// `token` must come from a successful `start_send` on this channel, used once.
    unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        if token.array.slot.is_null() {
            return Err(msg);
        }
        // SAFETY: the caller guarantees the token reserved this slot of our buffer; the
        // reservation makes us the only party that may touch its value until we stamp it.
        let slot = unsafe { &*(token.array.slot as *const Slot<T>) };
        // SAFETY: as above; the slot is empty in this lap.
        unsafe { slot.msg.get().write(MaybeUninit::new(msg)) };
        // Release pairs with the Acquire stamp load in `start_recv`.
        slot.stamp.store(token.array.stamp, Ordering::Release);
        self.receivers.notify();
        Ok(())
    }

    /// Reserves a slot to receive from. True if reserved or disconnected (null slot).
    fn start_recv(&self, token: &mut Token) -> bool {
        let mut step = 0;
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let index = head & (self.mark_bit - 1);
            let slot = &self.buffer[index];
            // Acquire pairs with the Release stamp store in `write`: the value is written.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if head + 1 == stamp {
                let new_head = self.advance(head);
                // SeqCst: Dekker pair with the senders' wait queue (see `start_send`).
                match self.head.compare_exchange_weak(
                    head,
                    new_head,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        token.array.slot = slot as *const Slot<T> as *const u8;
                        token.array.stamp = head.wrapping_add(self.one_lap);
                        return true;
                    }
                    Err(h) => {
                        head = h;
                        spin(&mut step);
                    }
                }
            } else if stamp == self.skipped(head + 1) {
                // An abandoned send's slot: step over it and keep looking.
                match self.pass_skipped(head, slot) {
                    Ok(()) => head = self.head.load(Ordering::Relaxed),
                    Err(h) => {
                        head = h;
                        spin(&mut step);
                    }
                }
            } else if stamp == head {
                // Empty in this lap, unless a sender claimed it and has not stamped yet.
                // SeqCst fence: orders our `head` read before the `tail` read (pairs with
                // the senders' SeqCst `tail` CAS).
                atomic::fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if tail & !self.mark_bit == head {
                    if tail & self.mark_bit != 0 {
                        token.array.slot = ptr::null();
                        token.array.stamp = 0;
                        return true;
                    }
                    return false;
                }
                spin(&mut step);
                head = self.head.load(Ordering::Relaxed);
            } else {
                // A sender is between claiming this slot and stamping it.
                spin(&mut step);
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Completes a receive reserved by `start_recv`.
    ///
    /// # Safety
    /// `token` must come from a successful `start_recv` on this channel, used once.
    unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        if token.array.slot.is_null() {
            return Err(());
        }
        // SAFETY: the caller guarantees the token reserved this full slot of our buffer;
        // we are the only party that may read it until we stamp it.
        let slot = unsafe { &*(token.array.slot as *const Slot<T>) };
        // SAFETY: the slot was written (its stamp said full when we claimed it).
        let msg = unsafe { slot.msg.get().read().assume_init() };
        // Release pairs with the Acquire stamp load in `start_send`.
        slot.stamp.store(token.array.stamp, Ordering::Release);
        self.senders.notify();
        // SeqCst: our side of the Dekker pair in `skip_abandoned` (the `head` CAS that
        // reserved this slot came before this load).
        if self.abandoned.load(Ordering::SeqCst) != 0 {
            self.skip_abandoned();
        }
        Ok(msg)
    }

    /// The stamp an abandoned send leaves on its slot, from the send's "full" stamp.
    #[inline]
    fn skipped(&self, full_stamp: usize) -> usize {
        full_stamp | self.mark_bit
    }

    /// Moves `head` past the skipped slot `slot` at `head` and stamps it empty for the
    /// next lap. `Err` with the current `head` if another party moved `head` first.
    fn pass_skipped(&self, head: usize, slot: &Slot<T>) -> Result<(), usize> {
        // SeqCst: like the `head` CAS in `start_recv` (Dekker pair with the senders' wait
        // queue), and part of the pair described in `skip_abandoned`.
        self.head.compare_exchange(
            head,
            self.advance(head),
            Ordering::SeqCst,
            Ordering::Relaxed,
        )?;
        // Release pairs with the Acquire stamp load in `start_send`; nothing was written,
        // but a sender must not see the slot empty before `head` passed it.
        slot.stamp
            .store(head.wrapping_add(self.one_lap), Ordering::Release);
        // Relaxed: a hint; the increment that this undoes happened before the skipped
        // stamp we saw (see `abandon_send`), so the count never drops below the number of
        // skipped slots ahead of `head`.
        self.abandoned.fetch_sub(1, Ordering::Relaxed);
        self.senders.notify();
        Ok(())
    }

    /// Passes every skipped slot found at `head`. True if it passed at least one.
    ///
    /// Dekker pair with the abandoning side: `abandon_send` increments `abandoned`,
    /// stamps the slot skipped, then calls this (reading `head`); a receive moves `head`
    /// by CAS, then `read` loads `abandoned` and calls this (reading the stamp). All SeqCst,
    /// so either the abandoner sees `head` at its slot or the receiver sees the count and
    /// the stamp: a skipped slot that reaches `head` does not stay there unnoticed.
    fn skip_abandoned(&self) -> bool {
        let mut passed = false;
        loop {
            let head = self.head.load(Ordering::SeqCst);
            let slot = &self.buffer[head & (self.mark_bit - 1)];
            // SeqCst: see above (pairs with the SeqCst stamp store in `abandon_send`).
            if slot.stamp.load(Ordering::SeqCst) != self.skipped(head + 1) {
                return passed;
            }
            if self.pass_skipped(head, slot).is_ok() {
                passed = true;
            }
        }
    }

    /// Releases a send reserved by `start_send` that will not be completed: the slot is
    /// stamped skipped (see the module docs).
    ///
    /// # Safety
    /// `token` must come from a successful `start_send` on this channel, unused.
    unsafe fn abandon_send(&self, token: &mut Token) {
        if token.array.slot.is_null() {
            return;
        }
        // SAFETY: the caller guarantees the token reserved this slot of our buffer.
        let slot = unsafe { &*(token.array.slot as *const Slot<T>) };
        // SeqCst, before the stamp: a party that sees the skipped stamp then also sees
        // the count (it never underflows), and the Dekker pair in `skip_abandoned`.
        self.abandoned.fetch_add(1, Ordering::SeqCst);
        // SeqCst: pairs with the SeqCst stamp load in `skip_abandoned`; receivers in
        // `start_recv` read it with Acquire (no value to publish, only the stamp).
        slot.stamp
            .store(self.skipped(token.array.stamp), Ordering::SeqCst);
        token.array.slot = ptr::null();
        self.skip_abandoned();
    }

    /// Releases a receive reserved by `start_recv`: reads the value and drops it.
    ///
    /// # Safety
    /// `token` must come from a successful `start_recv` on this channel, unused.
    unsafe fn abandon_recv(&self, token: &mut Token) {
        // SAFETY: forwarded contract; `read` stamps the slot empty for the next lap.
        let msg = unsafe { self.read(token) };
        token.array.slot = ptr::null();
        // The value's destructor runs last, with the channel consistent again.
        drop(msg);
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let token = &mut Token::new();
        if self.start_send(token) {
            // SAFETY: `token` was just reserved by `start_send`.
            unsafe { self.write(token, msg) }.map_err(TrySendError::Disconnected)
        } else {
            Err(TrySendError::Full(msg))
        }
    }

    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let token = &mut Token::new();
        loop {
            if self.start_send(token) {
                // SAFETY: `token` was just reserved by `start_send`.
                return unsafe { self.write(token, msg) }.map_err(SendTimeoutError::Disconnected);
            }
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Err(SendTimeoutError::Timeout(msg));
                }
            }
            Context::with(|cx| {
                let oper = Operation(0);
                self.senders.register(oper, cx);
                // Re-check after registering (the Dekker pair in waker.rs).
                if !self.is_full() || self.is_disconnected() {
                    let _ = cx.try_select(Selected::Aborted);
                }
                match cx.wait_until(deadline) {
                    Selected::Waiting => unreachable!("goro-chan: woke while waiting"),
                    Selected::Aborted | Selected::Disconnected => {
                        self.senders.unregister(oper, cx);
                    }
                    Selected::Operation(_) => {}
                }
            });
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let token = &mut Token::new();
        if self.start_recv(token) {
            // SAFETY: `token` was just reserved by `start_recv`.
            unsafe { self.read(token) }.map_err(|_| TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let token = &mut Token::new();
        loop {
            if self.start_recv(token) {
                // SAFETY: `token` was just reserved by `start_recv`.
                return unsafe { self.read(token) }.map_err(|_| RecvTimeoutError::Disconnected);
            }
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Err(RecvTimeoutError::Timeout);
                }
            }
            Context::with(|cx| {
                let oper = Operation(0);
                self.receivers.register(oper, cx);
                if !self.is_empty() || self.is_disconnected() {
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

    /// Number of values in the buffer (a snapshot). Skipped slots (abandoned sends) not
    /// yet passed by `head` are not values.
    pub(crate) fn len(&self) -> usize {
        loop {
            // SeqCst loads: a consistent snapshot of both indices (retry if `tail` moved).
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                let claimed = self.len_between(head, tail & !self.mark_bit);
                // SeqCst: read with the indices; a snapshot like them.
                return claimed.saturating_sub(self.abandoned.load(Ordering::SeqCst));
            }
        }
    }

    fn len_between(&self, head: usize, tail: usize) -> usize {
        let hix = head & (self.mark_bit - 1);
        let tix = tail & (self.mark_bit - 1);
        if hix < tix {
            tix - hix
        } else if hix > tix {
            self.cap - hix + tix
        } else if tail == head {
            0
        } else {
            self.cap
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    pub(crate) fn is_empty(&self) -> bool {
        // SeqCst: these reads take part in the registration re-check (Dekker pair).
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        tail & !self.mark_bit == head
    }

    pub(crate) fn is_full(&self) -> bool {
        // SeqCst: as in `is_empty`.
        let tail = self.tail.load(Ordering::SeqCst);
        let head = self.head.load(Ordering::SeqCst);
        head.wrapping_add(self.one_lap) == tail & !self.mark_bit
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        // SeqCst: pairs with the SeqCst `fetch_or` in `disconnect`.
        self.tail.load(Ordering::SeqCst) & self.mark_bit != 0
    }

    /// Marks the channel disconnected and wakes every waiter. True if this call did it.
    pub(crate) fn disconnect(&self) -> bool {
        // SeqCst: pairs with the SeqCst loads in `is_disconnected` and the registration
        // re-checks, so a waiter either sees the mark or is woken below.
        let tail = self.tail.fetch_or(self.mark_bit, Ordering::SeqCst);
        if tail & self.mark_bit == 0 {
            self.senders.disconnect();
            self.receivers.disconnect();
            true
        } else {
            false
        }
    }

    pub(crate) fn sender(&self) -> Sender<'_, T> {
        Sender(self)
    }

    pub(crate) fn receiver(&self) -> Receiver<'_, T> {
        Receiver(self)
    }

    /// Receives a value reserved by a select.
    ///
    /// # Safety
    /// `token` must come from this channel's receiving `try_select`/`accept`.
    pub(crate) unsafe fn read_token(&self, token: &mut Token) -> Result<T, ()> {
        // SAFETY: forwarded contract.
        unsafe { self.read(token) }
    }

    /// Sends a value into a slot reserved by a select.
    ///
    /// # Safety
    /// `token` must come from this channel's sending `try_select`/`accept`.
    pub(crate) unsafe fn write_token(&self, token: &mut Token, msg: T) -> Result<(), T> {
        // SAFETY: forwarded contract.
        unsafe { self.write(token, msg) }
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        let head = *self.head.get_mut();
        let tail = *self.tail.get_mut() & !self.mark_bit;
        let len = self.len_between(head, tail);
        // Walk the claimed slots `head..tail` by stamp, not by index arithmetic alone: a
        // claimed slot holds a value only if its stamp says full in its lap. One whose
        // send was abandoned (skipped) or forgotten (still stamped empty) holds none.
        let mut pos = head;
        for _ in 0..len {
            let slot = &mut self.buffer[pos & (self.mark_bit - 1)];
            if *slot.stamp.get_mut() == pos + 1 {
                // SAFETY: with `&mut self` no operation is in flight; the stamp says a
                // send wrote this slot in this lap and no receive has taken it. Each slot
                // is visited once, so the value is dropped once.
                unsafe { slot.msg.get_mut().assume_init_drop() };
            }
            pos = self.advance(pos);
        }
    }
}

/// The receiving side of the channel, as a select operation.
pub(crate) struct Receiver<'a, T>(&'a Channel<T>);
/// The sending side of the channel, as a select operation.
pub(crate) struct Sender<'a, T>(&'a Channel<T>);

impl<T> SelectHandle for Receiver<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_recv(token)
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.0.receivers.register(oper, cx);
        self.is_ready()
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        self.0.receivers.unregister(oper, cx);
    }
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.0.start_recv(token)
    }
    unsafe fn abandon(&self, token: &mut Token) {
        // SAFETY: forwarded contract (a receiving reservation on this channel, unused).
        unsafe { self.0.abandon_recv(token) }
    }
}

impl<T> Receiver<'_, T> {
    fn is_ready(&self) -> bool {
        !self.0.is_empty() || self.0.is_disconnected()
    }
}

impl<T> SelectHandle for Sender<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_send(token)
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.0.senders.register(oper, cx);
        self.is_ready()
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        self.0.senders.unregister(oper, cx);
    }
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.0.start_send(token)
    }
    unsafe fn abandon(&self, token: &mut Token) {
        // SAFETY: forwarded contract (a sending reservation on this channel, unused).
        unsafe { self.0.abandon_send(token) }
    }
}

impl<T> Sender<'_, T> {
    fn is_ready(&self) -> bool {
        !self.0.is_full() || self.0.is_disconnected()
    }
}
