//! `done(&ctx)`: a goro context's done signal as a channel, for `select!` (Go's `ctx.Done()`).
//!
//! goro cannot depend on this crate, so the channel is built here from goro's public API: the
//! first `done(&ctx)` makes a rendezvous channel on which nobody ever sends and asks the
//! context to hold its `Sender` until the context is done
//! ([`goro::context::Context::hold_until_done`]). When the context is done it drops the
//! `Sender`, the channel disconnects, and every receiver (parked in `recv` or registered in
//! a `select`) wakes with `Err(RecvError)`. Later calls on the same context share that
//! channel, as Go's `Done()` returns one channel per context, so a loop that selects on
//! `done(&ctx)` each round costs a receiver clone per round and nothing that accumulates.
//!
//! This costs no coroutine and no callback: the disconnect happens in the canceling call
//! itself (or the deadline timer), right after the context's own waiters are woken.
use std::sync::Arc;

use goro::context::Context;

use crate::channel::{bounded, never, Receiver, Sender};

/// What a context holds for [`done`]: the channel's only `Sender` (dropped when the context is
/// done) and a `Receiver` to clone for each call.
struct DoneChannel {
    _tx: Sender<()>,
    rx: Receiver<()>,
}

/// A receiver that disconnects when `ctx` is done: Go's `ctx.Done()`, for `select!`.
///
/// Nothing is ever sent on it: a `recv` arm on it fires, with `Err(RecvError)`, once the
/// context is done (at once if it is done already). For a context that can never be done
/// ([`goro::context::background`]) it is [`never()`]: such an arm never fires, as a
/// receive from Go's nil `Done()` channel.
///
/// ```
/// use goro::context;
/// use goro_chan::{bounded, done, select};
/// use std::time::Duration;
///
/// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(20));
/// let (tx, rx) = bounded::<u32>(0);
/// let producer = goro::spawn(move || {
///     for i in 0.. {
///         select! {
///             send(tx, i) -> r => r.unwrap(),
///             recv(done(&ctx)) -> _ => return ctx.err(), // Go: case <-ctx.Done():
///         }
///     }
///     unreachable!()
/// });
/// assert_eq!(rx.recv(), Ok(0));
/// assert_eq!(producer.join().unwrap(), Some(context::Error::DeadlineExceeded));
/// ```
pub fn done(ctx: &Context) -> Receiver<()> {
    let held = ctx.hold_until_done(|| {
        let (tx, rx) = bounded(0);
        Arc::new(DoneChannel { _tx: tx, rx })
    });
    match held {
        // Dropping `ch` here cannot disconnect the channel early: the context holds its own
        // reference until it is done (and then disconnecting is right).
        Some(ch) => ch.rx.clone(),
        None if ctx.is_done() => bounded(0).1, // done already: a disconnected receiver
        None => never(),                       // can never be done
    }
}
