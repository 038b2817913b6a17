//! Unbounded channel: a `VecDeque` behind a spin lock, with the receivers' wait queue
//! under the same lock.
//!
//! Why a lock and not crossbeam's lock-free block list: one lock covers the buffer and the
//! waiters, so "the buffer is empty, register me" is atomic and needs no Dekker argument,
//! and the buffer amortises allocation (no allocation per value once it has grown). The
//! critical sections are a push or a pop. The bounded [`array`](super::array) flavor, the
//! one the hot pipelines use, is lock-free.
//!
//! Two-phase receive for `select`: `start_recv` *claims* the oldest unclaimed value by
//! sequence number (it stays in the queue as `Some`), `read` takes it out (leaving `None`)
//! and trims `None`s from the front. Plain `recv` does both under one lock.
//!
//! Abandoned reservations (a `SelectedOperation` dropped uncompleted): a send reserves
//! nothing here (the buffer always has room), so there is nothing to release. An abandoned
//! receive takes its claimed value out and drops it, outside the lock (the value's `Drop`
//! may use this very channel). Left in place, the claimed `Some` would never be taken: not
//! unsound (the channel's drop drops it once) but the front could never be trimmed again,
//! so the queue would grow without bound. A forgotten receive does exactly that; it is a
//! leak, not undefined behaviour.

use std::collections::VecDeque;
use std::time::Instant;

use crate::context::{Context, Operation, Selected};
use crate::err::{RecvTimeoutError, TryRecvError};
use crate::select::{SelectHandle, Token};
use crate::utils::SpinLock;
use crate::waker::Waker;

/// A receive claimed by `start_recv` (`seq`), or disconnected.
#[derive(Default)]
pub(crate) struct ListToken {
    seq: usize,
    disconnected: bool,
}

struct Inner<T> {
    /// Values in send order; `None` marks a value already taken by a claimed receive.
    queue: VecDeque<Option<T>>,
    /// Sequence number of `queue[0]`.
    head_seq: usize,
    /// Sequence number of the oldest value nobody has claimed.
    next_claim: usize,
    disconnected: bool,
    receivers: Waker,
}

impl<T> Inner<T> {
    fn unclaimed(&self) -> usize {
        self.queue.len() - (self.next_claim - self.head_seq)
    }

    /// Takes the value with sequence number `seq` (claimed) and trims the front.
    fn take(&mut self, seq: usize) -> T {
        let msg = self.queue[seq - self.head_seq]
            .take()
            .expect("goro-chan: claimed value taken twice");
        while let Some(None) = self.queue.front() {
            self.queue.pop_front();
            self.head_seq += 1;
        }
        msg
    }

    fn pop(&mut self) -> Option<T> {
        if self.unclaimed() == 0 {
            return None;
        }
        let seq = self.next_claim;
        self.next_claim += 1;
        Some(self.take(seq))
    }
}

/// An unbounded channel.
pub(crate) struct Channel<T> {
    inner: SpinLock<Inner<T>>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            inner: SpinLock::new(Inner {
                queue: VecDeque::new(),
                head_seq: 0,
                next_claim: 0,
                disconnected: false,
                receivers: Waker::new(),
            }),
        }
    }

    /// Sends without blocking (the buffer is unbounded). Errors only when disconnected.
    pub(crate) fn send(&self, msg: T) -> Result<(), T> {
        let woken = {
            let mut inner = self.inner.lock();
            if inner.disconnected {
                return Err(msg);
            }
            inner.queue.push_back(Some(msg));
            if inner.receivers.is_empty() {
                None
            } else {
                inner.receivers.try_select()
            }
        };
        if let Some(e) = woken {
            e.cx.unpark();
        }
        Ok(())
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut inner = self.inner.lock();
        match inner.pop() {
            Some(msg) => Ok(msg),
            None if inner.disconnected => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            let mut inner = self.inner.lock();
            if let Some(msg) = inner.pop() {
                return Ok(msg);
            }
            if inner.disconnected {
                return Err(RecvTimeoutError::Disconnected);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(RecvTimeoutError::Timeout);
            }
            Context::with(|cx| {
                let oper = Operation(0);
                inner.receivers.register(oper, cx);
                drop(inner);
                match cx.wait_until(deadline) {
                    Selected::Waiting => unreachable!("goro-chan: woke while waiting"),
                    Selected::Aborted | Selected::Disconnected => {
                        self.inner.lock().receivers.unregister(oper, cx);
                    }
                    Selected::Operation(_) => {}
                }
            });
        }
    }

    fn start_recv(&self, token: &mut Token) -> bool {
        let mut inner = self.inner.lock();
        if inner.unclaimed() > 0 {
            token.list.seq = inner.next_claim;
            token.list.disconnected = false;
            inner.next_claim += 1;
            true
        } else if inner.disconnected {
            token.list.disconnected = true;
            true
        } else {
            false
        }
    }

    /// # Safety
    /// `token` must come from this channel's receiving `try_select`/`accept`, once.
    /// (Misuse would panic rather than be unsound; `unsafe` keeps the flavors uniform.)
    pub(crate) unsafe fn read_token(&self, token: &mut Token) -> Result<T, ()> {
        if token.list.disconnected {
            return Err(());
        }
        Ok(self.inner.lock().take(token.list.seq))
    }

    /// Releases a receive claimed by `start_recv`: takes the value and drops it.
    fn abandon_recv(&self, token: &mut Token) {
        if token.list.disconnected {
            return;
        }
        let msg = self.inner.lock().take(token.list.seq);
        // Dropped after the guard: `T::drop` may touch this channel (e.g. drop a Sender).
        drop(msg);
    }

    /// # Safety
    /// As for [`read_token`](Self::read_token), for the sending side.
    pub(crate) unsafe fn write_token(&self, _token: &mut Token, msg: T) -> Result<(), T> {
        self.send(msg)
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.lock().unclaimed()
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.inner.lock().disconnected
    }

    /// Marks the channel disconnected and wakes every waiting receiver. True if this call
    /// did it.
    pub(crate) fn disconnect(&self) -> bool {
        let entries = {
            let mut inner = self.inner.lock();
            if inner.disconnected {
                return false;
            }
            inner.disconnected = true;
            inner.receivers.disconnect()
        };
        for e in entries {
            e.cx.unpark();
        }
        true
    }

    pub(crate) fn sender(&self) -> Sender<'_, T> {
        Sender(std::marker::PhantomData)
    }

    pub(crate) fn receiver(&self) -> Receiver<'_, T> {
        Receiver(self)
    }
}

/// The receiving side, as a select operation.
pub(crate) struct Receiver<'a, T>(&'a Channel<T>);
/// The sending side, as a select operation (always ready: the buffer is unbounded).
pub(crate) struct Sender<'a, T>(std::marker::PhantomData<&'a Channel<T>>);

impl<T> SelectHandle for Receiver<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_recv(token)
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        let mut inner = self.0.inner.lock();
        inner.receivers.register(oper, cx);
        inner.unclaimed() > 0 || inner.disconnected
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        self.0.inner.lock().receivers.unregister(oper, cx);
    }
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.0.start_recv(token)
    }
    unsafe fn abandon(&self, token: &mut Token) {
        self.0.abandon_recv(token);
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
        // A send reserves nothing: the buffer is unbounded.
    }
}
