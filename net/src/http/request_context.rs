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
//! 1. *The client leaves while the handler runs* (also mid-upload, below). Go's server
//!    keeps a background read on the connection; goro parks an *unstarted* task in the socket's read slot
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
//! **An upload the handler has not read.** While body bytes are still on the socket a
//! peek finds them, so a peek cannot tell a live client from one that sent part of its
//! body and left: Go does not see it either (its background read starts only once the
//! body is consumed). goro does, by asking the kernel instead of the bytes: a `poll` with
//! no wait reports `POLLRDHUP` (the client's FIN, Linux and Android) and `POLLHUP` /
//! `POLLERR` (a reset) even with unread bytes queued ahead of them. So when the handler
//! asks for its context with body left on the socket, the watcher is parked as above
//! (a FIN or a reset is a read edge, which starts it), and once started it looks every
//! 25 to 200 ms while the request lasts (body bytes keep the socket readable, so parking
//! again would start it at once): a client that leaves mid-upload cancels the context
//! within about 200 ms. In this mode bytes never end the watch, and a FIN counts as
//! leaving: a client that half-closes after sending its whole request (some `HTTP/1.0`
//! tools do) is taken for gone, as Go takes it once the handler has read the body. Limits:
//! a FIN queued behind body bytes the client could not send yet (the server's receive
//! window is full: a large upload the handler does not read) cannot arrive, so that
//! departure is seen only once the handler reads on; without `POLLRDHUP` (BSDs, macOS)
//! only a reset is seen early.
//!
//! **A watcher that starts with nothing to read.** A read that fills its buffer leaves the
//! socket's ready bit set (there may be more), and a body read to its exact end does; a
//! watcher parked then starts at once and finds nothing. Parked again it would start again
//! at once, and clearing the bit is not its to do (the connection's next read trusts a
//! clear bit). So that watcher, and only it, peeks again on a timer (25 ms, growing to
//! 200 ms) while the request lasts: one parked coroutine for such a request.
//!
//! **The race with a client that leaves early.** The client's end of stream may arrive
//! with its request, in the same read edge the server consumed reading it; no edge follows.
//! So arming peeks once before it parks the watcher: an end already there cancels at once,
//! and one that comes after the peek sets the socket's ready bit, which starts the watcher
//! as soon as it is parked.
use std::io;
use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use goro::context::{self, CancelFn, Context};

use super::connection::Connection;
use super::request::Request;
use super::server::Slot;
use crate::TcpStream;

/// Registers a new context's cancel with the connection that serves the request; the flag
/// says the request's body has been read to its end.
pub(crate) type Arm<'a> = &'a (dyn Fn(&Arc<CancelFn>, bool) + Sync);

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
                arm(&cancel, self.body.is_done());
            }
            (ctx, cancel)
        });
        ctx.clone()
    }
}

/// Arms the watch of a request's context on connection `slot` (step 1 and 2 of the module
/// notes); `body_done` if no body is left on the socket (else the upload watch, module
/// notes).
pub(crate) fn arm<C: Connection>(slot: &Arc<Slot<C>>, cancel: &Arc<CancelFn>, body_done: bool) {
    *crate::lock(&slot.request_cancel) = Arc::downgrade(cancel);
    let upload = !body_done;
    // The client may have left before the handler asked (its end of stream can have come
    // with the request's own read edge, no edge follows it; or the handler's body read
    // failed on it): look once now. An end that comes after this look sets the ready bit,
    // which starts the watcher below at once.
    if look(&slot.conn, upload) == Peer::Gone {
        tracing::debug!(remote = %slot.remote, "goro-net http: client gone before the handler asked");
        cancel.cancel();
        return;
    }
    let (conn, weak) = (Arc::downgrade(slot), Arc::downgrade(cancel));
    let watcher = move || {
        let mut quiet = 0u32;
        loop {
            // The request is over (the cancel is gone) or the connection is: nothing to do.
            let (Some(cancel), Some(slot)) = (weak.upgrade(), conn.upgrade()) else {
                return;
            };
            match look(&slot.conn, upload) {
                Peer::Gone => {
                    tracing::debug!(remote = %slot.remote, upload, "goro-net http: client left, request canceled");
                    cancel.cancel();
                    return;
                }
                Peer::Data if !upload => return, // a live client's next request: the watch ends
                Peer::Data | Peer::Quiet => {}
            }
            // Started with nothing to read (the ready bit was left set by a read that
            // filled its buffer), or with body bytes the handler has not read: parked
            // again it would start again at once. Look now and then instead, while the
            // request lasts.
            drop((cancel, slot));
            quiet += 1;
            goro::time::sleep(QUIET_POLL * quiet.min(8));
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

/// What a peek at the client's socket shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    /// Ended, failed, or closed by the server.
    Gone,
    /// Bytes wait to be read.
    Data,
    /// Nothing to read yet.
    Quiet,
}

/// The first pause of a watcher that started with nothing to read; later ones grow to 8×.
const QUIET_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// What the client's connection shows. With no body left on the socket: the socket's
/// peek, except that bytes on a TLS socket may be the client's goodbye (`close_notify`),
/// which only the transport can tell. With an `upload` still on it, bytes are the body:
/// the client is gone only if the socket says it hung up (a FIN or a reset, seen under
/// the unread bytes), or the peek finds the end or an error.
fn look<C: Connection>(conn: &C, upload: bool) -> Peer {
    if upload {
        if hung_up(conn.socket()) {
            return Peer::Gone;
        }
        return peer(conn.socket());
    }
    match peer(conn.socket()) {
        Peer::Data if conn.peer_left() == Some(true) => Peer::Gone,
        seen => seen,
    }
}

/// True if the client shut its sending side (`POLLRDHUP`, Linux and Android) or the
/// connection hung up or failed (`POLLHUP`, `POLLERR`: a reset), even with unread bytes
/// queued ahead of that end, which a peek would return first. A poll with no wait; the
/// poller's edges are not touched.
fn hung_up(s: &TcpStream) -> bool {
    if s.as_poll_fd().is_closed() {
        return true;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let events = libc::POLLRDHUP;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let events = 0;
    let mut p = libc::pollfd {
        fd: s.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: `p` is one live `pollfd`, the count says one; the fd is open while `s` is
    // borrowed (a closed `TcpStream` keeps its fd until it drops). A zero timeout: no wait.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r == 1 && (p.revents & (events | libc::POLLHUP | libc::POLLERR)) != 0
}

/// Peeks at the client's socket without consuming and without touching the poller's
/// ready bit.
fn peer(s: &TcpStream) -> Peer {
    if s.as_poll_fd().is_closed() {
        return Peer::Gone;
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
        0 => Peer::Gone,
        1.. => Peer::Data,
        _ => match io::Error::last_os_error().kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Peer::Quiet,
            _ => Peer::Gone,
        },
    }
}
