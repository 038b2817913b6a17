//! The cancel tree: nodes, their registries, and the cancel walk (steps 1–4 of the module doc).
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError, Weak};
use std::time::Instant;

use super::{Context, Error};
use crate::park::Unparker;
use crate::time::Timer;

/// The error word of a cancel node (table in the module doc).
pub(super) const NONE: u8 = 0;
const CANCELED: u8 = 1;
const DEADLINE: u8 = 2;

fn code(e: Error) -> u8 {
    match e {
        Error::Canceled => CANCELED,
        Error::DeadlineExceeded => DEADLINE,
    }
}

pub(super) fn decode(c: u8) -> Option<Error> {
    match c {
        CANCELED => Some(Error::Canceled),
        DEADLINE => Some(Error::DeadlineExceeded),
        _ => None,
    }
}

/// One context below background: a value, or a cancel node with its own done state.
pub(super) struct Node {
    pub(super) parent: Context,
    pub(super) kind: Kind,
}

pub(super) enum Kind {
    Value(Box<dyn Any + Send + Sync>),
    Cancel(CancelState),
}

pub(super) struct CancelState {
    /// `NONE`, `CANCELED` or `DEADLINE`; written once, under `reg`, by the first canceler.
    pub(super) err: AtomicU8,
    /// This context's deadline: its own or an earlier one inherited from an ancestor.
    pub(super) deadline: Option<Instant>,
    /// Our key in the registry of our parent's nearest cancel node; 0 if not registered
    /// there (no cancelable ancestor, or it was already done when we were made).
    key: u64,
    pub(super) reg: StdMutex<Registry>,
}

/// What a cancel node tells when it is done. Emptied, for good, by the cancel that sets
/// the error word.
#[derive(Default)]
pub(super) struct Registry {
    /// The last key handed out; keys are never reused, so a stale key removes nothing.
    last_key: u64,
    pub(super) entries: HashMap<u64, Entry>,
    pub(super) timer: Option<Timer>,
    pub(super) held: Vec<(TypeId, Box<dyn Any + Send + Sync>)>,
}

/// One thing a cancel node tells when it is done.
pub(super) enum Entry {
    Child(Weak<Node>),
    Waiter(Unparker),
    Func(Box<dyn FnOnce() + Send>),
}

impl Registry {
    pub(super) fn insert(&mut self, e: Entry) -> u64 {
        self.last_key += 1;
        self.entries.insert(self.last_key, e);
        self.last_key
    }

    pub(super) fn remove(&mut self, key: u64) -> Option<Entry> {
        let e = self.entries.remove(&key);
        // Give the memory back after a burst of short-lived children or waiters.
        if self.entries.is_empty() && self.entries.capacity() > 64 {
            self.entries = HashMap::new();
        }
        e
    }
}

/// Takes a registry lock, ignoring poison: no code panics while holding one (they insert,
/// remove and take collections; user callbacks and drops run after the unlock).
pub(super) fn lock(m: &StdMutex<Registry>) -> StdMutexGuard<'_, Registry> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Node {
    pub(super) fn state(&self) -> &CancelState {
        match &self.kind {
            Kind::Cancel(s) => s,
            Kind::Value(_) => unreachable!("goro: a value node has no cancel state"),
        }
    }
}

impl CancelState {
    pub(super) fn err(&self) -> Option<Error> {
        // Acquire: pairs with the Release store in `cancel`, so a caller that sees the
        // context done also sees what the canceler did before canceling.
        decode(self.err.load(Ordering::Acquire))
    }
}
/// Makes a cancel node under `parent` and registers it with the parent's nearest cancel
/// node (or cancels it at once if that one is done already).
pub(super) fn new_cancel_node(parent: &Context, deadline: Option<Instant>) -> Arc<Node> {
    let make = |key| {
        Arc::new(Node {
            parent: parent.clone(),
            kind: Kind::Cancel(CancelState {
                err: AtomicU8::new(NONE),
                deadline,
                key,
                reg: StdMutex::new(Registry::default()),
            }),
        })
    };
    let Some(anc) = parent.canceler() else {
        return make(0); // background (or values over it): never canceled from above
    };
    let st = anc.state();
    let mut reg = lock(&st.reg);
    // Under the parent's lock the error word is stable: either it is set (no registration,
    // cancel ourselves) or the parent's canceler will find our entry.
    match decode(st.err.load(Ordering::Relaxed)) {
        Some(e) => {
            drop(reg);
            let node = make(0);
            cancel(&node, e);
            node
        }
        None => {
            let key = reg.last_key + 1;
            let node = make(key);
            let k = reg.insert(Entry::Child(Arc::downgrade(&node)));
            debug_assert_eq!(k, key);
            node
        }
    }
}

/// Cancels `node` and every live descendant (steps 1–4 of the module doc). Idempotent.
pub(super) fn cancel(node: &Arc<Node>, err: Error) {
    let mut work = vec![Arc::clone(node)];
    let mut timers = Vec::new();
    let mut wake = Vec::new();
    let mut funcs = Vec::new();
    let mut held = Vec::new();
    // Nodes canceled here; dropped (maybe the last reference) only after every lock is free.
    let mut done = Vec::new();
    while let Some(n) = work.pop() {
        let st = n.state();
        let taken = {
            let mut reg = lock(&st.reg);
            if st.err.load(Ordering::Relaxed) != NONE {
                None // step 1: canceled already
            } else {
                // Release: pairs with the Acquire loads in `CancelState::err`.
                st.err.store(code(err), Ordering::Release);
                Some(std::mem::take(&mut *reg))
            }
        };
        let Some(reg) = taken else { continue };
        timers.extend(reg.timer);
        held.extend(reg.held);
        for (_, e) in reg.entries {
            match e {
                Entry::Child(w) => work.extend(w.upgrade()),
                Entry::Waiter(u) => wake.push(u),
                Entry::Func(f) => funcs.push(f),
            }
        }
        done.push(n);
    }
    if done.is_empty() {
        return;
    }
    // Step 4. Only the first node can still be in a live parent registry: its descendants
    // were taken out of theirs with the registries themselves.
    unregister(node);
    for t in timers {
        t.cancel();
    }
    for u in wake {
        u.unpark();
    }
    for f in funcs {
        drop(crate::spawn(f)); // detached, as Go's AfterFunc runs f in its own goroutine
    }
    drop(held);
    drop(done);
}

/// Takes a cancel node out of its parent's registry (a no-op if it is not there any more).
pub(super) fn unregister(node: &Node) {
    let key = node.state().key;
    if key == 0 {
        return;
    }
    if let Some(anc) = node.parent.canceler() {
        let entry = lock(&anc.state().reg).remove(key);
        drop(entry); // a Weak: nothing runs
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let Kind::Cancel(st) = &self.kind else { return };
        // A safety net: the CancelFn holds the node and cancels it when dropped, so a node
        // normally reaches here done, with nothing to undo. Should one not (a future handle
        // that does not cancel), keep the parent's registry from growing and free the timer.
        if st.err.load(Ordering::Relaxed) == NONE {
            unregister(self);
            let reg = std::mem::take(&mut *lock(&st.reg));
            if let Some(t) = reg.timer {
                t.cancel();
            }
        }
    }
}
