//! Cancellation, deadlines and request-scoped values: Go's `context` package for goro.
//!
//! A [`Context`] tells a piece of work when to give up. Contexts form a tree: the root is
//! [`background()`], and [`with_cancel`], [`with_timeout`] and [`with_deadline`] derive a child
//! that is done when its own [`CancelFn`] is called (or dropped), when its deadline passes, or
//! when its parent is done, whichever comes first. Work checks [`Context::err`] or
//! [`Context::is_done`], waits with [`Context::wait`] (parks a coroutine, blocks a thread),
//! arms a callback with [`Context::after_func`], or (with goro-chan) selects on
//! `goro_chan::done(&ctx)`.
//!
//! ```
//! use goro::context;
//! use std::time::Duration;
//!
//! let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(20));
//! let worker = {
//!     let ctx = ctx.clone();
//!     goro::spawn(move || {
//!         let mut rounds = 0;
//!         while !ctx.is_done() {
//!             goro::time::sleep(Duration::from_millis(1)); // some work
//!             rounds += 1;
//!         }
//!         (rounds, ctx.err())
//!     })
//! };
//! let (_rounds, err) = worker.join().unwrap();
//! assert_eq!(err, Some(context::Error::DeadlineExceeded));
//! ```
//!
//! | Go | goro |
//! |----|------|
//! | `context.Background()`, `context.TODO()` | [`background()`], [`todo()`] |
//! | `ctx, cancel := context.WithCancel(parent)`; `defer cancel()` | `let (ctx, cancel) = context::with_cancel(&parent);` (cancels when `cancel` drops) |
//! | `context.WithTimeout(parent, d)`, `context.WithDeadline(parent, t)` | [`with_timeout`]`(&parent, d)`, [`with_deadline`]`(&parent, t)` |
//! | `context.WithValue(parent, key, v)`, `ctx.Value(key)` | [`with_value`]`(&parent, v)`, [`ctx.value::<T>()`](Context::value) (the type is the key) |
//! | `ctx.Err()` | [`ctx.err()`](Context::err): `None`, `Some(Error::Canceled)`, `Some(Error::DeadlineExceeded)` |
//! | `ctx.Deadline()` | [`ctx.deadline()`](Context::deadline) |
//! | `<-ctx.Done()` | [`ctx.wait()`](Context::wait), [`wait_timeout`](Context::wait_timeout); in a `select!`, `recv(goro_chan::done(&ctx))` |
//! | `stop := context.AfterFunc(ctx, f)` | `let stop = ctx.after_func(f);` then [`stop.stop()`](AfterFunc::stop) |
//!
//! # Design
//!
//! **The tree.** A context is an `Arc` of a node (background is no node at all, so it costs
//! nothing to clone or pass). A *value* node holds one value and its parent. A *cancel* node
//! (from `with_cancel`/`with_deadline`) holds the done state: an error word and, behind a
//! short std lock, a registry of everything to tell when it is done: its cancelable
//! children, parked waiters, `after_func` callbacks, its deadline timer, and the values
//! adapters keep until done ([`Context::hold_until_done`]). A value node is done when its
//! nearest cancel ancestor is; it has no state of its own, as in Go.
//!
//! **Ownership.** A child holds its parent strongly (values are looked up through it, and the
//! parent must outlive its descendants' registrations); the parent's registry holds each child
//! *weakly*. So no cycle exists, and a child that goes away takes its entry out: canceling a
//! child removes it from its parent's registry, and since its [`CancelFn`] holds it and
//! cancels when dropped, every child is canceled before its last reference goes (the node's
//! own `Drop` unregisters too, as a safety net). A long-lived parent with many short-lived
//! children keeps only the live ones.
//!
//! **Canceling.** `cancel(node, err)`, from a [`CancelFn`], a deadline timer or a canceling
//! ancestor, runs these steps:
//!
//! 1. Lock the node's registry. If its error word is already set, stop: someone else
//!    canceled it first (every node is canceled at most once).
//! 2. Store the error (Release), take the whole registry out, unlock.
//! 3. Push the children found there (those still alive) on a work list and repeat 1–2 for
//!    each. A list, not recursion: a deep chain of contexts must not overflow a coroutine's
//!    small stack.
//! 4. Only when every descendant's error is set: take the node out of its parent's registry
//!    (unless the parent is what canceled it), stop the deadline timers, unpark the waiters,
//!    spawn a coroutine for each `after_func` callback (as Go's `AfterFunc` runs `f` in its
//!    own goroutine), and drop the held values. Nothing of this runs under a registry lock.
//!
//! So cancellation reaches the whole subtree at once: by the time `cancel` returns (or the
//! first waiter wakes), `err()` reports the error on every descendant.
//!
//! **Waiting** follows the park protocol of `park.rs`: check the error word; lock the
//! registry; check again (the canceler sets it under this lock, so either we see it or it
//! sees our entry); register our `Unparker`; unlock; park until the error word is set. A
//! timed wait that gives up takes its entry out again.
//!
//! **Deadlines** cost one entry in a worker's timer heap (`goro::time::Timer`), whose
//! callback holds the node weakly and cancels it with [`Error::DeadlineExceeded`]: no
//! coroutine or thread waits for a deadline. A child whose parent's deadline is earlier gets
//! no timer (the parent's will cancel it), as in Go. As in Go, a context is done when its
//! timer fires (up to a millisecond late, never early), not when the clock passes the
//! deadline.
//!
//! The error word of a cancel node:
//!
//! | value | meaning | who may change it |
//! |---|---|---|
//! | `NONE` (0) | not done; the registry is live | the first canceler, under the registry lock: → `CANCELED`/`DEADLINE` |
//! | `CANCELED` (1) | done by a `CancelFn` (or an ancestor's); the registry is empty and stays empty | nobody; final |
//! | `DEADLINE` (2) | done by a deadline timer (or an ancestor's); the registry is empty and stays empty | nobody; final |
//!
//! Orderings: the word is stored once, with Release, under the registry lock; a lock-free
//! reader (`err()`, `is_done()`, a waiter's loop) loads it with Acquire, pairing with that
//! store, so it sees what the canceler did before canceling. Every load made *under* the
//! registry lock is Relaxed: the lock already orders it after the store or the store after
//! it, which is all the register-or-see-done decision needs. (`Node::drop` loads it Relaxed
//! without the lock: it holds the last reference, so no canceler can run concurrently.)
//!
//! # Dropping the `CancelFn` cancels
//!
//! Go's `WithCancel` returns a function the caller must call (`defer cancel()`), and `go vet`
//! warns when it is not, because an uncanceled child stays registered in its parent (and its
//! timer armed) until the parent is done. Rust has the guard pattern for exactly this: a
//! [`CancelFn`] cancels its context when dropped, so `let (ctx, _cancel) = ...` at the top of
//! a function is Go's `defer cancel()`, and forgetting the call cannot leak. The one trap is
//! `let (ctx, _) = ...`, which drops the guard, and cancels the context, at once; bind it to
//! a name. To hand the context's lifetime to someone else, move the `CancelFn` to them.
//!
//! # Designs rejected
//!
//! - *A channel per context, as Go's `Done()`*: goro cannot name goro-chan's channel, and most
//!   contexts are never selected on. Waiters park on the registry instead, and goro-chan
//!   makes the channel once per context on demand ([`Context::hold_until_done`]).
//! - *A coroutine (or thread) per deadline*: a timer heap entry does the same for ~40 bytes.
//! - *Children held strongly by the parent*: a child would live as long as its parent even
//!   when nobody could observe it any more.
use std::any::{Any, TypeId};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::park;
use crate::time::Timer;

mod handles;
mod tree;

pub use handles::{AfterFunc, CancelFn};
use tree::{cancel, lock, new_cancel_node, Entry, Kind, Node, NONE};

/// Why a context is done: the error its [`err()`](Context::err) reports.
///
/// `Display` gives Go's messages: "context canceled" and "context deadline exceeded".
///
/// ```
/// use goro::context::{self, Error};
///
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// assert_eq!(ctx.err(), None);
/// cancel.cancel();
/// assert_eq!(ctx.err(), Some(Error::Canceled));
/// assert_eq!(Error::Canceled.to_string(), "context canceled");
/// assert_eq!(Error::DeadlineExceeded.to_string(), "context deadline exceeded");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The context (or an ancestor) was canceled: its [`CancelFn`] was called or dropped
    /// (Go's `context.Canceled`).
    Canceled,
    /// The context's deadline (or an ancestor's) passed (Go's `context.DeadlineExceeded`).
    DeadlineExceeded,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for Error {}

/// For code that returns `io::Result`: [`Error::DeadlineExceeded`] becomes
/// [`io::ErrorKind::TimedOut`](std::io::ErrorKind::TimedOut) (Go's deadline error is a
/// timeout too), [`Error::Canceled`] becomes `Other`; both wrap the context error, which
/// `get_ref().downcast_ref::<context::Error>()` recovers.
///
/// ```
/// use goro::context::Error;
/// let e = std::io::Error::from(Error::DeadlineExceeded);
/// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
/// assert_eq!(e.get_ref().unwrap().downcast_ref::<Error>(), Some(&Error::DeadlineExceeded));
/// ```
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        match e {
            Error::Canceled => std::io::Error::other(e),
            Error::DeadlineExceeded => std::io::Error::new(std::io::ErrorKind::TimedOut, e),
        }
    }
}

/// A cancellation signal, a deadline and request-scoped values, passed down a call tree
/// (Go's `context.Context`).
///
/// Cheap to clone (one `Arc`, nothing for [`background()`]), `Send` and `Sync`. Every
/// method works from a coroutine and from a plain thread. See the [module docs](self) for
/// the Go-to-goro table and how cancellation travels.
///
/// ```
/// use goro::context;
///
/// let (parent, cancel) = context::with_cancel(&context::background());
/// let child = context::with_value(&parent, "request-42");
/// let waiter = {
///     let child = child.clone();
///     goro::spawn(move || {
///         child.wait(); // parks until the parent is canceled
///         child.err()
///     })
/// };
/// drop(cancel); // dropping the CancelFn cancels, like Go's `defer cancel()`
/// assert_eq!(waiter.join().unwrap(), Some(context::Error::Canceled));
/// assert_eq!(child.value::<&str>(), Some(&"request-42"));
/// ```
#[derive(Clone, Default)]
pub struct Context {
    /// `None`: background (never done, no values, no deadline).
    node: Option<Arc<Node>>,
}

/// The root context: never done, no deadline, no values (Go's `context.Background()`).
///
/// Costs nothing: it is no allocation, and neither is cloning it.
///
/// ```
/// let ctx = goro::context::background();
/// assert!(!ctx.is_done());
/// assert_eq!(ctx.deadline(), None);
/// assert!(!ctx.wait_timeout(std::time::Duration::from_millis(1)));
/// ```
pub fn background() -> Context {
    Context { node: None }
}

/// The same as [`background()`], for code that has not decided which context to use yet
/// (Go's `context.TODO()`).
///
/// ```
/// assert!(goro::context::todo().err().is_none());
/// ```
pub fn todo() -> Context {
    background()
}

/// A child of `parent` that is done when the returned [`CancelFn`] is called or dropped, or
/// when `parent` is done (Go's `context.WithCancel`).
///
/// ```
/// use goro::context::{self, Error};
///
/// let (parent, cancel_parent) = context::with_cancel(&context::background());
/// let (child, _cancel_child) = context::with_cancel(&parent);
/// cancel_parent.cancel();
/// assert_eq!(child.err(), Some(Error::Canceled)); // reaches children at once
/// ```
pub fn with_cancel(parent: &Context) -> (Context, CancelFn) {
    let node = new_cancel_node(parent, parent.deadline());
    CancelFn::pair(node)
}

/// A child of `parent` that is done after `timeout` with [`Error::DeadlineExceeded`], or
/// earlier when canceled or when `parent` is done (Go's `context.WithTimeout`).
///
/// ```
/// use goro::context::{self, Error};
/// use std::time::Duration;
///
/// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
/// ctx.wait();
/// assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
/// ```
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFn) {
    match Instant::now().checked_add(timeout) {
        Some(deadline) => with_deadline(parent, deadline),
        None => with_cancel(parent), // beyond `Instant`'s range: no deadline
    }
}

/// A child of `parent` that is done at `deadline` with [`Error::DeadlineExceeded`], or
/// earlier when canceled or when `parent` is done (Go's `context.WithDeadline`).
///
/// A deadline that has passed makes a context that is done already. If `parent`'s deadline
/// is earlier, the child keeps the parent's (and arms no timer of its own).
///
/// ```
/// use goro::context::{self, Error};
/// use std::time::{Duration, Instant};
///
/// let at = Instant::now() + Duration::from_secs(60);
/// let (ctx, cancel) = context::with_deadline(&context::background(), at);
/// assert_eq!(ctx.deadline(), Some(at));
/// drop(cancel);
/// assert_eq!(ctx.err(), Some(Error::Canceled)); // canceled before the deadline
/// ```
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFn) {
    if let Some(earlier) = parent.deadline().filter(|&p| p <= deadline) {
        return CancelFn::pair(new_cancel_node(parent, Some(earlier)));
    }
    let node = new_cancel_node(parent, Some(deadline));
    if node.state().err().is_some() {
        // The parent was done already: no timer to arm.
    } else if deadline <= Instant::now() {
        cancel(&node, Error::DeadlineExceeded);
    } else {
        let weak = Arc::downgrade(&node);
        let timer = Timer::at(deadline, move || {
            // Runs on a worker's scheduler stack: `cancel` only takes short locks, unparks
            // and spawns, none of which parks.
            if let Some(node) = weak.upgrade() {
                cancel(&node, Error::DeadlineExceeded);
            }
        });
        let mut reg = lock(&node.state().reg);
        if node.state().err.load(Ordering::Relaxed) == NONE {
            reg.timer = Some(timer);
        } else {
            // Done already (the parent was canceled meanwhile, or the timer fired): free the
            // timer's slot now rather than at the deadline.
            drop(reg);
            timer.cancel();
        }
    }
    CancelFn::pair(node)
}

/// A child of `parent` that carries `value`, found again by its type with
/// [`Context::value`] (Go's `context.WithValue`, with the value's type as the key).
///
/// Give each kind of value its own type (`struct RequestId(u64)`) so packages cannot
/// collide, as Go asks for an unexported key type. A nearer value of the same type shadows
/// a farther one. The child is done exactly when `parent` is.
///
/// ```
/// use goro::context;
///
/// #[derive(Debug, PartialEq)]
/// struct RequestId(u64);
///
/// let ctx = context::with_value(&context::background(), RequestId(7));
/// let inner = context::with_value(&ctx, "not a RequestId");
/// assert_eq!(inner.value::<RequestId>(), Some(&RequestId(7)));
/// assert_eq!(context::background().value::<RequestId>(), None);
/// ```
pub fn with_value<T: Any + Send + Sync>(parent: &Context, value: T) -> Context {
    Context {
        node: Some(Arc::new(Node {
            parent: parent.clone(),
            kind: Kind::Value(Box::new(value)),
        })),
    }
}

impl Context {
    /// The nearest cancel node at or above this context; `None` if it can never be done.
    fn canceler(&self) -> Option<&Arc<Node>> {
        let mut c = self;
        loop {
            let n = c.node.as_ref()?;
            if let Kind::Cancel(_) = n.kind {
                return Some(n);
            }
            c = &n.parent;
        }
    }

    /// Why the context is done, or `None` while it is not (Go's `ctx.Err()`).
    ///
    /// ```
    /// use goro::context::{self, Error};
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(Error::Canceled));
    /// ```
    pub fn err(&self) -> Option<Error> {
        self.canceler().and_then(|n| n.state().err())
    }

    /// True once the context is done (canceled or past its deadline): `err().is_some()`.
    ///
    /// ```
    /// let (ctx, cancel) = goro::context::with_cancel(&goro::context::background());
    /// assert!(!ctx.is_done());
    /// drop(cancel);
    /// assert!(ctx.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// When the context will be done by itself, if ever (Go's `ctx.Deadline()`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::context;
    /// assert_eq!(context::background().deadline(), None);
    /// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_secs(9));
    /// assert!(ctx.deadline().is_some());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.canceler().and_then(|n| n.state().deadline)
    }

    /// The nearest value of type `T` put in with [`with_value`] on this context or an
    /// ancestor (Go's `ctx.Value(key)`).
    ///
    /// ```
    /// let ctx = goro::context::with_value(&goro::context::background(), 42u32);
    /// assert_eq!(ctx.value::<u32>(), Some(&42));
    /// assert_eq!(ctx.value::<u64>(), None);
    /// ```
    pub fn value<T: Any>(&self) -> Option<&T> {
        let mut c = self;
        while let Some(n) = c.node.as_ref() {
            if let Kind::Value(v) = &n.kind {
                if let Some(v) = v.downcast_ref::<T>() {
                    return Some(v);
                }
            }
            c = &n.parent;
        }
        None
    }

    /// Parks the calling coroutine (or blocks the thread) until the context is done
    /// (Go's `<-ctx.Done()`). Waits forever on a context that can never be done.
    ///
    /// ```
    /// let (ctx, cancel) = goro::context::with_cancel(&goro::context::background());
    /// std::thread::spawn(move || cancel.cancel());
    /// ctx.wait();
    /// assert!(ctx.is_done());
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Like [`wait`](Context::wait), giving up after `timeout`; true if the context is done.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (ctx, cancel) = goro::context::with_cancel(&goro::context::background());
    /// assert!(!ctx.wait_timeout(Duration::from_millis(5)));
    /// drop(cancel);
    /// assert!(ctx.wait_timeout(Duration::from_millis(5)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// Like [`wait`](Context::wait), giving up at `deadline`; true if the context is done.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ctx = goro::context::background();
    /// assert!(!ctx.wait_deadline(Instant::now() + Duration::from_millis(2)));
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> bool {
        self.wait_until(Some(deadline))
    }

    /// The waiting protocol of the module doc; `None`: no time limit.
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let Some(node) = self.canceler() else {
            match deadline {
                Some(d) => crate::time::sleep_until(d),
                None => loop {
                    park::park(); // never done: Go's receive from a nil Done channel
                },
            }
            return false;
        };
        let st = node.state();
        if st.err().is_some() {
            return true;
        }
        let key = {
            let mut reg = lock(&st.reg);
            if st.err.load(Ordering::Relaxed) != NONE {
                return true;
            }
            reg.insert(Entry::Waiter(park::unparker()))
        };
        loop {
            if st.err().is_some() {
                return true; // the canceler took our entry with the registry
            }
            match deadline {
                None => park::park(),
                Some(d) if Instant::now() < d => park::park_deadline(d),
                Some(_) => break,
            }
        }
        // Timed out. Under the lock, the error word and our entry agree: if it is set, the
        // canceler has our entry (and an unpark on its way, a harmless spare token).
        let mut reg = lock(&st.reg);
        if st.err.load(Ordering::Relaxed) != NONE {
            return true;
        }
        let entry = reg.remove(key);
        drop(reg);
        drop(entry); // our own unparker: dropped outside the lock all the same
        false
    }

    /// Arranges for `f` to run on a new coroutine once the context is done (Go's
    /// `context.AfterFunc`); at once if it is done already. The returned [`AfterFunc`] can
    /// stop it first; dropping that handle does not.
    ///
    /// As in Go, a callback that is neither run nor stopped stays registered until the
    /// context is done: stop the ones you no longer need on a long-lived context. On a
    /// context that can never be done, `f` is dropped unrun at once.
    ///
    /// ```
    /// let (ctx, cancel) = goro::context::with_cancel(&goro::context::background());
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let _stop = ctx.after_func(move || tx.send("cleaned up").unwrap());
    /// drop(cancel);
    /// assert_eq!(rx.recv().unwrap(), "cleaned up");
    /// ```
    pub fn after_func<F: FnOnce() + Send + 'static>(&self, f: F) -> AfterFunc {
        let Some(node) = self.canceler() else {
            return AfterFunc::never();
        };
        let st = node.state();
        let mut reg = lock(&st.reg);
        if st.err.load(Ordering::Relaxed) != NONE {
            drop(reg);
            drop(crate::spawn(f));
            return AfterFunc::started();
        }
        let key = reg.insert(Entry::Func(Box::new(f)));
        AfterFunc::registered(Arc::downgrade(node), key)
    }

    /// Removes an `after_func` entry; true if it was there (so `f` will never run).
    fn stop_func(node: &Node, key: u64) -> bool {
        let entry = lock(&node.state().reg).remove(key);
        matches!(entry, Some(Entry::Func(_))) // `f` dropped here, outside the lock
    }

    /// Keeps one value of type `T` with this context until it is done, made by `make` at
    /// the first call; returns a clone of it. `None` if the context is done already or can
    /// never be done (then there is nothing to keep): [`err()`](Context::err) tells which.
    ///
    /// This is the hook for an adapter that needs one object per context, released when the
    /// context is done: goro-chan's `done(&ctx)` keeps a channel's sending half here, so
    /// every receiver of that channel sees it disconnect at the moment the context is done,
    /// and repeated calls share one channel as Go's `ctx.Done()` does. The value is dropped
    /// outside every lock of the context, right after the context's waiters are woken.
    /// `make` runs under the context's lock and must not use this context.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// struct SetOnDrop(Arc<AtomicBool>);
    /// impl Drop for SetOnDrop {
    ///     fn drop(&mut self) { self.0.store(true, Ordering::SeqCst) }
    /// }
    /// let flag = Arc::new(AtomicBool::new(false));
    /// let (ctx, cancel) = goro::context::with_cancel(&goro::context::background());
    /// let f = flag.clone();
    /// let a = ctx.hold_until_done(|| Arc::new(SetOnDrop(f))).unwrap();
    /// let b = ctx.hold_until_done(|| unreachable!()).unwrap(); // made once
    /// assert!(Arc::ptr_eq(&a, &b));
    /// drop((a, b));
    /// drop(cancel);
    /// assert!(flag.load(Ordering::SeqCst)); // dropped when the context was done
    /// assert!(ctx.hold_until_done(|| unreachable!() as Arc<SetOnDrop>).is_none());
    /// ```
    pub fn hold_until_done<T, F>(&self, make: F) -> Option<T>
    where
        T: Any + Send + Sync + Clone,
        F: FnOnce() -> T,
    {
        let node = self.canceler()?;
        let st = node.state();
        let mut reg = lock(&st.reg);
        if st.err.load(Ordering::Relaxed) != NONE {
            return None;
        }
        let id = TypeId::of::<T>();
        if let Some((_, v)) = reg.held.iter().find(|(t, _)| *t == id) {
            return v.downcast_ref::<T>().cloned();
        }
        let v = make();
        reg.held.push((id, Box::new(v.clone())));
        Some(v)
    }

    /// How many entries (children, waiters, `after_func` callbacks) the nearest cancel node
    /// holds. For tests of the registry's bookkeeping; not a stable API.
    #[doc(hidden)]
    pub fn registered(&self) -> usize {
        self.canceler()
            .map_or(0, |n| lock(&n.state().reg).entries.len())
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}
