//! Zero-capacity (rendezvous) channel: Go's unbuffered `chan T`.
//!
//! A send completes only when a receiver takes the value, and the value goes straight
//! from one side to the other: whoever arrives second finds the first in the wait queue,
//! claims it (CAS on its context), and moves the value through the first one's *packet*.
//! No buffer is involved. Four exchanges can happen:
//!
//! | waiting side            | its packet              | arriving side does                                        |
//! |-------------------------|-------------------------|-----------------------------------------------------------|
//! | (a) blocked `send`      | on its stack, holds the value | takes the value, sets `ready`, wakes the sender      |
//! | (b) blocked `recv`      | on its stack, empty     | writes the value, sets `ready`, wakes the receiver        |
//! | (c) select's send arm   | on the heap, empty      | leaves its unparker in the packet, wakes the select, parks until the select wrote the value and set `ready`; frees the packet |
//! | (d) select's recv arm   | on the heap, empty      | writes the value, sets `ready`, wakes the select (which frees the packet after reading) |
//!
//! A select's send arm (c) holds no value while it waits, because the value expression of
//! a `send` arm is evaluated only if that arm is chosen. Packets are heap-allocated only
//! for selects, on their blocking path.
//!
//! Rules that keep packets valid: only the party that won the claim CAS touches a packet,
//! after the claim; whoever sets `ready` never touches the packet again (its owner may
//! free it or return from its stack frame at once); the wake comes after `ready` so the
//! owner can park on `ready` with no lost wakeup. Entries that a disconnection drains are
//! never claimed, so the disconnecting side frees their heap packets.
//!
//! # Abandoned reservations
//!
//! A select that reserved an exchange may drop its `SelectedOperation` without completing
//! it (a `?` or a panic in a send arm's value). The peer is then committed to an exchange
//! that will not happen; it is released as if the exchange had failed, and retries:
//!
//! - A send abandoned after claiming a receiver (b, d), or after being claimed in its
//!   select packet (c): marks the packet `READY` with no value and wakes the peer. A
//!   blocked `recv` waits again; a receiving select's `recv` falls back to a blocking
//!   receive on this channel; a `try_recv` reports `Empty`.
//! - A receive abandoned after claiming a blocked `send` (a): marks the sender's packet
//!   `READY` *leaving the value in it*; the sender takes it back and tries again.
//! - A receive abandoned on a heap packet, its own (d) or the select sender's it claimed
//!   (c, after waking that select as `read` would): marks it `READER_GONE`. The writer's
//!   final `swap` then finds it, frees the packet and takes its value back to retry (a
//!   blocked `send` loops, a sending select's `send` falls back to a blocking send). If
//!   the writer finished first (`READY`), the abandoning side frees the packet and drops
//!   the value, a received value discarded.
//!
//! So a heap packet is freed by whichever side finishes with it last, decided by one
//! `swap` on its state; a stack packet is only ever set `READY` (no abandoning side owns
//! one), and its owner reclaims it. No peer waits for an exchange that cannot happen.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use goro::park::{self, Unparker};

use crate::context::{Context, Operation, Selected};
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::select::{SelectHandle, Token};
use crate::utils::SpinLock;
use crate::waker::{Entry, Waker};

/// The claimed peer's packet and context (null packet: disconnected).
pub(crate) struct ZeroToken {
    packet: *mut (),
    peer: Option<Context>,
}

impl ZeroToken {
    /// The token for a claimed wait-queue entry.
    fn claimed(e: Entry) -> ZeroToken {
        ZeroToken {
            packet: e.packet,
            peer: Some(e.cx),
        }
    }
}

impl Default for ZeroToken {
    fn default() -> Self {
        ZeroToken {
            packet: ptr::null_mut(),
            peer: None,
        }
    }
}

/// Packet state: the exchange is under way.
const PENDING: u8 = 0;
/// Set (Release) by the side that finished the exchange, or abandoned it; the owner waits
/// for it. `msg` then holds the value, or `None` if the send was abandoned.
const READY: u8 = 1;
/// A select's receive abandoned this heap packet before the writer finished; the writer
/// frees it (module docs).
const READER_GONE: u8 = 2;

/// Where a value changes hands.
struct Packet<T> {
    /// On a blocked send's/recv's stack (true) or heap-allocated by a select (false).
    /// Never changes after creation.
    on_stack: bool,
    /// `PENDING`, `READY` or `READER_GONE` (heap packets only).
    state: AtomicU8,
    msg: UnsafeCell<Option<T>>,
    /// Case (c): the receiver to wake once the select has written the value.
    waiter: UnsafeCell<Option<Unparker>>,
}

impl<T> Packet<T> {
    fn on_stack(msg: Option<T>) -> Packet<T> {
        Packet {
            on_stack: true,
            state: AtomicU8::new(PENDING),
            msg: UnsafeCell::new(msg),
            waiter: UnsafeCell::new(None),
        }
    }

    fn empty_on_heap() -> *mut Packet<T> {
        Box::into_raw(Box::new(Packet {
            on_stack: false,
            state: AtomicU8::new(PENDING),
            msg: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
        }))
    }

    /// Whether the peer finished (or abandoned) the exchange.
    fn is_ready(&self) -> bool {
        // Acquire pairs with the Release store (or swap) of whoever completed the exchange.
        self.state.load(Ordering::Acquire) == READY
    }

    /// Parks until the peer set `ready` (it wakes us after setting it).
    fn wait_ready(&self) {
        // Usually already set: the peer sets it before it wakes us.
        if self.is_ready() {
            return;
        }
        // The peer is between its claim and `ready`, a few instructions away, unless it
        // is a select that still has to wake up (case c). Threads spin a little first
        // (see `Context::wait_until`); coroutines park at once.
        if !goro::in_coroutine() {
            for _ in 0..crate::context::THREAD_SPINS {
                if self.is_ready() {
                    return;
                }
                std::hint::spin_loop();
            }
        }
        while !self.is_ready() {
            park::park();
        }
    }
}

/// Why a send did not complete.
enum SendFail<T> {
    Disconnected(T),
    /// The claimed receiver abandoned the exchange; the value is back, try again.
    Retry(T),
}

/// Why a receive did not complete.
enum RecvFail {
    Disconnected,
    /// The claimed sender abandoned the exchange; nothing was received, try again.
    Retry,
}

struct Inner {
    senders: Waker,
    receivers: Waker,
    disconnected: bool,
}

/// A zero-capacity channel.
pub(crate) struct Channel<T> {
    inner: SpinLock<Inner>,
    _marker: PhantomData<T>,
}

// SAFETY: values of `T` cross threads through packets (hence `T: Send`); packets are
// accessed only under the claim rules in the module docs.
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Channel<T> {}

/// Frees the heap packets of entries drained by a disconnection (never claimed, so no one
/// else will touch them).
///
/// # Safety
/// Every entry's packet must be a `Packet<T>` of this channel, and the caller must hold
/// the channel's lock (stack packets are live only while their owner cannot return).
unsafe fn free_drained<T>(entries: &[Entry]) {
    for e in entries {
        let p = e.packet as *mut Packet<T>;
        // SAFETY: the caller guarantees the type; entries of blocked send/recv point at
        // live stack packets (their owners are parked until woken below).
        if !p.is_null() && unsafe { !(*p).on_stack } {
            // SAFETY: heap packets come from `Box::into_raw` in `register`, and a drained
            // entry's packet is referenced by nobody else (module docs).
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            inner: SpinLock::new(Inner {
                senders: Waker::new(),
                receivers: Waker::new(),
                disconnected: false,
            }),
            _marker: PhantomData,
        }
    }

    /// Claims a waiting receiver. `Some` if claimed, or disconnected (null packet).
    fn start_send(&self) -> Option<ZeroToken> {
        let mut inner = self.inner.lock();
        match inner.receivers.try_select() {
            Some(e) => Some(ZeroToken::claimed(e)),
            None if inner.disconnected => Some(ZeroToken::default()),
            None => None,
        }
    }

    /// Completes a send: writes the value into a claimed receiver's packet (b, d), or into
    /// our own select packet for the receiver that claimed it (c).
    ///
    /// # Safety
    /// `token` must come from `start_send` or a sending `accept` on this channel, once.
    unsafe fn write(&self, token: ZeroToken, msg: T) -> Result<(), SendFail<T>> {
        if token.packet.is_null() {
            return Err(SendFail::Disconnected(msg));
        }
        // SAFETY: forwarded contract; the packet is non-null.
        match unsafe { Self::finish_send(token, Some(msg)) } {
            None => Ok(()),
            Some(msg) => Err(SendFail::Retry(msg)),
        }
    }

    /// The sending side's last touch of a claimed exchange: puts `msg` in the packet
    /// (`None`: the send was abandoned), sets `READY` and wakes the receiver. If the
    /// receiver had abandoned the (heap) packet, frees it instead and returns its value.
    ///
    /// # Safety
    /// `token` must come from `start_send` or a sending `accept` on this channel, unused,
    /// with a non-null packet.
    unsafe fn finish_send(token: ZeroToken, msg: Option<T>) -> Option<T> {
        let raw = token.packet as *mut Packet<T>;
        // SAFETY: the token holds a packet we claimed (or our own claimed select packet);
        // the claim makes us its only writer, and it stays alive until we set `READY`
        // (stack: its owner waits for that; heap: its owner frees it only after that, or
        // leaves it to us with `READER_GONE`).
        let packet = unsafe { &*raw };
        let wake = match token.peer {
            Some(cx) => Wake::Context(cx),
            // Case (c): the claiming receiver left its unparker here before its claim
            // (visible: we saw the claim with Acquire and took the channel lock after it).
            // SAFETY: only we access `waiter` after the claim; taken before `READY`.
            None => Wake::Unparker(unsafe { (*packet.waiter.get()).take() }),
        };
        // SAFETY: exclusive access as above; the packet is empty.
        unsafe { *packet.msg.get() = msg };
        // AcqRel: Release pairs with the Acquire in `wait_ready` (and in the receiver's
        // swap in `leave_packet`); Acquire pairs with that swap's Release, so if the
        // receiver left, its last access to the packet happened before we free it.
        // Unless the receiver left, the packet may be freed by its owner after this swap:
        // do not touch it again.
        if packet.state.swap(READY, Ordering::AcqRel) == READER_GONE {
            // SAFETY: only heap packets get `READER_GONE` (from `Box::into_raw` in
            // `register_arm`), and the receiver that set it will not touch it again.
            let packet = unsafe { Box::from_raw(raw) };
            return packet.msg.into_inner();
        }
        wake.wake();
        None
    }

    /// Releases a send reserved by `start_send` or a sending `accept` (module docs).
    ///
    /// # Safety
    /// As for [`finish_send`](Self::finish_send), except that the packet may be null.
    unsafe fn abandon_send(&self, token: &mut Token) {
        let token = std::mem::take(&mut token.zero);
        if !token.packet.is_null() {
            // SAFETY: forwarded contract. A value can only come back if we had put one in.
            let back = unsafe { Self::finish_send(token, None) };
            debug_assert!(back.is_none());
        }
    }

    /// Claims a waiting sender. `Some` if claimed, or disconnected (null packet).
    fn start_recv(&self) -> Option<ZeroToken> {
        Self::claim_sender(&mut self.inner.lock())
    }

    /// `start_recv` with the lock already held.
    fn claim_sender(inner: &mut Inner) -> Option<ZeroToken> {
        let claimed = inner.senders.try_select_with(|e| {
            let p = e.packet as *const Packet<T>;
            // SAFETY: sender entries of this channel carry live `Packet<T>`s (stack ones
            // until their owner is woken, heap ones until unregistered or freed, both of
            // which need the lock our caller holds).
            let p = unsafe { &*p };
            if !p.on_stack {
                // Case (c): tell the select whom to wake once it has written the value.
                // SAFETY: under the lock no other receiver touches this entry; the owner
                // reads `waiter` only after a claim, which happens after this write.
                unsafe { *p.waiter.get() = Some(park::unparker()) };
            }
        });
        match claimed {
            Some(e) => Some(ZeroToken::claimed(e)),
            None if inner.disconnected => Some(ZeroToken::default()),
            None => None,
        }
    }

    /// Completes a receive: takes the value from a claimed sender's packet (a), waits for a
    /// claimed select to write it (c), or reads our own select packet (d).
    ///
    /// # Safety
    /// `token` must come from `start_recv` or a receiving `accept` on this channel, once.
    unsafe fn read(&self, token: ZeroToken) -> Result<T, RecvFail> {
        if token.packet.is_null() {
            return Err(RecvFail::Disconnected);
        }
        let raw = token.packet as *mut Packet<T>;
        // SAFETY: the claim (ours, or the sender's on our own packet) gives us access; the
        // packet lives until `ready` (stack) or until we free it (heap).
        let packet = unsafe { &*raw };
        match token.peer {
            Some(cx) if packet.on_stack => {
                // Case (a).
                // SAFETY: the claim makes us the only one touching `msg`.
                let msg = unsafe { (*packet.msg.get()).take() };
                // Release pairs with the sender's `wait_ready`; packet dead to us after.
                packet.state.store(READY, Ordering::Release);
                cx.unpark();
                Ok(msg.expect("goro-chan: blocked sender's packet was empty"))
            }
            Some(cx) => {
                // Case (c): wake the select so it writes the value, then wait for it.
                cx.unpark();
                packet.wait_ready();
                // SAFETY: `ready` was set by the select after its last access; the heap
                // packet is now ours alone, from `Box::into_raw` in `register`.
                let packet = unsafe { Box::from_raw(raw) };
                // No value: the select abandoned its send.
                packet.msg.into_inner().ok_or(RecvFail::Retry)
            }
            None => {
                // Case (d): our own select packet, written by the sender that claimed us.
                packet.wait_ready();
                // SAFETY: as in case (c); the sender does not touch it after `ready`.
                let packet = unsafe { Box::from_raw(raw) };
                // No value: the sender (a select) abandoned its send.
                packet.msg.into_inner().ok_or(RecvFail::Retry)
            }
        }
    }

    /// Releases a receive reserved by `start_recv` or a receiving `accept` (module docs).
    ///
    /// # Safety
    /// `token` must come from `start_recv` or a receiving `accept` on this channel, unused.
    unsafe fn abandon_recv(&self, token: &mut Token) {
        let token = std::mem::take(&mut token.zero);
        if token.packet.is_null() {
            return;
        }
        let raw = token.packet as *mut Packet<T>;
        // SAFETY: as in `read`: the claim gives us access, and the packet lives until we
        // set `READY` (stack) or hand it over with `leave_packet` (heap).
        let packet = unsafe { &*raw };
        match token.peer {
            Some(cx) if packet.on_stack => {
                // Case (a): leave the value where it is; the sender takes it back and
                // tries again. Release pairs with the sender's `wait_ready`; the packet is
                // dead to us after this store.
                packet.state.store(READY, Ordering::Release);
                cx.unpark();
            }
            Some(cx) => {
                // Case (c): the select we claimed must wake to learn it was chosen, as in
                // `read`; its send (or abandon) will find the packet left to it.
                cx.unpark();
                // SAFETY: a heap packet we may access, not touched by us afterwards.
                unsafe { Self::leave_packet(raw) };
            }
            // SAFETY: case (d), our own heap packet, not touched by us afterwards.
            None => unsafe { Self::leave_packet(raw) },
        }
    }

    /// A receive gives up a heap packet: whichever side finishes with it last frees it.
    ///
    /// # Safety
    /// `raw` must be a heap packet of a claimed exchange in which we are the receiver; the
    /// caller must not touch it afterwards.
    unsafe fn leave_packet(raw: *mut Packet<T>) {
        // SAFETY: alive until one of the two swaps below and in `finish_send` decides who
        // frees it; ours has not happened yet.
        let packet = unsafe { &*raw };
        // AcqRel: Release hands our accesses over to the writer, who may free the packet
        // (pairs with the Acquire half of its swap in `finish_send`); Acquire pairs with
        // that swap's Release, so a value it wrote is visible before we drop it.
        if packet.state.swap(READER_GONE, Ordering::AcqRel) == READY {
            // SAFETY: the writer finished and never touches it again; from `Box::into_raw`
            // in `register_arm`. Its value (if any) is a received value, discarded.
            drop(unsafe { Box::from_raw(raw) });
        }
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        match self.start_send() {
            // SAFETY: reserved just above.
            Some(token) => unsafe { self.write(token, msg) }.map_err(|e| match e {
                SendFail::Disconnected(msg) => TrySendError::Disconnected(msg),
                // The receiver we claimed gave up: nobody took the value.
                SendFail::Retry(msg) => TrySendError::Full(msg),
            }),
            None => Err(TrySendError::Full(msg)),
        }
    }

    pub(crate) fn send(
        &self,
        mut msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        loop {
            match self.send_once(msg, deadline) {
                Ok(done) => return done,
                // The receiver that claimed us abandoned the exchange: go again.
                Err(back) => msg = back,
            }
        }
    }

    /// One attempt of `send`. `Err` hands the value back when a receiving select that
    /// took part in the exchange abandoned it.
    fn send_once(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<Result<(), SendTimeoutError<T>>, T> {
        let mut inner = self.inner.lock();
        if let Some(e) = inner.receivers.try_select() {
            drop(inner);
            // SAFETY: claimed just above.
            return match unsafe { self.write(ZeroToken::claimed(e), msg) } {
                Ok(()) => Ok(Ok(())),
                Err(SendFail::Disconnected(msg)) => Ok(Err(SendTimeoutError::Disconnected(msg))),
                Err(SendFail::Retry(msg)) => Err(msg),
            };
        }
        if inner.disconnected {
            return Ok(Err(SendTimeoutError::Disconnected(msg)));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Err(SendTimeoutError::Timeout(msg)));
        }
        Context::with(|cx| {
            let oper = Operation(0);
            let mut packet = Packet::on_stack(Some(msg));
            inner
                .senders
                .register_with_packet(oper, &mut packet as *mut Packet<T> as *mut (), cx);
            drop(inner);
            match cx.wait_until(deadline) {
                Selected::Waiting => unreachable!("goro-chan: woke while waiting"),
                sel @ (Selected::Aborted | Selected::Disconnected) => {
                    // Not claimed: nobody touched the packet; take the value back.
                    self.inner.lock().senders.unregister(oper, cx);
                    let msg = packet.msg.get_mut().take().expect("goro-chan: value lost");
                    if sel == Selected::Aborted {
                        Ok(Err(SendTimeoutError::Timeout(msg)))
                    } else {
                        Ok(Err(SendTimeoutError::Disconnected(msg)))
                    }
                }
                Selected::Operation(_) => {
                    packet.wait_ready();
                    // A receiving select that claimed us and then abandoned the exchange
                    // left the value in the packet.
                    match packet.msg.get_mut().take() {
                        None => Ok(Ok(())),
                        Some(msg) => Err(msg),
                    }
                }
            }
        })
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.start_recv() {
            // SAFETY: reserved just above.
            Some(token) => unsafe { self.read(token) }.map_err(|e| match e {
                RecvFail::Disconnected => TryRecvError::Disconnected,
                // The sender we claimed gave up: there was nothing to receive after all.
                RecvFail::Retry => TryRecvError::Empty,
            }),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            // `None`: a sending select in the exchange abandoned it; go again.
            if let Some(done) = self.recv_once(deadline) {
                return done;
            }
        }
    }

    /// One attempt of `recv`; `None` when a sending select abandoned the exchange.
    fn recv_once(&self, deadline: Option<Instant>) -> Option<Result<T, RecvTimeoutError>> {
        let mut inner = self.inner.lock();
        if let Some(token) = Self::claim_sender(&mut inner) {
            drop(inner);
            // SAFETY: claimed just above.
            return match unsafe { self.read(token) } {
                Ok(msg) => Some(Ok(msg)),
                Err(RecvFail::Disconnected) => Some(Err(RecvTimeoutError::Disconnected)),
                Err(RecvFail::Retry) => None,
            };
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Err(RecvTimeoutError::Timeout));
        }
        Context::with(|cx| {
            let oper = Operation(0);
            let mut packet = Packet::<T>::on_stack(None);
            inner.receivers.register_with_packet(
                oper,
                &mut packet as *mut Packet<T> as *mut (),
                cx,
            );
            drop(inner);
            match cx.wait_until(deadline) {
                Selected::Waiting => unreachable!("goro-chan: woke while waiting"),
                Selected::Aborted => {
                    self.inner.lock().receivers.unregister(oper, cx);
                    Some(Err(RecvTimeoutError::Timeout))
                }
                Selected::Disconnected => {
                    self.inner.lock().receivers.unregister(oper, cx);
                    Some(Err(RecvTimeoutError::Disconnected))
                }
                Selected::Operation(_) => {
                    packet.wait_ready();
                    // No value: the sending select that claimed us abandoned its send.
                    packet.msg.get_mut().take().map(Ok)
                }
            }
        })
    }

    /// Marks the channel disconnected and wakes every waiter. True if this call did it.
    pub(crate) fn disconnect(&self) -> bool {
        let (s, r) = {
            let mut inner = self.inner.lock();
            if inner.disconnected {
                return false;
            }
            inner.disconnected = true;
            let (s, r) = (inner.senders.disconnect(), inner.receivers.disconnect());
            // Under the lock: once it is released, a waiter that timed out may unregister
            // (finding nothing) and return, ending the stack frame its packet lives in, so
            // packets must be classified and freed before that.
            // SAFETY: all entries of this channel carry `Packet<T>`s, and we hold the lock.
            unsafe {
                free_drained::<T>(&s);
                free_drained::<T>(&r);
            }
            (s, r)
        };
        for e in s.iter().chain(r.iter()) {
            e.cx.unpark();
        }
        true
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.inner.lock().disconnected
    }

    pub(crate) fn sender(&self) -> Sender<'_, T> {
        Sender(self)
    }

    pub(crate) fn receiver(&self) -> Receiver<'_, T> {
        Receiver(self)
    }

    /// # Safety
    /// `token` must come from this channel's receiving `try_select`/`accept`.
    pub(crate) unsafe fn read_token(&self, token: &mut Token) -> Result<T, ()> {
        // SAFETY: forwarded contract.
        match unsafe { self.read(std::mem::take(&mut token.zero)) } {
            Ok(msg) => Ok(msg),
            Err(RecvFail::Disconnected) => Err(()),
            // The sender abandoned the exchange the select chose. The select is committed
            // to receiving on this channel: receive as a blocking `recv` would.
            Err(RecvFail::Retry) => self.recv(None).map_err(|_| ()),
        }
    }

    /// # Safety
    /// `token` must come from this channel's sending `try_select`/`accept`.
    pub(crate) unsafe fn write_token(&self, token: &mut Token, msg: T) -> Result<(), T> {
        // SAFETY: forwarded contract.
        match unsafe { self.write(std::mem::take(&mut token.zero), msg) } {
            Ok(()) => Ok(()),
            Err(SendFail::Disconnected(msg)) => Err(msg),
            // The receiver abandoned the exchange the select chose. The select is
            // committed to sending on this channel: send as a blocking `send` would.
            Err(SendFail::Retry(msg)) => self.send(msg, None).map_err(|e| e.into_inner()),
        }
    }
}

/// Whom to wake after `ready`.
enum Wake {
    Context(Context),
    Unparker(Option<Unparker>),
}

impl Wake {
    fn wake(self) {
        match self {
            Wake::Context(cx) => cx.unpark(),
            Wake::Unparker(Some(u)) => u.unpark(),
            Wake::Unparker(None) => {}
        }
    }
}

/// The receiving side, as a select operation.
pub(crate) struct Receiver<'a, T>(&'a Channel<T>);
/// The sending side, as a select operation.
pub(crate) struct Sender<'a, T>(&'a Channel<T>);

impl<T> Channel<T> {
    /// A select arm waits: registers a fresh heap packet in one side's queue (picked by
    /// `queues`, which returns that side's queue and the opposite one). True if it could
    /// complete already (a peer waits on the other side, or the channel is disconnected).
    fn register_arm(
        &self,
        oper: Operation,
        cx: &Context,
        queues: fn(&mut Inner) -> (&mut Waker, &Waker),
    ) -> bool {
        let packet = Packet::<T>::empty_on_heap();
        let mut inner = self.inner.lock();
        let (mine, peers) = queues(&mut inner);
        mine.register_with_packet(oper, packet as *mut (), cx);
        peers.can_select(cx) || inner.disconnected
    }

    /// A select arm stops waiting: removes its entry from the queue `queues` picks and frees
    /// its packet, unless a peer claimed (and so removed) it.
    fn unregister_arm(
        &self,
        oper: Operation,
        cx: &Context,
        queues: fn(&mut Inner) -> (&mut Waker, &Waker),
    ) {
        let e = queues(&mut self.inner.lock()).0.unregister(oper, cx);
        if let Some(e) = e {
            // SAFETY: our own unclaimed heap packet from `register_arm`; nobody else has it.
            drop(unsafe { Box::from_raw(e.packet as *mut Packet<T>) });
        }
    }

    /// A select arm was claimed by a peer: its packet is the one the claimer published.
    fn accept_arm(&self, token: &mut Token, cx: &Context) -> bool {
        // The claimer published the packet under the lock; taking it orders us after.
        drop(self.inner.lock());
        token.zero.packet = cx.packet();
        token.zero.peer = None;
        true
    }
}

/// A receiving arm's queue, and the senders it pairs with.
fn recv_queues(inner: &mut Inner) -> (&mut Waker, &Waker) {
    (&mut inner.receivers, &inner.senders)
}

/// A sending arm's queue, and the receivers it pairs with.
fn send_queues(inner: &mut Inner) -> (&mut Waker, &Waker) {
    (&mut inner.senders, &inner.receivers)
}

impl<T> SelectHandle for Receiver<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_recv().map(|t| token.zero = t).is_some()
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.0.register_arm(oper, cx, recv_queues)
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        self.0.unregister_arm(oper, cx, recv_queues);
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        self.0.accept_arm(token, cx)
    }
    unsafe fn abandon(&self, token: &mut Token) {
        // SAFETY: forwarded contract (a receiving reservation on this channel, unused).
        unsafe { self.0.abandon_recv(token) }
    }
}

impl<T> SelectHandle for Sender<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_send().map(|t| token.zero = t).is_some()
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.0.register_arm(oper, cx, send_queues)
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        self.0.unregister_arm(oper, cx, send_queues);
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        self.0.accept_arm(token, cx)
    }
    unsafe fn abandon(&self, token: &mut Token) {
        // SAFETY: forwarded contract (a sending reservation on this channel, unused).
        unsafe { self.0.abandon_send(token) }
    }
}
