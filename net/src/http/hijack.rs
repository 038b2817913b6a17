//! Hijack: a handler takes its connection over (Go's `http.Hijacker`), for `Upgrade`
//! (WebSocket) and `CONNECT`.
//!
//! **What the server gives up.** When a handler calls [`ResponseWriter::hijack`], the
//! server forgets the connection at once: it leaves the registry (so the ticker's timeouts,
//! [`Server::shutdown`](super::Server::shutdown) and its grace, and the
//! [`max_connections`](super::Builder::max_connections) count no longer see it), and
//! when the handler returns nothing is written for the request: no status, no head, no
//! final chunk, and the connection is not kept alive for another request. What the
//! handler wrote to the writer before hijacking and did not flush is dropped; writes to
//! it after fail.
//!
//! **What the handler gets.** A [`Hijacked`] stream: `Read` serves first the bytes the
//! server had already received past the request head (a WebSocket client's first frame
//! can arrive in the same segment as its upgrade request; Go hands these over in a
//! `bufio.Reader`), then the connection; `Write` goes straight to the connection.
//!
//! **Borrowed, not owned.** The stream borrows the connection for the handler's call, and
//! the connection closes when the handler returns. Go hands over an owned `net.Conn`
//! instead; here a connection's record is shared with the server until the handler
//! returns, and a handler is a coroutine, so keeping the conversation inside it costs a
//! parked coroutine, as a Go program's goroutine does. A second coroutine that needs the
//! TCP socket (one direction of a tunnel) takes its own handle with
//! `hijacked.socket().try_clone()`. The socket keeps the server's write timeout
//! ([`write_timeout`](super::Builder::write_timeout)); change it on
//! [`socket`](Hijacked::socket) if the conversation may stall longer.
use std::io::{self, Read, Write};

use super::connection::Wire;
use super::request::Request;
use super::response::ResponseWriter;
use crate::TcpStream;

impl<'a> ResponseWriter<'a> {
    /// Takes the connection over (Go's `w.(http.Hijacker).Hijack()`): the server forgets
    /// it and writes nothing more for this request (module notes in `hijack.rs`). `r` is
    /// the request being served: the bytes received past its head are handed over in the
    /// returned stream. Fails with `Unsupported` on a writer with no connection (an
    /// `httptest` recorder), and if the connection was hijacked already.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use goro_net::http::{Request, ResponseWriter};
    ///
    /// /// Answers `GET /chat` with `Upgrade: line-echo` by echoing lines until the client
    /// /// hangs up.
    /// fn chat(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    ///     if r.header("upgrade") != Some("line-echo") {
    ///         w.write_header(426);
    ///         return;
    ///     }
    ///     let Ok(mut conn) = w.hijack(r) else { return };
    ///     let _ = conn.write_all(
    ///         b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: line-echo\r\nConnection: Upgrade\r\n\r\n",
    ///     );
    ///     let mut buf = [0u8; 1024];
    ///     while let Ok(n @ 1..) = conn.read(&mut buf) {
    ///         if conn.write_all(&buf[..n]).is_err() {
    ///             break;
    ///         }
    ///     }
    /// }
    /// # let _ = chat;
    /// ```
    pub fn hijack(&mut self, r: &mut Request<'_>) -> io::Result<Hijacked<'a>> {
        let wire = self.wire();
        if wire.socket().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "goro-net http: this writer has no connection to hijack",
            ));
        }
        if self.hijacked {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "goro-net http: the connection was hijacked already",
            ));
        }
        self.hijacked = true;
        self.abort();
        if let Some(forget) = self.on_hijack {
            forget();
        }
        tracing::debug!(remote = %r.remote_addr(), "goro-net http: connection hijacked");
        Ok(Hijacked {
            wire,
            pending: r.body.take_rest(),
            pos: 0,
        })
    }
}

/// A connection a handler took over with [`ResponseWriter::hijack`]: `Read` serves the
/// bytes already received past the request head, then the connection; `Write` writes to
/// it. Lives for the handler's call; the connection closes when the handler returns.
pub struct Hijacked<'a> {
    wire: Wire<'a>,
    pending: Vec<u8>,
    pos: usize,
}

impl<'a> Hijacked<'a> {
    /// The TCP socket underneath: addresses, deadlines and timeouts, `shutdown`,
    /// `try_clone` for a second coroutine. Reading it directly skips
    /// [`buffered`](Self::buffered) bytes (and, under TLS, the encryption).
    pub fn socket(&self) -> &'a TcpStream {
        match self.wire.socket() {
            Some(s) => s,
            None => unreachable!("goro: a hijacked stream always has a socket"),
        }
    }

    /// The plain TCP stream, if the connection is one (not TLS): reading and writing it
    /// directly is then the same as through this stream, less the
    /// [`buffered`](Self::buffered) bytes.
    pub(crate) fn tcp(&self) -> Option<&'a TcpStream> {
        match self.wire {
            Wire::Tcp(s) => Some(s),
            _ => None,
        }
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
}

impl Read for Hijacked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pending = &self.pending[self.pos..];
        if pending.is_empty() {
            return self.wire.read(buf);
        }
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Hijacked<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.wire.write(data)
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.wire.write_all(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for Hijacked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hijacked")
            .field("buffered", &self.buffered().len())
            .finish()
    }
}
