//! A client exchange bound to a [`Context`]: canceling it closes the exchange's connection.
//!
//! [`Client::with_context`](super::Client::with_context) binds a client's requests to a
//! context. Before each attempt the context is checked; its deadline bounds the exchange as
//! the client's own timeout does; and while the exchange holds a connection, an
//! `after_func` callback stands ready to shut that connection's socket down. Canceling then
//! wakes the exchange's parked read or write with an error, the connection is discarded
//! (never pooled again), and the caller gets the context's error (`Interrupted` for
//! canceled, `TimedOut` for a deadline). No coroutine waits per exchange: the callback is
//! an entry in the context's registry until it is needed.
//!
//! **The fd and the race.** The callback runs in a coroutine of its own, maybe just as the
//! exchange ends and its connection goes back to the pool, where the fd could be closed
//! and its number reused by another socket. So the callback shuts the socket down only
//! through a [`Guard`] cell that the exchange empties, under the same lock, before it lets
//! the connection go: either the callback runs first (and the exchange then fails, its
//! connection discarded) or it finds the cell empty and does nothing.
//!
//! A pipelined request ([`ClientBuilder::pipeline`](super::ClientBuilder::pipeline)) is
//! canceled by killing its lane, as at a deadline (`pipeline.rs`): the other requests on it
//! go through the pool.
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};

use goro::context::{AfterFunc, Context};

use crate::{lock, TcpStream};

/// The context's error as an `io::Error`, if it is done.
pub(super) fn done(ctx: Option<&Context>) -> Option<io::Error> {
    ctx?.err().map(io::Error::from)
}

/// Readies the shutdown of `sock` when `ctx` is done, until dropped.
pub(super) struct Guard {
    fd: Arc<Mutex<Option<RawFd>>>,
    stop: AfterFunc,
    ctx: Context,
}

impl Guard {
    /// Arms the callback for the exchange on `sock`; `None` if there is no context.
    pub(super) fn arm(ctx: Option<&Context>, sock: &TcpStream) -> Option<Guard> {
        let ctx = ctx?;
        let fd = Arc::new(Mutex::new(Some(sock.as_raw_fd())));
        let cell = fd.clone();
        let stop = ctx.after_func(move || {
            if let Some(fd) = *lock(&cell) {
                // SAFETY: the fd is open: the exchange empties the cell (under this lock)
                // before it lets its connection, and so the fd, go. `shutdown` on a live
                // socket has no memory effects.
                unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
                tracing::debug!("goro-net http: exchange canceled by its context");
            }
        });
        Some(Guard {
            fd,
            stop,
            ctx: ctx.clone(),
        })
    }

    /// The context's error if it is done (the exchange's own error is then its effect).
    pub(super) fn err(&self) -> Option<io::Error> {
        done(Some(&self.ctx))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        lock(&self.fd).take();
        self.stop.stop();
    }
}

/// `e`, or the context's error if the context is done (what caused `e`).
pub(super) fn explain(guard: Option<&Guard>, e: io::Error) -> io::Error {
    guard.and_then(Guard::err).unwrap_or(e)
}
