//! The waiting side of a blocking operation or select: one "selected" slot and an unparker.
//!
//! A blocking `send`, `recv` or `select` owns one `Context` for as long as it waits. It
//! registers that context (with an operation index) in the wait queue of every channel it
//! waits on, then parks until the slot is no longer [`Selected::Waiting`]. Whoever changes
//! the slot first wins: a peer that made operation `i` possible, a disconnection, or the
//! waiter itself on timeout (or because it found a channel ready while registering).
//!
//! | slot value        | meaning                                         | set by                         |
//! |-------------------|-------------------------------------------------|--------------------------------|
//! | `0` Waiting       | registered, nobody has claimed the waiter yet   | the owner, before registering  |
//! | `1` Aborted       | the owner gave up (timeout, or found a channel ready while registering) | the owner (CAS) |
//! | `2` Disconnected  | a channel the waiter is registered on closed    | the closing side (CAS)         |
//! | `i + 3` Operation(i) | operation `i` was completed / made ready for the waiter | a peer (CAS) |
//!
//! Only the CAS from Waiting may change the slot, so exactly one party claims a waiter.
//! The claimer then calls [`Context::unpark`] *after* it has released every lock and
//! finished writing any value it hands over. `park` may return spuriously, so the owner
//! always re-checks the slot in a loop.
//!
//! # Reuse: one context per coroutine (or thread), shared or not
//!
//! A wait queue holds a *clone* of the context (an `Arc`), and a peer that claimed the
//! waiter drops its clone only after it has woken it, so a waiter that returns and waits
//! again at once (a receive loop on a busy channel) often finds its context still shared.
//! Allocating a fresh one then would cost an allocation per wait exactly when waits are
//! frequent. So each coroutine (and each plain thread) keeps one context for its whole
//! life and reuses it even while stale clones are still around. That is sound because of
//! what a clone may still do once the wait that registered it is over:
//!
//! | who holds a clone after the wait returned        | what it may still do with it |
//! |--------------------------------------------------|------------------------------|
//! | a wait queue                                     | nothing: the waiter removed its entries, or the claimer did, before the waiter returned (the crate invariant) |
//! | a claimer that has released the queue's lock     | `unpark` only: it claimed (CAS) and published the packet *under* that lock |
//! | a disconnection's drained entries, a zero-flavor token's `peer` | `unpark` only |
//!
//! and a stale `unpark` only makes the owner's next `park` return early, which every park
//! loop tolerates (it re-checks its slot). The rules that make the first two rows true:
//!
//! 1. A peer claims a waiter (the CAS on its slot) only under the lock of a queue that
//!    holds the waiter's entry, and removes the entry in the same critical section (or,
//!    for a disconnection or an observer, drains all entries in it). A claim never happens
//!    after the lock is released, so it cannot land on the *next* wait of a reused context.
//! 2. A packet is published only by the claimer, under that lock, and only a non-null
//!    one (zero flavor). The zero flavor's waiters synchronise with that lock before they
//!    return: a select unregisters from every channel (taking each lock), and a blocked
//!    `send`/`recv` waits for its packet's `ready`, which the claimer sets after unlocking.
//!
//! A coroutine-local context (goro's `coroutine_local!`) rather than a per-thread cache:
//! several coroutines of one worker wait at once (every stage of a pipeline), and a
//! per-thread cache serves only one of them; the others would allocate per wait. On a
//! plain thread the context is an ordinary thread-local. A nested wait (a blocking call
//! inside a value's `Drop` inside a wait) finds the slot empty and allocates.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use goro::park::{self, Unparker};

/// The index of an operation within one blocking call (always 0 for send/recv, the
/// position in the handle list for select).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Operation(pub(crate) usize);

/// Value of a context's selected slot (see the module table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Selected {
    Waiting,
    Aborted,
    Disconnected,
    Operation(Operation),
}

impl Selected {
    fn encode(self) -> usize {
        match self {
            Selected::Waiting => 0,
            Selected::Aborted => 1,
            Selected::Disconnected => 2,
            Selected::Operation(Operation(i)) => i + 3,
        }
    }

    fn decode(v: usize) -> Selected {
        match v {
            0 => Selected::Waiting,
            1 => Selected::Aborted,
            2 => Selected::Disconnected,
            i => Selected::Operation(Operation(i - 3)),
        }
    }
}

struct Inner {
    /// The selected slot (module table).
    select: AtomicUsize,
    /// For zero-capacity channels: the packet of the operation a peer claimed, published by
    /// the claimer under the channel's lock (see `flavors::zero`).
    packet: AtomicPtr<()>,
    /// Wakes the owning coroutine or thread.
    unparker: Unparker,
}

/// Shared handle to a waiter. Cloned into the wait queues it registers in.
#[derive(Clone)]
pub(crate) struct Context {
    inner: Arc<Inner>,
}

thread_local! {
    /// The context of this plain thread (module docs, "Reuse"); `None` while in use.
    static THREAD_CX: Cell<Option<Context>> = const { Cell::new(None) };
}

goro::coroutine_local! {
    /// The context of the running coroutine (module docs, "Reuse"); `None` while in use.
    /// A `Cell` is enough: it is never borrowed across a park.
    static COROUTINE_CX: Cell<Option<Context>> = Cell::new(None);
}

impl Context {
    #[cold]
    fn new() -> Context {
        Context {
            inner: Arc::new(Inner {
                select: AtomicUsize::new(0),
                packet: AtomicPtr::new(ptr::null_mut()),
                unparker: park::unparker(),
            }),
        }
    }

    /// Readies a context of the current coroutine or thread for a new wait: slot Waiting,
    /// no packet. Stale clones may exist; they only `unpark` (module docs, "Reuse").
    fn reset(&self) {
        // Relaxed: the context reaches a peer only through a wait queue, and registering
        // takes the queue's lock, whose release publishes these stores to whoever claims.
        self.inner.select.store(0, Ordering::Relaxed);
        self.inner.packet.store(ptr::null_mut(), Ordering::Relaxed);
    }

    /// Runs `f` with a fresh context (slot Waiting, no packet) owned by the current
    /// coroutine or thread: the coroutine's (or thread's) own, reused for every wait, so a
    /// blocking operation does not allocate after its first wait.
    pub(crate) fn with<R>(f: impl FnOnce(&Context) -> R) -> R {
        let mut f = Some(f);
        let mut run = |cell: &Cell<Option<Context>>| {
            let cx = match cell.take() {
                Some(cx) => {
                    cx.reset();
                    cx
                }
                // First wait of this coroutine or thread, or a nested wait.
                None => Context::new(),
            };
            let f = f.take().expect("goro-chan: context closure runs once");
            let r = f(&cx);
            cell.set(Some(cx));
            r
        };
        // `try_with`: a blocking operation may run in a thread-local's destructor, after
        // ours is gone (crossbeam-channel's `thread_locals` test), or in a coroutine-local's
        // destructor; then it works with a context of its own.
        let r = if goro::in_coroutine() {
            COROUTINE_CX.try_with(&mut run).ok()
        } else {
            THREAD_CX.try_with(&mut run).ok()
        };
        match r {
            Some(r) => r,
            None => {
                let f = f.take().expect("goro-chan: context closure runs once");
                f(&Context::new())
            }
        }
    }

    /// Claims the waiter for `sel` if nobody has yet. On failure returns the current value.
    pub(crate) fn try_select(&self, sel: Selected) -> Result<(), Selected> {
        // AcqRel: Release publishes what the claimer wrote before the claim (e.g. a waker's
        // packet fields); Acquire (also on failure) lets the loser see the winner's writes.
        // Pairs with the Acquire load in `selected`.
        self.inner
            .select
            .compare_exchange(0, sel.encode(), Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(Selected::decode)
    }

    /// The current slot value.
    pub(crate) fn selected(&self) -> Selected {
        // Acquire pairs with the AcqRel CAS in `try_select`.
        Selected::decode(self.inner.select.load(Ordering::Acquire))
    }

    /// Publishes the claimed operation's packet (zero flavor; called under its lock).
    ///
    /// A null packet (every other flavor) is not stored: its store could land after the
    /// owner returned without taking the lock (a blocking array or list receive) and
    /// clobber the packet of the owner's next wait (module docs, "Reuse", rule 2).
    pub(crate) fn store_packet(&self, packet: *mut ()) {
        if !packet.is_null() {
            // Release pairs with the Acquire load in `packet`; the channel lock taken by
            // the owner before reading orders it as well.
            self.inner.packet.store(packet, Ordering::Release);
        }
    }

    /// The packet stored by the claimer, or null.
    pub(crate) fn packet(&self) -> *mut () {
        // Acquire pairs with the Release store in `store_packet`.
        self.inner.packet.load(Ordering::Acquire)
    }

    /// Wakes the owner (or makes its next park return at once).
    pub(crate) fn unpark(&self) {
        self.inner.unparker.unpark();
    }

    /// Identity of this context, to recognise one's own wait-queue entries.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Parks until the slot leaves Waiting, or the deadline passes (then the owner claims
    /// its own slot with Aborted, unless someone else claimed it first).
    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> Selected {
        // Threads spin briefly first: a peer on another core often answers within a few
        // hundred nanoseconds, far less than a futex sleep and wake. Coroutines do not: a
        // peer on the same worker cannot run while we spin, and parking a coroutine is
        // only a stack switch (Go's channels do not spin either).
        if self.inner.unparker.wakes_thread() {
            for _ in 0..THREAD_SPINS {
                let sel = self.selected();
                if sel != Selected::Waiting {
                    return sel;
                }
                std::hint::spin_loop();
            }
        }
        loop {
            let sel = self.selected();
            if sel != Selected::Waiting {
                return sel;
            }
            match deadline {
                Some(d) => {
                    if Instant::now() >= d {
                        return match self.try_select(Selected::Aborted) {
                            Ok(()) => Selected::Aborted,
                            Err(s) => s,
                        };
                    }
                    park::park_deadline(d);
                }
                None => park::park(),
            }
        }
    }
}

/// How many times `wait_until` polls its slot before parking an OS thread.
pub(crate) const THREAD_SPINS: u32 = 64;
