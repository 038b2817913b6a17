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
    /// Two cached contexts per thread, taken out while in use. Several coroutines on one
    /// worker may wait at once: the first takes a cached one, the others allocate.
    /// A `Cell` is coroutine-safe here: it is never borrowed across a park.
    ///
    /// Two, not one: the peer that claimed a waiter drops its clone of the context only
    /// after waking it, so a waiter that returns and blocks again at once (a receive loop
    /// on a busy channel) often finds its last context still shared. It then takes the
    /// other one, which that race left long ago (Go's select2 allocation test, crossbeam's
    /// `golang.rs`, caught one allocation per select when a coroutine was the peer).
    static CACHED: Cell<[Option<Context>; 2]> = const { Cell::new([None, None]) };
}

impl Context {
    fn new() -> Context {
        Context {
            inner: Arc::new(Inner {
                select: AtomicUsize::new(0),
                packet: AtomicPtr::new(ptr::null_mut()),
                unparker: park::unparker(),
            }),
        }
    }

    /// Resets `self` for a new wait if no wait queue or waker still holds a clone of it
    /// (the `Arc` is unique). False if it is still shared.
    fn reset_if_unique(&mut self) -> bool {
        let Some(inner) = Arc::get_mut(&mut self.inner) else {
            return false;
        };
        *inner.select.get_mut() = 0;
        *inner.packet.get_mut() = ptr::null_mut();
        // The cache is per thread but several coroutines share a thread: point the
        // unparker at whoever is running now (checked first: re-pointing costs two
        // reference-count updates, and usually it is the same one).
        if !inner.unparker.wakes_current() {
            inner.unparker = park::unparker();
        }
        true
    }

    /// Runs `f` with a fresh context (slot Waiting, no packet) owned by the current
    /// coroutine or thread.
    ///
    /// A per-thread cached context is reused when no wait queue or waker still holds a
    /// clone of it; otherwise a new one is allocated. Reuse is what keeps a blocking
    /// operation free of allocation in the steady state.
    pub(crate) fn with<R>(f: impl FnOnce(&Context) -> R) -> R {
        // `try_with`: a blocking operation may run in another thread-local's destructor,
        // after `CACHED` is gone (crossbeam-channel's `thread_locals` test); then it works
        // uncached.
        let [mut a, mut b] = CACHED.try_with(|c| c.take()).unwrap_or([None, None]);
        // Use the first unique one; keep the other as the spare.
        let (cx, spare) = if a.as_mut().is_some_and(Context::reset_if_unique) {
            (a, b)
        } else if b.as_mut().is_some_and(Context::reset_if_unique) {
            (b, a)
        } else {
            // Both still shared (or none cached): keep the younger, allocate.
            (Some(Context::new()), a)
        };
        let cx = cx.expect("goro-chan: chosen context is present");
        let r = f(&cx);
        // During thread exit this fails and the contexts are simply dropped.
        let _ = CACHED.try_with(|c| c.set([Some(cx), spare]));
        r
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
    pub(crate) fn store_packet(&self, packet: *mut ()) {
        // Release pairs with the Acquire load in `packet`; the channel lock taken by the
        // owner before reading orders it as well.
        self.inner.packet.store(packet, Ordering::Release);
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
