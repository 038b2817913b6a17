//! Wait queues: the waiters registered on one side of a channel.
//!
//! A [`Waker`] is a FIFO of entries (operation index, optional packet, context). A peer
//! claims the oldest entry whose context is still waiting, with the context's CAS; the
//! claim removes the entry. [`SyncWaker`] wraps a `Waker` in a spin lock plus an
//! `is_empty` flag so that the common case, "nobody is waiting", costs one load and no
//! lock. Both return the claimed context instead of waking it, so callers wake *after*
//! releasing their locks.
//!
//! *Observers* are a second, separate list: contexts of [`Select::ready`](crate::Select::ready)
//! calls, which want to hear that an operation may have become possible without reserving
//! it. A state change claims and wakes *every* observer (they complete nothing, so waking
//! all of them takes nothing from anyone), and never counts as the one claim that a real
//! waiter needed: a `ready` call cannot swallow a wakeup meant for a blocked `recv`.

use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::context::{Context, Operation, Selected};
use crate::utils::SpinLock;

/// One registered waiter.
pub(crate) struct Entry {
    /// The waiter's operation index.
    pub(crate) oper: Operation,
    /// Zero flavor: the waiter's packet (`flavors::zero::Packet<T>`); null otherwise.
    pub(crate) packet: *mut (),
    /// The waiter.
    pub(crate) cx: Context,
}

// SAFETY: `packet` is an address the entry's owner keeps valid while the entry is
// registered; it is only dereferenced by the zero flavor under the rules written there
// (only the claimer touches it, only after a successful claim). Moving the pointer value
// between threads is harmless in itself.
unsafe impl Send for Entry {}

/// A FIFO of waiters on one side of a channel. Not synchronised: its owner holds a lock.
///
/// The oldest entry is kept apart from the rest: most queues hold zero or one waiter (a
/// channel's peer parked on it), and a plain slot makes registering and claiming that one
/// two moves instead of ring-buffer bookkeeping. Invariant: `first` is `None` only when
/// `rest` is empty.
pub(crate) struct Waker {
    first: Option<Entry>,
    /// The younger entries, oldest first.
    rest: VecDeque<Entry>,
    /// `Select::ready` watchers (see the module doc). Empty, and unallocated, unless used.
    observers: Vec<Entry>,
}

impl Waker {
    pub(crate) fn new() -> Waker {
        Waker {
            first: None,
            rest: VecDeque::new(),
            observers: Vec::new(),
        }
    }

    /// Adds `cx` as an observer for operation `oper` (a `Select::ready` call).
    pub(crate) fn watch(&mut self, oper: Operation, cx: &Context) {
        self.observers.push(Entry {
            oper,
            packet: ptr::null_mut(),
            cx: cx.clone(),
        });
    }

    /// Removes `cx`'s observer entry for `oper`, if a notification did not take it already.
    pub(crate) fn unwatch(&mut self, oper: Operation, cx: &Context) {
        let id = cx.id();
        if let Some(i) = self
            .observers
            .iter()
            .position(|e| e.oper == oper && e.cx.id() == id)
        {
            self.observers.swap_remove(i);
        }
    }

    /// Claims every observer for its operation and takes them all out, for
    /// [`wake_observers`] after the caller's lock is released. The claim happens here,
    /// under the lock, never after it (rule 1 in `context.rs`): an observer whose wait
    /// already ended may reuse its context at once.
    pub(crate) fn take_observers(&mut self) -> Vec<Entry> {
        if self.observers.is_empty() {
            return Vec::new();
        }
        let mut observers = std::mem::take(&mut self.observers);
        // Keep only those we claimed: a context claimed elsewhere needs no wake from us.
        observers.retain(|e| e.cx.try_select(Selected::Operation(e.oper)).is_ok());
        observers
    }

    /// Whether some registered (non-observer) waiter is still waiting.
    pub(crate) fn has_waiting(&self) -> bool {
        self.iter().any(|e| e.cx.selected() == Selected::Waiting)
    }

    /// Registers `cx` waiting for operation `oper`.
    pub(crate) fn register(&mut self, oper: Operation, cx: &Context) {
        self.register_with_packet(oper, ptr::null_mut(), cx);
    }

    /// Registers `cx` waiting for operation `oper` with a packet to exchange a value in.
    pub(crate) fn register_with_packet(&mut self, oper: Operation, packet: *mut (), cx: &Context) {
        let e = Entry {
            oper,
            packet,
            cx: cx.clone(),
        };
        if self.first.is_none() {
            self.first = Some(e);
        } else {
            self.rest.push_back(e);
        }
    }

    /// The entries, oldest first.
    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.first.iter().chain(self.rest.iter())
    }

    /// Removes and returns the `i`-th oldest entry.
    #[inline]
    fn remove(&mut self, i: usize) -> Option<Entry> {
        if i == 0 {
            let e = self.first.take();
            if !self.rest.is_empty() {
                self.first = self.rest.pop_front();
            }
            e
        } else {
            self.rest.remove(i - 1)
        }
    }

    /// Removes `cx`'s entry for `oper`, if no peer claimed (and removed) it already.
    pub(crate) fn unregister(&mut self, oper: Operation, cx: &Context) -> Option<Entry> {
        let id = cx.id();
        let i = self
            .iter()
            .position(|e| e.oper == oper && e.cx.id() == id)?;
        self.remove(i)
    }

    /// Claims the oldest waiter that is still waiting, removes it and returns it.
    ///
    /// `prepare` runs on each candidate just before its CAS, while the caller holds the
    /// queue's lock (the zero flavor uses it to leave its unparker in a select's packet).
    /// The claimed context's packet pointer is published with `store_packet`.
    pub(crate) fn try_select_with(&mut self, mut prepare: impl FnMut(&Entry)) -> Option<Entry> {
        let mut claim = |e: &Entry| {
            prepare(e);
            e.cx.try_select(Selected::Operation(e.oper)).is_ok()
        };
        // The oldest entry first, without the general walk: usually it is the only one.
        let e = if claim(self.first.as_ref()?) {
            self.remove(0)?
        } else {
            let i = self.rest.iter().position(claim)?;
            self.rest.remove(i)?
        };
        e.cx.store_packet(e.packet);
        Some(e)
    }

    /// [`try_select_with`](Self::try_select_with) without a hook.
    pub(crate) fn try_select(&mut self) -> Option<Entry> {
        self.try_select_with(|_| {})
    }

    /// Whether some waiter other than `me` could be claimed now.
    pub(crate) fn can_select(&self, me: &Context) -> bool {
        let id = me.id();
        self.iter()
            .any(|e| e.cx.id() != id && e.cx.selected() == Selected::Waiting)
    }

    /// Claims every waiter and observer with `Disconnected` and removes all entries.
    /// Returns the entries; the caller wakes their contexts after unlocking (a context
    /// whose CAS failed was claimed elsewhere and needs no wake from us, but a spurious one
    /// is harmless).
    pub(crate) fn disconnect(&mut self) -> Vec<Entry> {
        for e in self.iter().chain(self.observers.iter()) {
            let _ = e.cx.try_select(Selected::Disconnected);
        }
        // Claimed just above (not by `take_observers`, which claims for an operation).
        let observers = std::mem::take(&mut self.observers);
        self.first
            .take()
            .into_iter()
            .chain(self.rest.drain(..))
            .chain(observers)
            .collect()
    }

    /// True if there are neither waiters nor observers.
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none() && self.observers.is_empty()
    }
}

/// Wakes the observers that [`Waker::take_observers`] claimed. Call without holding any
/// lock.
pub(crate) fn wake_observers(observers: Vec<Entry>) {
    for e in observers {
        e.cx.unpark();
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        // Every waiter unregisters (or is claimed) before it returns, and a channel is
        // dropped only when no handle to it is left, so no waiter can remain here.
        debug_assert!(self.is_empty(), "goro-chan: waker dropped with waiters");
    }
}

/// A [`Waker`] behind a spin lock, with a lock-free "anyone waiting?" check.
pub(crate) struct SyncWaker {
    inner: SpinLock<Waker>,
    /// True when `inner` has no entries. Written under the lock, read without it.
    is_empty: AtomicBool,
}

impl SyncWaker {
    pub(crate) fn new() -> SyncWaker {
        SyncWaker {
            inner: SpinLock::new(Waker::new()),
            is_empty: AtomicBool::new(true),
        }
    }

    /// Registers `cx` for `oper`.
    ///
    /// The caller must re-check its condition after this returns (and abort its own wait
    /// if the condition holds): the SeqCst store of `is_empty` here and the SeqCst load in
    /// [`notify`](Self::notify) form a Dekker pair with the channel's own SeqCst index
    /// updates, so either the notifier sees this waiter or the waiter sees the new state.
    pub(crate) fn register(&self, oper: Operation, cx: &Context) {
        let mut w = self.inner.lock();
        w.register(oper, cx);
        // SeqCst: see the doc comment; pairs with the SeqCst load in `notify`.
        self.is_empty.store(false, Ordering::SeqCst);
    }

    /// Removes `cx`'s entry for `oper` if it is still there.
    pub(crate) fn unregister(&self, oper: Operation, cx: &Context) -> Option<Entry> {
        let mut w = self.inner.lock();
        let e = w.unregister(oper, cx);
        // SeqCst: same total order as in `register`.
        self.is_empty.store(w.is_empty(), Ordering::SeqCst);
        e
    }

    /// Claims one waiter, if any, and wakes it after unlocking.
    #[inline]
    pub(crate) fn notify(&self) {
        // SeqCst pairs with the SeqCst stores in `register`/`unregister` (Dekker pattern
        // with the caller's SeqCst state change that precedes this call).
        if !self.is_empty.load(Ordering::SeqCst) {
            self.notify_slow();
        }
    }

    #[cold]
    fn notify_slow(&self) {
        let (entry, observers) = {
            let mut w = self.inner.lock();
            if w.is_empty() {
                return;
            }
            let e = w.try_select();
            let o = w.take_observers();
            self.is_empty.store(w.is_empty(), Ordering::SeqCst);
            (e, o)
        };
        if let Some(e) = entry {
            e.cx.unpark();
        }
        wake_observers(observers);
    }

    /// Adds `cx` as an observer of `oper` (`Select::ready`). As with
    /// [`register`](Self::register), the caller re-checks readiness afterwards.
    pub(crate) fn watch(&self, oper: Operation, cx: &Context) {
        let mut w = self.inner.lock();
        w.watch(oper, cx);
        // SeqCst: as in `register`.
        self.is_empty.store(false, Ordering::SeqCst);
    }

    /// Removes `cx`'s observer entry for `oper`, if it is still there.
    pub(crate) fn unwatch(&self, oper: Operation, cx: &Context) {
        let mut w = self.inner.lock();
        w.unwatch(oper, cx);
        // SeqCst: as in `register`.
        self.is_empty.store(w.is_empty(), Ordering::SeqCst);
    }

    /// Claims every waiter with `Disconnected` and wakes them after unlocking.
    pub(crate) fn disconnect(&self) {
        let entries = {
            let mut w = self.inner.lock();
            let e = w.disconnect();
            self.is_empty.store(true, Ordering::SeqCst);
            e
        };
        for e in entries {
            e.cx.unpark();
        }
    }
}
