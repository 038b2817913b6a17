//! Hijack: a handler takes its connection over (Go's `http.Hijacker`), for `Upgrade`
//! (WebSocket) and `CONNECT`.
//!
//! **What the server gives up.** When a handler calls [`ResponseWriter::hijack`], the
//! server forgets the connection at once: it leaves the registry (so the ticker's timeouts,
//! [`Server::shutdown`](super::Server::shutdown) and [`Server::close`](super::Server::close),
//! and the [`max_connections`](super::Builder::max_connections) count no longer see it),
//! and when the handler returns nothing is written for the request: no status, no head, no
//! final chunk, and the connection is not kept alive for another request. What the
//! handler wrote to the writer before hijacking and did not flush is dropped; writes to
//! it after fail.
//!
//! **What the handler gets: an owned connection.** A [`Hijacked`] is the connection, as
//! Go's `net.Conn` is: `'static` and `Send`, it may outlive the handler (moved into another
//! coroutine, kept in a chat room's map), and the connection closes when the last handle
//! to it drops or at [`close`](Hijacked::close), never under it. `Read` serves first the
//! bytes the server had already received past the request head (a WebSocket client's first
//! frame can arrive in the same segment as its upgrade request; Go hands these over in a
//! `bufio.Reader`), then the connection; `Write` goes straight to the connection.
//!
//! **Over TLS, the TLS stream.** On a connection served by
//! [`serve_tls`](super::Server::serve_tls), a `Hijacked` reads and writes through the TLS
//! session, as the client expects (Go's `tls.Conn` is what its `Hijack` returns there),
//! and bytes rustls had already decrypted are read first, before the socket. Only
//! [`socket`](Hijacked::socket) reaches below TLS (addresses, deadlines, `close`).
//!
//! **Two directions, two coroutines.** A tunnel or a splice reads in one coroutine while
//! another writes: [`try_clone`](Hijacked::try_clone) gives a second handle on the same
//! connection (the TLS session included; reads and writes through it do not wait on each
//! other). [`shutdown_write`](Hijacked::shutdown_write) is Go's `CloseWrite`.
//!
//! **How the record is released.** The server's record of a connection (its `Slot`: the
//! transport and the bookkeeping the registry reads) is reference-counted; the registry,
//! the coroutine serving the connection and a request's context watcher (weakly) hold it.
//! Hijacking takes the registry's reference away (freeing the `max_connections` permit and
//! the `active` count at once), marks the record so the serving coroutine does not
//! unregister it again, and gives the handler a reference of its own: when the serving
//! coroutine ends after the handler returns, its reference drops, and the transport (the
//! socket, the TLS session) lives on in the `Hijacked` handles. Nothing of the server
//! touches it after that: the ticker and `shutdown` no longer see it, and a context
//! watcher only peeks, and ends with the request.
//!
//! **Changed from the borrowed hijack.** Until this design a `Hijacked<'a>` borrowed the
//! connection for the handler's call and the connection closed when the handler returned;
//! the second coroutine of a tunnel took the raw TCP socket with
//! `hijacked.socket().try_clone()`, which bypassed TLS. Now `Hijacked` has no lifetime
//! parameter, `socket()` borrows from the handle, and the second handle comes from
//! [`Hijacked::try_clone`].
//!
//! The socket keeps the server's write timeout
//! ([`write_timeout`](super::Builder::write_timeout)); change it on
//! [`socket`](Hijacked::socket) if the conversation may stall longer.
use std::io::{self, Read, Write};
use std::sync::Arc;

use super::connection::Connection;
use super::request::Request;
use super::response::ResponseWriter;
use super::server::Slot;
use crate::TcpStream;

/// What the server does when a handler hijacks: forget the connection, and hand over its
/// record (set on a [`ResponseWriter`] by the connection that serves it; `None` in memory).
pub(crate) type Takeover<'a> = &'a (dyn Fn() -> Arc<Slot<dyn Connection>> + Sync);

impl ResponseWriter<'_> {
    /// Takes the connection over (Go's `w.(http.Hijacker).Hijack()`): the server forgets
    /// it, writes nothing more for this request, and the returned [`Hijacked`] owns the
    /// connection from now on, past the handler's return (module notes in `hijack.rs`). `r`
    /// is the request being served: the bytes received past its head are handed over in
    /// the returned stream. Fails with `Unsupported` on a writer with no connection (an
    /// `httptest` recorder), and if the connection was hijacked already.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use goro_net::http::{Request, ResponseWriter};
    ///
    /// /// Answers `GET /chat` with `Upgrade: line-echo` by echoing lines until the client
    /// /// hangs up, in a coroutine of its own: the handler returns at once.
    /// fn chat(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    ///     if r.header("upgrade") != Some("line-echo") {
    ///         w.write_header(426);
    ///         return;
    ///     }
    ///     let Ok(mut conn) = w.hijack(r) else { return };
    ///     goro::spawn(move || {
    ///         let _ = conn.write_all(
    ///             b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: line-echo\r\nConnection: Upgrade\r\n\r\n",
    ///         );
    ///         let mut buf = [0u8; 1024];
    ///         while let Ok(n @ 1..) = conn.read(&mut buf) {
    ///             if conn.write_all(&buf[..n]).is_err() {
    ///                 break;
    ///             }
    ///         }
    ///     });
    /// }
    /// # let _ = chat;
    /// ```
    pub fn hijack(&mut self, r: &mut Request<'_>) -> io::Result<Hijacked> {
        let Some(take) = self.on_hijack else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "goro-net http: this writer has no connection to hijack",
            ));
        };
        if self.hijacked {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "goro-net http: the connection was hijacked already",
            ));
        }
        self.hijacked = true;
        self.abort();
        let conn = take();
        tracing::debug!(remote = %r.remote_addr(), "goro-net http: connection hijacked");
        Ok(Hijacked {
            conn,
            pending: r.body.take_rest(),
            pos: 0,
        })
    }
}

/// A connection a handler took over with [`ResponseWriter::hijack`] (Go's `net.Conn` from
/// `Hijack`): `Read` serves the bytes already received past the request head, then the
/// connection (through TLS on an HTTPS server); `Write` writes to it. Owned: it may
/// outlive the handler; the connection closes when the last handle
/// ([`try_clone`](Self::try_clone)) drops, or at [`close`](Self::close).
pub struct Hijacked {
    /// The server's record of the connection, now this handle's (module notes).
    conn: Arc<Slot<dyn Connection>>,
    pending: Vec<u8>,
    pos: usize,
}

impl Hijacked {
    /// The TCP socket underneath: addresses, deadlines and timeouts, `close`. Reading or
    /// writing it directly skips the [`buffered`](Self::buffered) bytes and, on an HTTPS
    /// server, the encryption: use the `Hijacked` itself for bytes.
    pub fn socket(&self) -> &TcpStream {
        self.conn.conn.socket()
    }

    /// The client's address.
    pub fn remote_addr(&self) -> std::net::SocketAddr {
        self.conn.remote
    }

    /// Bytes received past the request head that `read` has not returned yet.
    pub fn buffered(&self) -> &[u8] {
        &self.pending[self.pos..]
    }

    /// Takes the [`buffered`](Self::buffered) bytes out (later reads go to the connection).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.pending);
        rest.drain(..self.pos);
        self.pos = 0;
        rest
    }

    /// A second handle on the same connection, for another coroutine (one direction of a
    /// tunnel each). It reads from the connection directly: the
    /// [`buffered`](Self::buffered) bytes stay with this handle. The connection closes when
    /// the last handle drops. Never fails today; `io::Result` as `TcpStream::try_clone`.
    pub fn try_clone(&self) -> io::Result<Hijacked> {
        Ok(Hijacked {
            conn: self.conn.clone(),
            pending: Vec::new(),
            pos: 0,
        })
    }

    /// Ends this side's sending (Go's `CloseWrite`): on TLS a `close_notify`, then the TCP
    /// write half is shut. Reading goes on.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.conn.conn.close_write()
    }

    /// Closes the connection at once, for every handle (Go's `Close`): the peer sees the
    /// end of the stream, and reads and writes parked on it, in any coroutine, fail (the
    /// descriptor itself is released when the last handle drops). No `close_notify` is
    /// sent; call [`shutdown_write`](Self::shutdown_write) first for a clean TLS goodbye.
    pub fn close(&self) {
        let s = self.socket();
        let _ = s.shutdown(std::net::Shutdown::Both);
        s.close();
    }
}

impl Read for Hijacked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pending = &self.pending[self.pos..];
        if pending.is_empty() {
            if !self.pending.is_empty() {
                self.pending = Vec::new(); // all handed over: give the memory back
                self.pos = 0;
            }
            return self.conn.conn.recv(buf);
        }
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Hijacked {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.conn.conn.send(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(()) // a transport's `send` has sent when it returns
    }
}

impl std::fmt::Debug for Hijacked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hijacked")
            .field("remote", &self.conn.remote)
            .field("buffered", &self.buffered().len())
            .finish()
    }
}
