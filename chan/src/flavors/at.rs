//! One-shot timer channel: [`after`](crate::after) and [`at`](crate::at), Go's
//! `time.After`.
//!
//! A `goro::time::Timer` fires once at the deadline: it records the time, sets `fired`
//! and wakes one waiting receiver. The channel then holds one value (like Go's buffered
//! channel of capacity 1); the first receive takes it and later receives block forever.
//! When the last receiver is dropped before the deadline, the timer is cancelled. The
//! callback holds only a `Weak` reference, so a pending timer keeps nothing alive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use goro::time::Timer;

use crate::context::{Context, Operation};
use crate::err::{RecvTimeoutError, TryRecvError};
use crate::select::{SelectHandle, Token};
use crate::waker::SyncWaker;

/// The value reserved by a select (`None`: nothing reserved).
pub(crate) type AtToken = Option<Instant>;

pub(crate) struct Channel {
    /// When the timer fired. Set once, before `fired`.
    fired_at: OnceLock<Instant>,
    /// The timer has fired (SeqCst: Dekker pair with the receivers' wait queue).
    fired: AtomicBool,
    /// The one value has been received.
    taken: AtomicBool,
    receivers: SyncWaker,
    timer: Mutex<Option<Timer>>,
}

impl Channel {
    pub(crate) fn new(deadline: Instant) -> Arc<Channel> {
        let chan = Arc::new(Channel {
            fired_at: OnceLock::new(),
            fired: AtomicBool::new(false),
            taken: AtomicBool::new(false),
            receivers: SyncWaker::new(),
            timer: Mutex::new(None),
        });
        let weak = Arc::downgrade(&chan);
        let timer = Timer::at(deadline, move || {
            if let Some(chan) = weak.upgrade() {
                chan.fire();
            }
        });
        *chan.timer.lock().unwrap_or_else(|e| e.into_inner()) = Some(timer);
        chan
    }

    /// Timer callback: short and non-blocking, as timer callbacks must be.
    fn fire(&self) {
        let _ = self.fired_at.set(Instant::now());
        // SeqCst pairs with the SeqCst load in `is_ready` (after registering) and with
        // the SeqCst `is_empty` load inside `notify`.
        self.fired.store(true, Ordering::SeqCst);
        self.receivers.notify();
    }

    fn is_ready(&self) -> bool {
        // SeqCst: see `fire`.
        self.fired.load(Ordering::SeqCst) && !self.taken.load(Ordering::Relaxed)
    }

    /// Takes the one value if it is there.
    fn take(&self) -> Option<Instant> {
        if !self.is_ready() {
            return None;
        }
        // AcqRel: one winner among concurrent receivers.
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        self.fired_at.get().copied()
    }

    pub(crate) fn try_recv(&self) -> Result<Instant, TryRecvError> {
        self.take().ok_or(TryRecvError::Empty)
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<Instant, RecvTimeoutError> {
        super::recv_timer_value(
            &self.receivers,
            deadline,
            || self.take(),
            || self.is_ready(),
        )
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.is_ready())
    }

    /// Receives a value reserved by a select.
    pub(crate) fn read_token(&self, token: &mut Token) -> Result<Instant, ()> {
        token.at.take().ok_or(())
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        // Cancel only a timer that has not fired: if it fired, this drop may be running
        // inside its own callback (the callback held the last strong reference).
        if !*self.fired.get_mut() {
            if let Some(t) = self
                .timer
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                t.cancel();
            }
        }
    }
}

impl SelectHandle for Channel {
    fn try_select(&self, token: &mut Token) -> bool {
        match self.take() {
            Some(t) => {
                token.at = Some(t);
                true
            }
            None => false,
        }
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.receivers.register(oper, cx);
        self.is_ready()
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        self.receivers.unregister(oper, cx);
    }
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.try_select(token)
    }
    unsafe fn abandon(&self, token: &mut Token) {
        // The reserved instant was taken from the channel: a received value, dropped.
        token.at = None;
    }
}
