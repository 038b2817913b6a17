//! Noticing a peer's close on an idle pooled connection, with no coroutine waiting on it.
//!
//! A pool that keeps idle keep-alive sockets (`connpool` with [`Builder::watch_idle`], the
//! HTTP client's pool and its pipelined lanes) would otherwise learn that a backend closed
//! one only when it hands the socket out, or when the idle timeout passes: until then the
//! socket sits in `CLOSE-WAIT`, holding an fd and a kernel socket.
//!
//! # Design
//!
//! When a connection goes idle, the pool [`arm`]s a watcher: an *unstarted* task parked in
//! the socket's read slot ([`TcpStream::spawn_when_readable`]), holding no stack. The poller
//! starts it on the socket's next read edge: the peer's FIN or reset, stray bytes, or the
//! answer to a request sent after the connection was taken again. The watcher then asks the
//! pool, under the pool's lock, whether its connection is still idle: if it is not, it ends
//! and touches nothing; if it is, it calls [`still_open`], and the pool drops the connection
//! or arms a new watcher.
//!
//! Rejected: a coroutine per idle connection blocked in a read (Go's transport has one: a
//! stack per idle socket), and a sweeper that peeks every idle socket now and then (it costs
//! a syscall per idle socket per sweep, and notices a close only at the next sweep).
//!
//! # The watcher and a later reader of the same socket
//!
//! The read slot holds any number of waiters, and a read edge wakes them all, so a watcher
//! left in the slot while the connection is in use does not steal the edge from the reader:
//! both start, and the watcher, finding the connection taken, ends. The watcher must not
//! consume the socket's read readiness while the connection is in use (goro's `read` waits
//! without a syscall when the ready bit is clear), so it looks at the socket only while the
//! pool owns it: under the pool's lock, with the connection in the idle list.
//!
//! [`still_open`] clears the read-ready bit before it peeks: an edge that predates the idle
//! spell (a read that filled its buffer leaves the bit set) would otherwise start every new
//! watcher at once, for ever. Clearing it before asking the kernel is the read protocol's own
//! order, so an edge that arrives after the clear is remembered and starts the next watcher.
//!
//! One watcher per connection at a time: the [`Armed`] flag travels with the connection
//! through checkouts. `arm` sets it and does nothing if it was set; a starting watcher clears
//! it before it looks at the pool. The flag and the pool's lock order the race of a watcher
//! starting while its connection is taken and returned: either the return sees the flag
//! clear and arms a new watcher, or the old watcher, which looks at the pool after clearing
//! the flag, finds the connection idle and re-arms (the flag then tells one of them to stop).
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::TcpStream;

#[cfg(doc)]
use crate::connpool::Builder;

/// Whether a connection has a watcher waiting in its read slot (module doc). Travels with
/// the connection; compare two with [`Arc::ptr_eq`] to tell connections apart.
#[derive(Debug, Default)]
pub(crate) struct Armed(AtomicBool);

/// Parks a watcher in `stream`'s read slot unless one is there already: `on_edge` runs in a
/// new coroutine on the stream's next read edge (or when it is closed).
///
/// A failure to arm (the fd is closed, or the runtime refuses a coroutine) leaves the
/// connection unwatched: it is then found at checkout or after the idle timeout, as before.
pub(crate) fn arm(stream: &TcpStream, armed: &Arc<Armed>, on_edge: impl FnOnce() + Send + 'static) {
    // SeqCst here and in the watcher: the flag's two writers and the pool's lock must agree
    // on one order (module doc); this is once per idle spell, not per byte.
    if armed.0.swap(true, Ordering::SeqCst) {
        return;
    }
    let flag = armed.clone();
    let watcher = move || {
        flag.0.store(false, Ordering::SeqCst);
        on_edge();
    };
    if let Err(e) = stream.spawn_when_readable(watcher) {
        tracing::debug!(error = %e, "goro-net: cannot watch an idle connection");
        armed.0.store(false, Ordering::SeqCst);
    }
}

/// True if an idle connection can still carry a request: the peer has not closed it, reset
/// it, or sent bytes nobody asked for. Clears a stale read-ready bit first (module doc), so
/// call it only while no one else reads `stream`.
pub(crate) fn still_open(stream: &TcpStream) -> bool {
    stream.clear_read_ready();
    let mut b = [0u8; 1];
    // SAFETY: `b` is a live one-byte buffer; the fd is open while `stream` is borrowed.
    let r = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}
