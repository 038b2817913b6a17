//! The handles a context hands out: [`CancelFn`] (cancels, also on drop) and [`AfterFunc`].
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use super::{cancel, Context, Error, Node};

/// Cancels the context it came with, when [`cancel`](CancelFn::cancel) is called or when it is
/// dropped (Go's `context.CancelFunc`, with `defer cancel()` built in).
///
/// Canceling is idempotent and reaches every descendant of the context before it returns;
/// it does nothing to a context that is done already (its error stays the first one). Not
/// `Clone`, so exactly one owner decides when the context ends: share it behind an `Arc` if
/// several parties may cancel. See the module docs for why dropping cancels.
///
/// ```
/// use goro::context::{self, Error};
///
/// fn handle(parent: &context::Context) -> context::Context {
///     let (ctx, _cancel) = context::with_cancel(parent); // Go: defer cancel()
///     // ... hand ctx to work that must end with this function ...
///     ctx
/// }
/// let ctx = handle(&context::background());
/// assert_eq!(ctx.err(), Some(Error::Canceled)); // `_cancel` dropped on return
/// ```
///
/// Binding the guard to `_` drops it at once:
///
/// ```
/// let (ctx, _) = goro::context::with_cancel(&goro::context::background());
/// assert!(ctx.is_done()); // probably not what was meant: name it `_cancel`
/// ```
///
/// It is not `Clone` (a dropped copy would cancel for everyone):
///
/// ```compile_fail
/// let (_ctx, cancel) = goro::context::with_cancel(&goro::context::background());
/// let again = cancel.clone(); // error: no method `clone`
/// ```
#[must_use = "dropping a CancelFn cancels its context at once"]
pub struct CancelFn {
    node: Arc<Node>,
}

impl CancelFn {
    pub(super) fn pair(node: Arc<Node>) -> (Context, CancelFn) {
        let ctx = Context {
            node: Some(Arc::clone(&node)),
        };
        (ctx, CancelFn { node })
    }

    /// Cancels the context with [`Error::Canceled`] unless it is done already.
    ///
    /// ```
    /// let (ctx, cancel) = goro::context::with_cancel(&goro::context::background());
    /// cancel.cancel();
    /// cancel.cancel(); // a no-op
    /// assert!(ctx.is_done());
    /// ```
    pub fn cancel(&self) {
        cancel(&self.node, Error::Canceled);
    }
}

impl Drop for CancelFn {
    fn drop(&mut self) {
        cancel(&self.node, Error::Canceled);
    }
}

impl fmt::Debug for CancelFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFn").finish_non_exhaustive()
    }
}

/// Stops a callback armed with [`Context::after_func`] before it runs (the `stop` function
/// Go's `context.AfterFunc` returns). Dropping it does not stop the callback.
///
/// ```
/// let (ctx, cancel) = goro::context::with_cancel(&goro::context::background());
/// let stop = ctx.after_func(|| unreachable!("stopped first"));
/// assert!(stop.stop()); // true: this call kept f from running
/// assert!(!stop.stop()); // already stopped
/// drop(cancel);
/// ```
pub struct AfterFunc {
    how: How,
}

enum How {
    /// Waiting in a registry under this key.
    Registered(Weak<Node>, u64),
    /// The context can never be done: `f` was dropped unrun; the first `stop` reports it
    /// (true: `f` will not run), as Go's stop does for a never-done context.
    Never(AtomicBool),
    /// The context was done already: `f` was started at once.
    Started,
}

impl AfterFunc {
    pub(super) fn registered(node: Weak<Node>, key: u64) -> AfterFunc {
        AfterFunc {
            how: How::Registered(node, key),
        }
    }

    pub(super) fn never() -> AfterFunc {
        AfterFunc {
            how: How::Never(AtomicBool::new(false)),
        }
    }

    pub(super) fn started() -> AfterFunc {
        AfterFunc { how: How::Started }
    }

    /// Keeps the callback from running. True if this call stopped it; false if it has
    /// started already (on its own coroutine: it may still be running) or was stopped before.
    ///
    /// ```
    /// let (ctx, cancel) = goro::context::with_cancel(&goro::context::background());
    /// let stop = ctx.after_func(|| {});
    /// drop(cancel); // f starts on a new coroutine
    /// assert!(!stop.stop());
    /// ```
    pub fn stop(&self) -> bool {
        match &self.how {
            How::Registered(node, key) => match node.upgrade() {
                Some(node) => Context::stop_func(&node, *key),
                None => false, // the context is gone, and `f` with it, unrun
            },
            // Relaxed: the flag guards nothing but itself.
            How::Never(stopped) => !stopped.swap(true, Ordering::Relaxed),
            How::Started => false,
        }
    }
}

impl fmt::Debug for AfterFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterFunc").finish_non_exhaustive()
    }
}
