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

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Where a value changes hands.
struct Packet<T> {
    /// On a blocked send's/recv's stack (true) or heap-allocated by a select (false).
    /// Never changes after creation.
    on_stack: bool,
    /// Set (Release) by the side that finished the exchange; the owner waits for it.
    ready: AtomicBool,
    msg: UnsafeCell<Option<T>>,
    /// Case (c): the receiver to wake once the select has written the value.
    waiter: UnsafeCell<Option<Unparker>>,
}

impl<T> Packet<T> {
    fn on_stack(msg: Option<T>) -> Packet<T> {
        Packet {
            on_stack: true,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(msg),
            waiter: UnsafeCell::new(None),
        }
    }

    fn empty_on_heap() -> *mut Packet<T> {
        Box::into_raw(Box::new(Packet {
            on_stack: false,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
        }))
    }

    /// Parks until the peer set `ready` (it wakes us after setting it).
    fn wait_ready(&self) {
        // Usually already set: the peer sets it before it wakes us.
        // Acquire pairs with the Release store of whoever completed the exchange.
        if self.ready.load(Ordering::Acquire) {
            return;
        }
        // The peer is between its claim and `ready`, a few instructions away, unless it
        // is a select that still has to wake up (case c). Threads spin a little first
        // (see `Context::wait_until`); coroutines park at once.
        if !goro::in_coroutine() {
            for _ in 0..crate::context::THREAD_SPINS {
                // Acquire pairs with the Release store of whoever completed the exchange.
                if self.ready.load(Ordering::Acquire) {
                    return;
                }
                std::hint::spin_loop();
            }
        }
        while !self.ready.load(Ordering::Acquire) {
            park::park();
        }
    }
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
    unsafe fn write(&self, token: ZeroToken, msg: T) -> Result<(), T> {
        if token.packet.is_null() {
            return Err(msg);
        }
        // SAFETY: the token holds a packet we claimed (or our own claimed select packet);
        // the claim makes us its only writer, and its owner keeps it alive until `ready`.
        let packet = unsafe { &*(token.packet as *const Packet<T>) };
        let wake = match token.peer {
            Some(cx) => Wake::Context(cx),
            // Case (c): the claiming receiver left its unparker here before its claim
            // (visible: we saw the claim with Acquire and took the channel lock after it).
            // SAFETY: only we access `waiter` after the claim; taken before `ready`.
            None => Wake::Unparker(unsafe { (*packet.waiter.get()).take() }),
        };
        // SAFETY: exclusive access as above; the packet is empty.
        unsafe { *packet.msg.get() = Some(msg) };
        // Release pairs with the Acquire in `wait_ready`. After this store the packet may
        // be freed by its owner: do not touch it again.
        packet.ready.store(true, Ordering::Release);
        wake.wake();
        Ok(())
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
    unsafe fn read(&self, token: ZeroToken) -> Result<T, ()> {
        if token.packet.is_null() {
            return Err(());
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
                packet.ready.store(true, Ordering::Release);
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
                Ok(packet
                    .msg
                    .into_inner()
                    .expect("goro-chan: select wrote no value"))
            }
            None => {
                // Case (d): our own select packet, written by the sender that claimed us.
                packet.wait_ready();
                // SAFETY: as in case (c); the sender does not touch it after `ready`.
                let packet = unsafe { Box::from_raw(raw) };
                Ok(packet
                    .msg
                    .into_inner()
                    .expect("goro-chan: sender wrote no value"))
            }
        }
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        match self.start_send() {
            // SAFETY: reserved just above.
            Some(token) => unsafe { self.write(token, msg) }.map_err(TrySendError::Disconnected),
            None => Err(TrySendError::Full(msg)),
        }
    }

    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut inner = self.inner.lock();
        if let Some(e) = inner.receivers.try_select() {
            drop(inner);
            // SAFETY: claimed just above.
            return unsafe { self.write(ZeroToken::claimed(e), msg) }
                .map_err(SendTimeoutError::Disconnected);
        }
        if inner.disconnected {
            return Err(SendTimeoutError::Disconnected(msg));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(SendTimeoutError::Timeout(msg));
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
                        Err(SendTimeoutError::Timeout(msg))
                    } else {
                        Err(SendTimeoutError::Disconnected(msg))
                    }
                }
                Selected::Operation(_) => {
                    packet.wait_ready();
                    Ok(())
                }
            }
        })
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.start_recv() {
            // SAFETY: reserved just above.
            Some(token) => unsafe { self.read(token) }.map_err(|_| TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut inner = self.inner.lock();
        if let Some(token) = Self::claim_sender(&mut inner) {
            drop(inner);
            // SAFETY: claimed just above.
            return unsafe { self.read(token) }.map_err(|_| RecvTimeoutError::Disconnected);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(RecvTimeoutError::Timeout);
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
                    Err(RecvTimeoutError::Timeout)
                }
                Selected::Disconnected => {
                    self.inner.lock().receivers.unregister(oper, cx);
                    Err(RecvTimeoutError::Disconnected)
                }
                Selected::Operation(_) => {
                    packet.wait_ready();
                    Ok(packet
                        .msg
                        .get_mut()
                        .take()
                        .expect("goro-chan: sender wrote no value"))
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
        unsafe { self.read(std::mem::take(&mut token.zero)) }
    }

    /// # Safety
    /// `token` must come from this channel's sending `try_select`/`accept`.
    pub(crate) unsafe fn write_token(&self, token: &mut Token, msg: T) -> Result<(), T> {
        // SAFETY: forwarded contract.
        unsafe { self.write(std::mem::take(&mut token.zero), msg) }
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
}
