//! A request's [`Context`] (Go's `r.Context()`): made on demand, done when the client
//! leaves, when the server gives up on the request, at the handler timeout, or when the
//! handler returns.
//!
//! **Made on demand.** Most handlers never ask for their context, so a request carries only
//! an empty cell: the first [`Request::context`] call makes a cancel node (a deadline node
//! with [`Builder::handler_timeout`](super::Builder::handler_timeout)) and arms what can
//! cancel it. A hello world pays nothing.
//!
//! **What cancels it**, as in Go:
//!
//! 1. *The client leaves while the handler runs.* Go's server keeps a background read on
//!    the connection; goro parks an *unstarted* task in the socket's read slot
//!    ([`TcpStream::spawn_when_readable`], the idle watcher's design in `idle_watch.rs`): no
//!    coroutine and no stack per request. The poller starts it on the socket's next read
//!    edge; it peeks without consuming (`MSG_PEEK | MSG_DONTWAIT`) and cancels on end of
//!    stream, an error (a reset), or a socket the server closed. Bytes waiting (the
//!    client's next pipelined request) mean the client is still there: the watch ends
//!    there without canceling, as Go's background read stops at the first byte. The
//!    watcher never touches the socket's ready bit, so it cannot steal an edge from the
//!    connection's own reads. On TLS the bytes may be the client's `close_notify`, so the
//!    transport is asked ([`Connection::peer_left`]): the TLS stream reads them into its
//!    session (where the connection's next read finds them, the socket's ready bit kept
//!    as its own reads keep it) and says whether they were a goodbye.
//! 2. *The server gives up*: [`Server::shutdown`](super::Server::shutdown)'s grace expires
//!    (the connection's slot keeps a weak handle to the request's cancel, and the shutdown
//!    cancels it before closing the socket), or the ticker closes the connection for a
//!    timeout (the watcher sees the closed socket).
//! 3. *The handler timeout* ([`Builder::handler_timeout`](super::Builder::handler_timeout)):
//!    the context's deadline. Cooperative, as every cancellation in Go is: a handler that
//!    never looks at its context is not stopped.
//! 4. *The handler returns*: the request owns the [`CancelFn`], and drops it.
//!
//! **Limits.** The socket is watched only when the request's body is already in the
//! server's buffer (no body, or a small one): a handler that still has a body to read from
//! the socket reads there itself, and would share its edges with the watcher; it sees a
//! departed client as its read's error. A watcher that starts because a read filled the
//! server's buffer exactly, with no further edge, ends without watching further.
use std::io;
use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use goro::context::{self, CancelFn, Context};

use super::connection::Connection;
use super::request::Request;
use super::server::Slot;
use crate::TcpStream;

/// Registers a new context's cancel with the connection that serves the request.
pub(crate) type Arm<'a> = &'a (dyn Fn(&Arc<CancelFn>) + Sync);

/// What a [`Request`] holds for its context: the cell, and how to arm it.
#[derive(Default)]
pub(crate) struct ReqContext<'a> {
    cell: OnceLock<(Context, Arc<CancelFn>)>,
    /// Called once with the new context's cancel: registers it with the connection
    /// (`None` for a request built in memory).
    pub(crate) arm: Option<Arm<'a>>,
    /// The handler timeout's deadline, if one is set.
    pub(crate) deadline: Option<Instant>,
}

impl Request<'_> {
    /// The request's context (Go's `r.Context()`): done when the client goes away while
    /// the handler runs, when the server's shutdown grace expires, at the
    /// [`handler_timeout`](super::Builder::handler_timeout), or when the handler returns;
    /// the module notes in `request_context.rs` say how and where it cannot see a client
    /// leave. Pass it on to the work the handler starts, as
    /// [`Client::with_context`](super::Client::with_context) takes it.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// use goro_net::http::{Request, ResponseWriter};
    ///
    /// fn slow(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    ///     let ctx = r.context();
    ///     // Ten seconds of work, unless the client hangs up first.
    ///     if ctx.wait_timeout(Duration::from_secs(10)) {
    ///         return; // nobody is listening any more
    ///     }
    ///     let _ = w.write_all(b"done\n");
    /// }
    /// # let _ = slow;
    /// ```
    pub fn context(&self) -> Context {
        let c = &self.ctx;
        let (ctx, _) = c.cell.get_or_init(|| {
            let parent = context::background();
            let (ctx, cancel) = match c.deadline {
                Some(d) => context::with_deadline(&parent, d),
                None => context::with_cancel(&parent),
            };
            let cancel = Arc::new(cancel);
            if let Some(arm) = c.arm {
                arm(&cancel);
            }
            (ctx, cancel)
        });
        ctx.clone()
    }
}

/// Arms the watch of a request's context on connection `slot` (step 1 and 2 of the module
/// notes); `watch_socket` if the socket may be watched (the body is in the buffer).
pub(crate) fn arm<C: Connection>(slot: &Arc<Slot<C>>, cancel: &Arc<CancelFn>, watch_socket: bool) {
    *crate::lock(&slot.request_cancel) = Arc::downgrade(cancel);
    if !watch_socket {
        if slot.conn.socket().as_poll_fd().is_closed() {
            cancel.cancel(); // closed before the handler asked
        }
        return;
    }
    let (conn, weak) = (Arc::downgrade(slot), Arc::downgrade(cancel));
    let watcher = move || {
        // The request is over (the cancel is gone) or the connection is: nothing to do.
        let (Some(cancel), Some(slot)) = (weak.upgrade(), conn.upgrade()) else {
            return;
        };
        // Bytes on a TLS socket may be the client's goodbye: the transport tells.
        if peer_gone(slot.conn.socket()) || slot.conn.peer_left() == Some(true) {
            tracing::debug!(remote = %slot.remote, "goro-net http: client left, request canceled");
            cancel.cancel();
        }
    };
    if let Err(e) = slot.conn.socket().spawn_when_readable(watcher) {
        tracing::debug!(error = %e, "goro-net http: cannot watch the client");
        if slot.conn.socket().as_poll_fd().is_closed() {
            // Closed before the handler asked (a timeout, the end of a shutdown): the
            // request is over for the server already.
            cancel.cancel();
        }
    }
}

/// Cancels the context of the request `slot` is serving, if it made one.
pub(crate) fn cancel_request<C: Connection + ?Sized>(slot: &Slot<C>) {
    let weak = std::mem::take(&mut *crate::lock(&slot.request_cancel));
    if let Some(cancel) = weak.upgrade() {
        cancel.cancel();
    }
}

/// True if the client is gone: the socket reads as ended or failed, or the server closed
/// it. Peeks without consuming and without touching the poller's ready bit.
fn peer_gone(s: &TcpStream) -> bool {
    if s.as_poll_fd().is_closed() {
        return true;
    }
    let mut b = [0u8; 1];
    // SAFETY: `b` is a live one-byte buffer; the fd is open while `s` is borrowed (a closed
    // `TcpStream` keeps its fd until it drops).
    let r = unsafe {
        libc::recv(
            s.as_raw_fd(),
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match r {
        0 => true,
        1.. => false,
        _ => !matches!(
            io::Error::last_os_error().kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    }
}
